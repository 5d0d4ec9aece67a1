"""The public REST API: reads, the signing POST, API keys and their limits, the schema.

The suite's shared fixtures are in tests/conftest.py; this area's own ones, if any, below."""
