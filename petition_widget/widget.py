"""What the signing widget shows: its context, the count, the signer's own thank-you state, the share links.

The view (:class:`~petition_widget.views.SignView`) and the template tag render ``petition_widget/widget.html``
from :func:`widget_context`.

- **The count** is the upstream's at the last sync plus the signatures counted here since that sync
  (:func:`displayed_count`): the next visitor sees each new signature at once, and a signature the
  upstream counted by the next sync is not counted twice.
- **The thank-you state** shows only in the browser that signed: the redirect after a signature carries
  ``?petition_signed=<slug>`` and sets a signed, short-lived cookie for that petition; the URL alone (a
  shared link) shows the form.
- **Sharing** after signing uses plain links, no third-party script.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.core.signing import BadSignature, TimestampSigner
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import abuse
from .forms import SignatureForm, form_class_for
from .models import Petition, Signature

SIGNED_PARAM = "petition_signed"
# Sent by widget.js with an in-place submit: the answer is the widget alone, not a whole page.
FRAGMENT_HEADER = "X-Petition-Widget"
SIGNED_COOKIE_SALT = "petition_widget.signed"
# The embedded form's thank-you mark in the frame's address (its frame may keep no cookie).
SIGNED_MARK_PARAM = "signed_mark"
# How long after signing the thank-you URL still thanks the signer (a reload, the back button).
SIGNED_MAX_AGE = 3600
# The host page's title, carried through the form so that a stand-alone page can link back by name.
PAGE_TITLE_MAX_LENGTH = 200
OVERVIEW_EXCERPT_CHARS = 240
SHARE_BY_EMAIL = _("Share by e-mail")
SHARE_ON = _("Share on {site}")
CLOSED_MESSAGE = _("This petition is closed and no longer accepts signatures.")


def without_signed_param(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != SIGNED_PARAM]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def thanks_url(url: str, petition: Petition) -> str:
    """`url` with the marker that makes the form show its thank-you state, anchored on the widget."""
    parts = urlsplit(without_signed_param(url))
    query = parse_qsl(parts.query, keep_blank_values=True) + [(SIGNED_PARAM, petition.slug)]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=f"petition-{petition.slug}"))


def wants_fragment(request: HttpRequest) -> bool:
    """Whether the request comes from widget.js's in-place submit, which takes the widget alone."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


# -- the signer's own thank-you state ---------------------------------------------------------------------


def signed_cookie_name(petition: Petition) -> str:
    return f"pw_signed_{petition.slug}"


def remember_signer(response: HttpResponse, request: HttpRequest, petition: Petition) -> None:
    """Mark this browser as the one that just signed `petition` (a signed cookie, an hour, HTTP only)."""
    response.set_signed_cookie(
        signed_cookie_name(petition),
        str(petition.pk),
        salt=f"{SIGNED_COOKIE_SALT}:{petition.slug}",
        max_age=SIGNED_MAX_AGE,
        httponly=True,
        secure=request.is_secure(),
        samesite="Lax",
    )


def thanks_params(petition: Petition) -> dict[str, str]:
    """Query parameters of a thank-you address that shows the thank-you state without the signer's cookie.

    For the embedded form, whose frame may keep no cookies: the mark is signed and lasts as long as the cookie;
    the address stays inside the frame, never in the host page's address bar, so it is not shared by accident.
    """
    mark = TimestampSigner(salt=f"{SIGNED_COOKIE_SALT}:{petition.slug}").sign(str(petition.pk))
    return {SIGNED_PARAM: petition.slug, SIGNED_MARK_PARAM: mark}


def signed_here(request: HttpRequest, petition: Petition) -> bool:
    """Whether the page is the thank-you URL of `petition` and this browser is the one that signed it."""
    if request.GET.get(SIGNED_PARAM) != petition.slug:
        return False
    mark = request.GET.get(SIGNED_MARK_PARAM)
    if mark:
        try:
            value = TimestampSigner(salt=f"{SIGNED_COOKIE_SALT}:{petition.slug}").unsign(mark, max_age=SIGNED_MAX_AGE)
        except BadSignature:
            return False
        return value == str(petition.pk)
    value = request.get_signed_cookie(
        signed_cookie_name(petition),
        default=None,
        salt=f"{SIGNED_COOKIE_SALT}:{petition.slug}",
        max_age=SIGNED_MAX_AGE,
    )
    return value == str(petition.pk)


# -- what the widget shows ---------------------------------------------------------------------------------


