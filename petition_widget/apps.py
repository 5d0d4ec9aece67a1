"""The app's configuration: registers the system checks, and gives the reviewer group its permissions after
migrate."""

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from .conf import app_settings

# What the REVIEWER_GROUP may do: look at petitions, signatures and attempts, and retry, cancel or mark
# signatures as spam. Exporting and erasing stay with whoever a site admin grants them to.
REVIEWER_PERMISSIONS = ("view_petition", "view_signature", "view_forwardattempt", "retry_signature")


def create_reviewer_group(app_config, verbosity=2, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs) -> None:
    """After migrate: get or create the REVIEWER_GROUP and give it REVIEWER_PERMISSIONS.

    Only adds: permissions a site admin gave the group, or took from it and that are not listed here, stay
    as they are.
    """
    name = app_settings.REVIEWER_GROUP
    if not name:
        return
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    if not router.allow_migrate_model(using, group_model):
        return
    # django.contrib.auth creates the permissions in its own post_migrate handler, which runs before this
    # one only when it comes first in INSTALLED_APPS; creating them here is a no-op otherwise.
    create_permissions(app_config, verbosity=verbosity, using=using, apps=apps)
    permissions = permission_model.objects.using(using).filter(
        content_type__app_label=app_config.label, codename__in=REVIEWER_PERMISSIONS
    )
    group, _created = group_model.objects.using(using).get_or_create(name=name)
    group.permissions.add(*permissions)


class PetitionWidgetConfig(AppConfig):
    name = "petition_widget"
    verbose_name = _("Petitions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: checks imports the models, which cannot load before the app registry is ready.
        from . import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(create_reviewer_group, sender=self, dispatch_uid="petition_widget.reviewer_group")
