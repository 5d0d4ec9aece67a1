"""The public API: Change.org's shapes key by key, paging at the edges, privacy, signing, keys and CORS."""

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.checks import Error

from petition_widget.api.serializers import PETITION_FIELDS
from petition_widget.api_keys import ApiKey, hash_api_key
from petition_widget.checks import check_settings
from petition_widget.models import ForwardingState, Petition, Provider, Signature, recount_signatures
from petition_widget.names import public_display_name
from tests.factories import make_signatures, new_api_key, post_api_signature

API = "/api/v1/petitions"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
BASE_TIME = datetime(2012, 2, 14, 10, 2, 23, tzinfo=UTC)

# The example answer of `GET petitions/:id/signatures` on the original page (shared/seeds/003), as given
# there (its next_page_endpoint's doubled scheme included): the contract our answers are held to.
SEED_PAGE = {
    "signature_count": 6,
    "prev_page_endpoint": None,
    "next_page_endpoint": "https://https://api.change.org/v1/petitions/48503/signatures?page=2&page_size=2&sort=time_desc",
    "page": 1,
    "total_pages": 3,
    "signatures": [
        {
            "name": "Jean-Luc Picard",
            "city": "La Barre",
            "state_province": "",
            "country_code": "FR",
            "country_name": "France",
            "signed_at": "2012-02-15T23:39:31Z",
        },
        {
            "name": "William Riker",
            "city": "Valdez",
            "state_province": "AK",
            "country_code": "US",
            "country_name": "United States",
            "signed_at": "2012-02-14T10:02:23Z",
        },
    ],
}
SEED_SIGNATURE = SEED_PAGE["signatures"][0]
SEED_SUCCESS = {"result": "success"}
SEED_FAILURE = {"result": "failure", "messages": ["No signature data received."]}
# `GET petitions/:id` (specs/changeorg-v1.md): every field, absent ones null; plus our two.
PETITION_TYPES = {
    "petition_id": int,
    "title": str,
    "status": (str, type(None)),
    "url": (str, type(None)),
    "overview": (str, type(None)),
    "targets": list,
    "letter_body": (str, type(None)),
    "signature_count": int,
    "image_url": (str, type(None)),
    "category": (str, type(None)),
    "goal": (int, type(None)),
    "created_at": (str, type(None)),
    "end_at": (str, type(None)),
    "creator_name": (str, type(None)),
    "creator_url": (str, type(None)),
    "organization_name": (str, type(None)),
    "organization_url": (str, type(None)),
    "local_signature_count": int,
    "provider": str,
}


