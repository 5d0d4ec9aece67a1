"""System checks for the ``PETITION_WIDGET`` setting (ids ``petition_widget.E001``…).

Each key's own check is declared beside it in ``conf.SETTINGS`` and run by :func:`check_declared_settings`;
what is written out here by hand are the checks that look at several keys (or at Django's own settings) at once.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from .conf import SETTING_NAME, SETTINGS, app_settings, is_http_url
from .forwarding.worker import http_budget

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
URL_KEYS = ("CHANGEORG_API_URL", "WETHEPEOPLE_API_URL")
URLS_INCLUDE = 'path("", include("petition_widget.urls"))'
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# How long the e-mail check waits for a mail server on a loopback address (which answers or refuses at once).
SMTP_PROBE_SECONDS = 1.0


@register()
def check_settings(app_configs=None, **kwargs) -> list:
    try:
        unknown = app_settings.unknown_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="petition_widget.E001")]
    if unknown:
        return [
            Error(
                f"Unknown key(s) in {SETTING_NAME}: {', '.join(unknown)}.",
                hint="Check the spelling; docs/settings.md lists every setting.",
                id="petition_widget.E002",
            )
        ]
    errors, invalid = check_declared_settings()
    errors.extend(check_credentials())
    errors.extend(check_forwarding_settings(invalid))
    errors.extend(check_shared_state())
    return errors


def _setting_error(key: str, message: str, id: str, hint: str | None = None) -> Error:
    return Error(f"{SETTING_NAME}['{key}'] {message}", hint=hint, id=f"petition_widget.{id}")


def check_declared_settings() -> tuple[list, set[str]]:
    """Each setting's own validator (``conf.SETTINGS``): the errors, and the keys whose values are invalid."""
    errors: list = []
    invalid: set[str] = set()
    for setting in SETTINGS:
        if setting.validate is None:
            continue
        for problem in setting.validate(getattr(app_settings, setting.key)):
            errors.append(_setting_error(setting.key, problem.message, setting.check_id, problem.hint))
            invalid.add(setting.key)
    shortest, longest = app_settings.SIGN_MIN_SECONDS, app_settings.SIGN_FORM_MAX_AGE
    if not invalid & {"SIGN_MIN_SECONDS", "SIGN_FORM_MAX_AGE"} and shortest and shortest >= longest:
        errors.append(_setting_error("SIGN_MIN_SECONDS", "must be shorter than SIGN_FORM_MAX_AGE.", "E018"))
    return errors, invalid


def _in_clear(url: str) -> bool:
    """Whether ``url`` is plain http to a host other than this machine, with ``DEBUG`` off."""
    return (
        is_http_url(url)
        and urlsplit(url).scheme == "http"
        and urlsplit(url).hostname not in LOOPBACK_HOSTS
        and not settings.DEBUG
    )


