"""The signatures' CSV export: its columns, one cell as a spreadsheet must see it, and the streamed response.

Contact details are included: only users with the ``export_signature`` permission get here (the action
checks it). Each export is logged, by user id and number of rows, on the ``petition_widget.admin`` logger.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

# The admin's audit logger: the name operators' LOGGING configurations know.
logger = logging.getLogger("petition_widget.admin")

EXPORT_COLUMNS = (
    ("id", "pk"),
    ("petition", "petition__slug"),
    ("provider", "petition__provider"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("address", "address"),
    ("city", "city"),
    ("region", "state_province"),
    ("postal_code", "postal_code"),
    ("country", "country_code"),
    ("hidden", "hidden"),
    ("signup", "signup"),
    ("reason", "reason"),
    ("state", "state"),
    ("attempts", "attempts"),
    ("created", "created_at"),
    ("forwarded", "forwarded_at"),
    ("confirmed", "confirmed_at"),
)
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection); a leading
# apostrophe makes it text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One exported value as text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file that hands back what is written to it, so that csv.writer produces lines to stream."""

    def write(self, value: str) -> str:
        return value


def export_rows(queryset: QuerySet) -> Iterator[str]:
    """The CSV lines of the signatures in ``queryset``, header first, read from the database in chunks."""
    rows = queryset.order_by("pk").values_list(*(field for _header, field in EXPORT_COLUMNS))
    writer = csv.writer(_Echo())
    yield writer.writerow([header for header, _field in EXPORT_COLUMNS])
    for row in rows.iterator(chunk_size=500):
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
    """Stream the signatures in ``queryset`` as a CSV attachment, and log who exported how many."""
    logger.info("user %s exported %s signature(s) as CSV", request.user.pk, queryset.count())
    response = StreamingHttpResponse(export_rows(queryset), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="signatures-{stamp}.csv"'
    return response
