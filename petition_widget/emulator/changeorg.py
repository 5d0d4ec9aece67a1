"""Change.org API v1, as the emulator serves it (see the project's ``specs/changeorg-v1.md``).

Both POSTs are verified the way the real service did: API key, ``rsig`` over the raw body, ``endpoint``,
timestamp window and, for signatures, the petition authorization key granted for the posted ``source``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries import countries

from .. import rsig
from .faults import ApiFaults, api_view, cdn_page, state_of
from .seed import CHANGEORG, EmulatedPetition, ReceivedSignature
from .state import EmulatorState

logger = logging.getLogger(__name__)

SERVER_ERROR = "There was a server error. Please try again later."
PETITION_NOT_FOUND = "petition not found"
ALREADY_SIGNED = "user has already signed the petition"
AUTH_KEY_NOT_GRANTED = "authorization key cannot be found or is not granted"
AUTH_KEY_REVOKED = "authorization key has been revoked"
NO_SIGNATURE_DATA = "No signature data received."
PETITION_CLOSED = "petition is closed to new signatures"

TIMESTAMP_WINDOW = timedelta(minutes=5)
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 500
RECENT_COUNT = 10
FORM_CONTENT_TYPES = ("", "application/x-www-form-urlencoded")

SIGNATURE_REQUIRED = ("email", "first_name", "last_name", "city", "postal_code", "country_code")
AUTH_KEY_REQUIRED = ("source_description", "source", "requester_email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def failure(status: int, *messages: str) -> JsonResponse:
    return JsonResponse({"result": "failure", "messages": list(messages)}, status=status)


def _server_error(number: int) -> HttpResponse:
    # JSON 500, CDN HTML 502, JSON 503, CDN HTML 503, then again.
    kind = number % 4
    if kind == 1:
        return cdn_page(502)
    if kind == 3:
        return cdn_page(503)
    return failure(500 if kind == 0 else 503, SERVER_ERROR)


def _api_key_of(request: HttpRequest) -> str:
    if request.method == "POST":
        try:
            return dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)).get("api_key", "")
        except (UnicodeDecodeError, ValueError):
            return ""
    return request.GET.get("api_key", "")


FAULTS = ApiFaults(
    name=CHANGEORG,
    api_key_of=_api_key_of,
    server_error=_server_error,
    too_many_requests=lambda retry_after: failure(429, "rate limit exceeded for this API key"),
)


def isoformat(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_timestamp(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _petition_json(state: EmulatorState, petition: EmulatedPetition) -> dict[str, Any]:
    return {
        "petition_id": int(petition.id),
        "title": petition.title,
        "status": petition.status,
        "url": petition.url,
        "overview": petition.overview or None,
        "targets": petition.targets,
        "letter_body": petition.letter_body or None,
        "signature_count": state.signature_count(petition),
        "image_url": petition.image_url,
        "category": petition.category,
        "goal": petition.goal,
        "created_at": isoformat(petition.created_at),
        "end_at": isoformat(petition.end_at),
        "creator_name": petition.creator_name,
        "creator_url": petition.creator_url,
        "organization_name": petition.organization_name,
        "organization_url": petition.organization_url,
    }


def _signature_json(signature: ReceivedSignature) -> dict[str, Any]:
    code = signature.fields.get("country_code", "").upper()
    with translation.override("en"):
        country_name = str(countries.name(code)) if code else ""
    return {
        "name": signature.display_name,
        "city": signature.fields.get("city", ""),
        "state_province": signature.fields.get("state_province", ""),
        "country_name": country_name,
        "country_code": code,
        "signed_at": isoformat(signature.signed_at),
    }


def _page_url(request: HttpRequest, **query: Any) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:
        # Standalone, the emulator answers on whatever name it is reached by, listed in ALLOWED_HOSTS or not.
        host = request.META.get("HTTP_HOST", "")
    return f"{request.scheme}://{host}{request.path}?{urlencode(query)}"


def _paging(request: HttpRequest) -> tuple[int, int, str] | JsonResponse:
    """``(page, page_size, sort)`` from the query, or a 400 answer."""
    messages = []
    try:
        page = int(request.GET.get("page") or 1)
        if page < 1:
            raise ValueError
    except ValueError:
        page = 1
        messages.append("page must be a positive integer")
    try:
        page_size = min(int(request.GET.get("page_size") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        if page_size < 1:
            raise ValueError
    except ValueError:
        page_size = DEFAULT_PAGE_SIZE
        messages.append("page_size must be a positive integer")
    sort = request.GET.get("sort") or "time_asc"
    if sort not in ("time_asc", "time_desc"):
        messages.append("sort must be time_asc or time_desc")
    if messages:
        return failure(400, *messages)
    return page, page_size, sort


def _paged(request: HttpRequest, items: list, key: str, paging: tuple[int, int, str]) -> dict[str, Any]:
    page, page_size, sort = paging
    total_pages = math.ceil(len(items) / page_size)
    start = (page - 1) * page_size
    prev_page = page - 1 if page > 1 else None
    next_page = page + 1 if page < total_pages else None
    extra = {k: v for k, v in request.GET.items() if k not in ("page", "page_size", "sort")}

    def endpoint(number: int | None) -> str | None:
        if number is None:
            return None
        return _page_url(request, **extra, page=number, page_size=page_size, sort=sort)

    return {
        "prev_page_endpoint": endpoint(prev_page),
        "next_page_endpoint": endpoint(next_page),
        "page": page,
        "total_pages": total_pages,
        key: items[start : start + page_size],
    }


def _check_api_key(state: EmulatorState, api_key: str) -> JsonResponse | None:
    if not api_key:
        state.count("auth_failures")
        return failure(401, "api_key is required")
    if api_key != state.api_key:
        state.count("auth_failures")
        return failure(401, "api_key is invalid")
    return None


def _find_petition(state: EmulatorState, petition_id: str) -> EmulatedPetition | JsonResponse:
    petition = state.petition(CHANGEORG, petition_id)
    return petition if petition is not None else failure(404, PETITION_NOT_FOUND)


def _keyed_read(view: Callable[[HttpRequest, EmulatorState], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A GET that runs once its ``api_key`` has been checked; the view is given the state."""

    @functools.wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        state = state_of(request)
        return _check_api_key(state, request.GET.get("api_key", "")) or view(request, state)

    return checked


