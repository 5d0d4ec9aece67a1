"""Whole set-ups from the docs: README's quickstart from startproject, the deployment, the Wagtail site.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
