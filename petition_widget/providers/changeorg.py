"""The Change.org API v1 client (see ``specs/changeorg-v1.md``)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from django.utils.dateparse import parse_date, parse_datetime

from ..conf import app_settings
from ..exceptions import (
    ConfigurationError,
    CredentialsRejected,
    InvalidPetitionReference,
    PetitionNotFound,
    UpstreamError,
    UpstreamRefused,
)
from ..rsig import signed_body
from .base import (
    Answer,
    AuthKeyGrant,
    BaseProvider,
    Outcome,
    PetitionData,
    Request,
    SubmitResult,
    int_or_none,
    shorten,
)

if TYPE_CHECKING:
    from ..models import Signature

logger = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DUPLICATE_MESSAGE = "already signed"
GRANT_STATUSES = ("granted", "denied", "revoked")
_ID_RE = re.compile(r"^\d+$")
# The keys of `GET petitions/:id`, in the documented order.
PETITION_FIELDS = (
    "petition_id",
    "title",
    "status",
    "url",
    "overview",
    "targets",
    "letter_body",
    "signature_count",
    "image_url",
    "category",
    "goal",
    "created_at",
    "end_at",
    "creator_name",
    "creator_url",
    "organization_name",
    "organization_url",
)


def utc_timestamp(now: datetime | None = None) -> str:
    """The ``timestamp`` parameter: UTC, ISO-8601, second precision, ``Z`` suffix."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(value: Any) -> datetime | None:
    """An aware datetime from Change.org's ISO-8601 timestamps or bare dates; ``None`` if absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is None:
                return None
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ChangeOrgProvider(BaseProvider):
    """Reads petitions, requests authorization keys and posts signed signatures to Change.org v1."""

    name: ClassVar[str] = "changeorg"
    label: ClassVar[str] = "Change.org"

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        secret: str,
        timeout: float | tuple[float, float],
        source_description: str = "",
        requester_email: str = "",
    ) -> None:
        self.secret = secret
        self.source_description = source_description
        self.requester_email = requester_email
        self._auth_keys: set[str] = set()
        super().__init__(api_url=api_url, api_key=api_key, timeout=timeout)

    @classmethod
    def from_settings(cls) -> ChangeOrgProvider:
        missing = [k for k in ("CHANGEORG_API_KEY", "CHANGEORG_SECRET") if not getattr(app_settings, k)]
        if missing:
            raise ConfigurationError(f"Change.org needs {' and '.join(missing)} in PETITION_WIDGET.")
        return cls(
            api_url=app_settings.CHANGEORG_API_URL,
            api_key=app_settings.CHANGEORG_API_KEY,
            secret=app_settings.CHANGEORG_SECRET,
            timeout=app_settings.HTTP_TIMEOUT,
            source_description=app_settings.SOURCE_DESCRIPTION,
            requester_email=app_settings.REQUESTER_EMAIL,
        )

    def secrets(self) -> tuple[str, ...]:
        return (self.secret, *self._auth_keys)

    # -- requests ----------------------------------------------------------------------------------

    @staticmethod
    def resource(upstream_id: str, *parts: str) -> str:
        """A resource path such as ``petitions/48503/signatures``; the id cannot escape its segment."""
        return "/".join(("petitions", quote(str(upstream_id), safe=""), *parts))

    def get(self, path: str, **params: str) -> Request:
        return Request("GET", path, params={"api_key": self.api_key, **params})

    def signed_post(self, path: str, params: list[tuple[str, str]], auth_key: str = "") -> Request:
        """A POST whose form body starts with ``api_key``, ``endpoint`` and ``timestamp`` and ends with ``rsig``.

        ``endpoint`` is ``/v1/`` plus the resource path whatever prefix the API is mounted under, as the
        platform's own clients sent it. The authorization key only enters the hash, never the body.
        """
        head = [("api_key", self.api_key), ("endpoint", f"/v1/{path}"), ("timestamp", utc_timestamp())]
        body = signed_body(head + params, self.secret, auth_key)
        return Request("POST", path, data=body.encode("utf-8"), headers={"Content-Type": FORM_CONTENT_TYPE})

    # -- reading -----------------------------------------------------------------------------------

    def raise_for_answer(self, answer: Answer, request: Request) -> None:
        if answer.status == 404:
            raise PetitionNotFound(
                f"Change.org has no petition at {request.path}.",
                status=404,
                messages=self.upstream_messages(answer.data, "messages", "errors"),
                body=answer.text,
            )
        super().raise_for_answer(answer, request)
        if not isinstance(answer.data, dict):
            raise UpstreamRefused(
                f"Change.org answered {request.method} {request.path} with unexpected JSON.",
                status=answer.status,
                body=answer.text,
            )

    def fetch_petition(self, upstream_id: str) -> PetitionData:
        request = self.get(self.resource(upstream_id))
        data = self.read(request)
        petition_id = data.get("petition_id")
        title = data.get("title")
        if petition_id is None or not title:
            raise UpstreamRefused(
                f"Change.org's answer for petition {upstream_id} lacks its id or title.",
                status=200,
                body=shorten(str(data), 500),
            )
        status = str(data.get("status") or "")
        return PetitionData(
            upstream_id=str(petition_id),
            title=str(title),
            overview=data.get("overview") or "",
            letter_body=data.get("letter_body") or "",
            url=data.get("url") or "",
            status=status,
            goal=int_or_none(data.get("goal")),
            signature_count=int_or_none(data.get("signature_count")) or 0,
            image_url=data.get("image_url") or "",
            category=data.get("category") or "",
            targets=list(data.get("targets") or []),
            creator_name=data.get("creator_name") or "",
            creator_url=data.get("creator_url") or "",
            organization_name=data.get("organization_name") or "",
            organization_url=data.get("organization_url") or "",
            upstream_created_at=parse_moment(data.get("created_at")),
            end_at=parse_moment(data.get("end_at")),
            accepts_signatures=status == "open",
            raw=data,
        )

    def resolve_petition_id(self, url_or_id: str) -> str:
        """A numeric id as is; a URL through ``GET petitions/get_id?petition_url=``."""
        value = (url_or_id or "").strip()
        if _ID_RE.match(value):
            return value
        if "/" not in value and "." not in value:
            raise InvalidPetitionReference(f"{value!r} is neither a Change.org petition id nor a URL.")
        data = self.read(self.get("petitions/get_id", petition_url=value))
        petition_id = data.get("petition_id")
        if data.get("result") == "failure" or petition_id in (None, ""):
            raise PetitionNotFound(
                "Change.org found no petition at that URL.",
                status=200,
                messages=self.upstream_messages(data, "messages"),
            )
        return str(petition_id)

    def request_auth_key(self, upstream_id: str, *, source: str, callback_endpoint: str = "") -> AuthKeyGrant:
        """Ask for the key that lets ``source`` (our form page's URL) add signatures to the petition."""
        params = [
            ("source_description", self.source_description or source),
            ("source", source),
            ("requester_email", self.requester_email),
        ]
        if callback_endpoint:
            params.append(("callback_endpoint", callback_endpoint))
        request = self.signed_post(self.resource(upstream_id, "auth_keys"), params)
        data = self.read(request)
        status = data.get("status")
        if status not in GRANT_STATUSES:
            raise UpstreamRefused(
                f"Change.org answered the auth key request for petition {upstream_id} without a known status.",
                status=200,
                messages=self.upstream_messages(data, "messages"),
            )
        auth_key = str(data.get("auth_key") or "")
        if auth_key:
            self._auth_keys.add(auth_key)
        logger.info("Change.org auth key for petition %s: %s", upstream_id, status)
        return AuthKeyGrant(status=status, auth_key=auth_key, source=str(data.get("source") or source))

    # -- the submission ----------------------------------------------------------------------------

    def build_submission(self, signature: Signature) -> Request:
        petition = signature.petition
        if not petition.auth_key or petition.auth_key_status not in ("", "granted"):
            raise CredentialsRejected(f"Petition {petition.upstream_id} has no granted Change.org authorization key.")
        self._auth_keys.add(petition.auth_key)
        params = [
            ("source", petition.auth_key_source),
            ("email", signature.email),
            ("first_name", signature.first_name),
            ("last_name", signature.last_name),
        ]
        optional = [
            ("address", signature.address),
            ("city", signature.city),
            ("state_province", signature.state_province),
            ("postal_code", signature.postal_code),
            ("country_code", signature.country_code),
            ("phone", signature.phone),
            ("reason", signature.reason),
        ]
        params += [(key, value) for key, value in optional if value]
        params.append(("hidden", "true" if signature.hidden else "false"))
        return self.signed_post(self.resource(petition.upstream_id, "signatures"), params, petition.auth_key)

    def classify(self, answer: Answer | None, error: UpstreamError | None = None) -> SubmitResult:
        """Change.org's answer table, in one place.

        200/202 sent; 400 "user has already signed the petition" duplicate, any other 400 rejected;
        401/403 held; 404 rejected; 415 rejected and logged as our bug; 429 retried after ``Retry-After``;
        5xx, bodies that are not JSON (a CDN's page), timeouts and connection errors retried. A redirect
        means the API URL setting is wrong: held, like a credentials problem.
        """
        if error is not None or answer is None:
            return self.result_for_error(error)

        status = answer.status
        messages = self.upstream_messages(answer.data, "messages", "errors")

        def result(outcome: Outcome, detail: str, retry_after: float | None = None) -> SubmitResult:
            said = f": {'; '.join(messages)}" if messages else ""
            return SubmitResult(
                outcome,
                messages=messages,
                http_status=status,
                retry_after=retry_after,
                detail=shorten(self.redact(f"HTTP {status} {detail}{said}")),
            )

        if status == 429:
            return result(Outcome.RETRY, "rate limited", answer.retry_after)
        if status == 415:
            logger.error("Change.org answered 415 Unsupported Media Type to a signature POST: our request is malformed")
            return result(Outcome.REJECTED, "unsupported media type (a bug in the client)")
        if 300 <= status < 400:
            return result(Outcome.HELD, "unexpected redirect (check CHANGEORG_API_URL)")
        if not isinstance(answer.data, dict):
            return result(Outcome.RETRY, "answer is not JSON", answer.retry_after)
        # A 2xx saying "failure" is read like the 400 it should have been.
        failed = answer.data.get("result") == "failure"
        if 200 <= status < 300 and not failed:
            return result(Outcome.SENT, "accepted")
        if status == 400 or (200 <= status < 300 and failed):
            if any(DUPLICATE_MESSAGE in message.casefold() for message in messages):
                return result(Outcome.DUPLICATE, "already signed")
            return result(Outcome.REJECTED, "refused")
        if status in (401, 403):
            return result(Outcome.HELD, "credentials refused")
        if status == 404:
            return result(Outcome.REJECTED, "petition not found")
        if status == 408 or status >= 500:
            return result(Outcome.RETRY, "upstream failure", answer.retry_after)
        if 400 <= status < 500:
            return result(Outcome.REJECTED, "refused")
        return result(Outcome.RETRY, "unexpected status")
