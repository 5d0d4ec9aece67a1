"""The public API's views: Change.org-shaped reads of the local signatures, and a signing POST.

Each view is a DRF ``APIView`` whose class attributes a host can override through ``as_view()``.
Every refusal is in the failure shape (see :mod:`.errors`); answers are JSON whatever the client accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from math import ceil
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Subquery
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import __version__, signing
from ..forms import SignatureForm, form_class_for
from ..guards import request_refusal
from ..models import Petition, Signature
from ..views import CLOSED_MESSAGE
from .auth import (
    ApiKeyAuthentication,
    HasApiKeyOrReadOnly,
    origin_allowed_by_any_key,
    origin_refusal,
    request_origin,
)
from .errors import NOT_FOUND_MESSAGE, Refused, failure_exception_handler, flatten_messages
from .parsers import BoundedJSONParser
from .serializers import (
    PETITION_FIELDS,
    RECENT_COUNT,
    SIGNATURE_COLUMNS,
    FailureOut,
    PetitionOut,
    PetitionQuery,
    ProviderQuery,
    SignatureListQuery,
    SignatureOut,
    SignaturePageOut,
    SignIn,
    SuccessOut,
    petition_item,
    signature_items,
)

logger = logging.getLogger(__name__)

NO_DATA_MESSAGE = "No signature data received."
DUPLICATE_MESSAGE = "user has already signed the petition"
AMBIGUOUS_MESSAGE = "petition id {id} exists on more than one platform; add provider={choices} to the query"
MAX_UPSTREAM_ID_LENGTH = Petition._meta.get_field("upstream_id").max_length

UPSTREAM_ID_PARAMETER = OpenApiParameter(
    "upstream_id",
    str,
    OpenApiParameter.PATH,
    description="The petition's id on its platform (Change.org's petition_id).",
)


def document(**kwargs: Any):
    """``extend_schema`` built on drf-spectacular's AutoSchema whatever the host's DEFAULT_SCHEMA_CLASS.

    The decorator takes its base class from the method's ``schema`` attribute when there is one, so the
    host need not point REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS at drf-spectacular for our schema.
    """

    def decorate(method):
        method.schema = AutoSchema
        # The key travels in the body (documented as a parameter there); OpenAPI security schemes
        # cannot describe a body field.
        kwargs.setdefault("auth", [])
        return extend_schema(**kwargs)(method)

    return decorate


def failures(*codes: int) -> dict[int, type[serializers.Serializer]]:
    return dict.fromkeys(codes, FailureOut)


class JsonOnly(DefaultContentNegotiation):
    """JSON for every client, as Change.org answered; no format suffixes, no 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PublicApiView(APIView):
    """Shared behaviour: JSON only, the failure shape, CORS and the petition lookup."""

    renderer_classes = [JSONRenderer]
    parser_classes = [FormParser, MultiPartParser, BoundedJSONParser]
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    content_negotiation_class = JsonOnly
    versioning_class = None
    schema = AutoSchema()
    http_method_names = ["get", "head", "options"]
    cors_max_age = 600

    def get_exception_handler(self):
        return failure_exception_handler

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated("api_key is required.")
        super().permission_denied(request, message, code)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF would authenticate an unsupported method first and answer 401 rather than 405.
        if request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        # Before DRF's authentication, which reads the body for the api_key (APIView is CSRF-exempt).
        refusal = request_refusal(request)
        if refusal is not None:
            raise Refused(refusal.message, refusal.status)
        super().initial(request, *args, **kwargs)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Answers CORS preflights for origins that some active API key allows."""
        response = Response(status=status.HTTP_204_NO_CONTENT)
        origin = request_origin(request)
        if origin and request.headers.get("Access-Control-Request-Method"):
            if not origin_allowed_by_any_key(origin):
                raise Refused("This origin may not use the API.", status.HTTP_403_FORBIDDEN)
            response["Access-Control-Allow-Methods"] = ", ".join(self.allowed_methods)
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = str(self.cors_max_age)
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Origin",))
        origin = request_origin(request)
        if origin and origin_allowed_by_any_key(origin):
            response["Access-Control-Allow-Origin"] = origin
        return response

    @staticmethod
    def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        # A plain dict: DRF reads an empty value in a QueryDict as "absent" and would use the default.
        serializer = serializer_class(data=data.dict() if hasattr(data, "dict") else data)
        if not serializer.is_valid():
            raise Refused(flatten_messages(serializer.errors))
        return serializer.validated_data

    def find_petition(self, upstream_id: str, provider: str | None, only: tuple[str, ...] = ()) -> Petition:
        """The petition with this upstream id (and platform); 404, or 400 when the id is ambiguous."""
        if len(upstream_id) > MAX_UPSTREAM_ID_LENGTH or "\x00" in upstream_id:
            raise Refused(NOT_FOUND_MESSAGE, status.HTTP_404_NOT_FOUND)
        petitions = Petition.objects.filter(upstream_id=upstream_id).order_by("provider")
        if provider:
            petitions = petitions.filter(provider=provider)
        if only:
            petitions = petitions.only(*only)
        found = list(petitions[:2])
        if not found:
            raise Refused(NOT_FOUND_MESSAGE, status.HTTP_404_NOT_FOUND)
        if len(found) > 1:
            choices = " or provider=".join(petition.provider for petition in found)
            raise Refused(AMBIGUOUS_MESSAGE.format(id=upstream_id, choices=choices))
        return found[0]


LIST_PETITION_FIELDS = ("id", "provider", "upstream_id", "local_signature_count", "public_signature_count")


class SignatureListView(PublicApiView):
    """``GET``: a page of a petition's public signatures. ``POST``: sign it (needs an API key)."""

    http_method_names = ["get", "post", "head", "options"]
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKeyOrReadOnly]

    @document(
        operation_id="signatures_list",
        summary="A page of the petition's public signatures",
        parameters=[UPSTREAM_ID_PARAMETER, SignatureListQuery],
        responses={200: SignaturePageOut, **failures(400, 404)},
    )
    def get(self, request: Request, upstream_id: str) -> Response:
        query = self.validated(SignatureListQuery, request.query_params)
        petition = self.find_petition(upstream_id, query.get("provider"), only=LIST_PETITION_FIELDS)
        page, page_size, sort = query["page"], query["page_size"], query["sort"]
        total_pages = ceil(petition.public_signature_count / page_size)
        # Past the last page the list is empty; the database is not asked (nor given a vast OFFSET).
        rows = page_rows(petition, sort, (page - 1) * page_size, page_size) if page <= total_pages else []

        def link(number: int) -> str:
            params: dict[str, Any] = {"page": number, "page_size": page_size, "sort": sort}
            if query.get("provider"):
                params["provider"] = query["provider"]
            return f"{request.build_absolute_uri(request.path)}?{urlencode(params)}"

        prev_page = min(page - 1, total_pages)
        return Response(
            {
                "signature_count": petition.local_signature_count,
                "prev_page_endpoint": link(prev_page) if prev_page >= 1 else None,
                "next_page_endpoint": link(page + 1) if page < total_pages else None,
                "page": page,
                "total_pages": total_pages,
                "signatures": signature_items(rows),
            }
        )

    @document(
        operation_id="signatures_create",
        summary="Sign the petition",
        description=(
            "The parameters of the upstream's signatures POST, as form fields or a JSON object, validated "
            "like the petition's HTML form. Needs `api_key` in the body. A browser key works only from a "
            "web page on an origin it allows, under the HTML form's limits per client address and per "
            "petition; a server key is refused from browsers (any `Origin` header). Each key has its own "
            "hourly limit. Over a limit the answer is 429 with `Retry-After`."
        ),
        parameters=[UPSTREAM_ID_PARAMETER, ProviderQuery],
        request=SignIn,
        responses={202: SuccessOut, **failures(400, 401, 403, 404, 409, 411, 413, 415, 429)},
    )
    def post(self, request: Request, upstream_id: str) -> Response:
        api_key = request.auth
        refusal = origin_refusal(request, api_key)
        if refusal:
            raise Refused(refusal, status.HTTP_403_FORBIDDEN)
        query = self.validated(ProviderQuery, request.query_params)
        petition = self.find_petition(upstream_id, query.get("provider"))
        if not petition.accepts_signatures:
            raise Refused(str(CLOSED_MESSAGE), status.HTTP_409_CONFLICT)
        form_class = form_class_for(petition)
        form = form_class(form_data(request.data, form_class), petition=petition)
        if not form.is_valid():
            raise Refused(flatten_messages(form.errors))
        result = signing.sign(petition, form.signature_data(), client=signing.Client.of(request, api_key))
        if result.status == signing.Status.REFUSED:
            logger.info(
                "API sign POST refused for petition %s with key %s: %s", petition.pk, api_key.pk, result.refusal.code
            )
            raise Refused(str(result.refusal.message), result.refusal.status, retry_after=result.refusal.retry_after)
        if result.status == signing.Status.DUPLICATE:
            raise Refused(DUPLICATE_MESSAGE)
        if result.status == signing.Status.CONCEALED_DUPLICATE:
            logger.info("duplicate signature through the API for petition %s answered as a new one", petition.pk)
        else:
            logger.info(
                "signature %s stored through the API for petition %s with key %s",
                result.signature.pk,
                petition.pk,
                api_key.pk,
            )
        return Response({"result": "success"}, status=status.HTTP_202_ACCEPTED)


