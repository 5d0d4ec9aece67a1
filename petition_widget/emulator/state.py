"""The emulator's memory: petitions, auth keys, received signatures, counters and faults, behind one lock.

Every method that reads or changes shared data takes the lock; nothing sleeps or does I/O while holding it.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.utils.text import slugify

from .behaviour import (
    DEFAULT_API_KEY,
    DEFAULT_NEVER_VALIDATE,
    DEFAULT_READ_LIMIT,
    DEFAULT_SECRET,
    DEFAULT_VALIDATION_DELAY,
    Faults,
    WeThePeopleBehaviour,
    never_validates,
)
from .seed import (
    FIRST_CREATED_ID,
    PROVIDERS,
    WETHEPEOPLE,
    AuthKey,
    EmulatedPetition,
    ReceivedSignature,
    petition_url,
    seed_petitions,
    seed_signatures,
)

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60.0
READ_WINDOW_SECONDS = 1.0

STAT_NAMES = (
    "requests",
    "accepted",
    "duplicates",
    "rejected",
    "auth_failures",
    "injected_errors",
    "down_answers",
    "rate_limited",
    "delayed_answers",
    "auth_keys_granted",
    "auth_keys_revoked",
    "callbacks_sent",
    "callbacks_failed",
    "reads",
    "read_rate_limited",
    "reads_busiest_second",
)


@dataclass
class _Memory:
    petitions: dict[str, EmulatedPetition] = field(default_factory=dict)
    signatures: list[ReceivedSignature] = field(default_factory=list)
    auth_keys: dict[tuple[str, str, str], AuthKey] = field(default_factory=dict)
    stats: Counter = field(default_factory=Counter)
    next_id: int = FIRST_CREATED_ID


def normalize_petition_url(url: str) -> str:
    """Reduce a petition URL to what identifies it: host without ``www.``, path without trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}"


def normalize_email(email: str) -> str:
    return email.strip().lower()


