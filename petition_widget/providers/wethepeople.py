"""The We the People API v1 client (see ``specs/wethepeople-v1.md``).

Its HTTP status line cannot be trusted: server errors come back as HTTP 200 with the real status in
``metadata.responseInfo``. Every answer is read from that envelope, never from the status line alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from ..conf import app_settings
from ..exceptions import (
    ConfigurationError,
    CredentialsRejected,
    InvalidPetitionReference,
    PetitionNotFound,
    UpstreamError,
    UpstreamRefused,
    UpstreamUnavailable,
)
from ..ratelimit import RateLimiter, limit_key
from .base import Answer, BaseProvider, Outcome, PetitionData, Request, SubmitResult, int_or_none, shorten

if TYPE_CHECKING:
    from ..models import Signature

logger = logging.getLogger(__name__)

# errorCode values of the write API (signatures_queue module).
RETRY_CODES = frozenset({"73", "83", "99"})
REJECT_CODES = frozenset({"74", "75", "76", "77"})
KEY_CODES = frozenset({"85"})
NOT_FOUND_CODES = frozenset({"76", "84"})

# The read API's limit: "10 requests a second". Every read of every process takes a slot from one limiter in
# the rate-limit cache, which counts one-second steps and lets READS_PER_SECOND through in any
# READ_WINDOW_SECONDS consecutive steps and the one after: 10 in any three seconds of our clock, so that no one
# second of the upstream's holds more than 10 even when its clock and the network shift a request by most of a
# second. Writes (signatures.json) count under RATE_LIMITS instead.
READS_PER_SECOND = 10
READ_WINDOW_SECONDS = 2
READ_LIMIT_NAME = "wethepeople-reads"
# The longest a read waits for its slot before giving up as if the upstream were unavailable.
READ_WAIT_SECONDS = 30.0

# Petition ids were Mongo ObjectIds (24 hex digits) and later Drupal node numbers.
_ID_RE = re.compile(r"^(?:\d+|[0-9a-fA-F]{24})$")


@dataclass(frozen=True)
class ResponseInfo:
    """``metadata.responseInfo`` of a We the People answer."""

    status: int | None
    error_code: str
    messages: tuple[str, ...]

    @classmethod
    def of(cls, data: Any, redact: Callable[[str], str] = str) -> ResponseInfo | None:
        """The envelope's response info, or ``None`` when ``data`` is not a We the People envelope."""
        if not isinstance(data, dict):
            return None
        metadata = data.get("metadata")
        info = metadata.get("responseInfo") if isinstance(metadata, dict) else None
        if not isinstance(info, dict):
            return None
        try:
            status = int(info.get("status"))
        except (TypeError, ValueError):
            status = None
        messages = tuple(
            redact(str(info[key]))
            for key in ("developerMessage", "userMessage")
            if info.get(key) not in (None, "", "OK")
        )
        return cls(status=status, error_code=str(info.get("errorCode") or "").strip(), messages=messages)

    def describe(self) -> str:
        code = f" error {self.error_code}" if self.error_code else ""
        said = f": {'; '.join(self.messages)}" if self.messages else ""
        return f"status {self.status}{code}{said}"


@dataclass(frozen=True)
class Validation:
    """One record of ``validations.json``: a signature of ours that We the People validated and counted."""

    email: str = field(repr=False)
    signature_id: str = ""
    vid: str = ""


@dataclass(frozen=True)
class ValidationPage:
    """One page of ``validations.json``: its usable records, how many it held, and the total when given."""

    validations: tuple[Validation, ...]
    received: int
    total: int | None


