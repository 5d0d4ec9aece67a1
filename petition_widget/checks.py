"""System checks for the ``PETITION_WIDGET`` setting (ids ``petition_widget.E001``…)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.forms import Field
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.module_loading import import_string

from .conf import SETTING_NAME, app_settings
from .forwarding.wake import WAKE_MODES
from .forwarding.worker import http_budget
from .models import ApiKeyKind, NameDisplay, Provider

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
URL_KEYS = ("CHANGEORG_API_URL", "WETHEPEOPLE_API_URL")


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


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
                hint="Check the spelling; README.md lists every setting.",
                id="petition_widget.E002",
            )
        ]

    errors: list = []
    for key in URL_KEYS:
        url = getattr(app_settings, key)
        if not _is_http_url(url):
            errors.append(
                Error(f"{SETTING_NAME}['{key}'] must be an http(s) URL, not {url!r}.", id="petition_widget.E003")
            )
        elif urlsplit(url).scheme == "http" and urlsplit(url).hostname not in LOOPBACK_HOSTS and not settings.DEBUG:
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

    site_url = app_settings.SITE_URL
    if site_url and not _is_http_url(site_url):
        errors.append(
            Error(
                f"{SETTING_NAME}['SITE_URL'] must be an absolute http(s) URL, not {site_url!r}.",
                id="petition_widget.E006",
            )
        )
    elif has_key and not site_url:
        errors.append(
            Error(
                f"{SETTING_NAME}['SITE_URL'] is required with Change.org credentials: it is the `source` of the "
                "petition authorization keys.",
                hint="Set it to the public base URL of the site, e.g. https://blog.example.",
                id="petition_widget.E006",
            )
        )
    elif not site_url:
        errors.append(
            Warning(
                f"{SETTING_NAME}['SITE_URL'] is empty: confirmation e-mails need it for their link, so petitions "
                "that ask for confirmed signatures cannot send them.",
                hint="Set it to the public base URL of the site, e.g. https://blog.example.",
                id="petition_widget.W002",
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

    max_bytes = app_settings.MAX_REQUEST_BYTES
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1024:
        errors.append(
            Error(
                f"{SETTING_NAME}['MAX_REQUEST_BYTES'] must be an integer of at least 1024, not {max_bytes!r}.",
                id="petition_widget.E007",
            )
        )

    name_display = app_settings.API_NAME_DISPLAY
    if name_display not in NameDisplay.values:
        errors.append(
            Error(
                f"{SETTING_NAME}['API_NAME_DISPLAY'] must be one of {', '.join(NameDisplay.values)}, "
                f"not {name_display!r}.",
                id="petition_widget.E009",
            )
        )

    base_template = app_settings.BASE_TEMPLATE
    try:
        get_template(base_template)
    except (TemplateDoesNotExist, TypeError):
        errors.append(
            Error(f"{SETTING_NAME}['BASE_TEMPLATE'] {base_template!r} cannot be found.", id="petition_widget.E008")
        )
    errors.extend(check_forwarding_settings())
    errors.extend(check_signing_settings())
    errors.extend(check_shared_state())
    return errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _setting_error(key: str, message: str, id: str, hint: str | None = None) -> Error:
    return Error(f"{SETTING_NAME}['{key}'] {message}", hint=hint, id=f"petition_widget.{id}")


def check_forwarding_settings() -> list:
    """The forwarding worker's settings: retry policy, lease, poll interval, rate limits, wake-up task."""
    errors: list = []
    max_attempts = app_settings.MAX_ATTEMPTS
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        errors.append(
            _setting_error("MAX_ATTEMPTS", f"must be a whole number of at least 1, not {max_attempts!r}.", "E011")
        )

    base, cap = app_settings.BACKOFF_BASE_SECONDS, app_settings.BACKOFF_MAX_SECONDS
    if not (_is_number(base) and _is_number(cap) and 0 < base <= cap):
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
    if not _is_number(lease) or lease <= 0:
        errors.append(_setting_error("LEASE_SECONDS", f"must be a positive number of seconds, not {lease!r}.", "E013"))
    elif budget is not None and lease <= budget:
        errors.append(
            _setting_error(
                "LEASE_SECONDS",
                f"({lease:g}) must be longer than one upstream request can take ({budget:g} seconds with "
                "HTTP_TIMEOUT): a lease that runs out mid-send lets a second worker send the signature again.",
                "E013",
            )
        )

    poll = app_settings.POLL_INTERVAL
    if not _is_number(poll) or poll <= 0:
        errors.append(_setting_error("POLL_INTERVAL", f"must be a positive number of seconds, not {poll!r}.", "E014"))

    limits = app_settings.RATE_LIMITS
    if not isinstance(limits, dict):
        errors.append(
            _setting_error("RATE_LIMITS", f"must be a dict of provider to requests a minute, not {limits!r}.", "E015")
        )
        limits = {}
    for provider, limit in limits.items():
        if provider not in Provider.values:
            errors.append(
                _setting_error(
                    "RATE_LIMITS",
                    f"names an unknown provider {provider!r}; known: {', '.join(Provider.values)}.",
                    "E015",
                )
            )
        elif not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            errors.append(
                _setting_error(
                    "RATE_LIMITS",
                    f"[{provider!r}] must be a whole number of requests a minute (0 for no limit), not {limit!r}.",
                    "E015",
                )
            )

    alias = app_settings.RATE_LIMIT_CACHE
    caches_setting = getattr(settings, "CACHES", {})
    if alias not in caches_setting:
        errors.append(_setting_error("RATE_LIMIT_CACHE", f"names the cache {alias!r}, which is not in CACHES.", "E016"))
    elif "DummyCache" in str(caches_setting[alias].get("BACKEND", "")):
        errors.append(
            _setting_error(
                "RATE_LIMIT_CACHE",
                f"names the cache {alias!r}, a DummyCache, which keeps no counters.",
                "E016",
                hint="Use Redis or Memcached, shared by every worker (or LocMemCache with a single worker process).",
            )
        )

    if app_settings.WAKE_TASK not in WAKE_MODES:
        errors.append(
            _setting_error(
                "WAKE_TASK", f"must be one of {', '.join(WAKE_MODES)}, not {app_settings.WAKE_TASK!r}.", "E017"
            )
        )
    backend = app_settings.WAKE_TASK_BACKEND
    if not isinstance(backend, str) or not backend:
        errors.append(_setting_error("WAKE_TASK_BACKEND", f"must be a task backend alias, not {backend!r}.", "E017"))
    return errors


