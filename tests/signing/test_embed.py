"""The embed page: framing rules, the POST's origin check in place of CSRF cookies, the theme, the origins field,
the embed code in the admin, and the example site serving the embed script itself."""

import re
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from petition_widget import abuse, embed
from petition_widget.models import Signature
from tests.factories import SIGNER, make_petition

OUR_ORIGIN = "http://testserver"
PARTNER = "https://partner.example"
TOKEN_INPUT = re.compile(r'<input type="hidden" name="form_token" value="([^"]*)"')
MIN_SECONDS = 600


def embed_url(petition, query: str = "") -> str:
    url = reverse("petition_widget:embed", kwargs={"slug": petition.slug})
    return f"{url}?{query}" if query else url


def cookieless() -> Client:
    """A browser whose third-party cookies are blocked: it sends and keeps none (and Django's test client
    checks no CSRF unless told to: this one is told to)."""
    return Client(enforce_csrf_checks=True)


def post_embed(client, petition, data, *, origin=OUR_ORIGIN, fetch_site="same-origin", query="", **extra):
    headers = {}
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    if fetch_site is not None:
        headers["HTTP_SEC_FETCH_SITE"] = fetch_site
    return client.post(embed_url(petition, query), data, **headers, **extra)


@pytest.fixture
def abuse_on(settings, fresh_cache):
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "SIGN_MIN_SECONDS": MIN_SECONDS,
        "SIGN_FORM_MAX_AGE": 3600,
        "RATE_LIMIT_CACHE": fresh_cache,
    }


def old_token(petition) -> str:
    return abuse.make_form_token(petition, issued_at=time.time() - MIN_SECONDS - 5)


# --- the page and who may frame it --------------------------------------------------------------------


def test_embed_page_is_the_widget_alone_with_its_notice_and_no_csrf_token(petition):
    response = cookieless().get(embed_url(petition))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<body class="pw-embed"' in html
    assert 'class="pw-form"' in html and f'action="{embed_url(petition)}"' in html
    assert "This petition is powered by Change.org." in html
    assert html.rindex("</form>") < html.index('id="petition-save-the-bees-notice"')
    assert "csrfmiddlewaretoken" not in html
    assert TOKEN_INPUT.search(html), "the signed form token stays"
    assert "petition_widget/embed-frame.js" in html
    # Nothing to keep in a cookie the browser may block: no CSRF cookie, no session.
    assert not response.cookies
    assert "<header" not in html, "not the host site's base template"


def test_embed_page_may_be_framed_by_nobody_by_default(petition):
    response = Client().get(embed_url(petition))
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "X-Frame-Options" not in response


def test_embed_page_may_be_framed_by_exactly_the_allowed_origins(petition):
    petition.embed_origins = "https://Partner.example/\n\nhttp://localhost:8080\nhttps://partner.example:443"
    petition.save()
    response = Client().get(embed_url(petition))
    assert response["Content-Security-Policy"] == "frame-ancestors https://partner.example http://localhost:8080"
    assert "X-Frame-Options" not in response
    assert response["Cache-Control"] == "private, no-store"


def test_every_other_page_keeps_the_hosts_x_frame_options(petition):
    petition.embed_origins = PARTNER
    petition.save()
    for url in (petition.get_absolute_url(), "/", "/admin/login/"):
        response = Client().get(url)
        assert response["X-Frame-Options"] == "DENY", url
        assert "frame-ancestors" not in response.get("Content-Security-Policy", ""), url


def test_only_an_allowed_parent_origin_receives_the_frames_height(petition):
    petition.embed_origins = PARTNER
    petition.save()
    allowed = Client().get(embed_url(petition, f"parent={PARTNER}")).content.decode()
    assert f'data-parent-origin="{PARTNER}"' in allowed
    other = Client().get(embed_url(petition, "parent=https://evil.example")).content.decode()
    assert "data-parent-origin" not in other


def test_embed_page_of_an_unknown_petition_is_404(db):
    assert Client().get("/petitions/nope/embed/").status_code == 404


# --- signing without cookies -------------------------------------------------------------------------


def test_a_cookieless_post_from_the_frame_signs_and_shows_the_thanks_in_the_frame(petition, abuse_on):
    client = cookieless()
    token = old_token(petition)
    query = f"accent=%23aa0000&parent={PARTNER}"
    response = post_embed(client, petition, {**SIGNER, "form_token": token}, query=query)
    assert response.status_code == 303
    location = response["Location"]
    assert location.startswith(embed_url(petition) + "?")
    assert "accent=%23aa0000" in location and "petition_signed=save-the-bees" in location
    assert "#" not in location
    assert Signature.objects.get().email_normalized == "ada@example.com"
    thanks = client.get(location).content.decode()
    assert "Thank you for signing!" in thanks and "<form" not in thanks