def check_credentials() -> list:
    """Upstream URLs against ``DEBUG``, and what Change.org's credentials need beside them."""
    errors: list = []
    for key in URL_KEYS:
        url = getattr(app_settings, key)
        if _in_clear(url):
            errors.append(
                Error(
                    f"{SETTING_NAME}['{key}'] uses plain http with DEBUG off; API keys would cross the network "
                    "in clear.",
                    hint="Use https, or a loopback address for a local emulator.",
                    id="petition_widget.E004",
                )
            )

    has_key = bool(app_settings.CHANGEORG_API_KEY)
    has_secret = bool(app_settings.CHANGEORG_SECRET)
    if has_key != has_secret:
        errors.append(
            Error(
                "Change.org needs both CHANGEORG_API_KEY and CHANGEORG_SECRET; only "
                f"{'the API key' if has_key else 'the secret'} is set.",
                id="petition_widget.E005",
            )
        )
    if not (has_key or has_secret or app_settings.WETHEPEOPLE_API_KEY):
        errors.append(
            Warning(
                "No upstream credentials are set: signatures will be stored but never forwarded.",
                hint=f"Set CHANGEORG_API_KEY and CHANGEORG_SECRET, or WETHEPEOPLE_API_KEY, in {SETTING_NAME}.",
                id="petition_widget.W001",
            )
        )

    if has_key and not app_settings.SITE_URL:
        errors.append(
            Error(
                f"{SETTING_NAME}['SITE_URL'] is required with Change.org credentials: it is the `source` of the "
                "petition authorization keys.",
                hint="Set it to the public base URL of the site, e.g. https://blog.example.",
                id="petition_widget.E006",
            )
        )
    elif not app_settings.SITE_URL:
        errors.append(
            Warning(
                f"{SETTING_NAME}['SITE_URL'] is empty: confirmation e-mails need it for their link, so petitions "
                "that ask for confirmed signatures cannot send them.",
                hint="Set it to the public base URL of the site, e.g. https://blog.example.",
                id="petition_widget.W002",
            )
        )

    if _in_clear(app_settings.SITE_URL):
        errors.append(
            Warning(
                f"{SETTING_NAME}['SITE_URL'] uses plain http with DEBUG off: confirmation links and the form page "
                "the upstream is told about would travel in clear.",
                hint="Use the site's https address, e.g. https://blog.example.",
                id="petition_widget.W003",
            )
        )

    if has_key and not app_settings.REQUESTER_EMAIL:
        errors.append(
            Error(
                f"{SETTING_NAME}['REQUESTER_EMAIL'] is required with Change.org credentials: auth key requests "
                "must name who asks.",
                id="petition_widget.E010",
            )
        )
    return errors


def check_forwarding_settings(invalid: set[str]) -> list:
    """The retry policy's base against its cap, and the lease against the longest upstream request."""
    errors: list = []
    base, cap = app_settings.BACKOFF_BASE_SECONDS, app_settings.BACKOFF_MAX_SECONDS
    if not invalid & {"BACKOFF_BASE_SECONDS", "BACKOFF_MAX_SECONDS"} and base > cap:
        errors.append(
            _setting_error(
                "BACKOFF_BASE_SECONDS",
                f"and BACKOFF_MAX_SECONDS must be positive numbers with the base at most the maximum, not "
                f"{base!r} and {cap!r}.",
                "E012",
            )
        )

    lease = app_settings.LEASE_SECONDS
    try:
        budget = http_budget()
    except (TypeError, ValueError):
        budget = None
    if "LEASE_SECONDS" not in invalid and budget is not None and lease <= budget:
        errors.append(
            _setting_error(
                "LEASE_SECONDS",
                f"({lease:g}) must be longer than one upstream request can take ({budget:g} seconds with "
                "HTTP_TIMEOUT): a lease that runs out mid-send lets a second worker send the signature again.",
                "E013",
            )
        )
    return errors


def _cache_backend(alias: str) -> type | None:
    """The backend class of the cache ``alias``, or ``None`` when it is missing or cannot be imported."""
    from django.utils.module_loading import import_string

    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    try:
        return import_string(backend) if isinstance(backend, str) and backend else None
    except ImportError:
        return None


def _process_local(alias: str, *, or_none: bool = False) -> bool:
    """Whether the cache ``alias`` keeps its state inside one process (``or_none``: or keeps none at all)."""
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    backend = _cache_backend(alias)
    return backend is not None and issubclass(backend, (LocMemCache, DummyCache) if or_none else LocMemCache)


def captcha_cache_alias() -> str | None:
    """The cache in which the configured captcha remembers the challenges it has seen, when known."""
    captcha = app_settings.CAPTCHA_FIELD
    if isinstance(captcha, str) and captcha.startswith("django_altcha."):
        return getattr(settings, "ALTCHA_CACHE_ALIAS", "default")
    return None


