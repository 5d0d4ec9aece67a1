"""System checks of the abuse, confirmation and retention settings (petition_widget.E018 to E021)."""

import pytest
from django import forms

from petition_widget.checks import check_settings
from tests.checks.test_forwarding_checks import GOOD, SHARED_CACHE, ids


class HumanField(forms.CharField):
    """A stand-in captcha field for the checks: any form field class passes."""


@pytest.mark.parametrize(
    "values",
    [
        {"SIGN_MIN_SECONDS": -1},
        {"SIGN_MIN_SECONDS": 2.5},
        {"SIGN_LIMIT_PER_IP": "10"},
        {"SIGN_LIMIT_PER_PETITION": True},
        {"TRUSTED_PROXY_COUNT": -1},
        {"SIGN_FORM_MAX_AGE": 0},
        {"CONFIRMATION_EXPIRY_HOURS": 0},
        {"RETENTION_DAYS": 0},
        {"SIGN_MIN_SECONDS": 60, "SIGN_FORM_MAX_AGE": 60},
    ],
)
def test_whole_numbers(settings, values):
    assert ids(settings, **values) == ["petition_widget.E018"]


def test_zero_turns_the_abuse_limits_off(settings):
    assert ids(settings, SIGN_MIN_SECONDS=0, SIGN_LIMIT_PER_IP=0, SIGN_LIMIT_PER_PETITION=0) == []


@pytest.mark.parametrize("value", ["no.such.Field", "django.forms", "petition_widget.models.Signature", 3])
def test_the_captcha_field_must_be_a_form_field_class(settings, value):
    assert ids(settings, CAPTCHA_FIELD=value) == ["petition_widget.E019"]


def test_a_captcha_field_class_passes(settings):
    assert ids(settings, CAPTCHA_FIELD="tests.checks.test_signing_checks.HumanField") == []


@pytest.mark.parametrize("key", ["IP_HASH_KEY", "CONFIRMATION_FROM_EMAIL", "REVIEWER_GROUP"])
def test_strings(settings, key):
    assert ids(settings, **{key: None}) == ["petition_widget.E020"]


LOCAL = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def test_abuse_limits_in_a_per_process_cache_are_refused_in_production(settings):
    """A limit counted per process lets a client through once per web process: E022 with DEBUG off."""
    settings.CACHES = {"default": LOCAL}
    settings.DEBUG = False
    settings.PETITION_WIDGET = {**GOOD}
    assert [m.id for m in check_settings()] == ["petition_widget.E022"]
    message = next(m for m in check_settings() if m.id == "petition_widget.E022")
    assert "SIGN_LIMIT_PER_IP" in message.msg and "Redis" in message.hint


def test_a_per_process_cache_is_fine_with_everything_that_keeps_state_off(settings):
    settings.CACHES = {"default": LOCAL}
    settings.PETITION_WIDGET = {
        **GOOD,
        "SIGN_MIN_SECONDS": 0,
        "SIGN_LIMIT_PER_IP": 0,
        "SIGN_LIMIT_PER_PETITION": 0,
        "API_KEY_LIMITS": {"browser": 0, "server": 0},
    }
    settings.DEBUG = False
    assert [m.id for m in check_settings()] == []


def test_a_per_process_cache_is_fine_for_one_development_server(settings):
    settings.CACHES = {"default": LOCAL}
    settings.PETITION_WIDGET = {**GOOD}
    settings.DEBUG = True
    assert "petition_widget.E022" not in [m.id for m in check_settings()]


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_a_captcha_that_remembers_challenges_per_process_is_refused(settings, backend):
    """django-altcha keeps solved challenges in ALTCHA_CACHE_ALIAS: per process, each is good once per process."""
    settings.CACHES = {"default": SHARED_CACHE, "captcha": {"BACKEND": f"django.core.cache.backends.{backend}"}}
    settings.ALTCHA_CACHE_ALIAS = "captcha"
    settings.DEBUG = False
    settings.PETITION_WIDGET = {**GOOD, "CAPTCHA_FIELD": "django_altcha.AltchaField"}
    assert "petition_widget.E022" in [m.id for m in check_settings()]
    settings.ALTCHA_CACHE_ALIAS = "default"
    assert "petition_widget.E022" not in [m.id for m in check_settings()]


@pytest.mark.parametrize(
    "value",
    [
        None,
        [1000, 10000],
        {"browser": 1000, "server": 10000, "partner": 5},
        {"browser": -1},
        {"server": 2.5},
        {"browser": "1000"},
        {"server": True},
    ],
)
def test_api_key_limits_must_be_whole_numbers_by_kind(settings, value):
    assert ids(settings, API_KEY_LIMITS=value) == ["petition_widget.E021"]


def test_api_key_limits_may_turn_a_kind_off_or_leave_it_out(settings):
    assert ids(settings, API_KEY_LIMITS={"browser": 0, "server": 50}) == []
    assert ids(settings, API_KEY_LIMITS={"server": 50}) == []
