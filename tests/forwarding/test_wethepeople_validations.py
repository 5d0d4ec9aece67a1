"""We the People validations end to end over HTTP: signatures forwarded to the emulator, some validated by
their signers after a delay and the rest never; the poll records which, under the read limit, and flags the
overdue ones without sending anything again."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.checks import Error
from django.core.management import CommandError, call_command
from django.utils import timezone

from petition_widget.checks import check_settings
from petition_widget.conf import app_settings
from petition_widget.emulator.behaviour import never_validates
from petition_widget.forwarding.retry import RetryPolicy
from petition_widget.forwarding.validations import (
    petitions_to_poll,
    poll_validations,
    validation_counts,
)
from petition_widget.forwarding.worker import Worker, WorkerOptions
from petition_widget.models import ForwardAttempt, ForwardingState, Provider, Signature
from petition_widget.providers.wethepeople import READS_PER_SECOND
from tests.factories import make_signatures
from tests.forwarding_support import WETHEPEOPLE_ID, local_petition, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

NEVER_SHARE = 0.5


@pytest.fixture
def wethepeople(upstream):
    # The read limiter's counters live in the rate-limit cache: start from none.
    caches[app_settings.RATE_LIMIT_CACHE].clear()
    return local_petition(Provider.WETHEPEOPLE, WETHEPEOPLE_ID)


def behave(emulator, **changes) -> None:
    emulator.control("POST", "wethepeople", json=changes)


def drain() -> dict[str, int]:
    options = WorkerOptions(worker_id="test-worker", concurrency=2, batch_size=10, once=True, lease_seconds=30.0)
    policy = RetryPolicy(max_attempts=3, base_seconds=1e-6, max_seconds=1e-6)
    return dict(Worker(options, policy=policy).run())


def send(petition, emulator, count: int, *, prefix: str = "wtp") -> tuple[set[str], set[str]]:
    """Forward ``count`` new signatures; the addresses of the signers who will validate, and of those who never."""
    signatures = make_signatures(petition, count, prefix=prefix)
    assert drain()["sent"] == count
    addresses = {signature.email for signature in signatures}
    never = {email for email in addresses if never_validates(email, NEVER_SHARE)}
    assert never and never != addresses, "the chosen addresses must hold both kinds of signer"
    return addresses - never, never


def wait_for_the_clicks(emulator, clicking: set[str]) -> None:
    """Wait (no longer than needed) until the emulator counts every signer who validates."""

    def clicked() -> bool:
        records = emulator.received(WETHEPEOPLE_ID)
        return {r["fields"]["email"] for r in records if r["validated"]} == clicking

    wait_until(clicked, timeout=30, interval=0.05, what="the validations")


def validated() -> set[str]:
    return set(Signature.objects.filter(upstream_validated_at__isnull=False).values_list("email", flat=True))


def overdue() -> set[str]:
    return set(Signature.objects.filter(validation_overdue_at__isnull=False).values_list("email", flat=True))


def admin_listed(admin_client, **filters: str) -> set[str]:
    """The addresses of the signatures the admin's list shows with these filters (every page)."""
    response = admin_client.get("/admin/petition_widget/signature/", {"all": "", **filters})
    assert response.status_code == 200
    ids = re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())
    return set(Signature.objects.filter(pk__in=ids).values_list("email", flat=True))


def admin_column(admin_client) -> dict[str, str]:
    """The "validated upstream" column of the admin's list: address to "yes", "awaiting" or "overdue"."""
    page = admin_client.get("/admin/petition_widget/signature/", {"all": ""}).content.decode()
    marks = {}
    for row in page.split("<tr")[1:]:
        selected = re.search(r'name="_selected_action" value="(\d+)"', row)
        mark = re.search(r'data-validation="(\w+)"', row)
        if selected and mark:
            marks[int(selected.group(1))] = mark.group(1)
    emails = dict(Signature.objects.filter(pk__in=marks).values_list("pk", "email"))
    return {emails[pk]: mark for pk, mark in marks.items()}


