"""Charts for the dashboard and each petition's page, drawn on the server as accessible SVG.

Two charts: signatures per day (one line per series of :func:`daily_series`) and the forwarding attempts'
outcomes per hour over the last day (stacked bars). Each :class:`Chart` carries what its SVG draws (computed
here, in the SVG's own units) and the same numbers as a table, which the template
``admin/petition_widget/chart.html`` puts behind a disclosure. No JavaScript, nothing from another site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from ..models import ForwardAttempt, ForwardingState, Outcome, Signature

DAYS = 30
HOURS = 24
# The drawing area, in the SVG's units; the SVG scales to the width it is given.
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Series:
    """One line of the per-day chart: signatures counted on the day of ``field``, among those matching
    ``condition``."""

    key: str
    label: str
    colour: str
    field: str
    condition: Q = field(default_factory=Q)
    dash: str = ""  # stroke-dasharray: tells the lines apart without colour


def daily_series() -> list[Series]:
    """The per-day chart's series, in the legend's order, one line each. "Validated upstream" counts the We the
    People signatures their signers validated (forwarding.validations), on the day it was first seen.
    """
    return [
        Series("stored", _("stored"), "#1d4ed8", "created_at"),
        Series("sent", _("sent"), "#15803d", "forwarded_at", dash="8 4"),
        Series("validated", _("validated upstream"), "#0e7490", "upstream_validated_at", dash="2 3"),
        Series(
            "failed",
            _("failed"),
            "#b91c1c",
            "finished_at",
            Q(state__in=(ForwardingState.FAILED, ForwardingState.REJECTED)),
            dash="3 3",
        ),
    ]


# The hourly chart's outcomes, bottom to top, each with its colour (white text is never drawn on them).
OUTCOME_COLOURS = {
    Outcome.SENT: "#15803d",
    Outcome.DUPLICATE: "#0e7490",
    Outcome.RETRY: "#b45309",
    Outcome.HELD: "#6d28d9",
    Outcome.REJECTED: "#b91c1c",
}


@dataclass
class Chart:
    """What the template draws: the SVG's shapes, its legend, and the table of the same numbers."""

    id: str
    title: str
    description: str
    legend: list[dict]
    y_ticks: list[dict]
    x_labels: list[dict]
    lines: list[dict] = field(default_factory=list)
    bars: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT


def _scale(maximum: int) -> tuple[int, list[int]]:
    """A round top for the y axis at or above ``maximum``, and its ticks (0 included)."""
    top = 4
    while top < maximum:
        top = top * 5 // 2 if str(top).startswith("8") else top * 2  # 4, 8, 20, 40, 80, 200, ...
    return top, [top * n // 4 for n in range(5)]


def _y(value: int, top: int) -> float:
    return round(HEIGHT - BOTTOM - value * (HEIGHT - BOTTOM - TOP) / top, 1)


def _x(index: int, count: int) -> float:
    return round(LEFT + (index + 0.5) * (WIDTH - LEFT - RIGHT) / count, 1)


def _y_ticks(top: int, ticks: list[int]) -> list[dict]:
    return [{"value": tick, "y": _y(tick, top)} for tick in ticks]


def signatures_per_day(
    signatures: QuerySet[Signature], *, chart_id: str, days: int = DAYS, today: date | None = None
) -> Chart:
    """Signatures stored, sent and failed on each of the last ``days`` days (today included), one line each."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    dates = [first + timedelta(days=n) for n in range(days)]
    series = daily_series()
    counts: dict[str, dict[date, int]] = {}
    for one in series:
        rows = (
            signatures.filter(one.condition, **{f"{one.field}__gte": since})
            .annotate(day=TruncDate(one.field))
            .order_by()
            .values("day")
            .annotate(n=Count("pk"))
            .values_list("day", "n")
        )
        counts[one.key] = dict(rows)
    top, ticks = _scale(max((n for by_day in counts.values() for n in by_day.values()), default=0))
    lines = []
    for one in series:
        points = " ".join(f"{_x(i, days)},{_y(counts[one.key].get(day, 0), top)}" for i, day in enumerate(dates))
        lines.append({"key": one.key, "label": one.label, "colour": one.colour, "dash": one.dash, "points": points})
    totals = {one.key: sum(counts[one.key].values()) for one in series}
    description = _("Over the last %(days)d days: %(totals)s.") % {
        "days": days,
        "totals": ", ".join(f"{one.label} {totals[one.key]}" for one in series),
    }
    return Chart(
        id=chart_id,
        title=_("Signatures per day"),
        description=description,
        legend=[{"label": one.label, "colour": one.colour, "dash": one.dash, "line": True} for one in series],
        y_ticks=_y_ticks(top, ticks),
        x_labels=[
            {"x": _x(i, days), "text": date_format(day, "M j")}
            for i, day in enumerate(dates)
            if i % 7 == (days - 1) % 7
        ],
        lines=lines,
        columns=[one.label for one in series],
        rows=[
            {"label": date_format(day, "DATE_FORMAT"), "values": [counts[one.key].get(day, 0) for one in series]}
            for day in reversed(dates)
        ],
    )


def outcomes_per_hour(attempts: QuerySet[ForwardAttempt], *, chart_id: str, now: datetime | None = None) -> Chart:
    """The forwarding attempts of the last 24 hours by outcome, one stacked bar an hour (this hour last)."""
    now = now or timezone.now()
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=HOURS - 1 - n) for n in range(HOURS)]
    found: dict[tuple[datetime, str], int] = {}
    rows = (
        attempts.filter(started_at__gte=hours[0])
        .annotate(hour=TruncHour("started_at"))
        .order_by()
        .values("hour", "outcome")
        .annotate(n=Count("pk"))
        .values_list("hour", "outcome", "n")
    )
    for hour, outcome, n in rows:
        found[(timezone.localtime(hour).replace(minute=0, second=0, microsecond=0), outcome)] = n
    outcomes = list(OUTCOME_COLOURS)
    labels = dict(Outcome.choices)
    per_hour = [[found.get((hour, outcome), 0) for outcome in outcomes] for hour in hours]
    top, ticks = _scale(max((sum(values) for values in per_hour), default=0))
    slot = (WIDTH - LEFT - RIGHT) / HOURS
    bars = []
    for i, values in enumerate(per_hour):
        base = 0
        for outcome, n in zip(outcomes, values, strict=True):
            if n:
                y = _y(base + n, top)
                bars.append(
                    {
                        "x": round(LEFT + i * slot + slot * 0.15, 1),
                        "y": y,
                        "width": round(slot * 0.7, 1),
                        "height": round(_y(base, top) - y, 1),
                        "colour": OUTCOME_COLOURS[outcome],
                    }
                )
            base += n
    totals = [sum(values[k] for values in per_hour) for k in range(len(outcomes))]
    description = _("Forwarding attempts in the last 24 hours: %(totals)s.") % {
        "totals": ", ".join(f"{labels[o]} {n}" for o, n in zip(outcomes, totals, strict=True))
    }
    return Chart(
        id=chart_id,
        title=_("Forwarding outcomes per hour, last 24 hours"),
        description=description,
        legend=[{"label": labels[o], "colour": OUTCOME_COLOURS[o], "line": False} for o in outcomes],
        y_ticks=_y_ticks(top, ticks),
        x_labels=[
            {"x": round(LEFT + (i + 0.5) * slot, 1), "text": date_format(hour, "H:i")}
            for i, hour in enumerate(hours)
            if i % 4 == 3
        ],
        bars=bars,
        columns=[labels[o] for o in outcomes],
        rows=[
            {"label": date_format(hour, "H:i"), "values": values}
            for hour, values in reversed(list(zip(hours, per_hour, strict=True)))
        ],
    )
