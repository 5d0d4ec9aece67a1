"""We the People validations: which of the signatures we forwarded finally counted.

We the People answers a signature POST with "queued", e-mails the signer a validation link and counts the
signature only after the click. ``GET validations.json?api_key=&petition_id=`` (paged by ``limit`` and
``offset``) lists this key's validated signatures as ``{vid, email, signature_id, petition_id}``: the only way
to learn which forwarded signatures counted. The write API returns no id, so a record is matched to our
signature by its e-mail address, normalised as the one-signature-per-address rule normalises it (one
signature per address and petition, so the match is unique).

:func:`poll_validations` reads the list of every We the People petition that has sent signatures not yet
validated, under the upstream's read limit (the provider takes a slot for every read, shared by every process
through the rate-limit cache), and records on each signature found when we first saw it counted
(``upstream_validated_at``) and its upstream id. After a successful poll, signatures of that petition still
not validated ``VALIDATION_OVERDUE_HOURS`` after they were sent are flagged (``validation_overdue_at``). A
flagged signature is never sent again: a second post would only send the signer a second e-mail. A late
validation is still recorded if a later poll meets it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..conf import app_settings
from ..exceptions import UpstreamError
from ..models import ForwardingState, Petition, Provider, Signature, SignatureQuerySet
from ..providers import get_provider
from ..providers.wethepeople import Validation, WeThePeopleProvider

logger = logging.getLogger(__name__)

# The read API's largest page.
PAGE_SIZE = 1000
# Signatures updated per statement batch (a bound on the parameters of one IN list).
MATCH_CHUNK = 500


def awaiting_validation() -> SignatureQuerySet:
    """Sent We the People signatures not (yet) validated, whose address is still kept to match them by."""
    return Signature.objects.filter(
        petition__provider=Provider.WETHEPEOPLE,
        state=ForwardingState.SENT,
        upstream_validated_at__isnull=True,
        erased_at__isnull=True,
    )


def petitions_to_poll():
    """We the People petitions with sent signatures neither validated nor flagged overdue yet."""
    waiting = awaiting_validation().filter(validation_overdue_at__isnull=True).values("petition")
    return Petition.objects.filter(provider=Provider.WETHEPEOPLE, pk__in=waiting).order_by("pk")


@dataclass
class ValidationReport:
    """What one :func:`poll_validations` run did."""

    petitions: int = 0  # polled to the end
    reads: int = 0  # validations.json requests made
    validated: int = 0  # signatures found validated for the first time
    overdue: int = 0  # signatures flagged overdue
    failed: dict[str, str] = field(default_factory=dict)  # petition slug: why its poll stopped

    def summary(self) -> str:
        text = (
            f"We the People validations: {self.petitions} petition(s) polled in {self.reads} read(s), "
            f"{self.validated} signature(s) validated, {self.overdue} flagged overdue"
        )
        return text + (f", {len(self.failed)} petition(s) failed." if self.failed else ".")


def poll_validations(
    *,
    provider: WeThePeopleProvider | None = None,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> ValidationReport:
    """Poll ``validations.json`` for every petition in :func:`petitions_to_poll` and flag overdue signatures.

    ``now`` stands for the current time (when validations are recorded and what is overdue). One petition's
    failure (the upstream down, a 429, our key refused) is logged and reported; the others are still polled.
    Raises :class:`ConfigurationError` only when petitions wait and no We the People key is configured.
    """
    report = ValidationReport()
    petitions = list(petitions_to_poll())
    if not petitions:
        return report
    own_provider = provider is None
    if provider is None:
        provider = get_provider(Provider.WETHEPEOPLE)
    try:
        for petition in petitions:
            try:
                poll_petition(petition, provider, report=report, page_size=page_size, now=now)
            except UpstreamError as exc:
                report.failed[petition.slug] = str(exc)
                logger.warning("We the People validations of petition %s not polled: %s", petition.upstream_id, exc)
                continue
            report.petitions += 1
            report.overdue += flag_overdue(petition, now=now)
    finally:
        if own_provider:
            provider.close()
    logger.info(
        "We the People validations: %s petition(s), %s read(s), %s validated, %s overdue, %s failed",
        report.petitions,
        report.reads,
        report.validated,
        report.overdue,
        len(report.failed),
    )
    return report


def poll_petition(
    petition: Petition,
    provider: WeThePeopleProvider,
    *,
    report: ValidationReport,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> None:
    """Read the petition's validations page by page (each read waits for a slot under the read limit),
    recording what matches; stops early once none of the petition's sent signatures is left to match."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    offset = 0
    while awaiting_validation().filter(petition=petition).exists():
        page = provider.fetch_validations(petition.upstream_id, limit=page_size, offset=offset)
        report.reads += 1
        report.validated += record_validations(petition, page.validations, now=now)
        offset += page.received
        if page.received < page_size or (page.total is not None and offset >= page.total):
            break


