"""The forwarding worker end to end, in this process: signatures claimed from the database, sent over
HTTP to the emulator on loopback, and moved on according to the answer."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.utils import timezone

from petition_widget import lifecycle
from petition_widget.forwarding.retry import RetryPolicy
from petition_widget.forwarding.worker import Worker, WorkerOptions
from petition_widget.models import ForwardAttempt, ForwardingState, Petition, Provider, Signature
from petition_widget.ratelimit import RateLimiter, limit_key
from tests.factories import make_signatures
from tests.forwarding_support import (
    CHANGEORG_ID,
    WETHEPEOPLE_ID,
    local_petition,
    states,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wethepeople(upstream):
    return local_petition(Provider.WETHEPEOPLE, WETHEPEOPLE_ID)


def drain(**options) -> dict[str, int]:
    """Run a worker in this process until nothing is due; its counts."""
    values = {"worker_id": "test-worker", "concurrency": 2, "batch_size": 5, "once": True, "lease_seconds": 30.0}
    policy = options.pop("policy", None) or RetryPolicy(max_attempts=3, base_seconds=1e-6, max_seconds=1e-6)
    return dict(Worker(WorkerOptions(**(values | options)), policy=policy).run())


def make_due(petition: Petition) -> None:
    petition.signatures.filter(state=ForwardingState.PENDING).update(next_attempt_at=timezone.now())


def test_signatures_reach_both_upstreams(changeorg, wethepeople, upstream):
    make_signatures(changeorg, 7, prefix="co")
    make_signatures(wethepeople, 5, prefix="wtp")

    counts = drain()

    assert counts == {"claimed": 12, "sent": 12}
    assert states() == {ForwardingState.SENT: 12}
    received = upstream.received()
    assert sorted(r["fields"]["email"] for r in received if r["petition_id"] == CHANGEORG_ID) == sorted(
        f"co-{n}@example.org" for n in range(7)
    )
    assert sorted(r["fields"]["email"] for r in received if r["petition_id"] == WETHEPEOPLE_ID) == sorted(
        f"wtp-{n}@example.org" for n in range(5)
    )
    signature = Signature.objects.get(email="co-0@example.org")
    assert signature.attempts == 1 and signature.forwarded_at is not None
    assert signature.leased_by == "" and signature.lease_expires_at is None
    attempt = signature.forward_attempts.get()
    assert (attempt.outcome, attempt.http_status, attempt.worker) == ("sent", 202, "test-worker")
    assert attempt.duration_ms >= 0 and attempt.started_at <= signature.forwarded_at
    assert ForwardAttempt.objects.get(signature__email="wtp-0@example.org").http_status == 200


def test_server_errors_back_off_then_succeed(changeorg, upstream):
    (signature,) = make_signatures(changeorg, 1)
    upstream.faults(error_rate=1.0)
    before = timezone.now()

    assert drain(policy=RetryPolicy(max_attempts=5, base_seconds=60, max_seconds=60)) == {"claimed": 1, "pending": 1}

    signature.refresh_from_db()
    assert signature.state == ForwardingState.PENDING and signature.attempts == 1
    assert before < signature.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    assert signature.last_error.startswith("HTTP 500")
    attempt = signature.forward_attempts.get()
    assert (attempt.outcome, attempt.http_status) == ("retry", 500)
    # Not due yet: another pass leaves it alone.
    assert drain() == {}

    upstream.faults(error_rate=0.0)
    make_due(changeorg)
    assert drain() == {"claimed": 1, "sent": 1}
    signature.refresh_from_db()
    assert signature.state == ForwardingState.SENT and signature.attempts == 2 and signature.last_error == ""
    assert [a.outcome for a in signature.forward_attempts.all()] == ["retry", "sent"]


def test_maximum_attempts_mark_the_signature_failed(wethepeople, upstream):
    (signature,) = make_signatures(wethepeople, 1)
    upstream.faults(down=True)
    policy = RetryPolicy(max_attempts=3, base_seconds=1e-6, max_seconds=1e-6)

    counts = drain(policy=policy)

    signature.refresh_from_db()
    assert counts == {"claimed": 3, "pending": 2, "failed": 1}
    assert signature.state == ForwardingState.FAILED and signature.attempts == 3
    assert signature.next_attempt_at is None and signature.last_error == "HTTP 503, no JSON envelope"
    assert signature.forward_attempts.count() == 3
    assert Signature.objects.count() == 1  # kept, never dropped


def test_a_refused_signature_is_rejected_with_the_upstream_messages(upstream, changeorg):
    (signature,) = make_signatures(changeorg, 1, postal_code="", country_code="")

    assert drain() == {"claimed": 1, "rejected": 1}

    signature.refresh_from_db()
    assert signature.state == ForwardingState.REJECTED and signature.attempts == 1
    assert "postal_code is required" in signature.last_error and "country_code is required" in signature.last_error
    assert signature.forward_attempts.get().message == signature.last_error


def test_already_signed_upstream_counts_as_sent(upstream, changeorg):
    first, second = make_signatures(changeorg, 2)
    assert drain() == {"claimed": 2, "sent": 2}
    # The same rows sent again (as after a lost answer): the upstream says "already signed".
    Signature.objects.update(state=ForwardingState.PENDING, next_attempt_at=None)

    assert drain() == {"claimed": 2, "sent": 2}

    assert states() == {ForwardingState.SENT: 2}
    assert list(first.forward_attempts.values_list("outcome", "http_status")) == [("sent", 202), ("duplicate", 400)]
    assert upstream.stats()["accepted"] == 2 and upstream.stats()["duplicates"] == 2


def test_refused_credentials_pause_the_petition_and_resume_forwards(settings, upstream, changeorg, wethepeople):
    held, waiting = make_signatures(changeorg, 2, prefix="co")
    make_signatures(wethepeople, 2, prefix="wtp")
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_SECRET": "wrong-secret"}

    counts = drain(concurrency=1, batch_size=1)

    changeorg.refresh_from_db()
    assert changeorg.forwarding_paused_at is not None
    assert changeorg.forwarding_paused_reason == "HTTP 401 credentials refused: rsig is invalid"
    assert "wrong-secret" not in changeorg.forwarding_paused_reason
    held.refresh_from_db()
    assert held.state == ForwardingState.HELD and held.attempts == 0
    assert held.forward_attempts.get().outcome == "held"
    # The rest of the paused petition waits untouched; the other petition goes on.
    assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.PENDING
    assert states(changeorg) == {ForwardingState.HELD: 1, ForwardingState.PENDING: 1}
    assert states(wethepeople) == {ForwardingState.SENT: 2}
    # The second row had been claimed with the first: it is given back, not sent with refused credentials.
    assert counts == {"claimed": 4, "held": 1, "released": 1, "sent": 2}
    assert upstream.stats()["auth_failures"] == 1
    assert drain() == {}

    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_SECRET": upstream.secret}
    assert lifecycle.resume_petitions([changeorg.pk]) == (1, 1)
    assert drain() == {"claimed": 2, "sent": 2}
    assert states(changeorg) == {ForwardingState.SENT: 2}
    held.refresh_from_db()
    assert held.attempts == 1


def test_a_revoked_auth_key_pauses_the_petition(upstream, changeorg):
    make_signatures(changeorg, 1)
    upstream.control(
        "POST", "auth_keys/revoke", json={"petition_id": CHANGEORG_ID, "source": changeorg.auth_key_source}
    )

    drain()

    changeorg.refresh_from_db()
    assert changeorg.forwarding_paused_reason == "HTTP 403 credentials refused: authorization key has been revoked"
    assert states(changeorg) == {ForwardingState.HELD: 1}


def test_missing_credentials_pause_without_a_request(settings, upstream, wethepeople):
    make_signatures(wethepeople, 1)
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_KEY": ""}
    requests_before = upstream.stats()["requests"]

    drain()

    wethepeople.refresh_from_db()
    assert wethepeople.forwarding_paused_reason.startswith("Configuration: We the People needs WETHEPEOPLE_API_KEY")
    assert upstream.stats()["requests"] == requests_before
    assert states(wethepeople) == {ForwardingState.HELD: 1}


def test_a_rate_limited_answer_waits_retry_after_without_spending_an_attempt(upstream, wethepeople):
    first, second = make_signatures(wethepeople, 2)
    upstream.faults(rate_limit=1)
    before = timezone.now()

    drain(concurrency=1, policy=RetryPolicy(max_attempts=3, base_seconds=1e-6, max_seconds=1e-6))

    second.refresh_from_db()
    assert Signature.objects.get(pk=first.pk).state == ForwardingState.SENT
    assert second.state == ForwardingState.PENDING and second.attempts == 0
    # The emulator asks for the rest of its minute: far longer than the policy's backoff.
    assert second.next_attempt_at >= before + timedelta(seconds=50)
    assert second.forward_attempts.get().http_status == 429


def test_a_lost_answer_is_retried_and_absorbed_as_already_signed(upstream, changeorg):
    (signature,) = make_signatures(changeorg, 1)
    upstream.faults(timeout_rate=1.0)
    drain(policy=RetryPolicy(max_attempts=3, base_seconds=60, max_seconds=60))
    signature.refresh_from_db()
    assert signature.state == ForwardingState.PENDING and "did not answer" in signature.last_error

    upstream.faults(timeout_rate=0.0)
    make_due(changeorg)
    drain()

    signature.refresh_from_db()
    assert signature.state == ForwardingState.SENT
    assert [a.outcome for a in signature.forward_attempts.all()] == ["retry", "duplicate"]
    assert [r["duplicate"] for r in upstream.received()] == [False]


def test_claims_take_expired_leases_and_skip_live_ones_and_paused_petitions(upstream, changeorg, wethepeople):
    now = timezone.now()
    abandoned, live, later = make_signatures(changeorg, 3)
    Signature.objects.filter(pk=abandoned.pk).update(
        state=ForwardingState.SENDING, leased_by="dead", lease_expires_at=now - timedelta(seconds=1)
    )
    Signature.objects.filter(pk=live.pk).update(
        state=ForwardingState.SENDING, leased_by="alive", lease_expires_at=now + timedelta(seconds=60)
    )
    Signature.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(seconds=60))
    (paused,) = make_signatures(wethepeople, 1)
    lifecycle.pause_petition(wethepeople.pk, "test")

    claimed = lifecycle.claim("me", 10, lease_seconds=30)

    assert [s.pk for s in claimed] == [abandoned.pk]
    abandoned.refresh_from_db()
    assert abandoned.leased_by == "me" and abandoned.lease_expires_at > now + timedelta(seconds=25)
    assert lifecycle.claim("other", 10, lease_seconds=30) == []


def test_a_lost_lease_does_not_overwrite_the_new_holder(upstream, changeorg):
    (signature,) = make_signatures(changeorg, 1)
    (mine,) = lifecycle.claim("slow", 1, lease_seconds=30)
    Signature.objects.filter(pk=signature.pk).update(leased_by="fast")
    policy = RetryPolicy()
    from petition_widget.providers.base import Outcome, SubmitResult

    result = SubmitResult(Outcome.SENT, http_status=202, detail="HTTP 202 accepted")
    decision = policy.decide(result, attempts=0, now=timezone.now())

    assert not lifecycle.record(mine, result, decision, worker_id="slow", started_at=timezone.now(), duration=0.1)

    signature.refresh_from_db()
    assert (signature.state, signature.leased_by) == (ForwardingState.SENDING, "fast")
    assert signature.forward_attempts.get().worker == "slow"


def test_a_stopping_worker_releases_what_it_has_not_sent(upstream, wethepeople):
    make_signatures(wethepeople, 20)
    upstream.faults(latency_ms=300)
    worker = Worker(
        WorkerOptions(worker_id="stopping", concurrency=2, batch_size=20, lease_seconds=30, poll_interval=0.1),
        policy=RetryPolicy(),
        limiter=RateLimiter(),
    )
    import threading

    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        from tests.forwarding_support import wait_until

        wait_until(lambda: ForwardAttempt.objects.exists(), timeout=30, what="a first forward")
    finally:
        worker.stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    counts = states()
    assert ForwardingState.SENDING not in counts
    assert counts[ForwardingState.SENT] == ForwardAttempt.objects.count() == worker.stats["sent"]
    assert counts[ForwardingState.PENDING] == worker.stats["released"] == 20 - worker.stats["sent"] > 0
    assert len(upstream.received()) == worker.stats["sent"]


def test_worker_ids_and_random_are_injectable(upstream, changeorg):
    make_signatures(changeorg, 1)
    upstream.faults(error_rate=1.0)
    policy = RetryPolicy(max_attempts=3, base_seconds=100, max_seconds=100, random=random.Random(7))
    expected = random.Random(7).uniform(0, 100)
    start = timezone.now()

    drain(worker_id="named", policy=policy)

    signature = Signature.objects.get()
    assert signature.forward_attempts.get().worker == "named"
    delay = (signature.next_attempt_at - start).total_seconds()
    assert expected - 1 < delay <= expected + 1


def test_the_environment_is_read_once_per_client(monkeypatch):
    from petition_widget.forwarding.worker import freeze_environment
    from petition_widget.providers import WeThePeopleProvider

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    remote = WeThePeopleProvider(api_url="https://api.example/v1", api_key="k", timeout=1)
    internal = WeThePeopleProvider(api_url="https://internal.example/v1", api_key="k", timeout=1)

    freeze_environment(remote)
    freeze_environment(internal)

    assert not remote.session.trust_env and not internal.session.trust_env
    assert remote.session.proxies.get("https") == "http://proxy.example:3128"
    assert "https" not in internal.session.proxies
    assert remote.session.verify == "/etc/ssl/bundle.pem"


# --- a petition sync counts against the upstream's limit ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("room", [True, False], ids=["room", "limit-full"])
def test_a_petition_sync_takes_a_slot_of_the_upstream_limit_or_waits_a_round(changeorg, upstream, settings, room):
    """The upstream counts a petition read as it counts a signature: a sync takes a slot of the same shared
    limit, and with the limit full (a backlog draining) it is not made at all rather than refused with 429."""
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "RATE_LIMITS": {"changeorg": 5, "wethepeople": 0}}
    limiter = RateLimiter(LocMemCache(f"sync-slot-{room}", {}))
    key = limit_key(Provider.CHANGEORG, upstream.api_key)
    if not room:
        for _ in range(5):
            assert limiter.try_acquire(key, 5) == 0
    Petition.objects.filter(pk=changeorg.pk).update(signature_count=0, synced_at=timezone.now() - timedelta(hours=1))
    requests_before = upstream.stats()["requests"]
    worker = Worker(
        WorkerOptions(worker_id="sync-slot", concurrency=1, poll_interval=0.1, sync_interval=60), limiter=limiter
    )
    original = worker._sync_petitions

    def sync_then_stop():
        original()
        worker.stop()

    worker._sync_petitions = sync_then_stop
    stats = worker.run()

    changeorg.refresh_from_db()
    if room:
        assert stats["petitions synced"] == 1 and changeorg.signature_count > 0
        assert upstream.stats()["requests"] == requests_before + 1
        assert limiter.count(key) == 1
    else:
        assert stats["petition syncs deferred (rate limit)"] == 1 and "petitions synced" not in stats
        assert changeorg.signature_count == 0
        assert upstream.stats()["requests"] == requests_before
        assert limiter.count(key) == 5
        assert upstream.stats()["rate_limited"] == 0