def test_the_embed_form_token_is_single_use(petition, abuse_on):
    token = old_token(petition)
    assert post_embed(cookieless(), petition, {**SIGNER, "form_token": token}).status_code == 303
    replay = post_embed(cookieless(), petition, {**SIGNER, "email": "other@example.org", "form_token": token})
    assert replay.status_code == 400
    assert str(abuse.REPLAYED.message) in replay.content.decode()
    assert Signature.objects.count() == 1


def test_an_embed_post_without_a_form_token_is_refused(petition, abuse_on):
    response = post_embed(cookieless(), petition, SIGNER)
    assert response.status_code == 400
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    ("origin", "fetch_site", "why"),
    [
        ("https://evil.example", "cross-site", "another site's page posting to the embed URL"),
        (PARTNER, "cross-site", "even an allowed framing site: only the frame's own form posts"),
        ("http://testserver.evil.example", None, "a look-alike origin, no fetch metadata"),
        ("https://testserver", None, "our host under another scheme"),
        (OUR_ORIGIN, "same-site", "a sibling host of our site forging nothing but fetch metadata"),
        (None, "cross-site", "no Origin, cross-site by fetch metadata"),
        (None, None, "neither header: not a browser's form"),
        ("null", None, "an opaque origin (a sandboxed frame, a data: page)"),
    ],
)
def test_an_embed_post_not_from_our_own_origin_is_refused_before_anything_is_read(
    petition, abuse_on, origin, fetch_site, why
):
    response = post_embed(
        cookieless(), petition, {**SIGNER, "form_token": old_token(petition)}, origin=origin, fetch_site=fetch_site
    )
    assert response.status_code == 403, why
    assert not Signature.objects.exists()


def test_a_same_origin_post_without_an_origin_header_passes_on_fetch_metadata(petition):
    response = post_embed(cookieless(), petition, SIGNER, origin=None, fetch_site="same-origin")
    assert response.status_code == 303


def test_a_post_from_an_older_browser_without_fetch_metadata_passes_on_origin(petition):
    response = post_embed(cookieless(), petition, SIGNER, fetch_site=None)
    assert response.status_code == 303


def test_embed_errors_render_the_form_again_in_the_frame_with_the_theme(petition):
    response = post_embed(cookieless(), petition, {**SIGNER, "email": "nope"}, query="radius=3")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="pw-error-summary"' in html and 'role="alert"' in html
    assert "--pw-radius: 3px;" in html
    assert 'value="Ada"' in html
    assert not Signature.objects.exists()


def test_a_duplicate_address_is_a_field_error_in_the_frame(petition):
    assert post_embed(cookieless(), petition, SIGNER).status_code == 303
    again = post_embed(cookieless(), petition, SIGNER)
    assert again.status_code == 200
    assert "pw-field-email pw-invalid" in again.content.decode()
    assert Signature.objects.count() == 1


def test_an_oversized_embed_post_is_refused_unread(petition, settings):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "MAX_REQUEST_BYTES": 100}
    response = post_embed(cookieless(), petition, {**SIGNER, "reason": "x" * 500})
    assert response.status_code == 413
    assert not Signature.objects.exists()


def test_a_closed_petition_embeds_its_closed_message(db):
    petition = make_petition(accepts_signatures=False)
    assert "no longer accepts signatures" in Client().get(embed_url(petition)).content.decode()
    assert post_embed(cookieless(), petition, SIGNER).status_code == 409
    assert not Signature.objects.exists()


# --- the theme -------------------------------------------------------------------------------------------


def test_the_theme_parameters_become_css_custom_properties(petition):
    query = (
        "accent=%23AA0000&accent_text=%23fff&text=%23111111&background=%23ffffffcc&border=%23ccc&font=Georgia&radius=8"
    )
    html = Client().get(embed_url(petition, query)).content.decode()
    style = re.search(r"<style>:root \{ (.*?) \}</style>", html).group(1)
    assert style == (
        "--pw-accent: #aa0000; --pw-accent-text: #fff; --pw-text: #111111; --pw-background: #ffffffcc; "
        "--pw-border: #ccc; --pw-font: Georgia, serif; --pw-radius: 8px;"
    )
    assert f'action="{embed_url(petition)}?accent=%23AA0000' in html


