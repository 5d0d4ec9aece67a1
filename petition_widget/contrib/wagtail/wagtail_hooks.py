"""Registers the petitions as Wagtail snippets (Wagtail loads every app's ``wagtail_hooks``)."""

from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet

from ...models import Petition
from .views import PetitionPermissionPolicy, PetitionViewSet

register_permission_policy(Petition, PetitionPermissionPolicy(Petition))
register_snippet(PetitionViewSet)
