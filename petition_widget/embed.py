"""Embedding a petition's form in another site's page: allowed origins, the frame's theme, the POST's origin.

The embed page (:class:`petition_widget.views.EmbedView`) is the widget alone, in an ``<iframe>`` that
``static/petition_widget/embed.js`` inserts into any page. The frame lives on a site that is not ours, so
its browser may block our cookies there (third-party cookies): the embed cannot lean on Django's CSRF
cookie or a session. What protects it instead (docs/embedding.md has the reasoning):

* **who may frame it**: ``Content-Security-Policy: frame-ancestors`` lists exactly the petition's
  :attr:`~petition_widget.models.Petition.embed_origins` (``'none'`` when empty): the browser refuses
  to show the form inside any other page, so no other site can dress it up or clickjack it;
* **who may post to it**: :func:`post_origin_refusal` accepts only a POST that the browser says comes
  from our own origin (``Origin``, and ``Sec-Fetch-Site: same-origin`` where sent): the form inside the
  frame is ours, while a page elsewhere posting to the embed URL carries its own origin;
* the **signed single-use form token**, the honeypot and the **rate limits** of :mod:`petition_widget.abuse`,
  as on the form page.

The theme comes from the embed code's parameters and reaches the page only as validated CSS values
(:func:`theme_from`): hex colours, a font from a safe list or a name of letters, digits, spaces and
hyphens, a radius in whole pixels. Anything else is dropped, never copied into CSS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest

    from .models import Petition

# --- allowed origins --------------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_RE = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$")


def normalize_origin(value: str) -> str | None:
    """``value`` as a serialized origin (``scheme://host[:port]``, lower case, no default port), or ``None``.

    Only ``http`` and ``https`` origins are accepted, with no path, query, fragment or user name: the form
    of an ``Origin`` header and of a CSP source expression alike. An internationalised host name must be
    written in its ``xn--`` form.
    """
    value = value.strip()
    if not value or any(c.isspace() or c in ";,'\"" for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme not in DEFAULT_PORTS
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or value.endswith("?")
        or value.endswith("#")
    ):
        return None
    if ":" in host:
        host = f"[{host}]"
    if not HOST_RE.match(host):
        return None
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def parse_origins(text: str) -> tuple[list[str], list[str]]:
    """The normalised origins of ``text`` (one a line; blank lines ignored) and the lines that are not origins."""
    origins: list[str] = []
    bad: list[str] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        origin = normalize_origin(line)
        if origin is None:
            bad.append(line.strip())
        elif origin not in origins:
            origins.append(origin)
    return origins, bad


def validate_embed_origins(text: str) -> None:
    """The model field's validator: every non-blank line must be an origin."""
    _origins, bad = parse_origins(text)
    if bad:
        raise ValidationError(
            _(
                "Not an origin: %(lines)s. Write one origin a line, a scheme and a host with an optional port, "
                "without a path: https://blog.example or http://localhost:8080."
            ),
            code="invalid_origin",
            params={"lines": ", ".join(bad)},
        )


def frame_ancestors(petition: Petition, *, preview: bool = False) -> str:
    """The ``Content-Security-Policy`` value of ``petition``'s embed page: exactly its allowed origins.

    The admin's preview (a signed address, see :func:`preview_token`) may be framed by our own pages alone.
    """
    if preview:
        return "frame-ancestors 'self'"
    origins, _bad = parse_origins(petition.embed_origins)
    return "frame-ancestors " + (" ".join(origins) if origins else "'none'")


def parent_origin(petition: Petition, value: str) -> str:
    """``value`` (the page that frames the form, as ``embed.js`` passes it) if it may frame it, else ``""``.

    The frame posts its height to that origin only; the browser enforces the same list through CSP.
    """
    origin = normalize_origin(value or "")
    return origin if origin is not None and origin in parse_origins(petition.embed_origins)[0] else ""


# --- the admin's preview ----------------------------------------------------------------------------

PREVIEW_SALT = "petition_widget.embed.preview"
PREVIEW_MAX_AGE = 12 * 3600


def preview_token(petition: Petition) -> str:
    """A signed value that lets our own pages frame ``petition``'s embed page (the admin's live preview)."""
    return signing.TimestampSigner(salt=PREVIEW_SALT).sign(str(petition.pk))


def is_preview(petition: Petition, token: str) -> bool:
    """Whether ``token`` is a fresh :func:`preview_token` of ``petition``."""
    try:
        value = signing.TimestampSigner(salt=PREVIEW_SALT).unsign(token or "", max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        return False
    return value == str(petition.pk)


# --- the origin of a POST ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OriginRefusal:
    """Why an embed POST was refused before its body was read: a code for the log and the reader's message."""

    code: str
    message: str


CROSS_ORIGIN = OriginRefusal(
    "cross_origin", str(_("This form can only be sent from the petition's own page or its embedded form."))
)
NO_ORIGIN = OriginRefusal(
    "no_origin", str(_("Your browser did not say where this form was sent from. Please reload it and try again."))
)


def own_origin(request: HttpRequest) -> str:
    """The origin the request was addressed to (its scheme and ``Host``), as a browser writes ``Origin``."""
    return normalize_origin(f"{request.scheme}://{request.get_host()}") or ""


def post_origin_refusal(request: HttpRequest) -> OriginRefusal | None:
    """``None`` when the browser vouches that ``request`` comes from a page of our own origin.

    ``Origin`` must be ours when sent (every current browser sends it with a form POST); without it,
    ``Sec-Fetch-Site`` must say ``same-origin``. ``Sec-Fetch-Site``, when sent, must say ``same-origin``
    in any case: ``same-site`` would let another host of the same site post. A request that carries
    neither header is not from a current browser's form and is refused. Non-browser clients can forge
    both headers, but they could never use a victim's cookies either: what stops them is the form
    token and the rate limits.
    """
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return CROSS_ORIGIN
    if origin is not None and origin != "null":
        return None if normalize_origin(origin) == own_origin(request) else CROSS_ORIGIN
    if fetch_site == "same-origin":
        return None
    return CROSS_ORIGIN if origin == "null" else NO_ORIGIN


# --- the theme ----------------------------------------------------------------------------------------

COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
# Generic families and fonts found on nearly every system; any other name must be plain.
SAFE_FONTS = {
    "system-ui": "system-ui, sans-serif",
    "sans-serif": "sans-serif",
    "serif": "serif",
    "monospace": "monospace",
    "georgia": "Georgia, serif",
    "helvetica": "Helvetica, Arial, sans-serif",
    "arial": "Arial, Helvetica, sans-serif",
    "verdana": "Verdana, sans-serif",
    "times": '"Times New Roman", Times, serif',
}
FONT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,47}[A-Za-z0-9]$")
MAX_RADIUS = 32
UNSAFE_CSS_RE = re.compile(r"[<>;{}\\]")

# Query parameter -> CSS custom property of the colours.
COLOUR_PARAMS = {
    "accent": "--pw-accent",
    "accent_text": "--pw-accent-text",
    "text": "--pw-text",
    "background": "--pw-background",
    "border": "--pw-border",
}
THEME_PARAMS = (*COLOUR_PARAMS, "font", "radius")


def font_value(value: str) -> str | None:
    """A CSS ``font-family`` for ``value``: a safe-list entry, or a plain font name quoted, before a fallback."""
    value = (value or "").strip()
    if value.lower() in SAFE_FONTS:
        return SAFE_FONTS[value.lower()]
    if FONT_NAME_RE.match(value):
        return f'"{value}", system-ui, sans-serif'
    return None


def radius_value(value: str) -> str | None:
    """``value`` as whole pixels from 0 to :data:`MAX_RADIUS` (``"6"`` or ``"6px"``), else ``None``."""
    value = (value or "").strip().lower().removesuffix("px")
    if not value.isascii() or not value.isdigit() or int(value) > MAX_RADIUS:
        return None
    return f"{int(value)}px"


@dataclass(frozen=True)
class Theme:
    """The embed page's CSS custom properties, each value already validated; and the parameters kept."""

    properties: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()

    @property
    def css(self) -> SafeString:
        """The declarations for ``:root``, for a ``<style>`` element (whose text HTML escaping would garble).

        Every value passed a pattern of its own that admits no ``<``, ``>``, ``;``, ``{``, ``}`` or ``\\``,
        so nothing can close the declaration, the rule or the element.
        """
        css = " ".join(f"{name}: {value};" for name, value in self.properties)
        assert not UNSAFE_CSS_RE.search(css.replace(";", "")), css
        return mark_safe(css)  # noqa: S308 (validated above)


def theme_from(query: Mapping[str, str]) -> Theme:
    """The theme of the embed code's parameters; an invalid value is dropped and its default stays."""
    properties: list[tuple[str, str]] = []
    params: list[tuple[str, str]] = []
    for param, prop in COLOUR_PARAMS.items():
        value = (query.get(param) or "").strip()
        if COLOUR_RE.match(value):
            properties.append((prop, value.lower()))
            params.append((param, value.lower()))
    font = font_value(query.get("font") or "")
    if font is not None:
        properties.append(("--pw-font", font))
        params.append(("font", (query.get("font") or "").strip()))
    radius = radius_value(query.get("radius") or "")
    if radius is not None:
        properties.append(("--pw-radius", radius))
        params.append(("radius", radius.removesuffix("px")))
    return Theme(tuple(properties), tuple(params))
