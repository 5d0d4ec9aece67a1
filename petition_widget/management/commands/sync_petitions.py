"""``manage.py sync_petitions``: refresh the cached upstream fields (count, status, goal, closing date) of every
petition still taking signatures (``--all``: of every petition)."""

from django.core.management.base import BaseCommand, CommandError

from petition_widget.exceptions import PetitionWidgetError
from petition_widget.models import Petition
from petition_widget.petitions import sync_petition


class Command(BaseCommand):
    help = "Refresh the cached upstream fields (count, status, goal, closing date) of every active petition."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Closed petitions too.")

    def handle(self, *args, all=False, **options):
        petitions = Petition.objects.all() if all else Petition.objects.filter(accepts_signatures=True)
        failed = 0
        for petition in petitions.iterator():
            try:
                petition = sync_petition(petition)
            except PetitionWidgetError as exc:
                failed += 1
                self.stderr.write(f"{petition.slug}: {exc}")
                continue
            state = "open" if petition.accepts_signatures else "closed"
            self.stdout.write(f"{petition.slug}: {petition.signature_count} signatures, {state}")
        if failed:
            raise CommandError(f"{failed} petition(s) could not be synced.")
