"""Retention: purge_signatures (and its dry run) and the per-signer erasure."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from petition_widget.lifecycle import Erasure, erase
from petition_widget.models import ForwardingState, Signature, recount_signatures
from tests.factories import make_signatures
from tests.forwarding_support import counters

CONTACT = {"email", "phone", "address", "postal_code", "ip_hash"}


def make(petition, state, *, days_ago=None, prefix, **fields):
    (signature,) = make_signatures(
        petition,
        1,
        prefix=prefix,
        state=state,
        phone="+442071838750",
        address="10 Downing Street",
        reason="Bees matter",
        ip_hash="ab" * 16,
        **fields,
    )
    if days_ago is not None:
        Signature.objects.filter(pk=signature.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return Signature.objects.get(pk=signature.pk)


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_signatures", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def rows(petition):
    made = {
        "old_sent": make(petition, ForwardingState.SENT, days_ago=40, prefix="old-sent"),
        "old_rejected": make(petition, ForwardingState.REJECTED, days_ago=40, prefix="old-rejected"),
        "old_failed": make(petition, ForwardingState.FAILED, days_ago=31, prefix="old-failed"),
        "old_cancelled": make(petition, ForwardingState.CANCELLED, days_ago=35, prefix="old-cancelled"),
        "old_spam": make(petition, ForwardingState.SPAM, days_ago=35, prefix="old-spam"),
        "recent_sent": make(petition, ForwardingState.SENT, days_ago=5, prefix="recent-sent"),
        # Not final: never purged, whatever their age.
        "pending": make(petition, ForwardingState.PENDING, prefix="pending"),
        "held": make(petition, ForwardingState.HELD, prefix="held"),
    }
    Signature.objects.filter(pk__in=[made["pending"].pk, made["held"].pk]).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    recount_signatures()
    return made


def snapshot():
    return {
        s.pk: {f: getattr(s, f) for f in ("email", "email_normalized", "phone", "address", "postal_code", "ip_hash")}
        for s in Signature.objects.all()
    }


def test_dry_run_reports_and_changes_nothing(rows):
    before = snapshot()
    out = purge("--older-than-days", "30", "--dry-run")
    assert "Would erase the contact details of 5 signature(s)" in out
    assert "(30 days)" in out and "Dry run: nothing was changed." in out
    assert snapshot() == before
    assert not Signature.objects.filter(erased_at__isnull=False).exists()


def test_purge_erases_contact_details_of_old_final_signatures_only(rows, petition):
    counts_before = counters(petition)
    assert counts_before == (6, 6)  # sent, rejected, failed, recent sent, pending, held
    public_before = Client().get(f"/api/v1/petitions/{petition.upstream_id}/signatures?page_size=100").json()
    assert public_before["signature_count"] == 6

    out = purge("--older-than-days", "30")

    assert "Erased the contact details of 5 signature(s)" in out
    erased = {name for name, row in rows.items() if Signature.objects.get(pk=row.pk).erased_at is not None}
    assert erased == {"old_sent", "old_rejected", "old_failed", "old_cancelled", "old_spam"}
    for name in erased:
        signature = Signature.objects.get(pk=rows[name].pk)
        assert {f for f in CONTACT if getattr(signature, f)} == set()
        assert signature.email_normalized == f"erased:{signature.pk}"
        # What the public list and the counts need stays.
        assert (signature.first_name, signature.last_name, signature.city, signature.country_code) == (
            "Ada",
            "Lovelace",
            "London",
            "GB",
        )
        assert signature.reason == "Bees matter" and signature.state == rows[name].state
    for name in ("recent_sent", "pending", "held"):
        signature = Signature.objects.get(pk=rows[name].pk)
        assert signature.erased_at is None and signature.email == rows[name].email and signature.phone
    assert counters(petition) == counts_before
    public_after = Client().get(f"/api/v1/petitions/{petition.upstream_id}/signatures?page_size=100").json()
    assert public_after == public_before

    # Running it again finds nothing more.
    assert "Erased the contact details of 0 signature(s)" in purge("--older-than-days", "30")


def test_the_default_period_is_the_setting(rows, settings):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "RETENTION_DAYS": 36}
    out = purge("--dry-run")
    assert "Would erase the contact details of 2 signature(s)" in out and "(36 days)" in out
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "RETENTION_DAYS": 3}
    assert "Would erase the contact details of 6 signature(s)" in purge("--dry-run")


def test_a_negative_period_is_refused(db):
    with pytest.raises(CommandError, match="0 or more"):
        purge("--older-than-days", "-1")


def test_an_erased_address_may_sign_again(petition, changeorg_data):
    make(petition, ForwardingState.SENT, days_ago=400, prefix="ada")
    make(petition, ForwardingState.SENT, days_ago=400, prefix="bob")
    purge("--older-than-days", "30")
    response = Client().post(
        f"/petitions/{petition.slug}/", {**changeorg_data, "email": "ada-0@example.org"}, follow=False
    )
    assert response.status_code == 303
    assert Signature.objects.filter(erased_at__isnull=True).get().email == "ada-0@example.org"


def test_erasing_a_signer_removes_everything_personal_and_cancels_an_unsent_signature(rows, petition):
    targets = Signature.objects.filter(pk__in=[rows["pending"].pk, rows["recent_sent"].pk])
    assert erase(targets) == Erasure(erased=2, cancelled=1, in_flight=0)

    pending = Signature.objects.get(pk=rows["pending"].pk)
    sent = Signature.objects.get(pk=rows["recent_sent"].pk)
    assert pending.state == ForwardingState.CANCELLED and pending.finished_at is not None
    assert sent.state == ForwardingState.SENT
    for signature in (pending, sent):
        assert signature.erased_at is not None and signature.hidden
        for field in ("email", "phone", "address", "postal_code", "ip_hash", "first_name", "last_name", "city"):
            assert getattr(signature, field) == "", field
        assert signature.reason == ""
    # The sent one still counts (it reached the platform) but is no longer listed; the cancelled one is gone.
    petition.refresh_from_db()
    assert petition.local_signature_count == Signature.objects.counted().count()
    assert petition.public_signature_count == Signature.objects.public().count()
    assert not Signature.objects.public().filter(pk__in=[pending.pk, sent.pk]).exists()
    assert Signature.objects.counted().filter(pk=sent.pk).exists()


def test_erasing_leaves_a_signature_being_sent_right_now_alone(petition):
    now = timezone.now()
    sending = make(petition, ForwardingState.SENDING, prefix="sending")
    Signature.objects.filter(pk=sending.pk).update(lease_expires_at=now + timedelta(seconds=60), leased_by="w1")
    abandoned = make(petition, ForwardingState.SENDING, prefix="abandoned")
    Signature.objects.filter(pk=abandoned.pk).update(lease_expires_at=now - timedelta(seconds=1), leased_by="w2")

    result = erase(Signature.objects.filter(pk__in=[sending.pk, abandoned.pk]), now=now)

    assert result == Erasure(erased=1, cancelled=1, in_flight=1)
    sending.refresh_from_db()
    abandoned.refresh_from_db()
    assert (sending.state, sending.leased_by, sending.erased_at) == (ForwardingState.SENDING, "w1", None)
    assert sending.email == "sending-0@example.org"
    assert (abandoned.state, abandoned.leased_by, abandoned.email) == (ForwardingState.CANCELLED, "", "")
