"""Helpers shared by the forwarding tests: local petitions tied to the emulator, worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.urls import reverse

from petition_widget.models import Petition, Provider, Signature
from petition_widget.providers import get_provider

REPO = Path(__file__).resolve().parent.parent
SITE_URL = "http://127.0.0.1:8000"
CHANGEORG_ID = "1001"
WETHEPEOPLE_ID = "2001"


def forwarding_settings(emulator, **extra: Any) -> dict[str, Any]:
    """PETITION_WIDGET pointing both clients at the emulator, with short timeouts and quick retries."""
    return {
        "SITE_URL": SITE_URL,
        "CHANGEORG_API_URL": emulator.changeorg_url,
        "CHANGEORG_API_KEY": emulator.api_key,
        "CHANGEORG_SECRET": emulator.secret,
        "WETHEPEOPLE_API_URL": emulator.wethepeople_url,
        "WETHEPEOPLE_API_KEY": emulator.api_key,
        "REQUESTER_EMAIL": "owner@blog.example",
        "HTTP_TIMEOUT": 1.0,
        "LEASE_SECONDS": 30.0,
        "BACKOFF_BASE_SECONDS": 0.05,
        "BACKOFF_MAX_SECONDS": 0.2,
        "POLL_INTERVAL": 0.2,
        "RATE_LIMITS": {"changeorg": 0, "wethepeople": 0},
        # The signing form's abuse checks stay off, as for the rest of the suite (tests/settings.py): these
        # tests post many signatures from one address, at once.
        "SIGN_MIN_SECONDS": 0,
        "SIGN_LIMIT_PER_IP": 0,
        "SIGN_LIMIT_PER_PETITION": 0,
        **extra,
    }


def local_petition(provider: str, upstream_id: str, *, slug: str | None = None) -> Petition:
    """A local petition filled from the emulator, with a granted auth key for Change.org (the settings must
    already point at the emulator)."""
    slug = slug or f"{provider}-{upstream_id}"
    with get_provider(provider) as client:
        data = client.fetch_petition(upstream_id)
        petition = Petition(provider=provider, slug=slug, **data.model_fields())
        if provider == Provider.CHANGEORG:
            source = SITE_URL + reverse("petition_widget:sign", kwargs={"slug": slug})
            grant = client.request_auth_key(upstream_id, source=source)
            petition.auth_key, petition.auth_key_status, petition.auth_key_source = (
                grant.auth_key,
                grant.status,
                grant.source,
            )
    petition.save()
    return petition


def states(petition: Petition | None = None) -> dict[str, int]:
    """How many signatures are in each forwarding state."""
    queryset = Signature.objects.all() if petition is None else petition.signatures.all()
    return dict(queryset.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n"))


def counters(petition: Petition) -> tuple[int, int]:
    """The petition's local and public signature counters, as stored now."""
    petition.refresh_from_db()
    return petition.local_signature_count, petition.public_signature_count


def database_url() -> str:
    """The URL of the test database the current test runs on, for worker processes."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"


def worker_env(petition_widget: dict[str, Any]) -> dict[str, str]:
    """The environment of a worker process: the test database, and these PETITION_WIDGET settings."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "DATABASE_URL": database_url(),
        "PETITION_WIDGET_JSON": json.dumps(petition_widget),
        "PYTHONPATH": str(REPO),
    }


def start_worker(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    """``manage.py forward_signatures`` in its own process, its output written to ``log``."""
    out = open(log, "ab")  # noqa: SIM115  (closed with the process, in stop_worker)
    process = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "forward_signatures", *args],
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    process.log_file = out  # type: ignore[attr-defined]
    return process


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    finally:
        process.log_file.close()  # type: ignore[attr-defined]


def wait_until(condition, *, timeout: float, interval: float = 0.2, what: str = "the condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds (a guard against
    hanging, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} seconds")
        time.sleep(interval)


@pytest.fixture
def upstream(settings, emulator):
    """The app pointed at the test emulator, with forwarding settings fit for tests."""
    settings.PETITION_WIDGET = forwarding_settings(emulator)
    return emulator


@pytest.fixture
def changeorg(upstream):
    """The local copy of the emulator's open Change.org petition."""
    return local_petition(Provider.CHANGEORG, CHANGEORG_ID)