def _petition_read(
    view: Callable[[HttpRequest, EmulatorState, EmulatedPetition], HttpResponse],
) -> Callable[[HttpRequest, str], HttpResponse]:
    """A GET of one petition that runs once its ``api_key`` has been checked and the petition found."""

    @functools.wraps(view)
    def checked(request: HttpRequest, petition_id: str) -> HttpResponse:
        state = state_of(request)
        petition = _check_api_key(state, request.GET.get("api_key", "")) or _find_petition(state, petition_id)
        if isinstance(petition, JsonResponse):
            return petition
        return view(request, state, petition)

    return checked


class SignedPost:
    """A signed POST body, read and checked up to (not including) its ``rsig``.

    The ``rsig`` itself is checked last, in :meth:`verify_rsig`, once the auth key it needs is known.
    """

    def __init__(self, request: HttpRequest, resource: str) -> None:
        self.request = request
        self.resource = resource
        self.raw = ""
        self.params: dict[str, str] = {}

    def read(self, state: EmulatorState, *, empty_message: str) -> JsonResponse | None:
        """Parse and check the request; an answer to send back on the first failed check, else None."""
        content_type = self.request.content_type or ""
        if content_type not in FORM_CONTENT_TYPES:
            return failure(415, f"unsupported content type {content_type}; send application/x-www-form-urlencoded")
        try:
            self.raw = self.request.body.decode("utf-8")
        except UnicodeDecodeError:
            return failure(400, "request body is not valid UTF-8")
        if not self.raw.strip():
            return failure(400, empty_message)
        self.params = dict(parse_qsl(self.raw, keep_blank_values=True))
        refused = _check_api_key(state, self.params.get("api_key", ""))
        if refused:
            return refused
        return self._check_timestamp_and_endpoint(state)

    def _check_timestamp_and_endpoint(self, state: EmulatorState) -> JsonResponse | None:
        messages = [f"{name} is required" for name in ("endpoint", "timestamp", "rsig") if not self.params.get(name)]
        if not messages:
            moment = _parse_timestamp(self.params["timestamp"])
            if moment is None:
                messages.append("timestamp is not an ISO-8601 date and time")
            elif abs(datetime.now(UTC) - moment) > TIMESTAMP_WINDOW:
                messages.append("timestamp is more than 5 minutes away from the server time")
            expected = f"/v1/{self.resource}"
            if self.params["endpoint"] != expected:
                messages.append(f"endpoint must be {expected}")
        if messages:
            state.count("auth_failures")
            return failure(401, *messages)
        return None

    def verify_rsig(self, state: EmulatorState, auth_key: str = "") -> JsonResponse | None:
        if rsig.verify(self.raw, state.secret, auth_key):
            return None
        state.count("auth_failures")
        return failure(401, "rsig is invalid")


