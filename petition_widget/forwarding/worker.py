"""The forwarding worker: claiming and recording in the main thread, sending in a pool of threads.

The main thread claims due signatures in batches and queues them; each sending thread takes one at a
time, waits for a rate-limit slot, makes sure its lease outlasts the request and sends it with its own
provider clients (a provider is not thread-safe). The main thread records the finished tries, several
per transaction. On stop, rows not yet sent are released at once; rows in flight are finished and
recorded.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.db import Error as DatabaseError
from django.db import close_old_connections, connection
from django.utils import timezone

from .. import lifecycle
from ..conf import app_settings
from ..exceptions import ConfigurationError
from ..models import Outcome, Provider, Signature
from ..petitions import sync_stale_petitions
from ..providers import get_provider
from ..providers.base import BaseProvider, SubmitResult, shorten
from ..ratelimit import RateLimiter, limit_for, limit_key
from .retry import RetryPolicy

logger = logging.getLogger(__name__)

# Time kept in hand beyond the HTTP timeouts when deciding whether a lease outlasts a send.
LEASE_MARGIN_SECONDS = 2.0
RECORD_TRIES = 3
CLAIM_RETRY_SECONDS = 1.0
# Caches whose counters are not shared between processes (LocMem), or not atomic across them (files, database).
PROCESS_LOCAL_CACHES = ("LocMemCache", "FileBasedCache", "DatabaseCache")


def default_worker_id() -> str:
    """Host, process and a random suffix: unique across machines and restarts."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


