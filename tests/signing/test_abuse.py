"""Abuse protection of the HTML signing form: honeypot, form token, rate limits, client address, captcha.

Everything goes through the real view with Django's test client and the live form's HTML: the form is
fetched, its token read and posted back. The clock is never waited on: a token "rendered earlier" is made
with ``make_form_token(issued_at=...)``, and the minimum time is set far longer than any test run takes.
The suite turns the checks off (tests/settings.py); each test here turns on what it tests.
"""

import re
import threading
import time
from pathlib import Path

import pytest
from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory

import petition_widget
from petition_widget import abuse, clients
from petition_widget.models import Signature
from tests.factories import new_api_key, post_signature, sign_url

MIN_SECONDS = 600  # far longer than the tests take: a form posted straight back is always too quick
MAX_AGE = 3600
ADDRESS = "203.0.113.5"
OTHER_ADDRESS = "203.0.113.77"
PROXY = "10.0.0.1"

TOKEN_INPUT = re.compile(r'<input type="hidden" name="form_token" value="([^"]*)"')
SUMMARY = re.compile(r'<div class="pw-error-summary"[^>]* role="alert"[^>]*>(.*?)</div>', re.S)


@pytest.fixture
def configure(settings, fresh_cache):
    """Turn checks on: ``configure(SIGN_LIMIT_PER_IP=2, ...)``, over a fresh cache of the test's own."""

    def apply(**values):
        settings.PETITION_WIDGET = {
            **settings.PETITION_WIDGET,
            "SIGN_MIN_SECONDS": MIN_SECONDS,
            "SIGN_FORM_MAX_AGE": MAX_AGE,
            "SIGN_LIMIT_PER_IP": 0,
            "SIGN_LIMIT_PER_PETITION": 0,
            "TRUSTED_PROXY_COUNT": 0,
            "RATE_LIMIT_CACHE": fresh_cache,
            **values,
        }

    apply()
    return apply


def form_token(html: str) -> str:
    match = TOKEN_INPUT.search(html)
    assert match, "the form has no token"
    return match.group(1)


def fetch_form(client, petition) -> str:
    """GET the form page and return the token it rendered."""
    response = client.get(sign_url(petition))
    assert response.status_code == 200
    return form_token(response.content.decode())


def earlier_token(petition, seconds_ago: float = MIN_SECONDS + 5) -> str:
    """The token of a form rendered ``seconds_ago`` (the signer took that long to fill it in)."""
    return abuse.make_form_token(petition, issued_at=time.time() - seconds_ago)


def summary(response) -> str:
    match = SUMMARY.search(response.content.decode())
    return match.group(1) if match else ""


def post(client, petition, data, *, token=None, address=ADDRESS, forwarded=None, **extra):
    """The sign form posted from ``address`` (through a proxy saying ``forwarded``), with ``token`` or else a
    form token issued long enough before."""
    body = {**data, "form_token": earlier_token(petition) if token is None else token}
    headers = {"REMOTE_ADDR": address}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return post_signature(client, petition, body, **headers, **extra)


def with_email(data, n):
    return {**data, "email": f"signer{n}@example.org"}


def issued_at(token: str) -> int:
    return signing.b62_decode(token.split(":")[1])


def assert_refused(response, status, message, petition, posted_token=""):
    """A calm refusal: the status, the message in the alert, the entries kept, a token made now."""
    assert response.status_code == status
    assert str(message) in summary(response)
    html = response.content.decode()
    assert 'value="Ada"' in html and 'value="London"' in html
    token = form_token(html)
    # Made for this petition at the refusal (a token of the same second is the same string).
    assert abuse.check_form_token(token, petition, now=time.time() + MIN_SECONDS + 2) is None
    assert abuse.check_form_token(token, petition) == abuse.TOO_FAST
    if abuse.check_form_token(posted_token, petition, now=time.time() + MIN_SECONDS + 2) is None:
        assert issued_at(token) >= issued_at(posted_token)


# --- rendering -----------------------------------------------------------------------------------


