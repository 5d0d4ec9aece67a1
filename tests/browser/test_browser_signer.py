"""The signer's journey in headless Chromium, through the example blog's post, with an accessibility gate.

Every state a signer meets (the form, field errors, each refusal, the duplicate, the thank-you state with
its share controls, a closed petition, the confirmation page) is checked with axe-core (bundled with
``axe-playwright-python``, nothing from a CDN) at 1280 and 390 px: zero violations.

One browser for the module, a fresh context (cookies, storage) per test. Playwright's sync API keeps an
event loop running in this thread while it is open, so the ORM is told that this thread is safe
(``DJANGO_ALLOW_ASYNC_UNSAFE``): the tests run one at a time and the live server has its own thread.

Screenshots of each state go to a temporary directory, or to ``docs/screenshots/`` with
``PETITION_WIDGET_SCREENSHOTS=1`` (``python docs/make_screenshots.py`` does that).
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from example_project.blog.models import Post
from petition_widget.forwarding.worker import Worker, WorkerOptions
from petition_widget.models import ForwardingState, Petition, Signature
from tests.browser.test_browser import CHROMIUM_ARGS, chromium_executable
from tests.forwarding_support import CHANGEORG_ID, SITE_URL

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
WIDE, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
SIGNER = {"first_name": "Ada", "last_name": "Lovelace", "city": "London", "postal_code": "SW1A 1AA"}
LABELS = {"first_name": "First name", "last_name": "Last name", "city": "City", "postal_code": "Postal code"}
AXE = Axe()


# --- the browser, one per module; a context per test -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser, live_server):
    """Make a browser context (a separate browser, as far as the site can tell); all closed after the test."""
    contexts: list[BrowserContext] = []

    def make(*, javascript: bool = True, viewport: dict | None = None) -> Page:
        context = browser.new_context(viewport=viewport or WIDE, base_url=live_server.url)
        context.set_default_timeout(10_000)
        if not javascript:
            # The widget without its script: the plain HTML form's path. (JavaScript itself stays on for
            # axe-core; tests/browser/test_browser.py signs with JavaScript turned off.)
            context.route("**/widget.js", lambda route: route.abort())
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context) -> Page:
    return new_context()


@pytest.fixture
def post(transactional_db, petition):
    return Post.objects.create(
        title="Bees need our help",
        slug="bees-need-our-help",
        body="Our city lost half its hives.\n\nSign below.",
        petition=petition,
    )


@pytest.fixture
def screenshots(tmp_path) -> Path:
    if os.environ.get("PETITION_WIDGET_SCREENSHOTS"):
        folder = REPO / "docs" / "screenshots"
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path


# --- helpers -------------------------------------------------------------------------------------------------------


def accessible(page: Page, what: str, screenshots: Path | None = None) -> None:
    """Zero axe-core violations at 1280 and at 390 px (the page keeps the viewport it had)."""
    viewport = page.viewport_size
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        results = AXE.run(page)
        assert results.violations_count == 0, f"{what} at {size['width']} px:\n{results.generate_report()}"
        if screenshots is not None:
            widget = page.locator(".pw-petition").first
            widget.screenshot(path=str(screenshots / f"{what}-{size['width']}.png"), animations="disabled")
    page.set_viewport_size(viewport)


def widget(page: Page, petition: Petition):
    return page.locator(f"#petition-{petition.slug}")


def fill(page: Page, email: str) -> None:
    for name, label in LABELS.items():
        page.get_by_role("textbox", name=label, exact=True).fill(SIGNER[name])
    page.get_by_role("textbox", name="E-mail", exact=True).fill(email)
    page.get_by_role("combobox", name="Country", exact=True).select_option(label="United Kingdom")


def sign(page: Page, email: str) -> None:
    fill(page, email)
    page.get_by_role("button", name="Sign this petition").click()


def focused(page: Page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def count(page: Page, petition: Petition):
    return page.locator(f"#petition-{petition.slug}-count")


# --- signing with JavaScript: in place ------------------------------------------------------------------------------


def test_with_javascript_the_form_signs_in_place_and_thanks_with_share_controls(page, post, petition, screenshots):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(post.get_absolute_url())
    url = page.url
    expect(count(page, petition)).to_have_text("250 of 1,000 signatures")
    accessible(page, "form", screenshots)

    sign(page, "ada@example.com")

    thanks = widget(page, petition).get_by_role("heading", name="Thank you for signing!")
    expect(thanks).to_be_visible()
    assert page.url == url  # no navigation
    expect(page.get_by_role("heading", level=1)).to_have_text(post.title)
    assert focused(page) == f"petition-{petition.slug}-thanks"
    expect(count(page, petition)).to_have_text("251 of 1,000 signatures")
    expect(widget(page, petition).locator("form")).to_have_count(0)

    # Share: the copy button (with JS), the link in a readonly input, plain links, no third-party script.
    share_url = page.get_by_role("textbox", name="Link to this page")
    expect(share_url).to_have_value(url)
    expect(share_url).to_have_attribute("readonly", "")
    page.get_by_role("button", name="Copy link").click()
    expect(widget(page, petition).locator(".pw-copy-status")).to_have_text("Link copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    native = page.locator("[data-pw-native-share]")
    assert native.is_hidden() == page.evaluate("() => typeof navigator.share !== 'function'")
    names = widget(page, petition).locator(".pw-share-links a").all_inner_texts()
    assert names == [
        "Share by e-mail",
        "Share on WhatsApp",
        "Share on Facebook",
        "Share on X",
        "Share on Bluesky",
        "Share on Mastodon",
    ]
    scripts = page.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert scripts and all(src.startswith(page.url.split("/posts/")[0]) for src in scripts)
    accessible(page, "thanks", screenshots)

    Signature.objects.get(email_normalized="ada@example.com")


def test_with_javascript_errors_appear_in_place_in_a_focused_summary_linking_each_field(
    page, post, petition, screenshots
):
    page.goto(post.get_absolute_url())
    title = page.title()
    fill(page, "someone@example")
    page.get_by_role("textbox", name="First name", exact=True).fill("")
    page.get_by_role("button", name="Sign this petition").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    assert focused(page) == f"petition-{petition.slug}-errors"
    assert page.title() == title  # the host page's title is the host's
    links = summary.get_by_role("link")
    expect(links).to_have_text(["This field is required.", "Enter a valid email address."])

    links.nth(1).click()
    assert focused(page) == f"pw-{petition.slug}-email"

    # Invalid fields are marked by more than colour: a thicker border, a bar, the message with an icon.
    style = "el => { const s = getComputedStyle(el); return [s.borderTopWidth, s.borderTopColor]; }"
    email = page.get_by_role("textbox", name="E-mail", exact=True)
    city = page.get_by_role("textbox", name="City", exact=True)
    assert email.evaluate(style) == ["3px", "rgb(176, 0, 32)"]
    assert city.evaluate(style)[0] == "1px"
    bar = page.locator(".pw-field-email").evaluate("el => getComputedStyle(el).borderInlineStartWidth")
    assert bar == "5px"
    expect(email).to_have_accessible_description("Enter a valid email address.")
    expect(city).to_have_value("London")
    accessible(page, "errors", screenshots)


def test_the_required_hint_comes_first_and_checkboxes_are_large_targets(page, post, petition):
    page.goto(post.get_absolute_url())
    form = widget(page, petition).locator("form")
    hint = form.locator(".pw-required-note").bounding_box()
    first = page.get_by_role("textbox", name="First name", exact=True).bounding_box()
    assert hint["y"] + hint["height"] <= first["y"]
    boxes = form.locator("input[type=checkbox]")
    assert boxes.count() >= 1
    for n in range(boxes.count()):
        box = boxes.nth(n).bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24
        label = page.locator(f"label[for='{boxes.nth(n).get_attribute('id')}']").inner_text()
        assert not label.rstrip().endswith(":")
    # The Change.org notice links are https.
    for href in widget(page, petition).locator(".pw-notice a").evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith("https://")


def test_each_refusal_appears_in_place(new_context, settings, post, petition, screenshots):
    base = settings.PETITION_WIDGET

    # Too fast.
    settings.PETITION_WIDGET = {**base, "SIGN_MIN_SECONDS": 600}
    page = new_context()
    page.goto(post.get_absolute_url())
    sign(page, "quick@example.com")
    expect(page.get_by_role("alert")).to_contain_text("That was quick")
    assert focused(page) == f"petition-{petition.slug}-errors"
    expect(page.get_by_role("textbox", name="City", exact=True)).to_have_value("London")
    accessible(page, "refusal-too-fast", screenshots)

    # The honeypot.
    settings.PETITION_WIDGET = base
    page = new_context()
    page.goto(post.get_absolute_url())
    fill(page, "bot@example.com")
    page.locator("input[name=website]").evaluate("el => { el.value = 'http://spam.example'; }")
    page.get_by_role("button", name="Sign this petition").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    accessible(page, "refusal-honeypot")

    # The limit per address: the second signature of this browser's address in the hour.
    settings.PETITION_WIDGET = {**base, "SIGN_LIMIT_PER_IP": 1}
    page = new_context()
    page.goto(post.get_absolute_url())
    sign(page, "first@example.com")
    expect(page.get_by_role("heading", name="Thank you for signing!")).to_be_visible()
    page = new_context()
    page.goto(post.get_absolute_url())
    sign(page, "second@example.com")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    accessible(page, "refusal-rate-limit", screenshots)

    # A petition closed meanwhile.
    settings.PETITION_WIDGET = base
    page = new_context()
    page.goto(post.get_absolute_url())
    Petition.objects.filter(pk=petition.pk).update(accepts_signatures=False)
    sign(page, "late@example.com")
    expect(widget(page, petition).get_by_role("status")).to_have_text(
        "This petition is closed and no longer accepts signatures."
    )
    accessible(page, "closed", screenshots)

    assert list(Signature.objects.values_list("email_normalized", flat=True)) == ["first@example.com"]


def test_the_duplicate_is_told_in_place(new_context, post, petition, screenshots):
    first = new_context()
    first.goto(post.get_absolute_url())
    sign(first, "ada@example.com")
    expect(first.get_by_role("heading", name="Thank you for signing!")).to_be_visible()

    again = new_context()
    again.goto(post.get_absolute_url())
    sign(again, "ADA@example.com")
    summary = again.get_by_role("alert")
    expect(summary.get_by_role("link")).to_have_text(
        "This e-mail address has already signed this petition. Thank you for your support!"
    )
    accessible(again, "duplicate", screenshots)
    assert Signature.objects.count() == 1


# --- without JavaScript ------------------------------------------------------------------------------------------


def test_without_javascript_the_thank_you_url_thanks_only_the_signer(new_context, post, petition):
    signer = new_context(javascript=False)
    signer.goto(post.get_absolute_url())
    sign(signer, "ada@example.com")
    thanks_url = f"{post.get_absolute_url()}?petition_signed={petition.slug}#petition-{petition.slug}"
    expect(signer).to_have_url(re.compile(re.escape(thanks_url) + "$"))
    expect(signer.get_by_role("heading", name="Thank you for signing!")).to_be_visible()
    expect(signer.get_by_role("textbox", name="Link to this page")).to_be_visible()
    expect(signer.get_by_role("button", name="Copy link")).to_be_hidden()  # needs widget.js
    accessible(signer, "thanks-without-javascript")

    # Someone the link was shared with sees the form, and the count one higher.
    other = new_context()
    other.goto(thanks_url)
    expect(other.get_by_role("heading", name="Thank you for signing!")).to_have_count(0)
    expect(other.get_by_role("button", name="Sign this petition")).to_be_visible()
    expect(count(other, petition)).to_have_text("251 of 1,000 signatures")


def test_without_javascript_a_refusal_shows_the_host_pages_title_and_a_link_back(new_context, post, petition):
    page = new_context(javascript=False)
    page.goto(post.get_absolute_url())
    fill(page, "someone@example")
    page.get_by_role("button", name="Sign this petition").click()

    expect(page).to_have_title(re.compile(r"^Error: Save the bees"))
    expect(page.get_by_role("heading", level=1)).to_have_text(petition.title)
    back = page.get_by_role("link", name=f"Back to “{post.title}”")
    expect(back).to_have_attribute("href", post.get_absolute_url())
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text("Enter a valid email address.")
    accessible(page, "refusal-stand-alone")

    page.get_by_role("textbox", name="E-mail", exact=True).fill("ada@example.org")
    page.get_by_role("button", name="Sign this petition").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(post.title)  # back on the blog post
    expect(page.get_by_role("heading", name="Thank you for signing!")).to_be_visible()


# --- keyboard only, a phone ----------------------------------------------------------------------------------------


def test_keyboard_only(page, post, petition):
    page.goto(post.get_absolute_url())
    values = {**SIGNER, "email": "keys@example.com"}
    for _ in range(40):
        page.keyboard.press("Tab")
        name = page.evaluate("() => document.activeElement.name || ''")
        if name in values:
            page.keyboard.type(values[name])
        elif name == "country_code":
            page.keyboard.type("United Kingdom")
        elif page.evaluate("() => document.activeElement.classList.contains('pw-submit')"):
            break
    else:
        pytest.fail("the submit button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you for signing!")).to_be_focused()

    # On from the thank-you heading: the copy button, then the share links.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Copy link"
    page.keyboard.press("Enter")
    expect(widget(page, petition).locator(".pw-copy-status")).not_to_be_empty()
    signature = Signature.objects.get()
    assert (signature.email_normalized, signature.country_code) == ("keys@example.com", "GB")


def test_a_phone_sized_viewport(new_context, post, petition, screenshots):
    page = new_context(viewport=PHONE)
    page.goto(post.get_absolute_url())
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    button = page.get_by_role("button", name="Sign this petition").bounding_box()
    assert button["height"] >= 24 and button["x"] + button["width"] <= PHONE["width"]
    sign(page, "phone@example.com")
    expect(page.get_by_role("heading", name="Thank you for signing!")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    for link in page.locator(".pw-share-links a").all():
        box = link.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24


# --- the petition's details -----------------------------------------------------------------------------------------


def test_overview_target_and_end_date(page, post, petition, screenshots):
    from datetime import UTC, datetime

    Petition.objects.filter(pk=petition.pk).update(
        overview="<p>Our city lost half its hives in two winters. " + "Bees pollinate our parks and gardens. " * 12,
        targets=[{"name": "Springfield City Council"}],
        end_at=datetime(2030, 12, 31, 12, tzinfo=UTC),
    )
    page.goto(post.get_absolute_url())
    box = widget(page, petition)
    expect(box.locator(".pw-target")).to_have_text("To: Springfield City Council")
    expect(box.locator(".pw-end-date")).to_have_text("Closes on Dec. 31, 2030")
    more = box.locator("details")
    expect(more.locator("p").first).to_be_hidden()
    box.get_by_text("Read the whole petition").click()
    expect(more.locator("p").first).to_be_visible()
    expect(box.locator(".pw-overview-excerpt")).to_be_hidden()
    accessible(page, "overview-open", screenshots)


# --- confirmation, from the e-mail to the upstream -----------------------------------------------------------------


def test_the_confirmation_journey_from_the_email_to_the_upstream(
    new_context, live_server, settings, emulator, changeorg
):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "SITE_URL": live_server.url}
    Petition.objects.filter(pk=changeorg.pk).update(require_confirmation=True)
    post = Post.objects.create(title="Plant trees", slug="plant-trees", body="Sign.", petition=changeorg)
    before = changeorg.signature_count
    page = new_context()
    page.goto(post.get_absolute_url())
    sign(page, "ada@example.com")
    expect(page.get_by_role("status")).to_contain_text("One more step: we sent you an e-mail.")

    (message,) = mail.outbox
    link = re.search(re.escape(live_server.url) + r"/petitions/confirm/\S+/", message.body).group(0)
    assert SITE_URL not in link
    page = new_context()
    response = page.goto(link)
    assert response.headers["referrer-policy"] == "same-origin"
    expect(page).to_have_title(re.compile("Confirm your signature"))
    accessible(page, "confirm")
    page.get_by_role("button", name="Confirm my signature").click()
    expect(page.get_by_role("status")).to_contain_text("Your signature is confirmed. Thank you!")
    accessible(page, "confirmed")

    visitor = new_context()
    visitor.goto(post.get_absolute_url())
    expect(count(visitor, changeorg)).to_contain_text(f"{before + 1:,}")

    stats = Worker(WorkerOptions(worker_id="journey", concurrency=1, once=True, lease_seconds=30.0)).run()
    assert stats["sent"] == 1
    assert Signature.objects.get().state == ForwardingState.SENT
    assert [row["fields"]["email"] for row in emulator.received(CHANGEORG_ID)] == ["ada@example.com"]
