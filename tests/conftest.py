import pytest

from petition_widget.models import Petition, Provider

pytest_plugins = ["tests.fixtures_emulator", "tests.forwarding_support"]


@pytest.fixture
def petition(db):
    return Petition.objects.create(
        provider=Provider.CHANGEORG,
        upstream_id="48503",
        slug="save-the-bees",
        title="Save the bees",
        status="open",
        goal=1000,
        signature_count=250,
    )


@pytest.fixture
def wtp_petition(db):
    return Petition.objects.create(
        provider=Provider.WETHEPEOPLE,
        upstream_id="2722358",
        slug="fund-libraries",
        title="Fund public libraries",
        status="open",
        goal=100000,
        signature_count=12,
    )


@pytest.fixture
def changeorg_data():
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "GB",
    }


@pytest.fixture
def wtp_data():
    return {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}
