"""The signing service: what :func:`petition_widget.signing.sign` stores, counts and answers, whoever calls it.

The form page and the API go through it over HTTP in test_views, test_abuse, test_duplicates and test_api;
here it is called as a third caller would, with a real form token (the HTML form's checks), the real
limits over a cache of the test's own, and the real database.
"""

import uuid

import pytest
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from petition_widget import abuse, clients, signing
from petition_widget.api_keys import ApiKey, ApiKeyKind
from petition_widget.models import ForwardingState, Petition, Signature

IP_HASH = "a" * 64
CLIENT = signing.Client(ip_hash=IP_HASH)


@pytest.fixture
def limits(settings):
    """The token check and both signing limits on (5 each), over a fresh cache; ``limits(**values)`` changes them."""
    settings.CACHES = {
        **settings.CACHES,
        "abuse": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }

    def apply(**values):
        settings.PETITION_WIDGET = {
            **settings.PETITION_WIDGET,
            "SIGN_MIN_SECONDS": 1,
            "SIGN_FORM_MAX_AGE": 3600,
            "SIGN_LIMIT_PER_IP": 5,
            "SIGN_LIMIT_PER_PETITION": 5,
            "RATE_LIMIT_CACHE": "abuse",
            **values,
        }

    apply()
    return apply


@pytest.fixture
def server_key(db):
    key = ApiKey.generate()
    record = ApiKey(name="partner", kind=ApiKeyKind.SERVER)
    record.set_key(key)
    record.save()
    record.key = key
    return record


def values(**extra) -> dict:
    """A signature's validated field values, as a form hands them over."""
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "GB",
        **extra,
    }


def checks(petition) -> abuse.ProtectionForm:
    """The HTML form's checks as posted with a freshly rendered form."""
    return abuse.ProtectionForm({abuse.TOKEN_FIELD: abuse.make_form_token(petition)}, petition=petition)


def spent(protection: abuse.ProtectionForm) -> bool:
    """Whether the posted token's nonce is spent."""
    _pk, nonce, _issued = abuse.read_form_token(protection.data[abuse.TOKEN_FIELD])
    return caches["abuse"].get(abuse.nonce_key(nonce)) is not None


def slots(petition) -> tuple[int, int]:
    """Signatures counted against (the client's address, the petition)."""
    return (
        abuse.ip_limiter().count(abuse.ip_key(IP_HASH)),
        abuse.petition_limiter().count(abuse.petition_key(petition)),
    )


def test_a_new_signature_is_stored_counted_and_spends_the_token(petition, limits):
    protection = checks(petition)
    result = signing.sign(petition, values(), client=CLIENT, checks=protection)
    assert result.status == signing.Status.STORED and result.answered_as_new and result.refusal is None
    assert Signature.objects.get().pk == result.signature.pk
    assert result.signature.ip_hash == IP_HASH
    assert Petition.objects.get(pk=petition.pk).local_signature_count == 1
    assert slots(petition) == (1, 1)
    assert spent(protection)


def test_a_duplicate_stores_nothing_keeps_the_address_slot_and_gives_the_token_back(petition, limits):
    signing.sign(petition, values(), client=CLIENT, checks=checks(petition))
    protection = checks(petition)
    result = signing.sign(petition, values(email="ADA@example.com"), client=CLIENT, checks=protection)
    assert result.status == signing.Status.DUPLICATE and not result.answered_as_new
    assert result.signature is None and result.refusal is None
    assert Signature.objects.count() == 1
    assert Petition.objects.get(pk=petition.pk).local_signature_count == 1
    assert slots(petition) == (2, 1)
    assert not spent(protection)


def test_a_concealed_duplicate_is_counted_exactly_like_a_new_signature(petition, limits):
    Petition.objects.filter(pk=petition.pk).update(conceal_duplicates=True)
    petition.refresh_from_db()
    signing.sign(petition, values(), client=CLIENT, checks=checks(petition))
    protection = checks(petition)
    result = signing.sign(petition, values(), client=CLIENT, checks=protection)
    assert result.status == signing.Status.CONCEALED_DUPLICATE and result.answered_as_new
    assert result.signature is None
    assert Signature.objects.count() == 1
    assert slots(petition) == (2, 2)
    assert spent(protection)


