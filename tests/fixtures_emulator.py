"""Fixtures serving the upstream emulator on loopback: one server a session, its state reset for every test."""

from __future__ import annotations

import pytest

from petition_widget.emulator.client import EmulatorClient
from petition_widget.emulator.server import EmulatorServer
from petition_widget.emulator.state import EmulatorState

# tests/settings.py gives the client the same credentials.
EMULATOR_API_KEY = "test-api-key"
EMULATOR_SECRET = "test-secret"
# Short, so that a test of the timeout fault does not keep a server thread busy for long.
EMULATOR_TIMEOUT_SECONDS = 2.0
CONTROL_TIMEOUT = 10


class Emulator(EmulatorClient):
    """A running emulator as a test sees it: the control client, the credentials and the in-process state."""

    def __init__(self, url: str, *, api_key: str, secret: str, state: EmulatorState) -> None:
        super().__init__(url, timeout=CONTROL_TIMEOUT)
        self.api_key = api_key
        self.secret = secret
        self.state = state


@pytest.fixture(scope="session")
def emulator_server():
    server = EmulatorServer(
        port=0,
        api_key=EMULATOR_API_KEY,
        secret=EMULATOR_SECRET,
        timeout_seconds=EMULATOR_TIMEOUT_SECONDS,
        seed=0,
        # We the People signers validate at once unless a test asks otherwise (POST /_emulator/wethepeople).
        validation_delay=0.0,
        never_validate=0.0,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server) -> Emulator:
    handle = Emulator(
        url=emulator_server.url, api_key=EMULATOR_API_KEY, secret=EMULATOR_SECRET, state=emulator_server.state
    )
    handle.reset()
    return handle
