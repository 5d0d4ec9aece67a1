"""Headless Chromium: the signer's journey, the admin, the embed, with axe-core.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
