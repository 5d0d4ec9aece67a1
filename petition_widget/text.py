"""Text normalisation shared by the forms and the models: invisible characters out, one form per e-mail address."""

from __future__ import annotations

import re
import unicodedata

import idna

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt; the same list from
# Unicode 14 to 17): characters a renderer shows as nothing. A name of them looks blank, and one
# inside an e-mail address makes a second, invisibly different address.
DEFAULT_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),  # zero width space, (non-)joiner, left-to-right and right-to-left marks
    (0x202A, 0x202E),  # bidirectional embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidirectional isolates, deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned, reserved as ignorable
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement and their reserved block
)
DEFAULT_IGNORABLE = "".join(
    re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
    for first, last in DEFAULT_IGNORABLE_RANGES
)
_IGNORABLE_RE = re.compile(f"[{DEFAULT_IGNORABLE}]")


def drop_ignorables(value: str) -> str:
    """`value` without any default-ignorable code point."""
    return _IGNORABLE_RE.sub("", value)


def has_letter(value: str) -> bool:
    """Whether `value` holds at least one letter (Unicode category L) that is not default-ignorable."""
    return any(unicodedata.category(char)[0] == "L" for char in drop_ignorables(value))


def normalize_domain(domain: str) -> str:
    """The ASCII form (IDNA 2008 A-labels, UTS 46 mapping) of an e-mail domain, lower case.

    ``ｅxample.com`` (full-width letters) becomes ``example.com`` and ``Bücher.de`` becomes
    ``xn--bcher-kva.de``. An address literal (``[192.0.2.1]``) is kept as it is. Raises
    :class:`ValueError` for a domain IDNA refuses.
    """
    domain = unicodedata.normalize("NFKC", drop_ignorables(domain))
    if domain.startswith("["):
        return domain.lower()
    return idna.encode(domain, uts46=True, transitional=False).decode("ascii")


def normalize_email_domain(email: str) -> str:
    """`email` without default-ignorable code points, its domain in ASCII (:func:`normalize_domain`).

    The local part is kept as typed: only its mailbox provider may say which spellings are one mailbox.
    Raises :class:`ValueError` when the domain is not a valid IDNA domain.
    """
    local, at, domain = drop_ignorables(email).rpartition("@")
    if not at:
        return drop_ignorables(email)
    return f"{local}@{normalize_domain(domain)}"
