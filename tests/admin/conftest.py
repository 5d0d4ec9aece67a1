"""The Django admin: review, contact-detail privacy, campaign views, forwarding actions, retention and erasure.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""

import pytest
from django.test import Client


@pytest.fixture
def reviewer_client(reviewer) -> Client:
    """A test client logged in as a member of the reviewers' group (``reviewer``, from tests/conftest.py)."""
    client = Client()
    client.force_login(reviewer)
    return client
