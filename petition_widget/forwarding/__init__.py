"""Forwarding: the signature rows are the outbox; workers claim them under a lease and relay them upstream.

Claiming, leasing and recording are transitions of the signature's lifecycle (``petition_widget.lifecycle``);
``retry`` decides what follows a try; ``worker`` runs the loop, every worker under the upstream's limit (the
shared :mod:`petition_widget.ratelimit`); ``wake`` is the optional task-framework hook.
"""
