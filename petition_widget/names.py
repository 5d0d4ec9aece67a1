"""How the public API shows a signer's name: the ``API_NAME_DISPLAY`` styles.

Outside ``petition_widget.api`` because the setting's check reads :class:`NameDisplay`, and the API
package needs its extra (Django REST framework) to be imported.
"""

from __future__ import annotations

import unicodedata

from django.db import models
from django.utils.translation import gettext_lazy as _

from .conf import app_settings


class NameDisplay(models.TextChoices):
    """How the public API shows a signer's name (setting ``API_NAME_DISPLAY``)."""

    FULL = "full", _("Full name")  # "Ada Lovelace", as Change.org listed it
    FIRST_INITIAL = "first_initial", _("First name and initial")  # "Ada L."
    INITIALS = "initials", _("Initials")  # "A. L."


def _initial(name: str) -> str:
    """The first letter of `name` with its combining marks, followed by a full stop ("" for no name)."""
    name = name.strip()
    if not name:
        return ""
    end = 1
    while end < len(name) and unicodedata.category(name[end]).startswith("M"):
        end += 1
    return name[:end].upper() + "."


def public_display_name(first_name: str, last_name: str, style: str | None = None) -> str:
    """A signer's name as the public API shows it; `style` defaults to the ``API_NAME_DISPLAY`` setting."""
    style = style or app_settings.API_NAME_DISPLAY
    first_name, last_name = first_name.strip(), last_name.strip()
    if style == NameDisplay.INITIALS:
        parts = [_initial(first_name), _initial(last_name)]
    elif style == NameDisplay.FIRST_INITIAL:
        parts = [first_name, _initial(last_name)]
    else:
        parts = [first_name, last_name]
    return " ".join(part for part in parts if part)
