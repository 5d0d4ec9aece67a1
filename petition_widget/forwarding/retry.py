"""The retry policy: a frozen value that turns the answer to one try into the signature's next step.

Pure: no clock, no database, no I/O. The caller passes the attempts spent so far, the classified answer
and the current time; randomness comes from an injectable :class:`random.Random`, so tests can pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..conf import app_settings
from ..models import SUCCESSFUL_OUTCOMES, ForwardingState, Outcome
from ..providers.base import SubmitResult

# An upstream asking for more than this is believed only up to it: a broken header must not park a
# signature for years.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
# 2**60 times any sensible base is past every cap; the exponent stops there so the float cannot overflow.
_MAX_EXPONENT = 60


@dataclass(frozen=True)
class Decision:
    """What becomes of a signature after one try."""

    state: ForwardingState
    #: The signature's attempt count after this try (unchanged when the try did not count).
    attempts: int
    #: When to try again (state pending), else ``None``.
    retry_at: datetime | None = None
    #: Non-empty when the petition's forwarding must pause: why, in words an admin can act on.
    pause_reason: str = ""
    #: What to keep as the signature's ``last_error`` ("" once it is sent).
    error: str = ""

    @property
    def pauses(self) -> bool:
        return bool(self.pause_reason)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter and a cap, ``Retry-After`` honoured, a maximum of attempts.

    After the n-th counted try fails, the next comes after a random delay in
    ``[0, min(max_seconds, base_seconds * 2 ** (n - 1))]``, or after the upstream's ``Retry-After`` when
    that is longer. Once ``max_attempts`` tries have failed the signature is ``failed``: kept, visible and
    retriable from the admin, never dropped.

    Two answers do not use up an attempt: HELD (our credentials, not the signer's data; the petition
    pauses instead) and HTTP 429 (our pace, not the signature).
    """

    max_attempts: int = 10
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.base_seconds <= self.max_seconds:
            raise ValueError("base_seconds must be positive and at most max_seconds")

    @classmethod
    def from_settings(cls, rng: random.Random | None = None) -> RetryPolicy:
        """The policy the ``PETITION_WIDGET`` settings describe."""
        return cls(
            max_attempts=app_settings.MAX_ATTEMPTS,
            base_seconds=float(app_settings.BACKOFF_BASE_SECONDS),
            max_seconds=float(app_settings.BACKOFF_MAX_SECONDS),
            random=rng or random.Random(),
        )

    def ceiling(self, attempts: int) -> float:
        """The longest backoff after ``attempts`` failed tries (1 or more)."""
        exponent = min(max(attempts, 1) - 1, _MAX_EXPONENT)
        return min(self.max_seconds, self.base_seconds * 2**exponent)

    def retry_in(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after ``attempts`` failed tries, or ``None`` to give up."""
        if attempts >= self.max_attempts:
            return None
        delay = self.random.uniform(0.0, self.ceiling(attempts))
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, MAX_RETRY_AFTER_SECONDS)
        return delay

    def decide(self, result: SubmitResult, *, attempts: int, now: datetime) -> Decision:
        """The next step for a signature that had spent ``attempts`` tries before this one."""
        outcome = result.outcome
        if outcome in SUCCESSFUL_OUTCOMES:
            return Decision(ForwardingState.SENT, attempts + 1)
        if outcome == Outcome.REJECTED:
            return Decision(ForwardingState.REJECTED, attempts + 1, error=result.detail)
        if outcome == Outcome.HELD:
            return Decision(
                ForwardingState.HELD, attempts, pause_reason=result.detail or "credentials refused", error=result.detail
            )
        counted = result.http_status != 429
        spent = attempts + 1 if counted else attempts
        delay = self.retry_in(spent, result.retry_after) if counted else self._rate_limited_delay(spent, result)
        if delay is None:
            return Decision(ForwardingState.FAILED, spent, error=result.detail)
        return Decision(ForwardingState.PENDING, spent, retry_at=now + timedelta(seconds=delay), error=result.detail)

    def _rate_limited_delay(self, attempts: int, result: SubmitResult) -> float:
        delay = self.random.uniform(0.0, self.ceiling(attempts))
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay
