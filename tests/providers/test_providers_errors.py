"""Provider pieces that need no upstream: the exceptions, the factory, and each spec table read by ``classify``.

The same table rows are driven end to end over HTTP in ``test_providers.py``; here every row, including
the ones no server produces on purpose, is pinned against the one method that decides it.
"""

import pytest
from requests.structures import CaseInsensitiveDict

from petition_widget.exceptions import (
    ConfigurationError,
    CredentialsRejected,
    PetitionNotFound,
    PetitionWidgetError,
    UpstreamError,
    UpstreamRefused,
    UpstreamUnavailable,
)
from petition_widget.models import Provider
from petition_widget.providers import ChangeOrgProvider, WeThePeopleProvider, get_provider
from petition_widget.providers.base import USER_AGENT, Answer, AuthKeyGrant, Outcome, Request, parse_retry_after
from petition_widget.providers.changeorg import utc_timestamp

SECRET = "s3cr3t-token-value"
AUTH_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def changeorg():
    with ChangeOrgProvider(api_url="http://127.0.0.1:9/changeorg/v1", api_key="k", secret=SECRET, timeout=1.0) as p:
        yield p


@pytest.fixture
def wethepeople():
    with WeThePeopleProvider(api_url="http://127.0.0.1:9/wethepeople/v1", api_key="wtp-key", timeout=1.0) as p:
        yield p


def answer(status, data=None, text="", headers=None):
    return Answer(status=status, headers=CaseInsensitiveDict(headers or {}), data=data, text=text)


def envelope(status, code="", developer="", user=""):
    info = {"status": status, "developerMessage": developer, "userMessage": user, "errorCode": code, "moreInfo": ""}
    return {"metadata": {"responseInfo": info, "resultset": {"count": 0, "limit": 0, "offset": 0}}, "results": []}


# -- exceptions -------------------------------------------------------------------------------------


def test_exception_classes_classify_by_attribute():
    assert UpstreamUnavailable.retryable is True
    for cls in (UpstreamError, UpstreamRefused, PetitionNotFound, CredentialsRejected):
        assert cls.retryable is False
    assert issubclass(PetitionNotFound, UpstreamRefused)
    assert issubclass(UpstreamError, PetitionWidgetError)
    assert not issubclass(ConfigurationError, PetitionWidgetError)


def test_upstream_error_carries_status_messages_and_a_truncated_body():
    error = UpstreamRefused("Refused.", status=400, messages=["bad email", "bad zip"], body="x" * 2000)
    assert error.status == 400
    assert error.messages == ("bad email", "bad zip")
    assert len(error.body) == 500
    assert str(error) == "Refused. (HTTP 400) - bad email; bad zip"
    assert str(UpstreamUnavailable()) == UpstreamUnavailable.default_detail


# -- factory ----------------------------------------------------------------------------------------


def test_get_provider_builds_from_settings(settings):
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "CHANGEORG_API_URL": "http://127.0.0.1:1/changeorg/v1/",
        "HTTP_TIMEOUT": 2.5,
    }
    provider = get_provider("changeorg")
    assert isinstance(provider, ChangeOrgProvider)
    assert provider.api_url == "http://127.0.0.1:1/changeorg/v1"
    assert provider.timeout == 2.5
    assert provider.session.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("django-petition-widget/")
    assert isinstance(get_provider("wethepeople"), WeThePeopleProvider)
    assert isinstance(get_provider(Provider.WETHEPEOPLE), WeThePeopleProvider)
    assert get_provider("changeorg").session is not provider.session


def test_get_provider_refuses_unknown_names():
    with pytest.raises(ConfigurationError, match="Unknown petition provider 'avaaz'"):
        get_provider("avaaz")


@pytest.mark.parametrize(
    ("name", "blank", "missing"),
    [
        ("changeorg", "CHANGEORG_SECRET", "CHANGEORG_SECRET"),
        ("changeorg", "CHANGEORG_API_KEY", "CHANGEORG_API_KEY"),
        ("wethepeople", "WETHEPEOPLE_API_KEY", "WETHEPEOPLE_API_KEY"),
    ],
)
def test_get_provider_refuses_missing_credentials(settings, name, blank, missing):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, blank: ""}
    with pytest.raises(ConfigurationError, match=missing) as info:
        get_provider(name)
    assert "test-secret" not in str(info.value)


