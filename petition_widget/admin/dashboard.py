"""The forwarding dashboard: charts of signatures per day and of the last day's forwarding outcomes per hour,
the backlog by what it waits for, the last hour's failure rate, the oldest
waiting signature, the backlog per petition and the paused petitions.

Linked from the signatures' list (``admin/petition_widget/signature/dashboard/``); anyone who may view
signatures may see it. The backlog's queries are the lifecycle's own (states and due condition).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from ..forwarding.validations import validation_counts, validation_counts_per_petition
from ..lifecycle import BACKLOG_STATES, WAITING_STATES, backlog_counts
from ..models import SUCCESSFUL_OUTCOMES, ForwardAttempt, ForwardingState, Petition, Signature
from . import charts
from .display import signatures_url

FAILURE_WINDOW = timedelta(hours=1)


def dashboard_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> TemplateResponse:
    """The forwarding backlog, the last hour's failure rate, the oldest waiting signature, paused petitions."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    now = timezone.now()
    counts = backlog_counts(now)
    per_petition = list(
        Signature.objects.filter(state__in=BACKLOG_STATES)
        .order_by()
        .values("petition")
        .annotate(total=Count("pk"), **counts)
    )
    totals = {key: sum(row[key] for row in per_petition) for key in counts}
    pending, labels = ForwardingState.PENDING, dict(ForwardingState.choices)
    backlog = [
        {"key": "due_now", "label": _("Pending, due now"), "state": pending},
        {"key": "scheduled", "label": _("Pending, scheduled for later"), "state": pending},
        {"key": "sending", "label": labels[ForwardingState.SENDING], "state": ForwardingState.SENDING},
        {"key": "held", "label": labels[ForwardingState.HELD], "state": ForwardingState.HELD},
        {"key": "unconfirmed", "label": labels[ForwardingState.UNCONFIRMED], "state": ForwardingState.UNCONFIRMED},
    ]
    for row in backlog:
        row["count"] = totals[row["key"]]
        row["url"] = signatures_url(state__exact=row["state"])

    attempts = ForwardAttempt.objects.filter(started_at__gte=now - FAILURE_WINDOW).aggregate(
        total=Count("pk"), failed=Count("pk", filter=~Q(outcome__in=SUCCESSFUL_OUTCOMES))
    )
    failure_rate = round(attempts["failed"] * 100 / attempts["total"], 1) if attempts["total"] else None

    oldest = (
        Signature.objects.filter(state__in=WAITING_STATES)
        .select_related("petition")
        .order_by("created_at", "pk")
        .first()
    )
    if oldest is not None:
        oldest.age = timesince(oldest.created_at, now)
        oldest.url = reverse("admin:petition_widget_signature_change", args=[oldest.pk])

    petitions = Petition.objects.only("title", "slug", "forwarding_paused_at").in_bulk(
        [row["petition"] for row in per_petition]
    )
    for row in per_petition:
        row["petition"] = petitions[row["petition"]]
        row["url"] = signatures_url(petition__id__exact=row["petition"].pk)
    per_petition.sort(key=lambda row: (-row["total"], row["petition"].title))

    paused = Petition.objects.filter(forwarding_paused_at__isnull=False).order_by("forwarding_paused_at")
    context = {
        **validation_context(),
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Forwarding dashboard"),
        "now": now,
        "backlog": backlog,
        "attempts": attempts,
        "failure_rate": failure_rate,
        "failure_window_minutes": int(FAILURE_WINDOW.total_seconds() // 60),
        "oldest": oldest,
        "paused": paused,
        "per_petition": per_petition,
        "charts": [
            charts.signatures_per_day(Signature.objects.all(), chart_id="pw-chart-daily"),
            charts.outcomes_per_hour(ForwardAttempt.objects.all(), chart_id="pw-chart-hourly", now=now),
        ],
    }
    return TemplateResponse(request, "admin/petition_widget/signature/dashboard.html", context)


def validation_context() -> dict:
    """Sent We the People signatures against those their signers validated, in all and per petition."""
    totals = validation_counts()
    links = {"validated": "yes", "awaiting": "awaiting", "overdue": "overdue"}
    validations = [
        {"key": "sent", "label": _("Sent"), "count": totals["sent"], "url": None},
        {"key": "validated", "label": _("Validated by their signers"), "count": totals["validated"]},
        {"key": "awaiting", "label": _("Awaiting validation"), "count": totals["awaiting"]},
        {"key": "overdue", "label": _("Overdue: not validated in time"), "count": totals["overdue"]},
    ]
    for row in validations[1:]:
        row["url"] = signatures_url(validated_upstream=links[row["key"]])
    rows = validation_counts_per_petition()
    titles = Petition.objects.only("title").in_bulk([row["petition"] for row in rows])
    for row in rows:
        row["petition"] = titles[row["petition"]]
        row["percent"] = round(row["validated"] * 100 / row["sent"]) if row["sent"] else 0
    return {"validations": validations, "validations_per_petition": rows}
