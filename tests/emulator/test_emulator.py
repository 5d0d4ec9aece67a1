"""The upstream emulator over real HTTP on loopback: what it accepts, what it refuses, and how it fails."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

import pytest
import requests
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import include, path

from petition_widget import rsig
from petition_widget.emulator import changeorg
from petition_widget.providers.changeorg import PETITION_FIELDS
from tests.forwarding_support import wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SOURCE = "https://blog.example/petitions/plant-trees/"
OPEN, CLOSED = "1001", "1002"
WTP_OPEN, WTP_CLOSED = "2001", "2002"
SEEDED_VISIBLE = 20  # 23 seeded signers of 1001, every 7th hidden
REPO = Path(__file__).resolve().parents[2]

# A host site mounting the emulator under a prefix (used with ROOT_URLCONF=__name__).
urlpatterns = [path("emulator/", include("petition_widget.emulator.urls"))]


def timestamp(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def grant(emulator, petition_id: str = OPEN, source: str = SOURCE, **extra: str) -> requests.Response:
    params = [
        ("api_key", emulator.api_key),
        ("endpoint", f"/v1/petitions/{petition_id}/auth_keys"),
        ("timestamp", timestamp()),
        ("source_description", "A blog post"),
        ("source", source),
        ("requester_email", "owner@blog.example"),
        *extra.items(),
    ]
    body = rsig.signed_body(params, emulator.secret)
    return requests.post(f"{emulator.changeorg_url}/petitions/{petition_id}/auth_keys", data=body, headers=FORM)


def auth_key(emulator, petition_id: str = OPEN, source: str = SOURCE, **extra: str) -> str:
    response = grant(emulator, petition_id, source, **extra)
    assert response.status_code == 200, response.text
    return response.json()["auth_key"]


def signature_params(emulator, petition_id: str = OPEN, **overrides: str | None) -> list[tuple[str, str]]:
    """The parameters of a signatures POST; an override of None leaves that parameter out."""
    params = {
        "api_key": emulator.api_key,
        "endpoint": f"/v1/petitions/{petition_id}/signatures",
        "timestamp": timestamp(),
        "source": SOURCE,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "GB",
    }
    params.update(overrides)
    return [(name, value) for name, value in params.items() if value is not None]


def post_signature(emulator, body: str, petition_id: str = OPEN, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", FORM)
    kwargs.setdefault("timeout", 10)
    return requests.post(f"{emulator.changeorg_url}/petitions/{petition_id}/signatures", data=body, **kwargs)


def sign(emulator, petition_id: str = OPEN, key: str | None = None, **overrides: str | None) -> requests.Response:
    key = key if key is not None else auth_key(emulator, petition_id)
    body = rsig.signed_body(signature_params(emulator, petition_id, **overrides), emulator.secret, key)
    return post_signature(emulator, body, petition_id)


def changeorg_get(emulator, resource: str, **params) -> requests.Response:
    params.setdefault("api_key", emulator.api_key)
    return requests.get(f"{emulator.changeorg_url}/{resource}", params=params, timeout=10)


def wtp_sign(emulator, api_key: str | None = None, **fields) -> requests.Response:
    body = {"petition_id": WTP_OPEN, "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"}
    body.update(fields)
    key = emulator.api_key if api_key is None else api_key
    return requests.post(f"{emulator.wethepeople_url}/signatures.json", params={"api_key": key}, json=body, timeout=10)


def response_info(response: requests.Response) -> dict:
    return response.json()["metadata"]["responseInfo"]


# -- Change.org: signatures POST ----------------------------------------------------------------------------


def test_auth_key_is_granted_at_once_and_kept_for_the_same_source(emulator):
    response = grant(emulator, callback_endpoint="https://blog.example/callback/")
    assert response.status_code == 200
    answer = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", answer.pop("auth_key"))
    assert answer == {
        "result": "success",
        "status": "granted",
        "petition_id": 1001,
        "source_description": "A blog post",
        "source": SOURCE,
        "requester_email": "owner@blog.example",
    }
    assert auth_key(emulator) == auth_key(emulator)
    assert auth_key(emulator) != auth_key(emulator, source="https://other.example/")
    assert emulator.stats()["auth_keys_granted"] == 2


def test_auth_key_request_is_refused_without_the_secret(emulator):
    params = [("api_key", emulator.api_key), ("endpoint", "/v1/petitions/1001/auth_keys"), ("timestamp", timestamp())]
    body = rsig.signed_body([*params, ("source", SOURCE)], "not-the-secret")
    response = requests.post(f"{emulator.changeorg_url}/petitions/1001/auth_keys", data=body, headers=FORM)
    assert (response.status_code, response.json()["messages"]) == (401, ["rsig is invalid"])

    body = rsig.signed_body(params, emulator.secret)
    response = requests.post(f"{emulator.changeorg_url}/petitions/1001/auth_keys", data=body, headers=FORM)
    assert response.status_code == 400
    assert response.json()["messages"] == [
        "source_description is required",
        "source is required",
        "requester_email is required",
    ]


def test_signature_is_accepted_listed_and_recorded_with_every_field(emulator):
    response = sign(emulator, state_province="", phone="+44 20 7946 0000", reason="Trees & shade", hidden="false")
    assert (response.status_code, response.json()) == (202, {"result": "success"})

    [received] = emulator.received(OPEN)
    assert received["provider"] == "changeorg"
    assert received["fields"]["email"] == "ada@example.com"
    assert received["fields"]["reason"] == "Trees & shade"
    assert received["fields"]["source"] == SOURCE
    assert "rsig" not in received["fields"]
    assert emulator.stats()["accepted"] == 1
    assert changeorg_get(emulator, f"petitions/{OPEN}").json()["signature_count"] == 24
    newest = changeorg_get(emulator, f"petitions/{OPEN}/signatures/recent").json()[0]
    assert newest["name"] == "Ada Lovelace"
    assert newest["country_name"] == "United Kingdom"


def test_hidden_signature_is_counted_but_not_listed(emulator):
    assert sign(emulator, hidden="true").status_code == 202
    assert changeorg_get(emulator, f"petitions/{OPEN}").json()["signature_count"] == 24
    listing = changeorg_get(emulator, f"petitions/{OPEN}/signatures", page_size=500).json()
    assert len(listing["signatures"]) == SEEDED_VISIBLE
    assert "Ada Lovelace" not in {s["name"] for s in listing["signatures"]}


@pytest.mark.parametrize(
    ("timestamp_value"),
    ["%Y-%m-%dT%H:%M:%S.123Z", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%S.000+00:00"],
    ids=["milliseconds-z", "offset", "milliseconds-offset"],
)
def test_timestamp_formats_accepted(emulator, timestamp_value):
    assert sign(emulator, timestamp=datetime.now(UTC).strftime(timestamp_value)).status_code == 202


def _altered_after_signing(emulator, key):
    body = rsig.signed_body(signature_params(emulator), emulator.secret, key)
    return body.replace("first_name=Ada", "first_name=Eve")


def _signed(secret=None, key=None, **overrides):
    """A body builder; an override may be a callable, evaluated when the test runs (timestamps)."""

    def build(emulator, granted):
        params = signature_params(emulator, **{k: v() if callable(v) else v for k, v in overrides.items()})
        return rsig.signed_body(params, secret or emulator.secret, key if key is not None else granted)

    return build


@pytest.mark.parametrize(
    ("build", "status", "messages", "counter"),
    [
        pytest.param(_signed(secret="wrong-secret"), 401, ["rsig is invalid"], "auth_failures", id="wrong-secret"),
        pytest.param(_signed(key="0" * 32), 401, ["rsig is invalid"], "auth_failures", id="wrong-auth-key"),
        pytest.param(_signed(key=""), 401, ["rsig is invalid"], "auth_failures", id="auth-key-left-out"),
        pytest.param(_altered_after_signing, 401, ["rsig is invalid"], "auth_failures", id="altered-after-signing"),
        pytest.param(
            _signed(endpoint="/v1/petitions/1002/signatures"),
            401,
            ["endpoint must be /v1/petitions/1001/signatures"],
            "auth_failures",
            id="endpoint-of-another-path",
        ),
        pytest.param(
            _signed(endpoint="/changeorg/v1/petitions/1001/signatures"),
            401,
            ["endpoint must be /v1/petitions/1001/signatures"],
            "auth_failures",
            id="endpoint-with-mount-prefix",
        ),
        pytest.param(
            _signed(timestamp=lambda: timestamp(-timedelta(minutes=6))),
            401,
            ["timestamp is more than 5 minutes away from the server time"],
            "auth_failures",
            id="timestamp-6-minutes-old",
        ),
        pytest.param(
            _signed(timestamp=lambda: timestamp(timedelta(minutes=6))),
            401,
            ["timestamp is more than 5 minutes away from the server time"],
            "auth_failures",
            id="timestamp-6-minutes-ahead",
        ),
        pytest.param(
            _signed(timestamp="yesterday"),
            401,
            ["timestamp is not an ISO-8601 date and time"],
            "auth_failures",
            id="timestamp-garbled",
        ),
        pytest.param(_signed(api_key=None), 401, ["api_key is required"], "auth_failures", id="missing-api-key"),
        pytest.param(_signed(api_key="someone-else"), 401, ["api_key is invalid"], "auth_failures", id="wrong-api-key"),
        pytest.param(
            _signed(timestamp=None, endpoint=None),
            401,
            ["endpoint is required", "timestamp is required"],
            "auth_failures",
            id="missing-endpoint-and-timestamp",
        ),
        pytest.param(
            lambda emulator, granted: rsig.signed_body(signature_params(emulator), emulator.secret, granted).partition(
                "&rsig="
            )[0],
            401,
            ["rsig is required"],
            "auth_failures",
            id="missing-rsig",
        ),
        pytest.param(
            _signed(source="https://unknown.example/"),
            401,
            [changeorg.AUTH_KEY_NOT_GRANTED],
            "auth_failures",
            id="unknown-source",
        ),
        pytest.param(_signed(source=None), 401, [changeorg.AUTH_KEY_NOT_GRANTED], "auth_failures", id="missing-source"),
        pytest.param(
            _signed(email=None, city="", country_code="GBR"),
            400,
            ["email is required", "city is required", "country_code must be a two-letter country code"],
            "rejected",
            id="required-fields",
        ),
        pytest.param(
            _signed(email="not-an-address", hidden="yes"),
            400,
            ["email is invalid", "hidden must be true or false"],
            "rejected",
            id="invalid-fields",
        ),
        pytest.param(lambda emulator, granted: "", 400, [changeorg.NO_SIGNATURE_DATA], "rejected", id="empty-body"),
    ],
)
def test_broken_signature_posts_are_refused(emulator, build, status, messages, counter):
    granted = auth_key(emulator)
    response = post_signature(emulator, build(emulator, granted))
    assert response.status_code == status
    assert response.json() == {"result": "failure", "messages": messages}
    stats = emulator.stats()
    assert (stats[counter], stats["accepted"]) == (1, 0)
    assert emulator.received() == []


def test_unknown_petition_is_not_found(emulator):
    body = rsig.signed_body(signature_params(emulator, "999999"), emulator.secret, "0" * 32)
    response = post_signature(emulator, body, "999999")
    assert (response.status_code, response.json()) == (404, {"result": "failure", "messages": ["petition not found"]})
    assert changeorg_get(emulator, "petitions/999999").status_code == 404
    assert changeorg_get(emulator, "petitions/not-a-number/signatures").json()["messages"] == ["petition not found"]


def test_closed_petition_refuses_signatures(emulator):
    response = sign(emulator, CLOSED)
    assert (response.status_code, response.json()["messages"]) == (400, [changeorg.PETITION_CLOSED])


def test_non_form_content_type_is_unsupported(emulator):
    body = rsig.signed_body(signature_params(emulator), emulator.secret, auth_key(emulator))
    response = post_signature(emulator, body, headers={"Content-Type": "application/json"})
    assert response.status_code == 415
    assert response.json()["result"] == "failure"
    assert emulator.received() == []
    assert post_signature(emulator, body).status_code == 202


def test_second_signature_of_an_email_is_already_signed_whatever_its_case(emulator):
    key = auth_key(emulator)
    assert sign(emulator, key=key).status_code == 202
    response = sign(emulator, key=key, email="  ADA@Example.COM ", first_name="Augusta")
    assert (response.status_code, response.json()) == (
        400,
        {"result": "failure", "messages": ["user has already signed the petition"]},
    )
    stats = emulator.stats()
    assert (stats["accepted"], stats["duplicates"], stats["rejected"]) == (1, 1, 0)
    assert len(emulator.received(OPEN)) == 1


def test_concurrent_posts_of_one_email_store_one_signature(emulator):
    key = auth_key(emulator)
    bodies = [rsig.signed_body(signature_params(emulator), emulator.secret, key) for _ in range(8)]
    statuses = []
    threads = [
        threading.Thread(target=lambda b=b: statuses.append(post_signature(emulator, b).status_code)) for b in bodies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] + [400] * 7
    assert len(emulator.received(OPEN)) == 1


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(urlencode, id="php-form-plus"),
        pytest.param(lambda params: urlencode(params, quote_via=lambda v, *a: quote(v, safe="!'()*")), id="node"),
    ],
)
def test_signatures_signed_by_other_real_clients_are_accepted(emulator, encode):
    key = auth_key(emulator)
    params = signature_params(emulator, first_name="Miles", last_name="O'Brien", city="New York", petition_id=OPEN)
    signed = encode(params)
    # Both send the body with the escaping of their HTTP layer, which may differ from the signed string.
    sent = urlencode(params) if encode is urlencode else urlencode(params, quote_via=quote)
    response = post_signature(emulator, f"{sent}&rsig={rsig.sign_body(signed, emulator.secret, key)}")
    assert response.status_code == 202, response.text
    assert emulator.received(OPEN)[0]["fields"]["last_name"] == "O'Brien"


def test_auth_key_in_the_body_is_ignored(emulator):
    key = auth_key(emulator)
    body = rsig.signed_body([*signature_params(emulator), ("auth_key", key)], emulator.secret, key)
    assert post_signature(emulator, body).status_code == 202
    assert "auth_key" not in emulator.received(OPEN)[0]["fields"]


# -- Change.org: reads --------------------------------------------------------------------------------------


def test_reads_need_the_api_key(emulator):
    for resource in (f"petitions/{OPEN}", f"petitions/{OPEN}/signatures", "petitions/get_id"):
        response = requests.get(f"{emulator.changeorg_url}/{resource}", timeout=10)
        assert (response.status_code, response.json()["messages"]) == (401, ["api_key is required"])
    assert changeorg_get(emulator, f"petitions/{OPEN}", api_key="wrong").status_code == 401
    assert emulator.stats()["auth_failures"] == 4


def test_petition_has_every_field_with_null_for_the_absent_ones(emulator):
    petition = changeorg_get(emulator, f"petitions/{OPEN}").json()
    assert list(petition) == list(PETITION_FIELDS)
    assert petition["petition_id"] == 1001
    assert petition["status"] == "open"
    assert petition["organization_name"] is None
    assert petition["created_at"].endswith("Z")
    limited = changeorg_get(emulator, f"petitions/{OPEN}", fields="title,goal,nonsense").json()
    assert limited == {"title": "Plant trees on Elm Street", "goal": 100}


@pytest.mark.parametrize(
    "url",
    [
        "https://www.change.org/p/plant-trees-on-elm-street",
        "http://change.org/p/plant-trees-on-elm-street/",
        "https://www.change.org/p/plant-trees-on-elm-street?utm_source=blog",
    ],
)
def test_get_id_resolves_a_petition_url(emulator, url):
    response = changeorg_get(emulator, "petitions/get_id", petition_url=url)
    assert (response.status_code, response.json()) == (200, {"result": "success", "petition_id": 1001})


def test_get_id_of_an_unknown_url(emulator):
    response = changeorg_get(emulator, "petitions/get_id", petition_url="https://www.change.org/p/nothing-here")
    assert (response.status_code, response.json()) == (404, {"result": "failure", "messages": ["petition not found"]})
    assert changeorg_get(emulator, "petitions/get_id").status_code == 400


def test_petitions_by_ids_are_paged(emulator):
    answer = changeorg_get(emulator, "petitions", petition_ids="1001,1002,999", page_size=1).json()
    assert [p["petition_id"] for p in answer["petitions"]] == [1001]
    assert (answer["page"], answer["total_pages"], answer["prev_page_endpoint"]) == (1, 2, None)
    second = requests.get(answer["next_page_endpoint"], timeout=10).json()
    assert [p["petition_id"] for p in second["petitions"]] == [1002]
    assert second["next_page_endpoint"] is None


def test_signatures_listing_has_the_documented_shape_and_pages(emulator):
    first = changeorg_get(emulator, f"petitions/{OPEN}/signatures", page_size=2, sort="time_desc").json()
    assert list(first) == [
        "signature_count",
        "prev_page_endpoint",
        "next_page_endpoint",
        "page",
        "total_pages",
        "signatures",
    ]
    assert (first["signature_count"], first["page"], first["total_pages"]) == (23, 1, SEEDED_VISIBLE // 2)
    assert first["prev_page_endpoint"] is None
    assert set(first["signatures"][0]) == {
        "name",
        "city",
        "state_province",
        "country_name",
        "country_code",
        "signed_at",
    }
    assert first["signatures"][0]["signed_at"] > first["signatures"][1]["signed_at"]

    names, page = [], first
    while True:
        names += [s["name"] for s in page["signatures"]]
        if page["next_page_endpoint"] is None:
            break
        page = requests.get(page["next_page_endpoint"], timeout=10).json()
    assert len(names) == SEEDED_VISIBLE
    assert page["page"] == page["total_pages"]
    assert requests.get(page["prev_page_endpoint"], timeout=10).json()["page"] == page["total_pages"] - 1

    ascending = changeorg_get(emulator, f"petitions/{OPEN}/signatures", page_size=500).json()
    assert [s["name"] for s in ascending["signatures"]] == list(reversed(names))
    assert changeorg_get(emulator, f"petitions/{OPEN}/signatures").json()["total_pages"] == 2
    beyond = changeorg_get(emulator, f"petitions/{OPEN}/signatures", page=9).json()
    assert (beyond["signatures"], beyond["next_page_endpoint"]) == ([], None)


@pytest.mark.parametrize("query", [{"sort": "newest"}, {"page": "0"}, {"page_size": "many"}])
def test_signatures_listing_refuses_bad_paging(emulator, query):
    response = changeorg_get(emulator, f"petitions/{OPEN}/signatures", **query)
    assert response.status_code == 400
    assert response.json()["result"] == "failure"


def test_recent_signatures_are_a_bare_array_of_the_ten_newest(emulator):
    recent = changeorg_get(emulator, f"petitions/{OPEN}/signatures/recent").json()
    newest = changeorg_get(emulator, f"petitions/{OPEN}/signatures", sort="time_desc").json()["signatures"]
    assert recent == newest


# -- We the People -------------------------------------------------------------------------------------------


def test_wtp_petition_read_in_its_envelope(emulator):
    response = requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"]["responseInfo"] == {
        "status": 200,
        "developerMessage": "OK",
        "userMessage": "",
        "errorCode": "",
        "moreInfo": "",
    }
    assert body["metadata"]["resultset"] == {"count": 1, "limit": 1, "offset": 0}
    [petition] = body["results"]
    assert petition["id"] == WTP_OPEN
    assert (petition["type"], petition["status"], petition["isSignable"]) == ("petition", "open", True)
    assert petition["signatureThreshold"] - petition["signatureCount"] == petition["signaturesNeeded"]


def test_wtp_petitions_index_filters_by_url(emulator):
    url = "https://petitions.whitehouse.gov/petition/fund-public-libraries-every-county/"
    found = requests.get(f"{emulator.wethepeople_url}/petitions.json", params={"url": url, "limit": 1}, timeout=10)
    assert [p["id"] for p in found.json()["results"]] == [WTP_OPEN]
    assert found.json()["metadata"]["resultset"] == {"count": 1, "limit": 1, "offset": 0}
    closed = requests.get(f"{emulator.wethepeople_url}/petitions.json", params={"status": "closed"}, timeout=10)
    assert [p["id"] for p in closed.json()["results"]] == [WTP_CLOSED]
    nothing = requests.get(
        f"{emulator.wethepeople_url}/petitions.json", params={"url": "https://x.example/"}, timeout=10
    )
    assert (nothing.json()["results"], nothing.json()["metadata"]["resultset"]["count"]) == ([], 0)


def test_wtp_unknown_petition_read_is_84(emulator):
    response = requests.get(f"{emulator.wethepeople_url}/petitions/nope.json", timeout=10)
    assert response.status_code == 404
    assert (response_info(response)["status"], response_info(response)["errorCode"]) == (404, 84)


def test_wtp_signature_is_queued_and_a_repeat_is_accepted_but_counted_once(emulator):
    first = wtp_sign(emulator, zip="20500", signup=1, nickname="dropped")
    assert first.status_code == 200
    assert response_info(first)["status"] == 200
    assert "results" not in first.json()
    assert wtp_sign(emulator, email="GRACE@example.com").status_code == 200

    received = emulator.received(WTP_OPEN)
    assert [r["duplicate"] for r in received] == [False, True]
    assert received[0]["fields"] == {
        "petition_id": WTP_OPEN,
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "zip": "20500",
        "signup": "1",
    }
    petition = requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=10).json()["results"][0]
    assert petition["signatureCount"] == 13
    stats = emulator.stats()
    assert (stats["accepted"], stats["duplicates"]) == (1, 1)

    validations = requests.get(
        f"{emulator.wethepeople_url}/validations.json",
        params={"api_key": emulator.api_key, "petition_id": WTP_OPEN},
        timeout=10,
    ).json()
    assert [v["email"] for v in validations["results"]] == ["grace@example.com"]
    assert set(validations["results"][0]) == {"vid", "email", "signature_id", "petition_id"}


@pytest.mark.parametrize(
    ("api_key", "fields", "http_status", "body_status", "code"),
    [
        pytest.param("wrong-key", {}, 401, 401, 85, id="85-invalid-api-key"),
        pytest.param("", {}, 401, 401, 85, id="85-missing-api-key"),
        pytest.param(None, {"email": None, "last_name": ""}, 400, 400, 75, id="75-missing-fields"),
        pytest.param(None, {"email": "grace-at-example"}, 400, 400, 75, id="75-invalid-email"),
        pytest.param(None, {"petition_id": "9999"}, 404, 404, 76, id="76-no-such-petition"),
        pytest.param(None, {"petition_id": OPEN}, 404, 404, 76, id="76-a-changeorg-id"),
        pytest.param(None, {"petition_id": WTP_CLOSED}, 403, 403, 74, id="74-closed"),
        pytest.param(None, {"email": "grace@mailinator.com"}, 400, 400, 77, id="77-disposable"),
        pytest.param(None, {"email": "grace@eu.Mailinator.com"}, 400, 400, 77, id="77-disposable-subdomain"),
    ],
)
def test_wtp_refusals_carry_their_error_code(emulator, api_key, fields, http_status, body_status, code):
    response = wtp_sign(emulator, api_key, **fields)
    assert response.status_code == http_status
    info = response_info(response)
    assert (info["status"], info["errorCode"]) == (body_status, code)
    assert info["developerMessage"]
    assert emulator.received() == []


def test_wtp_body_that_is_not_a_json_object_is_75(emulator):
    response = requests.post(
        f"{emulator.wethepeople_url}/signatures.json", params={"api_key": emulator.api_key}, data="[1]", timeout=10
    )
    assert response_info(response)["errorCode"] == 75


def test_wtp_injected_server_errors_travel_with_http_200(emulator):
    emulator.faults(error_rate=1.0)
    answers = [wtp_sign(emulator) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [(response_info(a)["status"], response_info(a)["errorCode"]) for a in answers] == [
        (599, 99),
        (500, 73),
        (599, 83),
    ]
    assert emulator.received() == []


# -- faults ---------------------------------------------------------------------------------------------------


def test_error_rate_one_fails_every_call_json_and_cdn_html_alternating(emulator):
    key = auth_key(emulator)
    emulator.faults(error_rate=1.0)
    answers = [sign(emulator, key=key) for _ in range(4)]
    assert [a.status_code for a in answers] == [500, 502, 503, 503]
    assert answers[0].json() == {"result": "failure", "messages": [changeorg.SERVER_ERROR]}
    assert answers[2].json() == answers[0].json()
    for html in (answers[1], answers[3]):
        assert html.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            html.json()
    assert emulator.received() == []
    assert emulator.stats()["injected_errors"] == 4


def test_down_answers_every_api_call_with_an_html_503_but_control_works(emulator):
    assert emulator.faults(down=True)["down"] is True
    for response in (
        changeorg_get(emulator, f"petitions/{OPEN}"),
        requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=10),
        wtp_sign(emulator),
    ):
        assert response.status_code == 503
        assert response.headers["Content-Type"].startswith("text/html")
    assert emulator.stats()["down_answers"] == 3
    emulator.faults(down=False)
    assert changeorg_get(emulator, f"petitions/{OPEN}").status_code == 200


def test_latency_delays_every_answer(emulator):
    emulator.faults(latency_ms=1500)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=(5, 0.2))
    emulator.faults(latency_ms=0)
    assert requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=(5, 5)).status_code == 200


def test_timeout_stores_the_signature_before_the_client_gives_up(emulator):
    key = auth_key(emulator)
    emulator.faults(timeout_rate=1.0)
    body = rsig.signed_body(signature_params(emulator), emulator.secret, key)
    with pytest.raises(requests.ReadTimeout):
        post_signature(emulator, body, timeout=(5, 0.3))
    wait_until(lambda: len(emulator.received(OPEN)) == 1, timeout=10, interval=0.05, what="the signature's arrival")
    emulator.faults(timeout_rate=0.0)
    # The client's retry meets the signature already there.
    retry = sign(emulator, key=key)
    assert (retry.status_code, retry.json()["messages"]) == (400, ["user has already signed the petition"])
    assert emulator.stats()["delayed_answers"] == 1


def test_rate_limit_answers_429_with_retry_after_per_api_key(emulator):
    emulator.faults(rate_limit=3)
    assert [changeorg_get(emulator, f"petitions/{OPEN}").status_code for _ in range(3)] == [200, 200, 200]
    limited = changeorg_get(emulator, f"petitions/{OPEN}")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["result"] == "failure"
    wtp_limited = wtp_sign(emulator)
    assert (wtp_limited.status_code, response_info(wtp_limited)["status"]) == (429, 429)
    assert "Retry-After" in wtp_limited.headers
    # Another key has its own allowance.
    assert changeorg_get(emulator, f"petitions/{OPEN}", api_key="another-key").status_code == 401
    assert emulator.stats()["rate_limited"] == 2


def test_faults_update_partially_and_refuse_bad_values(emulator):
    assert emulator.faults(error_rate=0.25) == {
        "error_rate": 0.25,
        "timeout_rate": 0.0,
        "latency_ms": 0,
        "down": False,
        "rate_limit": 0,
        "timeout_seconds": 2.0,
    }
    assert emulator.faults(latency_ms=10)["error_rate"] == 0.25
    for bad in ({"error_rate": 1.5}, {"timeout_rate": -0.1}, {"down": "yes"}, {"latency_ms": -1}, {"chaos": 1}):
        response = requests.post(emulator.control_url("faults"), json=bad, timeout=10)
        assert response.status_code == 400, bad
    assert requests.get(emulator.control_url("faults"), timeout=10).json()["error_rate"] == 0.25
    emulator.reset()
    assert emulator.faults()["error_rate"] == 0.0


# -- control -----------------------------------------------------------------------------------------------------


def test_created_petitions_are_listed_resolved_and_signable(emulator):
    response = requests.post(
        emulator.control_url("petitions"),
        json={"provider": "changeorg", "title": "Plant trees on Elm Street", "goal": 50},
        timeout=10,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["url"] == f"https://www.change.org/p/plant-trees-on-elm-street-{created['id']}"
    assert (created["status"], created["goal"], created["signature_count"]) == ("open", 50, 0)
    resolved = changeorg_get(emulator, "petitions/get_id", petition_url=created["url"]).json()
    assert str(resolved["petition_id"]) == created["id"]
    assert sign(emulator, created["id"]).status_code == 202

    wtp = emulator.control(
        "POST", "petitions", json={"provider": "wethepeople", "title": "Closed one", "goal": 10, "status": "closed"}
    ).json()
    assert wtp_sign(emulator, petition_id=wtp["id"]).json()["metadata"]["responseInfo"]["errorCode"] == 74

    listed = {p["id"]: p for p in emulator.petitions()}
    assert {OPEN, CLOSED, WTP_OPEN, WTP_CLOSED, created["id"], wtp["id"]} == set(listed)
    assert listed[created["id"]]["signature_count"] == 1
    assert set(listed[OPEN]) == {"provider", "id", "url", "title", "status", "goal", "signature_count"}

    emulator.reset()
    assert {p["id"] for p in emulator.petitions()} == {
        OPEN,
        CLOSED,
        WTP_OPEN,
        WTP_CLOSED,
    }
    assert emulator.received() == []


def test_petitions_change_through_control(emulator):
    changed = emulator.control("PATCH", "petitions/1001", json={"status": "closed", "goal": 250, "title": "Elm"}).json()
    assert (changed["status"], changed["goal"], changed["title"]) == ("closed", 250, "Elm")
    assert sign(emulator).json()["messages"] == [changeorg.PETITION_CLOSED]
    emulator.control("PATCH", f"petitions/{WTP_OPEN}", json={"signature_count": 4321})
    assert wtp_sign(emulator).status_code == 200
    petition = requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=10).json()["results"][0]
    assert petition["signatureCount"] == 4322
    for bad in ({"status": "sleeping"}, {"goal": 0}, {"signature_count": -1}, {"colour": "red"}):
        response = requests.patch(emulator.control_url("petitions/1001"), json=bad, timeout=10)
        assert response.status_code == 400, bad
    assert requests.patch(emulator.control_url("petitions/404"), json={}, timeout=10).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "myspace", "title": "x"},
        {"provider": "changeorg", "title": ""},
        {"provider": "changeorg", "title": "x", "goal": -5},
    ],
)
def test_invalid_petition_creation_is_refused(emulator, body):
    assert requests.post(emulator.control_url("petitions"), json=body, timeout=10).status_code == 400


class _CallbackReceiver(BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            parse_qs(self.rfile.read(length).decode()) | {"_type": [self.headers["Content-Type"]]}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def callback_receiver():
    _CallbackReceiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CallbackReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/petitions/auth-key-callback/", _CallbackReceiver.received
    server.shutdown()
    server.server_close()


def test_revoked_key_is_refused_with_403_and_the_callback_is_posted(emulator, callback_receiver):
    callback_url, received = callback_receiver
    key = auth_key(emulator, callback_endpoint=callback_url)
    assert sign(emulator, key=key).status_code == 202

    answer = emulator.control("POST", "auth_keys/revoke", json={"petition_id": 1001, "source": SOURCE}).json()
    assert answer["callbacks"] == [{"endpoint": callback_url, "status": 204}]
    [posted] = received
    assert posted == {
        "status": ["revoked"],
        "petition_id": ["1001"],
        "source_description": ["A blog post"],
        "source": [SOURCE],
        "requester_email": ["owner@blog.example"],
        "auth_key": [key],
        "_type": ["application/x-www-form-urlencoded"],
    }
    response = sign(emulator, key=key, email="someone@example.com")
    assert (response.status_code, response.json()["messages"]) == (403, [changeorg.AUTH_KEY_REVOKED])

    # A new request grants a new key, which works.
    fresh = auth_key(emulator)
    assert fresh != key
    assert sign(emulator, key=fresh, email="someone@example.com").status_code == 202
    stats = emulator.stats()
    assert (stats["auth_keys_revoked"], stats["callbacks_sent"]) == (1, 1)


def test_revoke_survives_an_unreachable_callback_and_an_unknown_key(emulator):
    auth_key(emulator, callback_endpoint="http://127.0.0.1:9/nothing-listens-here")
    answer = emulator.control("POST", "auth_keys/revoke", json={"petition_id": "1001", "source": SOURCE}).json()
    assert answer["callbacks"][0]["status"] is None
    assert emulator.stats()["callbacks_failed"] == 1
    response = requests.post(
        emulator.control_url("auth_keys/revoke"), json={"petition_id": "1001", "source": SOURCE}, timeout=10
    )
    assert response.status_code == 404


def test_logs_carry_no_secret_auth_key_or_signer_data(emulator, callback_receiver, caplog):
    caplog.set_level("DEBUG", logger="petition_widget")
    key = auth_key(emulator, callback_endpoint=callback_receiver[0])
    assert sign(emulator, key=key, first_name="Zenobia", email="zenobia@example.com").status_code == 202
    assert sign(emulator, key=key, first_name="Zenobia", email="zenobia@example.com").status_code == 400
    emulator.control("POST", "auth_keys/revoke", json={"petition_id": OPEN, "source": SOURCE})
    assert wtp_sign(emulator, first_name="Zenobia", email="zenobia@example.com").status_code == 200
    assert "1001" in caplog.text
    for secret in (emulator.secret, key, "Zenobia", "zenobia@example.com", "Lovelace"):
        assert secret not in caplog.text


# -- mounted in a host site, and the command ------------------------------------------------------------------


@override_settings(ROOT_URLCONF=__name__, PETITION_WIDGET_EMULATOR={"API_KEY": "host-key", "SECRET": "host-secret"})
def test_mounted_in_a_site_it_ignores_the_mount_prefix_in_endpoint():
    client = Client()
    params = [
        ("api_key", "host-key"),
        ("endpoint", "/v1/petitions/1001/auth_keys"),
        ("timestamp", timestamp()),
        ("source_description", "Blog"),
        ("source", SOURCE),
        ("requester_email", "owner@blog.example"),
    ]
    response = client.post(
        "/emulator/changeorg/v1/petitions/1001/auth_keys",
        rsig.signed_body(params, "host-secret"),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    listing = client.get("/emulator/changeorg/v1/petitions/1001/signatures", {"api_key": "host-key", "page_size": 5})
    assert listing.json()["next_page_endpoint"].startswith("http://testserver/emulator/changeorg/v1/petitions/1001/")
    assert client.get("/emulator/_emulator/stats").json()["auth_keys_granted"] == 1


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--error-rate", "1.5"], "--error-rate must be between 0 and 1"),
        (["--timeout-rate", "-0.5"], "--timeout-rate must be between 0 and 1"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--latency-ms", "-3"], "--latency-ms must be 0 or more"),
        (["--secret", ""], "--secret must not be empty"),
    ],
)
def test_command_validates_its_options(option, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("upstream_emulator", *option)


def test_command_serves_until_sigterm():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "upstream_emulator", "--port", "0", "--api-key", "cmd-key", "--secret", "s3"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the emulator printed nothing"
        line = process.stdout.readline()
        base = re.search(r"at (http://127\.0\.0\.1:\d+) ", line).group(1)
        assert "s3" not in line
        petition = requests.get(f"{base}/changeorg/v1/petitions/1001", params={"api_key": "cmd-key"}, timeout=10)
        assert petition.json()["petition_id"] == 1001
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out
