"""Workers as separate processes (``manage.py forward_signatures``) on the test database.

On PostgreSQL the workers claim with SELECT ... FOR UPDATE SKIP LOCKED; on SQLite with a conditional
UPDATE. Both must keep two live workers from sending one signature twice, and both must let a killed
worker's rows be taken over once its lease has expired.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from petition_widget.models import ForwardAttempt, ForwardingState, Signature
from tests.factories import make_signatures
from tests.forwarding_support import (
    CHANGEORG_ID,
    forwarding_settings,
    start_worker,
    states,
    stop_worker,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_never_send_a_signature_twice(upstream, changeorg, tmp_path):
    make_signatures(changeorg, 300)
    # Slow enough (about 11 s of sending for one worker) that the second worker's start-up on a loaded
    # machine is short beside it, so both really share the backlog.
    upstream.faults(latency_ms=150)
    env = worker_env(forwarding_settings(upstream))
    workers = [
        start_worker(
            env, "--once", "--concurrency", "4", "--batch-size", "10", "--worker-id", name, log=tmp_path / name
        )
        for name in ("alpha", "beta")
    ]
    codes = [worker.wait(timeout=300) for worker in workers]
    for worker in workers:
        worker.log_file.close()

    assert codes == [0, 0], [(tmp_path / name).read_text()[-3000:] for name in ("alpha", "beta")]
    assert states() == {ForwardingState.SENT: 300}
    # One try per signature: no row was ever sent by both.
    assert ForwardAttempt.objects.count() == 300
    assert set(ForwardAttempt.objects.values_list("outcome", flat=True)) == {"sent"}
    by_worker = Counter(ForwardAttempt.objects.values_list("worker", flat=True))
    assert set(by_worker) == {"alpha", "beta"}, by_worker  # both really worked the same backlog
    received = upstream.received(CHANGEORG_ID)
    assert len(received) == 300 and not any(r["duplicate"] for r in received)
    assert upstream.stats()["duplicates"] == 0


def test_a_killed_worker_loses_nothing_once_its_lease_has_passed(upstream, changeorg, tmp_path):
    make_signatures(changeorg, 60)
    upstream.faults(latency_ms=300)
    lease = 6.0
    env = worker_env(forwarding_settings(upstream, LEASE_SECONDS=lease))
    victim = start_worker(env, "--concurrency", "4", "--batch-size", "20", "--worker-id", "victim", log=tmp_path / "v")
    wait_until(lambda: ForwardAttempt.objects.filter(worker="victim").count() >= 8, timeout=60, what="some sends")

    assert stop_worker(victim, signal.SIGKILL) == -signal.SIGKILL
    stuck = set(
        Signature.objects.filter(state=ForwardingState.SENDING, leased_by="victim").values_list("pk", flat=True)
    )
    assert stuck  # it died holding claimed rows, some of them in the middle of a request

    upstream.faults(latency_ms=0)
    heir = start_worker(env, "--concurrency", "4", "--poll-interval", "0.2", "--worker-id", "heir", log=tmp_path / "h")
    try:
        wait_until(lambda: states() == {ForwardingState.SENT: 60}, timeout=120, what="every signature sent")
    finally:
        assert stop_worker(heir) == 0, (tmp_path / "h").read_text()[-3000:]

    assert set(ForwardAttempt.objects.filter(signature__in=stuck).values_list("worker", flat=True)) >= {"heir"}
    # Requests cut off by the kill had reached the emulator: sent again, they came back "already signed".
    received = upstream.received(CHANGEORG_ID)
    assert len([r for r in received if not r["duplicate"]]) == 60
    assert {r["fields"]["email"] for r in received} == set(Signature.objects.values_list("email", flat=True))
    assert upstream.stats()["accepted"] == 60
    assert ForwardAttempt.objects.filter(outcome="duplicate").count() == upstream.stats()["duplicates"]


def test_sigterm_finishes_what_is_in_flight_and_releases_the_rest(upstream, changeorg, tmp_path):
    make_signatures(changeorg, 40)
    upstream.faults(latency_ms=300)
    env = worker_env(forwarding_settings(upstream))
    worker = start_worker(env, "--concurrency", "2", "--batch-size", "40", "--worker-id", "calm", log=tmp_path / "w")
    wait_until(lambda: ForwardAttempt.objects.exists(), timeout=60, what="a first send")

    assert stop_worker(worker, signal.SIGTERM) == 0
    output = (tmp_path / "w").read_text()
    assert "Forwarding worker calm stopped" in output

    counts = states()
    assert ForwardingState.SENDING not in counts
    assert counts[ForwardingState.SENT] == ForwardAttempt.objects.count() == len(upstream.received(CHANGEORG_ID))
    assert counts[ForwardingState.PENDING] > 0
    assert not Signature.objects.exclude(leased_by="").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--concurrency", "0"],
        ["--concurrency", "65"],
        ["--batch-size", "0"],
        ["--batch-size", "many"],
        ["--worker-id", "x" * 65],
        ["--poll-interval", "0"],
    ],
)
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        call_command("forward_signatures", "--once", *args)


def test_once_drains_and_reports(upstream, changeorg, capsys):
    make_signatures(changeorg, 3)
    call_command("forward_signatures", "--once", "--worker-id", "reporter")
    out = capsys.readouterr().out
    assert "Forwarding worker reporter stopped: claimed 3, sent 3." in out
    assert states() == {ForwardingState.SENT: 3}
