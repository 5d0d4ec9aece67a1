"""The admin as a review tool for forwarding: attempts inline and read-only, retry now, cancel, resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from petition_widget import lifecycle
from petition_widget.lifecycle import FINAL_STATES
from petition_widget.models import ForwardAttempt, ForwardingState, Petition, Provider, Signature

SIGNATURES = "/admin/petition_widget/signature/"
PETITIONS = "/admin/petition_widget/petition/"


@pytest.fixture
def signatures(petition):
    rows = {}
    for state in ForwardingState.values:
        rows[state] = Signature.objects.create(
            petition=petition,
            first_name="Ada",
            last_name=state,
            email=f"{state}@example.org",
            state=state,
            attempts=3,
            last_error="HTTP 500 upstream failure" if state != ForwardingState.SENT else "",
            next_attempt_at=timezone.now() + timedelta(hours=1) if state == ForwardingState.PENDING else None,
            finished_at=timezone.now() - timedelta(days=1) if state in FINAL_STATES else None,
        )
    return rows


def act(client, url, action, objects):
    response = client.post(url, {"action": action, "_selected_action": [o.pk for o in objects]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def state_of(signature):
    signature.refresh_from_db()
    return signature.state


def test_retry_now_makes_them_due_with_a_fresh_budget(admin_client, signatures):
    before = timezone.now()

    messages = act(admin_client, SIGNATURES, "retry_now", signatures.values())

    retried = [ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED, ForwardingState.REJECTED]
    for state in retried:
        signature = signatures[state]
        signature.refresh_from_db()
        assert (signature.state, signature.attempts, signature.finished_at) == (ForwardingState.PENDING, 0, None)
        assert before <= signature.next_attempt_at <= timezone.now()
    left_alone = (
        ForwardingState.SENT,
        ForwardingState.SENDING,
        ForwardingState.CANCELLED,
        ForwardingState.UNCONFIRMED,
        ForwardingState.SPAM,
    )
    for state in left_alone:
        assert state_of(signatures[state]) == state
    assert messages == [
        "4 signatures are due now and will be sent at a worker's next pass. Their attempt counts were reset to 0, "
        "so each gets the full 10 tries again. 5 were left alone (sent, being sent, cancelled, spam, awaiting "
        "confirmation or erased)."
    ]


def test_retry_now_says_when_the_petition_is_paused(admin_client, signatures, petition):
    lifecycle.pause_petition(petition.pk, "HTTP 401 credentials refused: rsig is invalid")
    messages = act(admin_client, SIGNATURES, "retry_now", [signatures[ForwardingState.HELD]])
    assert "1 of them belongs to a paused petition and waits until forwarding is resumed." in messages[0]


def test_cancel_touches_only_what_has_not_left(admin_client, signatures, petition):
    petition.refresh_from_db()
    before = timezone.now()

    messages = act(admin_client, SIGNATURES, "cancel_forwarding", signatures.values())

    for state in (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED):
        signature = signatures[state]
        signature.refresh_from_db()
        assert (signature.state, signature.next_attempt_at) == (ForwardingState.CANCELLED, None)
        assert before <= signature.finished_at <= timezone.now()
    for state in (
        ForwardingState.SENT,
        ForwardingState.SENDING,
        ForwardingState.REJECTED,
        ForwardingState.UNCONFIRMED,
        ForwardingState.SPAM,
    ):
        assert state_of(signatures[state]) == state
    assert messages == [
        "3 signatures cancelled: they will not be forwarded and no longer count. 6 were left alone: only pending, "
        "held or failed signatures can be cancelled."
    ]
    petition.refresh_from_db()
    # Of the nine, the cancelled, unconfirmed and spam ones never counted, and the three cancelled now stop.
    assert petition.local_signature_count == 9 - 3 - 3


def test_attempts_are_shown_inline_and_read_only(admin_client, signatures):
    signature = signatures[ForwardingState.FAILED]
    ForwardAttempt.objects.create(
        signature=signature,
        started_at=timezone.now(),
        duration_ms=1234,
        outcome="retry",
        http_status=503,
        message="HTTP 503 upstream failure: There was a server error.",
        worker="host-1-abc",
    )
    page = admin_client.get(f"{SIGNATURES}{signature.pk}/change/").content.decode()
    assert "HTTP 503 upstream failure: There was a server error." in page
    assert "host-1-abc" in page and "1234" in page
    assert 'name="forward_attempts-0-message"' not in page
    assert "Add another forwarding attempt" not in page


def test_paused_petitions_show_why_and_resume(admin_client, petition, signatures):
    other = Petition.objects.create(provider=Provider.WETHEPEOPLE, upstream_id="9", slug="other", title="Other")
    lifecycle.pause_petition(petition.pk, "HTTP 401 credentials refused: rsig is invalid")

    listing = admin_client.get(PETITIONS).content.decode()
    assert "paused: HTTP 401 credentials refused: rsig is invalid" in listing
    assert "running" in listing
    assert "Other" not in admin_client.get(PETITIONS, {"forwarding": "paused"}).content.decode()
    change = admin_client.get(f"{PETITIONS}{petition.pk}/change/").content.decode()
    assert "HTTP 401 credentials refused: rsig is invalid" in change
    assert (
        "Pending 1, Sending 1, Sent 1, Held 1, Rejected 1, Failed 1, Cancelled 1, Awaiting confirmation 1, Spam 1"
        in change
    )

    messages = act(admin_client, PETITIONS, "resume_forwarding", [petition, other])

    petition.refresh_from_db()
    assert petition.forwarding_paused_at is None and petition.forwarding_paused_reason == ""
    assert state_of(signatures[ForwardingState.HELD]) == ForwardingState.PENDING
    assert messages[0].startswith("Forwarding resumed for 1 petition; 1 held signature is due again.")
    assert act(admin_client, PETITIONS, "resume_forwarding", [petition]) == [
        "None of the selected petitions was paused."
    ]


def test_saving_a_petition_loaded_before_a_pause_keeps_the_pause(petition):
    stale = Petition.objects.get(pk=petition.pk)  # an admin's form, opened before the worker paused it
    lifecycle.pause_petition(petition.pk, "HTTP 403 credentials refused")
    stale.title = "Edited"
    stale.save()
    petition.refresh_from_db()
    assert petition.title == "Edited" and petition.forwarding_paused_reason == "HTTP 403 credentials refused"


def test_actions_need_the_change_permission(petition, signatures):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_signature", "view_petition"]))
    client = Client()
    client.force_login(viewer)
    for url in (SIGNATURES, PETITIONS):
        page = client.get(url).content.decode()
        assert "retry_now" not in page and "cancel_forwarding" not in page and "resume_forwarding" not in page
    client.post(SIGNATURES, {"action": "cancel_forwarding", "_selected_action": [signatures["pending"].pk]})
    assert state_of(signatures[ForwardingState.PENDING]) == ForwardingState.PENDING
