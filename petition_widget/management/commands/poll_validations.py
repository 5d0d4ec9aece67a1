"""``manage.py poll_validations``: learn which forwarded We the People signatures were validated by their signers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from petition_widget.exceptions import ConfigurationError
from petition_widget.forwarding.validations import poll_validations


class Command(BaseCommand):
    help = (
        "Read We the People's validations.json for every petition with sent signatures not yet validated (at most "
        "10 reads a second), record which ones counted, and flag those still not validated "
        "VALIDATION_OVERDUE_HOURS after they were sent. Nothing is sent again. sync_petitions does the same."
    )

    def handle(self, *args, **options) -> None:
        try:
            report = poll_validations()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        if options["verbosity"] >= 1:
            self.stdout.write(report.summary())
        for slug, reason in report.failed.items():
            self.stderr.write(f"{slug}: {reason}")
        if report.failed:
            raise CommandError(f"The validations of {len(report.failed)} petition(s) could not be polled.")