class EmulatorState:
    """All the emulator knows and how it misbehaves; safe to share between request threads."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        secret: str = DEFAULT_SECRET,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        rate_limit: int = 0,
        timeout_seconds: float = 30.0,
        seed: int | None = 0,
        validation_delay: float = DEFAULT_VALIDATION_DELAY,
        never_validate: float = DEFAULT_NEVER_VALIDATE,
        read_limit: int = DEFAULT_READ_LIMIT,
    ) -> None:
        if not api_key or not secret:
            raise ValueError("the emulator needs a non-empty API key and secret")
        self.api_key = api_key
        self.secret = secret
        self.seed = seed
        self.initial_faults = Faults(
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            latency_ms=latency_ms,
            rate_limit=rate_limit,
            timeout_seconds=timeout_seconds,
        )
        self.initial_wethepeople = WeThePeopleBehaviour(
            validation_delay=validation_delay, never_validate=never_validate, read_limit=read_limit
        )
        self._wethepeople = self.initial_wethepeople
        self._reads: dict[str, tuple[deque[float], deque[float]]] = {}
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._faults = self.initial_faults
        self._random = random.Random(seed)
        self._memory = _Memory()
        self._windows: dict[str, deque[float]] = {}
        self._injected = 0
        self.reset()

    def __repr__(self) -> str:
        # The secret stays out of reprs, tracebacks and logs.
        return f"<EmulatorState api_key={self.api_key!r} faults={self.faults}>"

    # -- lifecycle -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything received and go back to the seed, the configured faults and a reseeded random."""
        memory = _Memory()
        for petition in seed_petitions():
            memory.petitions[petition.id] = petition
        memory.signatures = seed_signatures()
        with self._lock:
            self._memory = memory
            self._faults = self.initial_faults
            self._wethepeople = self.initial_wethepeople
            self._reads = {}
            self._random = random.Random(self.seed)
            self._windows = {}
            self._injected = 0
        logger.info("Emulator state reset to the seed")

    def close(self) -> None:
        """Wake every answer held back by a fault, so that a stopping server does not wait for them."""
        self._closing.set()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)

    # -- faults, randomness, rate limit, counters --------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def update_faults(self, changes: dict[str, Any]) -> Faults:
        """Apply a partial update of the faults; raises :class:`ValueError` and changes nothing if one is bad."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            return self._faults

    @property
    def wethepeople(self) -> WeThePeopleBehaviour:
        with self._lock:
            return self._wethepeople

    def update_wethepeople(self, changes: dict[str, Any]) -> WeThePeopleBehaviour:
        """Change the validation delay, the share that never validates or the read limit (new signatures and
        reads only); raises :class:`ValueError` and changes nothing if one value is bad."""
        with self._lock:
            self._wethepeople = self._wethepeople.updated(changes)
            return self._wethepeople

    def admit_read(self, client: str) -> float | None:
        """Count a We the People read from ``client``: None if admitted, else seconds until one would be.

        At most ``read_limit`` reads are admitted in any one second (a sliding window). Every read received,
        admitted or not, counts in the ``reads`` and ``reads_busiest_second`` stats.
        """
        now = time.monotonic()
        with self._lock:
            received, admitted = self._reads.setdefault(client, (deque(), deque()))
            for window in (received, admitted):
                while window and window[0] <= now - READ_WINDOW_SECONDS:
                    window.popleft()
            received.append(now)
            stats = self._memory.stats
            stats["reads"] += 1
            stats["reads_busiest_second"] = max(stats["reads_busiest_second"], len(received))
            limit = self._wethepeople.read_limit
            if limit and len(admitted) >= limit:
                stats["read_rate_limited"] += 1
                return admitted[0] + READ_WINDOW_SECONDS - now
            admitted.append(now)
            return None

    def chance(self, rate: float) -> bool:
        """Draw from the seeded random: True with probability ``rate``."""
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def next_injected_error(self) -> int:
        """A running number, so that injected errors cycle through their kinds in a fixed order."""
        with self._lock:
            self._injected += 1
            return self._injected - 1

    def admit(self, api_key: str) -> float | None:
        """Count a request against ``api_key``'s limit: None if admitted, else seconds until it would be."""
        limit = self.faults.rate_limit
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(api_key, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                return max(1.0, math.ceil(window[0] + RATE_WINDOW_SECONDS - now))
            window.append(now)
            return None

    def count(self, name: str) -> None:
        with self._lock:
            self._memory.stats[name] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            counts = {name: self._memory.stats.get(name, 0) for name in STAT_NAMES}
            counts.update(self._memory.stats)
            counts["signatures_stored"] = sum(not s.seeded for s in self._memory.signatures)
            counts["auth_keys_active"] = sum(k.status == "granted" for k in self._memory.auth_keys.values())
            return counts

    # -- petitions -----------------------------------------------------------------------------------------

    def petition(self, provider: str, petition_id: str) -> EmulatedPetition | None:
        """A copy of the petition, or None when this provider has no such id."""
        with self._lock:
            petition = self._memory.petitions.get(str(petition_id))
            if petition is None or petition.provider != provider:
                return None
            return copy.deepcopy(petition)

    def petitions(self, provider: str | None = None) -> list[EmulatedPetition]:
        with self._lock:
            return [
                copy.deepcopy(p) for p in self._memory.petitions.values() if provider is None or p.provider == provider
            ]

    def resolve_url(self, provider: str, url: str) -> EmulatedPetition | None:
        wanted = normalize_petition_url(url)
        with self._lock:
            for petition in self._memory.petitions.values():
                if petition.provider == provider and normalize_petition_url(petition.url) == wanted:
                    return copy.deepcopy(petition)
        return None

    def create_petition(self, provider: str, title: str, goal: int | None, status: str = "open") -> EmulatedPetition:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        base_slug = slugify(title)[:80] or "petition"
        with self._lock:
            petition_id = str(self._memory.next_id)
            self._memory.next_id += 1
            taken = {normalize_petition_url(p.url) for p in self._memory.petitions.values()}
            slug = base_slug
            if normalize_petition_url(petition_url(provider, slug)) in taken:
                slug = f"{base_slug}-{petition_id}"
            created_at = datetime.now(UTC).replace(microsecond=0)
            petition = EmulatedPetition(provider, petition_id, title, slug, status, goal, created_at=created_at)
            self._memory.petitions[petition_id] = petition
        logger.info("Emulator created %s petition %s", provider, petition_id)
        return copy.deepcopy(petition)

    def update_petition(self, petition_id: str, changes: dict[str, Any]) -> EmulatedPetition | None:
        """Change a petition as its creator or the platform would; ``signature_count`` sets the counted total."""
        with self._lock:
            petition = self._memory.petitions.get(str(petition_id))
            if petition is None:
                return None
            for name, value in changes.items():
                if name == "signature_count":
                    petition.base_count = value - self._stored_count(petition.id)
                else:
                    setattr(petition, name, value)
            updated = copy.deepcopy(petition)
        logger.info("Emulator updated petition %s: %s", petition_id, ", ".join(sorted(changes)))
        return updated

    def signature_count(self, petition: EmulatedPetition) -> int:
        """Counted signatures: the petition's base count plus every stored signature that is not a duplicate."""
        with self._lock:
            return petition.base_count + self._stored_count(petition.id)

    def _stored_count(self, petition_id: str) -> int:
        # We the People counts a signature once its signer has followed the validation link.
        now = datetime.now(UTC)
        return sum(
            1
            for s in self._memory.signatures
            if s.petition_id == petition_id
            and not s.duplicate
            and (s.provider != WETHEPEOPLE or s.seeded or s.validated(now))
        )

    # -- signatures ----------------------------------------------------------------------------------------

    def store_signature(
        self,
        provider: str,
        petition_id: str,
        received: dict[str, str],
        *,
        hidden: bool = False,
        refuse_duplicate: bool,
    ) -> ReceivedSignature | None:
        """Store a signature; an e-mail already on the petition is refused (None) or stored as a duplicate.

        The duplicate check and the insert happen under one lock, so two concurrent posts of one e-mail
        cannot both be counted.
        """
        email_key = normalize_email(received.get("email", ""))
        signed_at = datetime.now(UTC)
        with self._lock:
            duplicate = any(s.petition_id == petition_id and s.email_key == email_key for s in self._memory.signatures)
            if duplicate and refuse_duplicate:
                return None
            validates_at = None
            behaviour = self._wethepeople
            if provider == WETHEPEOPLE and not never_validates(email_key, behaviour.never_validate):
                validates_at = signed_at + timedelta(seconds=behaviour.validation_delay)
            signature = ReceivedSignature(
                seq=len(self._memory.signatures) + 1,
                provider=provider,
                petition_id=petition_id,
                fields=dict(received),
                signed_at=signed_at,
                email_key=email_key,
                hidden=hidden,
                duplicate=duplicate,
                validates_at=validates_at,
            )
            self._memory.signatures.append(signature)
            return copy.deepcopy(signature)

    def signatures(
        self, petition_id: str | None = None, *, seeded: bool = True, public_only: bool = False
    ) -> list[ReceivedSignature]:
        """Signatures oldest first, optionally of one petition, without seeded or non-public ones."""
        with self._lock:
            return [
                copy.deepcopy(s)
                for s in self._memory.signatures
                if (petition_id is None or s.petition_id == str(petition_id))
                and (seeded or not s.seeded)
                and not (public_only and (s.hidden or s.duplicate))
            ]

    def validated_signatures(self, petition_id: str) -> list[ReceivedSignature]:
        """We the People: the received signatures of a petition counted by now (validated, not a repeat), oldest
        first."""
        now = datetime.now(UTC)
        with self._lock:
            return [
                copy.deepcopy(s)
                for s in self._memory.signatures
                if s.petition_id == str(petition_id) and not s.seeded and not s.duplicate and s.validated(now)
            ]

    # -- auth keys --------------------------------------------------------------------------------------------

    def grant_auth_key(
        self,
        petition_id: str,
        api_key: str,
        source: str,
        *,
        source_description: str,
        requester_email: str,
        callback_endpoint: str,
    ) -> AuthKey:
        """Grant (or return the still granted) key for (petition, API key, source); a revoked one is replaced."""
        with self._lock:
            slot = (petition_id, api_key, source)
            current = self._memory.auth_keys.get(slot)
            if current is not None and current.status == "granted":
                current.source_description = source_description
                current.requester_email = requester_email
                current.callback_endpoint = callback_endpoint or current.callback_endpoint
                return copy.deepcopy(current)
            granted = AuthKey(
                petition_id=petition_id,
                api_key=api_key,
                source=source,
                source_description=source_description,
                requester_email=requester_email,
                callback_endpoint=callback_endpoint,
                key=secrets.token_hex(16),
            )
            self._memory.auth_keys[slot] = granted
            self._memory.stats["auth_keys_granted"] += 1
        logger.info("Emulator granted an auth key for petition %s", petition_id)
        return copy.deepcopy(granted)

    def auth_key(self, petition_id: str, api_key: str, source: str) -> AuthKey | None:
        with self._lock:
            found = self._memory.auth_keys.get((petition_id, api_key, source))
            return copy.deepcopy(found) if found else None

    def revoke_auth_keys(self, petition_id: str, source: str) -> list[AuthKey]:
        """Mark every granted key of (petition, source) revoked; returns copies of those it changed."""
        revoked: list[AuthKey] = []
        with self._lock:
            for (key_petition, _api_key, key_source), key in self._memory.auth_keys.items():
                if key_petition == petition_id and key_source == source and key.status == "granted":
                    key.status = "revoked"
                    revoked.append(copy.deepcopy(key))
            self._memory.stats["auth_keys_revoked"] += len(revoked)
        logger.info("Emulator revoked %s auth key(s) for petition %s", len(revoked), petition_id)
        return revoked
