import pytest

from petition_widget.models import Provider
from tests.factories import SIGNER, make_petition

pytest_plugins = ["tests.fixtures_emulator", "tests.forwarding_support"]


@pytest.fixture
def petition(db):
    return make_petition()


@pytest.fixture
def wtp_petition(db):
    return make_petition(
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
    return dict(SIGNER)


@pytest.fixture
def wtp_data():
    return {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}
