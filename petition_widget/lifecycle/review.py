"""The transitions people cause: a signer confirms; an admin retries, cancels, marks as spam (and takes it
back), confirms on a signer's behalf or erases.

Each takes the signatures concerned (a queryset; :func:`confirm` one locked row) and returns what it did.
None touches a signature a worker is sending right now (:func:`~.states.in_flight`), and those that change
whether a signature counts keep its petition's counters right (:func:`recounting`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ..forwarding.wake import on_signature_stored
from ..models import ForwardingState, Signature, count_new_signature, recount_signatures
from .states import CANCELLABLE_STATES, ERASED_EMAIL, RETRIABLE_STATES, SIGNER_FIELDS, UNSENT_STATES, in_flight

logger = logging.getLogger(__name__)


@contextmanager
def recounting(queryset: QuerySet) -> Iterator[None]:
    """Recount, after the block, the petitions of the signatures in ``queryset`` as they were before it."""
    petition_ids = set(queryset.values_list("petition_id", flat=True))
    yield
    recount_signatures(petition_ids)


def confirm(signature: Signature, *, now: datetime | None = None) -> bool:
    """Confirm a signature awaiting confirmation; whether it changed (confirming twice is harmless).

    It becomes pending (due at once), counts, is listed (unless hidden) and is woken for forwarding. Call it
    in the transaction that locked the row: the counters move by one in it, as for a new signature.
    """
    if signature.state != ForwardingState.UNCONFIRMED:
        return False
    now = now or timezone.now()
    changed = Signature.objects.filter(pk=signature.pk, state=ForwardingState.UNCONFIRMED).update(
        state=ForwardingState.PENDING, confirmed_at=now, next_attempt_at=now
    )
    if not changed:
        return False
    signature.state, signature.confirmed_at, signature.next_attempt_at = ForwardingState.PENDING, now, now
    count_new_signature(signature)
    on_signature_stored(signature.pk)
    logger.info("signature %s confirmed", signature.pk)
    return True


@dataclass(frozen=True)
class Retried:
    """What :func:`retry_now` did: signatures due again, of them on a paused petition, and left alone."""

    retried: int
    paused: int
    left_alone: int


def retry_now(queryset: QuerySet, *, now: datetime | None = None) -> Retried:
    """Make the signatures in RETRIABLE_STATES due now, with the full retry budget again.

    They go back to pending with ``next_attempt_at`` = now and ``attempts`` = 0; those of a paused petition
    wait until it is resumed. Sent, cancelled, spam, unconfirmed, erased and sending ones are left alone.
    """
    selected = queryset.count()
    eligible = queryset.filter(state__in=RETRIABLE_STATES, erased_at__isnull=True)
    paused = eligible.filter(petition__forwarding_paused_at__isnull=False).count()
    retried = eligible.update(
        state=ForwardingState.PENDING, attempts=0, next_attempt_at=now or timezone.now(), finished_at=None
    )
    return Retried(retried=retried, paused=paused, left_alone=selected - retried)


def _stop(queryset: QuerySet, state: ForwardingState, now: datetime, **also) -> int:
    """Move the signatures not in flight to a final ``state`` they never leave by themselves."""
    return queryset.exclude(in_flight(now)).update(
        state=state, next_attempt_at=None, lease_expires_at=None, leased_by="", finished_at=now, **also
    )


@dataclass(frozen=True)
class Stopped:
    """What :func:`cancel` or :func:`mark_spam` did: signatures moved, of them already sent, and left alone."""

    moved: int
    already_sent: int
    left_alone: int


def cancel(queryset: QuerySet, *, now: datetime | None = None) -> Stopped:
    """Stop forwarding the pending, held or failed signatures: they no longer count. Others are left alone."""
    now = now or timezone.now()
    selected = queryset.count()
    cancellable = queryset.filter(state__in=CANCELLABLE_STATES)
    with transaction.atomic(), recounting(cancellable):
        cancelled = _stop(cancellable, ForwardingState.CANCELLED, now)
    return Stopped(moved=cancelled, already_sent=0, left_alone=selected - cancelled)


def mark_spam(queryset: QuerySet, *, now: datetime | None = None) -> Stopped:
    """Mark the signatures as spam: never forwarded again, not counted, not listed.

    Any state qualifies except one a worker is sending right now (under a lease that has not expired):
    that request is already on its way, and its result would be recorded over the mark. Signatures the
    platform already has stay there; here they stop counting.
    """
    now = now or timezone.now()
    selected = queryset.count()
    eligible = queryset.exclude(in_flight(now)).exclude(state=ForwardingState.SPAM)
    already_sent = eligible.filter(state=ForwardingState.SENT).count()
    with transaction.atomic(), recounting(eligible):
        # The right-hand side reads the row as it was: state_before_spam gets the state being replaced.
        marked = _stop(eligible, ForwardingState.SPAM, now, state_before_spam=F("state"))
    return Stopped(moved=marked, already_sent=already_sent, left_alone=selected - marked)


# Where "not spam" puts a signature back as it was; any other state it had (pending, sending, held, failed, or
# none recorded) means it was on its way: it goes back to pending, due at once (or to sent, if it had been sent).
RESTORED_AS_IS = (
    ForwardingState.SENT,
    ForwardingState.REJECTED,
    ForwardingState.CANCELLED,
    ForwardingState.UNCONFIRMED,
)


@dataclass(frozen=True)
class Restored:
    """What :func:`not_spam` did: signatures taken out of spam, of them due for forwarding again, left alone."""

    restored: int
    resumed: int
    left_alone: int


def not_spam(queryset: QuerySet, *, now: datetime | None = None) -> Restored:
    """Take the spam signatures back to where they were before they were marked; others are left alone.

    A sent, rejected, cancelled or unconfirmed one gets that state back. One that was on its way (pending,
    sending, held or failed) becomes pending, due now with the full retry budget, so forwarding resumes (on a
    paused petition it waits for the petition to be resumed); one marked before its state was recorded is
    taken as sent if it was forwarded, else pending. Erased ones stay spam: there is nothing left to forward.
    The petitions' counters follow.
    """
    now = now or timezone.now()
    selected = queryset.count()
    spam = queryset.filter(state=ForwardingState.SPAM, erased_at__isnull=True)
    with transaction.atomic(), recounting(spam):
        as_is = spam.filter(state_before_spam__in=RESTORED_AS_IS)
        unconfirmed = as_is.filter(state_before_spam=ForwardingState.UNCONFIRMED).update(
            state=ForwardingState.UNCONFIRMED, state_before_spam="", finished_at=None
        )
        final = as_is.update(state=F("state_before_spam"), state_before_spam="")
        on_its_way = spam.exclude(state_before_spam__in=RESTORED_AS_IS)
        forwarded = on_its_way.filter(forwarded_at__isnull=False).update(
            state=ForwardingState.SENT, state_before_spam=""
        )
        resumed_ids = list(on_its_way.values_list("pk", flat=True))
        resumed = Signature.objects.filter(pk__in=resumed_ids).update(
            state=ForwardingState.PENDING,
            state_before_spam="",
            attempts=0,
            next_attempt_at=now,
            lease_expires_at=None,
            leased_by="",
            finished_at=None,
        )
        for pk in resumed_ids:
            on_signature_stored(pk)
    restored = unconfirmed + final + forwarded + resumed
    logger.info("%d signature(s) taken out of spam, %d of them due for forwarding", restored, resumed)
    return Restored(restored=restored, resumed=resumed, left_alone=selected - restored)


@dataclass(frozen=True)
class Confirmed:
    """What :func:`confirm_on_behalf` did: signatures confirmed (and their ids), and left alone."""

    confirmed: int
    left_alone: int
    ids: tuple[int, ...] = ()


def confirm_on_behalf(queryset: QuerySet, *, by: int, reason: str, now: datetime | None = None) -> Confirmed:
    """Confirm the selected signatures awaiting confirmation on their signers' behalf (see :func:`confirm`).

    For when the signer cannot follow the e-mailed link, or confirmation was turned off while signatures
    waited. ``by`` is the acting admin's user id and ``reason`` why; both are logged with each signature's id,
    nothing that names the signer. Erased signatures and those not awaiting confirmation are left alone.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("a reason is required to confirm on the signer's behalf")
    now = now or timezone.now()
    selected = queryset.count()
    ids = list(
        queryset.filter(state=ForwardingState.UNCONFIRMED, erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    confirmed = []
    for pk in ids:
        with transaction.atomic():
            signature = Signature.objects.select_for_update().filter(pk=pk).first()
            if signature is None or signature.erased_at is not None or not confirm(signature, now=now):
                continue
        confirmed.append(pk)
        logger.info("signature %s confirmed on the signer's behalf by admin user %s: %s", pk, by, reason)
    return Confirmed(confirmed=len(confirmed), left_alone=selected - len(confirmed), ids=tuple(confirmed))


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase` did: signatures erased, of them cancelled, and left alone mid-send."""

    erased: int
    cancelled: int
    in_flight: int


def erase(queryset: QuerySet, *, now: datetime | None = None) -> Erasure:
    """Erase everything personal of the selected signatures (a signer's request).

    Names, e-mail, phone, address, city, region, postal code, reason and the client address hash go, and
    the signature is hidden from the public list; it still counts if it was sent. One not yet sent is
    cancelled first, so that no worker sends an empty signature. One a worker is sending at this moment is
    left alone (its request is already on its way, and its result would be recorded over the erasure): run
    the erasure again once it has been sent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(queryset.exclude(in_flight(now)).values_list("pk", flat=True))
        skipped = queryset.filter(in_flight(now)).count()
        selected = Signature.objects.filter(pk__in=ids)
        with recounting(selected):
            # _stop checks the lease again: a worker may have claimed one since the ids were read.
            cancelled = _stop(selected.filter(state__in=UNSENT_STATES), ForwardingState.CANCELLED, now)
            erased = selected.exclude(in_flight(now)).update(
                **{name: "" for name in SIGNER_FIELDS}, email_normalized=ERASED_EMAIL, hidden=True, erased_at=now
            )
    return Erasure(erased=erased, cancelled=cancelled, in_flight=skipped + len(ids) - erased)
