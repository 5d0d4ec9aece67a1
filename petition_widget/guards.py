"""What a request to the app's POST endpoints must pass before anything reads its body or decodes it.

Django reads a body lazily, and the first reader may not be ours: ``CsrfViewMiddleware`` reads
``request.POST`` to find ``csrfmiddlewaretoken``, and a multipart body is then streamed to a temporary
file whatever its size. So the views that take POSTs are wrapped by :func:`guard_request`: they are
CSRF-exempt for the middleware (wherever the host put it), refuse a body they will not read (too large,
of unknown length, in a character set that cannot be decoded), and only then run Django's own CSRF
check, exactly as the middleware would have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .conf import app_settings

# Methods whose body nobody reads; every other one is checked.
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Bytes no text encoding can fail on when decoding with replacement; codecs that do fail are not text.
CHARSET_PROBE = b"a=%C3%A9&b=\xff\xfe\x00"

TOO_LARGE = _("The request body is too large.")
LENGTH_REQUIRED = _("Send the request body with a Content-Length header, not in chunks.")
BAD_LENGTH = _("The Content-Length header is not a number of bytes.")
BAD_CHARSET = _("The character set named in the Content-Type header is not a text encoding this site can read.")


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away before its body is read: an HTTP status and a message for the client."""

    status: int
    message: str


def readable_charset(name: str) -> bool:
    """Whether Django can decode a query string or a form body in the character set `name`.

    Django uses the ``charset`` of the ``Content-Type`` header for both. A name Python does not know would
    be ignored (read as UTF-8, garbling what the client meant); a bytes-to-bytes codec (``rot13``, ``hex``,
    ``bz2_codec``, ``base64``…) raises ``LookupError`` and codecs such as ``idna``, ``punycode`` or
    ``undefined`` raise ``UnicodeError`` on ordinary bytes. Both kinds are refused.
    """
    try:
        CHARSET_PROBE.decode(name, "replace")
    except (LookupError, UnicodeError):
        return False
    return True


def content_type_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` value, if there is one."""
    return parse_header_parameters(content_type)[1].get("charset")


def charset_refusal(content_type: str) -> Refusal | None:
    """A 400 when the ``Content-Type`` names a character set Django cannot decode with."""
    charset = content_type_charset(content_type)
    if charset is not None and not readable_charset(charset):
        return Refusal(400, str(BAD_CHARSET))
    return None


def request_refusal(request: HttpRequest) -> Refusal | None:
    """Why `request` must be refused before anything reads its body, or ``None``; reads nothing itself.

    - a character set Django cannot decode with: 400 (reading ``request.POST`` would raise);
    - ``Transfer-Encoding`` (a chunked body): 411. Django's ``WSGIRequest`` reads a body without a
      ``Content-Length`` as empty, so such a body is never what the client meant, and its size is unknown;
    - a ``Content-Length`` that is not a number of bytes: 400;
    - a ``Content-Length`` over ``MAX_REQUEST_BYTES``: 413.

    A request with neither header has no body (RFC 9112, section 6.3) and passes.
    """
    refusal = charset_refusal(request.META.get("CONTENT_TYPE", ""))
    if refusal is not None or request.method in BODYLESS_METHODS:
        return refusal
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        return Refusal(411, str(LENGTH_REQUIRED))
    declared = (request.META.get("CONTENT_LENGTH") or "").strip()
    if not declared:
        return None
    if not declared.isascii() or not declared.isdigit():
        return Refusal(400, str(BAD_LENGTH))
    if int(declared) > app_settings.MAX_REQUEST_BYTES:
        return Refusal(413, str(TOO_LARGE))
    return None


def plain_text(refusal: Refusal) -> HttpResponse:
    return HttpResponse(refusal.message, status=refusal.status, content_type="text/plain; charset=utf-8")


def guard_request(*, csrf: bool, answer: Callable[[Refusal], HttpResponse] = plain_text) -> Callable:
    """Decorator for a view (or, through ``method_decorator``, a class-based view's ``dispatch``).

    The view becomes CSRF-exempt, so that ``CsrfViewMiddleware`` does not read the body first; the
    wrapper answers :func:`request_refusal`'s refusals with ``answer(refusal)``, and then, with
    ``csrf=True``, runs the view under ``csrf_protect``: the same checks, the same 403 page and the same
    cookie handling as the middleware.
    """

    def decorate(view: Callable) -> Callable:
        checked = csrf_protect(view) if csrf else view

        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refusal = request_refusal(request)
            if refusal is not None:
                return answer(refusal)
            return checked(request, *args, **kwargs)

        return csrf_exempt(guarded)

    return decorate
