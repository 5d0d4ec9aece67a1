"""API keys against abuse: a browser key is public and held to the form's limits, a server key is secret.

Everything goes through the real API view with Django's test client; the rate limits count in a fresh
local-memory cache of each test's own (the suite turns the limits off, tests/settings.py).
"""

import pytest
from django.core import mail

from petition_widget import abuse, clients
from petition_widget.api_keys import ApiKey, ApiKeyKind
from petition_widget.models import Signature
from tests.factories import new_api_key

API = "/api/v1/petitions/48503/signatures"
BLOG = "https://blog.example"
ADDRESS = "203.0.113.5"
OTHER_ADDRESS = "203.0.113.77"
ATTEMPTS = 40
NO_PAGE = "This api_key may be used only from a web page on one of its origins."


@pytest.fixture
def limits(settings, fresh_cache):
    """``limits(SIGN_LIMIT_PER_IP=10, ...)``: limits over a fresh cache; everything else off."""

    def apply(**values):
        settings.PETITION_WIDGET = {
            **settings.PETITION_WIDGET,
            "SITE_URL": "https://petitions.example",
            "SIGN_MIN_SECONDS": 0,
            "SIGN_LIMIT_PER_IP": 0,
            "SIGN_LIMIT_PER_PETITION": 0,
            "TRUSTED_PROXY_COUNT": 0,
            "API_KEY_LIMITS": {"browser": 0, "server": 0},
            "RATE_LIMIT_CACHE": fresh_cache,
            **values,
        }

    apply()
    return apply


@pytest.fixture
def browser_key(db):
    return new_api_key(name="browser key", kind=ApiKeyKind.BROWSER, allowed_origins=BLOG, validate=True)


@pytest.fixture
def server_key(db):
    return new_api_key(name="server key", kind=ApiKeyKind.SERVER, validate=True)


def api_sign(client, key, data, n, *, origin=None, address=ADDRESS, **extra):
    headers = {"REMOTE_ADDR": address, **extra}
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return client.post(API, {"api_key": key, **data, "email": f"signer{n}@example.org"}, **headers)


def failure_messages(response, status):
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"result", "messages"} and body["result"] == "failure" and body["messages"], body
    return body["messages"]


def assert_rate_limited(response):
    failure_messages(response, 429)
    assert int(response.headers["Retry-After"]) >= 1


# --- a browser key --------------------------------------------------------------------------------


def test_a_browser_key_without_an_origin_stores_nothing(client, petition, browser_key, changeorg_data, limits):
    # The probe: the key read from a widget's page, posted from a script with no Origin, 40 times.
    for n in range(ATTEMPTS):
        response = api_sign(client, browser_key, changeorg_data, n)
        assert failure_messages(response, 403) == [
            "This api_key may be used only from a web page on one of its origins."
        ]
    for n, origin in enumerate(("null", "https://evil.example", "https://blog.example.evil.example")):
        failure_messages(api_sign(client, browser_key, changeorg_data, n, origin=origin), 403)
    assert not Signature.objects.exists()


def test_a_browser_key_from_its_origin_gets_only_the_per_address_limit(
    client, petition, browser_key, changeorg_data, limits
):
    limits(SIGN_LIMIT_PER_IP=10)
    responses = [api_sign(client, browser_key, changeorg_data, n, origin=BLOG) for n in range(ATTEMPTS)]
    assert [response.status_code for response in responses[:10]] == [202] * 10
    for response in responses[10:]:
        assert_rate_limited(response)
    assert Signature.objects.count() == 10
    # Another address has a budget of its own; the origin is still checked first.
    assert api_sign(client, browser_key, changeorg_data, 99, origin=BLOG, address=OTHER_ADDRESS).status_code == 202
    assert Signature.objects.count() == 11


def test_a_browser_key_and_the_form_share_one_address_budget(client, petition, browser_key, changeorg_data, limits):
    limits(SIGN_LIMIT_PER_IP=3)
    form_url = f"/petitions/{petition.slug}/"
    for n in (1, 2):
        response = client.post(form_url, {**changeorg_data, "email": f"form{n}@example.org"}, REMOTE_ADDR=ADDRESS)
        assert response.status_code == 303
    assert api_sign(client, browser_key, changeorg_data, 3, origin=BLOG).status_code == 202
    assert_rate_limited(api_sign(client, browser_key, changeorg_data, 4, origin=BLOG))
    refused = client.post(form_url, {**changeorg_data, "email": "form5@example.org"}, REMOTE_ADDR=ADDRESS)
    assert refused.status_code == 429
    assert Signature.objects.count() == 3


