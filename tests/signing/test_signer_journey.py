"""The signer's journey without a browser: in-place answers, the signer's own thank-you state, the moving
count, the petition's details, sharing, the stand-alone page after a refusal, and the workers' syncs."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from example_project.blog.models import Post
from petition_widget.forwarding.worker import Worker, WorkerOptions
from petition_widget.models import ForwardingState, Petition, Signature
from petition_widget.widget import FRAGMENT_HEADER, PAGE_TITLE_MAX_LENGTH, displayed_count, signed_cookie_name

IN_PLACE = {"HTTP_X_PETITION_WIDGET": "1"}


def sign_url(petition) -> str:
    return reverse("petition_widget:sign", kwargs={"slug": petition.slug})


def post(client, petition, data, **extra):
    return client.post(sign_url(petition), data, **extra)


def count_text(html: str) -> str:
    return re.search(r'<p class="pw-count"[^>]*>(.*?)</p>', html, re.S).group(1).strip()


@pytest.fixture
def post_page(db, petition):
    return Post.objects.create(title="Bees need our help", slug="bees", body="Please sign.", petition=petition)


# --- signing in place (widget.js) ----------------------------------------------------------------------------


def test_an_in_place_submit_with_errors_gets_the_widget_alone_with_a_linked_error_summary(
    client, petition, changeorg_data
):
    response = post(client, petition, {**changeorg_data, "email": "nope", "first_name": ""}, **IN_PLACE)

    assert response.status_code == 200
    assert response[FRAGMENT_HEADER] == "1"
    assert FRAGMENT_HEADER in response["Vary"]
    html = response.content.decode()
    assert html.lstrip().startswith("<section") and "<html" not in html and "<title>" not in html
    summary = re.search(r'<div class="pw-error-summary"[^>]*data-pw-focus>(.*?)</div>', html, re.S).group(1)
    assert "There is a problem" in summary
    assert '<a href="#pw-save-the-bees-first_name">This field is required.</a>' in summary
    assert '<a href="#pw-save-the-bees-email">Enter a valid email address.</a>' in summary
    assert summary.index("first_name") < summary.index("email")  # in the order of the fields
    assert not Signature.objects.exists()


def test_an_in_place_signature_answers_the_thank_you_state_with_the_new_count(client, petition, changeorg_data):
    response = post(client, petition, {**changeorg_data, "next": "/posts/bees/"}, **IN_PLACE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you for signing!" in html and "<form" not in html
    assert count_text(html) == "251 of 1,000 signatures"
    assert 'value="http://testserver/posts/bees/"' in html  # the link to share is the host page's
    assert Signature.objects.count() == 1


def test_an_in_place_refusal_keeps_its_status(client, petition, changeorg_data):
    response = post(client, petition, {**changeorg_data, "website": "http://spam.example"}, **IN_PLACE)

    assert response.status_code == 400
    assert response[FRAGMENT_HEADER] == "1"
    assert "<html" not in response.content.decode() and "There is a problem" in response.content.decode()
    assert not Signature.objects.exists()


def test_an_in_place_submit_to_a_closed_petition_is_a_409_fragment(client, petition, changeorg_data):
    Petition.objects.filter(pk=petition.pk).update(accepts_signatures=False)
    response = post(client, petition, changeorg_data, **IN_PLACE)
    assert response.status_code == 409
    assert "<html" not in response.content.decode() and "no longer accepts signatures" in response.content.decode()


def test_the_in_place_submit_is_still_csrf_checked(petition, changeorg_data):
    response = post(Client(enforce_csrf_checks=True), petition, changeorg_data, **IN_PLACE)
    assert response.status_code == 403
    assert FRAGMENT_HEADER not in response  # widget.js then sends the form the ordinary way
    assert not Signature.objects.exists()


# --- the thank-you state only the signer sees -------------------------------------------------------------------


def test_the_thank_you_url_thanks_only_the_browser_that_signed(client, petition, post_page, changeorg_data):
    response = post(client, petition, {**changeorg_data, "next": post_page.get_absolute_url()})
    assert response.status_code == 303
    cookie = response.cookies[signed_cookie_name(petition)]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) <= 3600

    assert "Thank you for signing!" in client.get(response["Location"]).content.decode()
    other = Client().get(response["Location"]).content.decode()
    assert "Thank you for signing!" not in other and 'class="pw-form"' in other


def test_a_forged_or_another_petitions_cookie_shows_the_form(client, petition, wtp_petition, changeorg_data):
    thanks = post(client, petition, changeorg_data)["Location"]
    stranger = Client()
    stranger.cookies[signed_cookie_name(petition)] = "1"
    assert "Thank you for signing!" not in stranger.get(thanks).content.decode()
    # The cookie of one petition does not thank on another's URL.
    other = (
        reverse("petition_widget:sign", kwargs={"slug": wtp_petition.slug}) + f"?petition_signed={wtp_petition.slug}"
    )
    assert "Thank you for signing!" not in client.get(other).content.decode()


# --- a count that moves ---------------------------------------------------------------------------------------


def test_the_next_visitor_sees_the_count_one_higher(client, petition, post_page, changeorg_data):
    assert count_text(Client().get(post_page.get_absolute_url()).content.decode()) == "250 of 1,000 signatures"
    assert post(client, petition, changeorg_data).status_code == 303
    assert count_text(Client().get(post_page.get_absolute_url()).content.decode()) == "251 of 1,000 signatures"


def test_signatures_stored_before_the_last_sync_are_not_counted_twice(petition, changeorg_data):
    before, after = (
        Signature.objects.create(petition=petition, **{**changeorg_data, "email": f"{n}@example.org"})
        for n in ("before", "after")
    )
    Signature.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(hours=2))
    # The sync an hour ago counted `before` upstream (251); `after` came later.
    Petition.objects.filter(pk=petition.pk).update(signature_count=251, synced_at=timezone.now() - timedelta(hours=1))
    petition.refresh_from_db()
    assert displayed_count(petition) == 252
    # Awaiting confirmation: not counted; confirmed after the sync: counted.
    Signature.objects.filter(pk=after.pk).update(state=ForwardingState.UNCONFIRMED)
    assert displayed_count(petition) == 251
    Signature.objects.filter(pk=before.pk).update(state=ForwardingState.PENDING, confirmed_at=timezone.now())
    Signature.objects.filter(pk=after.pk).update(state=ForwardingState.PENDING)
    assert displayed_count(petition) == 253


# --- what the widget shows ---------------------------------------------------------------------------------------


def test_the_widget_shows_overview_target_and_closing_date(client, petition):
    long_overview = "<p>Bees pollinate &amp; feed us. " + "More words here. " * 30 + "</p>"
    Petition.objects.filter(pk=petition.pk).update(
        overview=long_overview,
        targets=[{"name": "Springfield City Council", "type": "custom"}, "The Mayor"],
        end_at=datetime(2030, 12, 31, 12, tzinfo=UTC),
    )
    html = client.get(sign_url(petition)).content.decode()
    excerpt = re.search(r'<p class="pw-overview-excerpt">(.*?)</p>', html, re.S).group(1)
    assert excerpt.startswith("Bees pollinate &amp; feed us.") and excerpt.endswith("…") and len(excerpt) < 260
    assert "<details" in html and "<summary>Read the whole petition</summary>" in html
    assert "&lt;p&gt;" not in html  # the upstream's markup is dropped, not shown
    assert "To:</span> Springfield City Council, The Mayor" in html
    assert "Closes on Dec. 31, 2030" in html


def test_a_short_overview_shows_whole(client, petition):
    Petition.objects.filter(pk=petition.pk).update(overview="Save them.")
    html = client.get(sign_url(petition)).content.decode()
    assert "<p>Save them.</p>" in html and "<details" not in html


def test_the_required_fields_hint_comes_first_and_checkbox_labels_have_no_colon(client, petition):
    html = client.get(sign_url(petition)).content.decode()
    assert html.index("Fields marked * are required.") < html.index('name="first_name"')
    label = re.search(r'<label for="pw-save-the-bees-hidden">(.*?)</label>', html, re.S).group(1)
    assert not label.rstrip().endswith(":")


def test_share_links_are_plain_https_links_with_the_host_page(client, petition, post_page, changeorg_data):
    thanks = post(client, petition, {**changeorg_data, "next": post_page.get_absolute_url()})["Location"]
    html = client.get(thanks).content.decode()
    links = dict(re.findall(r'class="pw-share-link pw-share-(\w+)" href="([^"]+)"', html))
    assert set(links) == {"email", "whatsapp", "facebook", "x", "bluesky", "mastodon"}
    page = "http%3A%2F%2Ftestserver%2Fposts%2Fbees%2F"
    assert links["email"].startswith("mailto:?subject=Save%20the%20bees&amp;body=")
    for name, href in links.items():
        assert page in href, name
        assert name == "email" or href.startswith("https://"), name
    assert links["mastodon"].startswith("https://s2f.kytta.dev/?text=")
    assert "petition_signed" not in html.split('class="pw-share"')[1]  # shares the page, not the thank-you URL
    assert 'id="petition-save-the-bees-share-url" value="http://testserver/posts/bees/" readonly' in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)


# --- the stand-alone page after a refusal (no JavaScript) -----------------------------------------------------


def test_after_a_refusal_the_stand_alone_page_names_and_links_the_host_page(client, petition, changeorg_data):
    data = {**changeorg_data, "email": "nope", "next": "/posts/bees/", "page_title": "Bees <need> our help"}
    html = post(client, petition, data).content.decode()

    assert re.search(r"<title>Error: Save the bees", html)
    assert '<a href="/posts/bees/">Back to “Bees &lt;need&gt; our help”</a>' in html
    assert '<h1 class="pw-title" id="petition-save-the-bees-title">Save the bees</h1>' in html
    assert '<input type="hidden" name="page_title" value="Bees &lt;need&gt; our help">' in html


def test_the_carried_page_title_is_one_short_line(client, petition, changeorg_data):
    data = {**changeorg_data, "email": "nope", "next": "/posts/bees/", "page_title": "A\n\tlong " + "x" * 500}
    html = post(client, petition, data).content.decode()
    carried = re.search(r'name="page_title" value="([^"]*)"', html).group(1)
    assert carried.startswith("A long x") and len(carried) == PAGE_TITLE_MAX_LENGTH


def test_the_template_tag_carries_the_host_pages_title(rf, petition):
    from django.template import Context, Template

    html = Template('{% load petition_widget %}{% petition_form petition page_title="Bees" %}').render(
        Context({"request": rf.get("/posts/bees/"), "petition": petition})
    )
    assert '<input type="hidden" name="page_title" value="Bees">' in html


# --- the workers keep the cache fresh --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_looping_worker_syncs_stale_open_petitions_between_batches(changeorg):
    upstream_count = changeorg.signature_count
    assert upstream_count > 0
    Petition.objects.filter(pk=changeorg.pk).update(signature_count=0, synced_at=timezone.now() - timedelta(hours=1))
    fresh = Petition.objects.create(
        provider=changeorg.provider, upstream_id="fresh", slug="fresh", title="Fresh", synced_at=timezone.now()
    )
    options = WorkerOptions(worker_id="sync-test", concurrency=1, poll_interval=0.1, sync_interval=60)
    worker = Worker(options)
    original = worker._sync_petitions

    def sync_then_stop():
        original()
        worker.stop()

    worker._sync_petitions = sync_then_stop
    stats = worker.run()

    changeorg.refresh_from_db()
    assert changeorg.signature_count == upstream_count
    assert changeorg.synced_at > timezone.now() - timedelta(minutes=1)
    # The petition synced a moment ago waits for its interval (the emulator does not know it: it would fail).
    assert stats["petitions synced"] == 1 and "petition syncs failed" not in stats
    assert Petition.objects.get(pk=fresh.pk).synced_at == fresh.synced_at


@pytest.mark.django_db(transaction=True)
def test_a_once_worker_and_a_zero_interval_do_not_sync(changeorg):
    Petition.objects.filter(pk=changeorg.pk).update(signature_count=0, synced_at=None)
    Worker(WorkerOptions(worker_id="once", concurrency=1, once=True, sync_interval=60)).run()
    changeorg.refresh_from_db()
    assert changeorg.signature_count == 0 and changeorg.synced_at is None


def test_sync_interval_is_a_declared_setting():
    from petition_widget.conf import DEFAULTS, SETTINGS

    assert any(setting.key == "SYNC_INTERVAL" for setting in SETTINGS)
    assert DEFAULTS["SYNC_INTERVAL"] == 300