# -- small helpers ----------------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert 3590 < parse_retry_after(_http_date_in(3600)) <= 3600
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _http_date_in(seconds):
    import time
    from email.utils import formatdate

    return formatdate(time.time() + seconds, usegmt=True)


def test_timestamp_is_utc_iso_with_z():
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2012, 4, 18, 14, 2, tzinfo=timezone(timedelta(hours=-7)))
    assert utc_timestamp(moment) == "2012-04-18T21:02:00Z"
    assert utc_timestamp().endswith("Z")
    assert utc_timestamp(datetime(2020, 1, 1, tzinfo=UTC)) == "2020-01-01T00:00:00Z"


def test_auth_key_grant_repr_hides_the_key():
    grant = AuthKeyGrant(status="granted", auth_key=AUTH_KEY, source="https://blog.example/petitions/x/")
    assert AUTH_KEY not in repr(grant)
    assert grant.granted


# -- Change.org's table -----------------------------------------------------------------------------

CHANGEORG_TABLE = [
    (answer(200, {"result": "success"}), Outcome.SENT),
    (answer(202, {"result": "success"}), Outcome.SENT),
    (answer(400, {"result": "failure", "messages": ["user has already signed the petition"]}), Outcome.DUPLICATE),
    (answer(400, {"result": "failure", "messages": ["No signature data received."]}), Outcome.REJECTED),
    (answer(400, {"result": "failure", "errors": ["email is invalid"]}), Outcome.REJECTED),
    (answer(401, {"result": "failure", "messages": ["invalid rsig"]}), Outcome.HELD),
    (
        answer(403, {"result": "failure", "messages": ["authorization key cannot be found or is not granted"]}),
        Outcome.HELD,
    ),
    (answer(404, {"result": "failure", "messages": ["petition not found"]}), Outcome.REJECTED),
    (answer(415, None, "<h1>Unsupported Media Type</h1>"), Outcome.REJECTED),
    (answer(429, {"result": "failure"}, headers={"Retry-After": "30"}), Outcome.RETRY),
    (answer(429, None, "slow down"), Outcome.RETRY),
    (
        answer(500, {"result": "failure", "messages": ["There was a server error. Please try again later."]}),
        Outcome.RETRY,
    ),
    (answer(503, None, "<html>Service Unavailable</html>"), Outcome.RETRY),
    (answer(200, None, "<html>cdn says hi</html>"), Outcome.RETRY),
    (answer(502, None, ""), Outcome.RETRY),
    (answer(301, None, "", headers={"Location": "https://elsewhere/"}), Outcome.HELD),
    (answer(422, {"result": "failure", "messages": ["nope"]}), Outcome.REJECTED),
]


@pytest.mark.parametrize(("reply", "outcome"), CHANGEORG_TABLE, ids=lambda v: str(getattr(v, "status", v)))
def test_changeorg_table(changeorg, reply, outcome):
    result = changeorg.classify(reply)
    assert result.outcome is outcome
    assert result.http_status == reply.status
    assert result.detail.startswith(f"HTTP {reply.status}")


def test_changeorg_keeps_the_messages_of_a_rejection(changeorg):
    result = changeorg.classify(answer(400, {"result": "failure", "messages": ["postal code is invalid"]}))
    assert result.messages == ("postal code is invalid",)
    assert "postal code is invalid" in result.detail


def test_changeorg_429_honours_retry_after(changeorg):
    assert changeorg.classify(answer(429, {}, headers={"Retry-After": "42"})).retry_after == 42.0
    assert changeorg.classify(answer(503, None, headers={"Retry-After": "5"})).retry_after == 5.0


