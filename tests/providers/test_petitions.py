"""The petition cache against the emulator over HTTP: add_petition, sync_petitions, the auth key and
its revocation callback, and the admin's "add from upstream"."""

import re
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from petition_widget.forwarding.retry import RetryPolicy
from petition_widget.forwarding.worker import Worker, WorkerOptions
from petition_widget.models import ForwardingState, Petition, Provider, Signature
from petition_widget.petitions import callback_token, request_auth_key

ELM_STREET_URL = "https://www.change.org/p/plant-trees-on-elm-street"


@pytest.fixture
def upstream(settings, emulator):
    """Point the app at the emulator."""
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "SITE_URL": "https://blog.example",
        "CHANGEORG_API_URL": emulator.changeorg_url,
        "WETHEPEOPLE_API_URL": emulator.wethepeople_url,
        "HTTP_TIMEOUT": 2.0,
    }
    return emulator


def add(*args):
    from io import StringIO

    out = StringIO()
    call_command("add_petition", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_add_changeorg_petition_by_url(upstream, db):
    path = add("changeorg", ELM_STREET_URL)
    petition = Petition.objects.get()
    assert path == "/petitions/plant-trees-on-elm-street/" == petition.get_absolute_url()
    assert (petition.provider, petition.upstream_id, petition.title) == (
        "changeorg",
        "1001",
        "Plant trees on Elm Street",
    )
    assert petition.goal == 100 and petition.status == "open" and petition.accepts_signatures
    assert petition.targets[0]["name"] == "Springfield City Council"
    assert petition.raw["petition_id"] == 1001 and petition.synced_at is not None
    assert petition.auth_key_status == "granted" and re.fullmatch(r"[0-9a-f]{32}", petition.auth_key)
    assert petition.auth_key_source == "https://blog.example/petitions/plant-trees-on-elm-street/"
    key = upstream.state.auth_key("1001", upstream.api_key, petition.auth_key_source)
    assert key is not None and key.key == petition.auth_key
    assert re.fullmatch(r"[0-9a-f]{32}", petition.auth_key_callback_nonce)
    token = callback_token("changeorg", "1001", petition.auth_key_callback_nonce)
    assert (
        key.callback_endpoint == f"https://blog.example/petitions/plant-trees-on-elm-street/auth-key-callback/{token}/"
    )


def test_add_wethepeople_petition_by_id_with_slug(upstream, db):
    assert add("wethepeople", "2001", "--slug", "libraries") == "/petitions/libraries/"
    petition = Petition.objects.get()
    assert (petition.upstream_id, petition.goal, petition.auth_key_status) == ("2001", 100000, "")
    assert petition.accepts_signatures


def test_adding_again_refreshes_and_keeps_the_slug(upstream, db):
    add("changeorg", "1001", "--slug", "trees")
    upstream.control("PATCH", "petitions/1001", json={"title": "Plant trees on Elm Street now"})
    assert add("changeorg", ELM_STREET_URL) == "/petitions/trees/"
    assert Petition.objects.get().title == "Plant trees on Elm Street now"


@pytest.mark.parametrize(
    ("provider", "ref"),
    [("changeorg", "https://www.change.org/p/no-such-thing"), ("changeorg", "999999"), ("wethepeople", "999999")],
)
def test_unknown_petition_is_a_clear_error_and_stores_nothing(upstream, db, provider, ref):
    with pytest.raises(CommandError, match="Could not add the petition"):
        add(provider, ref)
    assert not Petition.objects.exists()


def test_unreachable_upstream_is_a_clear_error(settings, db):
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "CHANGEORG_API_URL": "http://127.0.0.1:9/v1",
        "HTTP_TIMEOUT": 1.0,
    }
    with pytest.raises(CommandError, match="Could not add the petition"):
        add("changeorg", "1001")
    assert not Petition.objects.exists()


def test_closed_petition_is_added_closed(upstream, db, client):
    add("changeorg", "1002")
    petition = Petition.objects.get()
    assert not petition.accepts_signatures
    assert "no longer accepts signatures" in client.get(petition.get_absolute_url()).content.decode()


def test_sync_petitions_refreshes_count_and_closes(upstream, db, client):
    add("changeorg", "1001")
    add("wethepeople", "2001")
    upstream.control("PATCH", "petitions/1001", json={"status": "closed", "goal": 250})
    upstream.control("PATCH", "petitions/2001", json={"signature_count": 4321})
    from io import StringIO

    out = StringIO()
    call_command("sync_petitions", stdout=out)
    trees = Petition.objects.get(upstream_id="1001")
    assert (trees.status, trees.goal, trees.accepts_signatures) == ("closed", 250, False)
    assert Petition.objects.get(upstream_id="2001").signature_count == 4321
    assert "plant-trees-on-elm-street: " in out.getvalue() and "closed" in out.getvalue()
    page = client.get(trees.get_absolute_url()).content.decode()
    assert "This petition is closed and no longer accepts signatures." in page and "<form" not in page


