"""Seed the example blog: a demo petition, a post that embeds its form, and an admin account."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from example_project.blog.models import Post
from petition_widget.models import Petition, Provider

POST_BODY = """Our street lost its last six trees to the road widening in spring. The council has
promised to replant "when budgets allow". We think that time is now.

Below is the petition we started. Every signature is sent on to the petition platform, so it counts
there too. Thank you for adding yours."""


class Command(BaseCommand):
    help = "Create the demo petition, a blog post embedding its form and an admin user (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", help="Set this password on the user 'admin' (created if missing).")

    def handle(self, *args, admin_password=None, **options):
        petition, _ = Petition.objects.get_or_create(
            provider=Provider.CHANGEORG,
            upstream_id="1001",
            defaults={
                "slug": "plant-trees-on-elm-street",
                "title": "Plant twelve new trees on Elm Street",
                "overview": "<p>Replant the trees removed from Elm Street.</p>",
                "status": "open",
                "goal": 500,
                "signature_count": 137,
                "synced_at": timezone.now(),
            },
        )
        Post.objects.get_or_create(
            slug="bring-back-the-trees",
            defaults={"title": "Bring back the trees", "body": POST_BODY, "petition": petition},
        )
        if admin_password:
            user, _ = get_user_model().objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
            )
            user.set_password(admin_password)
            user.save()
        self.stdout.write(f"Demo post: /posts/bring-back-the-trees/  petition form: {petition.get_absolute_url()}")
