"""Fault injection around every API view: down, latency, rate limit, server errors and held-back answers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .conf import default_state
from .state import EmulatorState

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

# What a CDN in front of an API answers when the origin is away: HTML, not the API's JSON.
_CDN_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cdn-edge</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


def cdn_page(status: int) -> HttpResponse:
    """A non-JSON error page as a CDN in front of the API would send it."""
    return HttpResponse(
        _CDN_PAGE.format(status=status, reason=_REASONS[status]),
        status=status,
        content_type="text/html; charset=utf-8",
    )


def state_of(request: HttpRequest) -> EmulatorState:
    """The state serving this request: the standalone server's, or the module default when mounted in a site."""
    return getattr(request, "emulator_state", None) or default_state()


@dataclass(frozen=True)
class ApiFaults:
    """How one provider answers an injected failure."""

    name: str
    # The caller's API key, for the rate limit ("" when it sent none).
    api_key_of: Callable[[HttpRequest], str]
    # The injected server error number n (they cycle through the provider's kinds).
    server_error: Callable[[int], HttpResponse]
    too_many_requests: Callable[[int], HttpResponse]


def api_view(provider: ApiFaults) -> Callable[[View], View]:
    """Wrap an API view in the configured faults, in the order a real outage would be met.

    Latency first (every answer is late), then ``down``, the rate limit and random server errors, which
    all answer without processing. A "timeout" processes the request normally and then holds the answer
    back, so that the client gives up after the upstream already stored the signature.
    """

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            state = state_of(request)
            state.count("requests")
            faults = state.faults
            state.sleep(faults.latency_ms / 1000)
            if faults.down:
                state.count("injected_errors")
                state.count("down_answers")
                return cdn_page(503)
            retry_after = state.admit(provider.api_key_of(request))
            if retry_after is not None:
                state.count("rate_limited")
                logger.info("Emulator %s rate limit reached; retry after %ss", provider.name, retry_after)
                response = provider.too_many_requests(int(retry_after))
                response["Retry-After"] = str(int(retry_after))
                return response
            if state.chance(faults.error_rate):
                state.count("injected_errors")
                return provider.server_error(state.next_injected_error())
            response = view(request, *args, **kwargs)
            if state.chance(faults.timeout_rate):
                state.count("delayed_answers")
                logger.info("Emulator %s holds an answer back for %ss", provider.name, faults.timeout_seconds)
                state.sleep(faults.timeout_seconds)
            return response

        return wrapped

    return decorate