def _from_unix(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


class WeThePeopleProvider(BaseProvider):
    """Reads petitions from and posts signatures to We the People v1."""

    name: ClassVar[str] = "wethepeople"
    label: ClassVar[str] = "We the People"

    @classmethod
    def from_settings(cls) -> WeThePeopleProvider:
        if not app_settings.WETHEPEOPLE_API_KEY:
            raise ConfigurationError("We the People needs WETHEPEOPLE_API_KEY in PETITION_WIDGET.")
        return cls(
            api_url=app_settings.WETHEPEOPLE_API_URL,
            api_key=app_settings.WETHEPEOPLE_API_KEY,
            timeout=app_settings.HTTP_TIMEOUT,
        )

    def secrets(self) -> tuple[str, ...]:
        # The API key is the only credential here, and travels in the query string.
        return (self.api_key,)

    _read_limiter: RateLimiter | None = None

    @property
    def read_limiter(self) -> RateLimiter:
        """The limiter of reads (:data:`READS_PER_SECOND`), shared through the rate-limit cache."""
        if self._read_limiter is None:
            self._read_limiter = RateLimiter(window=READ_WINDOW_SECONDS, resolution=1)
        return self._read_limiter

    @read_limiter.setter
    def read_limiter(self, limiter: RateLimiter) -> None:
        self._read_limiter = limiter

    def read(self, request: Request) -> Any:
        """Send a reading request once a read slot is free (at most 10 reads a second upstream)."""
        key = limit_key(READ_LIMIT_NAME, self.api_key)
        if not self.read_limiter.acquire(key, READS_PER_SECOND, timeout=READ_WAIT_SECONDS):
            raise UpstreamUnavailable(
                f"We the People's read limit left no slot for {request.method} {request.path} "
                f"within {READ_WAIT_SECONDS:g} seconds."
            )
        return super().read(request)

    # -- reading -----------------------------------------------------------------------------------

    def raise_for_answer(self, answer: Answer, request: Request) -> None:
        where = f"{request.method} {request.path}"
        common = {"status": answer.status, "body": answer.text}
        if answer.status == 429:
            raise UpstreamUnavailable(f"We the People rate-limited {where}.", retry_after=answer.retry_after, **common)
        info = ResponseInfo.of(answer.data, self.redact)
        if info is None:
            if 300 <= answer.status < 400:
                raise UpstreamRefused(f"We the People redirected {where}; check WETHEPEOPLE_API_URL.", **common)
            raise UpstreamUnavailable(f"We the People answered {where} without its JSON envelope.", **common)
        if info.status == 200 and not info.error_code:
            return
        detail = f"We the People answered {where} with {info.describe()}."
        common["messages"] = info.messages
        if info.error_code in NOT_FOUND_CODES or info.status == 404:
            raise PetitionNotFound(detail, **common)
        if info.error_code in KEY_CODES or info.status == 401:
            raise CredentialsRejected(detail, **common)
        if info.error_code in RETRY_CODES or info.status is None or info.status >= 500:
            raise UpstreamUnavailable(detail, retry_after=answer.retry_after, **common)
        raise UpstreamRefused(detail, **common)

    def fetch_petition(self, upstream_id: str) -> PetitionData:
        data = self.read(Request("GET", f"petitions/{quote(str(upstream_id), safe='')}.json"))
        results = data.get("results") or []
        if not results or not isinstance(results[0], dict):
            raise PetitionNotFound(f"We the People returned no petition {upstream_id}.", status=200)
        item = results[0]
        if not item.get("id") or not item.get("title"):
            raise UpstreamRefused(
                f"We the People's answer for petition {upstream_id} lacks its id or title.",
                status=200,
                body=shorten(str(item), 500),
            )
        status = str(item.get("status") or "")
        signable = item.get("isSignable")
        issues = [i.get("name") for i in item.get("issues") or [] if isinstance(i, dict) and i.get("name")]
        return PetitionData(
            upstream_id=str(item["id"]),
            title=str(item["title"]),
            overview=item.get("body") or "",
            url=item.get("url") or "",
            status=status,
            goal=int_or_none(item.get("signatureThreshold")),
            signature_count=int_or_none(item.get("signatureCount")) or 0,
            category=", ".join(issues),
            upstream_created_at=_from_unix(item.get("created")),
            end_at=_from_unix(item.get("deadline")),
            accepts_signatures=bool(signable) if signable is not None else status == "open",
            raw=item,
        )

    def resolve_petition_id(self, url_or_id: str) -> str:
        """A bare id as is; from a URL the id in its path, else through ``GET petitions.json?url=``."""
        value = (url_or_id or "").strip()
        if not value:
            raise InvalidPetitionReference("An empty string is not a We the People petition.")
        if "/" not in value:
            if _ID_RE.match(value):
                return value
            raise InvalidPetitionReference(f"{value!r} is neither a We the People petition id nor a URL.")
        segments = [s for s in urlsplit(value).path.split("/") if s]
        if segments:
            last = segments[-1].removesuffix(".json")
            if _ID_RE.match(last):
                return last
        data = self.read(Request("GET", "petitions.json", params={"url": value, "limit": "1"}))
        results = data.get("results") or []
        if not results or not isinstance(results[0], dict) or not results[0].get("id"):
            raise PetitionNotFound("We the People found no petition at that URL.", status=200)
        return str(results[0]["id"])

    def fetch_validations(self, upstream_id: str, *, limit: int, offset: int = 0) -> ValidationPage:
        """One page of ``GET validations.json``: this key's signatures on the petition that were validated.

        Raises the reading errors (``PetitionNotFound``, ``CredentialsRejected``, ``UpstreamUnavailable`` on a
        429 or an outage). Records without an e-mail address are left out; they match nothing of ours.
        """
        params = {"api_key": self.api_key, "petition_id": str(upstream_id), "limit": str(limit), "offset": str(offset)}
        data = self.read(Request("GET", "validations.json", params=params))
        results = data.get("results") or []
        if not isinstance(results, list):
            raise UpstreamRefused("We the People's validations answer has no list of results.", status=200)
        validations = tuple(
            Validation(
                email=str(item["email"]).strip(),
                signature_id=str(item.get("signature_id") or "")[:64],
                vid=str(item.get("vid") or "")[:64],
            )
            for item in results
            if isinstance(item, dict) and isinstance(item.get("email"), str) and item["email"].strip()
        )
        metadata = data.get("metadata")
        resultset = metadata.get("resultset") if isinstance(metadata, dict) else None
        total = int_or_none(resultset.get("count")) if isinstance(resultset, dict) else None
        return ValidationPage(validations=validations, received=len(results), total=total)

    # -- the submission ----------------------------------------------------------------------------

    def build_submission(self, signature: Signature) -> Request:
        body = {
            "petition_id": signature.petition.upstream_id,
            "email": signature.email,
            "first_name": signature.first_name,
            "last_name": signature.last_name,
            "signup": 1 if signature.signup else 0,
        }
        if signature.postal_code:
            body["zip"] = signature.postal_code
        return Request("POST", "signatures.json", params={"api_key": self.api_key}, json=body)

    def classify(self, answer: Answer | None, error: UpstreamError | None = None) -> SubmitResult:
        """We the People's answer table, in one place, read from ``metadata.responseInfo``.

        Body status 200 sent; error 73 (500), 83/99 (599) and any other body 5xx retried, whatever the
        HTTP status said; 74/75/76/77 rejected; 85 (invalid key) held; HTTP 429, answers without the JSON
        envelope, timeouts and connection errors retried.
        """
        if error is not None or answer is None:
            return self.result_for_error(error)

        http = answer.status
        info = ResponseInfo.of(answer.data, self.redact)

        def result(outcome: Outcome, detail: str, retry_after: float | None = None) -> SubmitResult:
            return SubmitResult(
                outcome,
                messages=info.messages if info else (),
                http_status=http,
                retry_after=retry_after,
                detail=shorten(self.redact(f"HTTP {http}, {detail}")),
            )

        if http == 429:
            return result(Outcome.RETRY, "rate limited", answer.retry_after)
        if info is None:
            if 300 <= http < 400:
                return result(Outcome.HELD, "unexpected redirect (check WETHEPEOPLE_API_URL)")
            return result(Outcome.RETRY, "no JSON envelope", answer.retry_after)
        body_status = info.describe()
        code = info.error_code
        if code in RETRY_CODES:
            return result(Outcome.RETRY, body_status, answer.retry_after)
        if code in KEY_CODES:
            return result(Outcome.HELD, body_status)
        if code in REJECT_CODES:
            return result(Outcome.REJECTED, body_status)
        if info.status == 200 and not code:
            return result(Outcome.SENT, "queued")
        if info.status == 401 and not code:
            return result(Outcome.HELD, body_status)
        if info.status is not None and 400 <= info.status < 500:
            return result(Outcome.REJECTED, body_status)
        return result(Outcome.RETRY, body_status, answer.retry_after)
