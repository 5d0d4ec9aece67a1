"""The Wagtail integration's tests (tests/wagtail_site/wagtail_pages.py, named apart from the suite's test_*.py so
that the main run does not collect them), each group in a pytest process of its own under the Wagtail site's
settings (a process has one settings module).

Wagtail is part of the test extra: without it this module fails at import, loudly, rather than skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import wagtail  # noqa: F401  (fails the module when the test extra is not installed in full)

REPO = Path(__file__).resolve().parents[2]
PAGES_TESTS = "tests/wagtail_site/wagtail_pages.py"


def run_wagtail_tests(marker: str) -> str:
    """pytest over the Wagtail site's tests selected by ``marker``; its output, after asserting they all passed."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.wagtail_site.settings"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            PAGES_TESTS,
            "--ds=tests.wagtail_site.settings",
            "-m",
            marker,
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = re.search(r"(\d+) passed", output)
    assert summary and int(summary.group(1)) > 0, output
    assert not re.search(r"\d+ (failed|skipped|error)", output), output
    return output


def test_wagtail_pages_render_the_petition_block_and_sign_through_it():
    output = run_wagtail_tests("not browser")
    assert "5 passed" in output, output


@pytest.mark.browser
def test_wagtail_page_signing_in_the_browser():
    output = run_wagtail_tests("browser")
    assert "1 passed" in output, output