def test_a_browser_key_behind_the_sites_proxies_counts_the_signers_address(
    client, petition, browser_key, changeorg_data, limits
):
    limits(SIGN_LIMIT_PER_IP=1, TRUSTED_PROXY_COUNT=1)
    for n, signer in enumerate(("198.51.100.1", "198.51.100.2")):
        response = api_sign(client, browser_key, changeorg_data, n, origin=BLOG, HTTP_X_FORWARDED_FOR=signer)
        assert response.status_code == 202
    again = api_sign(client, browser_key, changeorg_data, 2, origin=BLOG, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert_rate_limited(again)


def test_a_browser_key_cannot_mail_bomb_through_a_confirmation_petition(
    client, petition, browser_key, changeorg_data, limits, django_capture_on_commit_callbacks
):
    limits(SIGN_LIMIT_PER_IP=5)
    petition.require_confirmation = True
    petition.save()
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [api_sign(client, browser_key, changeorg_data, n, origin=BLOG).status_code for n in range(ATTEMPTS)]
    assert statuses == [202] * 5 + [429] * (ATTEMPTS - 5)
    assert len(mail.outbox) == 5
    assert sorted(message.to[0] for message in mail.outbox) == [f"signer{n}@example.org" for n in range(5)]


def test_a_browser_key_is_held_to_its_own_hourly_limit(client, petition, browser_key, changeorg_data, limits):
    limits(API_KEY_LIMITS={"browser": 3, "server": 0})
    statuses = [
        api_sign(client, browser_key, changeorg_data, n, origin=BLOG, address=f"198.51.100.{n + 1}").status_code
        for n in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    # Another key is counted apart.
    other = new_api_key(name="browser key", kind=ApiKeyKind.BROWSER, allowed_origins=BLOG, validate=True)
    assert api_sign(client, other, changeorg_data, 9, origin=BLOG).status_code == 202


def test_refused_signatures_use_no_slot(client, petition, browser_key, changeorg_data, limits):
    limits(SIGN_LIMIT_PER_IP=2, API_KEY_LIMITS={"browser": 2, "server": 0})
    for n in range(5):
        bad = api_sign(client, browser_key, {**changeorg_data, "country_code": "XX"}, n, origin=BLOG)
        failure_messages(bad, 400)
    assert api_sign(client, browser_key, changeorg_data, 1, origin=BLOG).status_code == 202
    assert api_sign(client, browser_key, changeorg_data, 2, origin=BLOG).status_code == 202
    assert_rate_limited(api_sign(client, browser_key, changeorg_data, 3, origin=BLOG))


def test_a_duplicate_through_a_browser_key_uses_its_address_slot(client, petition, browser_key, changeorg_data, limits):
    """Guessing which addresses signed costs the guesser a slot per guess, through the API as on the form."""
    limits(SIGN_LIMIT_PER_IP=2, API_KEY_LIMITS={"browser": 0, "server": 0})
    assert api_sign(client, browser_key, changeorg_data, 1, origin=BLOG).status_code == 202
    failure_messages(api_sign(client, browser_key, changeorg_data, 1, origin=BLOG), 400)  # the duplicate
    assert_rate_limited(api_sign(client, browser_key, changeorg_data, 2, origin=BLOG))
    assert Signature.objects.count() == 1


# --- a server key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [BLOG, "null", "http://testserver"])
def test_a_server_key_used_from_a_browser_is_refused(client, petition, server_key, changeorg_data, limits, origin):
    response = api_sign(client, server_key, changeorg_data, 1, origin=origin)
    assert failure_messages(response, 403) == ["This api_key is a server key: it may not be used from a browser."]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert not Signature.objects.exists()


def test_a_server_key_is_held_to_its_own_limit_not_the_per_address_one(
    client, petition, server_key, changeorg_data, limits
):
    limits(SIGN_LIMIT_PER_IP=2, API_KEY_LIMITS={"browser": 0, "server": 5})
    statuses = [api_sign(client, server_key, changeorg_data, n).status_code for n in range(5)]
    assert statuses == [202] * 5
    assert_rate_limited(api_sign(client, server_key, changeorg_data, 5))
    assert Signature.objects.count() == 5
    assert abuse.ip_limiter().count(abuse.ip_key(clients.hash_ip(ADDRESS))) == 0


def test_a_server_key_is_held_to_the_per_petition_limit(client, petition, server_key, changeorg_data, limits):
    limits(SIGN_LIMIT_PER_PETITION=2)
    assert [api_sign(client, server_key, changeorg_data, n).status_code for n in range(2)] == [202, 202]
    assert_rate_limited(api_sign(client, server_key, changeorg_data, 2))


# --- keys in the admin ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, origins, error",
    [
        ("browser", "", "A browser key needs at least one origin"),
        ("server", BLOG, "A server key is refused from browsers"),
    ],
)
def test_the_admin_refuses_a_key_whose_kind_and_origins_disagree(admin_client, kind, origins, error):
    response = admin_client.post(
        "/admin/petition_widget/apikey/add/", {"name": "x", "kind": kind, "allowed_origins": origins, "active": "on"}
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_admin_shows_each_keys_kind(admin_client, browser_key, server_key):
    listing = admin_client.get("/admin/petition_widget/apikey/").content.decode()
    assert "column-kind" in listing and "Browser key" in listing and "Server key" in listing
    record = ApiKey.objects.get(kind=ApiKeyKind.SERVER)
    form = admin_client.get(f"/admin/petition_widget/apikey/{record.pk}/change/").content.decode()
    assert 'name="kind"' in form
    response = admin_client.post(
        "/admin/petition_widget/apikey/add/", {"name": "partner", "kind": "server", "active": "on"}, follow=True
    )
    assert "The new API key is" in response.content.decode()
    assert ApiKey.objects.get(name="partner").kind == ApiKeyKind.SERVER
