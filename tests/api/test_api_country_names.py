"""The public API names countries as Change.org did: the seed's example reproduced, whatever the host's
django-countries settings or the visitor's language."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from petition_widget.api.country_names import country_name
from petition_widget.models import ForwardingState, Signature, recount_signatures
from tests.api.test_api import API, SEED_PAGE

# The seed's two signers (shared/seeds/003, the example of `GET petitions/:id/signatures`) and four earlier ones:
# the example's petition had six signatures.
SEED_SIGNERS = [
    ("Jean-Luc", "Picard", "La Barre", "", "FR", datetime(2012, 2, 15, 23, 39, 31, tzinfo=UTC)),
    ("William", "Riker", "Valdez", "AK", "US", datetime(2012, 2, 14, 10, 2, 23, tzinfo=UTC)),
    ("Beverly", "Crusher", "Copernicus City", "", "US", datetime(2012, 2, 13, 8, 0, 0, tzinfo=UTC)),
    ("Geordi", "La Forge", "Mogadishu", "", "SO", datetime(2012, 2, 12, 8, 0, 0, tzinfo=UTC)),
    ("Deanna", "Troi", "Lake Cataria", "", "GR", datetime(2012, 2, 11, 8, 0, 0, tzinfo=UTC)),
    ("Tasha", "Yar", "Toronto", "ON", "CA", datetime(2012, 2, 10, 8, 0, 0, tzinfo=UTC)),
]


@pytest.fixture
def seed_signatures(petition):
    for first, last, city, region, country, signed_at in SEED_SIGNERS:
        signature = Signature.objects.create(
            petition=petition,
            first_name=first,
            last_name=last,
            email=f"{first}.{last}@example.org".replace(" ", "").lower(),
            city=city,
            state_province=region,
            country_code=country,
            state=ForwardingState.SENT,
        )
        Signature.objects.filter(pk=signature.pk).update(created_at=signed_at)
    recount_signatures([petition.pk])
    return petition


def seed_answer(client, **headers) -> dict:
    response = client.get(f"{API}/48503/signatures?&page_size=2&sort=time_desc", **headers)
    assert response.status_code == 200
    return response.json()


def test_the_seed_example_is_reproduced_key_for_key_and_value_for_value(client, seed_signatures):
    answer = seed_answer(client)

    # Every key and value of the seed's answer, but the host in the link: the seed's own "https://https://api.
    # change.org" is the retired service's, ours is this site's.
    seed_link, link = urlsplit(SEED_PAGE["next_page_endpoint"]), urlsplit(answer["next_page_endpoint"])
    assert (link.path, link.query) == ("/api/v1/petitions/48503/signatures", seed_link.query)
    assert seed_link.path.endswith("/v1/petitions/48503/signatures")
    assert {**answer, "next_page_endpoint": SEED_PAGE["next_page_endpoint"]} == SEED_PAGE
    for ours, seed in zip(answer["signatures"], SEED_PAGE["signatures"], strict=True):
        assert sorted(ours) == sorted(seed)


def test_country_names_stay_english_and_changeorgs_whatever_the_host_and_the_visitor(client, seed_signatures, settings):
    expected = seed_answer(client)
    settings.COUNTRIES_OVERRIDE = {"US": "Murica", "FR": None}
    settings.COUNTRIES_COMMON_NAMES = False
    settings.COUNTRIES_ONLY = ["DE"]
    assert seed_answer(client, HTTP_ACCEPT_LANGUAGE="fr") == expected
    recent = client.get(f"{API}/48503/signatures/recent", HTTP_ACCEPT_LANGUAGE="de").json()
    assert {item["country_code"]: item["country_name"] for item in recent} == {
        "FR": "France",
        "US": "United States",
        "SO": "Somalia",
        "GR": "Greece",
        "CA": "Canada",
    }


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("US", "United States"),
        ("GB", "United Kingdom"),
        ("RU", "Russia"),
        ("KR", "South Korea"),
        ("KP", "North Korea"),
        ("VN", "Vietnam"),
        ("IR", "Iran"),
        ("SY", "Syria"),
        ("TW", "Taiwan"),
        ("BO", "Bolivia"),
        ("VE", "Venezuela"),
        ("CZ", "Czech Republic"),
        ("TR", "Turkey"),
        ("MK", "Macedonia"),
        ("SZ", "Swaziland"),
        ("CV", "Cape Verde"),
        ("FR", "France"),
        ("DE", "Germany"),
        ("us", "United States"),
        ("", ""),
        ("ZZ", ""),
    ],
)
def test_common_english_short_names(code, name):
    assert country_name(code) == name
