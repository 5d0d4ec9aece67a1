"""The settings are declared once: the defaults, the checks and the documented table come from one place."""

import runpy
from pathlib import Path

from petition_widget.conf import DEFAULTS, SETTINGS, settings_table

ROOT = Path(__file__).resolve().parents[2]
TOOL = runpy.run_path(str(ROOT / "docs" / "settings_table.py"))


def test_the_settings_table_in_the_docs_matches_the_declarations():
    """docs/settings.md holds the table generated from petition_widget/conf.py, unchanged."""
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert TOOL["with_table"](text) == text, (
        "docs/settings.md disagrees with the settings declared in petition_widget/conf.py: "
        "run `.venv/bin/python docs/settings_table.py` and commit the result."
    )


def test_every_setting_is_declared_once_and_documented():
    keys = [setting.key for setting in SETTINGS]
    assert len(keys) == len(set(keys))
    assert list(DEFAULTS) == keys
    table = settings_table()
    for setting in SETTINGS:
        assert f"| `{setting.key}` |" in table
        assert setting.doc.strip() and "\n" not in setting.doc


def test_every_validated_setting_names_its_check_and_every_check_has_a_validator():
    for setting in SETTINGS:
        assert bool(setting.validate) == bool(setting.check_id), setting.key
        assert not setting.check_id or setting.check_id.startswith("E0"), setting.key
