"""Settings for petition_widget, read from one ``PETITION_WIDGET`` dict.

Values are read lazily on attribute access, so ``override_settings`` works in tests and nothing is
captured at import time. Unknown keys are refused: a typo must not silently fall back to a default.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

SETTING_NAME = "PETITION_WIDGET"

DEFAULTS: dict[str, Any] = {
    # Public base URL of the site, e.g. "https://blog.example". Used to build the Change.org
    # auth key's `source` and the callback URL the upstream posts revocations to.
    "SITE_URL": "",
    "CHANGEORG_API_URL": "https://api.change.org/v1",
    "CHANGEORG_API_KEY": "",
    "CHANGEORG_SECRET": "",
    "WETHEPEOPLE_API_URL": "https://api.whitehouse.gov/v1",
    "WETHEPEOPLE_API_KEY": "",
    # Seconds to wait for an upstream to connect, and again to answer (requests' (connect, read) timeout).
    "HTTP_TIMEOUT": 10.0,
    # Sent with Change.org auth key requests: who asks, and a description of the collecting site.
    "REQUESTER_EMAIL": "",
    "SOURCE_DESCRIPTION": "",
    # Template the stand-alone form page extends; it must define a `content` block.
    "BASE_TEMPLATE": "petition_widget/base.html",
    # Largest sign POST body accepted, in bytes; larger requests get 413 before any parsing.
    "MAX_REQUEST_BYTES": 16 * 1024,
    # How the public API shows signers' names: "full" ("Ada Lovelace", as Change.org did),
    # "first_initial" ("Ada L.") or "initials" ("A. L.").
    "API_NAME_DISPLAY": "full",
    # -- forwarding (petition_widget.forwarding) ---------------------------------------------------
    # Tries a signature gets before it is marked failed; answers that are not the signer's doing
    # (credentials refused, HTTP 429) do not use one up.
    "MAX_ATTEMPTS": 10,
    # Exponential backoff with full jitter: before try n+1, wait a random time between 0 and
    # min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (n - 1)); a longer Retry-After wins.
    "BACKOFF_BASE_SECONDS": 30.0,
    "BACKOFF_MAX_SECONDS": 3600.0,
    # How long a worker holds a claimed signature. A worker that dies mid-send loses nothing: the
    # signature is claimable again once its lease has expired.
    "LEASE_SECONDS": 120.0,
    # Seconds a looping worker sleeps when nothing is due.
    "POLL_INTERVAL": 5.0,
    # Upstream requests a minute per provider, shared by every worker through the cache below; 0 = no limit.
    # Providers left out keep their default.
    "RATE_LIMITS": {"changeorg": 600, "wethepeople": 1500},
    # The cache (an alias of CACHES) that holds the shared rate-limit counters: Redis or Memcached when
    # workers run in several processes.
    "RATE_LIMIT_CACHE": "default",
    # Wake forwarding through a task framework (django.tasks, or the django-tasks backport) when a signature
    # is stored: "auto" when its backend runs tasks elsewhere, "always" (even the immediate backend, which
    # then forwards inside the request), "off".
    "WAKE_TASK": "auto",
    # The task backend alias the wake-up task is enqueued on.
    "WAKE_TASK_BACKEND": "default",
    # We the People counts a signature only after its signer follows a validation e-mail; sent signatures still
    # not validated this many hours after they were sent are flagged (never sent again).
    "VALIDATION_OVERDUE_HOURS": 72,
    # -- abuse (petition_widget.abuse) --------------------------------------------------------------
    # A sign POST sent sooner than this many seconds after its form was rendered is taken for a bot; 0 turns
    # the form token check off as a whole (its age limit below included). The honeypot is always checked.
    "SIGN_MIN_SECONDS": 3,
    # A form older than this many seconds is refused (a replayed old form); the signer gets a fresh one.
    "SIGN_FORM_MAX_AGE": 12 * 3600,
    # Signatures one client address may store in an hour, and one petition in a minute; 0 = no limit.
    # Counted through the cache named by RATE_LIMIT_CACHE.
    "SIGN_LIMIT_PER_IP": 10,
    "SIGN_LIMIT_PER_PETITION": 600,
    # How many reverse proxies of your own stand in front of the site. 0: the client address is REMOTE_ADDR
    # and X-Forwarded-For is ignored (anyone can send it); n: the n-th address from the right of it.
    "TRUSTED_PROXY_COUNT": 0,
    # Client addresses are stored and counted only as a keyed hash (HMAC-SHA256); the key defaults to one
    # derived from SECRET_KEY.
    "IP_HASH_KEY": "",
    # Dotted path of a form field class (a captcha such as django-altcha's AltchaField) added to every signing
    # form rendered by the site; "" = no captcha.
    "CAPTCHA_FIELD": "",
    # Signatures one public API key may store in an hour, by the key's kind; 0 = no limit, a kind left out
    # keeps its default. A browser key is also held to SIGN_LIMIT_PER_IP and SIGN_LIMIT_PER_PETITION, like the
    # form (on the same counters); a server key to SIGN_LIMIT_PER_PETITION.
    "API_KEY_LIMITS": {"browser": 1000, "server": 10000},
    # -- confirmed signatures and retention (petition_widget.confirmation, petition_widget.privacy) --------
    # Hours a signer has to follow the confirmation link of a petition that asks for confirmed signatures;
    # later the link fails and purge_signatures deletes the unconfirmed signature.
    "CONFIRMATION_EXPIRY_HOURS": 72,
    # Sender of the confirmation e-mails; "" = DEFAULT_FROM_EMAIL.
    "CONFIRMATION_FROM_EMAIL": "",
    # purge_signatures erases the contact details of signatures that reached a final state this many days
    # ago (its default for --older-than-days).
    "RETENTION_DAYS": 365,
    # Name of the group created after migrate that may view signatures and retry or cancel their forwarding,
    # but not export them; "" = create none.
    "REVIEWER_GROUP": "Petition reviewers",
}


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
