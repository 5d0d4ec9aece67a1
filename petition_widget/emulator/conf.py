"""The emulator's state inside a host site: built from the ``PETITION_WIDGET_EMULATOR`` setting on first use.

The standalone server (``manage.py upstream_emulator``) makes its own :class:`~.state.EmulatorState`; the
emulator's URLs mounted in a site share :func:`default_state`, forgotten when the setting changes.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from .state import EmulatorState

_OPTION_NAMES = {
    "API_KEY": "api_key",
    "SECRET": "secret",
    "LATENCY_MS": "latency_ms",
    "ERROR_RATE": "error_rate",
    "TIMEOUT_RATE": "timeout_rate",
    "RATE_LIMIT": "rate_limit",
    "TIMEOUT_SECONDS": "timeout_seconds",
    "SEED": "seed",
    "VALIDATION_DELAY": "validation_delay",
    "NEVER_VALIDATE": "never_validate",
    "READ_LIMIT": "read_limit",
}
SETTING_NAME = "PETITION_WIDGET_EMULATOR"

_default_state: EmulatorState | None = None
_default_lock = threading.Lock()


def state_from_settings() -> EmulatorState:
    """A new state configured from the optional ``PETITION_WIDGET_EMULATOR`` setting (keys as in ``_OPTION_NAMES``)."""
    configured = getattr(settings, SETTING_NAME, {}) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict.")
    unknown = sorted(set(configured) - set(_OPTION_NAMES))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown key(s) in {SETTING_NAME}: {', '.join(unknown)}. Known keys: {', '.join(sorted(_OPTION_NAMES))}."
        )
    try:
        return EmulatorState(**{_OPTION_NAMES[name]: value for name, value in configured.items()})
    except ValueError as error:
        raise ImproperlyConfigured(f"{SETTING_NAME}: {error}") from error


def default_state() -> EmulatorState:
    """The state used when the emulator's URLs are mounted inside a host site, built on first use."""
    global _default_state
    with _default_lock:
        if _default_state is None:
            _default_state = state_from_settings()
        return _default_state


def _forget_default_state(*, setting: str, **kwargs: Any) -> None:
    global _default_state
    if setting == SETTING_NAME:
        with _default_lock:
            _default_state = None


setting_changed.connect(_forget_default_state)
