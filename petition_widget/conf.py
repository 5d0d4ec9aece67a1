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
