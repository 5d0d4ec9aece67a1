"""Settings for petition_widget, read from one ``PETITION_WIDGET`` dict.

Every setting is declared once, in :data:`SETTINGS`: its key, default, validator, system check id and a
line of documentation. :data:`DEFAULTS`, the system checks of single keys (``checks.py``) and the table of
``docs/settings.md`` (``python docs/settings_table.py``) are derived from those declarations.

Values are read lazily on attribute access, so ``override_settings`` works in tests and nothing is
captured at import time. Unknown keys are refused: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTING_NAME = "PETITION_WIDGET"


class Problem(NamedTuple):
    """What is wrong with a setting's value: a message that follows ``PETITION_WIDGET['KEY']``, and a hint."""

    message: str
    hint: str | None = None


Validator = Callable[[Any], Iterator[Problem]]


@dataclass(frozen=True)
class Setting:
    """One key of ``PETITION_WIDGET``: its default, how a value is checked (system check ``check_id``), its doc."""

    key: str
    default: Any
    validate: Validator | None
    check_id: str
    doc: str


# -- validators: each yields the problems of one value ------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _names(path: str) -> Callable[[], list[str]]:
    """The names a dotted path holds (a tuple, or a Django choices class's values), imported when needed."""

    def names() -> list[str]:
        found = import_string(path)
        return list(getattr(found, "values", found))

    return names


def whole_number(least: int) -> Validator:
    off = " (0 turns it off)" if least == 0 else ""

    def validate(value: Any) -> Iterator[Problem]:
        if not is_whole(value) or value < least:
            yield Problem(f"must be a whole number of at least {least}{off}, not {value!r}.")

    return validate


def positive_seconds(value: Any) -> Iterator[Problem]:
    if not is_number(value) or value <= 0:
        yield Problem(f"must be a positive number of seconds, not {value!r}.")


def hours_up_to_a_year(value: Any) -> Iterator[Problem]:
    if not is_number(value) or not 0 < value <= 24 * 365:
        yield Problem(f"must be a number of hours, more than 0 and at most a year (8760), not {value!r}.")


def http_url(value: Any) -> Iterator[Problem]:
    if not is_http_url(value):
        yield Problem(f"must be an http(s) URL, not {value!r}.")


def optional_http_url(value: Any) -> Iterator[Problem]:
    if value and not is_http_url(value):
        yield Problem(f"must be an absolute http(s) URL, not {value!r}.")


def string(value: Any) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield Problem(f"must be a string, not {value!r}.")


def alias(what: str) -> Validator:
    def validate(value: Any) -> Iterator[Problem]:
        if not isinstance(value, str) or not value:
            yield Problem(f"must be a {what} alias, not {value!r}.")

    return validate


def one_of(path: str) -> Validator:
    names = _names(path)

    def validate(value: Any) -> Iterator[Problem]:
        if value not in names():
            yield Problem(f"must be one of {', '.join(names())}, not {value!r}.")

    return validate


def counts_by(path: str, *, of: str, unit: str) -> Validator:
    """A dict of names (``path``'s) to whole numbers of ``unit``, 0 for no limit; a name left out keeps its default."""
    names = _names(path)

    def validate(value: Any) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield Problem(f"must be a dict of {of} to {unit}, not {value!r}.")
            return
        for name, count in sorted(value.items(), key=lambda item: str(item[0])):
            if name not in names():
                yield Problem(f"names an unknown {of} {name!r}; known: {', '.join(names())}.")
            elif not is_whole(count) or count < 0:
                yield Problem(
                    f"[{name!r}] must be a whole number of {unit}, at least 0 (0 turns it off), not {count!r}."
                )

    return validate


def template(value: Any) -> Iterator[Problem]:
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    try:
        get_template(value)
    except (TemplateDoesNotExist, TypeError):
        yield Problem(f"{value!r} cannot be found.")


def counting_cache(value: Any) -> Iterator[Problem]:
    caches = getattr(settings, "CACHES", {})
    if value not in caches:
        yield Problem(f"names the cache {value!r}, which is not in CACHES.")
    elif "DummyCache" in str(caches[value].get("BACKEND", "")):
        yield Problem(
            f"names the cache {value!r}, a DummyCache, which keeps no counters.",
            "Use Redis or Memcached, shared by every worker (or LocMemCache with a single worker process).",
        )