def shape(value):
    """Keys, JSON types and nulls of an answer, values left out; every element of a list has one shape."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes = [shape(item) for item in value]
        assert all(item == shapes[0] for item in shapes), shapes
        return shapes[:1]
    return type(value).__name__


def is_failure(response, status):
    body = response.json()
    assert response.status_code == status, body
    assert shape(body) == shape(SEED_FAILURE), body
    assert body["result"] == "failure" and body["messages"] and all(body["messages"])
    return body["messages"]


def public_signatures(petition, count, *, hidden=(), cancelled=(), start=BASE_TIME, step=timedelta(minutes=1)):
    """`count` listed signatures (First{i} Last{i} of Valdez, AK), the i-th signed at start + i * step, written in
    bulk; those in `hidden` hidden, those in `cancelled` cancelled, the others sent; counters recounted."""
    created = make_signatures(
        petition,
        count,
        signed_from=start,
        every=step,
        first_name=lambda i: f"First{i}",
        last_name=lambda i: f"Last{i}",
        email=lambda i: f"signer{i}@example.org",
        city="Valdez",
        state_province="AK",
        postal_code="",
        country_code="US",
        hidden=lambda i: i in hidden,
        state=lambda i: ForwardingState.CANCELLED if i in cancelled else ForwardingState.SENT,
    )
    recount_signatures([petition.pk])
    return created


def names(answer):
    return [item["name"] for item in (answer["signatures"] if isinstance(answer, dict) else answer)]


def page_of(link):
    return int(parse_qs(urlsplit(link).query)["page"][0])


# Contract: the seed's shapes ---------------------------------------------------------------------


def test_signature_page_matches_the_seed_example(client, petition):
    public_signatures(petition, 6)
    answer = client.get(f"{API}/48503/signatures?page_size=2&sort=time_desc").json()
    assert shape(answer) == shape(SEED_PAGE)
    assert list(answer) == list(SEED_PAGE)
    assert list(answer["signatures"][0]) == [
        "name",
        "city",
        "state_province",
        "country_name",
        "country_code",
        "signed_at",
    ]
    assert (answer["signature_count"], answer["page"], answer["total_pages"]) == (6, 1, 3)
    assert (
        answer["next_page_endpoint"]
        == "http://testserver/api/v1/petitions/48503/signatures?page=2&page_size=2&sort=time_desc"
    )
    assert names(answer) == ["First5 Last5", "First4 Last4"]
    first = answer["signatures"][0]
    assert first == {
        "name": "First5 Last5",
        "city": "Valdez",
        "state_province": "AK",
        "country_name": "United States",
        "country_code": "US",
        "signed_at": "2012-02-14T10:07:23Z",
    }


def test_middle_and_last_pages_keep_the_shape_with_their_nulls(client, petition):
    public_signatures(petition, 6)
    middle = client.get(f"{API}/48503/signatures?page_size=2&page=2&sort=time_desc").json()
    assert shape(middle) == {**shape(SEED_PAGE), "prev_page_endpoint": "str"}
    last = client.get(f"{API}/48503/signatures?page_size=2&page=3&sort=time_desc").json()
    assert shape(last) == {**shape(SEED_PAGE), "prev_page_endpoint": "str", "next_page_endpoint": "NoneType"}


def test_recent_is_a_bare_array_of_the_ten_newest(client, petition):
    public_signatures(petition, 12, hidden={11})
    response = client.get(f"{API}/48503/signatures/recent")
    answer = response.json()
    assert response.status_code == 200 and isinstance(answer, list)
    assert shape(answer) == [shape(SEED_SIGNATURE)]
    assert names(answer) == [f"First{i} Last{i}" for i in range(10, 0, -1)]
    assert all(ISO_Z.match(item["signed_at"]) for item in answer)


def test_petition_in_changeorg_shape_with_local_count(client, petition):
    petition.url = "https://www.change.org/p/save-the-bees"
    petition.targets = [{"name": "City council", "type": "custom"}]
    petition.upstream_created_at = datetime(2012, 1, 2, 3, 4, 5, tzinfo=UTC)
    petition.save()
    public_signatures(petition, 3, hidden={0})
    answer = client.get(f"{API}/48503").json()
    assert list(answer) == list(PETITION_TYPES) == list(PETITION_FIELDS)
    for key, types in PETITION_TYPES.items():
        assert isinstance(answer[key], types), key
    assert answer["petition_id"] == 48503
    assert answer["signature_count"] == 250 and answer["local_signature_count"] == 3
    assert answer["created_at"] == "2012-01-02T03:04:05Z"
    # Absent optional fields are null, as upstream, never "".
    assert answer["overview"] is None and answer["end_at"] is None and answer["creator_name"] is None
    assert answer["targets"] == [{"name": "City council", "type": "custom"}]


def test_petition_fields_parameter(client, petition):
    assert client.get(f"{API}/48503?fields=title,goal").json() == {"title": "Save the bees", "goal": 1000}
    assert is_failure(client.get(f"{API}/48503?fields=title,email"), 400) == ["fields: unknown field(s) email"]


def test_every_refusal_is_in_the_failure_shape(client, petition):
    assert is_failure(client.get(f"{API}/1/signatures"), 404) == ["petition not found"]
    assert is_failure(client.get(f"{API}/1"), 404) == ["petition not found"]
    assert is_failure(client.get(f"{API}/1/signatures/recent"), 404) == ["petition not found"]
    assert is_failure(client.get(f"{API}/{'9' * 65}/signatures"), 404) == ["petition not found"]
    assert is_failure(client.get(f"{API}/48%00503/signatures"), 404) == ["petition not found"]
    is_failure(client.get("/api/v1/petitions/48503/signatures/elsewhere"), 404)
    is_failure(client.get("/api/v1/nothing-here"), 404)
    is_failure(client.put(f"{API}/48503/signatures"), 405)
    is_failure(client.delete(f"{API}/48503"), 405)
    is_failure(client.post(f"{API}/48503/signatures/recent"), 405)
    is_failure(client.post(f"{API}/48503/signatures", "x", content_type="text/plain"), 415)
    is_failure(client.post(f"{API}/48503/signatures", "{broken", content_type="application/json"), 400)


# Paging --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["time_asc", "time_desc"])
def test_empty_petition(client, petition, sort):
    answer = client.get(f"{API}/48503/signatures?sort={sort}").json()
    assert answer == {
        "signature_count": 0,
        "prev_page_endpoint": None,
        "next_page_endpoint": None,
        "page": 1,
        "total_pages": 0,
        "signatures": [],
    }


@pytest.mark.parametrize("sort", ["time_asc", "time_desc"])
def test_exactly_one_full_page(client, petition, sort):
    public_signatures(petition, 10)
    answer = client.get(f"{API}/48503/signatures?sort={sort}").json()
    assert (answer["total_pages"], answer["prev_page_endpoint"], answer["next_page_endpoint"]) == (1, None, None)
    expected = [f"First{i} Last{i}" for i in range(10)]
    assert names(answer) == (expected if sort == "time_asc" else expected[::-1])


@pytest.mark.parametrize("sort", ["time_asc", "time_desc"])
def test_last_partial_page_and_past_the_end(client, petition, sort):
    public_signatures(petition, 11)
    last = client.get(f"{API}/48503/signatures?page=2&sort={sort}").json()
    assert last["total_pages"] == 2 and last["page"] == 2 and last["next_page_endpoint"] is None
    assert names(last) == (["First10 Last10"] if sort == "time_asc" else ["First0 Last0"])
    assert last["prev_page_endpoint"] == f"http://testserver{API}/48503/signatures?page=1&page_size=10&sort={sort}"

    for page in (3, 1000, 10**30):
        past = client.get(f"{API}/48503/signatures?page={page}&sort={sort}").json()
        assert past["signatures"] == [] and past["page"] == page and past["total_pages"] == 2
        assert past["next_page_endpoint"] is None and page_of(past["prev_page_endpoint"]) == 2


@pytest.mark.parametrize("sort", ["time_asc", "time_desc"])
def test_following_the_links_visits_every_public_signature_once_in_order(client, petition, sort):
    # Equal times too: the id breaks the tie, so no signature is skipped or repeated across pages.
    public_signatures(petition, 23, hidden={4, 17}, cancelled={9}, step=timedelta(seconds=0.4))
    seen, link = [], f"{API}/48503/signatures?page_size=4&sort={sort}"
    while link:
        answer = client.get(link).json()
        assert len(answer["signatures"]) <= 4
        seen += names(answer)
        link = answer["next_page_endpoint"]
    expected = [f"First{i} Last{i}" for i in range(23) if i not in {4, 9, 17}]
    assert seen == (expected if sort == "time_asc" else expected[::-1])
    assert answer["total_pages"] == 5 and answer["signature_count"] == 22  # hidden counted, cancelled not


def test_hidden_signer_is_counted_but_not_listed(client, petition):
    public_signatures(petition, 3, hidden={1})
    answer = client.get(f"{API}/48503/signatures").json()
    assert answer["signature_count"] == 3
    assert names(answer) == ["First0 Last0", "First2 Last2"]
    assert "First1" not in json.dumps(client.get(f"{API}/48503/signatures/recent").json())
    assert client.get(f"{API}/48503").json()["local_signature_count"] == 3


@pytest.mark.parametrize(
    "query, message",
    [
        ("page_size=0", "page_size: Ensure this value is greater than or equal to 1."),
        ("page_size=501", "page_size: Ensure this value is less than or equal to 500."),
        ("page_size=-1", "page_size: Ensure this value is greater than or equal to 1."),
        ("page_size=ten", "page_size: A valid integer is required."),
        ("page_size=", "page_size: A valid integer is required."),
        ("page_size=2.5", "page_size: A valid integer is required."),
        ("page=0", "page: Ensure this value is greater than or equal to 1."),
        ("page=-4", "page: Ensure this value is greater than or equal to 1."),
        ("page=first", "page: A valid integer is required."),
        ("page=" + "9" * 5000, "page: String value too large."),
        ("page=1%00", "page: A valid integer is required."),
        ("sort=newest", 'sort: "newest" is not a valid choice.'),
        ("sort=", 'sort: "" is not a valid choice.'),
        ("provider=myspace", 'provider: "myspace" is not a valid choice.'),
    ],
)
def test_malformed_and_out_of_range_parameters_are_400(client, petition, query, message):
    assert is_failure(client.get(f"{API}/48503/signatures?{query}"), 400) == [message]


def test_one_message_per_bad_parameter(client, petition):
    messages = is_failure(client.get(f"{API}/48503/signatures?page=0&page_size=900&sort=up"), 400)
    assert len(messages) == 3


def test_page_size_500_is_allowed_and_links_keep_page_size_and_sort(client, petition):
    public_signatures(petition, 3)
    answer = client.get(f"{API}/48503/signatures?page_size=500&sort=time_desc&unknown=1").json()
    assert answer["total_pages"] == 1 and len(answer["signatures"]) == 3
    answer = client.get(f"{API}/48503/signatures?page_size=1&page=2").json()
    for link in (answer["prev_page_endpoint"], answer["next_page_endpoint"]):
        assert parse_qs(urlsplit(link).query) | {"page": None} == {
            "page": None,
            "page_size": ["1"],
            "sort": ["time_asc"],
        }


# Two platforms, one id ---------------------------------------------------------------------------------


def test_shared_upstream_id_needs_the_provider_parameter(client, petition):
    other = Petition.objects.create(provider=Provider.WETHEPEOPLE, upstream_id="48503", slug="other", title="Other")
    public_signatures(other, 2)
    messages = is_failure(client.get(f"{API}/48503/signatures"), 400)
    assert "provider=changeorg or provider=wethepeople" in messages[0]
    is_failure(client.get(f"{API}/48503"), 400)
    answer = client.get(f"{API}/48503/signatures?provider=wethepeople&page_size=1").json()
    assert answer["signature_count"] == 2
    assert "provider=wethepeople" in answer["next_page_endpoint"]
    assert client.get(f"{API}/48503?provider=changeorg").json()["title"] == "Save the bees"


# Names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "style, expected",
    [("full", "Ada Lovelace"), ("first_initial", "Ada L."), ("initials", "A. L.")],
)
def test_name_display_setting(client, petition, settings, style, expected):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "API_NAME_DISPLAY": style}
    Signature.objects.create(petition=petition, first_name="Ada", last_name="Lovelace", email="ada@example.org")
    assert names(client.get(f"{API}/48503/signatures/recent").json()) == [expected]


def test_display_name_edge_cases():
    assert public_display_name("Émile", "Ŏ\u0301rsted", "initials") == "É. Ŏ\u0301."
    assert public_display_name("Cher", "", "first_initial") == "Cher"
    assert public_display_name(" ", "Solo", "initials") == "S."
    assert public_display_name("jean-luc", "picard", "first_initial") == "jean-luc P."


def test_name_display_setting_is_checked(settings):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "API_NAME_DISPLAY": "nickname"}
    errors = [message for message in check_settings() if message.id == "petition_widget.E009"]
    assert len(errors) == 1 and isinstance(errors[0], Error) and "'nickname'" in errors[0].msg


# Signing ---------------------------------------------------------------------------------------------


def test_post_stores_through_the_form_and_counts(client, petition, api_key, changeorg_data):
    response = post_api_signature(client, api_key.key, {**changeorg_data, "state_province": "", "reason": "Bees!"})
    assert response.status_code == 202 and response.json() == SEED_SUCCESS
    signature = Signature.objects.get()
    assert (signature.email, signature.postal_code, signature.state) == ("ada@example.com", "SW1A 1AA", "pending")
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (1, 1)
    assert names(client.get(f"{API}/48503/signatures").json()) == ["Ada Lovelace"]
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_post_accepts_json_with_real_booleans(client, petition, api_key, changeorg_data):
    body = json.dumps({"api_key": api_key.key, **changeorg_data, "hidden": True, "endpoint": "/v1/x", "rsig": "ab"})
    response = client.post(f"{API}/48503/signatures", body, content_type="application/json")
    assert response.status_code == 202, response.json()
    assert Signature.objects.get().hidden is True
    answer = client.get(f"{API}/48503/signatures").json()
    assert answer["signature_count"] == 1 and answer["signatures"] == []


def test_post_refusals_give_one_message_per_problem(client, petition, api_key, changeorg_data):
    data = {**changeorg_data, "email": "not-an-address", "country_code": "XX", "phone": "12"}
    del data["city"]
    messages = is_failure(post_api_signature(client, api_key.key, data), 400)
    assert sorted(message.split(":")[0] for message in messages) == ["city", "country_code", "email", "phone"]
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "No signature data received."),
        ({"hidden": "maybe"}, "hidden: must be true or false."),
    ],
)
def test_post_parameter_syntax(client, petition, api_key, changeorg_data, data, message):
    payload = {**changeorg_data, **data} if data else {}
    assert message in is_failure(post_api_signature(client, api_key.key, payload), 400)


def test_post_json_values_must_be_single_values(client, petition, api_key, changeorg_data):
    body = json.dumps({"api_key": api_key.key, **changeorg_data, "city": ["a", "b"]})
    response = client.post(f"{API}/48503/signatures", body, content_type="application/json")
    assert is_failure(response, 400) == ["city: must be a single value."]


def test_duplicate_gets_the_upstream_message(client, petition, api_key, changeorg_data):
    assert post_api_signature(client, api_key.key, changeorg_data).status_code == 202
    again = {**changeorg_data, "email": "  ADA@example.com "}
    assert is_failure(post_api_signature(client, api_key.key, again), 400) == ["user has already signed the petition"]
    petition.refresh_from_db()
    assert Signature.objects.count() == 1 and petition.local_signature_count == 1


def test_equivalent_email_addresses_cannot_sign_twice_through_the_api(client, petition, api_key, changeorg_data):
    assert post_api_signature(client, api_key.key, {**changeorg_data, "email": "x@example.com"}).status_code == 202
    for variant in ("x@\uff45xample.com", "x@exam\u00adple.com"):
        again = {**changeorg_data, "email": variant}
        assert is_failure(post_api_signature(client, api_key.key, again), 400) == [
            "user has already signed the petition"
        ]
    assert Signature.objects.get().email == "x@example.com"


def test_closed_petition_refuses(client, petition, api_key, changeorg_data):
    Petition.objects.filter(pk=petition.pk).update(accepts_signatures=False)
    messages = is_failure(post_api_signature(client, api_key.key, changeorg_data), 409)
    assert "closed" in messages[0]
    assert not Signature.objects.exists()


def test_wethepeople_petition_takes_its_own_fields(client, wtp_petition, api_key, wtp_data):
    response = post_api_signature(
        client, api_key.key, {**wtp_data, "zip": "20500", "signup": "true"}, upstream_id="2722358"
    )
    assert response.status_code == 202
    signature = Signature.objects.get()
    assert (signature.postal_code, signature.signup) == ("20500", True)


def test_too_large_body_is_413(client, petition, api_key, changeorg_data):
    response = post_api_signature(client, api_key.key, {**changeorg_data, "reason": "x" * 20000})
    is_failure(response, 413)


@pytest.mark.parametrize("how", ["missing", "wrong", "inactive", "in_url"])
def test_post_needs_a_valid_key_in_the_body(client, petition, api_key, changeorg_data, how):
    url = f"{API}/48503/signatures"
    if how == "missing":
        response = client.post(url, changeorg_data)
    elif how == "wrong":
        response = client.post(url, {**changeorg_data, "api_key": api_key.key + "x"})
    elif how == "inactive":
        ApiKey.objects.filter(pk=api_key.pk).update(active=False)
        response = client.post(url, {**changeorg_data, "api_key": api_key.key})
    else:
        response = client.post(f"{url}?api_key={api_key.key}", {**changeorg_data, "api_key": api_key.key})
    is_failure(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("ApiKey")
    assert not Signature.objects.exists()


def test_html_form_and_api_keep_the_same_counters(client, petition, api_key, changeorg_data):
    client.post(f"/petitions/{petition.slug}/", {**changeorg_data, "email": "form@example.org", "hidden": "on"})
    post_api_signature(client, api_key.key, changeorg_data)
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (2, 1)
    # Saving a stale instance (an admin's edit, a sync) does not write back its old counts.
    stale = Petition.objects.get(pk=petition.pk)
    post_api_signature(client, api_key.key, {**changeorg_data, "email": "third@example.org"})
    stale.title = "Save all the bees"
    stale.save()
    petition.refresh_from_db()
    assert (petition.title, petition.local_signature_count, petition.public_signature_count) == (
        "Save all the bees",
        3,
        2,
    )


def test_recount_repairs_counters(petition):
    public_signatures(petition, 5, hidden={0}, cancelled={1})
    Petition.objects.filter(pk=petition.pk).update(local_signature_count=99, public_signature_count=0)
    assert recount_signatures() == 1
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (4, 3)


# Privacy -----------------------------------------------------------------------------------------------


def test_post_logs_no_personal_data_and_no_key(client, petition, api_key, changeorg_data, caplog):
    caplog.set_level("DEBUG")
    post_api_signature(client, api_key.key, changeorg_data)
    post_api_signature(client, api_key.key, changeorg_data)  # the duplicate
    post_api_signature(client, api_key.key + "x", changeorg_data)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "stored through the API" in logged
    for secret in (api_key.key, "Ada", "Lovelace", "ada@example.com", "SW1A"):
        assert secret not in logged


# API keys in the admin, CORS -----------------------------------------------------------------------


def test_admin_creates_a_key_shows_it_once_and_stores_only_its_hash(admin_client, petition, changeorg_data):
    response = admin_client.post(
        "/admin/petition_widget/apikey/add/",
        {"name": "partner", "kind": "browser", "allowed_origins": "https://partner.example", "active": "on"},
        follow=True,
    )
    shown = re.findall(r"The new API key is (\S+) ", response.content.decode())
    assert len(shown) == 1
    key = shown[0]
    record = ApiKey.objects.get()
    assert record.key_hash == hash_api_key(key) and record.prefix == key[:8]
    assert key not in json.dumps(list(ApiKey.objects.values()), default=str)
    page = admin_client.get(f"/admin/petition_widget/apikey/{record.pk}/change/").content.decode()
    assert key not in page
    admin_client.logout()
    assert (
        post_api_signature(admin_client, key, changeorg_data, HTTP_ORIGIN="https://partner.example").status_code == 202
    )


def test_admin_refuses_a_malformed_origin(admin_client):
    response = admin_client.post(
        "/admin/petition_widget/apikey/add/", {"name": "x", "allowed_origins": "https://a.example/path", "active": "on"}
    )
    assert response.status_code == 200 and "Not an origin" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_admin_hiding_and_deleting_signatures_recounts(admin_client, petition):
    signature, other = public_signatures(petition, 2)
    data = {
        "petition": petition.pk,
        "first_name": "First0",
        "last_name": "Last0",
        "email": "signer0@example.org",
        "hidden": "on",
        "city": "Valdez",
        "country_code": "US",
        # The forwarding attempts inline's management form (it has no rows to edit).
        "forward_attempts-TOTAL_FORMS": "0",
        "forward_attempts-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/petition_widget/signature/{signature.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (2, 1)

    admin_client.post(
        "/admin/petition_widget/signature/",
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    petition.refresh_from_db()
    assert not Signature.objects.filter(pk=other.pk).exists()
    assert (petition.local_signature_count, petition.public_signature_count) == (1, 0)


def test_preflight_and_reads_for_allowed_origins(client, petition):
    new_api_key(name="cors", allowed_origins="https://blog.example\nhttps://partner.example:8443")
    url = f"{API}/48503/signatures"
    preflight = client.options(url, HTTP_ORIGIN="https://blog.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    read = client.get(url, HTTP_ORIGIN="https://partner.example:8443")
    assert read.headers["Access-Control-Allow-Origin"] == "https://partner.example:8443"
    assert "Origin" in read.headers["Vary"]

    refused = client.options(url, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    is_failure(refused, 403)
    assert "Access-Control-Allow-Origin" not in client.get(url, HTTP_ORIGIN="https://evil.example").headers


def test_post_from_a_browser_is_limited_to_the_keys_own_origins(client, petition, changeorg_data):
    blog_key = new_api_key(name="cors", allowed_origins="https://blog.example")
    new_api_key(name="cors", allowed_origins="https://partner.example")
    url = f"{API}/48503/signatures"
    refused = client.post(url, {**changeorg_data, "api_key": blog_key}, HTTP_ORIGIN="https://partner.example")
    is_failure(refused, 403)
    allowed = client.post(url, {**changeorg_data, "api_key": blog_key}, HTTP_ORIGIN="https://blog.example")
    assert allowed.status_code == 202 and allowed.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    # A page of the site itself may use it too; a request with no Origin comes from no browser page: refused.
    own = client.post(
        url, {**changeorg_data, "email": "b@example.org", "api_key": blog_key}, HTTP_ORIGIN="http://testserver"
    )
    assert own.status_code == 202
    server = client.post(url, {**changeorg_data, "email": "c@example.org", "api_key": blog_key})
    is_failure(server, 403)
    assert Signature.objects.count() == 2


def test_wildcard_origin(client, petition, changeorg_data):
    key = new_api_key(name="cors", allowed_origins="*")
    response = client.post(
        f"{API}/48503/signatures", {**changeorg_data, "api_key": key}, HTTP_ORIGIN="https://anywhere.example"
    )
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


# Schema --------------------------------------------------------------------------------------------------


def test_openapi_schema_describes_the_endpoints(client, db):
    response = client.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["servers"] == [{"url": "http://testserver/api/v1"}]
    assert {path: sorted(item) for path, item in schema["paths"].items()} == {
        "/petitions/{upstream_id}": ["get"],
        "/petitions/{upstream_id}/signatures": ["get", "post"],
        "/petitions/{upstream_id}/signatures/recent": ["get"],
    }
    post = schema["paths"]["/petitions/{upstream_id}/signatures"]["post"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(post["requestBody"]["content"])
    assert sorted(post["responses"]) == ["202", "400", "401", "403", "404", "409", "411", "413", "415", "429"]
    assert client.get("/api/v1/schema").headers["Content-Type"].startswith("application/vnd.oai.openapi")


def test_deep_page_stays_exact_when_a_signature_arrives_meanwhile(petition, changeorg_data):
    from petition_widget import signing
    from petition_widget.api.views import page_rows
    from petition_widget.forms import form_class_for

    public_signatures(petition, 30)
    stale = Petition.objects.get(pk=petition.pk)
    form = form_class_for(petition)({**changeorg_data, "email": "late@example.org"}, petition=petition)
    assert form.is_valid()
    assert signing.sign(petition, form.signature_data(), client=signing.Client()).status == signing.Status.STORED
    # Page 3 of 10 lies nearer the end, which is walked from the newest signature; with the count of
    # 30 the new 31st would shift it by one, so the count is checked and the start is walked instead.
    rows = list(page_rows(stale, "time_asc", 20, 10))
    assert [f"{first} {last}" for first, last, *_ in rows] == [f"First{i} Last{i}" for i in range(20, 30)]
    fresh = Petition.objects.get(pk=petition.pk)
    rows = list(page_rows(fresh, "time_asc", 21, 10))
    assert [f"{first} {last}" for first, last, *_ in rows][-1] == "Ada Lovelace"


def test_counts_come_from_the_counters_not_from_counting_rows(client, petition):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    public_signatures(petition, 25, hidden={3})
    for url in (
        f"{API}/48503/signatures?page=2",
        f"{API}/48503/signatures?page=3&sort=time_desc",
        f"{API}/48503/signatures/recent",
        f"{API}/48503",
    ):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        statements = [query["sql"].upper() for query in captured.captured_queries]
        assert len(statements) <= 3, statements
        assert not any("COUNT(" in sql for sql in statements), statements


def test_admin_cancel_action_recounts(admin_client, petition):
    first, second, third = public_signatures(petition, 3)
    Signature.objects.filter(pk__in=[first.pk, second.pk]).update(state=ForwardingState.PENDING)
    response = admin_client.post(
        "/admin/petition_widget/signature/",
        {"action": "cancel_forwarding", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 302
    assert Signature.objects.filter(state=ForwardingState.CANCELLED).count() == 2
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (1, 1)
    assert names(client_get(admin_client, f"{API}/48503/signatures")) == ["First2 Last2"]


def client_get(client, url):
    return client.get(url).json()


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("state", [choice for choice, _ in ForwardingState.choices])
def test_in_memory_predicates_agree_with_the_querysets(petition, changeorg_data, state, hidden):
    from petition_widget.models import is_counted, is_public

    signature = Signature.objects.create(petition=petition, **{**changeorg_data, "state": state, "hidden": hidden})
    assert is_counted(signature) == Signature.objects.filter(pk=signature.pk).counted().exists()
    assert is_public(signature) == Signature.objects.filter(pk=signature.pk).public().exists()
