"""Upstream clients, one per platform; :func:`get_provider` builds one from the settings."""

from __future__ import annotations

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
    return PROVIDERS[key].from_settings()