def test_sync_reports_failures(upstream, db):
    add("changeorg", "1001")
    upstream.faults(down=True)
    with pytest.raises(CommandError, match="1 petition"):
        call_command("sync_petitions")


def test_forms_never_call_the_upstream(settings, petition, changeorg_data, client):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "CHANGEORG_API_URL": "http://127.0.0.1:9/v1"}
    assert client.get(petition.get_absolute_url()).status_code == 200
    assert client.post(petition.get_absolute_url(), changeorg_data).status_code == 303
    assert Signature.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_revocation_reaches_the_callback(settings, emulator, live_server, client, changeorg_data):
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "SITE_URL": live_server.url,
        "CHANGEORG_API_URL": emulator.changeorg_url,
        "HTTP_TIMEOUT": 2.0,
    }
    add("changeorg", "1001")
    request_auth_key(Petition.objects.get())  # the callback URL of the latest request is the one that works
    petition = Petition.objects.get()
    assert petition.auth_key_status == "granted"
    assert client.post(petition.get_absolute_url(), changeorg_data).status_code == 303
    answer = emulator.control(
        "POST", "auth_keys/revoke", json={"petition_id": "1001", "source": petition.auth_key_source}
    ).json()
    assert [callback["status"] for callback in answer["callbacks"]] == [200]
    petition.refresh_from_db()
    assert (petition.auth_key_status, petition.auth_key) == ("revoked", "")
    # Forwarding pauses, as it does for any refused credentials: nothing is sent with a revoked key.
    Signature.objects.update(next_attempt_at=None)
    options = WorkerOptions(worker_id="test-worker", concurrency=1, batch_size=5, once=True, lease_seconds=30.0)
    Worker(options, policy=RetryPolicy(max_attempts=3, base_seconds=1e-6, max_seconds=1e-6)).run()
    petition.refresh_from_db()
    assert petition.forwarding_paused_reason
    assert list(Signature.objects.values_list("state", flat=True)) == [ForwardingState.HELD]
    assert emulator.received() == []


def callback_path(upstream, petition: Petition) -> str:
    """The path of the callback URL the upstream holds for the petition's key."""
    key = upstream.state.auth_key(petition.upstream_id, upstream.api_key, petition.auth_key_source)
    return urlsplit(key.callback_endpoint).path


def test_a_leaked_callback_url_cannot_install_an_attackers_granted_key(upstream, db, client):
    add("changeorg", "1001")
    petition = Petition.objects.get()
    ours = (petition.auth_key, petition.auth_key_status, petition.auth_key_source)
    url = callback_path(upstream, petition)
    for attack in (
        {"status": "granted", "auth_key": "ATTACKER", "source": petition.auth_key_source},
        {"status": "granted", "auth_key": "ATTACKER"},
        {"status": "granted"},
    ):
        response = client.post(url, {"petition_id": "1001", **attack})
        assert response.status_code == 400 and response.json()["result"] == "failure"
        petition.refresh_from_db()
        assert (petition.auth_key, petition.auth_key_status, petition.auth_key_source) == ours
    # Re-stating the key we hold from our own request is fine, and restores nothing else.
    restated = {"petition_id": "1001", "status": "granted", "auth_key": ours[0], "source": ours[2]}
    assert client.post(url, restated).status_code == 200
    # Once the key is taken away, "granted" cannot bring it (or any other) back: the admin asks anew.
    assert client.post(url, {"petition_id": "1001", "status": "revoked"}).status_code == 200
    assert client.post(url, restated).status_code == 400
    petition.refresh_from_db()
    assert (petition.auth_key, petition.auth_key_status) == ("", "revoked")


def test_a_leaked_callback_url_cannot_set_a_foreign_source(upstream, db, client):
    add("changeorg", "1001")
    petition = Petition.objects.get()
    ours = (petition.auth_key, petition.auth_key_status, petition.auth_key_source)
    url = callback_path(upstream, petition)
    for status, key in (("granted", ours[0]), ("revoked", ""), ("denied", "")):
        for source in ("https://evil.example/", ours[2] + "x", "https://blog.example/petitions/another/"):
            data = {"petition_id": "1001", "status": status, "auth_key": key, "source": source}
            response = client.post(url, data)
            assert response.status_code == 400 and response.json() == {
                "result": "failure",
                "messages": ["unexpected source"],
            }
    petition.refresh_from_db()
    assert (petition.auth_key, petition.auth_key_status, petition.auth_key_source) == ours


