"""Seed the example blog from the upstream emulator: the demo petitions, posts embedding them, an admin."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from example_project.blog.models import Post
from petition_widget.exceptions import PetitionWidgetError
from petition_widget.petitions import add_petition

DEMO_POSTS = [
    {
        "provider": "changeorg",
        "petition": "https://www.change.org/p/plant-trees-on-elm-street",
        "slug": "bring-back-the-trees",
        "title": "Bring back the trees",
        "body": """Our street lost its trees to the storm. The council has promised to replant "when budgets
allow". We think that time is now.

Below is the petition we started on Change.org. Every signature is sent on to the platform, so it
counts there too. Thank you for adding yours.""",
    },
    {
        "provider": "wethepeople",
        "petition": "https://petitions.whitehouse.gov/petition/fund-public-libraries-every-county",
        "slug": "libraries-for-every-county",
        "title": "A library for every county",
        "body": """Half the counties in our state have no public library open after five.

This We the People petition asks for federal funding; sign it here and it is relayed for you.""",
    },
]


class Command(BaseCommand):
    help = (
        "Add the demo petitions from the upstream (the emulator in the demo), create blog posts embedding "
        "their forms, and set the password of the user 'admin'. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", help="Set this password on the user 'admin' (created if missing).")

    def handle(self, *args, admin_password=None, **options):
        for spec in DEMO_POSTS:
            try:
                petition = add_petition(spec["provider"], spec["petition"])
            except PetitionWidgetError as exc:
                raise CommandError(f"Could not add the demo petition {spec['petition']}: {exc}") from exc
            Post.objects.update_or_create(
                slug=spec["slug"], defaults={"title": spec["title"], "body": spec["body"], "petition": petition}
            )
            self.stdout.write(f"/posts/{spec['slug']}/ embeds {petition.get_absolute_url()}")
        if admin_password:
            user, _ = get_user_model().objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
            )
            user.set_password(admin_password)
            user.save()
