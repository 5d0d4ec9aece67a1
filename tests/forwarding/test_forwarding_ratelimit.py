"""The shared rate limit: never more than N requests in any 60 seconds, across threads and processes.

Runs on LocMem (one process) and on Redis (``REDIS_URL``, default redis://127.0.0.1:6379/1), the cache the
example site uses in production through CACHE_URL. Most tests drive a fake clock; the thread and process
tests use the real one and only count grants.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from petition_widget.ratelimit import RateLimiter, limit_for, limit_key

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")


def make_cache(kind: str):
    if kind == "redis":
        return RedisCache(REDIS_URL, {"KEY_PREFIX": f"pw-test-{uuid.uuid4().hex[:8]}"})
    return LocMemCache(f"pw-test-{uuid.uuid4().hex}", {})


@pytest.fixture(params=["locmem", "redis"])
def cache(request):
    backend = make_cache(request.param)
    # Redis keys are left to expire on their own (BUCKET_TTL): clear() would flush the whole database.
    yield backend
    backend.close()


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def most_in_any_window(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_zero_means_no_limit(cache):
    limiter = RateLimiter(cache, clock=Clock())
    assert all(limiter.try_acquire("k", 0) == 0 for _ in range(1000))


def test_a_minute_boundary_does_not_double_the_limit(cache):
    clock = Clock(1_700_000_039.5)
    limiter = RateLimiter(cache, clock=clock)
    assert [limiter.try_acquire("k", 5) for _ in range(5)] == [0.0] * 5
    clock.now += 1.0  # a new calendar minute: a fixed per-minute bucket would start again from zero
    wait = limiter.try_acquire("k", 5)
    assert 59 < wait < 61
    clock.now += wait
    assert limiter.try_acquire("k", 5) == 0.0


def test_refused_slots_are_given_back(cache):
    clock = Clock()
    limiter = RateLimiter(cache, clock=clock)
    assert limiter.try_acquire("k", 2) == limiter.try_acquire("k", 2) == 0.0
    clock.now += 30
    assert all(limiter.try_acquire("k", 2) > 0 for _ in range(10))
    clock.now += 31  # the first two have left the window; the ten refused tries never counted
    assert limiter.try_acquire("k", 2) == limiter.try_acquire("k", 2) == 0.0
    assert limiter.try_acquire("k", 2) > 0


def test_keys_are_counted_apart(cache):
    limiter = RateLimiter(cache, clock=Clock())
    assert limiter.try_acquire("a", 1) == 0.0
    assert limiter.try_acquire("b", 1) == 0.0
    assert limiter.try_acquire("a", 1) > 0


def test_no_60_second_window_ever_holds_more_than_the_limit(cache):
    clock = Clock(1_700_000_000.25)
    limiter = RateLimiter(cache, clock=clock, rng=random.Random(1))
    rng = random.Random(2)
    granted = []
    # Bursts and lulls over five minutes, several tries at the same instant.
    while clock.now < 1_700_000_300:
        for _ in range(rng.choice([1, 1, 2, 5])):
            if limiter.try_acquire("k", 30) == 0.0:
                granted.append(clock.now)
        clock.now += rng.choice([0.01, 0.2, 0.5, 1.0, 3.0])
    assert most_in_any_window(granted) <= 30
    # And the limit is used, not starved: over five minutes nearly five windows' worth got through.
    assert len(granted) >= 4 * 30


def test_a_paced_limiter_hands_out_the_limit_evenly_and_still_uses_it(cache):
    """1,500 a minute paced: 25 a second at most, never more than the limit in any 60 seconds, and under
    steady demand at least 97 % of the limit in every minute (not a minute's worth in the first second)."""
    clock = Clock(1_700_000_000.5)
    limiter = RateLimiter(cache, clock=clock, rng=random.Random(3), paced=True)
    assert limiter.step_limit(1500) == 25 and limiter.step_limit(5) == 1
    granted = []
    while clock.now < 1_700_000_000.5 + 180:
        for _ in range(100):  # more demand than the limit at each instant: ask until refused
            if limiter.try_acquire("k", 1500) > 0:
                break
            granted.append(clock.now)
        clock.now += 0.1
    per_second: dict[int, int] = {}
    for moment in granted:
        per_second[int(moment)] = per_second.get(int(moment), 0) + 1
    assert max(per_second.values()) == 25
    assert most_in_any_window(granted) <= 1500
    for minute in range(3):
        start = 1_700_000_000.5 + 60 * minute
        assert sum(1 for t in granted if start <= t < start + 60) >= 0.97 * 1500


def test_a_paced_limiter_says_to_wait_for_the_next_step(cache):
    clock = Clock(1_700_000_000.25)
    paced = RateLimiter(cache, clock=clock, paced=True)
    assert paced.try_acquire("p", 60) == 0.0
    wait = paced.try_acquire("p", 60)  # one a second: the next slot is in the next second
    assert 0.75 <= wait <= 0.75 + 0.05
    clock.now += wait
    assert paced.try_acquire("p", 60) == 0.0
    # Unpaced, the whole limit may go at once.
    burst = RateLimiter(cache, clock=clock)
    assert all(burst.try_acquire("b", 60) == 0.0 for _ in range(60))
    assert burst.try_acquire("b", 60) > 0


def test_the_forwarders_limiter_is_paced():
    from petition_widget.forwarding.worker import Worker, WorkerOptions

    assert Worker(WorkerOptions(worker_id="paced")).limiter.paced


def test_acquire_waits_for_room_and_stops_on_request(cache):
    clock = Clock()
    limiter = RateLimiter(cache, clock=clock)
    assert limiter.acquire("k", 1)
    stop = threading.Event()
    stop.set()
    assert not limiter.acquire("k", 1, stop=stop)
    assert not limiter.acquire("k", 1, timeout=0.05)


def test_threads_share_the_limit(cache):
    limiter = RateLimiter(cache)
    key = f"threads-{uuid.uuid4().hex}"
    granted: list[int] = []
    lock = threading.Lock()
    # Eight threads racing for the slots: never more than 25 get through, however they interleave.
    deadline = time.monotonic() + 2

    def hammer():
        while time.monotonic() < deadline:
            if limiter.try_acquire(key, 25) == 0.0:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 0 < len(granted) <= 25
    # Threads that raced and backed off gave their slots back: alone, one caller gets exactly the rest
    # (on a loaded machine the race can leave one or two unused when the hammering stops).
    for _ in range(26):
        if limiter.try_acquire(key, 25) != 0.0:
            break
        granted.append(1)
    assert len(granted) == 25


def _hammer_in_process(key: str, prefix: str, limit: int, seconds: float, out) -> None:
    limiter = RateLimiter(RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}))
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        if limiter.try_acquire(key, limit) == 0.0:
            count += 1
    out.put(count)


def test_processes_share_the_limit_through_redis():
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    key, prefix = f"processes-{uuid.uuid4().hex}", f"pw-test-{uuid.uuid4().hex[:8]}"
    processes = [context.Process(target=_hammer_in_process, args=(key, prefix, 40, 2.0, out)) for _ in range(3)]
    for process in processes:
        process.start()
    counts = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert sum(counts) == 40


def test_limits_per_provider_come_from_the_settings(settings):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "RATE_LIMITS": {"changeorg": 60}}
    assert limit_for("changeorg") == 60
    assert limit_for("wethepeople") == 1500  # left out: the default, We the People's documented limit
    assert limit_key("wethepeople", "secret-key") != limit_key("wethepeople", "other-key")
    assert "secret-key" not in limit_key("wethepeople", "secret-key")


def test_the_cache_alias_comes_from_the_settings(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "RATE_LIMIT_CACHE": "shared"}
    assert isinstance(RateLimiter().cache, RedisCache)
