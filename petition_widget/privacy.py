"""Retention and erasure of signers' personal data.

Contact details (e-mail, phone, street address, postal code) and the client address hash are needed only
to forward a signature and to refuse a second one from the same address. Once a signature has reached a
final state they have done their job; :func:`purge_candidates` finds those older than the retention period
and :func:`erase_contact_details` blanks them, keeping what the public list and the counts show (name,
city, region, country, reason, time, hidden). :func:`erase_signers` is the per-signer erasure an admin runs
on request: everything personal goes, and a signature not yet sent is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from .conf import app_settings
from .confirmation import expiry
from .models import FINAL_STATES, ForwardingState, Signature, recount_signatures

# The normalised e-mail of an erased signature: unique per row (the one-signature-per-address constraint
# holds), and never a real address (no "@").
ERASED_EMAIL = Concat(Value("erased:"), Cast("pk", output_field=CharField()))

CONTACT_FIELDS = ("email", "phone", "address", "postal_code", "ip_hash")
# Also erased on a signer's request: everything else that names or describes them.
SIGNER_FIELDS = (*CONTACT_FIELDS, "first_name", "last_name", "city", "state_province", "reason")

# States in which a signature may still be sent: erasing its signer cancels it (unless a worker is sending
# it at this very moment).
UNSENT_STATES = (
    ForwardingState.PENDING,
    ForwardingState.SENDING,
    ForwardingState.HELD,
    ForwardingState.FAILED,
    ForwardingState.UNCONFIRMED,
)


def retention_cutoff(older_than_days: int | None = None, *, now: datetime | None = None) -> datetime:
    days = app_settings.RETENTION_DAYS if older_than_days is None else older_than_days
    return (now or timezone.now()) - timedelta(days=days)


def purge_candidates(older_than_days: int | None = None, *, now: datetime | None = None) -> QuerySet:
    """Signatures still holding contact details that reached a final state more than the given days ago."""
    return Signature.objects.filter(
        state__in=FINAL_STATES,
        finished_at__lt=retention_cutoff(older_than_days, now=now),
        erased_at__isnull=True,
    )


def erase_contact_details(queryset: QuerySet, *, now: datetime | None = None) -> int:
    """Blank e-mail, phone, street address, postal code and address hash; returns the signatures erased."""
    return queryset.filter(erased_at__isnull=True).update(
        **{name: "" for name in CONTACT_FIELDS},
        email_normalized=ERASED_EMAIL,
        erased_at=now or timezone.now(),
    )


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_signers` did: signatures erased, of them cancelled, and left alone mid-send."""

    erased: int
    cancelled: int
    in_flight: int


def in_flight(now: datetime) -> Q:
    """Signatures a worker is sending right now, under a lease that has not run out."""
    return Q(state=ForwardingState.SENDING, lease_expires_at__gte=now)


def erase_signers(queryset: QuerySet, *, now: datetime | None = None) -> Erasure:
    """Erase everything personal of the selected signatures (a signer's request).

    Names, city, region and reason go too, and the signature is hidden from the public list; it still
    counts if it was sent. One not yet sent is cancelled first, so that no worker sends an empty signature.
    One a worker is sending at this moment is left alone (its request is already on its way, and its
    result would be recorded over the erasure): run the erasure again once it has been sent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(queryset.exclude(in_flight(now)).values_list("pk", flat=True))
        skipped = queryset.filter(in_flight(now)).count()
        selected = Signature.objects.filter(pk__in=ids)
        petition_ids = set(selected.values_list("petition_id", flat=True))
        # The lease condition again: a worker may have claimed one since the ids were read.
        cancelled = (
            selected.filter(state__in=UNSENT_STATES)
            .exclude(in_flight(now))
            .update(
                state=ForwardingState.CANCELLED,
                next_attempt_at=None,
                lease_expires_at=None,
                leased_by="",
                finished_at=now,
            )
        )
        erased = selected.exclude(in_flight(now)).update(
            **{name: "" for name in SIGNER_FIELDS},
            email_normalized=ERASED_EMAIL,
            hidden=True,
            erased_at=now,
        )
        recount_signatures(petition_ids)
    return Erasure(erased=erased, cancelled=cancelled, in_flight=skipped + len(ids) - erased)


def expired_unconfirmed(*, now: datetime | None = None) -> QuerySet:
    """Signatures whose confirmation link has expired (counted from the last e-mail, or from signing)."""
    cutoff = (now or timezone.now()) - expiry()
    return Signature.objects.filter(state=ForwardingState.UNCONFIRMED).filter(
        Q(confirmation_sent_at__lt=cutoff) | Q(confirmation_sent_at__isnull=True, created_at__lt=cutoff)
    )


def delete_expired_unconfirmed(*, now: datetime | None = None) -> int:
    """Delete unconfirmed signatures past their link's expiry: they never counted and were never sent.

    The rows are locked first (PostgreSQL), so a signer pressing the button right now either confirms
    before this (and the row is no longer unconfirmed, so it stays) or finds the signature gone after.
    """
    with transaction.atomic():
        ids = list(expired_unconfirmed(now=now).select_for_update().values_list("pk", flat=True))
        _, deleted = Signature.objects.filter(pk__in=ids, state=ForwardingState.UNCONFIRMED).delete()
    return deleted.get(Signature._meta.label, 0)