def http_budget() -> float:
    """The longest one upstream request can take under the ``HTTP_TIMEOUT`` setting, plus a margin."""
    timeout = app_settings.HTTP_TIMEOUT
    if isinstance(timeout, list | tuple):
        total = float(sum(timeout))
    else:
        total = 2 * float(timeout)
    return total + LEASE_MARGIN_SECONDS


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs; the command fills it from its options and the settings."""

    worker_id: str
    concurrency: int = 4
    batch_size: int = 50
    poll_interval: float = 5.0
    lease_seconds: float = 120.0
    once: bool = False
    # Seconds between syncs of each open petition's cached data (SYNC_INTERVAL); 0: never. A looping
    # worker syncs between batches; ``once`` only drains the backlog.
    sync_interval: float = 0.0

    @classmethod
    def from_settings(cls, **overrides: Any) -> WorkerOptions:
        values = {
            "worker_id": default_worker_id(),
            "poll_interval": float(app_settings.POLL_INTERVAL),
            "lease_seconds": float(app_settings.LEASE_SECONDS),
            "sync_interval": float(app_settings.SYNC_INTERVAL),
        }
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)


class Forwarder:
    """Forwards claimed signatures, one at a time. Not thread-safe: one per thread.

    It owns one client per provider (each with its own HTTP session) and closes them in :meth:`close`.
    """

    def __init__(
        self,
        *,
        worker_id: str,
        policy: RetryPolicy,
        limiter: RateLimiter,
        lease_seconds: float,
        stop: threading.Event | None = None,
        paused: dict[int, float] | None = None,
    ) -> None:
        self.worker_id = worker_id
        # Petitions this worker saw paused, and when (monotonic): rows claimed before that moment are given
        # back rather than sent with credentials already known to be refused. Shared by a worker's threads.
        self.paused = paused if paused is not None else {}
        self.policy = policy
        self.limiter = limiter
        self.lease_seconds = lease_seconds
        self.stop = stop
        self.budget = http_budget()
        self._providers: dict[str, BaseProvider | ConfigurationError] = {}

    def close(self) -> None:
        for provider in self._providers.values():
            if isinstance(provider, BaseProvider):
                provider.close()
        self._providers.clear()

    def provider(self, name: str) -> BaseProvider | ConfigurationError:
        if name not in self._providers:
            try:
                provider = get_provider(name)
            except ConfigurationError as exc:
                self._providers[name] = exc
            else:
                freeze_environment(provider)
                self._providers[name] = provider
        return self._providers[name]

    def send(self, signature: Signature, *, wait_for_slot: bool = True) -> lifecycle.Try | None:
        """Send one claimed signature; the try to record, or ``None`` when the signature went back unsent
        (stopping, no rate-limit slot, lease lost, petition paused meanwhile)."""
        paused_since = self.paused.get(signature.petition_id)
        if paused_since is not None and getattr(signature, "claimed_at", 0.0) <= paused_since:
            lifecycle.release([signature], self.worker_id)
            return None
        provider = self.provider(signature.petition.provider)
        if isinstance(provider, BaseProvider):
            limit = limit_for(provider.name)
            key = limit_key(provider.name, provider.api_key)
            if wait_for_slot:
                granted = self.limiter.acquire(key, limit, stop=self.stop)
            else:
                granted = self.limiter.try_acquire(key, limit) <= 0
            if not granted:
                lifecycle.release([signature], self.worker_id)
                return None
        if self.stop is not None and self.stop.is_set():
            lifecycle.release([signature], self.worker_id)
            return None
        now = timezone.now()
        expires = signature.lease_expires_at
        if expires is None or expires - now < timedelta(seconds=self.budget):
            if not lifecycle.renew_lease(signature, self.worker_id, lease_seconds=self.lease_seconds, now=now):
                logger.warning("worker %s lost the lease on signature %s before sending", self.worker_id, signature.pk)
                return None

        started_at = timezone.now()
        start = time.monotonic()
        result = self._submit(provider, signature)
        duration = time.monotonic() - start
        decision = self.policy.decide(result, attempts=signature.attempts, now=timezone.now())
        if decision.pauses:
            self.paused[signature.petition_id] = time.monotonic()
        return lifecycle.Try(signature, result, decision, started_at, duration)

    def forward(self, signature: Signature) -> str:
        """Send one claimed signature without waiting for a rate-limit slot, and record the outcome at once;
        the new state, or ``"released"`` (the wake-up task's way: the sweeping worker takes what it leaves)."""
        sent = self.send(signature, wait_for_slot=False)
        if sent is None:
            return "released"
        record_tries([sent], self.worker_id)
        return sent.decision.state.value

    def _submit(self, provider: BaseProvider | ConfigurationError, signature: Signature) -> SubmitResult:
        if isinstance(provider, ConfigurationError):
            return SubmitResult(Outcome.HELD, detail=shorten(f"Configuration: {provider}"))
        try:
            return provider.submit(signature)
        except Exception as exc:  # a bug must cost one attempt, not the worker
            logger.exception("worker %s: unexpected error forwarding signature %s", self.worker_id, signature.pk)
            return SubmitResult(Outcome.RETRY, detail=f"Internal error: {type(exc).__name__}")


def freeze_environment(provider: BaseProvider) -> None:
    """Read the proxy, CA bundle and .netrc settings from the environment once, not on every request.

    With ``trust_env`` on, requests scans the whole environment (and looks for a .netrc file) for each
    request, which costs a worker more CPU than building and signing the request. The environment of a
    running worker does not change, and every request of a provider goes to one host.
    """
    session = provider.session
    if not session.trust_env:
        return
    session.proxies.update(requests.utils.get_environ_proxies(provider.api_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    if session.auth is None:
        session.auth = requests.utils.get_netrc_auth(provider.api_url)
    session.trust_env = False


def record_tries(tries: list[lifecycle.Try], worker_id: str) -> bool:
    """Record finished tries, trying again on a database error; False if they could not be recorded.

    Unrecorded rows keep their lease until it expires; then they are sent again and the upstream's
    "already signed" answer closes them.
    """
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            lifecycle.record_many(tries, worker_id=worker_id)
            return True
        except Exception:
            if attempt == RECORD_TRIES:
                logger.exception(
                    "worker %s could not record %s result(s) (signatures %s)",
                    worker_id,
                    len(tries),
                    ", ".join(str(t.signature.pk) for t in tries[:20]),
                )
                return False
            close_old_connections()
            time.sleep(0.2 * attempt)
    return False


class Worker:
    """Claims due signatures and forwards them with ``concurrency`` threads until stopped.

    The main thread claims and records; the sending threads only talk HTTP. One writer per worker keeps
    the threads from queueing on the database's write lock (SQLite has one for the whole file), and the
    results that finish while a transaction runs are recorded together in the next one.

    With ``once``, it drains what is due now (rows whose next attempt lies in the future wait) and returns.
    """

    def __init__(
        self,
        options: WorkerOptions,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.options = options
        self.policy = policy or RetryPolicy.from_settings()
        self.limiter = limiter or RateLimiter(paced=True)
        self.stats: Counter[str] = Counter()
        self._stop = threading.Event()
        self._queue: queue.Queue[Signature | None] = queue.Queue()
        self._changed = threading.Condition()
        self._results: list[lifecycle.Try] = []
        # Claimed and neither recorded nor released yet.
        self._in_flight = 0
        self._paused: dict[int, float] = {}
        # Claim again once fewer than half a batch wait behind the threads, so that they never idle.
        self._capacity = options.concurrency + options.batch_size
        self._low_water = options.concurrency + max(1, options.batch_size // 2)
        # Monotonic time of the next round of petition syncs.
        self._next_sync = 0.0
        # Each provider's API key, whose limit a petition sync counts against.
        self._api_keys: dict[str, str] = {}

    @property
    def worker_id(self) -> str:
        return self.options.worker_id

    def stop(self) -> None:
        """Ask the worker to stop: no new claims, queued rows released, rows in flight finished and recorded."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> Counter[str]:
        options = self.options
        logger.info(
            "forwarding worker %s starting: concurrency %s, batch %s%s",
            options.worker_id,
            options.concurrency,
            options.batch_size,
            ", once" if options.once else "",
        )
        limited = any(limit_for(provider) for provider in Provider.values)
        if limited and type(self.limiter.cache).__name__ in PROCESS_LOCAL_CACHES:
            # A looping worker is the one that runs beside others; a --once run from cron is told at INFO only,
            # so that cron has nothing to mail when nothing is wrong.
            logger.log(
                logging.INFO if options.once else logging.WARNING,
                "worker %s: the rate-limit cache is a %s, so each worker process counts on its own; share a "
                "Redis or Memcached cache (RATE_LIMIT_CACHE) when several workers run",
                options.worker_id,
                type(self.limiter.cache).__name__,
            )
        threads = [
            threading.Thread(target=self._send_loop, name=f"forward-{options.worker_id}-{n}", daemon=True)
            for n in range(options.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            self._claim_loop()
        finally:
            for _ in threads:
                self._queue.put(None)
            # Whatever is still in flight finishes (or, when stopping, is released) and is recorded.
            while True:
                with self._changed:
                    if not self._in_flight:
                        break
                    if not self._results:
                        self._changed.wait(1.0)
                self._record_results()
            for thread in threads:
                thread.join()
            connection.close()
        logger.info("forwarding worker %s stopped: %s", options.worker_id, dict(self.stats))
        return self.stats

    # -- the main thread --------------------------------------------------------------------------

    def _record_results(self) -> int:
        with self._changed:
            batch, self._results = self._results, []
        if not batch:
            return 0
        record_tries(batch, self.worker_id)
        with self._changed:
            for attempt in batch:
                self.stats[attempt.decision.state.value] += 1
            self._in_flight -= len(batch)
            self._changed.notify_all()
        return len(batch)

    def _claim_loop(self) -> None:
        options = self.options
        next_claim = 0.0  # monotonic time of the next claim; inf: after the next result
        while not self.stopping:
            close_old_connections()
            if self._record_results() and next_claim == math.inf:
                next_claim = 0.0
            self._sync_petitions()
            with self._changed:
                in_flight = self._in_flight
            now = time.monotonic()
            if in_flight < self._low_water and now >= next_claim:
                room = self._capacity - in_flight
                claimed = self._claim(room)
                if claimed is not None and len(claimed) < room:
                    # The backlog is drained for now.
                    if options.once:
                        with self._changed:
                            idle = not claimed and not self._in_flight and not self._results
                        # An empty claim may only mean another worker took these rows first: drained is
                        # when nothing is due any more.
                        if idle and not lifecycle.due().exists():
                            return
                        if idle:
                            continue
                        # Rows in flight may come back due at once (a short backoff): claim after the next result.
                        next_claim = math.inf
                    else:
                        next_claim = now + (options.poll_interval if not claimed else min(options.poll_interval, 1.0))
                continue
            with self._changed:
                if not self._results and not self.stopping:
                    wait = next_claim - time.monotonic() if in_flight < self._low_water else 1.0
                    self._changed.wait(min(max(wait, 0.0), 1.0))

    def _sync_petitions(self) -> None:
        """Every ``sync_interval`` seconds, refresh the open petitions not synced for that long (any worker's
        sync counts), so that counts, goals and closing dates follow the upstream without anyone asking.
        """
        interval = self.options.sync_interval
        if self.options.once or interval <= 0 or time.monotonic() < self._next_sync:
            return
        self._next_sync = time.monotonic() + interval
        try:
            synced, failed = sync_stale_petitions(interval, take_slot=self._sync_slot)
        except DatabaseError as exc:
            logger.warning("worker %s: petitions could not be synced (%s)", self.worker_id, exc)
            return
        if synced or failed:
            with self._changed:
                self.stats["petitions synced"] += synced
                if failed:
                    self.stats["petition syncs failed"] += failed

    def _sync_slot(self, provider_name: str) -> bool:
        """A slot of the upstream's limit for one petition sync, without waiting: the upstream counts the read
        as it counts a signature. With none free (a backlog keeps the limit busy) the sync waits a round."""
        limit = limit_for(provider_name)
        if not limit:
            return True
        if provider_name not in self._api_keys:
            try:
                provider = get_provider(provider_name)
            except ConfigurationError:
                return True  # the sync fails on its own, and says why
            self._api_keys[provider_name] = provider.api_key
            provider.close()
        granted = self.limiter.try_acquire(limit_key(provider_name, self._api_keys[provider_name]), limit) <= 0
        if not granted:
            with self._changed:
                self.stats["petition syncs deferred (rate limit)"] += 1
        return granted

    def _claim(self, room: int) -> list[Signature] | None:
        """Claim and queue up to ``room`` signatures; ``None`` when the database could not be asked."""
        try:
            claimed = lifecycle.claim(self.worker_id, room, lease_seconds=self.options.lease_seconds)
        except DatabaseError as exc:
            # SQLite's "database is locked" after its busy timeout, a dropped connection: not "nothing due".
            logger.warning("worker %s: claiming failed (%s); trying again shortly", self.worker_id, exc)
            close_old_connections()
            self._stop.wait(CLAIM_RETRY_SECONDS)
            return None
        if claimed:
            claimed_at = time.monotonic()
            for signature in claimed:
                signature.claimed_at = claimed_at
            with self._changed:
                self.stats["claimed"] += len(claimed)
                self._in_flight += len(claimed)
            for signature in claimed:
                self._queue.put(signature)
        return claimed

    # -- the sending threads ----------------------------------------------------------------------

    def _send_loop(self) -> None:
        forwarder = Forwarder(
            worker_id=self.options.worker_id,
            policy=self.policy,
            limiter=self.limiter,
            lease_seconds=self.options.lease_seconds,
            stop=self._stop,
            paused=self._paused,
        )
        try:
            while True:
                signature = self._queue.get()
                if signature is None:
                    return
                sent, done = None, "errors"
                try:
                    close_old_connections()
                    if self.stopping:
                        lifecycle.release([signature], self.options.worker_id)
                        done = "released"
                    else:
                        sent = forwarder.send(signature)
                        done = "released" if sent is None else ""
                except Exception:
                    logger.exception("worker %s: signature %s could not be handled", self.worker_id, signature.pk)
                finally:
                    with self._changed:
                        if sent is not None:
                            self._results.append(sent)
                        else:
                            self.stats[done] += 1
                            self._in_flight -= 1
                        self._changed.notify_all()
        finally:
            forwarder.close()
            connection.close()


def forward_now(signature_id: int) -> str:
    """Forward one signature at once if it is due (the wake-up task); the sweeping worker stays the safety net.

    Never waits for a rate-limit slot: without one the signature is left to the workers.
    """
    worker_id = f"task-{default_worker_id()}"
    lease_seconds = float(app_settings.LEASE_SECONDS)
    signature = lifecycle.claim_one(signature_id, worker_id, lease_seconds=lease_seconds)
    if signature is None:
        return "not due"
    forwarder = Forwarder(
        worker_id=worker_id,
        policy=RetryPolicy.from_settings(),
        limiter=RateLimiter(paced=True),
        lease_seconds=lease_seconds,
    )
    try:
        return forwarder.forward(signature)
    finally:
        forwarder.close()
