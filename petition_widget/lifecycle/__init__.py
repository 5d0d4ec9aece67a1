"""A signature's lifecycle: its states in groups, and every transition between them, in one place.

::

    form ──► unconfirmed ──confirm──► pending ──claim──► sending ──record──► sent, rejected, failed,
                                       ▲  ▲                 │               held (the petition pauses),
                                       │  └────release──────┘               or pending again (a retry)
                     retry_now (pending, held, failed, rejected), resume_petitions (held)
    cancel (pending, held, failed), erase (any unsent) ──► cancelled;  mark_spam (any) ──► spam
    not_spam: spam ──► the state it had (pending, due now, if it was on its way)
    confirm_on_behalf (an admin, with a reason): unconfirmed ──► pending, as confirm

* :mod:`.states` — the state groups (``FINAL_STATES``, ``UNCOUNTED_STATES``, ``RETRIABLE_STATES``,
  ``CANCELLABLE_STATES``, ``UNSENT_STATES``, ``WAITING_STATES``, ``BACKLOG_STATES``), the personal-data
  field groups, and the conditions built on them (``pending_due``, ``due_filter``, ``in_flight``, ``due``,
  ``backlog_counts``), which the worker, the admin and its dashboard share;
* :mod:`.leases` — the forwarding worker's transitions: ``claim``, ``claim_one``, ``renew_lease``,
  ``release``, ``record``/``record_many``; and ``pause_petition``/``resume_petitions``;
* :mod:`.review` — the transitions people cause: ``confirm``, ``retry_now``, ``cancel``, ``mark_spam``,
  ``not_spam``, ``confirm_on_behalf``, ``erase``.

Every transition returns what it did (a count, the rows moved, or a small result such as :class:`Erasure`).
Everything here is importable from ``petition_widget.lifecycle``.
"""

from .leases import (
    Try,
    claim,
    claim_one,
    pause_petition,
    record,
    record_many,
    release,
    renew_lease,
    resume_petitions,
)
from .review import (
    RESTORED_AS_IS,
    Confirmed,
    Erasure,
    Restored,
    Retried,
    Stopped,
    cancel,
    confirm,
    confirm_on_behalf,
    erase,
    mark_spam,
    not_spam,
    recounting,
    retry_now,
)
from .states import (
    BACKLOG_STATES,
    CANCELLABLE_STATES,
    CONTACT_FIELDS,
    COUNTED,
    ERASED_EMAIL,
    FINAL_STATES,
    PUBLIC,
    RETRIABLE_STATES,
    SIGNER_FIELDS,
    UNCOUNTED_STATES,
    UNSENT_STATES,
    WAITING_STATES,
    ForwardingState,
    backlog_counts,
    due,
    due_filter,
    in_flight,
    leased_to,
    pending_due,
)

__all__ = [
    "BACKLOG_STATES",
    "CANCELLABLE_STATES",
    "CONTACT_FIELDS",
    "COUNTED",
    "ERASED_EMAIL",
    "FINAL_STATES",
    "PUBLIC",
    "RESTORED_AS_IS",
    "RETRIABLE_STATES",
    "SIGNER_FIELDS",
    "UNCOUNTED_STATES",
    "UNSENT_STATES",
    "WAITING_STATES",
    "Confirmed",
    "Erasure",
    "ForwardingState",
    "Restored",
    "Retried",
    "Stopped",
    "Try",
    "backlog_counts",
    "cancel",
    "claim",
    "claim_one",
    "confirm",
    "confirm_on_behalf",
    "due",
    "due_filter",
    "erase",
    "in_flight",
    "leased_to",
    "mark_spam",
    "not_spam",
    "pause_petition",
    "pending_due",
    "recounting",
    "record",
    "record_many",
    "release",
    "renew_lease",
    "resume_petitions",
    "retry_now",
]
