"""The forwarding worker's transitions: claim due signatures under a lease, renew it, release them unsent,
record what each try came to; and pausing and resuming a petition's forwarding.

A claim is one short transaction. On PostgreSQL (any backend with SKIP LOCKED) the due rows are locked
with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marked ``sending`` with a lease, so concurrent workers
take disjoint rows without waiting on each other. Elsewhere (SQLite) one conditional UPDATE marks the
candidates that are still due, and the worker reads back which of them now carry its lease: the
condition is evaluated per row inside the statement, so two workers can never both win a row.

No transaction is open while a signature is sent. A worker that dies holding a lease loses nothing: once
``lease_expires_at`` has passed the row is due again, and the upstream's "already signed" answer closes
a second send as sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from ..models import ATTEMPT_MESSAGE_LENGTH, ForwardAttempt, ForwardingState, Petition, Signature
from ..providers.base import SubmitResult, shorten
from .states import FINAL_STATES, due, due_filter, leased_to

if TYPE_CHECKING:
    from ..forwarding.retry import Decision

logger = logging.getLogger(__name__)

PAUSE_REASON_LENGTH = Petition._meta.get_field("forwarding_paused_reason").max_length
PETITION_TEXTS = ("overview", "letter_body", "targets", "raw")


def _lease(worker_id: str, lease_until: datetime) -> dict:
    return {"state": ForwardingState.SENDING, "lease_expires_at": lease_until, "leased_by": worker_id}


def claim(worker_id: str, limit: int, *, lease_seconds: float, now: datetime | None = None) -> list[Signature]:
    """Claim up to ``limit`` due signatures for ``worker_id``; returns them with their petitions loaded."""
    if limit < 1:
        return []
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds)
    alias = router.db_for_write(Signature)
    if connections[alias].features.has_select_for_update_skip_locked:
        ids = _claim_skip_locked(worker_id, limit, now, lease_until, alias)
    else:
        ids = _claim_conditional(worker_id, limit, now, lease_until, alias)
    if not ids:
        return []
    claimed = list(
        Signature.objects.using(alias).filter(pk__in=ids).order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
    )
    # One Petition instance per petition, shared by its signatures (they only read it), without the cached
    # upstream texts a submission never needs.
    petitions = Petition.objects.using(alias).defer(*PETITION_TEXTS).in_bulk({s.petition_id for s in claimed})
    for signature in claimed:
        signature.petition = petitions[signature.petition_id]
    logger.debug("worker %s claimed %s signature(s)", worker_id, len(claimed))
    return claimed


def _claim_skip_locked(worker_id: str, limit: int, now: datetime, lease_until: datetime, alias: str) -> list[int]:
    connection = connections[alias]
    # Lock only the signature rows, not the petitions joined for the pause condition.
    lock = {"skip_locked": True}
    if connection.features.has_select_for_update_of:
        lock["of"] = ("self",)
    with transaction.atomic(using=alias):
        ids = list(due(now).using(alias).select_for_update(**lock).values_list("pk", flat=True)[:limit])
        if ids:
            Signature.objects.using(alias).filter(pk__in=ids).update(**_lease(worker_id, lease_until))
    return ids


def _claim_conditional(worker_id: str, limit: int, now: datetime, lease_until: datetime, alias: str) -> list[int]:
    candidates = list(due(now).using(alias).values_list("pk", flat=True)[:limit])
    if not candidates:
        return []
    with transaction.atomic(using=alias):
        Signature.objects.using(alias).filter(due_filter(now), pk__in=candidates).update(
            **_lease(worker_id, lease_until)
        )
    # The lease's exact expiry marks this claim: an earlier claim by the same worker carries another one.
    return list(
        Signature.objects.using(alias)
        .filter(pk__in=candidates, state=ForwardingState.SENDING, leased_by=worker_id, lease_expires_at=lease_until)
        .values_list("pk", flat=True)
    )


def claim_one(
    signature_id: int, worker_id: str, *, lease_seconds: float, now: datetime | None = None
) -> Signature | None:
    """Claim one signature by id if it is due (the wake-up task's way in); ``None`` if it is not."""
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds)
    with transaction.atomic():
        won = Signature.objects.filter(due_filter(now), pk=signature_id).update(**_lease(worker_id, lease_until))
    if not won:
        return None
    return Signature.objects.select_related("petition").filter(pk=signature_id, leased_by=worker_id).first()


def renew_lease(signature: Signature, worker_id: str, *, lease_seconds: float, now: datetime | None = None) -> bool:
    """Extend the lease before a send that might outlast it; False when the lease was lost."""
    lease_until = (now or timezone.now()) + timedelta(seconds=lease_seconds)
    if leased_to(worker_id, [signature.pk]).update(lease_expires_at=lease_until):
        signature.lease_expires_at = lease_until
        return True
    return False


def release(signatures: Iterable[Signature], worker_id: str) -> int:
    """Give claimed signatures back unsent (a stopping worker); they keep their attempts and schedule."""
    ids = [signature.pk for signature in signatures]
    if not ids:
        return 0
    with transaction.atomic():
        released = leased_to(worker_id, ids).update(state=ForwardingState.PENDING, lease_expires_at=None, leased_by="")
    if released:
        logger.info("worker %s released %s signature(s) unsent", worker_id, released)
    return released


