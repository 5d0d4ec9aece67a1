"""Forwarding: the worker, leases, retries, the shared rate limit, the wake-up task, processes, chaos, validations.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