@pytest.mark.parametrize(
    "query",
    [
        "accent=red;}body{display:none",
        "accent=%23fff;background:url(https://evil.example/x)",
        "text=</style><script>alert(1)</script>",
        'font=Arial";}body{background:url(//evil.example)}',
        "font=a</style><script>alert(1)</script>",
        "font=" + "x" * 80,
        "radius=5;}*{display:none",
        "radius=999",
        "radius=-3",
        "background=expression(alert(1))",
    ],
)
def test_a_theme_value_that_is_not_a_plain_value_is_dropped(petition, query):
    html = Client().get(embed_url(petition, query)).content.decode()
    assert "<style>" not in html
    assert "evil.example" not in html.split("<body")[0]
    assert "<script>alert" not in html
    assert "display:none" not in html


def test_a_plain_font_name_is_quoted_before_a_fallback():
    assert embed.font_value("Open Sans") == '"Open Sans", system-ui, sans-serif'
    assert embed.font_value("serif") == "serif"
    assert embed.radius_value("12px") == "12px"


# --- the allowed origins ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "origin"),
    [
        ("https://blog.example", "https://blog.example"),
        ("HTTPS://Blog.Example/", "https://blog.example"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://blog.example:443", "https://blog.example"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_an_origin_is_normalised(line, origin):
    assert embed.normalize_origin(line) == origin


@pytest.mark.parametrize(
    "line",
    [
        "blog.example",
        "https://blog.example/path",
        "https://blog.example?x=1",
        "https://user@blog.example",
        "ftp://blog.example",
        "https://*.blog.example",
        "https://blog.example 'unsafe-inline'",
        "https://blog.example;script-src *",
        "'self'",
        "*",
        "https://bücher.example",
        "https://blog.example:99999",
    ],
)
def test_a_line_that_is_not_an_origin_is_a_clear_error(petition, line):
    petition.embed_origins = f"https://ok.example\n{line}"
    with pytest.raises(ValidationError) as raised:
        petition.full_clean()
    assert "Not an origin" in str(raised.value.message_dict["embed_origins"])
    assert line.strip() in str(raised.value.message_dict["embed_origins"])


# --- the admin --------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def test_the_admin_petition_page_shows_the_embed_code_with_a_copy_button_and_a_preview(admin_client, petition):
    html = admin_client.get(reverse("admin:petition_widget_petition_change", args=[petition.pk])).content.decode()
    assert 'name="embed_origins"' in html
    assert "data-petition=&quot;save-the-bees&quot;" in html
    assert "/static/petition_widget/embed.js" in html
    assert "&lt;noscript&gt;" in html and "/petitions/save-the-bees/" in html
    assert "pw-embed-copy" in html
    preview = re.search(r'<iframe[^>]*class="pw-embed-preview-frame"[^>]*src="([^"]+)"', html)
    assert preview, "no live preview"
    # The preview frame is framed by the admin's own origin, allowed for that signed address alone.
    framed = admin_client.get(preview.group(1).replace("&amp;", "&"))
    assert framed["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert '<fieldset class="pw-embed-preview" disabled>' in framed.content.decode()
    forged = admin_client.get(embed_url(petition, "preview=forged"))
    assert forged["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_the_admin_saves_the_allowed_origins_and_refuses_a_bad_one(admin_client, petition):
    url = reverse("admin:petition_widget_petition_change", args=[petition.pk])
    form = {
        "provider": petition.provider,
        "upstream_id": petition.upstream_id,
        "slug": petition.slug,
        "accepts_signatures": "on",
        "title": petition.title,
        "signature_count": 250,
        "goal": 1000,
        "targets": "[]",
        "embed_origins": "https://partner.example\nnot an origin",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "Not an origin: not an origin." in refused.content.decode()
    form["embed_origins"] = "https://partner.example\r\nhttp://localhost:8080"
    assert admin_client.post(url, form).status_code == 302
    petition.refresh_from_db()
    assert embed.parse_origins(petition.embed_origins)[0] == ["https://partner.example", "http://localhost:8080"]


# --- the script is served by the site itself ---------------------------------------------------------


def test_the_example_site_serves_the_embed_scripts_itself_with_debug_off(settings):
    assert settings.DEBUG is False
    for name in ("embed.js", "embed-frame.js", "embed.css"):
        response = Client().get(f"/static/petition_widget/{name}")
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100