def test_a_replayed_token_is_refused_before_any_limit_counts(petition, limits):
    protection = checks(petition)
    signing.sign(petition, values(), client=CLIENT, checks=protection)
    replay = abuse.ProtectionForm(protection.data, petition=petition)
    result = signing.sign(petition, values(email="grace@example.com"), client=CLIENT, checks=replay)
    assert result.status == signing.Status.REFUSED and result.refusal == abuse.REPLAYED
    assert result.signature is None and not result.answered_as_new
    assert Signature.objects.count() == 1
    assert slots(petition) == (1, 1)


def test_a_rate_limit_refuses_gives_back_the_other_slots_and_the_token(petition, limits):
    limits(SIGN_LIMIT_PER_PETITION=1)
    signing.sign(petition, values(), client=CLIENT, checks=checks(petition))
    protection = checks(petition)
    result = signing.sign(petition, values(email="grace@example.com"), client=CLIENT, checks=protection)
    assert result.status == signing.Status.REFUSED and result.refusal == abuse.LIMIT_PER_PETITION
    assert result.refusal.status == 429 and result.refusal.retry_after >= 1
    assert Signature.objects.count() == 1
    assert slots(petition) == (1, 1)
    assert not spent(protection)


def test_a_database_error_stores_nothing_and_gives_back_every_slot_and_the_token(petition, limits, monkeypatch):
    def fail(signature):
        raise DatabaseError("the disk is full")

    monkeypatch.setattr(signing, "count_new_signature", fail)  # after the INSERT, in its transaction
    protection = checks(petition)
    with pytest.raises(DatabaseError):
        signing.sign(petition, values(), client=CLIENT, checks=protection)
    assert Signature.objects.count() == 0
    assert Petition.objects.get(pk=petition.pk).local_signature_count == 0
    assert slots(petition) == (0, 0)
    assert not spent(protection)


def test_without_insert_on_conflict_a_savepoint_catches_the_duplicate(petition, monkeypatch):
    monkeypatch.setattr(signing, "inserts_unless_duplicate", lambda using: False)
    assert signing.sign(petition, values(), client=CLIENT).status == signing.Status.STORED
    assert signing.sign(petition, values(first_name="Augusta"), client=CLIENT).status == signing.Status.DUPLICATE
    # The enclosing transaction is still usable: only the savepoint was rolled back.
    assert list(Signature.objects.values_list("first_name", flat=True)) == ["Ada"]


def test_a_petition_with_confirmation_gets_its_signature_awaiting_confirmation(petition):
    Petition.objects.filter(pk=petition.pk).update(require_confirmation=True)
    petition.refresh_from_db()
    result = signing.sign(petition, values(), client=CLIENT)
    assert result.status == signing.Status.STORED
    assert Signature.objects.get().state == ForwardingState.UNCONFIRMED
    assert Petition.objects.get(pk=petition.pk).local_signature_count == 0


def test_the_client_of_a_request_is_held_to_the_address_limit_unless_a_server_key_posts(rf, server_key):
    request = rf.post("/", REMOTE_ADDR="203.0.113.5")
    assert signing.Client.of(request) == signing.Client(ip_hash=clients.hash_ip("203.0.113.5"))
    assert signing.Client.of(request).address_limited
    browser_key = ApiKey(name="site", kind=ApiKeyKind.BROWSER)
    assert signing.Client.of(request, browser_key).ip_hash == clients.hash_ip("203.0.113.5")
    server = signing.Client.of(request, server_key)
    assert server == signing.Client(ip_hash="", api_key=server_key) and not server.address_limited


# Recorded before the signing step moved out of the form and the two views: the move costs no query.
@pytest.mark.parametrize(
    ("conceal", "queries"),
    [(False, 5), (True, 4)],
    ids=["new signature", "concealed duplicate"],
)
def test_the_form_post_issues_as_many_queries_as_before(client, petition, changeorg_data, conceal, queries):
    Petition.objects.filter(pk=petition.pk).update(conceal_duplicates=conceal)
    if conceal:
        assert client.post(f"/petitions/{petition.slug}/", changeorg_data).status_code == 303
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"/petitions/{petition.slug}/", changeorg_data)
    assert response.status_code == 303
    assert len(captured) == queries, [query["sql"] for query in captured]


def test_the_api_post_issues_as_many_queries_as_before(client, petition, server_key, changeorg_data):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            f"/api/v1/petitions/{petition.upstream_id}/signatures", {"api_key": server_key.key, **changeorg_data}
        )
    assert response.status_code == 202
    assert len(captured) == 7, [query["sql"] for query in captured]
