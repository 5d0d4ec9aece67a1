"""System checks and the settings reader."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from petition_widget.checks import check_settings
from petition_widget.conf import DEFAULTS, app_settings
from tests.checks.test_forwarding_checks import SHARED_CACHE


def ids(settings_dict, settings, debug=False):
    settings.PETITION_WIDGET = settings_dict
    settings.DEBUG = debug
    settings.CACHES = {**settings.CACHES, "default": SHARED_CACHE}
    return sorted(message.id for message in check_settings())


GOOD = {
    "SITE_URL": "https://blog.example",
    "CHANGEORG_API_KEY": "k",
    "CHANGEORG_SECRET": "s",
    "REQUESTER_EMAIL": "owner@blog.example",
}


def test_complete_settings_pass(settings):
    assert ids(GOOD, settings) == []


def test_test_settings_pass(settings):
    assert list(check_settings()) == []


def test_not_a_dict(settings):
    assert ids(["SITE_URL"], settings) == ["petition_widget.E001"]


def test_unknown_key_is_refused(settings):
    assert ids({**GOOD, "CHANGEORG_APIKEY": "typo"}, settings) == ["petition_widget.E002"]


@pytest.mark.parametrize("url", ["", "api.change.org/v1", "ftp://api.change.org/v1", 42])
def test_upstream_url_must_be_http(settings, url):
    assert ids({**GOOD, "CHANGEORG_API_URL": url}, settings) == ["petition_widget.E003"]


def test_plain_http_upstream_with_debug_off(settings):
    plain = {**GOOD, "WETHEPEOPLE_API_URL": "http://api.whitehouse.example/v1"}
    assert ids(plain, settings, debug=False) == ["petition_widget.E004"]
    assert ids(plain, settings, debug=True) == []
    loopback = {**GOOD, "CHANGEORG_API_URL": "http://127.0.0.1:8001/changeorg/v1"}
    assert ids(loopback, settings, debug=False) == []


@pytest.mark.parametrize("missing", ["CHANGEORG_API_KEY", "CHANGEORG_SECRET"])
def test_change_org_needs_key_and_secret(settings, missing):
    assert ids({**GOOD, missing: ""}, settings) == ["petition_widget.E005"]


def test_no_credentials_at_all_is_a_warning(settings):
    assert ids({"SITE_URL": "https://blog.example"}, settings) == ["petition_widget.W001"]
    assert ids({"WETHEPEOPLE_API_KEY": "w", "SITE_URL": "https://blog.example"}, settings) == []


def test_an_empty_site_url_warns_that_confirmation_links_cannot_be_made(settings):
    assert ids({"WETHEPEOPLE_API_KEY": "w"}, settings) == ["petition_widget.W002"]
    assert ids({}, settings) == ["petition_widget.W001", "petition_widget.W002"]


def test_requester_email_needed_with_change_org(settings):
    assert ids({**GOOD, "REQUESTER_EMAIL": ""}, settings) == ["petition_widget.E010"]


def test_site_url(settings):
    assert ids({**GOOD, "SITE_URL": ""}, settings) == ["petition_widget.E006"]
    assert ids({**GOOD, "SITE_URL": "blog.example"}, settings) == ["petition_widget.E006"]


@pytest.mark.parametrize("value", [0, 100, "16384", True, None])
def test_max_request_bytes(settings, value):
    assert ids({**GOOD, "MAX_REQUEST_BYTES": value}, settings) == ["petition_widget.E007"]


def test_base_template_must_exist(settings):
    assert ids({**GOOD, "BASE_TEMPLATE": "nope/missing.html"}, settings) == ["petition_widget.E008"]


def test_settings_are_read_lazily_and_follow_overrides(settings):
    settings.PETITION_WIDGET = {"MAX_REQUEST_BYTES": 4096}
    assert app_settings.MAX_REQUEST_BYTES == 4096
    assert app_settings.HTTP_TIMEOUT == DEFAULTS["HTTP_TIMEOUT"]
    settings.PETITION_WIDGET = {"MAX_REQUEST_BYTES": 8192}
    assert app_settings.MAX_REQUEST_BYTES == 8192


def test_unknown_keys_refused_on_read(settings):
    settings.PETITION_WIDGET = {"MAX_REQUEST_BYTE": 1}
    with pytest.raises(ImproperlyConfigured, match="Unknown key.*MAX_REQUEST_BYTE"):
        _ = app_settings.SITE_URL


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        _ = app_settings.NOT_A_SETTING