def test_an_old_callback_url_answers_404_after_a_new_key_request(upstream, admin_client, client):
    add("changeorg", "1001")
    petition = Petition.objects.get()
    first_url = callback_path(upstream, petition)
    add("changeorg", "1001")  # adding again asks for the key again
    petition.refresh_from_db()
    second_url = callback_path(upstream, petition)
    changelist = reverse("admin:petition_widget_petition_changelist")
    admin_client.post(changelist, {"action": "request_new_auth_key", "_selected_action": [petition.pk]})
    petition.refresh_from_db()
    current_url = callback_path(upstream, petition)
    assert len({first_url, second_url, current_url}) == 3
    for old in (first_url, second_url):
        response = client.post(old, {"petition_id": "1001", "status": "revoked", "source": petition.auth_key_source})
        assert response.status_code == 404
    petition.refresh_from_db()
    assert petition.auth_key_status == "granted" and petition.auth_key
    response = client.post(current_url, {"petition_id": "1001", "status": "revoked"})
    assert response.status_code == 200
    petition.refresh_from_db()
    assert (petition.auth_key_status, petition.auth_key) == ("revoked", "")


def test_callback_refuses_a_wrong_token_or_status(client, petition):
    petition.auth_key, petition.auth_key_status = "a" * 32, "granted"
    petition.auth_key_callback_nonce = "b" * 32
    petition.save()
    good = reverse(
        "petition_widget:auth_key_callback",
        kwargs={
            "slug": petition.slug,
            "token": callback_token(petition.provider, petition.upstream_id, petition.auth_key_callback_nonce),
        },
    )
    bad = reverse("petition_widget:auth_key_callback", kwargs={"slug": petition.slug, "token": "0" * 32})
    assert client.post(bad, {"status": "revoked", "petition_id": petition.upstream_id}).status_code == 404
    assert client.post(good, {"status": "eaten", "petition_id": petition.upstream_id}).status_code == 400
    assert client.post(good, {"status": "revoked", "petition_id": "1"}).status_code == 400
    assert client.get(good).status_code == 405
    petition.refresh_from_db()
    assert petition.auth_key_status == "granted"
    response = client.post(good, {"status": "revoked", "petition_id": petition.upstream_id})
    assert response.status_code == 200 and response.json() == {"result": "success"}
    petition.refresh_from_db()
    assert (petition.auth_key_status, petition.auth_key) == ("revoked", "")


def test_admin_adds_a_petition_from_upstream(upstream, admin_client):
    url = reverse("admin:petition_widget_petition_add_from_upstream")
    assert (
        "Add from upstream" in admin_client.get(reverse("admin:petition_widget_petition_changelist")).content.decode()
    )
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"provider": "changeorg", "url_or_id": ELM_STREET_URL, "slug": ""})
    petition = Petition.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:petition_widget_petition_change", args=[petition.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "granted" in page and petition.auth_key not in page  # the key itself is never rendered


def test_admin_add_shows_upstream_errors(upstream, admin_client):
    url = reverse("admin:petition_widget_petition_add_from_upstream")
    response = admin_client.post(url, {"provider": "wethepeople", "url_or_id": "424242"})
    assert response.status_code == 200
    assert "The petition could not be added" in response.content.decode()
    assert not Petition.objects.exists()


def test_admin_add_needs_the_add_permission(upstream, client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    url = reverse("admin:petition_widget_petition_add_from_upstream")
    assert client.get(url).status_code == 403
    assert client.post(url, {"provider": "changeorg", "url_or_id": "1001"}).status_code == 403
    assert not Petition.objects.exists()


def test_admin_sync_and_auth_key_actions(upstream, admin_client):
    add("changeorg", "1001")
    petition = Petition.objects.get()
    upstream.control("PATCH", "petitions/1001", json={"goal": 777})
    changelist = reverse("admin:petition_widget_petition_changelist")
    response = admin_client.post(changelist, {"action": "sync_now", "_selected_action": [petition.pk]}, follow=True)
    assert "1 petition(s) synced." in response.content.decode()
    petition.refresh_from_db()
    assert petition.goal == 777
    response = admin_client.post(
        changelist, {"action": "request_new_auth_key", "_selected_action": [petition.pk]}, follow=True
    )
    assert "Authorization key requested for 1 petition(s)." in response.content.decode()
    petition.refresh_from_db()
    assert petition.auth_key_status == "granted" and petition.auth_key


def test_provider_choices_match(db):
    assert set(Provider.values) == {"changeorg", "wethepeople"}
