"""Health checks for operators, through django-health-check (``pip install "django-petition-widget[health]"``).

Three checks, each a ``health_check.base.HealthCheck`` a site lists in its ``HealthCheckView``
(docs/deployment.md shows the URL):

* :class:`ForwardingBacklog`: the oldest signature a worker could claim now has waited no longer than
  ``HEALTH_BACKLOG_MAX_AGE`` seconds (a new one since it was stored, a retry since its attempt fell due).
  Older means the forwarders are down, stuck or too few for the upstream's rate.
* :class:`PausedPetitions`: no more than ``HEALTH_PAUSED_PETITIONS_MAX`` petitions have forwarding paused
  (bad credentials, a revoked key): their signatures wait for someone to act.
* :class:`SharedCache`: ``RATE_LIMIT_CACHE``, which holds the abuse counters, the forwarders' shared rate
  limit and the form tokens' nonces, answers a write and a read.

A failure says what is wrong and how much, never a signer's data.
"""

from __future__ import annotations

import dataclasses
import uuid

from django.db.models import Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from .conf import app_settings


@dataclasses.dataclass
class ForwardingBacklog(HealthCheck):
    """Unhealthy when the oldest due signature has waited more than ``HEALTH_BACKLOG_MAX_AGE`` seconds."""

    def run(self) -> None:
        from .lifecycle import due_filter
        from .models import Signature

        now = timezone.now()
        oldest = (
            Signature.objects.filter(due_filter(now))
            .aggregate(since=Min(Coalesce("next_attempt_at", "created_at")))
            .get("since")
        )
        if oldest is None:
            return
        waited = (now - oldest).total_seconds()
        limit = app_settings.HEALTH_BACKLOG_MAX_AGE
        if waited > limit:
            raise ServiceUnavailable(
                f"the oldest due signature has waited {waited:.0f} s for a forwarder (more than {limit} s)"
            )


@dataclasses.dataclass
class PausedPetitions(HealthCheck):
    """Unhealthy when more than ``HEALTH_PAUSED_PETITIONS_MAX`` petitions have forwarding paused."""

    def run(self) -> None:
        from .models import Petition

        paused = Petition.objects.filter(forwarding_paused_at__isnull=False).count()
        limit = app_settings.HEALTH_PAUSED_PETITIONS_MAX
        if paused > limit:
            raise ServiceUnavailable(f"{paused} petition(s) have forwarding paused (more than {limit}); see the admin")


@dataclasses.dataclass
class SharedCache(HealthCheck):
    """Unhealthy when ``RATE_LIMIT_CACHE`` does not keep a value written to it."""

    def run(self) -> None:
        from django.core.cache import caches

        key, value = f"petition_widget:health:{uuid.uuid4().hex}", uuid.uuid4().hex
        try:
            cache = caches[app_settings.RATE_LIMIT_CACHE]
            cache.set(key, value, timeout=30)
            kept = cache.get(key)
            cache.delete(key)
        except Exception as exc:
            raise ServiceUnavailable(
                f"the shared cache {app_settings.RATE_LIMIT_CACHE!r} failed ({type(exc).__name__})"
            ) from exc
        if kept != value:
            raise ServiceUnavailable(f"the shared cache {app_settings.RATE_LIMIT_CACHE!r} keeps nothing")


CHECKS = (ForwardingBacklog, PausedPetitions, SharedCache)
