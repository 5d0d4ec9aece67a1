"""``add_petition``, ``sync_petitions``, ``forward_signatures``, ``purge_signatures``, ``upstream_emulator``."""
