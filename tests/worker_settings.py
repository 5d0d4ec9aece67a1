"""Settings of worker processes started by the tests: the test settings, plus PETITION_WIDGET values from
the environment (``PETITION_WIDGET_JSON``) so that a test can point its workers at its emulator."""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import PETITION_WIDGET

PETITION_WIDGET = {**PETITION_WIDGET, **json.loads(os.environ.get("PETITION_WIDGET_JSON") or "{}")}