def form_field_class(value: Any) -> Iterator[Problem]:
    from django.forms import Field

    if not value:
        return
    hint = "For ALTCHA: pip install 'django-petition-widget[captcha]' and use 'django_altcha.AltchaField'."
    try:
        field_class = import_string(value) if isinstance(value, str) else None
    except ImportError as exc:
        field_class, hint = None, str(exc) or hint
    if not (isinstance(field_class, type) and issubclass(field_class, Field)):
        yield Problem(f"must be the dotted path of a form field class, not {value!r}.", hint)


# -- the settings ---------------------------------------------------------------------------------------------

# A table, one declaration a row: Setting(key, default, validator, check id, doc).
# fmt: off
SETTINGS: tuple[Setting, ...] = (
    # -- upstreams, pages and the public API
    Setting("SITE_URL", "", optional_http_url, "E006", (
        "**Required with Change.org** (`E006`). Public base URL of the site, e.g. `https://blog.example`: the auth "
        "key's `source` is this URL plus the form page's path, and the upstream posts key revocations to a callback "
        "under it. Confirmation e-mails need it for their link (`W002` when empty). Plain `http` with `DEBUG` off "
        "is a warning unless the host is a loopback address (`W003`)."
    )),
    Setting("CHANGEORG_API_URL", "https://api.change.org/v1", http_url, "E003", (
        "Base URL of the Change.org API (the demo's emulator: `http://127.0.0.1:8001/changeorg/v1`). Plain "
        "`http` is refused with `DEBUG` off unless the host is a loopback address (`E004`)."
    )),
    Setting("CHANGEORG_API_KEY", "", None, "", (
        "**Required with Change.org.** Change.org API key; needs `CHANGEORG_SECRET` (`E005`), `SITE_URL` (`E006`) "
        "and `REQUESTER_EMAIL` (`E010`)."
    )),
    Setting("CHANGEORG_SECRET", "", None, "", (
        "**Required with Change.org** (`E005`). Change.org secret token; only ever used inside request signatures."
    )),
    Setting("WETHEPEOPLE_API_URL", "https://api.whitehouse.gov/v1", http_url, "E003", (
        "Base URL of the We the People API (the demo's emulator: `http://127.0.0.1:8001/wethepeople/v1`); "
        "plain `http` as for Change.org (`E004`)."
    )),
    Setting("WETHEPEOPLE_API_KEY", "", None, "", (
        "**Required with We the People** (`add_petition wethepeople` refuses to run without it). We the People "
        "API key."
    )),
    Setting("HTTP_TIMEOUT", 10.0, None, "", (
        "Seconds to wait for an upstream to connect, and again for it to answer (requests' `(connect, read)` "
        "timeout; a pair sets each)."
    )),
    Setting("REQUESTER_EMAIL", "", None, "", (
        "**Required with Change.org** (`E010`). Sent as `requester_email` with Change.org auth key requests: the "
        "address of whoever asks for the petition's authorization key (you)."
    )),
    Setting("SOURCE_DESCRIPTION", "", None, "", (
        "Sent as `source_description` with auth key requests, a description of the collecting site (default: "
        "the site's URL)."
    )),
    Setting("BASE_TEMPLATE", "petition_widget/base.html", template, "E008", (
        "Template the stand-alone form page extends; it must define a `content` block (and may define `title`)."
    )),
    Setting("MAX_REQUEST_BYTES", 16 * 1024, whole_number(1024), "E007", (
        "Largest body the form page, the confirmation POST, the API's POST and the auth-key callback accept; a "
        "larger one gets 413 before anything reads it (a chunked one 411)."
    )),
    Setting("API_NAME_DISPLAY", "full", one_of("petition_widget.names.NameDisplay"), "E009", (
        'How the public API shows signers\' names: `"full"` ("Ada Lovelace", as Change.org did), '
        '`"first_initial"` ("Ada L.") or `"initials"` ("A. L.").'
    )),
    # -- forwarding (petition_widget.forwarding)
    Setting("MAX_ATTEMPTS", 10, whole_number(1), "E011", (
        "Tries a signature gets before it is marked `failed`. Answers that are not about the signature "
        "(credentials refused, HTTP 429) do not use one up."
    )),
    Setting("BACKOFF_BASE_SECONDS", 30.0, positive_seconds, "E012", (
        "Exponential backoff with full jitter: after the n-th failed try the next one waits a random time between "
        "0 and `min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS × 2^(n−1))`; an upstream `Retry-After` that is "
        "longer wins (believed up to a day). At most `BACKOFF_MAX_SECONDS`."
    )),
    Setting("BACKOFF_MAX_SECONDS", 3600.0, positive_seconds, "E012", "The cap of that backoff."),
    Setting("LEASE_SECONDS", 120.0, positive_seconds, "E013", (
        "How long a worker holds the signatures it claimed. A worker that dies is replaced after this long: its "
        "signatures become claimable again. Must exceed the longest request (`2 × HTTP_TIMEOUT` + 2 s)."
    )),
    Setting("POLL_INTERVAL", 5.0, positive_seconds, "E014", (
        "Seconds a looping worker sleeps when nothing is due (`forward_signatures --poll-interval` overrides it)."
    )),
    Setting("SYNC_INTERVAL", 300, whole_number(0), "E014", (
        "Seconds between refreshes of each open petition's cached upstream data (count, status, goal, closing "
        "date) by the forwarding workers, between batches and never while a visitor waits; `0` turns it off."
    )),
    Setting("RATE_LIMITS", {"changeorg": 600, "wethepeople": 1500}, counts_by(
        "petition_widget.models.Provider", of="provider", unit="requests a minute"
    ), "E015", (
        "Upstream requests a minute per provider and API key, shared by every worker on every machine; `0` turns "
        "a limit off; providers left out keep their default. We the People documented 1,500 a minute; Change.org "
        'only ever said "modest" (and 50,000 a day until 2013), so 600 a minute is a cautious guess.'
    )),
    Setting("RATE_LIMIT_CACHE", "default", counting_cache, "E016", (
        "The `CACHES` alias that holds the shared rate-limit counters and the spent form tokens: Redis, Memcached "
        "or the database cache as soon as the site or its workers run in more than one process. `E016` refuses a "
        "missing alias or a `DummyCache`; `E022` refuses a `LocMemCache` with `DEBUG` off while an abuse limit or "
        "the form token is on."
    )),
    Setting("WAKE_TASK", "auto", one_of("petition_widget.forwarding.wake.WAKE_MODES"), "E017", (
        "Wake forwarding through Django's tasks framework (`django.tasks`, or the `django-tasks` backport) when a "
        'signature is stored: `"auto"` enqueues only on a backend that runs tasks elsewhere (not the immediate or '
        'dummy ones), `"always"` on any backend (the immediate one then forwards inside the request), `"off"` '
        "never."
    )),
    Setting("WAKE_TASK_BACKEND", "default", alias("task backend"), "E017", (
        "The task backend alias the wake-up task is enqueued on."
    )),
    Setting("VALIDATION_OVERDUE_HOURS", 72, hours_up_to_a_year, "E023", (
        "Hours a sent We the People signature has to be validated by its signer (We the People counts it only "
        "then); still not validated after that, it is flagged overdue in the admin and never sent again. "
        "`poll_validations` (also run by `sync_petitions`) reads the validations."
    )),
    # -- abuse (petition_widget.abuse)
    Setting("SIGN_MIN_SECONDS", 3, whole_number(0), "E018", (
        "A form sent sooner than this many seconds after it was rendered is taken for a bot and refused with a "
        "calm message; `0` turns the form token check off as a whole (its age limit included). "
        "The honeypot is always checked. Must be shorter than `SIGN_FORM_MAX_AGE`."
    )),
    Setting("SIGN_FORM_MAX_AGE", 12 * 3600, whole_number(1), "E018", (
        "Seconds a rendered form stays valid (a replayed old form is refused; the signer gets a fresh one with "
        "their entries kept)."
    )),
    Setting("SIGN_LIMIT_PER_IP", 10, whole_number(0), "E018", (
        "Signatures one client address may store in an hour; `0` = no limit. Counted in `RATE_LIMIT_CACHE`."
    )),
    Setting("SIGN_LIMIT_PER_PETITION", 600, whole_number(0), "E018", (
        "Signatures one petition may take in a minute; `0` = no limit. Counted in `RATE_LIMIT_CACHE`."
    )),
    Setting("TRUSTED_PROXY_COUNT", 0, whole_number(0), "E018", (
        "Reverse proxies of your own in front of the site. `0`: the client address is `REMOTE_ADDR` and "
        "`X-Forwarded-For` is ignored (any client can write it); `n`: the n-th address from the right of "
        "`X-Forwarded-For`."
    )),
    Setting("IP_HASH_KEY", "", string, "E020", (
        "Key of the HMAC-SHA256 under which client addresses are counted and stored (default: derived from "
        "`SECRET_KEY`)."
    )),
    Setting("CAPTCHA_FIELD", "", form_field_class, "E019", (
        "Dotted path of a form field class added to every signing form the site renders, e.g. "
        '`"django_altcha.AltchaField"` after `pip install "django-petition-widget[captcha]"`; empty = no captcha.'
    )),
    Setting("API_KEY_LIMITS", {"browser": 1000, "server": 10000}, counts_by(
        "petition_widget.api_keys.ApiKeyKind", of="key kind", unit="signatures an hour"
    ), "E021", (
        "Signatures one public API key may store in an hour, by the key's kind; `0` = no limit, a kind left out "
        "keeps its default. A browser key is also held to `SIGN_LIMIT_PER_IP` and `SIGN_LIMIT_PER_PETITION` (on "
        "the form's counters), a server key to `SIGN_LIMIT_PER_PETITION`."
    )),
    # -- confirmed signatures and retention (petition_widget.confirmation, petition_widget.privacy)
    Setting("CONFIRMATION_EXPIRY_HOURS", 72, whole_number(1), "E018", (
        "Hours a confirmation link works; afterwards the link fails and `purge_signatures` deletes the "
        "unconfirmed signature."
    )),
    Setting("CONFIRMATION_FROM_EMAIL", "", string, "E020", (
        "Sender of confirmation e-mails (default: `DEFAULT_FROM_EMAIL`)."
    )),
    Setting("RETENTION_DAYS", 365, whole_number(1), "E018", (
        "`purge_signatures`' default period (`--older-than-days`): contact details are erased this many days "
        "after a signature reached a final state."
    )),
    Setting("REVIEWER_GROUP", "Petition reviewers", string, "E020", (
        "The group `migrate` creates (or completes) with the permissions to view petitions, signatures and "
        "attempts and to retry, cancel or mark signatures as spam, but not to export or erase them; `\"\"` "
        "creates none."
    )),
    # -- health checks for operators (petition_widget.health, the [health] extra)
    Setting("HEALTH_BACKLOG_MAX_AGE", 900, whole_number(1), "E030", (
        "Seconds the oldest due signature may have waited for a forwarder (since it was stored, or since its "
        "retry fell due) before the `ForwardingBacklog` health check fails."
    )),
    Setting("HEALTH_PAUSED_PETITIONS_MAX", 0, whole_number(0), "E031", (
        "Petitions that may have forwarding paused before the `PausedPetitions` health check fails."
    )),
)
# fmt: on

