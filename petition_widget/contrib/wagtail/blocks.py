"""A StreamField block that renders a petition's signing form, chosen from the petition snippets.

    from petition_widget.contrib.wagtail.blocks import PetitionBlock

    body = StreamField([("paragraph", blocks.RichTextBlock()), ("petition", PetitionBlock())])

Render the stream with ``{% include_block page.body %}``: the form needs the request of the page's context.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class PetitionBlock(blocks.StructBlock):
    """A petition's form with its platform notice, as the ``{% petition_form %}`` tag renders it."""

    petition = SnippetChooserBlock("petition_widget.Petition", label=_("Petition"))

    class Meta:
        icon = "form"
        label = _("Petition form")
        template = "petition_widget/wagtail/petition_block.html"
