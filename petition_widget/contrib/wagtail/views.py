"""Petitions in Wagtail's admin: a snippet list with a chooser, and the fields an editor may change.

Petitions are added from their platform (the Django admin's "Add a petition from its platform", or
``manage.py add_petition``), which fetches them; Wagtail edits what is local to the site.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.snippets.views.snippets import SnippetViewSet

from ...models import Petition


class PetitionPermissionPolicy(ModelPermissionPolicy):
    """Django's model permissions, less ``add``: petitions are added from their platform, never from a blank form."""

    def user_has_permission(self, user, action):
        return action != "add" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)


class PetitionViewSet(SnippetViewSet):
    """Petitions as Wagtail snippets: listed, searched, chosen by the block's chooser, their local settings edited."""

    model = Petition
    icon = "form"
    menu_label = _("Petitions")
    add_to_admin_menu = True
    list_display = ("title", "provider", "slug", "status", "accepts_signatures")
    list_filter = ("provider", "accepts_signatures")
    search_fields = ("title", "slug", "upstream_id")
    ordering = ("-created_at",)
    panels = [
        FieldPanel("title", read_only=True),
        FieldPanel("slug"),
        FieldPanel("accepts_signatures"),
        FieldPanel("require_confirmation"),
        FieldPanel("conceal_duplicates"),
        FieldPanel("embed_origins"),
    ]
