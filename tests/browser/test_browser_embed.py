"""The embedded form in a real browser, on a plain HTML page of another site.

The partner's page is served from ``localhost`` and the app from ``127.0.0.1``: two sites to the browser,
so the frame is third-party (another port alone would be the same site, whose cookies the browser sends).
Rows are prepared before the browser starts and read after it has closed (see tests/browser/test_browser.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from axe_playwright_python.base import AxeResults
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import Frame, FrameLocator, Page, expect, sync_playwright

from petition_widget.models import ForwardingState, Signature
from tests.browser.test_browser import CHROMIUM_ARGS, chromium_executable
from tests.forwarding_support import CHANGEORG_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium's switch that blocks third-party cookies, as Safari and Firefox do by default (Chromium of this
# generation blocks unpartitioned ones already; the switch keeps the test's condition whatever the default).
BLOCK_THIRD_PARTY_COOKIES = "--test-third-party-cookie-phaseout"
FRAME = "iframe.petition-widget-frame"
DEFAULT_FRAME_HEIGHT = "40rem"  # embed.js's height until the frame reports its own
SIGNER = {"First name": "Ada", "Last name": "Lovelace", "City": "London", "Postal code": "SW1A 1AA"}


@dataclass
class PartnerSite:
    """A plain static site on ``localhost``: ``pages[path] = html``."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def partner_site() -> Iterator[PartnerSite]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PartnerSite(f"http://localhost:{server.server_port}", pages)
    finally:
        server.shutdown()
        server.server_close()


def app_url(live_server) -> str:
    """The live server under its address rather than ``localhost``: another site than the partner's."""
    return live_server.url.replace("://localhost:", "://127.0.0.1:")


def partner_page(app: str, slug: str, title: str = "Partner blog") -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1><p><a href="#before" id="before">A link before the form</a></p>
<script src="{app}/static/petition_widget/embed.js" data-petition="{slug}" data-title="Sign the petition"
 async></script>
