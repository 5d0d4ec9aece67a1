"""`{% petition_form %}` inside host pages."""

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory

from example_project.blog.models import Post
from petition_widget.models import Signature

HOST = Template(
    "{% load petition_widget %}<html><body><h1>My blog</h1>{% petition_form petition %}<p>footer</p></body></html>"
)


def render(template, request, **context):
    return template.render(Context({"request": request, **context}))


def test_tag_renders_the_form_inside_a_host_template(rf: RequestFactory, petition):
    html = render(HOST, rf.get("/my/post/?page=2"), petition=petition)
    assert html.index("<h1>My blog</h1>") < html.index('<form class="pw-form"') < html.index("<p>footer</p>")
    assert 'action="/petitions/save-the-bees/"' in html
    assert '<input type="hidden" name="next" value="/my/post/?page=2">' in html
    assert "This petition is powered by Change.org." in html


def test_tag_accepts_a_slug(rf, petition):
    template = Template('{% load petition_widget %}{% petition_form "save-the-bees" %}')
    assert 'id="petition-save-the-bees"' in render(template, rf.get("/"))


def test_unknown_slug_renders_nothing(rf, db, caplog):
    template = Template('{% load petition_widget %}[{% petition_form "nope" %}]')
    html = render(template, rf.get("/"))
    assert html.startswith("[") and html.endswith("]") and "<" not in html
    assert "no petition with slug 'nope'" in caplog.text


def test_tag_shows_thanks_after_signing_only_to_the_signer(rf, client, petition, changeorg_data):
    response = client.post(
        f"/petitions/{petition.slug}/", {**changeorg_data, "next": "/my/post/"}, REMOTE_ADDR="192.0.2.1"
    )
    assert response.status_code == 303
    request = rf.get(response["Location"])
    request.COOKIES.update({name: morsel.value for name, morsel in response.cookies.items()})
    html = render(HOST, request, petition=petition)
    assert "Thank you for signing!" in html and "<form" not in html

    # The same URL in another browser (no cookie): the form.
    html = render(HOST, rf.get(response["Location"]), petition=petition)
    assert "Thank you for signing!" not in html and "<form" in html


def test_tag_needs_the_request(petition):
    with pytest.raises(TemplateSyntaxError, match="needs the request"):
        HOST.render(Context({"petition": petition}))


def test_blog_post_embeds_the_form_and_signing_returns_to_it(client, petition, changeorg_data):
    Post.objects.create(title="Bees", slug="bees", body="Please sign.", petition=petition)
    page = client.get("/posts/bees/")
    html = page.content.decode()
    assert page.status_code == 200 and "Please sign." in html and 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="next" value="/posts/bees/">' in html
    response = client.post("/petitions/save-the-bees/", {**changeorg_data, "next": "/posts/bees/"})
    assert response["Location"] == "/posts/bees/?petition_signed=save-the-bees#petition-save-the-bees"
    assert "Thank you for signing!" in client.get(response["Location"]).content.decode()
    assert Signature.objects.filter(petition=petition).count() == 1


def test_host_can_override_blocks(tmp_path, settings, rf, petition):
    override = tmp_path / "petition_widget" / "widget.html"
    override.parent.mkdir()
    override.write_text(
        '{% extends "petition_widget/widget.html" %}{% block submit %}<button>Add my name</button>{% endblock %}'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    template = Template("{% load petition_widget %}{% petition_form petition %}")
    html = render(template, rf.get("/"), petition=petition)
    assert "<button>Add my name</button>" in html and "Sign this petition" not in html
    assert "This petition is powered by Change.org." in html
