"""Operators' health checks (petition_widget.health) through django-health-check's view, over HTTP.

The view runs each check in a thread of its own, so these tests commit their rows (``transaction=True``).
"""

import datetime
import json
import uuid

import pytest
from django.urls import path
from django.utils import timezone
from health_check.views import HealthCheckView

from petition_widget.health import CHECKS
from petition_widget.models import ForwardingState, Petition, Signature
from tests.factories import make_petition, make_signature

urlpatterns = [path("health/", HealthCheckView.as_view(checks=CHECKS))]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def shared_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "RATE_LIMIT_CACHE": "shared",
        "HEALTH_BACKLOG_MAX_AGE": 600,
        "HEALTH_PAUSED_PETITIONS_MAX": 0,
    }


def health(client) -> tuple[int, dict[str, str]]:
    """The status and each check's answer, by the check's class name."""
    response = client.get("/health/", headers={"accept": "application/json"})
    return response.status_code, {name.removesuffix("()"): text for name, text in json.loads(response.content).items()}


def test_a_quiet_site_is_healthy(client):
    make_petition()
    status, checks = health(client)
    assert status == 200
    assert set(checks) == {"ForwardingBacklog", "PausedPetitions", "SharedCache"}
    assert set(checks.values()) == {"OK"}


def test_a_due_signature_waiting_longer_than_the_threshold_is_unhealthy_and_names_no_signer(client):
    petition = make_petition()
    signature = make_signature(petition)
    Signature.objects.filter(pk=signature.pk).update(created_at=timezone.now() - datetime.timedelta(seconds=900))
    status, checks = health(client)
    assert status == 500
    assert "oldest due signature has waited" in checks["ForwardingBacklog"]
    assert signature.email not in json.dumps(checks)
    # Within the threshold, and a retry scheduled later, are healthy.
    Signature.objects.filter(pk=signature.pk).update(next_attempt_at=timezone.now() + datetime.timedelta(minutes=5))
    assert health(client)[1]["ForwardingBacklog"] == "OK"


def test_an_old_signature_of_a_paused_petition_is_the_paused_checks_business(client, settings):
    petition = make_petition()
    signature = make_signature(petition)
    Signature.objects.filter(pk=signature.pk).update(created_at=timezone.now() - datetime.timedelta(hours=2))
    Petition.objects.filter(pk=petition.pk).update(forwarding_paused_at=timezone.now(), forwarding_paused_reason="x")
    status, checks = health(client)
    assert status == 500
    assert checks["ForwardingBacklog"] == "OK"
    assert "1 petition(s) have forwarding paused" in checks["PausedPetitions"]
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "HEALTH_PAUSED_PETITIONS_MAX": 1}
    assert health(client) == (200, {"ForwardingBacklog": "OK", "PausedPetitions": "OK", "SharedCache": "OK"})


def test_sent_signatures_are_no_backlog(client):
    petition = make_petition()
    signature = make_signature(petition)
    Signature.objects.filter(pk=signature.pk).update(
        state=ForwardingState.SENT, created_at=timezone.now() - datetime.timedelta(days=3)
    )
    assert health(client)[0] == 200


def test_a_shared_cache_out_of_reach_is_unhealthy(client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"socket_connect_timeout": 0.5},
        },
    }
    status, checks = health(client)
    assert status == 500
    assert "the shared cache 'shared' failed" in checks["SharedCache"]


def test_a_shared_cache_that_keeps_nothing_is_unhealthy(client, settings):
    settings.CACHES = {**settings.CACHES, "shared": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert "keeps nothing" in health(client)[1]["SharedCache"]


@pytest.mark.parametrize(
    "key,value,check", [("HEALTH_BACKLOG_MAX_AGE", 0, "E030"), ("HEALTH_PAUSED_PETITIONS_MAX", -1, "E031")]
)
def test_thresholds_out_of_range_are_refused_by_the_system_checks(settings, key, value, check):
    from petition_widget.checks import check_settings

    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, key: value}
    errors = [error for error in check_settings(None) if error.id == f"petition_widget.{check}"]
    assert errors and key in errors[0].msg
