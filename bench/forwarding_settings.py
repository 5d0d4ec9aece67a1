"""The benchmark settings, plus PETITION_WIDGET values from ``PETITION_WIDGET_JSON`` (forwarding knobs the
example site does not read from the environment: retries, lease, rate limits)."""

import json
import os

from bench.settings import *  # noqa: F403
from bench.settings import PETITION_WIDGET

PETITION_WIDGET = {**PETITION_WIDGET, **json.loads(os.environ.get("PETITION_WIDGET_JSON") or "{}")}
