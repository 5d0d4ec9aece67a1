"""Signing: the form, its abuse checks, the signing service, duplicates, confirmation, request guards, the widget
and the embed page.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