def displayed_count(petition: Petition) -> int:
    """The upstream's count at the last sync plus the signatures counted here since then.

    A signature counts here from when it was stored or, awaiting confirmation, confirmed; one stored
    before the sync was either in the upstream's count already or reaches it by the next sync. So the
    count moves with each signature and never counts one twice (it may lag by the signatures still on
    their way when the sync ran, until the next one).
    """
    local = Signature.objects.counted().filter(petition_id=petition.pk)
    if petition.synced_at is not None:
        local = local.filter(Q(created_at__gt=petition.synced_at) | Q(confirmed_at__gt=petition.synced_at))
    return petition.signature_count + local.count()


def target_names(petition: Petition) -> list[str]:
    """The names of those the petition addresses, from the cached upstream targets."""
    names = []
    for target in petition.targets or []:
        name = target.get("name") if isinstance(target, dict) else target
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def overview_text(petition: Petition) -> str:
    """The petition's overview as plain text (upstreams send HTML): tags dropped, entities decoded."""
    return html.unescape(strip_tags(petition.overview or "")).strip()


def clean_page_title(title: str) -> str:
    """The host page's title as the form carries it: one line, at most ``PAGE_TITLE_MAX_LENGTH`` characters."""
    return " ".join(str(title or "").split())[:PAGE_TITLE_MAX_LENGTH]


def share_links(url: str, title: str) -> list[dict[str, str]]:
    """Plain share links for `url`: nothing loads from those sites until the signer follows one.

    Mastodon has no one address to share to: Share₂Fedi (s2f.kytta.dev, open source, no cookies or
    analytics) asks for the signer's instance and forwards the text there.
    """
    text, title_q, url_q = quote(f"{title} {url}", safe=""), quote(title, safe=""), quote(url, safe="")
    sites = [
        ("whatsapp", "WhatsApp", f"https://wa.me/?text={text}"),
        ("facebook", "Facebook", f"https://www.facebook.com/sharer/sharer.php?u={url_q}"),
        ("x", "X", f"https://x.com/intent/post?text={title_q}&url={url_q}"),
        ("bluesky", "Bluesky", f"https://bsky.app/intent/compose?text={text}"),
        ("mastodon", "Mastodon", f"https://s2f.kytta.dev/?text={text}"),
    ]
    links = [{"name": "email", "label": SHARE_BY_EMAIL, "href": f"mailto:?subject={title_q}&body={text}"}]
    links += [{"name": name, "label": format_lazy(SHARE_ON, site=site), "href": href} for name, site, href in sites]
    return links


def widget_context(
    request: HttpRequest,
    petition: Petition,
    *,
    form: SignatureForm | None = None,
    next_url: str = "",
    page_title: str = "",
    protection: abuse.ProtectionForm | None = None,
    refusal: abuse.Refusal | None = None,
    signed: bool | None = None,
    heading_level: int = 2,
) -> dict:
    """Everything ``petition_widget/widget.html`` needs; shared by the view and the template tag.

    ``protection`` carries the form token, the honeypot and the captcha (new ones unless given);
    ``refusal`` is why the last submission was turned away, shown above the form. ``signed`` forces the
    thank-you state (an in-place submit that stored a signature); by default it shows on the thank-you URL
    in the browser that signed. ``next_url`` and ``page_title`` name the host page; ``heading_level`` is the
    petition title's (1 on the stand-alone page).
    """
    if signed is None:
        signed = signed_here(request, petition)
    shows_form = not signed and petition.accepts_signatures
    if form is None and shows_form:
        form = form_class_for(petition)(petition=petition)
    if protection is None and shows_form:
        protection = abuse.ProtectionForm(petition=petition)
    count = displayed_count(petition)
    share_url = request.build_absolute_uri(without_signed_param(next_url or request.get_full_path()))
    errors = []
    if form is not None and form.is_bound:
        for field in form:
            errors.extend({"id": field.id_for_label, "message": message} for message in field.errors)
        errors.extend({"id": "", "message": message} for message in form.non_field_errors())
    return {
        "petition": petition,
        "form": form,
        "protection": protection,
        "refusal": refusal,
        "error_list": errors,
        "signed": signed,
        "closed_message": None if petition.accepts_signatures else CLOSED_MESSAGE,
        "form_action": reverse("petition_widget:sign", kwargs={"slug": petition.slug}),
        "next_url": next_url,
        "page_title": clean_page_title(page_title),
        "notice_template": f"petition_widget/notice_{petition.provider}.html",
        "count": count,
        "percent": min(100, count * 100 // petition.goal) if petition.goal else 0,
        "targets": target_names(petition),
        "overview": overview_text(petition),
        "overview_excerpt_chars": OVERVIEW_EXCERPT_CHARS,
        "heading_level": heading_level,
        "sub_heading_level": heading_level + 1,
        "share_url": share_url,
        "share_links": share_links(share_url, petition.title) if signed else [],
    }
