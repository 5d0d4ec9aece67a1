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
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
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
    length of one counter's step in seconds; ``window`` must be a whole number of steps.
    """

    def __init__(
        self,
        cache: BaseCache | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        window: int = WINDOW_SECONDS,
        resolution: int = 1,
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

    def _bucket(self, key: str, step: int) -> str:
        return f"{KEY_PREFIX}:{key}:{step}"

    def _step(self, moment: float) -> int:
        return int(moment // self.resolution)

    def _increment(self, bucket: str) -> None:
        # incr() first: the counter of the current step mostly exists already, and add() costs a round trip.
        for _ in range(3):
            try:
                self.cache.incr(bucket)
                return
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
        self._increment(bucket)
        counts = self._counts(key, step)
        if sum(counts.values()) <= limit:
            return Slot(key, step), 0.0
        try:
            self.cache.decr(bucket)
        except ValueError:
            pass
        busy = [s for s, value in counts.items() if value > 0]
        # Room appears when the oldest counted step leaves the range read.
        oldest = min(busy) if busy else step
        wait = (oldest + self.past + 1) * self.resolution - now
        return None, max(wait, _MIN_WAIT) + self.random.uniform(0, _JITTER)

    def give_back(self, slot: Slot) -> None:
        """Uncount a granted slot (its request was not made after all)."""
        if slot.step is None:
            return
        try:
            self.cache.decr(self._bucket(slot.key, slot.step))
        except ValueError:
            pass  # the counter has expired: nothing left to uncount

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
