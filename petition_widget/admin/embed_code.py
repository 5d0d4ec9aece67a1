"""The embed code of a petition in its admin page: the snippet to paste, a copy button and a live preview."""

from __future__ import annotations

from urllib.parse import urlencode, urljoin

from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString

from ..conf import app_settings
from ..embed import preview_token
from ..models import Petition

DEFAULT_EMBED_PATH = "/petitions/{slug}/embed/"


def absolute(url: str) -> str:
    """``url`` on the site's public address (``SITE_URL``) unless it is absolute already."""
    return urljoin(app_settings.SITE_URL or "/", url)


def snippet(petition: Petition) -> str:
    """The HTML a partner pastes: the script, and a link to the form page for browsers without scripts.

    ``data-embed-url`` is written only where ``embed.js`` would not find the embed page by itself (the app
    mounted under a prefix, the static files on another host).
    """
    script_url = absolute(static("petition_widget/embed.js"))
    embed_url = absolute(reverse("petition_widget:embed", kwargs={"slug": petition.slug}))
    guessed = urljoin(script_url, DEFAULT_EMBED_PATH.format(slug=petition.slug))
    context = {
        "petition": petition,
        "script_url": script_url,
        "embed_url": "" if guessed == embed_url else embed_url,
        "form_url": absolute(petition.get_absolute_url()),
    }
    return render_to_string("admin/petition_widget/petition/embed_snippet.html", context).strip()


def embed_code(petition: Petition) -> SafeString:
    """The admin's read-only block: the snippet in a text area, the copy button and the preview frame."""
    query = urlencode({"preview": preview_token(petition)})
    preview_url = f"{reverse('petition_widget:embed', kwargs={'slug': petition.slug})}?{query}"
    origins = bool(petition.embed_origins.strip())
    return render_to_string(
        "admin/petition_widget/petition/embed_code.html",
        {"petition": petition, "snippet": snippet(petition), "preview_url": preview_url, "has_origins": origins},
    )
