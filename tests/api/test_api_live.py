"""The public API over real HTTP on loopback: no personal data leaves it, and a fuzz run of its schema.

The fuzz run loads the OpenAPI schema the site serves and lets schemathesis (on Hypothesis) generate
requests from it, valid and invalid, for every operation; each answer must be no 5xx, conform to the
schema (status, content type, body) and, when it refuses, be in the failure shape.
"""

import itertools
import json
import tempfile
from datetime import UTC, datetime

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from petition_widget.api_keys import ApiKeyKind
from petition_widget.models import Petition, Provider, Signature, recount_signatures
from tests.factories import new_api_key

# Hypothesis would keep a cache in .hypothesis/ of the working tree; the runs here need none.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="pw-hypothesis-"))

# Distinctive values of the fields that must never leave the server, and the forms they may take.
EMAIL = "Quokka.Zebra.7731@pii-probe.example"
PHONE = "+33 6 12 34 56 78"
ADDRESS = "4242 Quixotic Lane"
POSTAL_CODE = "ZQ42 7XK"
NEEDLES = ("quokka", "zebra.7731", "pii-probe", "612345678", "12 34 56 78", "quixotic", "zq42", "7xk")

FUZZ_EXAMPLES = 60  # per operation and mode; Hypothesis shrinks any failure it finds
VALID_SIGNER = {
    "first_name": "Jean-Luc",
    "last_name": "Picard",
    "email": "",
    "city": "La Barre",
    "state_province": "",
    "postal_code": "70100",
    "country_code": "FR",
    "hidden": False,
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def live_petition(transactional_db):
    return Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id="48503", slug="save-the-bees", title="Save the bees", goal=1000
    )


def test_no_endpoint_ever_shows_email_phone_address_or_postal_code(live_server, live_petition):
    api = f"{live_server.url}/api/v1/petitions/48503"
    key = new_api_key(name="live", allowed_origins="https://blog.example")
    signer = {
        "first_name": "Pia",
        "last_name": "Probe",
        "email": EMAIL,
        "phone": PHONE,
        "address": ADDRESS,
        "postal_code": POSTAL_CODE,
        "city": "Lyon",
        "state_province": "ARA",
        "country_code": "FR",
        "reason": "Because.",
    }
    page = {"Origin": "https://blog.example"}  # the key is a browser key: it signs from its page
    response = requests.post(f"{api}/signatures", data={"api_key": key, **signer}, headers=page, timeout=10)
    assert response.status_code == 202, response.text
    stored = Signature.objects.get()
    assert (stored.email, stored.phone, stored.address, stored.postal_code) == (
        EMAIL,
        "+33612345678",
        ADDRESS,
        POSTAL_CODE,
    )

    answers = [
        requests.get(f"{api}", timeout=10),
        requests.get(f"{api}?fields=title,local_signature_count", timeout=10),
        requests.get(f"{api}/signatures", timeout=10),
        requests.get(f"{api}/signatures?sort=time_desc&page_size=500", timeout=10),
        requests.get(f"{api}/signatures?page=2", timeout=10),
        requests.get(f"{api}/signatures/recent", timeout=10),
        requests.get(f"{api}/signatures", headers={"Origin": "https://blog.example"}, timeout=10),
        requests.options(
            f"{api}/signatures",
            headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "POST"},
            timeout=10,
        ),
        # Refusals must not echo what was sent either.
        requests.post(f"{api}/signatures", data={"api_key": key, **signer}, headers=page, timeout=10),
        requests.post(
            f"{api}/signatures", data={"api_key": key, **signer, "country_code": "XX"}, headers=page, timeout=10
        ),
        requests.post(
            f"{api}/signatures", json={"api_key": key, **signer, "email": EMAIL + "@"}, headers=page, timeout=10
        ),
        requests.post(f"{api}/signatures", data=signer, timeout=10),
        requests.post(f"{api}/signatures", data={"api_key": key, **signer}, headers={"Origin": "https://x.example"}),
        requests.get(f"{live_server.url}/api/v1/schema", timeout=10),
    ]
    listed = answers[2].json()
    assert listed["signature_count"] == 1 and listed["signatures"][0]["name"] == "Pia Probe"
    assert answers[5].json()[0]["city"] == "Lyon"
    assert [answer.status_code for answer in answers[8:13]] == [400, 400, 400, 401, 403]
    for answer in answers:
        whole = (answer.text + json.dumps(dict(answer.headers))).lower()
        for needle in NEEDLES:
            assert needle not in whole, (answer.url, needle)


@pytest.fixture
def fuzz_site(live_server, live_petition):
    """A petition with some signatures (one hidden), a closed one, and a server key (the fuzzer sends no Origin)."""
    for i in range(15):
        Signature.objects.create(
            petition=live_petition,
            first_name=f"Signer{chr(65 + i)}",
            last_name="Example",
            email=f"fuzz{i}@example.org",
            city="Valdez",
            country_code="US",
            hidden=i == 3,
        )
    Signature.objects.update(created_at=datetime(2012, 2, 14, tzinfo=UTC))
    Petition.objects.create(provider=Provider.WETHEPEOPLE, upstream_id="2722358", slug="wtp", title="WtP")
    Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id="777", slug="closed", title="Closed", accepts_signatures=False
    )
    recount_signatures()
    return {"url": live_server.url, "key": new_api_key(name="live", kind=ApiKeyKind.SERVER)}


@pytest.mark.slow
def test_fuzz_the_schema(fuzz_site):
    schema = schemathesis.openapi.from_url(f"{fuzz_site['url']}/api/v1/schema?format=json")
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(operation.label for operation in operations) == [
        "GET /petitions/{upstream_id}",
        "GET /petitions/{upstream_id}/signatures",
        "GET /petitions/{upstream_id}/signatures/recent",
        "POST /petitions/{upstream_id}/signatures",
    ]
    seen_statuses: set[int] = set()
    serial = itertools.count()

    def fuzz(operation, mode):
        checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

        @given(
            case=operation.as_strategy(generation_mode=mode),
            petition=st.sampled_from([None, "48503", "2722358", "777"]),
            real_key=st.booleans(),
            base=st.sampled_from([None, *VALID_SIGNER]),
        )
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exchange(case, petition, real_key, base):
            # Random ids, keys and signers alone would mostly meet 404, 401 and the form's refusals; steer
            # many cases at real petitions, a real key, and a valid signer with one generated field.
            if petition is not None and "upstream_id" in (case.path_parameters or {}):
                case.path_parameters["upstream_id"] = petition
            if base is not None and mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
                signer = {**VALID_SIGNER, "email": f"fuzz-{next(serial)}@example.org"}
                case.body = {**signer, **({base: case.body[base]} if base in case.body else {})}
            if real_key and isinstance(case.body, dict):
                case.body["api_key"] = fuzz_site["key"]
            response = case.call(session=session, timeout=10)
            case.validate_response(response, checks=checks)
            seen_statuses.add(response.status_code)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"result", "messages"} and body["result"] == "failure", body
                assert body["messages"] and all(isinstance(m, str) and m for m in body["messages"]), body

        exchange()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)

    # The run reached past the refusals: pages, petitions and stored signatures were among the answers.
    assert {200, 202, 400, 401, 404} <= seen_statuses, seen_statuses
