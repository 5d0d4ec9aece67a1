"""A page with a StreamField that takes the petition block."""

from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page

from petition_widget.contrib.wagtail.blocks import PetitionBlock


class CampaignPage(Page):
    body = StreamField([("paragraph", blocks.RichTextBlock()), ("petition", PetitionBlock())], blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
