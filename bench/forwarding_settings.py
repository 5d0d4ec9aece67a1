"""The benchmark settings, plus PETITION_WIDGET values from ``PETITION_WIDGET_JSON`` (forwarding knobs the
example site does not read from the environment: retries, lease, rate limits)."""

import json
import os

from bench.settings import *  # noqa: F403
from bench.settings import PETITION_WIDGET

# The forwarding benchmarks post signatures from one address as fast as they can: every abuse check is off
# (and with it the state those checks keep in a cache, which petition_widget.E022 asks to be shared).
SIGNING_CHECKS_OFF = {
    "SIGN_MIN_SECONDS": 0,
    "SIGN_LIMIT_PER_IP": 0,
    "SIGN_LIMIT_PER_PETITION": 0,
    "API_KEY_LIMITS": {"browser": 0, "server": 0},
}
PETITION_WIDGET = {
    **PETITION_WIDGET,
    **SIGNING_CHECKS_OFF,
    **json.loads(os.environ.get("PETITION_WIDGET_JSON") or "{}"),
}