def test_signatures_validated_after_the_delay_are_recorded_and_the_rest_flagged_overdue(
    wethepeople, upstream, admin_client
):
    behave(upstream, validation_delay=0.2, never_validate=NEVER_SHARE)
    clicking, never = send(wethepeople, upstream, 30)
    assert len(clicking) > READS_PER_SECOND  # one record a page: more reads than the limit allows in a second
    wait_for_the_clicks(upstream, clicking)
    reads_before = upstream.stats()["reads"]  # the petition's own read, when it was added

    report = poll_validations(page_size=1)

    assert report.validated == len(clicking) and report.failed == {}
    assert validated() == clicking
    ids = {r["fields"]["email"]: str(r["seq"]) for r in upstream.received(WETHEPEOPLE_ID)}
    for signature in Signature.objects.filter(email__in=clicking):
        assert signature.upstream_signature_id == ids[signature.email]
        assert signature.state == ForwardingState.SENT
    assert overdue() == set()  # sent moments ago: not overdue yet
    assert admin_listed(admin_client, validated_upstream="yes") == clicking
    assert admin_listed(admin_client, validated_upstream="awaiting") == never
    assert admin_listed(admin_client, validated_upstream="overdue") == set()
    stats = upstream.stats()
    assert stats["reads"] - reads_before == report.reads >= len(clicking)
    assert stats["read_rate_limited"] == 0
    assert stats["reads_busiest_second"] <= READS_PER_SECOND

    later = timezone.now() + timedelta(hours=app_settings.VALIDATION_OVERDUE_HOURS, minutes=1)
    report = poll_validations(now=later)

    assert (report.validated, report.overdue) == (0, len(never))
    assert overdue() == never and validated() == clicking
    assert admin_listed(admin_client, validated_upstream="yes") == clicking
    assert admin_listed(admin_client, validated_upstream="overdue") == never
    assert admin_listed(admin_client, validated_upstream="awaiting") == set()
    assert admin_column(admin_client) == {email: "yes" for email in clicking} | {email: "overdue" for email in never}
    dashboard = admin_client.get("/admin/petition_widget/signature/dashboard/").content.decode()
    shown = dict(re.findall(r'data-validations="(\w+)">(?:<a href="[^"]*">)?(\d+)<', dashboard))
    assert shown == {"sent": "30", "validated": str(len(clicking)), "awaiting": "0", "overdue": str(len(never))}
    row = re.search(rf'data-petition="{wethepeople.pk}"><td>[^<]*</td>((?:<td>\d+</td>)+)', dashboard).group(1)
    assert re.findall(r"\d+", row) == ["30", str(len(clicking)), "0", str(len(never))]
    # Flagged, never sent again: one try each, and the emulator received each signature once.
    assert ForwardAttempt.objects.count() == 30
    assert len(upstream.received(WETHEPEOPLE_ID)) == 30
    assert set(Signature.objects.values_list("state", flat=True)) == {ForwardingState.SENT}
    assert validation_counts() == {"sent": 30, "validated": len(clicking), "awaiting": 0, "overdue": len(never)}
    # Nothing is left to ask about.
    assert not petitions_to_poll().exists()
    reads = upstream.stats()["reads"]
    assert poll_validations().reads == 0
    assert upstream.stats()["reads"] == reads
    assert upstream.stats()["read_rate_limited"] == 0


def test_a_validation_later_than_the_overdue_time_is_still_recorded(wethepeople, upstream):
    behave(upstream, validation_delay=3600, never_validate=NEVER_SHARE)
    clicking, never = send(wethepeople, upstream, 6)
    later = timezone.now() + timedelta(hours=app_settings.VALIDATION_OVERDUE_HOURS, minutes=1)
    assert poll_validations(now=later).overdue == 6

    # Another signature keeps the petition polled; the late clickers are met then.
    behave(upstream, validation_delay=0, never_validate=0)
    make_signatures(wethepeople, 1, prefix="prompt")
    drain()
    report = poll_validations()
    assert report.validated == 1
    assert validated() == {"prompt-0@example.org"}
    assert overdue() == clicking | never


