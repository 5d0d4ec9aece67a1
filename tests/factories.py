"""Test factories: petitions and signatures written straight to the database, and signatures posted as a
signer posts them (the sign form, the public API).

Plain functions; every keyword argument overrides one model field or form value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from petition_widget.api_keys import ApiKey
from petition_widget.models import Petition, Provider, Signature

# The petition of the `petition` fixture: Change.org's "Save the bees", open.
PETITION = {
    "provider": Provider.CHANGEORG,
    "upstream_id": "48503",
    "slug": "save-the-bees",
    "title": "Save the bees",
    "status": "open",
    "goal": 1000,
    "signature_count": 250,
}
# A Change.org signer, every required field filled.
SIGNER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "city": "London",
    "postal_code": "SW1A 1AA",
    "country_code": "GB",
}


def make_petition(**overrides: Any) -> Petition:
    """A stored petition: PETITION with ``overrides``."""
    return Petition.objects.create(**{**PETITION, **overrides})


def make_signature(petition: Petition, *, signed_at: datetime | None = None, **overrides: Any) -> Signature:
    """One stored signature (pending, saved as the model saves it): SIGNER with ``overrides``, signed now or at
    ``signed_at``. Counters are not touched (``recount_signatures`` does that)."""
    signature = Signature.objects.create(petition=petition, **{**SIGNER, **overrides})
    if signed_at is not None:
        Signature.objects.filter(pk=signature.pk).update(created_at=signed_at)
        signature.refresh_from_db()
    return signature


def make_signatures(
    petition: Petition,
    count: int,
    *,
    prefix: str = "signer",
    signed_from: datetime | None = None,
    every: timedelta = timedelta(minutes=1),
    **fields: Any,
) -> list[Signature]:
    """``count`` signatures stored in one statement, the n-th from ``{prefix}-{n}@example.org`` (pending,
    SIGNER's other fields, a We the People postal code on a We the People petition).

    A field given as a function is called with the row's number n. With ``signed_from``, the n-th row's
    signing time is ``signed_from + n * every`` (otherwise now, for all of them).
    """
    defaults = {**SIGNER, "postal_code": "SW1A 1AA" if petition.provider == Provider.CHANGEORG else "20500"}
    rows = []
    for n in range(count):
        values = {**defaults, "email": f"{prefix}-{n}@example.org", **fields}
        values = {name: value(n) if callable(value) else value for name, value in values.items()}
        values["email_normalized"] = Signature.normalize_email(values["email"])
        rows.append(Signature(petition=petition, **values))
    created = Signature.objects.bulk_create(rows)
    if signed_from is not None:
        for n, signature in enumerate(created):
            Signature.objects.filter(pk=signature.pk).update(created_at=signed_from + n * every)
    return created


def make_api_key(*, validate: bool = False, **fields: Any) -> ApiKey:
    """A stored API key (``fields``: name, kind, allowed_origins, …; validated first with ``validate``), its
    raw key in the attribute ``key``."""
    key = ApiKey.generate()
    record = ApiKey(**{"name": "test site", **fields})
    record.set_key(key)
    if validate:
        record.full_clean()
    record.save()
    record.key = key
    return record


def new_api_key(**fields: Any) -> str:
    """The raw key of a new stored API key (``fields`` as for :func:`make_api_key`)."""
    return make_api_key(**fields).key


def sign_url(petition: Petition) -> str:
    """The petition's sign form."""
    return reverse("petition_widget:sign", kwargs={"slug": petition.slug})


def post_signature(client: Client, petition: Petition, data: dict[str, Any], **extra: Any) -> HttpResponse:
    """The answer to ``data`` posted to the petition's sign form (``extra``: request headers and options)."""
    return client.post(sign_url(petition), data, **extra)


def signed_through_form(client: Client, petition: Petition, data: dict[str, Any], **extra: Any) -> Signature:
    """The signature stored by posting ``data`` to the sign form, which must answer with its redirect."""
    response = post_signature(client, petition, data, **extra)
    assert response.status_code == 303, response
    return Signature.objects.get(email=data["email"])


def post_api_signature(
    client: Client, key: str, data: dict[str, Any], upstream_id: str = PETITION["upstream_id"], **extra: Any
) -> HttpResponse:
    """The answer to ``data`` posted with API key ``key`` to the public API's signatures of ``upstream_id``."""
    return client.post(f"/api/v1/petitions/{upstream_id}/signatures", {"api_key": key, **data}, **extra)
