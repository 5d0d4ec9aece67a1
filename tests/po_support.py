"""Reading gettext catalogs (.po) for the translation tests: entries with their flags, msgids and msgstrs."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')
# Python's %-placeholders (%(name)s, %d, %%) and str.format's {name}.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{[a-zA-Z_][a-zA-Z0-9_]*\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    references: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The key gettext looks the entry up by (context, then msgid, as in a .mo file)."""
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, its header (msgid "") first."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry, target = None, None
            continue
        entry = entry or Entry()
        if line.startswith("#~"):
            entry.obsolete = True
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#:"):
            entry.references.extend(line[2:].split())
        elif line.startswith("#"):
            continue
        elif match := KEYWORD.match(line):
            keyword, index, text = match.groups()
            value = ast.literal_eval(text)
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                entry.msgstr[target[1]] = value
            else:
                target = (keyword, 0)
                setattr(entry, keyword, value)
        else:
            value = ast.literal_eval(line.strip())
            if target[0] == "msgstr":
                entry.msgstr[target[1]] += value
            else:
                setattr(entry, target[0], getattr(entry, target[0]) + value)
    return entries


def nplurals(header: Entry) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header.msgstr[0])
    assert match, "the catalog's header has no Plural-Forms"
    return int(match.group(1))


def problems(entry: Entry, plurals: int) -> list[str]:
    """What is wrong with a translation: missing, fuzzy, placeholders or HTML tags not kept."""
    found = []
    if "fuzzy" in entry.flags:
        found.append("fuzzy")
    forms = [entry.msgstr.get(n, "") for n in range(plurals if entry.msgid_plural else 1)]
    if not all(form.strip() for form in forms):
        found.append("untranslated")
        return found
    sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
    wanted = sorted(set().union(*(PLACEHOLDER.findall(s) for s in sources)))
    for n, form in enumerate(forms):
        have = sorted(set(PLACEHOLDER.findall(form)))
        # A plural form for one exact number (Arabic's "one" and "two") may spell the number out.
        exact = not entry.msgid_plural or n == len(forms) - 1
        if (have != wanted) if exact else not set(have) <= set(wanted):
            found.append(f"placeholders {have} in form {n}, expected {wanted}")
        if sorted(TAG.findall(form)) != sorted(TAG.findall(entry.msgid)):
            found.append(f"HTML tags not kept in form {n}")
    return found
