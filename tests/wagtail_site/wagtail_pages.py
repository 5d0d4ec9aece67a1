"""The Wagtail integration on a Wagtail site of the suite's own: the petition block renders the form on a page,
signing through it works (test client and browser), petitions are snippets with a chooser.

Run under ``tests.wagtail_site.settings`` by tests/integration/test_wagtail.py, in a pytest process of its own.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect
from wagtail.models import Site

from petition_widget.models import ForwardingState, Signature
from tests.browser.test_browser import browser_page, fill_signer
from tests.factories import SIGNER, make_petition
from tests.wagtail_site.models import CampaignPage


@pytest.fixture
def petition(db):
    return make_petition()


def campaign_page(petition) -> CampaignPage:
    """A page under the site's home page: a paragraph, then the petition block."""
    body = [
        {"type": "paragraph", "value": "<p>Our city lost half its hives.</p>"},
        {"type": "petition", "value": {"petition": petition.pk if petition else None}},
    ]
    home = Site.objects.get(is_default_site=True).root_page
    page = CampaignPage(title="Bees need our help", slug="bees", body=json.dumps(body))
    home.add_child(instance=page)
    page.save_revision().publish()
    return page


def test_a_page_with_the_petition_block_renders_the_form_and_its_notice(client, petition):
    page = campaign_page(petition)
    response = client.get(page.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Our city lost half its hives." in html
    assert 'class="pw-form"' in html and 'action="/petitions/save-the-bees/"' in html
    assert f'<input type="hidden" name="next" value="{page.url}">' in html
    assert "This petition is powered by Change.org." in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_signing_through_the_page_comes_back_to_it_with_the_thanks(client, petition):
    page = campaign_page(petition)
    client.get(page.url)
    response = client.post("/petitions/save-the-bees/", {**SIGNER, "next": page.url})
    assert response.status_code == 303
    assert response["Location"].startswith(f"{page.url}?petition_signed=save-the-bees")
    assert "Thank you for signing!" in client.get(response["Location"]).content.decode()
    assert Signature.objects.get().email_normalized == "ada@example.com"


def test_a_block_whose_petition_was_deleted_renders_nothing(client, petition):
    page = campaign_page(petition)
    petition.delete()
    response = client.get(page.url)
    assert response.status_code == 200
    assert "pw-form" not in response.content.decode()


@pytest.fixture
def editor(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("editor", password="pw"))
    return client


def test_petitions_are_snippets_listed_and_chosen_but_added_from_their_platform(editor, petition):
    listing = editor.get("/cms/snippets/petition_widget/petition/")
    assert listing.status_code == 200
    assert "Save the bees" in listing.content.decode()
    chooser = editor.get("/cms/snippets/choose/petition_widget/petition/")
    assert chooser.status_code == 200
    assert "Save the bees" in chooser.content.decode()
    assert editor.get("/cms/snippets/petition_widget/petition/add/").status_code in (302, 403)


def test_the_block_is_chosen_in_the_page_editor(editor, petition):
    page = campaign_page(petition)
    response = editor.get(f"/cms/pages/{page.pk}/edit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Petition form" in html
    assert "/cms/snippets/choose/petition_widget/petition/" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_through_a_wagtail_page_in_the_browser(live_server, upstream, changeorg):
    page = campaign_page(changeorg)
    page_url = live_server.url + page.url

    with browser_page() as browser:
        browser.goto(page_url)
        widget = browser.locator(f"#petition-{changeorg.slug}")
        expect(widget.get_by_role("heading", name=changeorg.title)).to_be_visible()
        fill_signer(browser, "ada@example.org")
        widget.get_by_role("button", name="Sign this petition").click()
        expect(browser.get_by_role("status")).to_contain_text("Thank you for signing!")
        assert browser.url == page_url  # signed in place: the signer stays on the Wagtail page
        expect(browser.get_by_role("heading", level=1)).to_have_text("Bees need our help")

    call_command("forward_signatures", "--once", "--worker-id", "wagtail-test", verbosity=0)
    signature = Signature.objects.get()
    assert (signature.email_normalized, signature.state) == ("ada@example.org", ForwardingState.SENT)
