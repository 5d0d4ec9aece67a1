"""Chaos in the suite: 1,000 signatures posted through the sign endpoint over HTTP while two worker
processes forward them to an emulator that fails 30% of requests, holds back 10% past the client's
timeout and goes down for 20 seconds; one worker is SIGKILLed and replaced midway.

Once drained, the emulator must hold exactly one accepted signature per local row, and every local row
must be sent: none failed, none lost, none twice. bench/chaos.py runs the same scenario with 10,000.
"""

from __future__ import annotations

import pytest

from bench.chaos import WORKER_SETTINGS, run_chaos
from petition_widget.emulator.client import EmulatorClient
from petition_widget.models import ForwardAttempt, Provider, Signature
from tests.forwarding_support import (
    CHANGEORG_ID,
    forwarding_settings,
    local_petition,
    start_worker,
    states,
    stop_worker,
    worker_env,
)

SIGNATURES = 1000


@pytest.mark.chaos
@pytest.mark.django_db(transaction=True)
def test_chaos_loses_nothing_and_sends_nothing_twice(settings, emulator, live_server, tmp_path):
    settings.PETITION_WIDGET = forwarding_settings(emulator)
    petition = local_petition(Provider.CHANGEORG, CHANGEORG_ID, slug="chaos")
    env = worker_env(forwarding_settings(emulator, **WORKER_SETTINGS))
    started = []

    def start(name: str):
        process = start_worker(
            env, "--worker-id", name, "--concurrency", "8", "--batch-size", "20", log=tmp_path / name
        )
        started.append(process)
        return process

    try:
        result = run_chaos(
            site_url=live_server.url,
            slug=petition.slug,
            emulator=EmulatorClient(emulator.url, timeout=30),
            petition_id=CHANGEORG_ID,
            count=SIGNATURES,
            start_worker=start,
            local_states=states,
            local_emails=lambda: set(Signature.objects.values_list("email", flat=True)),
            attempts=lambda: ForwardAttempt.objects.count(),
            deadline_seconds=240,
            log=lambda line: None,
        )
    finally:
        for process in started:
            stop_worker(process)
    report = result.report()
    print(report)

    assert result.posted == SIGNATURES, report
    assert result.local == {"sent": SIGNATURES}, report
    assert result.accepted == result.stored == SIGNATURES, report
    assert (result.missing_upstream, result.extra_upstream, result.stored_twice) == (0, 0, 0), report
    # The chaos happened: faults were injected, the outage was met, the killed worker died by SIGKILL and
    # the others stopped cleanly.
    assert result.injected_errors > 0 and result.down_answers > 0 and result.delayed_answers > 0, report
    assert result.exit_codes[0] == -9 and result.exit_codes[1:] == [0, 0], report
    assert result.attempts > SIGNATURES, report
