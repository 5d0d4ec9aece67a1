"""The emulated We the People over HTTP: signers who validate after a delay or never, the public signatures
list of the read API, and its limit of 10 reads a second."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests
from django.core.management import CommandError, call_command

from petition_widget.emulator.behaviour import never_validates
from petition_widget.emulator.state import EmulatorState

WTP_OPEN, WTP_CLOSED = "2001", "2002"
BASE_COUNT = 12  # signatures the seeded petition 2001 counted before the emulator started


def behave(emulator, **changes) -> dict:
    """Change the emulated We the People's validation delay, never-validating share or read limit."""
    return emulator.control("POST", "wethepeople", json=changes).json()


def wtp_sign(emulator, email: str, **fields) -> requests.Response:
    body = {"petition_id": WTP_OPEN, "email": email, "first_name": "Grace", "last_name": "Hopper", **fields}
    response = requests.post(
        f"{emulator.wethepeople_url}/signatures.json", params={"api_key": emulator.api_key}, json=body, timeout=10
    )
    assert response.status_code == 200, response.text
    return response


def validations(emulator, petition_id: str = WTP_OPEN, **params) -> dict:
    params = {"api_key": emulator.api_key, "petition_id": petition_id, **params}
    return requests.get(f"{emulator.wethepeople_url}/validations.json", params=params, timeout=10).json()


def public_list(emulator, petition_id: str = WTP_OPEN, **params) -> requests.Response:
    return requests.get(
        f"{emulator.wethepeople_url}/petitions/{petition_id}/signatures.json", params=params, timeout=10
    )


def signature_count(emulator) -> int:
    answer = requests.get(f"{emulator.wethepeople_url}/petitions/{WTP_OPEN}.json", timeout=10).json()
    return answer["results"][0]["signatureCount"]


def emails(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}@example.org" for n in range(count)]


def test_a_signature_counts_only_once_its_signer_validates_after_the_delay(emulator):
    behave(emulator, validation_delay=3600, never_validate=0.5)
    waiting = emails("later", 10)
    for email in waiting:
        wtp_sign(emulator, email)

    # Queued, not validated: not counted, not listed, not among the validations.
    assert validations(emulator)["results"] == []
    assert public_list(emulator).json()["results"] == []
    assert signature_count(emulator) == BASE_COUNT
    received = emulator.received(WTP_OPEN)
    never = {email for email in waiting if never_validates(email, 0.5)}
    assert 0 < len(never) < len(waiting)
    for record in received:
        if record["fields"]["email"] in never:
            assert record["validates_at"] is None
        else:
            arrived = datetime.fromisoformat(record["received_at"])
            assert datetime.fromisoformat(record["validates_at"]) == arrived + timedelta(seconds=3600)
        assert record["validated"] is False

    # Signers who click at once: every one of them but the share that never clicks is validated and counted.
    behave(emulator, validation_delay=0)
    prompt = emails("prompt", 10)
    for email in prompt:
        wtp_sign(emulator, email)
    clicking = [email for email in prompt if not never_validates(email, 0.5)]
    assert 0 < len(clicking) < len(prompt)
    answer = validations(emulator)
    assert [v["email"] for v in answer["results"]] == clicking
    assert answer["metadata"]["resultset"]["count"] == len(clicking)
    seqs = {r["fields"]["email"]: str(r["seq"]) for r in emulator.received(WTP_OPEN)}
    assert [v["signature_id"] for v in answer["results"]] == [seqs[email] for email in clicking]
    assert signature_count(emulator) == BASE_COUNT + len(clicking)


def test_which_signers_never_validate_follows_from_their_address_alone():
    addresses = emails("stable", 400)
    first = [never_validates(email, 0.1) for email in addresses]
    assert first == [never_validates(email, 0.1) for email in addresses]
    assert 20 <= sum(first) <= 60  # about a tenth
    assert not any(never_validates(email, 0) for email in addresses)
    assert all(never_validates(email, 1) for email in addresses)


def test_validations_are_paged_by_limit_and_offset(emulator):
    for email in emails("paged", 5):
        wtp_sign(emulator, email)
    first = validations(emulator, limit=2)
    rest = validations(emulator, limit=2, offset=2)
    last = validations(emulator, limit=2, offset=4)
    assert [len(page["results"]) for page in (first, rest, last)] == [2, 2, 1]
    assert first["metadata"]["resultset"] == {"count": 5, "limit": 2, "offset": 0}
    listed = [v["email"] for page in (first, rest, last) for v in page["results"]]
    assert listed == emails("paged", 5)


