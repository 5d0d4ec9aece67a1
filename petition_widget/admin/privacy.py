"""Who may see signers' contact details in the admin, and the mixin that keeps every admin URL to that.

Contact details (:data:`CONTACT_DETAIL_FIELDS`) are for users who may change or export signatures; the
hashes in :data:`UNREADABLE_FIELDS` are for no one. :class:`PrivateFieldsGuard` refuses query-string
filters and leaves out search fields that would reach them, across relations too.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP

from ..api_keys import ApiKey
from ..models import Signature

# Signers' contact details: shown on a signature's page, and usable in the admin's filters and search, only to
# users who may change or export signatures (see may_see_contact_details).
CONTACT_DETAIL_FIELDS = ("email", "email_normalized", "phone", "address", "postal_code")
# Shown to no one, so no one filters by them either: the client address hash is only for counting signatures
# per address, and an API key's hash only for recognising the key.
UNREADABLE_FIELDS = ((Signature, ("ip_hash",)), (ApiKey, ("key_hash",)))


def may_see_contact_details(request) -> bool:
    """Whether the user may read signers' contact details: who may change or export signatures."""
    opts = Signature._meta
    return request.user.has_perm(f"{opts.app_label}.change_signature") or request.user.has_perm(
        f"{opts.app_label}.export_signature"
    )


def private_fields(request) -> set[models.Field]:
    """The model fields this user may not look into, through any admin URL."""
    fields = {model._meta.get_field(name) for model, names in UNREADABLE_FIELDS for name in names}
    if request is None or not may_see_contact_details(request):
        fields.update(Signature._meta.get_field(name) for name in CONTACT_DETAIL_FIELDS)
    return fields


def lookup_touches(model: type[models.Model], lookup: str, fields: set[models.Field]) -> bool:
    """Whether the lookup path (``petition__signatures__email__startswith``, say) reaches one of ``fields``.

    The path is followed through every relation, forward or reverse; it ends at the first part that is not a
    field (a transform or a lookup such as ``startswith``).
    """
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if field in fields:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


class PrivateFieldsGuard:
    """Keeps the admin's URLs from answering questions about what a user may not see.

    Filters passed in the query string (``?email__startswith=g``, also across relations), search and the
    autocomplete built on it must not depend on a field in :func:`private_fields`: such a filter is refused
    (Django answers 400), and such a search field is left out for the user. Sorting (``?o=``) reaches only the
    list's columns, none of which shows a contact detail.
    """

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        if lookup_touches(self.model, lookup, private_fields(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        private = private_fields(request)
        return [
            name
            for name in super().get_search_fields(request)
            if not lookup_touches(self.model, name.lstrip("^=@"), private)
        ]
