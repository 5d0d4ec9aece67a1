"""System checks of the abuse, confirmation and retention settings (petition_widget.E018 to E021)."""

import pytest
from django import forms

from tests.test_forwarding_checks import ids


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
    assert ids(settings, CAPTCHA_FIELD="tests.test_signing_checks.HumanField") == []


@pytest.mark.parametrize("key", ["IP_HASH_KEY", "CONFIRMATION_FROM_EMAIL", "REVIEWER_GROUP"])
def test_strings(settings, key):
    assert ids(settings, **{key: None}) == ["petition_widget.E020"]


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
