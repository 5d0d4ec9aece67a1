"""Take the screenshots of docs/screenshots/: each state of the signing widget at 1280 and 390 px.

Runs the browser tests of tests/browser/test_browser_signer.py and tests/browser/test_browser_i18n.py with
PETITION_WIDGET_SCREENSHOTS=1, so the pictures are of exactly what the tests check (accessibility included).
Rerun after changing a template or the CSS:

    .venv/bin/python docs/make_screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    env = {**os.environ, "PETITION_WIDGET_SCREENSHOTS": "1"}
    tests = ["tests/browser/test_browser_signer.py", "tests/browser/test_browser_i18n.py"]
    command = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
    sys.exit(subprocess.call(command, cwd=ROOT, env=env))
