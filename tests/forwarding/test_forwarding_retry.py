"""The retry policy on its own: a frozen value, attempts and an answer in, the next step out."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from petition_widget.forwarding.retry import MAX_RETRY_AFTER_SECONDS, RetryPolicy
from petition_widget.models import ForwardingState
from petition_widget.providers.base import Outcome, SubmitResult

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def policy(**values) -> RetryPolicy:
    return RetryPolicy(**{"max_attempts": 5, "base_seconds": 10.0, "max_seconds": 60.0, **values})


def retry(status: int | None = 500, retry_after: float | None = None) -> SubmitResult:
    return SubmitResult(Outcome.RETRY, http_status=status, retry_after=retry_after, detail=f"HTTP {status} failure")


def test_the_policy_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy().max_attempts = 3


@pytest.mark.parametrize("values", [{"max_attempts": 0}, {"base_seconds": 0}, {"base_seconds": 61.0}])
def test_nonsense_is_refused(values):
    with pytest.raises(ValueError):
        policy(**values)


def test_the_ceiling_doubles_up_to_the_cap():
    assert [policy().ceiling(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]
    assert policy(max_attempts=10_000).ceiling(5000) == 60


def test_full_jitter_between_zero_and_the_ceiling():
    rng = random.Random(42)
    delays = [policy(random=rng, max_attempts=100).retry_in(3) for _ in range(2000)]
    assert all(0 <= d <= 40 for d in delays)
    # Spread over the whole range, not clustered at the top as with "equal" jitter.
    assert min(delays) < 2 and max(delays) > 38


def test_an_injected_random_makes_delays_reproducible():
    first = policy(random=random.Random(5)).retry_in(2)
    assert first == policy(random=random.Random(5)).retry_in(2) == random.Random(5).uniform(0, 20)


def test_retry_after_wins_only_when_longer():
    fixed = policy(random=random.Random(1))
    jittered = random.Random(1).uniform(0, 10)
    assert fixed.retry_in(1, retry_after=jittered / 2) == jittered
    assert policy(random=random.Random(1)).retry_in(1, retry_after=500) == 500
    assert policy().retry_in(1, retry_after=10**9) == MAX_RETRY_AFTER_SECONDS


def test_giving_up_after_the_maximum():
    assert policy().retry_in(4) is not None
    assert policy().retry_in(5) is None


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.DUPLICATE])
def test_sent_and_already_signed_end_as_sent(outcome):
    decision = policy().decide(SubmitResult(outcome, http_status=202), attempts=2, now=NOW)
    assert (decision.state, decision.attempts, decision.retry_at, decision.error) == (ForwardingState.SENT, 3, None, "")


def test_rejected_keeps_the_message():
    result = SubmitResult(Outcome.REJECTED, messages=("email is invalid",), http_status=400, detail="HTTP 400: email")
    decision = policy().decide(result, attempts=0, now=NOW)
    assert (decision.state, decision.attempts, decision.error) == (ForwardingState.REJECTED, 1, "HTTP 400: email")
    assert not decision.pauses


def test_held_pauses_without_spending_an_attempt():
    result = SubmitResult(Outcome.HELD, http_status=401, detail="HTTP 401 credentials refused: rsig is invalid")
    decision = policy().decide(result, attempts=4, now=NOW)
    assert (decision.state, decision.attempts, decision.retry_at) == (ForwardingState.HELD, 4, None)
    assert decision.pauses and decision.pause_reason == "HTTP 401 credentials refused: rsig is invalid"


def test_a_transient_failure_is_scheduled():
    decision = policy(random=random.Random(3)).decide(retry(), attempts=1, now=NOW)
    assert decision.state == ForwardingState.PENDING and decision.attempts == 2
    assert decision.retry_at == NOW + timedelta(seconds=random.Random(3).uniform(0, 20))
    assert decision.error == "HTTP 500 failure"


def test_the_last_attempt_fails_the_signature():
    decision = policy().decide(retry(), attempts=4, now=NOW)
    assert (decision.state, decision.attempts, decision.retry_at) == (ForwardingState.FAILED, 5, None)
    assert decision.error == "HTTP 500 failure"


def test_a_rate_limited_answer_does_not_spend_an_attempt_and_waits_as_asked():
    decision = policy().decide(retry(429, retry_after=30), attempts=4, now=NOW)
    assert (decision.state, decision.attempts) == (ForwardingState.PENDING, 4)
    assert NOW + timedelta(seconds=30) <= decision.retry_at <= NOW + timedelta(seconds=60)


def test_from_settings(settings):
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "MAX_ATTEMPTS": 4,
        "BACKOFF_BASE_SECONDS": 2,
        "BACKOFF_MAX_SECONDS": 8,
    }
    built = RetryPolicy.from_settings(random.Random(0))
    assert (built.max_attempts, built.base_seconds, built.max_seconds) == (4, 2.0, 8.0)
    assert built == RetryPolicy(max_attempts=4, base_seconds=2.0, max_seconds=8.0)