def test_a_refused_or_failed_poll_flags_nothing(wethepeople, upstream, settings):
    behave(upstream, validation_delay=0, never_validate=0)
    send_all = make_signatures(wethepeople, 3)
    drain()
    later = timezone.now() + timedelta(hours=app_settings.VALIDATION_OVERDUE_HOURS, minutes=1)

    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_KEY": "wrong-key"}
    report = poll_validations(now=later)
    assert (report.validated, report.overdue) == (0, 0)
    assert "Invalid API key" in report.failed[wethepeople.slug]
    assert "wrong-key" not in report.failed[wethepeople.slug]

    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_KEY": upstream.api_key}
    upstream.faults(down=True)
    report = poll_validations(now=later)
    assert (report.validated, report.overdue, list(report.failed)) == (0, 0, [wethepeople.slug])
    assert validated() == overdue() == set()

    upstream.faults(down=False)
    assert poll_validations(now=later).validated == len(send_all)


def test_sync_petitions_polls_the_validations_too(wethepeople, upstream):
    behave(upstream, validation_delay=0, never_validate=0)
    make_signatures(wethepeople, 2)
    drain()
    out = StringIO()
    call_command("sync_petitions", stdout=out)
    assert "We the People validations: 1 petition(s) polled in 1 read(s), 2 signature(s) validated" in out.getvalue()
    assert validated() == {"signer-0@example.org", "signer-1@example.org"}

    out = StringIO()
    call_command("poll_validations", stdout=out)
    assert "0 petition(s) polled in 0 read(s)" in out.getvalue()


def test_poll_command_reports_a_failed_petition(wethepeople, upstream):
    make_signatures(wethepeople, 1)
    drain()
    upstream.faults(down=True)
    with pytest.raises(CommandError, match="1 petition"):
        call_command("poll_validations", stdout=StringIO(), stderr=StringIO())


def test_change_org_signatures_are_never_polled(upstream, changeorg):
    make_signatures(changeorg, 2)
    drain()
    assert not petitions_to_poll().exists()
    assert validation_counts()["sent"] == 0


@pytest.mark.parametrize("value", [0, -1, "72", None, float("nan"), 24 * 365 + 1])
def test_validation_overdue_hours_is_checked(settings, value):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "VALIDATION_OVERDUE_HOURS": value}
    errors = [e for e in check_settings() if e.id == "petition_widget.E023"]
    assert len(errors) == 1 and isinstance(errors[0], Error)
    assert "VALIDATION_OVERDUE_HOURS" in errors[0].msg


@pytest.mark.parametrize("value", [72, 0.5, 24 * 365])
def test_validation_overdue_hours_accepts_hours(settings, value):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "VALIDATION_OVERDUE_HOURS": value}
    assert not [e for e in check_settings() if e.id == "petition_widget.E023"]


def test_admin_marks_only_sent_we_the_people_signatures(upstream, changeorg, wethepeople, admin_client):
    behave(upstream, validation_delay=0, never_validate=0)
    make_signatures(changeorg, 1, prefix="co")
    make_signatures(wethepeople, 1, prefix="wtp")
    (waiting,) = make_signatures(wethepeople, 1, prefix="unsent")
    drain()
    Signature.objects.filter(pk=waiting.pk).update(state=ForwardingState.PENDING)
    assert admin_column(admin_client) == {"wtp-0@example.org": "awaiting"}
    poll_validations()
    assert admin_column(admin_client) == {"wtp-0@example.org": "yes"}
    assert admin_listed(admin_client, validated_upstream="yes") == {"wtp-0@example.org"}
