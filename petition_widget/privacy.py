"""Retention and erasure of signers' personal data.

Contact details (e-mail, phone, street address, postal code) and the client address hash are needed only
to forward a signature and to refuse a second one from the same address. Once a signature has reached a
final state they have done their job; :func:`purge_candidates` finds those older than the retention period
and :func:`erase_contact_details` blanks them, keeping what the public list and the counts show (name,
city, region, country, reason, time, hidden). The per-signer erasure an admin runs on request (everything
personal goes, and a signature not yet sent is cancelled) is a lifecycle transition:
:func:`petition_widget.lifecycle.erase`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .conf import app_settings
from .confirmation import expiry
from .lifecycle import CONTACT_FIELDS, ERASED_EMAIL, FINAL_STATES
from .models import ForwardingState, Signature


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