def test_changeorg_415_is_logged_at_error_level(changeorg, caplog):
    with caplog.at_level("ERROR", logger="petition_widget"):
        changeorg.classify(answer(415, None, "Unsupported Media Type"))
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "415" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (UpstreamUnavailable("timed out"), Outcome.RETRY),
        (CredentialsRejected("no key"), Outcome.HELD),
        (UpstreamRefused("refused"), Outcome.REJECTED),
    ],
)
def test_errors_without_an_answer(changeorg, wethepeople, error, outcome):
    assert changeorg.classify(None, error).outcome is outcome
    assert wethepeople.classify(None, error).outcome is outcome


def test_details_and_messages_never_carry_the_secrets(changeorg, wethepeople):
    changeorg._auth_keys.add(AUTH_KEY)
    echoed = {"result": "failure", "messages": [f"bad rsig for {SECRET} and {AUTH_KEY}"]}
    result = changeorg.classify(answer(400, echoed))
    shown = " ".join((result.detail, *result.messages))
    assert "bad rsig for" in shown and SECRET not in shown and AUTH_KEY not in shown
    with pytest.raises(UpstreamRefused) as info:
        changeorg.raise_for_answer(answer(400, echoed, text="body"), Request("GET", "petitions/1"))
    assert SECRET not in str(info.value) and AUTH_KEY not in str(info.value)

    result = wethepeople.classify(answer(200, envelope(401, "85", developer="Invalid key wtp-key")))
    assert "Invalid key" in result.detail
    assert "wtp-key" not in " ".join((result.detail, *result.messages))


# -- We the People's table --------------------------------------------------------------------------

WETHEPEOPLE_TABLE = [
    (answer(200, envelope(200)), Outcome.SENT),
    (answer(200, envelope(599, "99", "Temporarily unavailable")), Outcome.RETRY),
    (answer(200, envelope(599, "83")), Outcome.RETRY),
    (answer(200, envelope(500, "73", "Service not available")), Outcome.RETRY),
    (answer(500, envelope(500, "73")), Outcome.RETRY),
    (answer(200, envelope(403, "74", "Petition closed")), Outcome.REJECTED),
    (answer(200, envelope(400, "75", "Missing required fields")), Outcome.REJECTED),
    (answer(200, envelope(404, "76", "No such petition")), Outcome.REJECTED),
    (answer(200, envelope(400, "77", "Email domain not allowed")), Outcome.REJECTED),
    (answer(200, envelope(401, "85", "Invalid API key")), Outcome.HELD),
    (answer(401, envelope(401, "85")), Outcome.HELD),
    (answer(429, None, "Too Many Requests", headers={"Retry-After": "60"}), Outcome.RETRY),
    (answer(500, None, "<html>Internal Server Error</html>"), Outcome.RETRY),
    (answer(200, None, "<html>maintenance</html>"), Outcome.RETRY),
    (answer(200, {"results": []}), Outcome.RETRY),
    (answer(200, envelope(500)), Outcome.RETRY),
    (answer(200, envelope(400)), Outcome.REJECTED),
    (answer(302, None, "", headers={"Location": "https://elsewhere/"}), Outcome.HELD),
]


@pytest.mark.parametrize(("reply", "outcome"), WETHEPEOPLE_TABLE, ids=lambda v: str(getattr(v, "status", v)))
def test_wethepeople_table(wethepeople, reply, outcome):
    result = wethepeople.classify(reply)
    assert result.outcome is outcome
    assert result.http_status == reply.status


def test_wethepeople_reads_the_body_not_the_status_line(wethepeople):
    # HTTP 200 everywhere, three different outcomes: only the envelope tells them apart.
    assert wethepeople.classify(answer(200, envelope(200))).outcome is Outcome.SENT
    assert wethepeople.classify(answer(200, envelope(599, "99"))).outcome is Outcome.RETRY
    assert wethepeople.classify(answer(200, envelope(403, "74"))).outcome is Outcome.REJECTED
    result = wethepeople.classify(answer(200, envelope(400, "77", "Email domain not allowed")))
    assert result.messages == ("Email domain not allowed",)
    assert "error 77" in result.detail


def test_wethepeople_429_honours_retry_after(wethepeople):
    assert wethepeople.classify(answer(429, None, headers={"Retry-After": "60"})).retry_after == 60.0
