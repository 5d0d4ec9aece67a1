"""How the emulator behaves unless told otherwise, and what a run may change: the faults and We the People's signers.

The defaults of the emulator's options, :class:`Faults` and :class:`WeThePeopleBehaviour` (values checked by
name, as the control endpoints receive them) and :func:`never_validates`, which signers never click.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

DEFAULT_API_KEY = "demo-api-key"
DEFAULT_SECRET = "demo-secret"
# We the People: seconds from a signature's arrival to its signer's click on the validation link, the share
# of signers who never click, and the read API's limit (requests in any one second; 0: none).
DEFAULT_VALIDATION_DELAY = 5.0
DEFAULT_NEVER_VALIDATE = 0.1
DEFAULT_READ_LIMIT = 10


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often. Rates are probabilities per API request, in [0, 1]."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: int = 0
    down: bool = False
    # Requests a minute per API key; 0 means no limit.
    rate_limit: int = 0
    # How long a "timed out" answer is held back, after the request was processed.
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        errors = validate_faults(asdict(self))
        if errors:
            raise ValueError("; ".join(f"{name}: {message}" for name, message in errors.items()))

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied; raises :class:`ValueError` on an unknown or invalid value."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


def validate_faults(values: dict[str, Any]) -> dict[str, str]:
    """Check fault values by name; returns ``{name: message}`` for each bad one."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if name in ("error_rate", "timeout_rate"):
            if not number or not 0 <= value <= 1:
                errors[name] = "must be a number between 0 and 1"
        elif name in ("latency_ms", "rate_limit"):
            if not number or value < 0 or int(value) != value:
                errors[name] = "must be a whole number, 0 or more"
        elif name == "timeout_seconds":
            if not number or value < 0:
                errors[name] = "must be a number of seconds, 0 or more"
        elif name == "down":
            if not isinstance(value, bool):
                errors[name] = "must be true or false"
    return errors


@dataclass(frozen=True)
class WeThePeopleBehaviour:
    """How the emulated We the People's signers and read API behave; changeable at run time."""

    # Seconds from a signature's arrival until its signer follows the validation e-mail's link.
    validation_delay: float = DEFAULT_VALIDATION_DELAY
    # Share of signers who never follow it, in [0, 1]; which ones is decided by a hash of the e-mail address,
    # so the same addresses never validate on every run.
    never_validate: float = DEFAULT_NEVER_VALIDATE
    # Read requests (GET) admitted in any one second, per client address; 0 means no limit.
    read_limit: int = DEFAULT_READ_LIMIT

    def __post_init__(self) -> None:
        errors = validate_wethepeople(asdict(self))
        if errors:
            raise ValueError("; ".join(f"{name}: {message}" for name, message in errors.items()))

    def updated(self, changes: dict[str, Any]) -> WeThePeopleBehaviour:
        """A copy with ``changes`` applied; raises :class:`ValueError` on an unknown or invalid value."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


def validate_wethepeople(values: dict[str, Any]) -> dict[str, str]:
    """Check We the People behaviour values by name; returns ``{name: message}`` for each bad one."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if name == "validation_delay":
            if not number or not 0 <= value < 10**9:
                errors[name] = "must be a number of seconds, 0 or more"
        elif name == "never_validate":
            if not number or not 0 <= value <= 1:
                errors[name] = "must be a number between 0 and 1"
        elif name == "read_limit":
            if not number or value < 0 or int(value) != value:
                errors[name] = "must be a whole number, 0 or more"
    return errors


def never_validates(email_key: str, share: float) -> bool:
    """Whether the signer of ``email_key`` is one of the ``share`` who never click: a stable hash, no randomness."""
    if share <= 0:
        return False
    digest = hashlib.sha256(email_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