DEFAULTS: dict[str, Any] = {setting.key: setting.default for setting in SETTINGS}


# -- reading ----------------------------------------------------------------------------------------------------


class AppSettings:
    """Attribute access to ``settings.PETITION_WIDGET`` merged over :data:`DEFAULTS`."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTING_NAME, {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, not {type(value).__name__}.")
        return value

    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(self.defaults))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        if name in self._cached:
            return self._cached[name]
        unknown = self.unknown_keys()
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown key(s) in {SETTING_NAME}: {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(self.defaults))}."
            )
        value = self.user_settings.get(name, self.defaults[name])
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()


app_settings = AppSettings(DEFAULTS)


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        app_settings.reload()


setting_changed.connect(_reload)


# -- documentation ----------------------------------------------------------------------------------------------


def settings_table() -> str:
    """The Markdown table of every setting, as ``docs/settings.md`` holds it between its markers."""
    rows = ["| key | default | meaning | check |", "|---|---|---|---|"]
    for setting in SETTINGS:
        default = json.dumps(setting.default, ensure_ascii=False)
        check = f"`{setting.check_id}`" if setting.check_id else ""
        doc = setting.doc.replace("|", "\\|")
        rows.append(f"| `{setting.key}` | `{default}` | {doc} | {check} |")
    return "\n".join(rows) + "\n"
