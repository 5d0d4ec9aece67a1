"""The widget in French and in Arabic in headless Chromium, through the example blog's post.

The browser's language (its context's locale, hence its Accept-Language) picks the page's language with
LocaleMiddleware: the widget speaks it throughout (no English left among its strings), errors included; Arabic
pages and the widget are right to left and the layout mirrors. axe-core reports no violation in Arabic at 1280
and 390 px in the form, error and thank-you states (the English ones are in tests/browser/test_browser_signer.py).
Screenshots of the French and Arabic forms go to docs/screenshots/ with PETITION_WIDGET_SCREENSHOTS=1.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from petition_widget.models import Petition, Signature
from tests.browser.test_browser_signer import WIDE, accessible, count, focused, post, screenshots, widget
from tests.browser.test_browser_signer import browser as browser  # noqa: F401  (one browser for this module too)

pytestmark = pytest.mark.browser

__all__ = ["post", "screenshots"]

# The widget's strings a signer meets, in English: none may be left in the French or Arabic widget.
ENGLISH = [
    "Sign this petition",
    "Fields marked",
    "First name",
    "Last name",
    "E-mail",
    "Country",
    "Choose your country",
    "Postal code",
    "Mobile phone",
    "Why are you signing",
    "(optional)",
    "Don't show my name",
    " of ",
    "powered by",
    "terms of service",
    "privacy policy",
    "There is a problem",
    "Thank you",
    "Ask others to sign",
    "Link to this page",
    "Share",
]
SIGNER = {"first_name": "Ada", "last_name": "Lovelace", "city": "Paris", "postal_code": "75001", "email": None}


@pytest.fixture
def in_language(browser: Browser, live_server) -> Iterator:
    """Open a page in a fresh browser context whose language is ``locale``."""
    contexts: list[BrowserContext] = []

    def make(locale: str, viewport: dict | None = None) -> Page:
        context = browser.new_context(locale=locale, viewport=viewport or WIDE, base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def fill(page: Page, email: str) -> None:
    for name, value in {**SIGNER, "email": email}.items():
        page.locator(f"input[name={name}]").fill(value)
    page.locator("select[name=country_code]").select_option("FR")


def english_left(page: Page, petition: Petition) -> list[str]:
    text = widget(page, petition).inner_text()
    labels = widget(page, petition).evaluate(
        "el => [...el.querySelectorAll('[aria-label],[title],[placeholder],[aria-valuetext]')]"
        ".map(e => [e.ariaLabel, e.title, e.placeholder, e.getAttribute('aria-valuetext')].join(' ')).join(' ')"
    )
    return [english for english in ENGLISH if english in text or english in labels]


def test_in_french_the_widget_speaks_french_errors_included(in_language, post, petition, screenshots):
    page = in_language("fr-FR")
    page.goto(post.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(widget(page, petition)).to_have_attribute("lang", "fr")
    button = page.get_by_role("button", name="Signer cette pétition")
    expect(button).to_be_visible()
    for label in ["Prénom", "Nom", "Adresse e-mail", "Pays", "Ville", "Code postal"]:
        name = re.compile(f"^{label}( \\(facultatif\\))?$")
        field = page.get_by_role("textbox", name=name).or_(page.get_by_role("combobox", name=name))
        expect(field).to_be_visible()
    expect(widget(page, petition).locator(".pw-required-note")).to_have_text(
        "Les champs marqués d’un * sont obligatoires."
    )
    expect(count(page, petition)).to_contain_text("signatures sur")
    assert english_left(page, petition) == []
    accessible(page, "form-fr", screenshots)

    fill(page, "ada@example")
    page.locator("input[name=first_name]").fill("")
    button.click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Il y a un problème")
    assert focused(page) == f"petition-{petition.slug}-errors"
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text("Ce champ est obligatoire.")
    expect(links.nth(1)).to_contain_text("adresse e-mail valide")
    assert english_left(page, petition) == []
    accessible(page, "errors-fr")

    page.locator("input[name=first_name]").fill("Ada")
    page.locator("input[name=email]").fill("ada@example.fr")
    page.get_by_role("button", name="Signer cette pétition").click()
    expect(page.get_by_role("heading", name="Merci d’avoir signé !")).to_be_focused()
    expect(page.get_by_role("button", name="Copier le lien")).to_be_visible()
    names = widget(page, petition).locator(".pw-share-links a").all_inner_texts()
    assert names[:2] == ["Partager par e-mail", "Partager sur WhatsApp"]
    assert english_left(page, petition) == []


def mirrored(page: Page, petition: Petition) -> None:
    """The widget is laid out right to left: text starts on the right, labels sit at the fields' right edge."""
    section = widget(page, petition)
    assert section.evaluate("el => getComputedStyle(el).direction") == "rtl"
    field = page.locator("input[name=first_name]").bounding_box()
    label = page.locator(f"label[for='{page.locator('input[name=first_name]').get_attribute('id')}']")
    # Where the label's words are drawn (the label itself may span the whole width).
    text = label.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el); const b = r.getBoundingClientRect();"
        " return {left: b.left, right: b.right}; }"
    )
    assert abs(text["right"] - (field["x"] + field["width"])) <= 2, (text, field)  # at the right edge
    assert text["left"] > field["x"] + field["width"] / 2, (text, field)  # far from the left one


def test_in_arabic_the_page_and_widget_are_right_to_left_and_mirrored(in_language, post, petition, screenshots):
    page = in_language("ar")
    page.goto(post.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(widget(page, petition)).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("button", name="وقّع هذه العريضة")).to_be_visible()
    assert english_left(page, petition) == []
    mirrored(page, petition)
    accessible(page, "form-ar", screenshots)

    # The errors: the summary in Arabic, and each invalid field's bar on its right (the inline start).
    fill(page, "ada@example")
    page.get_by_role("button", name="وقّع هذه العريضة").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("توجد مشكلة")
    assert focused(page) == f"petition-{petition.slug}-errors"
    bar = page.locator(".pw-field-email").evaluate(
        "el => { const s = getComputedStyle(el); return [s.borderRightWidth, s.borderLeftWidth]; }"
    )
    assert bar[0] == "5px" and bar[1] != "5px", bar
    assert english_left(page, petition) == []
    mirrored(page, petition)
    accessible(page, "errors-ar", screenshots)

    # The thank-you state, in Arabic.
    page.locator("input[name=email]").fill("ada@example.org")
    page.get_by_role("button", name="وقّع هذه العريضة").click()
    thanks = page.get_by_role("heading", name="شكرًا لتوقيعك!")
    expect(thanks).to_be_focused()
    expect(widget(page, petition).get_by_role("status")).to_contain_text("سُجّل توقيعك")
    expect(page.get_by_role("button", name="نسخ الرابط")).to_be_visible()
    assert english_left(page, petition) == []
    accessible(page, "thanks-ar", screenshots)
    assert Signature.objects.get().email_normalized == "ada@example.org"


def test_in_arabic_on_a_phone_nothing_overflows(in_language, post, petition):
    page = in_language("ar", viewport={"width": 390, "height": 844})
    page.goto(post.get_absolute_url())
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    mirrored(page, petition)
