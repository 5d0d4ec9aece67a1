import logging

from django import template

from ..models import Petition
from ..views import widget_context, without_signed_param

logger = logging.getLogger(__name__)
register = template.Library()


@register.inclusion_tag("petition_widget/widget.html", takes_context=True)
def petition_form(context, petition, page_title=""):
    """Render a petition's signing form, with its platform notice, inside any page.

    ``petition`` is a :class:`~petition_widget.models.Petition` or its slug. The page needs the
    request in its context (``django.template.context_processors.request``) for the CSRF token and
    to come back to itself after signing. ``page_title`` (the host page's title) names the page in the link
    back that the stand-alone form page shows after a refused submission without JavaScript.
    """
    request = context.get("request")
    if request is None:
        raise template.TemplateSyntaxError(
            "{% petition_form %} needs the request in the template context: add "
            "'django.template.context_processors.request' to the template context processors."
        )
    if not isinstance(petition, Petition):
        slug = petition
        petition = Petition.objects.filter(slug=slug).first()
        if petition is None:
            logger.warning("petition_form: no petition with slug %r", slug)
            return {"petition": None}
    return widget_context(
        request, petition, next_url=without_signed_param(request.get_full_path()), page_title=page_title
    )
