"""Integrations with other Django projects, each an optional app of its own."""
