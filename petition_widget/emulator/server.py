"""Serving the emulator on its own: a WSGI handler bound to one state, and a threaded server around it."""

from __future__ import annotations

import logging
import threading

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpRequest, HttpResponse

from .state import EmulatorState

logger = logging.getLogger(__name__)

URLCONF = "petition_widget.emulator.urls"


class EmulatorHandler(WSGIHandler):
    """Serves only the emulator's URLs, with the given state, and none of the host site's middleware.

    The host's middleware (sessions, CSRF, host validation) is for the host's pages; an upstream API has none.
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def get_response(self, request: HttpRequest) -> HttpResponse:
        request.urlconf = URLCONF
        request.emulator_state = self.state
        return super().get_response(request)


class _RequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        # The request line only: paths and statuses, never a body.
        logger.debug("%s - %s", self.address_string(), format % args)


class EmulatorServer:
    """The emulator in a background thread (for tests and scripts): ``start()``, ``url``, ``stop()``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state: EmulatorState | None = None, **options):
        self.host = host
        self.port = port
        self.state = state if state is not None else EmulatorState(**options)
        self._server: ThreadedWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the emulator server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        server = ThreadedWSGIServer((self.host, self.port), _RequestHandler, ipv6=":" in self.host)
        server.set_app(EmulatorHandler(self.state))
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"upstream-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Upstream emulator serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving; answers held back by a timeout fault are released at once."""
        if self._server is None:
            return
        self.state.close()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        logger.info("Upstream emulator on port %s stopped", self.port)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
