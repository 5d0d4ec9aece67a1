"""A rate limit shared by every process on every machine, kept in Django's cache.

Forwarding's workers keep under each upstream's limit with it (:func:`limit_for`, :func:`limit_key`);
the signing limits of :mod:`petition_widget.abuse` count signatures with it.

At most N requests in *any* 60 seconds, not per calendar minute (a fixed one-minute bucket lets 2N
through across a minute boundary). Each second has its own counter; taking a slot first increments the
counter of the current second (``cache.incr``, atomic in Redis and Memcached), then sums the counters of
the last 61 seconds and the next one, and keeps the slot only if the sum is within the limit; otherwise it
gives the slot back and waits.

Why that holds across processes: of more than N granted slots in 61 consecutive seconds, take the one
whose sum was read last. Every other one had incremented its counter before that read, and its second is
within the range read, so the sum was above N and that slot could not have been granted. Giving slots
back only ever makes sums smaller later, never earlier. Any 60-second window meets at most 61 one-second
counters, so no 60-second window holds more than N; the price is a mean rate of at most N per 61 seconds.
Counters are per machine clock: machines must agree on the time within a second (NTP).

The same holds with longer windows counted in coarser steps (``window`` and ``resolution``, in seconds):
one counter per step, the sum read over ``window / resolution`` steps back and one ahead. The signing
form's limits (``petition_widget.abuse``) count an hour in five-minute steps that way, and a minute in
five-second steps.

A *paced* limiter (the forwarders') also hands out at most the window's even share of the limit in any one
step (25 a second of 1,500 a minute): a backlog drains at a steady rate instead of a minute's worth of
requests in the first seconds, which would take the CPUs from the site's own requests in that burst. The
window's sum still decides, so the rate stays at the limit over every minute.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import BaseCache, caches

from .conf import DEFAULTS, app_settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# The counters read for one decision: the current step, the window's steps before it and one after
# (clock skew).
_AHEAD = 1
# Counters outlive every window that can read them, with room for a slow reader.
BUCKET_TTL = 5 * WINDOW_SECONDS
KEY_PREFIX = "petition_widget:rate"
_MIN_WAIT = 0.01
_JITTER = 0.05


def limit_for(provider: str) -> int:
    """Requests a minute allowed for ``provider`` (0: no limit); providers the setting omits keep the default."""
    configured = app_settings.RATE_LIMITS or {}
    return int(configured.get(provider, DEFAULTS["RATE_LIMITS"].get(provider, 0)) or 0)


def limit_key(provider: str, api_key: str) -> str:
    """The counter name of one provider and API key; the key itself never enters the cache."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:12]
    return f"{provider}:{digest}"


@dataclass(frozen=True)
class Slot:
    """A slot :meth:`RateLimiter.take` granted: which counter it was counted in (``None``: no limit, not counted)."""

    key: str
    step: int | None


