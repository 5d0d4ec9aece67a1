"""The emulator's own control endpoints (under ``_emulator/``): never subject to faults."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import requests
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .behaviour import validate_faults, validate_wethepeople
from .changeorg import AUTH_KEY_NOT_GRANTED, isoformat
from .faults import state_of
from .seed import PROVIDERS, AuthKey, EmulatedPetition, ReceivedSignature
from .state import EmulatorState

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 3.0
PETITION_STATUSES = ("open", "closed", "victory", "pending response", "responded")


def _bad_request(**errors: str) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


def _json_object(
    request: HttpRequest, validate: Callable[[dict[str, Any]], dict[str, str]] | None = None
) -> dict[str, Any] | JsonResponse:
    """The request's JSON object, or a 400 naming what is wrong with it (``validate`` returns field errors)."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _bad_request(body="must be a JSON object")
    if not isinstance(body, dict):
        return _bad_request(body="must be a JSON object")
    errors = validate(body) if validate else {}
    return _bad_request(**errors) if errors else body


def _petition_summary(state: EmulatorState, petition: EmulatedPetition) -> dict[str, Any]:
    return {
        "provider": petition.provider,
        "id": petition.id,
        "url": petition.url,
        "title": petition.title,
        "status": petition.status,
        "goal": petition.goal,
        "signature_count": state.signature_count(petition),
    }


