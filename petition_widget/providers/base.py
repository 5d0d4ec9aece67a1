"""What every upstream client shares: the values it returns, one HTTP session, and its hooks.

A provider subclass fills in a few small hooks:

* :meth:`BaseProvider.fetch_petition` and :meth:`BaseProvider.resolve_petition_id` read the upstream;
* :meth:`BaseProvider.request_auth_key` asks for a petition authorization key where the platform has them;
* :meth:`BaseProvider.build_submission` turns a signature into one HTTP request;
* :meth:`BaseProvider.classify` reads the answer to that request. It is the only place that decides a
  submission's :class:`Outcome`, so the spec's error table maps onto exactly one method per provider.

Reading methods raise :class:`~petition_widget.exceptions.UpstreamError` subclasses; :meth:`BaseProvider.submit`
never raises for upstream or network trouble and returns one :class:`SubmitResult` instead. No ``requests``
exception ever leaves a provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from .. import __version__
from ..exceptions import BODY_LIMIT, CredentialsRejected, UpstreamError, UpstreamRefused, UpstreamUnavailable
from ..models import SUCCESSFUL_OUTCOMES, Outcome

if TYPE_CHECKING:
    from ..models import Signature

logger = logging.getLogger(__name__)

USER_AGENT = f"django-petition-widget/{__version__}"
DETAIL_LIMIT = 300
REDACTED = "[redacted]"


def int_or_none(value: Any) -> int | None:
    """An upstream's number field as an int; ``None`` when absent or not a number."""
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class SubmitResult:
    """The classified answer to one submission; ``detail`` is short and holds no secret."""

    outcome: Outcome
    messages: tuple[str, ...] = ()
    http_status: int | None = None
    retry_after: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class PetitionData:
    """An upstream petition, its fields named as on :class:`petition_widget.models.Petition`."""

    upstream_id: str
    title: str
    overview: str = ""
    letter_body: str = ""
    url: str = ""
    status: str = ""
    goal: int | None = None
    signature_count: int = 0
    image_url: str = ""
    category: str = ""
    targets: list = field(default_factory=list)
    creator_name: str = ""
    creator_url: str = ""
    organization_name: str = ""
    organization_url: str = ""
    upstream_created_at: datetime | None = None
    end_at: datetime | None = None
    accepts_signatures: bool = True
    raw: dict = field(default_factory=dict, repr=False)

    def model_fields(self) -> dict[str, Any]:
        """The values to set on a ``Petition`` row, ``upstream_id`` included."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class AuthKeyGrant:
    """The upstream's answer to a request for a petition authorization key."""

    status: str  # "granted", "denied" or "revoked"
    auth_key: str = field(default="", repr=False)
    source: str = ""

    @property
    def granted(self) -> bool:
        return self.status == "granted" and bool(self.auth_key)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the hooks see it: status, headers, the decoded JSON and the start of the body."""

    status: int
    headers: Mapping[str, str]
    data: Any  # the decoded JSON body, or None when the body is not JSON
    text: str  # at most BODY_LIMIT characters of the body

    @property
    def is_json(self) -> bool:
        return self.data is not None

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


@dataclass(frozen=True)
class Request:
    """An HTTP request a provider wants sent: the path is relative to the provider's API URL."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    data: str | bytes | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def shorten(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def messages_from(data: Any, *keys: str) -> tuple[str, ...]:
    """The list of message strings under the first of ``keys`` present in a JSON object."""
    if not isinstance(data, dict):
        return ()
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple):
            return tuple(str(item) for item in value if item not in (None, ""))
    return ()