def test_form_carries_a_token_and_a_honeypot_hidden_from_people(client, petition, configure):
    html = client.get(sign_url(petition)).content.decode()
    token = form_token(html)
    wrapper = re.search(r'<div class="pw-hp" aria-hidden="true">(.*?)</div>', html, re.S)
    assert wrapper, "the honeypot's wrapper is hidden from assistive technology"
    honeypot = re.search(r'<input type="text" name="website"[^>]*>', wrapper.group(1)).group(0)
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot
    assert '<label for="pw-save-the-bees-website">Leave this field empty</label>' in wrapper.group(1)
    css = (Path(petition_widget.__file__).parent / "static/petition_widget/petition_widget.css").read_text()
    # inset-inline-start: off the left edge, or off the right one on a right-to-left page
    assert re.search(r"\.pw-hp \{[^}]*position: absolute[^}]*inset-inline-start: -10000px", css)
    # The live token is this petition's: refused now, accepted once the minimum time has passed.
    assert abuse.check_form_token(token, petition) == abuse.TOO_FAST
    assert abuse.check_form_token(token, petition, now=time.time() + MIN_SECONDS + 2) is None


def test_template_tag_renders_the_same_protection(rf: RequestFactory, petition, configure):
    html = Template("{% load petition_widget %}{% petition_form petition %}").render(
        Context({"request": rf.get("/"), "petition": petition})
    )
    assert abuse.check_form_token(form_token(html), petition, now=time.time() + MIN_SECONDS + 2) is None
    assert 'name="website"' in html


def test_thanks_and_closed_states_render_no_token(client, petition, configure, changeorg_data):
    thanks_url = post(client, petition, changeorg_data)["Location"]
    thanks = client.get(thanks_url).content.decode()
    assert "Thank you for signing!" in thanks and 'name="form_token"' not in thanks
    petition.accepts_signatures = False
    petition.save()
    assert 'name="form_token"' not in client.get(sign_url(petition)).content.decode()


# --- honeypot and form token ------------------------------------------------------------------------


def test_a_filled_honeypot_is_refused(client, petition, configure, changeorg_data):
    fetch_form(client, petition)
    token = earlier_token(petition)
    response = post(client, petition, {**changeorg_data, "website": "https://spam.example"}, token=token)
    assert_refused(response, 400, abuse.HONEYPOT.message, petition, token)
    assert "spam.example" not in response.content.decode()  # the honeypot comes back empty
    assert not Signature.objects.exists()


def test_posting_the_live_form_too_soon_is_refused_and_after_the_minimum_accepted(
    client, petition, configure, changeorg_data
):
    token = fetch_form(client, petition)
    response = post(client, petition, changeorg_data, token=token)
    assert_refused(
        response, 400, "That was quick — please check your details and send the form again.", petition, token
    )
    assert not Signature.objects.exists()

    response = post(client, petition, changeorg_data, token=earlier_token(petition))
    assert response.status_code == 303
    assert Signature.objects.count() == 1


def test_a_replayed_old_form_is_refused(client, petition, configure, changeorg_data):
    old = earlier_token(petition, MAX_AGE + 10)
    response = post(client, petition, changeorg_data, token=old)
    assert_refused(response, 400, "This form is too old; please send it again.", petition, old)
    assert not Signature.objects.exists()
    # Just within the maximum age it is still good.
    assert post(client, petition, changeorg_data, token=earlier_token(petition, MAX_AGE - 60)).status_code == 303


def _tampered(petition, other):
    good = earlier_token(petition)
    pk, stamp, sig = good.split(":")
    earlier_stamp = signing.b62_encode(signing.b62_decode(stamp) - 5000)
    return {
        "missing": "",
        "garbage": "not a token",
        "signature altered": f"{pk}:{stamp}:{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",
        "timestamp moved back, signature kept": f"{pk}:{earlier_stamp}:{sig}",
        "petition changed, signature kept": f"{other.pk}:{stamp}:{sig}",
        "another petition's token": earlier_token(other),
        "signed with another salt": signing.TimestampSigner(salt="elsewhere").sign(str(petition.pk)),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "garbage",
        "signature altered",
        "timestamp moved back, signature kept",
        "petition changed, signature kept",
        "another petition's token",
        "signed with another salt",
    ],
)
def test_a_missing_altered_or_foreign_token_is_refused(client, petition, wtp_petition, configure, changeorg_data, case):
    token = _tampered(petition, wtp_petition)[case]
    response = post(client, petition, changeorg_data, token=token)
    assert_refused(response, 400, abuse.BAD_TOKEN.message, petition, token)
    assert not Signature.objects.exists()