def _signature_record(signature: ReceivedSignature) -> dict[str, Any]:
    return {
        "seq": signature.seq,
        "provider": signature.provider,
        "petition_id": signature.petition_id,
        "received_at": isoformat(signature.signed_at),
        "hidden": signature.hidden,
        "duplicate": signature.duplicate,
        "fields": signature.fields,
        # We the People: when the signer follows the validation link (null: never; always null for Change.org).
        "validates_at": isoformat(signature.validates_at),
        "validated": signature.validated(datetime.now(UTC)),
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def petitions(request: HttpRequest) -> HttpResponse:
    """``GET``: the seeded and created petitions. ``POST`` (JSON provider, title, goal, status?): create one."""
    state = state_of(request)
    if request.method == "GET":
        provider = request.GET.get("provider") or None
        return JsonResponse({"petitions": [_petition_summary(state, p) for p in state.petitions(provider)]})
    body = _json_object(request)
    if isinstance(body, JsonResponse):
        return body
    provider = body.get("provider")
    values = {"title": body.get("title"), "goal": body.get("goal"), "status": body.get("status", "open")}
    errors = _field_errors(values)
    if provider not in PROVIDERS:
        errors["provider"] = f"must be one of {', '.join(PROVIDERS)}"
    if errors:
        return _bad_request(**errors)
    petition = state.create_petition(provider, values["title"].strip(), values["goal"], values["status"])
    return JsonResponse(_petition_summary(state, petition), status=201)


def _whole(minimum: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


# Petition fields the control endpoints set: (valid?, what a valid value is).
_EDITABLE = {
    "title": (lambda v: isinstance(v, str) and bool(v.strip()), "is required"),
    "status": (lambda v: v in PETITION_STATUSES, f"must be one of {', '.join(PETITION_STATUSES)}"),
    "goal": (lambda v: v is None or _whole(1)(v), "must be a positive whole number"),
    "signature_count": (_whole(0), "must be a whole number, 0 or more"),
    "overview": (lambda v: isinstance(v, str), "must be a string"),
}


def _field_errors(values: dict[str, Any]) -> dict[str, str]:
    errors = {}
    for name, value in values.items():
        if name not in _EDITABLE:
            errors[name] = "cannot be set"
        elif not _EDITABLE[name][0](value):
            errors[name] = _EDITABLE[name][1]
    return errors


@csrf_exempt
@require_http_methods(["GET", "PATCH"])
def petition(request: HttpRequest, petition_id: str) -> HttpResponse:
    """``GET``: one petition's summary. ``PATCH`` (JSON title, status, goal, signature_count, overview): change it."""
    state = state_of(request)
    found = next((p for p in state.petitions() if p.id == petition_id), None)
    if found is None:
        return JsonResponse({"errors": {"petition_id": "no such petition"}}, status=404)
    if request.method == "PATCH":
        body = _json_object(request, _field_errors)
        if isinstance(body, JsonResponse):
            return body
        found = state.update_petition(petition_id, body)
    return JsonResponse(_petition_summary(state, found))


@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    """Counters since the last reset."""
    return JsonResponse(state_of(request).stats())


@require_GET
def signatures(request: HttpRequest) -> HttpResponse:
    """Every signature received (not the seeded ones), with all its fields; ``petition_id`` filters."""
    state = state_of(request)
    received = state.signatures(request.GET.get("petition_id") or None, seeded=False)
    return JsonResponse({"count": len(received), "signatures": [_signature_record(s) for s in received]})


def _behaviour(
    request: HttpRequest,
    name: str,
    label: str,
    validate: Callable[[dict[str, Any]], dict[str, str]],
    current: Callable[[], Any],
    update: Callable[[dict[str, Any]], Any],
) -> HttpResponse:
    """``GET``: the ``current()`` values of a behaviour dataclass. ``POST`` (JSON, any subset): ``update`` them,
    or a 400 under ``name`` with nothing changed if one is bad. ``label`` names them in the log."""
    if request.method == "POST":
        body = _json_object(request, validate)
        if isinstance(body, JsonResponse):
            return body
        try:
            update(body)
        except ValueError as error:
            return _bad_request(**{name: str(error)})
        logger.info("Emulator %s now %s", label, current())
    return JsonResponse(asdict(current()))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults(request: HttpRequest) -> HttpResponse:
    """``GET``: the current faults. ``POST`` (JSON, any subset): change them; nothing changes if one is bad."""
    state = state_of(request)
    return _behaviour(request, "faults", "faults", validate_faults, lambda: state.faults, state.update_faults)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wethepeople(request: HttpRequest) -> HttpResponse:
    """``GET``: We the People's validation delay, share of signers who never validate, and reads a second.
    ``POST`` (JSON, any subset of ``validation_delay``, ``never_validate``, ``read_limit``): change them for
    the signatures and reads that follow; nothing changes if one is bad. A reset restores the configured ones."""
    state = state_of(request)
    return _behaviour(
        request,
        "wethepeople",
        "We the People behaviour",
        validate_wethepeople,
        lambda: state.wethepeople,
        state.update_wethepeople,
    )


@csrf_exempt
@require_POST
def reset(request: HttpRequest) -> HttpResponse:
    """Back to the seed and the configured faults."""
    state_of(request).reset()
    return JsonResponse({"result": "success"})


def notify_callback(key: AuthKey) -> int | None:
    """POST the key's new status to its callback endpoint, form-encoded; the HTTP status, or None on failure.

    Best effort, like the real service: a callback that fails is not retried and never raises.
    """
    try:
        response = requests.post(key.callback_endpoint, data=key.answer(), timeout=CALLBACK_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        logger.warning("Auth key callback for petition %s failed: %s", key.petition_id, type(error).__name__)
        return None
    logger.info("Auth key callback for petition %s answered HTTP %s", key.petition_id, response.status_code)
    return response.status_code


def _auth_key_slot_errors(body: dict[str, Any]) -> dict[str, str]:
    """Both halves of a key's (petition_id, source) are required, as non-empty values."""
    source = body.get("source")
    if not str(body.get("petition_id", "")) or not isinstance(source, str) or not source:
        return {"petition_id": "is required", "source": "is required"}
    return {}


@csrf_exempt
@require_POST
def revoke_auth_key(request: HttpRequest) -> HttpResponse:
    """Revoke the key granted for (petition_id, source), as the petition's creator would, and call back."""
    state = state_of(request)
    body = _json_object(request, _auth_key_slot_errors)
    if isinstance(body, JsonResponse):
        return body
    petition_id, source = str(body["petition_id"]), body["source"]
    revoked = state.revoke_auth_keys(petition_id, source)
    if not revoked:
        return JsonResponse({"result": "failure", "messages": [AUTH_KEY_NOT_GRANTED]}, status=404)
    callbacks = []
    for key in revoked:
        if not key.callback_endpoint:
            continue
        status = notify_callback(key)
        state.count("callbacks_sent" if status is not None and status < 400 else "callbacks_failed")
        callbacks.append({"endpoint": key.callback_endpoint, "status": status})
    answer = {"result": "success", "status": "revoked", "petition_id": petition_id, "source": source}
    return JsonResponse(answer | {"callbacks": callbacks})
