"""The admin as a reviewer uses it, in headless Chromium: find a failed signature, retry it, see it sent.

Rows are prepared before the browser starts and read after it has closed (see tests/browser/test_browser.py); the
real forwarding worker runs in between, against the upstream emulator on loopback.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from petition_widget.models import ForwardingState, Signature
from tests.browser.test_browser import browser_page
from tests.factories import make_signatures
from tests.forwarding_support import CHANGEORG_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME, PASSWORD = "site-admin", "correct horse battery staple"
RETRY_ACTION = "Retry forwarding now (attempt count back to 0)"


def log_in(page: Page, base_url: str) -> None:
    """Log in through the admin's own form and land on the signatures list."""
    page.goto(f"{base_url}/admin/login/?next=/admin/petition_widget/signature/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Select signature to change")


def filter_by_state(page: Page, label: str) -> None:
    page.locator("#changelist-filter").get_by_role("link", name=label, exact=True).click()
    expect(page).to_have_url(f"{page.url.split('?')[0]}?state__exact={label.lower()}")


def run_action(page: Page) -> None:
    """Submit the changelist's action form: the button Django's admin names "index" ("Go" in 5.2, "Run" in 6.0)."""
    page.locator("#changelist-form .actions").locator('button[type="submit"][name="index"]').click()


def row_checkbox(page: Page, signature: Signature):
    return page.get_by_role("checkbox", name=f"Select this object for an action - {signature}", exact=True)


def test_retry_a_failed_signature_until_it_is_sent(live_server, upstream, changeorg):
    User.objects.create_superuser(USERNAME, "admin@blog.example", PASSWORD)
    failed, sent = make_signatures(changeorg, 2, prefix="review")
    Signature.objects.filter(pk=failed.pk).update(
        state=ForwardingState.FAILED,
        attempts=10,
        last_error="HTTP 500 upstream failure: There was a server error.",
        finished_at=timezone.now(),
    )
    Signature.objects.filter(pk=sent.pk).update(
        state=ForwardingState.SENT, attempts=1, forwarded_at=timezone.now(), finished_at=timezone.now()
    )

    with browser_page() as page:
        log_in(page, live_server.url)
        filter_by_state(page, "Failed")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        expect(row_checkbox(page, sent)).to_have_count(0)
        row_checkbox(page, failed).check()
        page.get_by_role("combobox", name="Action").select_option(label=RETRY_ACTION)
        run_action(page)

        expect(page.locator(".messagelist")).to_contain_text(
            "1 signature is due now and will be sent at a worker's next pass."
        )
        expect(row_checkbox(page, failed)).to_have_count(0)

    retried = Signature.objects.get(pk=failed.pk)
    assert (retried.state, retried.attempts, retried.finished_at) == (ForwardingState.PENDING, 0, None)

    call_command("forward_signatures", "--once", "--worker-id", "browser-test", verbosity=0)

    with browser_page() as page:
        log_in(page, live_server.url)
        filter_by_state(page, "Sent")
        expect(page.locator("#result_list tbody tr")).to_have_count(2)
        row = page.locator("#result_list tbody tr").filter(has=row_checkbox(page, failed))
        expect(row.locator(".pw-state")).to_have_text("Sent")
        expect(row.locator("td.field-attempts")).to_have_text("1")
        expect(row_checkbox(page, sent)).to_be_visible()

    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.last_error) == (ForwardingState.SENT, 1, "")
    assert failed.forwarded_at is not None and failed.finished_at is not None
    attempt = failed.forward_attempts.get()
    assert (attempt.outcome, attempt.worker) == ("sent", "browser-test")
    assert [r["fields"]["email"] for r in upstream.received(CHANGEORG_ID)] == [failed.email]
