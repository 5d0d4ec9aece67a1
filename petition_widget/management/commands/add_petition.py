"""``manage.py add_petition``: add a petition from its upstream (by URL or id) and print its form page's path."""

from django.core.management.base import BaseCommand, CommandError

from petition_widget.checks import URLS_INCLUDE, urls_included
from petition_widget.exceptions import ConfigurationError, PetitionWidgetError
from petition_widget.models import Provider
from petition_widget.petitions import add_petition


class Command(BaseCommand):
    help = "Add a petition from its upstream (by URL or id) and print the path of its form page."

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=Provider.values)
        parser.add_argument("url_or_id", help="The petition's upstream URL or id.")
        parser.add_argument("--slug", help="Slug of the form page (default: from the title).")

    def handle(self, *args, provider, url_or_id, slug=None, **options):
        if not urls_included():
            # The form page's URL is the petition's address (and, for Change.org, its auth key's source).
            raise CommandError(f"petition_widget.urls is not included in the URLconf: add {URLS_INCLUDE} to urls.py.")
        try:
            petition = add_petition(provider, url_or_id, slug=slug)
        except (ConfigurationError, PetitionWidgetError) as exc:
            raise CommandError(f"Could not add the petition: {exc}") from exc
        if petition.provider == Provider.CHANGEORG and petition.auth_key_status != "granted":
            self.stderr.write(
                f"Warning: the authorization key is {petition.auth_key_status or 'missing'}; "
                "signatures will wait until one is granted."
            )
        self.stdout.write(petition.get_absolute_url())
