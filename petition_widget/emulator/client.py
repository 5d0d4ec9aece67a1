"""A client for the emulator's control endpoints (``_emulator/``), for tests, benchmarks and scripts.

    emulator = EmulatorClient("http://127.0.0.1:8001")
    emulator.faults(error_rate=0.3)        # the faults now in force
    emulator.received("1001")              # what the emulator was sent for petition 1001

Every call raises ``requests.HTTPError`` when the emulator answers with an error status, and
``requests.RequestException`` when it does not answer.
"""

from __future__ import annotations

from typing import Any

import requests

CONTROL_PATH = "_emulator"


class EmulatorClient:
    """The control endpoints of the emulator served at ``url`` (its root: the standalone server's URL, or the
    prefix it is mounted under in a site)."""

    def __init__(self, url: str, *, timeout: float = 10) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    @property
    def changeorg_url(self) -> str:
        """The base URL of the emulated Change.org API (``CHANGEORG_API_URL``)."""
        return f"{self.url}/changeorg/v1"

    @property
    def wethepeople_url(self) -> str:
        """The base URL of the emulated We the People API (``WETHEPEOPLE_API_URL``)."""
        return f"{self.url}/wethepeople/v1"

    def control_url(self, path: str) -> str:
        """The URL of one control endpoint: ``stats``, ``signatures``, ``faults``, ``reset``, ``petitions``, …"""
        return f"{self.url}/{CONTROL_PATH}/{path}"

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The answer of one control endpoint (``path`` below ``_emulator/``); ``kwargs`` go to requests."""
        kwargs.setdefault("timeout", self.timeout)
        response = requests.request(method, self.control_url(path), **kwargs)
        response.raise_for_status()
        return response

    def stats(self) -> dict[str, int]:
        """The counters since the last reset (accepted, duplicates, injected_errors, down_answers, …)."""
        return self.control("GET", "stats").json()

    def received(self, petition_id: str | int | None = None) -> list[dict[str, Any]]:
        """The signatures the emulator received (not the seeded ones), oldest first, each with all its fields
        (``seq``, ``provider``, ``petition_id``, ``received_at``, ``hidden``, ``duplicate``, ``fields``)."""
        params = {"petition_id": petition_id} if petition_id is not None else {}
        return self.control("GET", "signatures", params=params).json()["signatures"]

    def petitions(self, provider: str | None = None) -> list[dict[str, Any]]:
        """The seeded and created petitions (of one provider, if given), each as a summary with its count."""
        params = {"provider": provider} if provider else {}
        return self.control("GET", "petitions", params=params).json()["petitions"]

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Change some faults (error_rate, timeout_rate, latency_ms, down, rate_limit, timeout_seconds); all
        the faults now in force. Nothing changes when one value is refused."""
        return self.control("POST", "faults", json=changes).json()

    def reset(self) -> None:
        """Back to the seeded petitions, no signatures received, and the faults the server started with."""
        self.control("POST", "reset")
