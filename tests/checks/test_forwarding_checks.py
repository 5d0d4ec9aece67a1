"""System checks of the forwarding settings (petition_widget.E011 to E017) and their defaults."""

import pytest

from petition_widget.checks import check_settings
from petition_widget.conf import DEFAULTS

GOOD = {
    "SITE_URL": "https://blog.example",
    "CHANGEORG_API_KEY": "k",
    "CHANGEORG_SECRET": "s",
    "REQUESTER_EMAIL": "owner@blog.example",
}


# A cache every process shares, as E022 asks with DEBUG off (the checks never connect to it).
SHARED_CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1"}


def ids(settings, **values):
    settings.PETITION_WIDGET = {**GOOD, **values}
    settings.DEBUG = False
    settings.CACHES = {**settings.CACHES, "default": SHARED_CACHE}
    return sorted(message.id for message in check_settings())


def test_the_defaults_pass(settings):
    assert ids(settings) == []
    assert DEFAULTS["RATE_LIMITS"] == {"changeorg": 600, "wethepeople": 1500}


@pytest.mark.parametrize("value", [0, -1, 2.5, "10", True])
def test_max_attempts(settings, value):
    assert ids(settings, MAX_ATTEMPTS=value) == ["petition_widget.E011"]


@pytest.mark.parametrize(
    "values",
    [
        {"BACKOFF_BASE_SECONDS": 0},
        {"BACKOFF_BASE_SECONDS": "30"},
        {"BACKOFF_MAX_SECONDS": 10},
        {"BACKOFF_BASE_SECONDS": 5, "BACKOFF_MAX_SECONDS": 1},
    ],
)
def test_backoff(settings, values):
    assert ids(settings, **values) == ["petition_widget.E012"]


@pytest.mark.parametrize("values", [{"LEASE_SECONDS": 0}, {"LEASE_SECONDS": "60"}, {"LEASE_SECONDS": 20}])
def test_a_lease_must_outlast_a_request(settings, values):
    # HTTP_TIMEOUT 10 (connect, then read) plus a margin: 22 seconds.
    assert ids(settings, **values) == ["petition_widget.E013"]
    assert ids(settings, LEASE_SECONDS=10, HTTP_TIMEOUT=(1, 3)) == []


@pytest.mark.parametrize("value", [0, -1, "5"])
def test_poll_interval(settings, value):
    assert ids(settings, POLL_INTERVAL=value) == ["petition_widget.E014"]


@pytest.mark.parametrize("value", [[600], {"changeorg": -1}, {"changeorg": 1.5}, {"changeorg": "60"}, {"facebook": 10}])
def test_rate_limits(settings, value):
    assert ids(settings, RATE_LIMITS=value) == ["petition_widget.E015"]


def test_rate_limits_may_be_partial_or_off(settings):
    assert ids(settings, RATE_LIMITS={"wethepeople": 0}) == []


def test_the_rate_limit_cache_must_exist_and_keep_counters(settings):
    assert ids(settings, RATE_LIMIT_CACHE="missing") == ["petition_widget.E016"]
    settings.CACHES = {**settings.CACHES, "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert ids(settings, RATE_LIMIT_CACHE="dummy") == ["petition_widget.E016"]


@pytest.mark.parametrize("values", [{"WAKE_TASK": "sometimes"}, {"WAKE_TASK": True}, {"WAKE_TASK_BACKEND": ""}])
def test_wake_task(settings, values):
    assert ids(settings, **values) == ["petition_widget.E017"]