def check_shared_state() -> list:
    """E022: abuse protection whose memory lives in one process cannot hold on a site of several processes.

    The rate limits, the form token's single use and a captcha's spent challenges live in a cache. A
    local-memory cache is one per process: with several web processes a client gets each limit once per
    process and may replay a token or a captcha once per process. With ``DEBUG`` on (one development server)
    that is fine; with it off the cache must be shared (Redis, Memcached, or Django's database cache).
    """
    if settings.DEBUG:
        return []
    errors: list = []
    limits = app_settings.API_KEY_LIMITS
    uses_cache = {
        "SIGN_MIN_SECONDS": app_settings.SIGN_MIN_SECONDS,
        "SIGN_LIMIT_PER_IP": app_settings.SIGN_LIMIT_PER_IP,
        "SIGN_LIMIT_PER_PETITION": app_settings.SIGN_LIMIT_PER_PETITION,
        "API_KEY_LIMITS": any(limits.values()) if isinstance(limits, dict) else False,
    }
    on = [key for key, value in uses_cache.items() if value]
    alias = app_settings.RATE_LIMIT_CACHE
    if on and isinstance(alias, str) and _process_local(alias):
        errors.append(
            _setting_error(
                "RATE_LIMIT_CACHE",
                f"names the cache {alias!r}, which lives inside one process, while {', '.join(on)} keep their "
                "state there: with several web processes each process counts (and remembers spent form tokens) "
                "on its own.",
                "E022",
                hint="Point it at a cache every process shares: Redis (django.core.cache.backends.redis.RedisCache), "
                "Memcached or django.core.cache.backends.db.DatabaseCache. Silence petition_widget.E022 only if "
                "the site truly runs in one process.",
            )
        )
    captcha_alias = captcha_cache_alias()
    if captcha_alias is not None and _process_local(captcha_alias, or_none=True):
        errors.append(
            _setting_error(
                "CAPTCHA_FIELD",
                f"is a captcha that remembers solved challenges in the cache {captcha_alias!r}, which lives inside "
                "one process: a solved challenge can be replayed once in every other process.",
                "E022",
                hint="Set ALTCHA_CACHE_ALIAS to a cache every process shares (Redis, Memcached or the database cache).",
            )
        )
    return errors


def urls_included() -> bool:
    """Whether the site's URLconf includes ``petition_widget.urls`` (under its ``petition_widget`` namespace)."""
    try:
        reverse("petition_widget:sign", kwargs={"slug": "x"})
    except NoReverseMatch:
        return False
    return True


@register(Tags.urls)
def check_urls(app_configs=None, **kwargs) -> list:
    """E024: the form posts to, and Change.org's keys name, pages of ``petition_widget.urls``: it must be included."""
    if urls_included():
        return []
    return [
        Error(
            "petition_widget.urls is not included in the URLconf: the form has nowhere to post.",
            hint=f"Add {URLS_INCLUDE} to urlpatterns in {settings.ROOT_URLCONF.replace('.', '/')}.py.",
            id="petition_widget.E024",
        )
    ]


@register()
def check_installed_apps(app_configs=None, **kwargs) -> list:
    """W005: the country names of the form, the admin and the API are translated by django_countries' catalogue,
    which Django loads only for an installed app."""
    if apps.is_installed("django_countries"):
        return []
    return [
        Warning(
            "django_countries is not in INSTALLED_APPS: the signing form's country names will not be translated.",
            hint='Add "django_countries" to INSTALLED_APPS, beside "petition_widget".',
            id="petition_widget.W005",
        )
    ]


def smtp_answers(host: str, port: int) -> bool:
    """Whether something accepts a connection at ``host``:``port``."""
    try:
        with socket.create_connection((host, port), timeout=SMTP_PROBE_SECONDS):
            return True
    except OSError:
        return False


@register()
def check_email(app_configs=None, **kwargs) -> list:
    """W004: petitions that ask for confirmed signatures e-mail a link; an SMTP server nobody runs sends nothing.

    Only a mail server on a loopback address is tried (Django's default is localhost:25): one on another
    machine is the operator's business, and a check must not wait on the network.
    """
    if getattr(settings, "EMAIL_BACKEND", "") != SMTP_BACKEND:
        return []
    host, port = str(getattr(settings, "EMAIL_HOST", "")), getattr(settings, "EMAIL_PORT", 25)
    if host not in LOOPBACK_HOSTS or not isinstance(port, int) or smtp_answers(host, port):
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is SMTP at {host}:{port}, where no mail server answers: petitions that ask for "
            "confirmed signatures cannot send their confirmation e-mails.",
            hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER…) to your mail server, or while developing "
            'EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend".',
            id="petition_widget.W004",
        )
    ]
