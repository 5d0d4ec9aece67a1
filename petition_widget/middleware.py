"""A WSGI middleware a host wraps its application in: a request in an unreadable character set is a 400.

Django takes the ``charset`` of the ``Content-Type`` header as the encoding of the query string and of a
form body. With a bytes-to-bytes codec (``rot13``, ``hex``, ``bz2_codec``) and any query string it
raises while it builds the request: ``WSGIRequest.__init__`` sets ``request.encoding``, whose setter
evaluates ``request.GET``, which decodes the query string with that codec and raises ``LookupError``.
That happens before any entry of ``MIDDLEWARE`` runs, so every URL of the site answers 500; only a
wrapper around the WSGI application can answer first. In the host's ``wsgi.py``::

    from petition_widget.middleware import RequestEncodingMiddleware

    application = RequestEncodingMiddleware(get_wsgi_application())

The app's own views refuse such requests by themselves (see :mod:`petition_widget.guards`) whenever
Django gets as far as calling them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from .guards import charset_refusal


class RequestEncodingMiddleware:
    """Answers 400 to a request whose ``Content-Type`` names a character set Django cannot decode with."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        refusal = charset_refusal(environ.get("CONTENT_TYPE", ""))
        if refusal is None:
            return self.application(environ, start_response)
        status = HTTPStatus(refusal.status)
        body = refusal.message.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        start_response(f"{status.value} {status.phrase}", headers)
        return [body]
