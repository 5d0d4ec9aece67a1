"""What the public API reads and writes.

The serializer classes validate query parameters and describe every answer in the OpenAPI schema.
The answers themselves are built by the plain functions below from ``values_list`` rows: a page of
500 signatures is rendered without instantiating a serializer per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Petition, Provider
from ..names import public_display_name
from ..providers import changeorg
from .country_names import country_name

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 500
RECENT_COUNT = 10
SORTS = ("time_asc", "time_desc")

# The columns a public signature is built from: nothing else (no e-mail, phone, address or postal
# code) is ever read from the database by the API's GET endpoints.
SIGNATURE_COLUMNS = ("first_name", "last_name", "city", "state_province", "country_code", "created_at")


def iso_utc(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, to the second, as Change.org wrote its times."""
    return None if value is None else changeorg.utc_timestamp(value)


def signature_items(rows: Any) -> list[dict[str, str]]:
    """Public signature objects from rows of :data:`SIGNATURE_COLUMNS`."""
    # Change.org gave the country's common English name (country_names), whatever the visitor's language.
    return [
        {
            "name": public_display_name(first_name, last_name),
            "city": city,
            "state_province": state_province,
            "country_name": country_name(country_code),
            "country_code": country_code,
            "signed_at": iso_utc(created_at),
        }
        for first_name, last_name, city, state_province, country_code, created_at in rows
    ]


def _or_none(value: Any) -> Any:
    return value if value not in ("", None) else None


def petition_id(upstream_id: str) -> int | str:
    """Change.org's ids are integers; another platform's may not be, and are then given as strings."""
    return int(upstream_id) if upstream_id.isascii() and upstream_id.isdigit() else upstream_id


def petition_item(petition: Petition) -> dict[str, Any]:
    """A cached petition in Change.org's ``GET petitions/:id`` shape, plus the local count and platform."""
    return {
        "petition_id": petition_id(petition.upstream_id),
        "title": petition.title,
        "status": _or_none(petition.status),
        "url": _or_none(petition.url),
        "overview": _or_none(petition.overview),
        "targets": petition.targets if isinstance(petition.targets, list) else [],
        "letter_body": _or_none(petition.letter_body),
        "signature_count": petition.signature_count,
        "image_url": _or_none(petition.image_url),
        "category": _or_none(petition.category),
        "goal": petition.goal,
        "created_at": iso_utc(petition.upstream_created_at),
        "end_at": iso_utc(petition.end_at),
        "creator_name": _or_none(petition.creator_name),
        "creator_url": _or_none(petition.creator_url),
        "organization_name": _or_none(petition.organization_name),
        "organization_url": _or_none(petition.organization_url),
        "local_signature_count": petition.local_signature_count,
        "provider": petition.provider,
    }


# The upstream's petition shape, and our local count and provider beside it.
PETITION_FIELDS = (*changeorg.PETITION_FIELDS, "local_signature_count", "provider")


# Query parameters ----------------------------------------------------------------------------------


class ProviderQuery(serializers.Serializer):
    provider = serializers.ChoiceField(
        choices=Provider.values,
        required=False,
        help_text="The petition's platform; needed only when two platforms' petitions share this id.",
    )


class SignatureListQuery(ProviderQuery):
    page_size = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Signatures per page, at most {MAX_PAGE_SIZE}.",
    )
    page = serializers.IntegerField(min_value=1, default=1, help_text="The page, counted from 1.")
    sort = serializers.ChoiceField(choices=SORTS, default="time_asc", help_text="Oldest first, or newest first.")


class PetitionQuery(ProviderQuery):
    fields = serializers.CharField(
        required=False,
        max_length=1000,
        help_text="Only these keys, comma-separated: " + ", ".join(PETITION_FIELDS) + ".",
    )

    def validate_fields(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in PETITION_FIELDS]
        if unknown:
            raise serializers.ValidationError(f"unknown field(s) {', '.join(unknown)}")
        return names


# Answers (for the schema) --------------------------------------------------------------------------


class SignatureOut(serializers.Serializer):
    name = serializers.CharField(help_text="The signer's name, shown as the site's API_NAME_DISPLAY setting says.")
    city = serializers.CharField(allow_blank=True)
    state_province = serializers.CharField(allow_blank=True)
    country_name = serializers.CharField(allow_blank=True)
    country_code = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField(help_text="ISO-8601, UTC.")


class SignaturePageOut(serializers.Serializer):
    signature_count = serializers.IntegerField(help_text="Signatures collected on this site, hidden ones included.")
    prev_page_endpoint = serializers.URLField(allow_null=True)
    next_page_endpoint = serializers.URLField(allow_null=True)
    page = serializers.IntegerField()
    total_pages = serializers.IntegerField(help_text="Pages of the publicly listed signatures.")
    signatures = SignatureOut(many=True)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class PetitionIdField(serializers.Field):
    pass


class PetitionOut(serializers.Serializer):
    petition_id = PetitionIdField()
    title = serializers.CharField()
    status = serializers.CharField(allow_null=True)
    url = serializers.URLField(allow_null=True)
    overview = serializers.CharField(allow_null=True, help_text="HTML.")
    targets = serializers.ListField(child=serializers.DictField())
    letter_body = serializers.CharField(allow_null=True)
    signature_count = serializers.IntegerField(help_text="The upstream's count, as last synced.")
    image_url = serializers.URLField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    goal = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    end_at = serializers.DateTimeField(allow_null=True)
    creator_name = serializers.CharField(allow_null=True)
    creator_url = serializers.URLField(allow_null=True)
    organization_name = serializers.CharField(allow_null=True)
    organization_url = serializers.URLField(allow_null=True)
    local_signature_count = serializers.IntegerField(help_text="Signatures collected on this site, hidden included.")
    provider = serializers.ChoiceField(choices=Provider.values)


class SuccessOut(serializers.Serializer):
    result = serializers.ChoiceField(choices=["success"])


class FailureOut(serializers.Serializer):
    result = serializers.ChoiceField(choices=["failure"])
    messages = serializers.ListField(child=serializers.CharField())


class SignIn(serializers.Serializer):
    """The upstream POST's parameters (Change.org's; a We the People petition takes ``zip`` and ``signup``)."""

    api_key = serializers.CharField(help_text="This site's API key. Send it in the body, never in the URL.")
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=254)
    address = serializers.CharField(max_length=200, required=False)
    city = serializers.CharField(max_length=100)
    state_province = serializers.CharField(max_length=64, required=False)
    postal_code = serializers.CharField(max_length=16)
    country_code = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    phone = serializers.CharField(max_length=32, required=False)
    reason = serializers.CharField(max_length=1000, required=False)
    hidden = serializers.BooleanField(required=False, help_text="true keeps the name out of the public list.")
