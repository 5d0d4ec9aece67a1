"""The Django admin: review, contact-detail privacy, campaign views, forwarding actions, retention and erasure.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
