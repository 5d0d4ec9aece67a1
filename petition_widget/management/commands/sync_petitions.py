"""``manage.py sync_petitions``: refresh the cached upstream fields (count, status, goal, closing date) of every
petition still taking signatures (``--all``: of every petition)."""

from django.core.management.base import BaseCommand, CommandError

from petition_widget.exceptions import ConfigurationError, PetitionWidgetError
from petition_widget.forwarding.validations import poll_validations
from petition_widget.models import Petition
from petition_widget.petitions import sync_petition


class Command(BaseCommand):
    help = (
        "Refresh the cached upstream fields (count, status, goal, closing date) of every active petition, then "
        "poll We the People's validations of the signatures sent there (as poll_validations does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Closed petitions too.")
        parser.add_argument("--skip-validations", action="store_true", help="Do not poll We the People's validations.")

    def handle(self, *args, all=False, skip_validations=False, **options):
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
        problems = [f"{failed} petition(s) could not be synced."] if failed else []
        if not skip_validations:
            problems.extend(self._poll_validations())
        if problems:
            raise CommandError(" ".join(problems))

    def _poll_validations(self) -> list[str]:
        try:
            report = poll_validations()
        except ConfigurationError as exc:
            self.stderr.write(f"We the People validations: {exc}")
            return ["We the People validations could not be polled."]
        if report.reads or report.failed:
            self.stdout.write(report.summary())
        for slug, reason in report.failed.items():
            self.stderr.write(f"{slug} (validations): {reason}")
        return [f"The validations of {len(report.failed)} petition(s) could not be polled."] if report.failed else []
