"""The app's exceptions: one base class, upstream errors classified by class attributes.

Callers decide what to do from the class (``retryable``, or ``isinstance`` of a subclass), never by
parsing a message. Messages carry ids, HTTP statuses and the upstream's own words, never an API
secret nor a petition authorization key.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured

BODY_LIMIT = 500


class PetitionWidgetError(Exception):
    """Base class of every error petition_widget raises on purpose."""


class ConfigurationError(ImproperlyConfigured):
    """The site's configuration cannot work: an unknown provider name, missing credentials.

    Deliberately not a :class:`PetitionWidgetError`: code that handles upstream trouble must not
    swallow a configuration mistake.
    """


class InvalidPetitionReference(PetitionWidgetError, ValueError):
    """What was given as a petition is neither an id nor a URL this provider understands."""


class UpstreamError(PetitionWidgetError):
    """An upstream platform could not be reached, or answered something other than success.

    Attributes on the instance: ``status`` (the HTTP status, ``None`` when no answer came),
    ``messages`` (the upstream's own messages), ``body`` (the start of the answer, at most
    500 characters) and ``retry_after`` (seconds the upstream asked us to wait, or ``None``).
    """

    #: Whether the same request may succeed later without anyone changing anything.
    retryable: bool = False
    default_detail: str = "The upstream platform answered with an error."

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        messages: Iterable[str] = (),
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.status = status
        self.messages: tuple[str, ...] = tuple(str(m) for m in messages)
        self.body = (body or "")[:BODY_LIMIT]
        self.retry_after = retry_after
        super().__init__(self.detail)

    def __str__(self) -> str:
        parts = [self.detail]
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        if self.messages:
            parts.append("- " + "; ".join(self.messages))
        return " ".join(parts)


class UpstreamUnavailable(UpstreamError):
    """Transient trouble: no connection, a timeout, a 5xx, a rate limit, an answer that is not JSON."""

    retryable = True
    default_detail = "The upstream platform is unavailable."


class UpstreamRefused(UpstreamError):
    """The upstream understood the request and refused it; repeating it will not help."""

    default_detail = "The upstream platform refused the request."


class PetitionNotFound(UpstreamRefused):
    """The upstream has no petition with this id or URL."""

    default_detail = "The upstream platform has no such petition."


class CredentialsRejected(UpstreamError):
    """The API key, the secret or the petition authorization key is wrong, missing or revoked.

    Not the signer's fault and not transient: an admin has to fix the configuration.
    """

    default_detail = "The upstream platform rejected our credentials."
