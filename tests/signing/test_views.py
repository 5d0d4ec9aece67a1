"""The form page: rendering, Post/Redirect/Get, errors, duplicates, closed petitions, hostile requests."""

import re

import pytest
from django.test import Client

from petition_widget.models import ForwardingState, Signature
from tests.factories import post_signature, sign_url

CHANGEORG_NOTICE = "This petition is powered by Change.org. By signing, you accept Change.org's"
WTP_NOTICE = "This app uses the We the People API, but is neither endorsed nor certified by the White House."


def test_form_page_renders_fields_labels_progress_and_notice(client, petition):
    response = client.get(sign_url(petition))
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "first_name",
        "last_name",
        "email",
        "address",
        "city",
        "state_province",
        "postal_code",
        "country_code",
        "phone",
        "reason",
        "hidden",
    ):
        field_id = f"pw-save-the-bees-{name}"
        assert f'name="{name}"' in html
        assert f'<label for="{field_id}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<progress id="petition-save-the-bees-progress" max="1000" value="250"' in html
    assert 'aria-valuetext="250 of 1,000 signatures"' in html
    notice = html.index(CHANGEORG_NOTICE)
    assert html.rindex("</form>") < notice  # directly below the form
    assert 'href="https://www.change.org/about/terms-of-service"' in html
    assert 'href="https://www.change.org/about/privacy"' in html
    assert WTP_NOTICE not in html


def test_wethepeople_form_carries_its_notice(client, wtp_petition):
    html = client.get(sign_url(wtp_petition)).content.decode()
    assert WTP_NOTICE in html
    assert html.rindex("</form>") < html.index(WTP_NOTICE)
    assert 'name="zip"' in html and 'name="signup"' in html and 'name="city"' not in html
    assert CHANGEORG_NOTICE not in html


def test_unknown_petition_is_404(client, db):
    assert client.get("/petitions/no-such-petition/").status_code == 404


def test_successful_signature_redirects_to_the_thank_you_state(client, petition, changeorg_data):
    response = post_signature(client, petition, changeorg_data)
    assert response.status_code == 303
    assert response["Location"] == "/petitions/save-the-bees/?petition_signed=save-the-bees#petition-save-the-bees"
    signature = Signature.objects.get()
    assert signature.petition == petition
    assert signature.email_normalized == "ada@example.com"
    assert signature.state == ForwardingState.PENDING
    thanks = client.get(response["Location"]).content.decode()
    assert "Thank you for signing!" in thanks
    assert "<form" not in thanks


def test_wethepeople_signature_is_stored(client, wtp_petition, wtp_data):
    response = post_signature(client, wtp_petition, {**wtp_data, "zip": "20500", "signup": "on"})
    assert response.status_code == 303
    signature = Signature.objects.get()
    assert (signature.postal_code, signature.signup, signature.country_code) == ("20500", True, "")


def test_errors_render_next_to_each_field_and_store_nothing(client, petition, changeorg_data):
    data = {**changeorg_data, "email": "nope", "country_code": "XX", "first_name": "<script>"}
    response = post_signature(client, petition, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert Signature.objects.count() == 0
    assert 'role="alert"' in html
    for name in ("email", "country_code", "first_name"):
        field_id = f"pw-save-the-bees-{name}"
        assert f'<ul class="errorlist" id="{field_id}_error">' in html
        tag = re.search(rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in tag and f'aria-describedby="{field_id}_error"' in tag
    assert "Enter a valid email address." in html
    assert "&lt;script&gt;" in html and "<script>" not in html  # the refused value is escaped
    assert 'value="London"' in html  # what was right is kept
    assert CHANGEORG_NOTICE in html
    # The stand-alone page's heading is the petition's title
    assert "Save the bees</h1>" in html and 'aria-valuetext="250 of 1,000 signatures"' in html


@pytest.mark.parametrize("variant", ["ada@example.com", "ADA@EXAMPLE.COM", "  Ada@Example.com ", "aDa@eXample.COM"])
def test_second_signature_of_the_same_email_is_refused_kindly(client, petition, changeorg_data, variant):
    assert post_signature(client, petition, changeorg_data).status_code == 303
    response = post_signature(client, petition, {**changeorg_data, "email": variant, "first_name": "Augusta"})
    assert response.status_code == 200
    assert "This e-mail address has already signed this petition." in response.content.decode()
    assert Signature.objects.count() == 1
    assert Signature.objects.get().first_name == "Ada"


def test_equivalent_email_addresses_cannot_sign_twice(client, petition, changeorg_data):
    data = {**changeorg_data, "email": "x@example.com"}
    assert post_signature(client, petition, data).status_code == 303
    # Full-width letters in the domain, then soft hyphens (in the domain, in the local part): the same address.
    for variant in ("x@\uff45xample.com", "x@exam\u00adple.com", "x\u00ad@example.com"):
        response = post_signature(client, petition, {**data, "email": variant, "first_name": "Augusta"})
        assert response.status_code == 200
        assert "This e-mail address has already signed this petition." in response.content.decode()
    assert list(Signature.objects.values_list("email", "email_normalized")) == [("x@example.com", "x@example.com")]


def test_same_email_may_sign_another_petition(client, petition, wtp_petition, changeorg_data):
    assert post_signature(client, petition, changeorg_data).status_code == 303
    data = {k: changeorg_data[k] for k in ("first_name", "last_name", "email")}
    assert post_signature(client, wtp_petition, data).status_code == 303
    assert Signature.objects.count() == 2


def test_closed_petition_shows_a_message_and_refuses(client, petition, changeorg_data):
    petition.accepts_signatures = False
    petition.save()
    html = client.get(sign_url(petition)).content.decode()
    assert "This petition is closed and no longer accepts signatures." in html
    assert "<form" not in html
    response = post_signature(client, petition, changeorg_data)
    assert response.status_code == 409
    assert Signature.objects.count() == 0


def test_csrf_is_enforced(petition, changeorg_data):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(sign_url(petition), changeorg_data).status_code == 403
    page = strict.get(sign_url(petition))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert strict.post(sign_url(petition), {**changeorg_data, "csrfmiddlewaretoken": token}).status_code == 303
    assert Signature.objects.count() == 1


def test_oversize_body_is_refused_before_parsing(client, petition, changeorg_data):
    response = post_signature(client, petition, {**changeorg_data, "reason": "x" * 20_000})
    assert response.status_code == 413
    assert Signature.objects.count() == 0


OWN_PAGE_THANKS = "/petitions/save-the-bees/?petition_signed=save-the-bees#petition-save-the-bees"


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/posts/bees/?page=2", "/posts/bees/?page=2&petition_signed=save-the-bees#petition-save-the-bees"),
        ("https://evil.example/phish", OWN_PAGE_THANKS),
        ("//evil.example/", OWN_PAGE_THANKS),
    ],
)
def test_next_is_followed_only_on_this_site(client, petition, changeorg_data, next_url, location):
    response = post_signature(client, petition, {**changeorg_data, "next": next_url})
    assert response.status_code == 303
    assert response["Location"] == location


def test_get_only_methods(client, petition):
    assert client.put(sign_url(petition)).status_code == 405
    assert client.delete(sign_url(petition)).status_code == 405