class RateLimiter:
    """Hands out request slots, at most ``limit`` in any ``window`` seconds per key, through a Django cache.

    Thread-safe and shared by any number of processes that use the same cache server. ``clock`` is
    wall-clock seconds (not monotonic: the counters are compared across machines). ``resolution`` is the
    length of one counter's step in seconds; ``window`` must be a whole number of steps. ``paced``: no step
    hands out more than ``limit / (window / resolution)`` slots, rounded up (see the module).
    """

    def __init__(
        self,
        cache: BaseCache | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        window: int = WINDOW_SECONDS,
        resolution: int = 1,
        paced: bool = False,
    ) -> None:
        if cache is None:
            cache = app_settings.RATE_LIMIT_CACHE
        if resolution < 1 or window < resolution or window % resolution:
            raise ValueError(f"window ({window}) must be a whole number of steps of resolution ({resolution})")
        self.cache = caches[cache] if isinstance(cache, str) else cache
        self.clock = clock
        self.random = rng or random.Random()
        self.resolution = resolution
        self.past = window // resolution
        self.ttl = max(BUCKET_TTL, window + 3 * resolution)
        self.paced = paced

    def _bucket(self, key: str, step: int) -> str:
        return f"{KEY_PREFIX}:{key}:{step}"

    def _step(self, moment: float) -> int:
        return int(moment // self.resolution)

    def step_limit(self, limit: int) -> int:
        """The most slots one step may hand out: ``limit`` unless paced, else the window's even share of it."""
        if not self.paced:
            return limit
        return max(1, math.ceil(limit / self.past))

    def _increment(self, bucket: str) -> int:
        """Count one more in ``bucket``; its new count."""
        # incr() first: the counter of the current step mostly exists already, and add() costs a round trip.
        for _ in range(3):
            try:
                return int(self.cache.incr(bucket))
            except ValueError:
                # No counter yet, or it expired since; a cache that never keeps anything (DummyCache) ends
                # up here every time.
                self.cache.add(bucket, 0, timeout=self.ttl)
        raise RuntimeError(f"the cache {type(self.cache).__name__} does not keep counters; the rate limit needs one")

    def _counts(self, key: str, step: int) -> dict[int, int]:
        """The counters of ``step``, the steps of the window before it and one ahead, by step."""
        last = max(step, self._step(self.clock())) + _AHEAD
        names = {self._bucket(key, s): s for s in range(step - self.past, last + 1)}
        return {names[name]: int(value) for name, value in self.cache.get_many(list(names)).items()}

    def take(self, key: str, limit: int) -> tuple[Slot | None, float]:
        """Take a slot: ``(slot, 0.0)`` when granted, else ``(None, seconds to wait before asking again)``.

        A granted slot stays counted unless it is handed to :meth:`give_back`.
        """
        if limit <= 0:
            return Slot(key, None), 0.0
        now = self.clock()
        step = self._step(now)
        bucket = self._bucket(key, step)
        if self._increment(bucket) > self.step_limit(limit):
            # Paced: this step has handed out its share; the next one has room.
            self._uncount(bucket)
            return None, max((step + 1) * self.resolution - now, _MIN_WAIT) + self.random.uniform(0, _JITTER)
        counts = self._counts(key, step)
        if sum(counts.values()) <= limit:
            return Slot(key, step), 0.0
        self._uncount(bucket)
        busy = [s for s, value in counts.items() if value > 0]
        # Room appears when the oldest counted step leaves the range read.
        oldest = min(busy) if busy else step
        wait = (oldest + self.past + 1) * self.resolution - now
        return None, max(wait, _MIN_WAIT) + self.random.uniform(0, _JITTER)

    def _uncount(self, bucket: str) -> None:
        try:
            self.cache.decr(bucket)
        except ValueError:
            pass  # the counter has expired: nothing left to uncount

    def give_back(self, slot: Slot) -> None:
        """Uncount a granted slot (its request was not made after all)."""
        if slot.step is not None:
            self._uncount(self._bucket(slot.key, slot.step))

    def count(self, key: str) -> int:
        """Slots counted for ``key`` in the range a decision made now would read."""
        return sum(self._counts(key, self._step(self.clock())).values())

    def try_acquire(self, key: str, limit: int) -> float:
        """Take a slot: 0.0 when granted, else the seconds to wait before asking again."""
        return self.take(key, limit)[1]

    def acquire(
        self, key: str, limit: int, *, stop: threading.Event | None = None, timeout: float | None = None
    ) -> bool:
        """Wait for a slot; False if ``stop`` was set or ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.try_acquire(key, limit)
            if wait <= 0:
                return True
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            logger.debug("rate limit of %s a minute reached for %s; waiting %.2fs", limit, key, wait)
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)


# --- several limits and a single-use marker in one round trip (Redis) ------------------------------

# KEYS: the marker (when ARGV[1] is 1), then per limit the counter of the current step followed by the
# counters of its range. ARGV: 1/0 (a marker), the marker's TTL, the number of limits, then per limit its
# limit, the length of its range and its counters' TTL. Answers {-1} when the marker was set already,
# {0} when every slot was granted, else {the refused limit's number from 1, its oldest busy counter's place
# in its range from 1}; a refusal leaves everything as it was.
_TOGETHER_SCRIPT = """
local has_marker = tonumber(ARGV[1]) == 1
local k = 1
if has_marker then
  if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', tonumber(ARGV[2])) then return {-1} end
  k = 2
end
local a = 4
local taken = {}
for i = 1, tonumber(ARGV[3]) do
  local limit, span, ttl = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local bucket = KEYS[k]
  if redis.call('INCR', bucket) == 1 then redis.call('EXPIRE', bucket, ttl) end
  local values = redis.call('MGET', unpack(KEYS, k + 1, k + span))
  local sum, oldest = 0, 0
  for j = 1, span do
    local n = tonumber(values[j]) or 0
    sum = sum + n
    if n > 0 and oldest == 0 then oldest = j end
  end
  if sum > limit then
    redis.call('DECR', bucket)
    for _, b in ipairs(taken) do redis.call('DECR', b) end
    if has_marker then redis.call('DEL', KEYS[1]) end
    return {i, oldest}
  end
  table.insert(taken, bucket)
  k = k + span + 1
end
return {0}
"""
# The registered script (its SHA1 computed once); called with the client of each request.
_script = None


# One redis-py client per Django cache client: ``RedisCacheClient.get_client()`` builds a new one on every call
# (its ~170 response callbacks included) around the same connection pool.
_redis_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def redis_client(cache: BaseCache):
    """The redis-py client a Django ``RedisCache`` writes through, or ``None`` for any other backend."""
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(cache, RedisCache):
        return None
    cache_client = cache._cache
    client = _redis_clients.get(cache_client)
    if client is None:
        # The write client: always the first server's pool, so one client serves every later call.
        client = _redis_clients[cache_client] = cache_client.get_client(write=True)
    return client


@dataclass(frozen=True)
class Take:
    """One slot to take: of ``limiter``, counted under ``key``, at most ``limit`` in its window (``limit`` > 0)."""

    limiter: RateLimiter
    key: str
    limit: int


@dataclass(frozen=True)
class Together:
    """What :func:`take_together` did: ``marked`` False means the marker was there already and nothing
    was counted; ``refused`` is the index of the take that was refused (nothing counted), with ``wait``."""

    marked: bool
    slots: tuple[Slot, ...] = ()
    refused: int | None = None
    wait: float = 0.0


def take_together(cache: BaseCache, takes: list[Take], *, marker: str = "", marker_ttl: int = 0) -> Together | None:
    """Set ``marker`` (unless set already) and take a slot of each of ``takes``, in one round trip to Redis.

    All or nothing: a marker found set, or a limit reached, leaves every counter and the marker as they
    were, exactly as taking the slots one by one and giving the earlier ones back would. The limiters
    must count in ``cache``. ``None`` when ``cache`` is not a Redis cache: the caller takes them one by one.
    """
    client = redis_client(cache)
    if client is None:
        return None
    keys: list[str] = []
    argv: list[int] = [1 if marker else 0, max(1, int(marker_ttl)), len(takes)]
    # make_key, not make_and_validate_key: these names are this module's own (a prefix, hex digests and
    # numbers), and the validation walks every character of some 30 keys a sign POST.
    if marker:
        keys.append(cache.make_key(marker))
    plans = []
    for take in takes:
        limiter = take.limiter
        now = limiter.clock()
        step = limiter._step(now)
        first = step - limiter.past
        steps = range(first, step + _AHEAD + 1)
        keys.append(cache.make_key(limiter._bucket(take.key, step)))
        keys.extend(cache.make_key(limiter._bucket(take.key, s)) for s in steps)
        argv.extend((take.limit, len(steps), limiter.ttl))
        plans.append((now, step, first))
    global _script
    if _script is None:
        _script = client.register_script(_TOGETHER_SCRIPT)
    answer = [int(x) for x in _script(keys=keys, args=argv, client=client)]
    if answer[0] == -1:
        return Together(marked=False)
    if answer[0] == 0:
        return Together(marked=True, slots=tuple(Slot(t.key, plan[1]) for t, plan in zip(takes, plans, strict=True)))
    index = answer[0] - 1
    limiter, (now, step, first) = takes[index].limiter, plans[index]
    oldest = first + answer[1] - 1 if answer[1] else step
    wait = (oldest + limiter.past + 1) * limiter.resolution - now
    return Together(marked=True, refused=index, wait=max(wait, _MIN_WAIT) + limiter.random.uniform(0, _JITTER))