<p><a href="#after" id="after">A link after the form</a></p></main></body></html>"""


@contextmanager
def browser_page(*extra_args: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            context = browser.new_context()
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


def embed_frame(page: Page) -> Frame:
    page.wait_for_selector(FRAME)
    handle = page.locator(FRAME).element_handle()
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    return frame


def frame_height(page: Page) -> str:
    return page.locator(FRAME).evaluate("f => f.style.height")


def wait_for_height_change(page: Page, before: str) -> str:
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).style.height !== before", arg=[FRAME, before]
    )
    return frame_height(page)


def assert_fits(page: Page) -> None:
    """The frame is exactly as tall as the page inside it: no scroll bar, no empty band."""
    frame = page.locator(FRAME).element_handle().content_frame()
    content = frame.evaluate("() => Math.ceil(document.documentElement.getBoundingClientRect().height)")
    assert frame_height(page) == f"{content}px"
    assert frame.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight")


def fill_signer(form: FrameLocator, email: str) -> None:
    for label, value in SIGNER.items():
        form.get_by_role("textbox", name=label, exact=True).fill(value)
    form.get_by_role("textbox", name="E-mail", exact=True).fill(email)
    form.get_by_role("combobox", name="Country", exact=True).select_option(label="United Kingdom")


def sign_through_the_frame(page: Page, partner: PartnerSite, title: str, *, min_seconds: int = 0) -> None:
    """Open the partner's page, sign with a bad address, correct it; the frame follows each state's height.

    ``min_seconds``: the form token's minimum age (``SIGN_MIN_SECONDS``), waited out before the first submit.
    """
    page.goto(f"{partner.origin}/post.html")
    frame = page.frame_locator(FRAME)
    expect(frame.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator(FRAME)).to_have_attribute("title", "Sign the petition")
    form_height = wait_for_height_change(page, DEFAULT_FRAME_HEIGHT)
    assert_fits(page)

    fill_signer(frame, "someone@example")
    if min_seconds:
        # The token keeps whole seconds: one more than the minimum is always enough.
        page.wait_for_timeout((min_seconds + 1) * 1000)
    frame.get_by_role("button", name="Sign this petition").click()
    expect(frame.get_by_role("alert")).to_contain_text("There is a problem")
    error_height = wait_for_height_change(page, form_height)
    assert int(error_height[:-2]) > int(form_height[:-2])
    assert_fits(page)

    frame.get_by_role("textbox", name="E-mail", exact=True).fill("ada@example.org")
    frame.get_by_role("button", name="Sign this petition").click()
    expect(frame.get_by_role("status")).to_contain_text("Thank you for signing!")
    thanks_height = wait_for_height_change(page, error_height)
    assert int(thanks_height[:-2]) < int(error_height[:-2])
    assert_fits(page)
    expect(frame.locator("form")).to_have_count(0)
    assert page.url == f"{partner.origin}/post.html", "the host page stays where it was"


def assert_forwarded(upstream, petition) -> None:
    signature = Signature.objects.get()
    assert (signature.petition_id, signature.email_normalized) == (petition.pk, "ada@example.org")
    call_command("forward_signatures", "--once", "--worker-id", "embed-test", verbosity=0)
    signature.refresh_from_db()
    assert signature.state == ForwardingState.SENT
    assert [r["fields"]["email"] for r in upstream.received(CHANGEORG_ID)] == ["ada@example.org"]


def third_party_cookie_probe(frame: Frame) -> str:
    """What ``document.cookie`` holds inside the frame after it tried to set a cookie fit for a third party."""
    return frame.evaluate(
        "() => { document.cookie = 'pw_probe=1; SameSite=None; Secure; Path=/'; return document.cookie }"
    )


def test_a_partner_page_embeds_the_form_which_resizes_and_signs(live_server, upstream, changeorg, partner_site):
    changeorg.embed_origins = partner_site.origin
    changeorg.save()
    partner_site.pages["/post.html"] = partner_page(app_url(live_server), changeorg.slug)

    with browser_page() as page:
        page.goto(f"{partner_site.origin}/post.html")
        embed_frame(page)
        # Keyboard users move into the frame and out of it as through the page.
        page.locator("#before").focus()
        page.keyboard.press("Tab")
        frame = embed_frame(page)
        assert frame.evaluate("() => document.activeElement.name") == "first_name"

        sign_through_the_frame(page, partner_site, changeorg.title)
        assert page.context.cookies(app_url(live_server)) == [], "the embed sets no cookie"

    assert_forwarded(upstream, changeorg)


def test_signing_works_with_third_party_cookies_blocked(
    live_server, upstream, changeorg, partner_site, settings, fresh_cache
):
    # The form token on, single use and all: it is what stands in for the CSRF cookie the frame cannot keep.
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "SIGN_MIN_SECONDS": 1, "RATE_LIMIT_CACHE": fresh_cache}
    changeorg.embed_origins = partner_site.origin
    changeorg.save()
    partner_site.pages["/post.html"] = partner_page(app_url(live_server), changeorg.slug)

    with browser_page(BLOCK_THIRD_PARTY_COOKIES) as page:
        page.goto(f"{partner_site.origin}/post.html")
        frame = embed_frame(page)
        assert third_party_cookie_probe(frame) == "", "third-party cookies are blocked in this browser"
        # The same cookie on the app's own site, a first party there: the probe itself works.
        page.goto(f"{app_url(live_server)}/petitions/{changeorg.slug}/")
        assert "pw_probe=1" in third_party_cookie_probe(page.main_frame)
        page.context.clear_cookies()

        sign_through_the_frame(page, partner_site, changeorg.title, min_seconds=1)

    assert_forwarded(upstream, changeorg)


def test_a_site_not_on_the_list_cannot_frame_the_form_nor_post_to_it(live_server, changeorg, partner_site):
    changeorg.embed_origins = "https://partner.example"
    changeorg.save()
    app = app_url(live_server)
    partner_site.pages["/post.html"] = partner_page(app, changeorg.slug)
    fields = "".join(
        f'<input name="{name}" value="{value}">'
        for name, value in {
            "first_name": "Mallory",
            "last_name": "M",
            "email": "mallory@example.org",
            "city": "X",
            "postal_code": "1",
            "country_code": "GB",
        }.items()
    )
    partner_site.pages["/forged.html"] = (
        f'<!DOCTYPE html><html lang="en"><title>f</title><form method="post" '
        f'action="{app}/petitions/{changeorg.slug}/embed/">{fields}<button>Go</button></form></html>'
    )

    with browser_page() as page:
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text))
        page.goto(f"{partner_site.origin}/post.html")
        page.wait_for_selector(FRAME)
        page.wait_for_function("() => window.frames.length === 1")
        frame = page.locator(FRAME).element_handle().content_frame()
        frame.wait_for_load_state()
        # The browser refused to render the page in the frame: nothing of the form is inside it.
        assert "/embed/" not in frame.url or frame.evaluate("() => document.body.innerText") == ""
        assert frame.locator("form").count() == 0
        assert any("frame-ancestors" in text for text in refused), refused
        assert frame_height(page) == DEFAULT_FRAME_HEIGHT, "nothing told the page a height"

        page.goto(f"{partner_site.origin}/forged.html")
        with page.expect_navigation():
            page.get_by_role("button", name="Go").click()
        expect(page.locator("body")).to_contain_text("This form can only be sent from the petition's own page")

    assert not Signature.objects.exists()


AXE_ALL_ORIGINS = "() => axe.configure({ allowedOrigins: ['<unsafe_all_origins>'] })"


def assert_no_violations(page: Page, frame: Frame) -> None:
    """axe-core over the partner's page and, through it, the frame: a frame is checked as part of a page (whose
    level-one heading it may leave to it). axe runs in both and may talk across their two origins."""
    axe = Axe()
    for target in (frame, page):
        target.evaluate(axe.axe_script)
        target.evaluate(AXE_ALL_ORIGINS)
    response = page.evaluate("async () => await axe.run(document, { iframes: true })")
    results = AxeResults(response)
    assert results.violations_count == 0, results.generate_report()
    # A node inside a frame is targeted by the frame's selector and then its own.
    targets = [node["target"] for rule in response["passes"] for node in rule["nodes"]]
    assert any(len(target) > 1 for target in targets), "axe did not look inside the frame"


def test_the_embedded_form_has_no_accessibility_violations(live_server, changeorg, partner_site):
    changeorg.embed_origins = partner_site.origin
    changeorg.save()
    partner_site.pages["/post.html"] = partner_page(app_url(live_server), changeorg.slug)

    with browser_page() as page:
        page.goto(f"{partner_site.origin}/post.html")
        frame = embed_frame(page)
        expect(page.frame_locator(FRAME).get_by_role("button", name="Sign this petition")).to_be_visible()
        assert_no_violations(page, frame)

        form = page.frame_locator(FRAME)
        fill_signer(form, "someone@example")
        form.get_by_role("button", name="Sign this petition").click()
        expect(form.get_by_role("alert")).to_be_visible()
        assert_no_violations(page, embed_frame(page))
