"""The admin for the people who run a campaign: "not spam", "confirm on the signer's behalf", the signature's
page, the lists' columns, the charts and the petition's page."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from petition_widget import lifecycle
from petition_widget.admin import charts
from petition_widget.models import ForwardAttempt, ForwardingState, Outcome, Petition, Provider, Signature
from tests.forwarding_support import counters

SIGNATURES = "/admin/petition_widget/signature/"
PETITIONS = "/admin/petition_widget/petition/"
DASHBOARD = SIGNATURES + "dashboard/"
REASON = "Confirmation was turned off; the signers were checked at the stall."


def make(petition: Petition, email: str, **fields) -> Signature:
    values = {"first_name": "Ada", "last_name": "Lovelace", "city": "London", "country_code": "GB", **fields}
    return Signature.objects.create(petition=petition, email=email, **values)


def act(client: Client, action: str, objects, **extra) -> tuple:
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    response = client.post(SIGNATURES, data, follow=True)
    assert response.status_code == 200
    return response, [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def reviewer_client(db) -> Client:
    user = User.objects.create_user("reviewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Petition reviewers"))
    client = Client()
    client.force_login(user)
    return client


# -- not spam ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        (ForwardingState.PENDING, ForwardingState.PENDING),
        (ForwardingState.FAILED, ForwardingState.PENDING),
        (ForwardingState.HELD, ForwardingState.PENDING),
        (ForwardingState.SENT, ForwardingState.SENT),
        (ForwardingState.REJECTED, ForwardingState.REJECTED),
        (ForwardingState.CANCELLED, ForwardingState.CANCELLED),
        (ForwardingState.UNCONFIRMED, ForwardingState.UNCONFIRMED),
    ],
)
def test_not_spam_puts_a_signature_back_where_it_was(reviewer_client, petition, before, after):
    fields = {"forwarded_at": timezone.now()} if before == ForwardingState.SENT else {}
    signature = make(petition, "ada@example.org", state=before, attempts=4, **fields)
    act(reviewer_client, "mark_as_spam", [signature])
    signature.refresh_from_db()
    assert (signature.state, signature.state_before_spam) == (ForwardingState.SPAM, before)

    start = timezone.now()
    _response, messages = act(reviewer_client, "not_spam", [signature])

    signature.refresh_from_db()
    assert (signature.state, signature.state_before_spam) == (after, "")
    if after == ForwardingState.PENDING:
        assert signature.attempts == 0 and signature.finished_at is None
        assert start <= signature.next_attempt_at <= timezone.now()
        assert lifecycle.due().filter(pk=signature.pk).exists(), "forwarding resumes"
        assert "1 of them had not reached the platform yet and is due now" in messages[0]
    assert messages[0].startswith("1 signature is no longer spam: it is back where it was")
    counted = after not in (ForwardingState.CANCELLED, ForwardingState.UNCONFIRMED)
    assert counters(petition) == ((1, 1) if counted else (0, 0))


def test_not_spam_leaves_other_and_erased_signatures_alone(reviewer_client, petition):
    pending = make(petition, "pending@example.org")
    erased = make(petition, "erased@example.org")
    lifecycle.mark_spam(Signature.objects.filter(pk=erased.pk))
    lifecycle.erase(Signature.objects.filter(pk=erased.pk))

    _response, messages = act(reviewer_client, "not_spam", [pending, erased])

    assert Signature.objects.get(pk=erased.pk).state == ForwardingState.SPAM
    assert Signature.objects.get(pk=pending.pk).state == ForwardingState.PENDING
    assert messages == [
        "0 signatures are no longer spam: they are back where they were before they were marked, and count again "
        "unless they were cancelled or await confirmation. 2 were left alone: only spam signatures whose personal "
        "data was not erased can be taken back."
    ]


def test_not_spam_without_a_recorded_state_goes_by_whether_it_was_forwarded(petition):
    forwarded = make(petition, "sent@example.org", state=ForwardingState.SPAM, forwarded_at=timezone.now())
    unsent = make(petition, "unsent@example.org", state=ForwardingState.SPAM)  # marked before the state was kept

    result = lifecycle.not_spam(Signature.objects.filter(pk__in=[forwarded.pk, unsent.pk]))

    assert result == lifecycle.Restored(restored=2, resumed=1, left_alone=0)
    assert Signature.objects.get(pk=forwarded.pk).state == ForwardingState.SENT
    assert Signature.objects.get(pk=unsent.pk).state == ForwardingState.PENDING


# -- confirm on the signer's behalf ------------------------------------------------------------------------


def test_confirm_on_behalf_asks_for_a_reason_first(reviewer_client, petition):
    waiting = make(petition, "ada@example.org", state=ForwardingState.UNCONFIRMED)
    response = reviewer_client.post(SIGNATURES, {"action": "confirm_on_behalf", "_selected_action": [waiting.pk]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Confirm on the signer&#x27;s behalf?" in page
    assert 'name="csrfmiddlewaretoken"' in page and 'name="reason"' in page and "required" in page
    assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.UNCONFIRMED

    for reason in ("", "   ", "she wrote from ada@example.org", "call +44 20 7183 8750"):
        response = reviewer_client.post(
            SIGNATURES,
            {"action": "confirm_on_behalf", "_selected_action": [waiting.pk], "post": "yes", "reason": reason},
        )
        assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
        assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.UNCONFIRMED


def test_confirm_on_behalf_confirms_counts_and_logs_who_and_why(reviewer_client, petition, caplog):
    waiting = make(petition, "ada@example.org", state=ForwardingState.UNCONFIRMED, phone="+442071838750")
    sent = make(petition, "grace@example.org", state=ForwardingState.SENT)
    reviewer = User.objects.get(username="reviewer")
    start = timezone.now()

    with caplog.at_level(logging.INFO, logger="petition_widget"):
        _response, messages = act(reviewer_client, "confirm_on_behalf", [waiting, sent], post="yes", reason=REASON)

    waiting.refresh_from_db()
    assert waiting.state == ForwardingState.PENDING and start <= waiting.confirmed_at <= timezone.now()
    assert lifecycle.due().filter(pk=waiting.pk).exists()
    assert counters(petition) == (1, 1)  # the confirmed one starts to count (the other was never counted here)
    assert messages == [
        "1 signature confirmed on the signer's behalf: it counts now and a worker sends it at its next pass. Your "
        "reason was recorded in its history. 1 was left alone: it is not awaiting confirmation (or its personal "
        "data was erased)."
    ]
    line = f"signature {waiting.pk} confirmed on the signer's behalf by admin user {reviewer.pk}: {REASON}"
    assert line in caplog.messages
    logged = " ".join(caplog.messages)
    assert "ada@example.org" not in logged and "Lovelace" not in logged and "+442071838750" not in logged
    entry = LogEntry.objects.get(object_id=str(waiting.pk))
    assert entry.user_id == reviewer.pk and REASON in entry.get_change_message()
    assert "Lovelace" not in entry.object_repr


def test_the_new_actions_need_the_reviewer_permission(petition):
    spam = make(petition, "spam@example.org", state=ForwardingState.SPAM, state_before_spam=ForwardingState.PENDING)
    waiting = make(petition, "wait@example.org", state=ForwardingState.UNCONFIRMED)
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        *Group.objects.get(name="Petition reviewers").permissions.exclude(codename="retry_signature")
    )
    client = Client()
    client.force_login(viewer)
    page = client.get(SIGNATURES).content.decode()
    assert "not_spam" not in page and "confirm_on_behalf" not in page
    client.post(SIGNATURES, {"action": "not_spam", "_selected_action": [spam.pk]})
    client.post(
        SIGNATURES, {"action": "confirm_on_behalf", "_selected_action": [waiting.pk], "post": "yes", "reason": REASON}
    )
    assert Signature.objects.get(pk=spam.pk).state == ForwardingState.SPAM
    assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.UNCONFIRMED


def test_confirm_on_behalf_needs_a_csrf_token(petition):
    waiting = make(petition, "wait@example.org", state=ForwardingState.UNCONFIRMED)
    User.objects.create_superuser("boss", "boss@blog.example", "pw")
    client = Client(enforce_csrf_checks=True)
    client.login(username="boss", password="pw")
    response = client.post(
        SIGNATURES, {"action": "confirm_on_behalf", "_selected_action": [waiting.pk], "post": "yes", "reason": REASON}
    )
    assert response.status_code == 403
    assert Signature.objects.get(pk=waiting.pk).state == ForwardingState.UNCONFIRMED


# -- the signature's page and the lists --------------------------------------------------------------------


def fieldset_legends(page: str) -> list[str]:
    return re.findall(r'<h2 id="fieldset-[^"]*" class="fieldset-heading">([^<]*)</h2>', page)


def test_the_signature_page_is_headed_by_who_signed_what_with_grouped_fields(admin_client):
    petition = Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id="7", slug="elm-street", title="Plant trees on Elm Street"
    )
    signature = make(petition, "ada@example.org")
    page = admin_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    assert "<h1>Ada Lovelace on Plant trees on Elm Street</h1>" in page
    assert "<title>Ada Lovelace on Plant trees on Elm Street |" in page
    assert fieldset_legends(page) == ["Signer", "What was sent", "Forwarding", "Privacy"]
    assert 'name="signup"' not in page, "Change.org has no sign-up box"
    assert re.search(r'<select name="country_code"[^>]*>', page)
    assert '<option value="GB" selected>United Kingdom</option>' in page


def test_a_we_the_people_signature_shows_only_its_platform_fields(admin_client, wtp_petition):
    signature = make(wtp_petition, "grace@example.org", country_code="", city="", signup=True)
    page = admin_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    assert 'name="signup"' in page and 'name="postal_code"' in page
    for absent in ("country_code", "address", "city", "phone", "reason", "state_province", "hidden"):
        assert f'name="{absent}"' not in page, absent


def test_a_reviewer_sees_the_country_by_name(reviewer_client, petition):
    signature = make(petition, "ada@example.org", country_code="FR")
    page = reviewer_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    assert "France" in page and 'name="country_code"' not in page


def test_the_admin_can_choose_a_country(admin_client, petition):
    signature = make(petition, "ada@example.org")
    url = f"{SIGNATURES}{signature.pk}/change/"
    form = {
        "petition": petition.pk,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "XX",
        "forward_attempts-TOTAL_FORMS": "0",
        "forward_attempts-INITIAL_FORMS": "0",
    }
    assert "Select a valid choice" in admin_client.post(url, form).content.decode()
    assert admin_client.post(url, {**form, "country_code": "IE"}).status_code == 302
    assert Signature.objects.get(pk=signature.pk).country_code == "IE"


def column_headers(page: str) -> list[str]:
    return re.findall(r'<th scope="col" class="(?:sortable )?column-([a-z_]+)', page)


def test_the_lists_keep_to_fewer_columns(admin_client, petition):
    make(petition, "ada@example.org")
    assert column_headers(admin_client.get(SIGNATURES).content.decode()) == [
        "display_name",
        "petition_title",
        "country",
        "coloured_state",
        "attempts",
        "short_error",
        "created_at",
    ]
    assert column_headers(admin_client.get(PETITIONS).content.decode()) == [
        "title",
        "provider",
        "status",
        "signatures_per_state",
        "signature_count",
        "form_open",
        "forwarding",
        "synced_at",
    ]


# -- charts --------------------------------------------------------------------------------------------------


def test_signatures_per_day_counts_each_series_on_its_day(petition):
    now = timezone.now()
    today = timezone.localdate(now)
    yesterday = now - timedelta(days=1)
    a = make(petition, "a@example.org", forwarded_at=now, state=ForwardingState.SENT, upstream_validated_at=now)
    b = make(petition, "b@example.org", state=ForwardingState.FAILED, finished_at=now)
    c = make(petition, "c@example.org")
    Signature.objects.filter(pk__in=[a.pk, b.pk]).update(created_at=yesterday)
    Signature.objects.filter(pk=c.pk).update(created_at=now - timedelta(days=40))  # out of the window

    chart = charts.signatures_per_day(Signature.objects.all(), chart_id="t", today=today)

    assert chart.columns == ["stored", "sent", "validated upstream", "failed"]
    assert len(chart.rows) == charts.DAYS
    assert chart.rows[0]["values"] == [0, 1, 1, 1]  # today, first in the table
    assert chart.rows[1]["values"] == [2, 0, 0, 0]
    assert chart.description == "Over the last 30 days: stored 2, sent 1, validated upstream 1, failed 1."
    assert [line["key"] for line in chart.lines] == ["stored", "sent", "validated", "failed"]


def test_outcomes_per_hour_stack_the_last_day(petition):
    now = timezone.now()
    signature = make(petition, "a@example.org")
    for outcome, hours in [
        (Outcome.SENT, 0),
        (Outcome.SENT, 0),
        (Outcome.RETRY, 0),
        (Outcome.HELD, 3),
        (Outcome.SENT, 30),
    ]:
        ForwardAttempt.objects.create(
            signature=signature, started_at=now - timedelta(hours=hours), duration_ms=5, outcome=outcome
        )
    chart = charts.outcomes_per_hour(ForwardAttempt.objects.all(), chart_id="t", now=now)
    assert chart.columns == ["Sent", "Already signed", "Will retry", "Held", "Rejected"]
    assert chart.rows[0]["values"] == [2, 0, 1, 0, 0]
    assert chart.rows[3]["values"] == [0, 0, 0, 1, 0]
    assert sum(sum(row["values"]) for row in chart.rows) == 4
    assert len(chart.bars) == 3


def test_the_dashboard_and_the_petition_page_draw_accessible_charts(admin_client, petition):
    make(petition, "a@example.org")
    for url in (DASHBOARD, f"{PETITIONS}{petition.pk}/change/"):
        page = admin_client.get(url).content.decode()
        for chart_id in ("pw-chart-daily", "pw-chart-hourly"):
            assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in page
            assert f'<title id="{chart_id}-title">' in page and f'<desc id="{chart_id}-desc">' in page
        assert page.count('role="img"') == 2
        assert page.count("<summary>The numbers as a table</summary>") == 2
        assert "<script" not in page.split('id="content"')[1].split("</svg>")[0]


# -- the petition's page -------------------------------------------------------------------------------------


def test_the_petition_page_shows_counts_the_pause_with_its_fix_and_an_inert_preview(admin_client, petition):
    Petition.objects.filter(pk=petition.pk).update(
        public_signature_count=12, local_signature_count=14, synced_at=timezone.now() - timedelta(hours=2)
    )
    lifecycle.pause_petition(petition.pk, "HTTP 401 credentials refused: rsig is invalid")
    page = admin_client.get(f"{PETITIONS}{petition.pk}/change/").content.decode()

    assert re.search(r'data-count="public">12<small>', page)
    assert re.search(r'data-count="upstream">250<small>synced 2\xa0hours ago', page)
    assert "<q>HTTP 401 credentials refused: rsig is invalid</q>" in page
    assert "Request a new authorization key" in page and "Resume forwarding" in page
    preview = page.split('<div class="pw-preview" inert>')[1]
    assert 'name="first_name"' in preview and "This petition is powered by Change.org" in preview
    assert page.index("</form>") < page.index('<div class="pw-preview" inert>'), "the forms are not nested"