@dataclass(frozen=True)
class Try:
    """One finished try at sending a claimed signature, waiting to be recorded."""

    signature: Signature
    result: SubmitResult
    decision: Decision
    started_at: datetime
    duration: float


def record(
    signature: Signature,
    result: SubmitResult,
    decision: Decision,
    *,
    worker_id: str,
    started_at: datetime,
    duration: float,
    now: datetime | None = None,
) -> bool:
    """Log one try and move its signature on; False when the worker no longer held the lease."""
    held = record_many([Try(signature, result, decision, started_at, duration)], worker_id=worker_id, now=now)
    return bool(held)


def _recorded(decision: Decision, now: datetime) -> dict:
    """The fields a try's decision sets on its signature (the attempt count aside)."""
    changes = {
        "state": decision.state,
        "next_attempt_at": decision.retry_at,
        "lease_expires_at": None,
        "leased_by": "",
        "last_error": decision.error,
    }
    if decision.state == ForwardingState.SENT:
        changes["forwarded_at"] = now
    if decision.state in FINAL_STATES:
        changes["finished_at"] = now
    return changes


def record_many(tries: Sequence[Try], *, worker_id: str, now: datetime | None = None) -> set[int]:
    """Log the tries and move their signatures to their next states, in one transaction.

    Signatures going the same way (typically: sent) move in one UPDATE; the attempt rows go in one INSERT.
    A try whose lease was lost (it expired and another worker took the row) is logged all the same and
    its row is left to the new holder. Returns the primary keys of the signatures moved on.
    """
    if not tries:
        return set()
    now = now or timezone.now()
    groups: dict[tuple, list[Try]] = {}
    for attempt in tries:
        decision = attempt.decision
        key = (decision.state, decision.attempts - attempt.signature.attempts, decision.retry_at, decision.error)
        groups.setdefault(key, []).append(attempt)
    with transaction.atomic():
        held = set(leased_to(worker_id, [attempt.signature.pk for attempt in tries]).values_list("pk", flat=True))
        for (_state, spent, _retry_at, _error), group in groups.items():
            changes = _recorded(group[0].decision, now)
            if spent:
                # The lease keeps everyone else off the row, so the count cannot have moved since the claim.
                changes["attempts"] = F("attempts") + spent
            mine = [attempt.signature.pk for attempt in group if attempt.signature.pk in held]
            if mine:
                leased_to(worker_id, mine).update(**changes)
        ForwardAttempt.objects.bulk_create(
            [
                ForwardAttempt(
                    signature_id=attempt.signature.pk,
                    started_at=attempt.started_at,
                    duration_ms=max(0, round(attempt.duration * 1000)),
                    outcome=attempt.result.outcome.value,
                    http_status=attempt.result.http_status,
                    message=shorten(attempt.result.detail, ATTEMPT_MESSAGE_LENGTH),
                    worker=worker_id[:64],
                )
                for attempt in tries
            ]
        )
        pauses = {
            attempt.signature.petition_id: attempt.decision.pause_reason
            for attempt in tries
            if attempt.decision.pauses and attempt.signature.pk in held
        }
        for petition_id, reason in pauses.items():
            pause_petition(petition_id, reason, now=now)
    for attempt in tries:
        signature, decision = attempt.signature, attempt.decision
        if signature.pk in held:
            for name, value in _recorded(decision, now).items():
                setattr(signature, name, value)
            signature.attempts = decision.attempts
        else:
            logger.warning(
                "worker %s: lease on signature %s was lost before its result (%s) was recorded",
                worker_id,
                signature.pk,
                attempt.result.outcome,
            )
    return held


def pause_petition(petition_id: int, reason: str, *, now: datetime | None = None) -> bool:
    """Pause forwarding for a petition (the first reason stays); its signatures wait for an admin."""
    paused = Petition.objects.filter(pk=petition_id, forwarding_paused_at__isnull=True).update(
        forwarding_paused_at=now or timezone.now(), forwarding_paused_reason=shorten(reason, PAUSE_REASON_LENGTH)
    )
    if paused:
        logger.warning("forwarding paused for petition %s: %s", petition_id, reason)
    return bool(paused)


def resume_petitions(petition_ids: Iterable[int], *, now: datetime | None = None) -> tuple[int, int]:
    """Resume forwarding: unpause the petitions and make their held signatures due now.

    Returns (petitions resumed, signatures released from hold). Held signatures keep their attempts:
    being held never used one up.
    """
    now = now or timezone.now()
    ids = list(petition_ids)
    with transaction.atomic():
        petitions = Petition.objects.filter(pk__in=ids, forwarding_paused_at__isnull=False).update(
            forwarding_paused_at=None, forwarding_paused_reason=""
        )
        signatures = Signature.objects.filter(petition_id__in=ids, state=ForwardingState.HELD).update(
            state=ForwardingState.PENDING, next_attempt_at=now
        )
    logger.info("forwarding resumed for %s petition(s); %s held signature(s) due again", petitions, signatures)
    return petitions, signatures
