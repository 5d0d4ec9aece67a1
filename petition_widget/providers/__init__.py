"""Upstream clients, one per platform; :func:`get_provider` builds one from the settings."""

from __future__ import annotations

from ..conf import app_settings
from ..exceptions import ConfigurationError
from .base import AuthKeyGrant, BaseProvider, Outcome, PetitionData, SubmitResult
from .changeorg import ChangeOrgProvider
from .wethepeople import WeThePeopleProvider

__all__ = [
    "AuthKeyGrant",
    "BaseProvider",
    "ChangeOrgProvider",
    "Outcome",
    "PetitionData",
    "SubmitResult",
    "WeThePeopleProvider",
    "get_provider",
]

PROVIDERS: dict[str, type[BaseProvider]] = {
    ChangeOrgProvider.name: ChangeOrgProvider,
    WeThePeopleProvider.name: WeThePeopleProvider,
}


def get_provider(name: str) -> BaseProvider:
    """A new client for the platform ``name`` (``"changeorg"`` or ``"wethepeople"``), configured from
    ``PETITION_WIDGET``; raises :class:`ConfigurationError` for an unknown name or missing credentials."""
    key = str(name)
    if key not in PROVIDERS:
        raise ConfigurationError(f"Unknown petition provider {key!r}; known: {', '.join(sorted(PROVIDERS))}.")
    timeout = app_settings.HTTP_TIMEOUT
    if key == ChangeOrgProvider.name:
        missing = [k for k in ("CHANGEORG_API_KEY", "CHANGEORG_SECRET") if not getattr(app_settings, k)]
        if missing:
            raise ConfigurationError(f"Change.org needs {' and '.join(missing)} in PETITION_WIDGET.")
        return ChangeOrgProvider(
            api_url=app_settings.CHANGEORG_API_URL,
            api_key=app_settings.CHANGEORG_API_KEY,
            secret=app_settings.CHANGEORG_SECRET,
            timeout=timeout,
            source_description=app_settings.SOURCE_DESCRIPTION,
            requester_email=app_settings.REQUESTER_EMAIL,
        )
    if not app_settings.WETHEPEOPLE_API_KEY:
        raise ConfigurationError("We the People needs WETHEPEOPLE_API_KEY in PETITION_WIDGET.")
    return WeThePeopleProvider(
        api_url=app_settings.WETHEPEOPLE_API_URL, api_key=app_settings.WETHEPEOPLE_API_KEY, timeout=timeout
    )