def _refuse_signature(state: EmulatorState, petition_id: str, response: JsonResponse) -> JsonResponse:
    if response.status_code not in (401, 403):
        state.count("rejected")
    logger.info("Emulator refused a Change.org signature for petition %s: HTTP %s", petition_id, response.status_code)
    return response


def _signature_problems(params: dict[str, str]) -> list[str]:
    messages = [f"{name} is required" for name in SIGNATURE_REQUIRED if not params.get(name, "").strip()]
    email = params.get("email", "").strip()
    if email and not _EMAIL.match(email):
        messages.append("email is invalid")
    country = params.get("country_code", "").strip()
    if country and not re.fullmatch(r"[A-Za-z]{2}", country):
        messages.append("country_code must be a two-letter country code")
    if params.get("hidden", "false") not in ("true", "false"):
        messages.append("hidden must be true or false")
    return messages


@api_view(FAULTS)
@require_http_methods(["GET", "POST"])
def signatures(request: HttpRequest, petition_id: str) -> HttpResponse:
    """``GET`` lists public signatures, paged; ``POST`` adds one (signed with the auth key)."""
    if request.method == "POST":
        return _add_signature(request, petition_id)
    return _list_signatures(request, petition_id)


@_petition_read
def _list_signatures(request: HttpRequest, state: EmulatorState, petition: EmulatedPetition) -> HttpResponse:
    paging = _paging(request)
    if isinstance(paging, JsonResponse):
        return paging
    listed = state.signatures(petition.id, public_only=True)
    if paging[2] == "time_desc":
        listed.reverse()
    answer = {"signature_count": state.signature_count(petition)}
    answer.update(_paged(request, [_signature_json(s) for s in listed], "signatures", paging))
    return JsonResponse(answer)


def _add_signature(request: HttpRequest, petition_id: str) -> HttpResponse:
    state = state_of(request)
    post = SignedPost(request, f"petitions/{petition_id}/signatures")
    refused = post.read(state, empty_message=NO_SIGNATURE_DATA)
    if refused:
        return _refuse_signature(state, petition_id, refused)
    petition = _find_petition(state, petition_id)
    if isinstance(petition, JsonResponse):
        return _refuse_signature(state, petition_id, petition)
    key = state.auth_key(petition.id, post.params["api_key"], post.params.get("source", ""))
    if key is None:
        state.count("auth_failures")
        return _refuse_signature(state, petition_id, failure(401, AUTH_KEY_NOT_GRANTED))
    if key.status == "revoked":
        state.count("auth_failures")
        return _refuse_signature(state, petition_id, failure(403, AUTH_KEY_REVOKED))
    refused = post.verify_rsig(state, key.key)
    if refused:
        return _refuse_signature(state, petition_id, refused)
    if not petition.is_open:
        return _refuse_signature(state, petition_id, failure(400, PETITION_CLOSED))
    problems = _signature_problems(post.params)
    if problems:
        return _refuse_signature(state, petition_id, failure(400, *problems))
    received = {k: v for k, v in post.params.items() if k not in ("rsig", "auth_key")}
    stored = state.store_signature(
        CHANGEORG, petition.id, received, hidden=post.params.get("hidden") == "true", refuse_duplicate=True
    )
    if stored is None:
        state.count("duplicates")
        logger.info("Emulator refused a duplicate Change.org signature for petition %s", petition.id)
        return failure(400, ALREADY_SIGNED)
    state.count("accepted")
    logger.info("Emulator accepted Change.org signature %s for petition %s", stored.seq, petition.id)
    return JsonResponse({"result": "success"}, status=202)


