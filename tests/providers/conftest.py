"""The upstream clients: Change.org and We the People requests, signatures (rsig), answers, the petition cache.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