def test_min_seconds_zero_turns_the_token_check_off_but_not_the_honeypot(client, petition, configure, changeorg_data):
    configure(SIGN_MIN_SECONDS=0)
    assert 'name="form_token"' in client.get(sign_url(petition)).content.decode()  # still rendered
    assert post(client, petition, with_email(changeorg_data, 1), token="").status_code == 303
    assert post(client, petition, with_email(changeorg_data, 2), token="not a token").status_code == 303
    response = post(client, petition, {**with_email(changeorg_data, 3), "website": "x"}, token="")
    assert response.status_code == 400
    assert Signature.objects.count() == 2


def test_field_errors_keep_a_good_token_and_the_correction_goes_through(client, petition, configure, changeorg_data):
    token = earlier_token(petition)
    response = post(client, petition, {**changeorg_data, "email": "nope"}, token=token)
    assert response.status_code == 200
    assert '<a href="#pw-save-the-bees-email">Enter a valid email address.</a>' in summary(response)
    assert "That was quick" not in response.content.decode()
    kept = form_token(response.content.decode())
    assert kept == token  # the time already spent on the form counts
    assert post(client, petition, changeorg_data, token=kept).status_code == 303


def test_a_form_token_is_good_for_one_signature(client, petition, configure, changeorg_data):
    token = earlier_token(petition)
    assert post(client, petition, with_email(changeorg_data, 1), token=token).status_code == 303
    response = post(client, petition, with_email(changeorg_data, 2), token=token)
    assert_refused(response, 400, abuse.REPLAYED.message, petition, token)
    assert form_token(response.content.decode()) != token
    assert list(Signature.objects.values_list("email", flat=True)) == ["signer1@example.org"]
    # Each rendered form has a token of its own, even within one second.
    assert fetch_form(client, petition) != fetch_form(client, petition)


def test_the_correction_after_a_duplicate_address_goes_through_with_the_same_token(
    client, petition, configure, changeorg_data
):
    assert post(client, petition, changeorg_data).status_code == 303
    token = earlier_token(petition)
    response = post(client, petition, {**changeorg_data, "first_name": "Augusta"}, token=token)
    assert response.status_code == 200
    assert "This e-mail address has already signed this petition." in response.content.decode()
    assert form_token(response.content.decode()) == token
    assert post(client, petition, with_email(changeorg_data, 2), token=token).status_code == 303
    assert post(client, petition, with_email(changeorg_data, 3), token=token).status_code == 400  # now spent


def test_a_concealed_duplicate_spends_its_token_like_a_new_signature(client, petition, configure, changeorg_data):
    """Otherwise a replay of the token would tell whether its first use was a duplicate."""
    petition.conceal_duplicates = True
    petition.save()
    assert post(client, petition, changeorg_data).status_code == 303
    for email in (changeorg_data["email"], "bob@example.org"):  # a duplicate, then a new signature
        token = earlier_token(petition)
        assert post(client, petition, {**changeorg_data, "email": email}, token=token).status_code == 303
        assert post(client, petition, with_email(changeorg_data, 9), token=token).status_code == 400


