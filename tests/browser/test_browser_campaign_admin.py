"""The campaigners' admin in headless Chromium at a laptop's 1280 px: nothing wider than the window, the charts
with their tables, no axe-core violations, and "Not spam" and "Confirm on behalf" until the platform has the
signature.

Rows are prepared before the browser starts and read after it has closed (see tests/browser/test_browser.py); the real
forwarding worker runs in between, against the upstream emulator on loopback. With PETITION_WIDGET_SCREENSHOTS
set to a folder (docs/screenshots), test_pages_fit_1280_px_and_pass_axe also saves the screenshots the docs show.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from petition_widget import lifecycle
from petition_widget.models import ForwardAttempt, ForwardingState, Outcome, Petition, Signature, recount_signatures
from tests.browser.test_browser import browser_page
from tests.browser.test_browser_admin import PASSWORD, USERNAME, log_in, row_checkbox
from tests.factories import make_signatures
from tests.forwarding_support import CHANGEORG_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGNATURES = "/admin/petition_widget/signature/"
PETITIONS = "/admin/petition_widget/petition/"
TITLE = "Plant trees on Elm Street"
REASON = "Confirmation was turned off while these waited; the signers were checked at the stall."


def run_action(page: Page, label: str) -> None:
    """Choose an action and press the button next to the menu ("Go" before Django 6, "Run" since)."""
    page.get_by_role("combobox", name="Action").select_option(label=label)
    page.locator('.actions button[name="index"]').click()


def fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def axe_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]]


@pytest.fixture
def campaign(changeorg):
    """A Change.org petition with a month of signatures in every state, attempts in the last day, an admin."""
    User.objects.create_superuser(USERNAME, "admin@blog.example", PASSWORD)
    Petition.objects.filter(pk=changeorg.pk).update(title=TITLE, synced_at=timezone.now() - timedelta(minutes=20))
    now = timezone.now()
    rows = make_signatures(changeorg, 24, prefix="campaign")
    for n, signature in enumerate(rows):
        day = now - timedelta(days=n % 12, hours=n)
        state = [ForwardingState.SENT, ForwardingState.SENT, ForwardingState.FAILED, ForwardingState.PENDING][n % 4]
        Signature.objects.filter(pk=signature.pk).update(
            created_at=day,
            state=state,
            attempts=1 if state == ForwardingState.SENT else 10 if state == ForwardingState.FAILED else 0,
            forwarded_at=day + timedelta(minutes=5) if state == ForwardingState.SENT else None,
            finished_at=day + timedelta(minutes=5) if state != ForwardingState.PENDING else None,
            next_attempt_at=now + timedelta(days=1) if state == ForwardingState.PENDING else None,
            last_error="HTTP 500 upstream failure: There was a server error."
            if state == ForwardingState.FAILED
            else "",
        )
        outcome = Outcome.SENT if state == ForwardingState.SENT else Outcome.RETRY
        ForwardAttempt.objects.create(
            signature=signature, started_at=now - timedelta(hours=n), duration_ms=120, outcome=outcome, http_status=200
        )
    spam, waiting = make_signatures(changeorg, 2, prefix="review", first_name="Grace", last_name="Hopper")
    lifecycle.mark_spam(Signature.objects.filter(pk=spam.pk))
    Signature.objects.filter(pk=waiting.pk).update(state=ForwardingState.UNCONFIRMED, confirmation_sent_at=now)
    recount_signatures()
    return {"petition": changeorg, "signature": rows[2], "spam": spam, "waiting": waiting}


def test_pages_fit_1280_px_and_pass_axe(live_server, campaign):
    petition, signature = campaign["petition"], campaign["signature"]
    pages = {
        "signatures": SIGNATURES,
        "petitions": PETITIONS,
        "dashboard": SIGNATURES + "dashboard/",
        "signature": f"{SIGNATURES}{signature.pk}/change/",
        "petition": f"{PETITIONS}{petition.pk}/change/",
        "add-from-upstream": PETITIONS + "add-from-upstream/",
    }
    screenshots = os.environ.get("PETITION_WIDGET_SCREENSHOTS")
    overflowing, violations = [], {}
    with browser_page() as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, live_server.url)
        for name, path in pages.items():
            page.goto(live_server.url + path)
            if not fits(page):
                overflowing.append(name)
            found = axe_violations(page)
            if found:
                violations[name] = found
            if name in ("dashboard", "petition"):
                for chart in ("pw-chart-daily", "pw-chart-hourly"):
                    figure = page.locator(f"#{chart}")
                    expect(figure.get_by_role("img")).to_be_visible()
                    table = figure.locator("details table")
                    expect(table).to_be_hidden()
                    figure.locator("summary").click()
                    expect(table).to_be_visible()
                    expect(table.locator("tbody tr").first).to_be_visible()
                assert fits(page), f"{name} with its tables open"
                assert axe_violations(page) == [], f"{name} with its tables open"
                page.reload()
            if name == "signature":
                expect(page.get_by_role("heading", level=1)).to_have_text(f"Ada Lovelace on {TITLE}")
            if screenshots and name in ("dashboard", "petition", "signature"):
                page.screenshot(path=str(Path(screenshots) / f"admin-{name}.png"), full_page=True)
    assert overflowing == []
    assert violations == {}


def test_lists_are_readable_at_390_px(live_server, campaign):
    with browser_page() as page:
        page.set_viewport_size({"width": 390, "height": 844})
        log_in(page, live_server.url)
        for path in (SIGNATURES, PETITIONS):
            page.goto(live_server.url + path)
            first = page.locator("#result_list tbody tr").first
            expect(first).to_be_visible()
            # Django's responsive admin scrolls the table in its own box: the page itself does not widen.
            assert fits(page), path


def test_not_spam_and_confirm_on_behalf_until_the_platform_has_them(live_server, upstream, campaign):
    spam, waiting = campaign["spam"], campaign["waiting"]
    with browser_page() as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, live_server.url)

        page.goto(f"{live_server.url}{SIGNATURES}?state__exact=spam")
        row_checkbox(page, spam).check()
        run_action(page, "Not spam: back to where it was (forwarding resumes)")
        expect(page.locator(".messagelist")).to_contain_text("1 signature is no longer spam")
        expect(page.locator(".messagelist")).to_contain_text("is due now: a worker sends it at its next pass.")

        page.goto(f"{live_server.url}{SIGNATURES}?state__exact=unconfirmed")
        row_checkbox(page, waiting).check()
        run_action(page, "Confirm on the signer's behalf…")
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm on the signer's behalf?")
        assert fits(page) and axe_violations(page) == []
        page.get_by_role("button", name="Confirm on their behalf").click()  # no reason: the browser refuses
        assert page.get_by_label("Reason").evaluate("field => field.validity.valueMissing")
        page.get_by_label("Reason").fill(REASON)
        page.get_by_role("button", name="Confirm on their behalf").click()
        expect(page.locator(".messagelist")).to_contain_text("1 signature confirmed on the signer's behalf")

    assert Signature.objects.get(pk=spam.pk).state == ForwardingState.PENDING
    assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.PENDING

    call_command("forward_signatures", "--once", "--worker-id", "browser-test", verbosity=0)

    for signature in (spam, waiting):
        signature.refresh_from_db()
        assert signature.state == ForwardingState.SENT and signature.forwarded_at is not None
    received = {r["fields"]["email"] for r in upstream.received(CHANGEORG_ID)}
    assert received == {spam.email, waiting.email}
