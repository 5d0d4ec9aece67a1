"""The ``{% petition_form %}`` template tag: a petition's signing form inside any page of the host site."""

import logging

from django import template
from django.conf import settings

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
        petition = Petition.objects.filter(slug=slug).first() if slug else None
        if petition is None:
            logger.warning("petition_form: no petition with slug %r", slug)
            # Visitors see nothing; a developer (DEBUG on) sees why in the page.
            return {"petition": None, "missing_message": missing_message(slug) if settings.DEBUG else ""}
    return widget_context(
        request, petition, next_url=without_signed_param(request.get_full_path()), page_title=page_title
    )


def missing_message(slug) -> str:
    """What the tag shows in place of the form, with ``DEBUG`` on, when it finds no petition."""
    if not slug:
        found = f"was given {slug!r}, not a Petition or its slug (a misspelt context variable?)"
    else:
        found = f"no petition has the slug {slug!r}"
    return (
        f"{{% petition_form %}}: {found}. Add petitions with `python manage.py add_petition`, which prints the "
        "path /petitions/<slug>/. (Shown only with DEBUG on.)"
    )
