"""``manage.py purge_signatures``: erase the contact details of signatures past the retention period, and
delete unconfirmed signatures whose confirmation link has expired (run it daily)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from petition_widget.conf import app_settings
from petition_widget.privacy import (
    delete_expired_unconfirmed,
    erase_contact_details,
    expired_unconfirmed,
    purge_candidates,
    retention_cutoff,
)


class Command(BaseCommand):
    help = (
        "Erase the e-mail, phone, street address, postal code and address hash of signatures that reached a "
        "final state (sent, rejected, failed, cancelled, spam) more than N days ago; names, city, country and "
        "the counts stay. Also deletes unconfirmed signatures whose confirmation link has expired. Run it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            metavar="N",
            help="Retention period in days (default: the RETENTION_DAYS setting).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Report what would be erased; change nothing.")

    def handle(self, *args, older_than_days=None, dry_run=False, **options):
        days = app_settings.RETENTION_DAYS if older_than_days is None else older_than_days
        if days < 0:
            raise CommandError("--older-than-days must be 0 or more.")
        now = timezone.now()
        cutoff = retention_cutoff(days, now=now)
        candidates = purge_candidates(days, now=now)
        if dry_run:
            erased, expired = candidates.count(), expired_unconfirmed(now=now).count()
        else:
            with transaction.atomic():
                erased = erase_contact_details(candidates, now=now)
                expired = delete_expired_unconfirmed(now=now)
        verb = ("Would erase", "Would delete") if dry_run else ("Erased", "Deleted")
        self.stdout.write(
            f"{verb[0]} the contact details of {erased} signature(s) that reached a final state before "
            f"{cutoff:%Y-%m-%d %H:%M} UTC ({days} days)."
        )
        self.stdout.write(
            f"{verb[1]} {expired} unconfirmed signature(s) whose confirmation link expired "
            f"({app_settings.CONFIRMATION_EXPIRY_HOURS} hours)."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