class RecentSignaturesView(PublicApiView):
    """``GET``: the petition's ten newest public signatures, as a bare array."""

    @document(
        operation_id="signatures_recent",
        summary="The ten newest public signatures",
        parameters=[UPSTREAM_ID_PARAMETER, ProviderQuery],
        responses={200: SignatureOut(many=True), **failures(400, 404)},
    )
    def get(self, request: Request, upstream_id: str) -> Response:
        query = self.validated(ProviderQuery, request.query_params)
        petition = self.find_petition(upstream_id, query.get("provider"), only=("id", "provider", "upstream_id"))
        rows = (
            Signature.objects.public()
            .filter(petition=petition)
            .order_by("-created_at", "-id")
            .values_list(*SIGNATURE_COLUMNS)[:RECENT_COUNT]
        )
        return Response(signature_items(rows))


class PetitionView(PublicApiView):
    """``GET``: the cached petition in Change.org's shape, with the local count beside the upstream's."""

    @document(
        operation_id="petition_retrieve",
        summary="The petition, as cached from its platform",
        parameters=[UPSTREAM_ID_PARAMETER, PetitionQuery],
        responses={200: PetitionOut, **failures(400, 404)},
    )
    def get(self, request: Request, upstream_id: str) -> Response:
        query = self.validated(PetitionQuery, request.query_params)
        petition = self.find_petition(upstream_id, query.get("provider"))
        item = petition_item(petition)
        if query.get("fields"):
            item = {name: item[name] for name in PETITION_FIELDS if name in query["fields"]}
        return Response(item)


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of the endpoints above (YAML; ``?format=json`` for JSON)."""

    urlconf = "petition_widget.api.urls"
    schema = AutoSchema()
    authentication_classes: list = []
    permission_classes = [AllowAny]
    custom_settings = {
        "TITLE": "django-petition-widget public API",
        "DESCRIPTION": (
            "Change.org v1-shaped signatures and petitions of the petitions this site collects signatures "
            'for. Every refusal is `{"result": "failure", "messages": [...]}`.'
        ),
        "VERSION": __version__,
    }

    @document(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        # The endpoints were read from this app's URLconf alone; where the host mounted it is the server.
        schema_path = reverse(f"{request.resolver_match.namespace}:schema")
        base = request.build_absolute_uri(schema_path[: -len("schema")]).rstrip("/")
        response.data["servers"] = [{"url": base}]
        return response


# Helpers -------------------------------------------------------------------------------------------


def page_rows(petition: Petition, sort: str, offset: int, limit: int) -> Any:
    """One page of public signatures as rows of :data:`SIGNATURE_COLUMNS`.

    Page numbers rule out keyset paging, so the OFFSET is taken by an id-only query that walks the
    partial index ``pw_signature_public_page`` alone (an index-only scan); only the page's own rows are
    then read. The walk starts from whichever end of the index is nearer: the last page costs what the
    first does, and the middle page is the deepest.
    """
    order = ("created_at", "id") if sort == "time_asc" else ("-created_at", "-id")
    public = Signature.objects.public().filter(petition=petition)
    total = petition.public_signature_count
    ids = None
    if offset > total - offset - limit:
        ids = ids_from_the_end(public, order, total, offset, limit, petition.pk)
    if ids is None:
        ids = public.order_by(*order).values("id")[offset : offset + limit]
    return Signature.objects.filter(id__in=ids).order_by(*order).values_list(*SIGNATURE_COLUMNS)


def ids_from_the_end(
    public: Any, order: tuple[str, str], total: int, offset: int, limit: int, petition_pk: int
) -> list[int] | None:
    """The ids at `offset` counted from the start, found by walking from the end of the list.

    That needs the exact number of public signatures. The counter read with the petition may be a
    moment older than the rows, so the same statement reads it again: in one statement both come from
    one snapshot, and the counter moves in the same transaction as every insert. If the two counts
    differ (a signature came in meanwhile), ``None`` sends the caller the slow way, from the start.
    """
    reverse = tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)
    skip = max(total - offset - limit, 0)
    take = min(limit, total - offset)
    if take <= 0:
        return []
    counter = Petition.objects.filter(pk=petition_pk).order_by().values("public_signature_count")
    rows = list(
        public.order_by(*reverse).annotate(seen=Subquery(counter)).values_list("id", "seen")[skip : skip + take]
    )
    if len(rows) != take or any(seen != total for _, seen in rows):
        return None
    return [pk for pk, _ in rows]


def form_data(data: Any, form_class: type[SignatureForm]) -> dict[str, str]:
    """The form's fields from a form-encoded or JSON body, as the strings an HTML form would send."""
    if not isinstance(data, Mapping):
        raise Refused("The body must be form fields or a JSON object.")
    fields = form_class.base_fields
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, field in fields.items():
        if name not in data:
            continue
        value = data.get(name)
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif value is None:
            continue
        elif not isinstance(value, str):
            problems.append(f"{name}: must be a single value.")
            continue
        if isinstance(field, forms.BooleanField) and value.lower() not in ("true", "false"):
            problems.append(f"{name}: must be true or false.")
            continue
        values[name] = value
    if problems:
        raise Refused(problems)
    if not values:
        raise Refused(NO_DATA_MESSAGE)
    return values
