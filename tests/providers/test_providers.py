"""The upstream clients end to end: real HTTP on loopback against the emulator (and, for the failures no
API server sends on purpose, a closed port and a bare HTML server standing in for a broken proxy)."""

import logging
import re
import socket
import threading
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from petition_widget.exceptions import CredentialsRejected, PetitionNotFound, UpstreamError, UpstreamUnavailable
from petition_widget.models import Petition, Provider
from petition_widget.providers import ChangeOrgProvider, get_provider
from petition_widget.providers.base import USER_AGENT, Outcome, Request
from tests.factories import make_signature

OPEN_CHANGEORG = "1001"
CLOSED_CHANGEORG = "1002"
OPEN_WTP = "2001"
SOURCE = "https://blog.example/petitions/elm-street/"


@pytest.fixture
def upstream(settings, emulator):
    """Point both clients at the emulator, with its credentials and a short timeout."""
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "CHANGEORG_API_URL": emulator.changeorg_url,
        "CHANGEORG_API_KEY": emulator.api_key,
        "CHANGEORG_SECRET": emulator.secret,
        "WETHEPEOPLE_API_URL": emulator.wethepeople_url,
        "WETHEPEOPLE_API_KEY": emulator.api_key,
        "HTTP_TIMEOUT": 1.0,
        "REQUESTER_EMAIL": "owner@blog.example",
        "SOURCE_DESCRIPTION": "The example blog",
    }
    return emulator


@pytest.fixture
def changeorg(upstream):
    with get_provider("changeorg") as provider:
        yield provider


@pytest.fixture
def wethepeople(upstream):
    with get_provider("wethepeople") as provider:
        yield provider


def seeded(emulator, provider, status):
    """The id and URL of a seeded petition, read from the emulator's control endpoint."""
    listed = emulator.petitions()
    found = next(p for p in listed if p["provider"] == provider and p["status"] == status)
    return found["id"], found["url"]


def cached_petition(provider, upstream_id, *, source=SOURCE, grant=True, slug=None):
    """A local Petition row filled through the client, with an auth key where the platform has them."""
    data = provider.fetch_petition(upstream_id)
    petition = Petition(provider=provider.name, slug=slug or f"{provider.name}-{upstream_id}", **data.model_fields())
    if grant:
        key = provider.request_auth_key(upstream_id, source=source, callback_endpoint="")
        if key is not None:
            petition.auth_key, petition.auth_key_status, petition.auth_key_source = key.auth_key, key.status, key.source
    petition.save()
    return petition


# A signature whose last name needs escaping on the way upstream.
sign = partial(make_signature, last_name="O'Brien Lovelace")


def closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _HtmlErrorHandler(BaseHTTPRequestHandler):
    status = 500
    page = b"<html><head><title>500 Internal Server Error</title></head><body><h1>Oops</h1>" + b"x" * 2000 + b"</body>"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def html_500_url():
    """A loopback server that answers everything with an HTML 500 page, like a proxy whose origin crashed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrorHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- Change.org: the whole path -----------------------------------------------------------------------


def test_changeorg_resolve_fetch_auth_key_and_submit(changeorg, upstream, db):
    petition_id, url = seeded(upstream, "changeorg", "open")
    assert petition_id == OPEN_CHANGEORG
    assert changeorg.resolve_petition_id(url) == OPEN_CHANGEORG
    assert changeorg.resolve_petition_id(f"  {OPEN_CHANGEORG} ") == OPEN_CHANGEORG

    data = changeorg.fetch_petition(OPEN_CHANGEORG)
    assert data.title == "Plant trees on Elm Street"
    assert (data.status, data.accepts_signatures, data.goal) == ("open", True, 100)
    assert data.url == url and data.category == "Environment"
    assert data.targets[0]["name"] == "Springfield City Council"
    assert data.upstream_created_at == datetime(2015, 6, 1, 12, 0, tzinfo=UTC)
    assert data.end_at == datetime(2030, 12, 31, tzinfo=UTC)
    assert data.organization_name == "" and data.raw["petition_id"] == 1001
    count_before = data.signature_count

    grant = changeorg.request_auth_key(OPEN_CHANGEORG, source=SOURCE, callback_endpoint="")
    assert grant.status == "granted" and grant.source == SOURCE
    assert re.fullmatch(r"[0-9a-f]{32}", grant.auth_key)
    assert upstream.state.auth_key(OPEN_CHANGEORG, upstream.api_key, SOURCE).key == grant.auth_key

    petition = Petition.objects.create(
        provider=Provider.CHANGEORG,
        slug="elm-street",
        **data.model_fields(),
        auth_key=grant.auth_key,
        auth_key_status=grant.status,
        auth_key_source=grant.source,
    )
    signature = sign(petition, state_province="", reason="Trees matter", hidden=True)
    result = changeorg.submit(signature)
    assert result.outcome is Outcome.SENT
    assert result.http_status == 202 and result.retry_after is None

    [received] = upstream.received(OPEN_CHANGEORG)
    fields = received["fields"]
    assert (fields["email"], fields["first_name"], fields["last_name"]) == (
        "ada@example.com",
        "Ada",
        "O'Brien Lovelace",
    )
    assert (fields["city"], fields["postal_code"], fields["country_code"]) == ("London", "SW1A 1AA", "GB")
    assert fields["reason"] == "Trees matter" and fields["hidden"] == "true" and received["hidden"] is True
    assert fields["source"] == SOURCE and fields["endpoint"] == "/v1/petitions/1001/signatures"
    assert fields["api_key"] == upstream.api_key
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fields["timestamp"])
    assert "auth_key" not in fields and "state_province" not in fields
    assert grant.auth_key not in str(fields) and upstream.secret not in str(fields)
    assert changeorg.fetch_petition(OPEN_CHANGEORG).signature_count == count_before + 1


def test_changeorg_sends_user_agent_and_timeout(changeorg, upstream, monkeypatch):
    seen = {}
    original = changeorg.session.request

    def spy(method, url, **kwargs):
        seen.update(kwargs, headers=dict(changeorg.session.headers))
        return original(method, url, **kwargs)

    monkeypatch.setattr(changeorg.session, "request", spy)
    changeorg.fetch_petition(OPEN_CHANGEORG)
    assert seen["timeout"] == 1.0
    assert seen["headers"]["User-Agent"] == USER_AGENT


def test_changeorg_resubmission_is_a_duplicate(changeorg, upstream, db):
    signature = sign(cached_petition(changeorg, OPEN_CHANGEORG))
    assert changeorg.submit(signature).outcome is Outcome.SENT
    again = changeorg.submit(signature)
    assert again.outcome is Outcome.DUPLICATE
    assert again.http_status == 400
    assert again.messages == ("user has already signed the petition",)
    assert len(upstream.received(OPEN_CHANGEORG)) == 1
    assert upstream.stats()["duplicates"] == 1


def test_changeorg_closed_petition_rejects_with_messages(changeorg, upstream, db):
    petition_id, _ = seeded(upstream, "changeorg", "closed")
    petition = cached_petition(changeorg, petition_id)
    assert petition.accepts_signatures is False and petition.status == "closed"
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.REJECTED
    assert result.http_status == 400
    assert result.messages == ("petition is closed to new signatures",)
    assert "petition is closed" in result.detail


def test_changeorg_invalid_fields_reject_with_the_upstream_messages(changeorg, upstream, db):
    result = changeorg.submit(sign(cached_petition(changeorg, OPEN_CHANGEORG), city="", email="not-an-email"))
    assert result.outcome is Outcome.REJECTED
    assert set(result.messages) == {"city is required", "email is invalid"}
    assert upstream.received(OPEN_CHANGEORG) == []


def test_changeorg_unknown_petition(changeorg, upstream, db):
    with pytest.raises(PetitionNotFound) as info:
        changeorg.fetch_petition("999999")
    assert info.value.status == 404 and info.value.messages == ("petition not found",)
    with pytest.raises(PetitionNotFound):
        changeorg.resolve_petition_id("https://www.change.org/p/no-such-petition")
    with pytest.raises(PetitionNotFound):
        changeorg.request_auth_key("999999", source=SOURCE)

    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    petition.upstream_id = "999999"
    petition.save()
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.REJECTED and result.http_status == 404
    assert result.messages == ("petition not found",)


def test_changeorg_wrong_secret_holds(settings, upstream, db):
    with get_provider("changeorg") as good:
        petition = cached_petition(good, OPEN_CHANGEORG)
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_SECRET": "not-the-secret"}
    with get_provider("changeorg") as bad:
        result = bad.submit(sign(petition))
        assert result.outcome is Outcome.HELD
        assert result.http_status == 401 and result.messages == ("rsig is invalid",)
        with pytest.raises(CredentialsRejected) as info:
            bad.request_auth_key(OPEN_CHANGEORG, source=SOURCE)
        assert info.value.status == 401
    assert upstream.received(OPEN_CHANGEORG) == []


def test_changeorg_wrong_api_key_raises_credentials_rejected(settings, upstream):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_API_KEY": "someone-else"}
    with get_provider("changeorg") as provider, pytest.raises(CredentialsRejected) as info:
        provider.fetch_petition(OPEN_CHANGEORG)
    assert info.value.status == 401 and info.value.messages == ("api_key is invalid",)
    assert not info.value.retryable


def test_changeorg_wrong_auth_key_holds(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    petition.auth_key = "0" * 32
    petition.save()
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.HELD and result.http_status == 401


def test_changeorg_auth_key_for_another_source_holds(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    petition.auth_key_source = "https://elsewhere.example/form/"
    petition.save()
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.HELD
    assert result.messages == ("authorization key cannot be found or is not granted",)


def test_changeorg_revoked_auth_key_holds(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    upstream.control("POST", "auth_keys/revoke", json={"petition_id": OPEN_CHANGEORG, "source": SOURCE})
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.HELD
    assert result.http_status == 403


def test_changeorg_missing_auth_key_holds_without_a_request(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG, grant=False)
    requests_before = upstream.stats()["requests"]
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.HELD and result.http_status is None
    assert "no granted Change.org authorization key" in result.detail
    assert upstream.stats()["requests"] == requests_before


def test_changeorg_415_rejects_and_logs_an_error(changeorg, upstream, db, caplog):
    class JsonBodyProvider(ChangeOrgProvider):
        """A client with the bug 415 exists for: the signed form sent under another media type."""

        def signed_post(self, path, params, auth_key=""):
            request = super().signed_post(path, params, auth_key)
            return Request(request.method, request.path, data=request.data, headers={"Content-Type": "text/plain"})

    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    buggy = JsonBodyProvider(
        api_url=upstream.changeorg_url, api_key=upstream.api_key, secret=upstream.secret, timeout=1.0
    )
    with caplog.at_level(logging.ERROR, logger="petition_widget.providers"):
        result = buggy.submit(sign(petition))
    assert result.outcome is Outcome.REJECTED and result.http_status == 415
    assert any(r.levelno == logging.ERROR and "415" in r.getMessage() for r in caplog.records)
    assert upstream.received(OPEN_CHANGEORG) == []


def test_changeorg_429_retries_after_the_given_delay(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    upstream.faults(rate_limit=1)
    changeorg.fetch_petition(OPEN_CHANGEORG)  # the one request this minute allows
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.RETRY and result.http_status == 429
    assert result.retry_after is not None and 1 <= result.retry_after <= 60
    with pytest.raises(UpstreamUnavailable) as info:
        changeorg.fetch_petition(OPEN_CHANGEORG)
    assert info.value.status == 429 and info.value.retry_after == result.retry_after
    assert info.value.retryable


def test_changeorg_server_errors_retry(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    signature = sign(petition)
    upstream.faults(error_rate=1.0)
    # The emulator cycles through a JSON 500, a CDN's HTML 502, a JSON 503 and a CDN's HTML 503.
    results = [changeorg.submit(signature) for _ in range(4)]
    assert [r.http_status for r in results] == [500, 502, 503, 503]
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert results[0].messages == ("There was a server error. Please try again later.",)
    assert "not JSON" in results[1].detail
    assert upstream.received(OPEN_CHANGEORG) == []


def test_changeorg_down_behind_a_cdn(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    upstream.faults(down=True)
    result = changeorg.submit(sign(petition))
    assert result.outcome is Outcome.RETRY and result.http_status == 503
    with pytest.raises(UpstreamUnavailable) as info:
        changeorg.fetch_petition(OPEN_CHANGEORG)
    assert info.value.status == 503 and "cdn-edge" in info.value.body


def test_changeorg_non_json_500_page(changeorg, upstream, html_500_url, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    with ChangeOrgProvider(api_url=html_500_url, api_key="k", secret="s", timeout=1.0) as broken:
        result = broken.submit(sign(petition))
        assert result.outcome is Outcome.RETRY and result.http_status == 500
        with pytest.raises(UpstreamUnavailable) as info:
            broken.fetch_petition(OPEN_CHANGEORG)
    assert info.value.status == 500
    assert info.value.body.startswith("<html>") and len(info.value.body) == 500


def test_changeorg_read_timeout_retries_and_the_retry_is_a_duplicate(changeorg, upstream, db):
    petition = cached_petition(changeorg, OPEN_CHANGEORG)
    signature = sign(petition)
    upstream.faults(timeout_rate=1.0)
    result = changeorg.submit(signature)
    assert result.outcome is Outcome.RETRY and result.http_status is None
    assert "ReadTimeout" in result.detail
    # The upstream stored it before its answer was lost; sending again is absorbed as "already signed".
    upstream.faults(timeout_rate=0.0)
    assert changeorg.submit(signature).outcome is Outcome.DUPLICATE
    assert len(upstream.received(OPEN_CHANGEORG)) == 1


def test_changeorg_connection_refused(upstream, db):
    with get_provider("changeorg") as good:
        petition = cached_petition(good, OPEN_CHANGEORG)
    url = f"http://127.0.0.1:{closed_port()}/changeorg/v1"
    with ChangeOrgProvider(api_url=url, api_key="k", secret="s", timeout=1.0) as provider:
        result = provider.submit(sign(petition))
        assert result.outcome is Outcome.RETRY and result.http_status is None
        assert "ConnectionError" in result.detail
        for call in (
            lambda: provider.fetch_petition(OPEN_CHANGEORG),
            lambda: provider.resolve_petition_id("https://www.change.org/p/x"),
            lambda: provider.request_auth_key(OPEN_CHANGEORG, source=SOURCE),
        ):
            with pytest.raises(UpstreamUnavailable) as info:
                call()
            assert info.value.retryable and info.value.status is None


# -- We the People ------------------------------------------------------------------------------------


def test_wethepeople_fetch_and_submit(wethepeople, upstream, db):
    assert wethepeople.resolve_petition_id(OPEN_WTP) == OPEN_WTP
    assert wethepeople.resolve_petition_id(f"https://petitions.whitehouse.gov/petition/{OPEN_WTP}") == OPEN_WTP
    assert wethepeople.request_auth_key(OPEN_WTP, source=SOURCE) is None

    data = wethepeople.fetch_petition(OPEN_WTP)
    assert data.title == "Fund public libraries in every county"
    assert (data.status, data.accepts_signatures, data.goal, data.signature_count) == ("open", True, 100000, 12)
    assert data.overview.startswith("Every county") and data.category == "Education"
    assert data.end_at == datetime(2030, 12, 31, tzinfo=UTC)
    assert data.upstream_created_at.tzinfo is not None and data.raw["id"] == OPEN_WTP

    petition = Petition.objects.create(provider=Provider.WETHEPEOPLE, slug="libraries", **data.model_fields())
    result = wethepeople.submit(sign(petition, signup=True, postal_code="20500"))
    assert result.outcome is Outcome.SENT and result.http_status == 200

    [received] = upstream.received(OPEN_WTP)
    assert received["fields"] == {
        "petition_id": OPEN_WTP,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "O'Brien Lovelace",
        "zip": "20500",
        "signup": "1",
    }
    assert wethepeople.fetch_petition(OPEN_WTP).signature_count == 13


def test_wethepeople_resolves_a_petition_url(wethepeople, upstream):
    petition_id, url = seeded(upstream, "wethepeople", "open")
    assert wethepeople.resolve_petition_id(url) == petition_id
    assert wethepeople.resolve_petition_id(url.replace("https://", "http://www.") + "/") == petition_id
    with pytest.raises(PetitionNotFound):
        wethepeople.resolve_petition_id("https://petitions.whitehouse.gov/petition/no-such-petition")


def test_wethepeople_no_signup_no_zip(wethepeople, upstream, db):
    petition = cached_petition(wethepeople, OPEN_WTP)
    assert wethepeople.submit(sign(petition, postal_code="")).outcome is Outcome.SENT
    [received] = upstream.received(OPEN_WTP)
    assert received["fields"]["signup"] == "0" and "zip" not in received["fields"]


def test_wethepeople_closed_petition_rejects(wethepeople, upstream, db):
    petition_id, _ = seeded(upstream, "wethepeople", "closed")
    petition = cached_petition(wethepeople, petition_id)
    assert petition.accepts_signatures is False
    result = wethepeople.submit(sign(petition))
    assert result.outcome is Outcome.REJECTED
    assert "error 74" in result.detail


def test_wethepeople_unknown_petition(wethepeople, upstream, db):
    with pytest.raises(PetitionNotFound) as info:
        wethepeople.fetch_petition("999999")
    assert "error 84" in str(info.value)
    petition = cached_petition(wethepeople, OPEN_WTP)
    petition.upstream_id = "999999"
    petition.save()
    result = wethepeople.submit(sign(petition))
    assert result.outcome is Outcome.REJECTED and "error 76" in result.detail


def test_wethepeople_missing_fields_reject(wethepeople, upstream, db):
    result = wethepeople.submit(sign(cached_petition(wethepeople, OPEN_WTP), last_name=""))
    assert result.outcome is Outcome.REJECTED and "error 75" in result.detail
    assert any("last_name" in message for message in result.messages)


def test_wethepeople_disposable_email_rejects(wethepeople, upstream, db):
    result = wethepeople.submit(sign(cached_petition(wethepeople, OPEN_WTP), email="ada@mailinator.com"))
    assert result.outcome is Outcome.REJECTED and "error 77" in result.detail


def test_wethepeople_invalid_api_key_holds(settings, upstream, db):
    with get_provider("wethepeople") as good:
        petition = cached_petition(good, OPEN_WTP)
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_KEY": "not-our-key"}
    with get_provider("wethepeople") as bad:
        result = bad.submit(sign(petition))
    assert result.outcome is Outcome.HELD and "error 85" in result.detail
    assert "not-our-key" not in result.detail


def test_wethepeople_server_errors_in_an_http_200_retry(wethepeople, upstream, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    upstream.faults(error_rate=1.0)
    # The emulator cycles through 99 (599), 73 (500) and 83 (599), all with HTTP 200 on the status line.
    results = [wethepeople.submit(signature) for _ in range(3)]
    assert [r.http_status for r in results] == [200, 200, 200]
    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    for result, code in zip(results, ("99", "73", "83"), strict=True):
        assert f"error {code}" in result.detail
    assert "status 599" in results[0].detail
    with pytest.raises(UpstreamUnavailable) as info:
        wethepeople.fetch_petition(OPEN_WTP)
    assert info.value.status == 200 and info.value.retryable
    assert upstream.received(OPEN_WTP) == []


def test_wethepeople_429_retries_after_the_given_delay(wethepeople, upstream, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    upstream.faults(rate_limit=1)
    assert wethepeople.submit(signature).outcome is Outcome.SENT
    result = wethepeople.submit(signature)
    assert result.outcome is Outcome.RETRY and result.http_status == 429
    assert result.retry_after is not None and 1 <= result.retry_after <= 60


def test_wethepeople_down_behind_a_cdn(wethepeople, upstream, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    upstream.faults(down=True)
    result = wethepeople.submit(signature)
    assert result.outcome is Outcome.RETRY and result.http_status == 503
    with pytest.raises(UpstreamUnavailable):
        wethepeople.fetch_petition(OPEN_WTP)


def test_wethepeople_non_json_500_page(wethepeople, upstream, html_500_url, settings, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_URL": html_500_url}
    with get_provider("wethepeople") as broken:
        result = broken.submit(signature)
        assert result.outcome is Outcome.RETRY and result.http_status == 500
        with pytest.raises(UpstreamUnavailable) as info:
            broken.fetch_petition(OPEN_WTP)
    assert info.value.status == 500


def test_wethepeople_read_timeout_retries(wethepeople, upstream, settings, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    upstream.faults(timeout_rate=1.0)
    result = wethepeople.submit(signature)
    assert result.outcome is Outcome.RETRY and result.http_status is None
    assert "ReadTimeout" in result.detail
    with pytest.raises(UpstreamUnavailable):
        wethepeople.fetch_petition(OPEN_WTP)


def test_wethepeople_connection_refused(wethepeople, upstream, settings, db):
    signature = sign(cached_petition(wethepeople, OPEN_WTP))
    url = f"http://127.0.0.1:{closed_port()}/wethepeople/v1"
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_URL": url}
    with get_provider("wethepeople") as provider:
        result = provider.submit(signature)
        assert result.outcome is Outcome.RETRY and result.http_status is None
        # The key travels in the query string, which requests' own message would repeat.
        assert upstream.api_key not in result.detail
        with pytest.raises(UpstreamUnavailable) as info:
            provider.fetch_petition(OPEN_WTP)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- secrets stay out of logs and messages ----------------------------------------------------------


def test_no_secret_or_auth_key_in_logs_errors_or_details(settings, upstream, db, caplog):
    caplog.set_level(logging.DEBUG, logger="petition_widget")
    secret = upstream.secret
    texts = []
    with get_provider("changeorg") as changeorg:
        petition = cached_petition(changeorg, OPEN_CHANGEORG)
        auth_key = petition.auth_key
        signature = sign(petition)
        assert auth_key and len(auth_key) == 32

        # Failing signed requests of every kind, each carrying the secret and the auth key in its rsig.
        closed = cached_petition(changeorg, CLOSED_CHANGEORG)
        results = [changeorg.submit(sign(closed, email="b@example.com"))]  # 400
        upstream.faults(error_rate=1.0)
        results += [changeorg.submit(signature) for _ in range(2)]  # 500 JSON, 502 HTML
        upstream.faults(error_rate=0.0, timeout_rate=1.0)
        results.append(changeorg.submit(signature))  # read timeout
        upstream.faults(timeout_rate=0.0)
        upstream.control("POST", "auth_keys/revoke", json={"petition_id": OPEN_CHANGEORG, "source": SOURCE})
        results.append(changeorg.submit(signature))  # 403
        with pytest.raises(UpstreamError) as info:
            changeorg.request_auth_key("999999", source=SOURCE)
        texts.append(str(info.value))
        texts.append(info.value.body)

    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_SECRET": "a-rotated-value"}
    with get_provider("changeorg") as wrong:
        with pytest.raises(CredentialsRejected) as info:
            wrong.request_auth_key(OPEN_CHANGEORG, source=SOURCE)
        texts.append(str(info.value))

    assert [r.outcome for r in results] == [Outcome.REJECTED, Outcome.RETRY, Outcome.RETRY, Outcome.RETRY, Outcome.HELD]
    for result in results:
        texts += [result.detail, repr(result), *result.messages]
    ours = [r for r in caplog.records if not r.name.startswith("petition_widget.emulator")]
    assert any(r.name.startswith("petition_widget.providers") and r.levelno == logging.DEBUG for r in ours)
    texts += [r.getMessage() for r in ours]
    everything = "\n".join(texts)
    assert "HTTP 403" in everything and "HTTP 502" in everything
    assert secret not in everything
    assert auth_key not in everything
