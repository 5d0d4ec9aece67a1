"""A signature's states in groups, and the conditions every transition and report is built on.

``ForwardingState`` (the field's choices), ``UNCOUNTED_STATES`` and the ``COUNTED``/``PUBLIC`` conditions
are defined in :mod:`petition_widget.models`, whose public-list index is built from them; they are
re-exported here so that this module lists every group.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import CharField, Count, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ..models import COUNTED as COUNTED  # re-exported, as are PUBLIC and UNCOUNTED_STATES
from ..models import PUBLIC as PUBLIC
from ..models import UNCOUNTED_STATES as UNCOUNTED_STATES
from ..models import ForwardingState, Signature

# -- The states, in groups ------------------------------------------------------------------------------------

# States a signature does not leave by itself; purge_signatures erases contact details some time after.
FINAL_STATES = (
    ForwardingState.SENT,
    ForwardingState.REJECTED,
    ForwardingState.FAILED,
    ForwardingState.CANCELLED,
    ForwardingState.SPAM,
)
# UNCOUNTED_STATES (cancelled, unconfirmed, spam) neither count towards a petition's total nor are listed;
# COUNTED and PUBLIC are the conditions built on them.

# What an admin may make due again (retry_now), and stop (cancel).
RETRIABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED, ForwardingState.REJECTED)
CANCELLABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED)
# States in which a signature may still be sent: erasing its signer cancels it (unless in flight).
UNSENT_STATES = (
    ForwardingState.PENDING,
    ForwardingState.SENDING,
    ForwardingState.HELD,
    ForwardingState.FAILED,
    ForwardingState.UNCONFIRMED,
)
# The backlog: signatures not yet forwarded that still may be. The first three are waiting on us (or on the
# upstream); unconfirmed ones wait on their signers.
WAITING_STATES = (ForwardingState.PENDING, ForwardingState.SENDING, ForwardingState.HELD)
BACKLOG_STATES = (*WAITING_STATES, ForwardingState.UNCONFIRMED)

# Personal data: contact details go after the retention period, everything naming the signer on request.
CONTACT_FIELDS = ("email", "phone", "address", "postal_code", "ip_hash")
SIGNER_FIELDS = (*CONTACT_FIELDS, "first_name", "last_name", "city", "state_province", "reason")
# The normalised e-mail of an erased signature: unique per row (the one-signature-per-address constraint
# holds), and never a real address (no "@").
ERASED_EMAIL = Concat(Value("erased:"), Cast("pk", output_field=CharField()))

# -- Conditions ----------------------------------------------------------------------------------------------


def pending_due(now: datetime) -> Q:
    """Pending signatures whose (next) attempt is due at ``now``."""
    return Q(state=ForwardingState.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def due_filter(now: datetime) -> Q:
    """Signatures a worker may claim at ``now``: pending and due, or sending under an expired lease,
    on a petition whose forwarding is not paused."""
    abandoned = Q(state=ForwardingState.SENDING, lease_expires_at__lt=now)
    return (pending_due(now) | abandoned) & Q(petition__forwarding_paused_at__isnull=True)


def in_flight(now: datetime) -> Q:
    """Signatures a worker is sending right now, under a lease that has not run out."""
    return Q(state=ForwardingState.SENDING, lease_expires_at__gte=now)


def backlog_counts(now: datetime) -> dict[str, Count]:
    """Aggregates that split signatures in BACKLOG_STATES by what they wait for."""
    pending = Q(state=ForwardingState.PENDING)
    return {
        "due_now": Count("pk", filter=pending_due(now)),
        "scheduled": Count("pk", filter=pending & Q(next_attempt_at__gt=now)),
        "sending": Count("pk", filter=Q(state=ForwardingState.SENDING)),
        "held": Count("pk", filter=Q(state=ForwardingState.HELD)),
        "unconfirmed": Count("pk", filter=Q(state=ForwardingState.UNCONFIRMED)),
    }


def due(now: datetime | None = None) -> QuerySet[Signature]:
    """Due signatures, oldest first (new ones have no ``next_attempt_at`` and come first)."""
    now = now or timezone.now()
    return Signature.objects.filter(due_filter(now)).order_by(F("next_attempt_at").asc(nulls_first=True), "pk")


def leased_to(worker_id: str, ids: Iterable[int]) -> QuerySet[Signature]:
    """The rows among ``ids`` whose lease ``worker_id`` holds."""
    return Signature.objects.filter(pk__in=ids, state=ForwardingState.SENDING, leased_by=worker_id)