def test_public_signatures_list_shows_initials_place_and_submission_time_only(emulator):
    wtp_sign(emulator, "ada@example.org", first_name="ada", last_name="Lovelace", zip="20500")
    wtp_sign(emulator, "alan@example.org", first_name="Alan", last_name="Turing", zip="99686-1234")
    wtp_sign(emulator, "grace@example.org")
    behave(emulator, validation_delay=3600)
    wtp_sign(emulator, "late@example.org", zip="20500")

    response = public_list(emulator)
    assert response.status_code == 200
    answer = response.json()
    assert answer["metadata"]["responseInfo"]["status"] == 200
    assert answer["metadata"]["resultset"] == {"count": 3, "limit": 1000, "offset": 0}
    received = {r["fields"]["email"]: r for r in emulator.received(WTP_OPEN)}

    def created(email: str) -> str:
        return str(int(datetime.fromisoformat(received[email]["received_at"]).timestamp()))

    assert answer["results"] == [
        {
            "id": str(received["ada@example.org"]["seq"]),
            "type": "signature",
            "petitionId": WTP_OPEN,
            "name": "AL",
            "city": "Washington",
            "state": "DC",
            "zip": "20500",
            "created": created("ada@example.org"),
        },
        {
            "id": str(received["alan@example.org"]["seq"]),
            "type": "signature",
            "petitionId": WTP_OPEN,
            "name": "AT",
            "city": "Valdez",
            "state": "AK",
            "zip": "99686-1234",
            "created": created("alan@example.org"),
        },
        {
            "id": str(received["grace@example.org"]["seq"]),
            "type": "signature",
            "petitionId": WTP_OPEN,
            "name": "GH",
            "city": "",
            "state": "",
            "zip": "",
            "created": created("grace@example.org"),
        },
    ]
    assert "example.org" not in response.text and "Lovelace" not in response.text

    def names(**params) -> list[str]:
        return [item["name"] for item in public_list(emulator, **params).json()["results"]]

    assert names(city="washington") == ["AL"]
    assert names(state="ak") == ["AT"]
    assert names(zipcode="99686") == ["AT"]
    assert names(zipcode="20500", state="DC", city="Washington") == ["AL"]
    assert names(city="Nowhere") == []
    assert names(limit=1, offset=1) == ["AT"]
    assert public_list(emulator, limit=5000).json()["metadata"]["resultset"]["limit"] == 1000


def test_public_signatures_list_of_an_unknown_petition_is_84(emulator):
    for petition_id in ("9999", "1001"):  # none at all; a Change.org petition
        response = public_list(emulator, petition_id)
        assert response.status_code == 404
        info = response.json()["metadata"]["responseInfo"]
        assert (info["status"], info["errorCode"]) == (404, 84)
    assert public_list(emulator, limit="many").json()["metadata"]["responseInfo"]["errorCode"] == 75


def test_reads_over_the_limit_a_second_are_429_and_writes_are_not_counted(emulator):
    behave(emulator, read_limit=2)
    answers = [public_list(emulator) for _ in range(30)]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, "30 reads in a row stayed under 2 a second"
    info = refused[0].json()["metadata"]["responseInfo"]
    assert info["status"] == 429 and refused[0].headers["Retry-After"] == "1"
    stats = emulator.stats()
    assert stats["reads"] == 30
    assert stats["read_rate_limited"] == len(refused)
    assert stats["reads_busiest_second"] > 2
    wtp_sign(emulator, "writer@example.org")  # a write is not a read
    assert emulator.stats()["reads"] == 30


def test_read_limit_defaults_to_ten_and_the_knobs_refuse_bad_values(emulator):
    assert EmulatorState().wethepeople.read_limit == 10
    assert (EmulatorState().wethepeople.validation_delay, EmulatorState().wethepeople.never_validate) == (5.0, 0.1)
    assert emulator.control("GET", "wethepeople").json() == {
        "validation_delay": 0.0,
        "never_validate": 0.0,
        "read_limit": 10,
    }
    for bad in ({"never_validate": 1.5}, {"validation_delay": -1}, {"read_limit": 2.5}, {"chaos": 1}, []):
        response = requests.post(f"{emulator.url}/_emulator/wethepeople", json=bad, timeout=10)
        assert response.status_code == 400, bad
    assert behave(emulator, never_validate=0.25)["never_validate"] == 0.25
    emulator.reset()
    assert emulator.control("GET", "wethepeople").json()["never_validate"] == 0.0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--never-validate", "1.5"], "--never-validate must be between 0 and 1"),
        (["--validation-delay", "-1"], "--validation-delay must be 0 or more"),
        (["--read-limit", "-1"], "--read-limit must be 0 or more"),
    ],
)
def test_command_validates_its_we_the_people_options(option, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("upstream_emulator", *option)
