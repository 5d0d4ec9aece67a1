"""The signing form in a real browser without JavaScript (the plain HTML path): headless Chromium on a blog post
served by the live server. tests/browser/test_browser_signer.py drives the in-place path, with JavaScript.

Playwright's sync API keeps an asyncio event loop running in the test thread while it is open, and
Django refuses ORM calls under a running loop. So every test prepares its rows before the browser
starts and reads the database only after the browser has closed.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from example_project.blog.models import Post
from petition_widget.models import Signature

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TERMS_URL = "https://www.change.org/about/terms-of-service"
PRIVACY_URL = "https://www.change.org/about/privacy"
NOTICE_TEXT = (
    "This petition is powered by Change.org. By signing, you accept Change.org's terms of service and privacy policy."
)
SIGNER = {
    "First name": "Ada",
    "Last name": "Lovelace",
    "City": "London",
    "Postal code": "SW1A 1AA",
}
COUNTRY_LABEL, COUNTRY_CODE = "United Kingdom", "GB"
BAD_EMAIL = "someone@example"
BAD_EMAIL_ERROR = "Enter a valid email address."


def chromium_executable() -> str | None:
    """The Chromium to drive: $PETITION_WIDGET_CHROMIUM, else the system's, else Playwright's own."""
    configured = os.environ.get("PETITION_WIDGET_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"PETITION_WIDGET_CHROMIUM={configured!r} does not exist")
        return configured
    # Without the system browser, `dev.py test` has installed Playwright's, which launch() finds itself.
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@contextmanager
def browser_page(*, javascript: bool = True) -> Iterator[Page]:
    """A page in a fresh headless Chromium with a temporary profile, closed on exit."""
    with sync_playwright() as playwright:
        # PETITION_WIDGET_SLOW_MO (ms before each action) signs at a person's pace, for a run with the abuse
        # checks on (SIGN_MIN_SECONDS); the suite runs without either.
        slow_mo = float(os.environ.get("PETITION_WIDGET_SLOW_MO") or 0)
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, slow_mo=slow_mo)
        try:
            context = browser.new_context(java_script_enabled=javascript)
            # Fail within seconds on loopback instead of Playwright's 30 s default.
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def post(transactional_db, petition):
    return Post.objects.create(
        title="Bees need our help",
        slug="bees-need-our-help",
        body="Our city lost half its hives.\n\nSign below.",
        petition=petition,
    )


def textbox(page: Page, name: str) -> Locator:
    """A text input by its accessible name, which leaves out the aria-hidden "required" star."""
    return page.get_by_role("textbox", name=name, exact=True)


def country(page: Page) -> Locator:
    return page.get_by_role("combobox", name="Country", exact=True)


def fill_signer(page: Page, email: str) -> None:
    """Type every required field of the Change.org form, choosing the country by its visible name."""
    for label, value in SIGNER.items():
        textbox(page, label).fill(value)
    textbox(page, "E-mail").fill(email)
    country(page).select_option(label=COUNTRY_LABEL)


def test_sign_from_a_blog_post(live_server, post, petition):
    post_url = live_server.url + post.get_absolute_url()
    thanks_url = f"{post_url}?petition_signed={petition.slug}#petition-{petition.slug}"

    with browser_page(javascript=False) as page:
        page.goto(post_url)
        widget = page.locator(f"#petition-{petition.slug}")
        form = widget.locator("form.pw-form")
        notice_id = f"petition-{petition.slug}-notice"
        notice = page.locator(f"#{notice_id}")
        expect(widget.get_by_role("heading", name=petition.title)).to_be_visible()

        expect(notice).to_be_visible()
        expect(notice).to_have_text(NOTICE_TEXT)
        expect(notice.get_by_role("link")).to_have_count(2)
        expect(notice.get_by_role("link", name="terms of service")).to_have_attribute("href", TERMS_URL)
        expect(notice.get_by_role("link", name="privacy policy")).to_have_attribute("href", PRIVACY_URL)
        expect(form).to_have_attribute("aria-describedby", notice_id)
        assert form.evaluate("f => f.nextElementSibling && f.nextElementSibling.id") == notice_id
        form_box, notice_box = form.bounding_box(), notice.bounding_box()
        assert notice_box["y"] >= form_box["y"] + form_box["height"], (form_box, notice_box)

        fill_signer(page, "  Ada.Lovelace@Example.COM ")
        widget.get_by_role("button", name="Sign this petition").click()

        expect(page).to_have_url(thanks_url)
        expect(page.get_by_role("heading", level=1)).to_have_text(post.title)
        expect(widget.get_by_role("status")).to_contain_text("Thank you for signing!")
        expect(widget.locator("form")).to_have_count(0)

    signature = Signature.objects.get()
    assert signature.petition_id == petition.pk
    assert (signature.first_name, signature.last_name) == ("Ada", "Lovelace")
    assert (signature.city, signature.postal_code, signature.country_code) == ("London", "SW1A 1AA", COUNTRY_CODE)
    assert signature.email == "Ada.Lovelace@example.com"  # the domain in its one (IDNA) form, the rest as typed
    assert signature.email_normalized == "ada.lovelace@example.com"


def submit_bad_email(page: Page, post_url: str) -> None:
    """Sign with an address the browser's type=email check accepts but the server refuses."""
    page.goto(post_url)
    fill_signer(page, BAD_EMAIL)
    assert textbox(page, "E-mail").evaluate("el => el.checkValidity()"), "the browser's own check lets it by"
    page.get_by_role("button", name="Sign this petition").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")


def test_server_refuses_an_email_the_browser_accepts(live_server, post, petition):
    post_url = live_server.url + post.get_absolute_url()

    with browser_page(javascript=False) as page:
        submit_bad_email(page, post_url)

        email = textbox(page, "E-mail")
        error = page.locator(".pw-field-email .errorlist")
        expect(email).to_have_attribute("aria-invalid", "true")
        expect(error).to_be_visible()
        expect(error).to_have_text(BAD_EMAIL_ERROR)
        expect(email).to_have_accessible_description(BAD_EMAIL_ERROR)
        expect(email).to_have_value(BAD_EMAIL)
        expect(page.locator(".pw-invalid")).to_have_count(1)
        for label, value in SIGNER.items():
            field = textbox(page, label)
            expect(field).to_have_value(value)
            expect(field).not_to_have_attribute("aria-invalid", "true")
        expect(country(page)).to_have_value(COUNTRY_CODE)
        expect(page.locator('input[type="hidden"][name="next"]')).to_have_value(post.get_absolute_url())
        expect(page.locator(f"#petition-{petition.slug}-notice")).to_be_visible()

    assert not Signature.objects.exists()


def test_corrected_email_returns_to_the_blog_post(live_server, post, petition):
    post_url = live_server.url + post.get_absolute_url()

    with browser_page(javascript=False) as page:
        submit_bad_email(page, post_url)
        textbox(page, "E-mail").fill("ada@example.org")
        page.get_by_role("button", name="Sign this petition").click()

        expect(page).to_have_url(f"{post_url}?petition_signed={petition.slug}#petition-{petition.slug}")
        expect(page.get_by_role("heading", level=1)).to_have_text(post.title)
        expect(page.get_by_role("status")).to_contain_text("Thank you for signing!")

    assert list(Signature.objects.values_list("petition_id", "email_normalized")) == [(petition.pk, "ada@example.org")]
