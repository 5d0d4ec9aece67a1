"""Country names as Change.org's API spelled them: the common English short names ("United States").

django-countries gives ISO's names ("United States of America"), or common names for some countries, as the
host site's ``COUNTRIES_*`` settings choose. The public API must answer the same whatever the host chose, so
it looks names up in a list of its own: django-countries' English names with its common names, every host
option pinned, and a few names of Change.org's time (the API was retired in 2015) where they differ.
"""

from __future__ import annotations

from functools import lru_cache

from django.utils import translation
from django_countries import Countries

# Where Change.org's name is not django-countries' common name. The seed's example answers "United States";
# Change.org's full list is lost, so the rest are the English short names in use until 2015, before the
# renamings that came later (Czechia 2016, Eswatini 2018, North Macedonia 2019, Türkiye 2022).
CHANGEORG_NAMES = {
    "US": "United States",
    "BS": "Bahamas",
    "CV": "Cape Verde",
    "CZ": "Czech Republic",
    "FK": "Falkland Islands",
    "MK": "Macedonia",
    "SZ": "Swaziland",
    "TR": "Turkey",
    "UM": "United States Minor Outlying Islands",
    "VI": "U.S. Virgin Islands",
    "VG": "British Virgin Islands",
}


class _ChangeOrgCountries(Countries):
    """django-countries' list with every option set here, so that no ``COUNTRIES_*`` setting of the host applies."""

    common_names = True
    override = CHANGEORG_NAMES
    only: list[str] = []
    first: list[str] = []
    first_repeat = False
    first_break = ""
    first_sort = False
    first_auto_detect = False
    first_by_language: dict[str, list[str]] = {}


_countries = _ChangeOrgCountries()


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """The English name Change.org gave the country ``code`` (ISO 3166-1 alpha-2); "" for none or an unknown one."""
    if not code:
        return ""
    with translation.override("en"):
        return str(_countries.name(code.upper()))
