"""The emulator's records (petitions, received signatures, auth keys) and the petitions and signatures it
starts with (and returns to on reset).

The seed is fixed, so that a fresh emulator always answers the same: ids, URLs, counts and the
seeded signers' times do not depend on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CHANGEORG = "changeorg"
WETHEPEOPLE = "wethepeople"
PROVIDERS = (CHANGEORG, WETHEPEOPLE)

CHANGEORG_PETITION_URL = "https://www.change.org/p/{slug}"
WETHEPEOPLE_PETITION_URL = "https://petitions.whitehouse.gov/petition/{slug}"

# Created petitions take ids from here up, shared by both providers so that an id names one petition.
FIRST_CREATED_ID = 3001


@dataclass
class EmulatedPetition:
    """One upstream petition; fields cover both providers' read answers."""

    provider: str
    id: str
    title: str
    slug: str
    status: str = "open"
    goal: int | None = None
    overview: str = ""
    letter_body: str = ""
    targets: list[dict] = field(default_factory=list)
    category: str | None = None
    image_url: str | None = None
    creator_name: str | None = None
    creator_url: str | None = None
    organization_name: str | None = None
    organization_url: str | None = None
    issues: list[dict] = field(default_factory=list)
    created_at: datetime = datetime(2015, 6, 1, 12, 0, tzinfo=UTC)
    end_at: datetime | None = None
    # Signatures counted before the emulator started, without records (We the People lists none).
    base_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def url(self) -> str:
        return petition_url(self.provider, self.slug)


def petition_url(provider: str, slug: str) -> str:
    """A petition's page on its platform."""
    return (CHANGEORG_PETITION_URL if provider == CHANGEORG else WETHEPEOPLE_PETITION_URL).format(slug=slug)


@dataclass
class ReceivedSignature:
    """A signature as the emulator holds it: every field received, plus its bookkeeping."""

    seq: int
    provider: str
    petition_id: str
    fields: dict[str, str]
    signed_at: datetime
    email_key: str
    hidden: bool = False
    duplicate: bool = False
    seeded: bool = False
    # We the People: when the signer follows the validation e-mail's link (None: never). Only then is the
    # signature counted, listed and in validations.json.
    validates_at: datetime | None = None

    def validated(self, now: datetime) -> bool:
        """Whether the signer has followed the validation link by ``now`` (We the People)."""
        return self.validates_at is not None and self.validates_at <= now

    @property
    def display_name(self) -> str:
        return f"{self.fields.get('first_name', '')} {self.fields.get('last_name', '')}".strip()


@dataclass
class AuthKey:
    """A Change.org petition authorization key, granted per (petition, API key, source)."""

    petition_id: str
    api_key: str
    source: str
    source_description: str
    requester_email: str
    callback_endpoint: str
    key: str
    status: str = "granted"

    def answer(self) -> dict[str, Any]:
        """The fields of the grant answer, also POSTed to the callback when the status changes."""
        return {
            "status": self.status,
            "petition_id": int(self.petition_id),
            "source_description": self.source_description,
            "source": self.source,
            "requester_email": self.requester_email,
            "auth_key": self.key,
        }


def seed_petitions() -> list[EmulatedPetition]:
    """A fresh copy of the seeded petitions."""
    return [
        EmulatedPetition(
            provider=CHANGEORG,
            id="1001",
            title="Plant trees on Elm Street",
            slug="plant-trees-on-elm-street",
            goal=100,
            overview="<p>Elm Street lost its trees to the 2014 storm. Let's plant new ones.</p>",
            letter_body="Please replant the trees on Elm Street.",
            targets=[{"name": "Springfield City Council", "type": "custom", "title": None, "target_area": None}],
            category="Environment",
            image_url="https://assets.change.org/photos/elm-street.jpg",
            creator_name="Elm Street Residents",
            creator_url="https://www.change.org/u/elm-street-residents",
            end_at=datetime(2030, 12, 31, tzinfo=UTC),
        ),
        EmulatedPetition(
            provider=CHANGEORG,
            id="1002",
            title="Keep the old library open",
            slug="keep-the-old-library-open",
            status="closed",
            goal=500,
            overview="<p>The old library closes at the end of the month.</p>",
            letter_body="Keep the old library open.",
            targets=[{"name": "Mayor of Springfield", "type": "custom", "title": "Mayor", "target_area": None}],
            category="Education",
            creator_name="Friends of the Library",
            end_at=datetime(2015, 9, 1, tzinfo=UTC),
        ),
        EmulatedPetition(
            provider=WETHEPEOPLE,
            id="2001",
            title="Fund public libraries in every county",
            slug="fund-public-libraries-every-county",
            goal=100000,
            overview="Every county deserves a public library with long opening hours.",
            issues=[{"id": "18", "name": "Education"}],
            end_at=datetime(2030, 12, 31, tzinfo=UTC),
            base_count=12,
        ),
        EmulatedPetition(
            provider=WETHEPEOPLE,
            id="2002",
            title="Declare a national day of civic hacking",
            slug="declare-national-day-civic-hacking",
            status="closed",
            goal=100000,
            overview="Make the first Saturday of June a national day of civic hacking.",
            issues=[{"id": "27", "name": "Technology and Telecommunications"}],
            end_at=datetime(2015, 7, 1, tzinfo=UTC),
            base_count=4512,
        ),
    ]


_SIGNERS = [
    ("Jean-Luc", "Picard", "La Barre", "", "FR"),
    ("William", "Riker", "Valdez", "AK", "US"),
    ("Beverly", "Crusher", "Copernicus City", "", "US"),
    ("Geordi", "La Forge", "Mogadishu", "", "SO"),
    ("Deanna", "Troi", "Lake Cataria", "", "GR"),
    ("Tasha", "Yar", "Toronto", "ON", "CA"),
    ("Reginald", "Barclay", "Leeds", "", "GB"),
    ("Miles", "O'Brien", "Killarney", "", "IE"),
    ("Keiko", "Ishikawa", "Kumamoto", "", "JP"),
    ("Guinan", "Listener", "Sydney", "NSW", "AU"),
    ("Wesley", "Crusher", "San Francisco", "CA", "US"),
]

# Signers of the seeded Change.org petitions: (petition id, how many, every nth hidden).
_SEEDED_SIGNATURES = [("1001", 23, 7), ("1002", 3, 0)]
_SEED_START = datetime(2015, 6, 2, 9, 0, tzinfo=UTC)


def seed_signatures() -> list[ReceivedSignature]:
    """A fresh copy of the seeded Change.org signatures, oldest first, numbered from 1."""
    signatures: list[ReceivedSignature] = []
    for petition_id, count, hidden_every in _SEEDED_SIGNATURES:
        for index in range(count):
            first, last, city, state_province, country = _SIGNERS[index % len(_SIGNERS)]
            email = f"{first}.{last}.{index}@example.org".lower().replace(" ", "").replace("'", "")
            hidden = bool(hidden_every) and index % hidden_every == hidden_every - 1
            signatures.append(
                ReceivedSignature(
                    seq=len(signatures) + 1,
                    provider=CHANGEORG,
                    petition_id=petition_id,
                    fields={
                        "first_name": first,
                        "last_name": last,
                        "email": email,
                        "city": city,
                        "state_province": state_province,
                        "country_code": country,
                        "hidden": "true" if hidden else "false",
                    },
                    signed_at=_SEED_START + timedelta(hours=index * 5, minutes=index * 7),
                    email_key=email,
                    hidden=hidden,
                    seeded=True,
                )
            )
    return signatures
