"""Settings and system checks, the generated settings table, the newcomer's mistakes.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