def test_a_token_check_over_a_cache_that_fails_lets_signers_through(
    client, petition, configure, changeorg_data, monkeypatch, caplog
):
    def fail(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr("django.core.cache.backends.locmem.LocMemCache.add", fail)
    token = earlier_token(petition)
    assert post(client, petition, with_email(changeorg_data, 1), token=token).status_code == 303
    assert "form token not spent: its cache failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_one_token_posted_from_two_threads_at_once_stores_one_signature(petition, configure, changeorg_data):
    token = earlier_token(petition)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def sign(n: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=10)
            statuses.append(post(client, petition, with_email(changeorg_data, n), token=token).status_code)
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(statuses) == [303, 400]
    assert Signature.objects.count() == 1


# --- rate limits ---------------------------------------------------------------------------------


def ip_count(address):
    return abuse.ip_limiter().count(abuse.ip_key(clients.hash_ip(address)))


def petition_count(petition):
    return abuse.petition_limiter().count(abuse.petition_key(petition))


def test_per_address_limit_refuses_and_stores_nothing_over_it(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=2)
    for n in (1, 2):
        assert post(client, petition, with_email(changeorg_data, n)).status_code == 303
    assert ip_count(ADDRESS) == 2

    response = post(client, petition, with_email(changeorg_data, 3))
    assert_refused(response, 429, "Many signatures are arriving from your connection right now.", petition)
    assert int(response["Retry-After"]) > 0
    assert Signature.objects.count() == 2
    assert ip_count(ADDRESS) == 2  # the refused one is not counted

    assert post(client, petition, with_email(changeorg_data, 4), address=OTHER_ADDRESS).status_code == 303
    assert ip_count(OTHER_ADDRESS) == 1 and ip_count(ADDRESS) == 2


def test_without_trusted_proxies_a_spoofed_forwarded_for_is_ignored(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=2)
    for n in (1, 2):
        assert post(client, petition, with_email(changeorg_data, n), forwarded=f"198.51.100.{n}").status_code == 303
    response = post(client, petition, with_email(changeorg_data, 3), forwarded="198.51.100.3")
    assert response.status_code == 429
    assert set(Signature.objects.values_list("ip_hash", flat=True)) == {clients.hash_ip(ADDRESS)}


def test_behind_one_proxy_the_right_most_forwarded_address_counts(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=2, TRUSTED_PROXY_COUNT=1)
    client_ip = "198.51.100.7"
    for n in (1, 2):
        forwarded = f"192.0.2.{n}, {client_ip}"  # whatever the client put in front is not trusted
        assert (
            post(client, petition, with_email(changeorg_data, n), address=PROXY, forwarded=forwarded).status_code == 303
        )
    refused = post(client, petition, with_email(changeorg_data, 3), address=PROXY, forwarded=f"192.0.2.9, {client_ip}")
    assert refused.status_code == 429
    other = post(client, petition, with_email(changeorg_data, 4), address=PROXY, forwarded=f"{client_ip}, 198.51.100.8")
    assert other.status_code == 303
    hashes = list(Signature.objects.order_by("pk").values_list("ip_hash", flat=True))
    assert hashes == [clients.hash_ip(client_ip)] * 2 + [clients.hash_ip("198.51.100.8")]
    assert ip_count(PROXY) == 0


def test_behind_two_proxies_the_second_from_the_right_counts(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=1, TRUSTED_PROXY_COUNT=2)
    outer_proxy, client_ip = "10.0.0.2", "198.51.100.20"
    first = post(
        client,
        petition,
        with_email(changeorg_data, 1),
        address=PROXY,
        forwarded=f"192.0.2.1, {client_ip}, {outer_proxy}",
    )
    assert first.status_code == 303
    second = post(
        client, petition, with_email(changeorg_data, 2), address=PROXY, forwarded=f"{client_ip}, {outer_proxy}"
    )
    assert second.status_code == 429
    other = post(
        client,
        petition,
        with_email(changeorg_data, 3),
        address=PROXY,
        forwarded=f"{client_ip}, 198.51.100.21, {outer_proxy}",
    )
    assert other.status_code == 303
    assert list(Signature.objects.order_by("pk").values_list("ip_hash", flat=True)) == [
        clients.hash_ip(client_ip),
        clients.hash_ip("198.51.100.21"),
    ]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", ADDRESS),
        (1, None, ADDRESS),
        (1, "", ADDRESS),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, " 198.51.100.1 , 198.51.100.2 ", "198.51.100.2"),
        (2, "198.51.100.1, 198.51.100.2", "198.51.100.1"),
        (3, "198.51.100.1, 198.51.100.2", "198.51.100.1"),  # shorter than the proxies: the left-most
        (1, "198.51.100.1, unknown", ADDRESS),  # not an address where the proxy should have written one
        (1, "198.51.100.1, ", "198.51.100.1"),  # an empty entry is no hop
        (1, "198.51.100.1:4711", "198.51.100.1"),
        (1, "[2001:db8::1]:4711", "2001:db8::1"),
        (1, "::ffff:198.51.100.1", "198.51.100.1"),
        (1, "2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_client_address(rf, configure, proxies, forwarded, expected):
    configure(TRUSTED_PROXY_COUNT=proxies)
    headers = {"REMOTE_ADDR": ADDRESS}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    assert clients.client_address(rf.post("/", **headers)) == expected


def test_client_address_without_a_usable_remote_addr(rf, configure):
    assert clients.client_address(rf.post("/", REMOTE_ADDR="")) is None
    assert clients.client_hash(rf.post("/", REMOTE_ADDR="not-an-address")) == ""


def test_per_petition_limit(client, petition, wtp_petition, configure, changeorg_data, wtp_data):
    configure(SIGN_LIMIT_PER_PETITION=2)
    for n in (1, 2):
        address = f"198.51.100.{n}"
        assert post(client, petition, with_email(changeorg_data, n), address=address).status_code == 303
    response = post(client, petition, with_email(changeorg_data, 3), address="198.51.100.3")
    assert_refused(response, 429, "This petition is receiving a great many signatures right now.", petition)
    assert Signature.objects.filter(petition=petition).count() == 2
    assert petition_count(petition) == 2
    assert ip_count("198.51.100.3") == 0
    assert post(client, wtp_petition, wtp_data, address="198.51.100.3").status_code == 303  # another petition


def test_a_refusal_by_the_petition_limit_gives_the_address_slot_back(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=5, SIGN_LIMIT_PER_PETITION=1)
    assert post(client, petition, with_email(changeorg_data, 1)).status_code == 303
    assert post(client, petition, with_email(changeorg_data, 2)).status_code == 429
    assert (ip_count(ADDRESS), petition_count(petition)) == (1, 1)


def test_only_stored_signatures_count(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=2, SIGN_LIMIT_PER_PETITION=2)
    assert post(client, petition, changeorg_data).status_code == 303
    assert post(client, petition, {**changeorg_data, "email": "nope"}).status_code == 200  # invalid
    assert post(client, petition, {**changeorg_data, "website": "x"}).status_code == 400  # honeypot
    assert post(client, petition, changeorg_data, token="").status_code == 400  # no token
    assert (ip_count(ADDRESS), petition_count(petition)) == (1, 1)
    assert post(client, petition, with_email(changeorg_data, 2)).status_code == 303


@pytest.mark.parametrize("concealing", [False, True], ids=["telling", "concealing"])
def test_guessing_which_addresses_signed_uses_up_the_guessers_limit(
    client, petition, configure, changeorg_data, concealing
):
    """Each duplicate costs its address a slot as a new signature does; the petition's limit gets its slot
    back unless the petition conceals duplicates (then everything counts as for a new signature)."""
    petition.conceal_duplicates = concealing
    petition.save()
    configure(SIGN_LIMIT_PER_IP=2, SIGN_LIMIT_PER_PETITION=5)
    assert post(client, petition, changeorg_data, address=OTHER_ADDRESS).status_code == 303  # ada signed
    assert post(client, petition, changeorg_data).status_code == (303 if concealing else 200)  # a guess
    assert (ip_count(ADDRESS), petition_count(petition)) == (1, 2 if concealing else 1)
    assert post(client, petition, with_email(changeorg_data, 2)).status_code == 303
    response = post(client, petition, with_email(changeorg_data, 3))
    assert_refused(response, 429, "Many signatures are arriving from your connection right now.", petition)
    assert Signature.objects.count() == 2


def test_zero_turns_both_limits_off(client, petition, configure, changeorg_data):
    configure(SIGN_LIMIT_PER_IP=0, SIGN_LIMIT_PER_PETITION=0)
    for n in range(15):  # more than the defaults' 10 an hour from one address
        assert post(client, petition, with_email(changeorg_data, n)).status_code == 303
    assert Signature.objects.count() == 15
    assert (ip_count(ADDRESS), petition_count(petition)) == (0, 0)


def test_a_limit_over_a_cache_that_fails_lets_signers_through(client, petition, configure, settings, changeorg_data):
    settings.CACHES = {**settings.CACHES, "abuse": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    configure(SIGN_LIMIT_PER_IP=1)
    for n in (1, 2):
        assert post(client, petition, with_email(changeorg_data, n)).status_code == 303


# --- the address hash --------------------------------------------------------------------------


def test_the_signature_stores_a_keyed_hash_never_the_address(client, petition, configure, changeorg_data, caplog):
    caplog.set_level("DEBUG", logger="petition_widget")
    configure(SIGN_LIMIT_PER_IP=1)
    post(client, petition, with_email(changeorg_data, 1))
    post(client, petition, with_email(changeorg_data, 2))  # refused: logged by code, not by address
    post(client, petition, with_email(changeorg_data, 3), address=OTHER_ADDRESS)
    rows = list(Signature.objects.order_by("pk"))
    assert len(rows) == 2
    first, other = rows
    assert re.fullmatch(r"[0-9a-f]{64}", first.ip_hash)
    assert first.ip_hash == clients.hash_ip(ADDRESS) != other.ip_hash == clients.hash_ip(OTHER_ADDRESS)
    for row in rows:
        values = [str(getattr(row, f.attname)) for f in row._meta.concrete_fields]
        assert not any(ADDRESS in v or OTHER_ADDRESS in v for v in values)
    assert ADDRESS not in caplog.text and OTHER_ADDRESS not in caplog.text
    assert "limit_per_ip" in caplog.text


def test_the_hash_is_keyed(configure, settings):
    default = clients.hash_ip(ADDRESS)
    assert default == clients.hash_ip(ADDRESS)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    derived_from_other_secret = clients.hash_ip(ADDRESS)
    assert derived_from_other_secret != default
    configure(IP_HASH_KEY="a-key-of-its-own")
    assert clients.hash_ip(ADDRESS) not in (default, derived_from_other_secret)


def test_an_ipv6_client_counts_as_its_64_network(configure):
    assert clients.hash_ip("2001:db8:1:2::1") == clients.hash_ip("2001:db8:1:2:ffff::9")
    assert clients.hash_ip("2001:db8:1:2::1") != clients.hash_ip("2001:db8:1:3::1")


# --- captcha ---------------------------------------------------------------------------------------


class SumCaptchaField(forms.CharField):
    """A stand-in captcha for the hook: the answer to three plus four."""

    def __init__(self, **kwargs):
        super().__init__(label="What is three plus four?", **kwargs)

    def validate(self, value):
        super().validate(value)
        if value.strip() != "7":
            raise ValidationError("That is not the answer.")


CAPTCHA_PATH = f"{__name__}.SumCaptchaField"


@pytest.mark.parametrize(("answer", "accepted"), [(None, False), ("8", False), ("7", True)])
def test_captcha_hook_on(client, petition, configure, changeorg_data, answer, accepted):
    configure(CAPTCHA_FIELD=CAPTCHA_PATH)
    html = client.get(sign_url(petition)).content.decode()
    assert '<label for="pw-save-the-bees-captcha">What is three plus four?' in html
    assert 'name="captcha"' in html
    data = changeorg_data if answer is None else {**changeorg_data, "captcha": answer}
    response = post(client, petition, data)
    if accepted:
        assert response.status_code == 303
        assert Signature.objects.count() == 1
    else:
        assert_refused(response, 400, abuse.CAPTCHA.message, petition)
        assert 'name="captcha"' in response.content.decode()
        assert not Signature.objects.exists()


def test_captcha_hook_off(client, petition, configure, changeorg_data):
    html = client.get(sign_url(petition)).content.decode()
    assert 'name="captcha"' not in html and "What is three plus four?" not in html
    assert post(client, petition, changeorg_data).status_code == 303


# --- the API -------------------------------------------------------------------------------------


def test_the_api_post_takes_no_token_but_the_forms_limits(client, petition, configure, changeorg_data):
    # No form token or captcha (a widget's page renders neither), but the form's limits: a browser key
    # counts per address and per petition; a server key per petition only.
    configure(SIGN_LIMIT_PER_IP=2, SIGN_LIMIT_PER_PETITION=3, CAPTCHA_FIELD=CAPTCHA_PATH)
    keys = {}
    for kind, origins in (("browser", "https://blog.example"), ("server", "")):
        keys[kind] = new_api_key(name=kind, kind=kind, allowed_origins=origins)

    def api_post(kind, n, **headers):
        return client.post(
            f"/api/v1/petitions/{petition.upstream_id}/signatures",
            {"api_key": keys[kind], **with_email(changeorg_data, n)},
            REMOTE_ADDR=ADDRESS,
            **headers,
        )

    statuses = [api_post("browser", n, HTTP_ORIGIN="https://blog.example").status_code for n in range(3)]
    assert statuses == [202, 202, 429]
    assert (ip_count(ADDRESS), petition_count(petition)) == (2, 2)
    assert [api_post("server", n).status_code for n in range(3, 5)] == [202, 429]
    assert (ip_count(ADDRESS), petition_count(petition)) == (2, 3)
    assert Signature.objects.count() == 3
