"""Forwarding: the signature rows are the outbox; workers claim them under a lease and relay them upstream.

``outbox`` claims, leases and records; ``retry`` decides what follows a try; ``ratelimit`` keeps every
worker under the upstream's limit; ``worker`` runs the loop; ``wake`` is the optional task-framework hook.
"""
