"""The widget's translations: complete catalogs for every shipped language, compiled in step, and used.

The catalogs are petition_widget/locale/<lang>/LC_MESSAGES/django.po (the source) and django.mo (committed,
compiled with ``django-admin compilemessages``). The strings extracted are those the signer, the host site's
visitor and the mail recipient meet; the admin's own strings (admin/, templates/admin/, the models' and API
keys' field names) are left to English and out of the extraction, as MAKEMESSAGES says.
"""

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.utils import translation

from example_project.blog.models import Post
from petition_widget.models import Petition
from tests.factories import post_signature
from tests.po_support import nplurals, problems, read_po

PACKAGE = Path(__file__).resolve().parents[2] / "petition_widget"
LANGUAGES = ["fr", "de", "es", "pt", "it", "ar"]
# Run from petition_widget/ to update the catalogs (then fill in the new strings and compilemessages).
MAKEMESSAGES = [
    "makemessages",
    *(f"--locale={lang}" for lang in LANGUAGES),
    "--no-obsolete",
    "--ignore=admin/*",
    "--ignore=templates/admin/*",
    "--ignore=models.py",
    "--ignore=api_keys.py",
]


def catalog(lang: str, root: Path = PACKAGE) -> Path:
    return root / "locale" / lang / "LC_MESSAGES" / "django.po"


def untranslated(path: Path) -> list[str]:
    header, *entries = read_po(path)
    plurals = nplurals(header)
    return [
        f"{entry.msgid!r} ({', '.join(found)})"
        for entry in entries
        if not entry.obsolete and (found := problems(entry, plurals))
    ]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """A copy of the package whose catalogs makemessages has brought up to date with its source."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext's xgettext is needed to extract the strings (apt-get install gettext)")
    root = tmp_path_factory.mktemp("extracted") / "petition_widget"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "static"))
    subprocess.run(
        [sys.executable, "-m", "django", *MAKEMESSAGES],
        cwd=root,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    return root


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_of_the_package_is_translated_not_fuzzy_and_keeps_its_placeholders(extracted, lang):
    """A string added to the source without its translation (or left fuzzy by makemessages) fails here."""
    assert untranslated(catalog(lang, extracted)) == []
    # The catalog in the repository holds every string the source has, and no others.
    ours = {entry.key for entry in read_po(catalog(lang)) if not entry.obsolete}
    theirs = {entry.key for entry in read_po(catalog(lang, extracted)) if not entry.obsolete}
    assert ours == theirs


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_committed_mo_file_is_compiled_from_the_po_file(lang):
    header, *entries = read_po(catalog(lang))
    compiled = catalog(lang).with_suffix(".mo")
    with compiled.open("rb") as handle:
        mo = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for entry in entries:
        if entry.obsolete or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural:
            expected.update({(entry.key, n): text for n, text in entry.msgstr.items()})
        else:
            expected[entry.key] = entry.msgstr[0]
    mo.pop("", None)
    assert mo == expected, f"run `django-admin compilemessages` in {PACKAGE}"
    assert nplurals(header) == {"es": 3, "ar": 6}.get(lang, 2)


# --- the translations in use --------------------------------------------------------------------------------------


@pytest.fixture
def post(db, petition) -> Post:
    return Post.objects.create(title="Bees", slug="bees", body="Sign below.", petition=petition)


ENGLISH = [
    "Sign this petition",
    "Fields marked * are required.",
    "First name",
    "Last name",
    "Postal code",
    "(optional)",
    "Choose your country",
    " of ",
    "This petition is powered by Change.org",
]


def test_the_blog_post_in_french_has_the_widget_in_french(client, post):
    html = client.get(post.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()
    assert '<html lang="fr" dir="ltr">' in html
    for french in [
        "Signer cette pétition",
        "Les champs marqués d’un * sont obligatoires.",
        "Prénom",
        "Code postal",
        "(facultatif)",
        "Choisissez votre pays",
        "Cette pétition est propulsée par Change.org",
        " signatures sur ",
    ]:
        assert french in html
    widget = html[html.index('class="pw-petition"') :]
    assert [english for english in ENGLISH if english in widget] == []


def test_arabic_pages_are_right_to_left_and_the_widget_says_so_too(client, post, petition):
    html = client.get(post.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert f'<section class="pw-petition" id="petition-{petition.slug}" lang="ar" dir="rtl"' in html
    assert "وقّع هذه العريضة" in html
    # The stand-alone page and the embed page.
    for path in [f"/petitions/{petition.slug}/", f"/petitions/{petition.slug}/embed/"]:
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="ar")
        assert response.status_code == 200, path
        assert '<html lang="ar" dir="rtl">' in response.content.decode(), path


def test_a_language_the_site_does_not_offer_falls_back_to_english(client, post):
    html = client.get(post.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert '<html lang="en" dir="ltr">' in html and "Sign this petition" in html


@pytest.mark.django_db(transaction=True)
def test_the_confirmation_mail_and_page_are_in_the_signers_language(client, changeorg, changeorg_data):
    changeorg.require_confirmation = True
    changeorg.save()
    response = post_signature(client, changeorg, changeorg_data, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 303
    (message,) = mail.outbox
    assert message.subject.startswith("Bitte bestätigen Sie Ihre Unterschrift: ")
    assert message.body.startswith("Hallo Ada,\n\ndanke, dass Sie „")
    assert "Der Link gilt" in message.body
    thanks = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Noch ein Schritt: Wir haben Ihnen eine E-Mail geschickt." in thanks
    link = message.body.split("/petitions/confirm/", 1)[1].split()[0]
    page = client.get(f"/petitions/confirm/{link}", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de" dir="ltr">' in page
    assert "Meine Unterschrift bestätigen" in page and "Confirm my signature" not in page


def test_field_errors_and_refusals_come_in_the_signers_language(client, petition):
    data = {"first_name": "", "last_name": "Lovelace", "email": "ada@example", "country_code": "GB"}
    html = post_signature(client, petition, data, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Il y a un problème" in html and "There is a problem" not in html
    assert re.match(r"Erreur\s:", html.split("<title>")[1])
    assert "Veuillez écrire" not in html  # an empty first name is Django's own "required" message, in French
    assert "Ce champ est obligatoire." in html


def test_arabic_plurals_use_all_six_forms():
    with translation.override("ar"):
        from django.utils.translation import ngettext

        counts = {n: ngettext("%(counter)s signature", "%(counter)s signatures", n) for n in (0, 1, 2, 5, 11, 100)}
    assert len(set(counts.values())) == 6
    assert counts[1] == "توقيع واحد" and counts[2] == "توقيعان"


def test_the_petition_model_is_untouched_by_the_language(petition):
    """Translations change what is shown, never what is stored (a guard for the catalogs' scope)."""
    with translation.override("fr"):
        assert Petition.objects.get(pk=petition.pk).title == petition.title
