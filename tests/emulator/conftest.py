"""The upstream emulator: both APIs, their faults, validations and read limits.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
