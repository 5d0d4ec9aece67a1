import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.utils import translation

from petition_widget.api_keys import ApiKeyKind
from petition_widget.models import Provider
from tests.factories import SIGNER, make_api_key, make_petition

pytest_plugins = ["tests.fixtures_emulator", "tests.forwarding_support"]


@pytest.fixture(autouse=True)
def site_language():
    """Each test starts in the site's language: a request through LocaleMiddleware leaves its language active
    in the thread, and a test that signs in French must not make the next one French."""
    translation.deactivate()
    yield
    translation.deactivate()


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


@pytest.fixture
def api_key(db):
    """A partner's server key (its raw key in ``key``): signing tests post as a server does, without an Origin."""
    return make_api_key(name="test site", kind=ApiKeyKind.SERVER)


@pytest.fixture
def reviewer(db) -> User:
    """A member of the reviewers' group: view and retry signatures, no change, no export."""
    user = User.objects.create_user("reviewer", password="pw", is_staff=True)
    # The REVIEWER_GROUP default, which migrate creates.
    user.groups.add(Group.objects.get(name="Petition reviewers"))
    return user


@pytest.fixture
def fresh_cache(settings) -> str:
    """A local-memory cache of this test's own, for RATE_LIMIT_CACHE: its alias."""
    settings.CACHES = {
        **settings.CACHES,
        "abuse": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    return "abuse"
