"""The petition widget's Django admin, one module per concern.

Importing this package registers the ModelAdmins (``django.contrib.admin`` autodiscovers it):

* :mod:`.petitions` — :class:`PetitionAdmin`: the list with signatures per forwarding state, adding a
  petition from its platform, syncing, Change.org authorization keys, resuming paused forwarding;
* :mod:`.signatures` — :class:`SignatureAdmin`: filters, the forwarding attempts inline, the reviewers'
  actions (each calls a lifecycle transition and reports what it did), counters kept right;
* :mod:`.export` — the CSV export: columns, cells a spreadsheet never evaluates, the streamed response;
* :mod:`.dashboard` — the forwarding dashboard view;
* :mod:`.api_keys` — :class:`ApiKeyAdmin`: keys shown once, stored as hashes;
* :mod:`.privacy` — who may see signers' contact details, and :class:`PrivateFieldsGuard`, which keeps
  filters and search off them;
* :mod:`.display` — the forwarding states' badges and links to the signatures list.

Templates live in ``templates/admin/petition_widget/``.
"""

from .api_keys import ApiKeyAdmin, ApiKeyForm
from .export import EXPORT_COLUMNS, csv_cell
from .petitions import AddFromUpstreamForm, ForwardingPausedFilter, PetitionAdmin
from .privacy import (
    CONTACT_DETAIL_FIELDS,
    UNREADABLE_FIELDS,
    PrivateFieldsGuard,
    lookup_touches,
    may_see_contact_details,
    private_fields,
)
from .signatures import CountryFilter, ErasedFilter, ForwardAttemptInline, RecountSignaturesMixin, SignatureAdmin

__all__ = [
    "CONTACT_DETAIL_FIELDS",
    "EXPORT_COLUMNS",
    "UNREADABLE_FIELDS",
    "AddFromUpstreamForm",
    "ApiKeyAdmin",
    "ApiKeyForm",
    "CountryFilter",
    "ErasedFilter",
    "ForwardAttemptInline",
    "ForwardingPausedFilter",
    "PetitionAdmin",
    "PrivateFieldsGuard",
    "RecountSignaturesMixin",
    "SignatureAdmin",
    "csv_cell",
    "lookup_touches",
    "may_see_contact_details",
    "private_fields",
]