@api_view(FAULTS)
@require_GET
@_petition_read
def recent_signatures(request: HttpRequest, state: EmulatorState, petition: EmulatedPetition) -> HttpResponse:
    """The 10 newest public signatures, as a bare array."""
    newest = state.signatures(petition.id, public_only=True)[-RECENT_COUNT:]
    return JsonResponse([_signature_json(s) for s in reversed(newest)], safe=False)


@api_view(FAULTS)
@require_POST
def auth_keys(request: HttpRequest, petition_id: str) -> HttpResponse:
    """Grant a petition authorization key at once, for (petition, API key, source)."""
    state = state_of(request)
    post = SignedPost(request, f"petitions/{petition_id}/auth_keys")
    refused = post.read(state, empty_message="No authorization key request data received.")
    if refused:
        return refused
    petition = _find_petition(state, petition_id)
    if isinstance(petition, JsonResponse):
        return petition
    refused = post.verify_rsig(state)
    if refused:
        return refused
    missing = [f"{name} is required" for name in AUTH_KEY_REQUIRED if not post.params.get(name, "").strip()]
    if missing:
        return failure(400, *missing)
    key = state.grant_auth_key(
        petition.id,
        post.params["api_key"],
        post.params["source"],
        source_description=post.params["source_description"],
        requester_email=post.params["requester_email"],
        callback_endpoint=post.params.get("callback_endpoint", ""),
    )
    return JsonResponse({"result": "success", **key.answer()})


@api_view(FAULTS)
@require_GET
@_petition_read
def petition_detail(request: HttpRequest, state: EmulatorState, petition: EmulatedPetition) -> HttpResponse:
    """One petition; ``fields=a,b`` limits the answer to those fields."""
    answer = _petition_json(state, petition)
    wanted = [name.strip() for name in request.GET.get("fields", "").split(",") if name.strip()]
    if wanted:
        answer = {name: answer[name] for name in wanted if name in answer}
    return JsonResponse(answer)


@api_view(FAULTS)
@require_GET
@_keyed_read
def resolve_petition_id(request: HttpRequest, state: EmulatorState) -> HttpResponse:
    """Resolve a petition's public URL to its id."""
    url = request.GET.get("petition_url", "").strip()
    if not url:
        return failure(400, "petition_url is required")
    petition = state.resolve_url(CHANGEORG, url)
    if petition is None:
        return failure(404, PETITION_NOT_FOUND)
    return JsonResponse({"result": "success", "petition_id": int(petition.id)})


@api_view(FAULTS)
@require_GET
@_keyed_read
def petition_list(request: HttpRequest, state: EmulatorState) -> HttpResponse:
    """Several petitions by id (``petition_ids=1,2``), paged like signatures under the key ``petitions``."""
    ids = [value.strip() for value in request.GET.get("petition_ids", "").split(",") if value.strip()]
    if not ids:
        return failure(400, "petition_ids is required")
    paging = _paging(request)
    if isinstance(paging, JsonResponse):
        return paging
    found = [p for p in (state.petition(CHANGEORG, i) for i in ids) if p is not None]
    return JsonResponse(_paged(request, [_petition_json(state, p) for p in found], "petitions", paging))