# Whole-number settings of the signing form's abuse checks and of retention: (key, smallest allowed value).
WHOLE_NUMBER_KEYS = (
    ("SIGN_MIN_SECONDS", 0),
    ("SIGN_FORM_MAX_AGE", 1),
    ("SIGN_LIMIT_PER_IP", 0),
    ("SIGN_LIMIT_PER_PETITION", 0),
    ("TRUSTED_PROXY_COUNT", 0),
    ("CONFIRMATION_EXPIRY_HOURS", 1),
    ("RETENTION_DAYS", 1),
)


def check_signing_settings() -> list:
    """Abuse limits, the captcha hook, confirmation and retention."""

    errors: list = []
    for key, least in WHOLE_NUMBER_KEYS:
        value = getattr(app_settings, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            off = " (0 turns it off)" if least == 0 else ""
            errors.append(
                _setting_error(key, f"must be a whole number of at least {least}{off}, not {value!r}.", "E018")
            )
    shortest, longest = app_settings.SIGN_MIN_SECONDS, app_settings.SIGN_FORM_MAX_AGE
    if not errors and shortest and shortest >= longest:
        errors.append(_setting_error("SIGN_MIN_SECONDS", "must be shorter than SIGN_FORM_MAX_AGE.", "E018"))

    captcha = app_settings.CAPTCHA_FIELD
    if captcha:
        try:
            field_class = import_string(captcha) if isinstance(captcha, str) else None
        except ImportError as exc:
            field_class = None
            hint = str(exc)
        else:
            hint = None
        if not (isinstance(field_class, type) and issubclass(field_class, Field)):
            errors.append(
                _setting_error(
                    "CAPTCHA_FIELD",
                    f"must be the dotted path of a form field class, not {captcha!r}.",
                    "E019",
                    hint=hint
                    or "For ALTCHA: pip install 'django-petition-widget[captcha]' and use 'django_altcha.AltchaField'.",
                )
            )

    for key in ("IP_HASH_KEY", "CONFIRMATION_FROM_EMAIL", "REVIEWER_GROUP"):
        if not isinstance(getattr(app_settings, key), str):
            errors.append(_setting_error(key, f"must be a string, not {getattr(app_settings, key)!r}.", "E020"))
    errors.extend(check_api_key_limits())
    return errors


def _cache_backend(alias: str) -> type | None:
    """The backend class of the cache ``alias``, or ``None`` when it is missing or cannot be imported."""

    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    try:
        return import_string(backend) if isinstance(backend, str) and backend else None
    except ImportError:
        return None


def _process_local(alias: str, *, or_none: bool = False) -> bool:
    """Whether the cache ``alias`` keeps its state inside one process (``or_none``: or keeps none at all)."""

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


def check_api_key_limits() -> list:
    """``API_KEY_LIMITS``: signatures an hour for each kind of API key, a whole number (0: no limit).

    A kind left out keeps its default limit.
    """

    limits = app_settings.API_KEY_LIMITS
    kinds = set(ApiKeyKind.values)
    if not isinstance(limits, dict) or not set(limits) <= kinds:
        return [
            _setting_error(
                "API_KEY_LIMITS",
                f"must be a dict of the key kinds {' and '.join(map(repr, sorted(kinds)))} to signatures an "
                f"hour, not {limits!r}.",
                "E021",
            )
        ]
    return [
        _setting_error(
            "API_KEY_LIMITS",
            f"[{kind!r}] must be a whole number of signatures an hour, at least 0 (0 turns it off), not {value!r}.",
            "E021",
        )
        for kind, value in sorted(limits.items())
        if not isinstance(value, int) or isinstance(value, bool) or value < 0
    ]