class BaseProvider:
    """An upstream client; one ``requests.Session`` per instance.

    A provider instance is not meant to be shared between threads: a worker running several threads
    builds one per thread (``get_provider`` is cheap).
    """

    #: The ``Provider`` value this client serves, e.g. ``"changeorg"``.
    name: ClassVar[str] = ""
    #: Human-readable platform name for messages.
    label: ClassVar[str] = ""

    def __init__(self, *, api_url: str, api_key: str, timeout: float | tuple[float, float]) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = self.create_session()

    @classmethod
    def from_settings(cls) -> BaseProvider:
        """Hook: a client configured from ``PETITION_WIDGET``; :class:`ConfigurationError` when its
        credentials are missing."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api_url}>"

    def __enter__(self) -> BaseProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def create_session(self) -> requests.Session:
        """The session every request of this instance goes through; override to add adapters."""
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept"] = "application/json"
        return session

    # -- safety ------------------------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message, a log line or a ``detail``."""
        return ()

    def redact(self, text: str, *extra: str) -> str:
        for secret in (*self.secrets(), *extra):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def upstream_messages(self, data: Any, *keys: str) -> tuple[str, ...]:
        """The upstream's messages under the first of ``keys`` present, redacted: an upstream may echo a key."""
        return tuple(self.redact(message) for message in messages_from(data, *keys))

    # -- HTTP --------------------------------------------------------------------------------------

    def send(self, request: Request) -> Answer:
        """Send ``request``; raise :class:`UpstreamUnavailable` if no HTTP answer comes back.

        Every HTTP status is returned as an :class:`Answer`: reading it is the caller's job.
        """
        url = f"{self.api_url}/{request.path.lstrip('/')}"
        try:
            response = self.session.request(
                request.method,
                url,
                params=request.params,
                data=request.data,
                json=request.json,
                headers=request.headers,
                timeout=self.timeout,
                # An API does not redirect; following one would turn a POST into a GET.
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            logger.warning("%s %s %s timed out", self.label, request.method, request.path)
            raise UpstreamUnavailable(
                f"{self.label} did not answer {request.method} {request.path} in time ({type(exc).__name__})."
            ) from None
        except requests.RequestException as exc:
            # The requests message names the URL, query string included: it is redacted, and the original
            # exception is not chained so that no traceback carries it.
            reason = shorten(self.redact(str(exc)), 200)
            logger.warning("%s %s %s failed: %s", self.label, request.method, request.path, type(exc).__name__)
            raise UpstreamUnavailable(
                f"{self.label} could not be reached for {request.method} {request.path} "
                f"({type(exc).__name__}: {reason})."
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        text = self.redact(response.text[:BODY_LIMIT]) if response.content else ""
        logger.debug("%s %s %s -> HTTP %s", self.label, request.method, request.path, response.status_code)
        return Answer(status=response.status_code, headers=response.headers, data=data, text=text)

    def read(self, request: Request) -> Any:
        """Send a reading request and return its JSON, or raise the matching :class:`UpstreamError`."""
        answer = self.send(request)
        self.raise_for_answer(answer, request)
        return answer.data

    def raise_for_answer(self, answer: Answer, request: Request) -> None:
        """Raise the :class:`UpstreamError` subclass an unsuccessful answer calls for (hook).

        The default reads the HTTP status the usual way; override where the platform puts its status
        elsewhere.
        """
        status = answer.status
        messages = self.upstream_messages(answer.data, "messages", "errors")
        common = {"status": status, "messages": messages, "body": answer.text}
        where = f"{request.method} {request.path}"
        if status == 429:
            raise UpstreamUnavailable(f"{self.label} rate-limited {where}.", retry_after=answer.retry_after, **common)
        if status >= 500:
            raise UpstreamUnavailable(f"{self.label} failed on {where}.", retry_after=answer.retry_after, **common)
        if 300 <= status < 400:
            raise UpstreamRefused(f"{self.label} redirected {where}; check the API URL setting.", **common)
        if not answer.is_json:
            # An HTML page where JSON was due comes from something in front of the API (a CDN, a proxy).
            raise UpstreamUnavailable(f"{self.label} answered {where} with a body that is not JSON.", **common)
        if status in (401, 403):
            raise CredentialsRejected(f"{self.label} refused our credentials for {where}.", **common)
        if status >= 400:
            raise UpstreamRefused(f"{self.label} refused {where}.", **common)

    # -- hooks -------------------------------------------------------------------------------------

    def fetch_petition(self, upstream_id: str) -> PetitionData:
        """The upstream petition ``upstream_id``; raises ``PetitionNotFound`` if there is none."""
        raise NotImplementedError

    def resolve_petition_id(self, url_or_id: str) -> str:
        """The upstream id of a petition given by id (returned as is) or by its public URL."""
        raise NotImplementedError

    def request_auth_key(self, upstream_id: str, *, source: str, callback_endpoint: str = "") -> AuthKeyGrant | None:
        """Ask for the authorization key that lets ``source`` add signatures; ``None`` where the
        platform has no such keys."""
        return None

    def build_submission(self, signature: Signature) -> Request:
        """The request that forwards ``signature``; raise ``CredentialsRejected`` if it cannot be signed."""
        raise NotImplementedError

    def classify(self, answer: Answer | None, error: UpstreamError | None = None) -> SubmitResult:
        """The outcome of a submission, from the upstream's answer or from the error that stood
        in for one (no connection, a timeout, credentials missing before anything was sent)."""
        raise NotImplementedError

    # -- the submission ----------------------------------------------------------------------------

    def result_for_error(self, error: UpstreamError | None) -> SubmitResult:
        """The result of a submission that got no readable answer: credentials held, the rest by ``retryable``."""
        if isinstance(error, CredentialsRejected):
            outcome = Outcome.HELD
        else:
            outcome = Outcome.RETRY if error is None or error.retryable else Outcome.REJECTED
        return SubmitResult(
            outcome,
            messages=error.messages if error else (),
            http_status=error.status if error else None,
            retry_after=error.retry_after if error else None,
            detail=shorten(self.redact(str(error or "no answer"))),
        )

    def submit(self, signature: Signature) -> SubmitResult:
        """Forward one signature and return the classified result; never raises for upstream trouble."""
        petition = signature.petition
        try:
            answer = self.send(self.build_submission(signature))
        except UpstreamError as exc:
            result = self.classify(None, exc)
        else:
            result = self.classify(answer)
        log = logger.info if result.outcome in SUCCESSFUL_OUTCOMES else logger.warning
        log(
            "%s signature %s on petition %s: %s (HTTP %s)",
            self.label,
            signature.pk,
            petition.upstream_id,
            result.outcome,
            result.http_status,
        )
        return result
