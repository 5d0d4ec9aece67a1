"""Every refusal of the public API in the Change.org failure shape: ``{"result": "failure", "messages": [...]}``."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "There was a server error. Please try again later."
NOT_FOUND_MESSAGE = "petition not found"


def failure(messages: list[str]) -> dict[str, Any]:
    return {"result": "failure", "messages": messages}


def flatten_messages(detail: Any, field: str | None = None) -> list[str]:
    """DRF error details (strings, lists, dicts of them) as flat messages, each prefixed by its field."""
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            name = None if key in ("detail", "non_field_errors", "__all__") else str(key)
            messages += flatten_messages(value, name if field is None else f"{field}.{name}" if name else field)
        return messages
    if isinstance(detail, list | tuple):
        return [message for item in detail for message in flatten_messages(item, field)]
    return [f"{field}: {detail}" if field else str(detail)]


class Refused(exceptions.APIException):
    """A refusal with a status and messages of our choosing (DRF's own classes fix the status).

    ``retry_after``: seconds, sent as ``Retry-After`` (DRF's handler writes the header from ``wait``).
    """

    def __init__(
        self,
        messages: list[str] | str,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        *,
        retry_after: int | None = None,
    ) -> None:
        self.status_code = status_code
        self.wait = retry_after
        super().__init__(detail=[messages] if isinstance(messages, str) else messages)


def failure_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's handling, then the failure shape; an unexpected error becomes a 500 in the same shape.

    Only the public API's views use this handler (``get_exception_handler``), so a host's own DRF
    views keep whatever handler the host configured.
    """
    response = exception_handler(exc, context)
    if response is None:
        # The exception's text can quote stored values (a signer's e-mail in an IntegrityError), so
        # only its type and where it happened are logged.
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        logger.error(
            "public API: unexpected %s in %s at %s:%s",
            type(exc).__name__,
            type(context.get("view")).__name__,
            where.filename if where else "?",
            where.lineno if where else "?",
        )
        return Response(failure([SERVER_ERROR_MESSAGE]), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    response.data = failure(flatten_messages(response.data))
    return response


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under the API that names no endpoint."""
    return JsonResponse(failure(["no such endpoint"]), status=404)
