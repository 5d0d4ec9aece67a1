"""We the People API v1, as the emulator serves it (see the project's ``specs/wethepeople-v1.md``).

Every answer is the API's envelope. Server errors travel with HTTP 200 and the real status only in the
body, as the real service sent them: a client must read the body.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from .faults import ApiFaults, api_view, state_of
from .seed import WETHEPEOPLE, EmulatedPetition, ReceivedSignature
from .state import EmulatorState, normalize_petition_url

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("petition_id", "email", "first_name", "last_name")
OPTIONAL_FIELDS = ("zip", "signup")
DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "sharklasers.com",
        "10minutemail.com",
        "yopmail.com",
        "trashmail.com",
        "tempmail.com",
        "throwawaymail.com",
        "dispostable.com",
        "maildrop.cc",
    }
)
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")
PUBLIC_THRESHOLD = 150
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# The public signatures list pages by 1,000 unless asked for fewer.
SIGNATURES_LIMIT = 1000
# The read API gave city and state, derived from the ZIP code; the emulator knows a few.
ZIP_PLACES = {
    "20500": ("Washington", "DC"),
    "10001": ("New York", "NY"),
    "94103": ("San Francisco", "CA"),
    "60601": ("Chicago", "IL"),
    "99686": ("Valdez", "AK"),
    "85749": ("Tucson", "AZ"),
}


@dataclass(frozen=True)
class ApiError:
    """One row of the error table: the code, the status in the body, and its messages."""

    code: int
    status: int
    developer_message: str
    user_message: str

    @property
    def http_status(self) -> int:
        # 5xx never reached the status line: the real service answered them with HTTP 200.
        return 200 if self.status >= 500 else self.status


SERVICE_NOT_AVAILABLE = ApiError(73, 500, "Service not available.", "The service is not available. Try again later.")
PETITION_CLOSED = ApiError(74, 403, "Petition is closed and cannot accept signatures.", "This petition is closed.")
MISSING_FIELDS = ApiError(75, 400, "Missing required fields.", "Some required information is missing.")
NO_SUCH_PETITION = ApiError(76, 404, "No petition with this id.", "This petition does not exist.")
EMAIL_NOT_ALLOWED = ApiError(77, 400, "E-mail domain not allowed.", "Please use another e-mail address.")
TEMPORARILY_UNAVAILABLE = ApiError(83, 599, "Temporarily unavailable.", "Please try again later.")
PETITION_NOT_FOUND = ApiError(84, 404, "Petition not found.", "This petition does not exist.")
INVALID_API_KEY = ApiError(85, 401, "Invalid API key.", "")
UNAVAILABLE = ApiError(99, 599, "Temporarily unavailable.", "Please try again later.")

# Injected server errors cycle through these, in this order.
_INJECTED = (UNAVAILABLE, SERVICE_NOT_AVAILABLE, TEMPORARILY_UNAVAILABLE)


def envelope(
    results: list[dict[str, Any]] | None = None,
    *,
    status: int = 200,
    developer_message: str = "OK",
    user_message: str = "",
    error_code: int | str = "",
    limit: int | None = None,
    offset: int = 0,
    total: int | None = None,
    http_status: int = 200,
) -> JsonResponse:
    """The API's envelope; ``results`` is left out entirely when None (a queued write answers without it)."""
    count = total if total is not None else len(results or [])
    body: dict[str, Any] = {
        "metadata": {
            "responseInfo": {
                "status": status,
                "developerMessage": developer_message,
                "userMessage": user_message,
                "errorCode": error_code,
                "moreInfo": "",
            },
            "resultset": {"count": count, "limit": limit if limit is not None else count, "offset": offset},
        }
    }
    if results is not None:
        body["results"] = results
    return JsonResponse(body, status=http_status)


def error(api_error: ApiError, detail: str = "") -> JsonResponse:
    message = f"{api_error.developer_message} {detail}".strip()
    return envelope(
        status=api_error.status,
        developer_message=message,
        user_message=api_error.user_message,
        error_code=api_error.code,
        http_status=api_error.http_status,
    )


FAULTS = ApiFaults(
    name=WETHEPEOPLE,
    api_key_of=lambda request: request.GET.get("api_key", ""),
    server_error=lambda number: error(_INJECTED[number % len(_INJECTED)]),
    too_many_requests=lambda retry_after: envelope(
        status=429,
        developer_message=f"Too many requests; retry after {retry_after} seconds.",
        user_message="Too many requests.",
        http_status=429,
    ),
)


