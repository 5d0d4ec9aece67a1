"""The Wagtail integration's app config: its own label, apart from Wagtail's ``wagtail``."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionWidgetWagtailConfig(AppConfig):
    name = "petition_widget.contrib.wagtail"
    label = "petition_widget_wagtail"
    verbose_name = _("Petitions in Wagtail")
