"""Fixtures serving the upstream emulator on loopback: one server a session, its state reset for every test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests

from petition_widget.emulator.server import EmulatorServer
from petition_widget.emulator.state import EmulatorState

# tests/settings.py gives the client the same credentials.
EMULATOR_API_KEY = "test-api-key"
EMULATOR_SECRET = "test-secret"
# Short, so that a test of the timeout fault does not keep a server thread busy for long.
EMULATOR_TIMEOUT_SECONDS = 2.0
CONTROL_TIMEOUT = 10


@dataclass
class Emulator:
    """A running emulator as a test sees it: its URLs, credentials, state and control calls."""

    url: str
    api_key: str
    secret: str
    state: EmulatorState

    @property
    def changeorg_url(self) -> str:
        return f"{self.url}/changeorg/v1"

    @property
    def wethepeople_url(self) -> str:
        return f"{self.url}/wethepeople/v1"

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.url}/_emulator/{path}", timeout=CONTROL_TIMEOUT, **kwargs)
        response.raise_for_status()
        return response

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Change some faults (error_rate, timeout_rate, latency_ms, down, rate_limit, timeout_seconds)."""
        return self.control("POST", "faults", json=changes).json()

    def reset(self) -> None:
        self.control("POST", "reset")

    def stats(self) -> dict[str, int]:
        return self.control("GET", "stats").json()

    def received(self, petition_id: str | int | None = None) -> list[dict[str, Any]]:
        """The signatures the emulator received, oldest first, each with all its fields."""
        params = {"petition_id": petition_id} if petition_id is not None else {}
        return self.control("GET", "signatures", params=params).json()["signatures"]


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