def _too_many_reads(retry_after: float) -> JsonResponse:
    seconds = max(1, math.ceil(retry_after))
    response = envelope(
        status=429,
        developer_message=f"More than the allowed reads a second; retry after {seconds} seconds.",
        user_message="Too many requests.",
        http_status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def read_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Count a read against the client's reads a second (``read_limit``); over it, HTTP 429 in the envelope."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        state = state_of(request)
        retry_after = state.admit_read(request.META.get("REMOTE_ADDR", ""))
        if retry_after is not None:
            logger.info("Emulator We the People read limit reached")
            return _too_many_reads(retry_after)
        return view(request, *args, **kwargs)

    return wrapped


def _petition_json(state: EmulatorState, petition: EmulatedPetition) -> dict[str, Any]:
    count = state.signature_count(petition)
    threshold = petition.goal or 0
    created = int(petition.created_at.timestamp())
    return {
        "id": petition.id,
        "type": "petition",
        "title": petition.title,
        "body": petition.overview,
        "issues": petition.issues,
        "signatureThreshold": threshold,
        "signatureCount": count,
        "signaturesNeeded": max(0, threshold - count),
        "url": petition.url,
        "deadline": int(petition.end_at.timestamp()) if petition.end_at else 0,
        "status": petition.status,
        "response": None,
        "created": created,
        "isSignable": petition.is_open,
        "isPublic": True,
        "reachedPublic": created if count >= PUBLIC_THRESHOLD else 0,
    }


def _check_api_key(state: EmulatorState, request: HttpRequest) -> JsonResponse | None:
    if request.GET.get("api_key", "") == state.api_key:
        return None
    state.count("auth_failures")
    return error(INVALID_API_KEY)


@api_view(FAULTS)
@require_GET
@read_limited
def petition_detail(request: HttpRequest, petition_id: str) -> HttpResponse:
    """``GET petitions/{id}.json``: no key needed."""
    state = state_of(request)
    petition = state.petition(WETHEPEOPLE, petition_id)
    if petition is None:
        return error(PETITION_NOT_FOUND)
    return envelope([_petition_json(state, petition)], limit=1)


def _window(request: HttpRequest, default: int = DEFAULT_LIMIT) -> tuple[int, int] | JsonResponse:
    """``limit`` (at most MAX_LIMIT) and ``offset`` of a list request, or the upstream's error."""
    limit = _int_param(request, "limit", default)
    offset = _int_param(request, "offset", 0)
    if limit is None or offset is None:
        return error(MISSING_FIELDS, "limit and offset must be whole numbers.")
    return min(limit, MAX_LIMIT), offset


@api_view(FAULTS)
@require_GET
@read_limited
def petition_list(request: HttpRequest) -> HttpResponse:
    """``GET petitions.json``: petitions, filtered by ``url`` and ``status``, paged by ``limit`` and ``offset``."""
    state = state_of(request)
    window = _window(request)
    if isinstance(window, JsonResponse):
        return window
    limit, offset = window
    url = request.GET.get("url", "").strip()
    status = request.GET.get("status", "").strip()
    found = [
        p
        for p in state.petitions(WETHEPEOPLE)
        if (not url or normalize_petition_url(p.url) == normalize_petition_url(url))
        and (not status or p.status == status)
    ]
    results = [_petition_json(state, p) for p in found[offset : offset + limit]]
    return envelope(results, limit=limit, offset=offset, total=len(found))


def _read_signature(request: HttpRequest) -> dict[str, str] | JsonResponse:
    """The known fields of the JSON body as strings (anything else dropped), or the 75 answer."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return error(MISSING_FIELDS, "The body is not valid JSON.")
    if not isinstance(body, dict):
        return error(MISSING_FIELDS, "The body must be a JSON object.")
    received = {
        name: str(body[name]).strip()
        for name in REQUIRED_FIELDS + OPTIONAL_FIELDS
        if body.get(name) is not None and not isinstance(body[name], dict | list)
    }
    missing = [name for name in REQUIRED_FIELDS if not received.get(name)]
    if missing:
        return error(MISSING_FIELDS, f"Missing: {', '.join(missing)}.")
    return received


@api_view(FAULTS)
@require_POST
def sign(request: HttpRequest) -> HttpResponse:
    """``POST signatures.json?api_key=``: queue a signature. The same e-mail twice is accepted (counted once)."""
    state = state_of(request)
    refused = _check_api_key(state, request)
    if refused:
        return refused
    received = _read_signature(request)
    if isinstance(received, JsonResponse):
        return _refuse(state, "?", received)
    petition_id = received["petition_id"]
    petition = state.petition(WETHEPEOPLE, petition_id)
    if petition is None:
        return _refuse(state, petition_id, error(NO_SUCH_PETITION))
    if not petition.is_open:
        return _refuse(state, petition_id, error(PETITION_CLOSED))
    match = _EMAIL.match(received["email"])
    if not match:
        return _refuse(state, petition_id, error(MISSING_FIELDS, "email is not a valid e-mail address."))
    domain = match.group(1).lower()
    if any(domain == d or domain.endswith(f".{d}") for d in DISPOSABLE_DOMAINS):
        return _refuse(state, petition_id, error(EMAIL_NOT_ALLOWED))
    if received.get("signup", "0") not in ("0", "1", "True", "False"):
        return _refuse(state, petition_id, error(MISSING_FIELDS, "signup must be 0 or 1."))
    stored = state.store_signature(WETHEPEOPLE, petition.id, received, refuse_duplicate=False)
    state.count("duplicates" if stored.duplicate else "accepted")
    logger.info("Emulator queued We the People signature %s for petition %s", stored.seq, petition.id)
    return envelope()


def _refuse(state: EmulatorState, petition_id: str, response: JsonResponse) -> JsonResponse:
    state.count("rejected")
    logger.info(
        "Emulator refused a We the People signature for petition %s: HTTP %s", petition_id, response.status_code
    )
    return response


def _int_param(request: HttpRequest, name: str, default: int) -> int | None:
    try:
        value = int(request.GET.get(name) or default)
    except ValueError:
        return None
    return value if value >= 0 else None


@api_view(FAULTS)
@require_GET
@read_limited
def validations(request: HttpRequest) -> HttpResponse:
    """``GET validations.json?api_key=&petition_id=``: this key's signatures that were validated and counted.

    A signature is validated ``validation_delay`` seconds after it arrived, unless its signer is one of the
    ``never_validate`` share who never click; the repeats of an e-mail are never listed.
    """
    state = state_of(request)
    refused = _check_api_key(state, request)
    if refused:
        return refused
    petition_id = request.GET.get("petition_id", "").strip()
    if not petition_id:
        return error(MISSING_FIELDS, "Missing: petition_id.")
    if state.petition(WETHEPEOPLE, petition_id) is None:
        return error(NO_SUCH_PETITION)
    window = _window(request)
    if isinstance(window, JsonResponse):
        return window
    limit, offset = window
    counted = state.validated_signatures(petition_id)
    results = [
        {
            "vid": str(s.seq),
            "email": s.fields["email"],
            "signature_id": str(s.seq),
            "petition_id": s.petition_id,
        }
        for s in counted[offset : offset + limit]
    ]
    return envelope(results, limit=limit, offset=offset, total=len(counted))


def initials(first_name: str, last_name: str) -> str:
    """The read API's name: the signer's initials only, e.g. "JD"."""
    return "".join(name.strip()[:1].upper() for name in (first_name, last_name) if name.strip())


def _zip5(value: str) -> str:
    return value.strip()[:5]


def _public_signature(signature: ReceivedSignature) -> dict[str, Any]:
    zip_code = signature.fields.get("zip", "")
    city, region = ZIP_PLACES.get(_zip5(zip_code), ("", ""))
    return {
        "id": str(signature.seq),
        "type": "signature",
        "petitionId": signature.petition_id,
        "name": initials(signature.fields.get("first_name", ""), signature.fields.get("last_name", "")),
        "city": city,
        "state": region,
        "zip": zip_code,
        # The submission time, not the validation's.
        "created": str(int(signature.signed_at.timestamp())),
    }


@api_view(FAULTS)
@require_GET
@read_limited
def petition_signatures(request: HttpRequest, petition_id: str) -> HttpResponse:
    """``GET petitions/{id}/signatures.json``: the petition's counted signatures, no key needed.

    Paged by ``limit`` (default and maximum 1,000) and ``offset``; filtered by ``city``, ``state`` (either
    case) and ``zipcode`` (the first five digits). Only initials, city, state and ZIP code are shown.
    """
    state = state_of(request)
    if state.petition(WETHEPEOPLE, petition_id) is None:
        return error(PETITION_NOT_FOUND)
    window = _window(request, SIGNATURES_LIMIT)
    if isinstance(window, JsonResponse):
        return window
    limit, offset = window
    city = request.GET.get("city", "").strip().casefold()
    region = request.GET.get("state", "").strip().casefold()
    zipcode = _zip5(request.GET.get("zipcode", ""))
    found = [
        item
        for item in map(_public_signature, state.validated_signatures(petition_id))
        if (not city or item["city"].casefold() == city)
        and (not region or item["state"].casefold() == region)
        and (not zipcode or _zip5(item["zip"]) == zipcode)
    ]
    return envelope(found[offset : offset + limit], limit=limit, offset=offset, total=len(found))