def record_validations(petition: Petition, validations: tuple[Validation, ...], *, now: datetime | None = None) -> int:
    """Mark the petition's awaiting signatures that ``validations`` name as validated; how many were marked."""
    now = now or timezone.now()
    by_email: dict[str, Validation] = {}
    for validation in validations:
        by_email.setdefault(Signature.normalize_email(validation.email), validation)
    emails = list(by_email)
    marked = 0
    for start in range(0, len(emails), MATCH_CHUNK):
        rows = awaiting_validation().filter(petition=petition, email_normalized__in=emails[start : start + MATCH_CHUNK])
        with transaction.atomic():
            for pk, email in rows.values_list("pk", "email_normalized"):
                marked += Signature.objects.filter(pk=pk, upstream_validated_at__isnull=True).update(
                    upstream_validated_at=now, upstream_signature_id=by_email[email].signature_id
                )
    return marked


def overdue_cutoff(now: datetime | None = None) -> datetime:
    """Signatures sent before this moment and still not validated are overdue."""
    return (now or timezone.now()) - timedelta(hours=float(app_settings.VALIDATION_OVERDUE_HOURS))


def flag_overdue(petition: Petition, *, now: datetime | None = None) -> int:
    """Flag the petition's signatures sent more than VALIDATION_OVERDUE_HOURS ago and still not validated."""
    now = now or timezone.now()
    return (
        awaiting_validation()
        .filter(petition=petition, validation_overdue_at__isnull=True, forwarded_at__lt=overdue_cutoff(now))
        .update(validation_overdue_at=now)
    )


# What the admin shows: sent We the People signatures by where their validation stands.
VALIDATED = Q(upstream_validated_at__isnull=False)
OVERDUE = Q(upstream_validated_at__isnull=True, validation_overdue_at__isnull=False)
AWAITING = Q(upstream_validated_at__isnull=True, validation_overdue_at__isnull=True)


def validation_counts(signatures: SignatureQuerySet | None = None) -> dict[str, int]:
    """Sent We the People signatures: how many in all, validated, awaiting validation and overdue."""
    queryset = signatures if signatures is not None else Signature.objects.all()
    return queryset.filter(petition__provider=Provider.WETHEPEOPLE, state=ForwardingState.SENT).aggregate(
        sent=Count("pk"),
        validated=Count("pk", filter=VALIDATED),
        awaiting=Count("pk", filter=AWAITING),
        overdue=Count("pk", filter=OVERDUE),
    )


def validation_counts_per_petition() -> list[dict]:
    """:func:`validation_counts` for each We the People petition with sent signatures, as rows with ``petition``
    (the primary key)."""
    return list(
        Signature.objects.filter(petition__provider=Provider.WETHEPEOPLE, state=ForwardingState.SENT)
        .order_by()
        .values("petition")
        .annotate(
            sent=Count("pk"),
            validated=Count("pk", filter=VALIDATED),
            awaiting=Count("pk", filter=AWAITING),
            overdue=Count("pk", filter=OVERDUE),
        )
        .order_by("petition")
    )
