"""Reviewers learn nothing about signers' contact details through the admin's URLs: filters, search, autocomplete.

Each probe is asked twice, once with a guess that matches a signer's contact details and once with one that
does not; a reviewer must get the same answer to both. Those who may see contact details (change or export
permission on signatures) keep searching and filtering by them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from petition_widget.admin import CONTACT_DETAIL_FIELDS, lookup_touches
from petition_widget.clients import hash_ip
from petition_widget.models import ForwardAttempt, ForwardingState, Outcome, Petition, Signature
from tests.admin.test_admin_review import DASHBOARD, PETITIONS, SIGNATURES, listed, make

AUTOCOMPLETE = "/admin/autocomplete/"
GRACE_IP = "203.0.113.9"


@pytest.fixture
def signers(petition, wtp_petition) -> dict[str, Signature]:
    """Grace, whose contact details the probes guess at, and Ada, who does not match any guess."""
    grace = make(
        petition,
        "grace@example.org",
        first_name="Grace",
        last_name="Hopper",
        phone="+442071838750",
        address="10 Downing Street",
        postal_code="N1 9GU",
        ip_hash=hash_ip(GRACE_IP),
        state=ForwardingState.FAILED,
    )
    ada = make(wtp_petition, "ada@example.org", phone="+15555550100", address="1 Main St", postal_code="10001")
    return {"grace": grace, "ada": ada}


def probes(grace: Signature) -> dict[str, tuple[str, dict[str, str], str, str]]:
    """Each attack on Grace: (path, fixed parameters, the parameter carrying the guess, the matching guess)."""
    by_id = {"id__exact": str(grace.pk)}
    return {
        "email prefix": (SIGNATURES, by_id, "email__startswith", "grace@"),
        "email, any case": (SIGNATURES, {}, "email__iexact", "GRACE@EXAMPLE.ORG"),
        "e-mail regex": (SIGNATURES, {}, "email__regex", "^gr.ce@"),
        "normalised email prefix": (SIGNATURES, by_id, "email_normalized__startswith", "grace@"),
        "phone prefix": (SIGNATURES, {}, "phone__startswith", "+44207"),
        "street": (SIGNATURES, {}, "address__icontains", "Downing"),
        "postal code": (SIGNATURES, {}, "postal_code", "N1 9GU"),
        "postal code exact": (SIGNATURES, {}, "postal_code__exact", "N1 9GU"),
        "address hash prefix": (SIGNATURES, {}, "ip_hash__startswith", grace.ip_hash[:10]),
        "address hash": (SIGNATURES, {}, "ip_hash", grace.ip_hash),
        "via the petition": (SIGNATURES, {}, "petition__signatures__email__startswith", "grace@"),
        "via the attempts": (SIGNATURES, {}, "forward_attempts__signature__email__startswith", "grace@"),
        "search": (SIGNATURES, {}, "q", "grace@"),
        "search, phone": (SIGNATURES, {}, "q", "+44207"),
        "search, within a petition": (SIGNATURES, {"petition__id__exact": str(grace.petition_id)}, "q", "grace@ex"),
        "petition list by signers' e-mail": (PETITIONS, {}, "signatures__email__startswith", "grace@"),
        "petition list by signers' phone": (PETITIONS, {}, "signatures__phone__startswith", "+44207"),
        "petition list by signers' address hash": (PETITIONS, {}, "signatures__ip_hash", grace.ip_hash),
        "petition list by attempts' signers": (
            PETITIONS,
            {},
            "signatures__forward_attempts__signature__postal_code",
            "N1 9GU",
        ),
        "autocomplete through the attempts": (
            AUTOCOMPLETE,
            {"app_label": "petition_widget", "model_name": "forwardattempt", "field_name": "signature"},
            "term",
            "grace@",
        ),
        "change page with preserved filters": (
            f"{SIGNATURES}{grace.pk}/change/",
            {},
            "_changelist_filters",
            "email__startswith=grace@",
        ),
        "dashboard": (DASHBOARD, {}, "email__startswith", "grace@"),
    }


PROBES = list(probes(Signature(pk=1, petition_id=1, ip_hash="0" * 64)))  # their names


def wrong(guess: str) -> str:
    """A guess as long as ``guess`` that matches no signer: every letter and digit of its value changed.

    A guess that is itself a query (``email__startswith=grace@``) keeps its lookup and changes its value.
    """
    lookup, equals, value = guess.rpartition("=")
    return (
        lookup
        + equals
        + "".join("z" if c.isalpha() and c.lower() != "z" else "7" if c.isdigit() and c != "7" else c for c in value)
    )


def answer(client: Client, path: str, fixed: dict[str, str], parameter: str, guess: str) -> tuple:
    """What a probe tells: its status, where it redirects, and its page with the guess itself blanked out.

    Only the guess is masked (in every way a page may spell it) and the CSRF tokens, which change each time.
    """
    response = client.get(f"{path}?{urlencode({**fixed, parameter: guess})}")
    body = response.content.decode()
    spellings = {*spellings_of(guess), *spellings_of(guess.rpartition("=")[2])}
    for spelling in sorted(spellings, key=len, reverse=True):
        body = body.replace(spelling, "GUESS")
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    body = re.sub(r'"csrfToken": "[^"]+"', "", body)
    location = response.get("Location", "")
    for spelling in sorted(spellings, key=len, reverse=True):
        location = location.replace(spelling, "GUESS")
    return response.status_code, location, body


def spellings_of(text: str) -> set[str]:
    """``text`` as a page or a URL may spell it: as is, URL-quoted in each way, HTML-escaped."""
    quoted = {text, quote(text), quote_plus(text), quote(text, safe="")}
    return quoted | {escape(spelling) for spelling in quoted}


@pytest.mark.parametrize("probe", PROBES)
def test_a_reviewer_cannot_probe_contact_details_by_url(reviewer_client, signers, probe):
    path, fixed, parameter, guess = probes(signers["grace"])[probe]
    assert wrong(guess) != guess
    right_answer = answer(reviewer_client, path, fixed, parameter, guess)
    wrong_answer = answer(reviewer_client, path, fixed, parameter, wrong(guess))
    assert right_answer == wrong_answer
    status, location, body = right_answer
    assert status in (200, 302, 400, 403, 404)
    if status == 302:  # Django's own "incorrect lookup" answer, never a filtered list
        assert location.endswith("?e=1")
    for secret in ("grace@example.org", "+442071838750", "10 Downing Street", "N1 9GU", signers["grace"].ip_hash):
        assert secret not in body


def test_a_reviewer_cannot_probe_email_by_url_lookup(reviewer_client, signers):
    """The issue's own probe, as written: each guess used to answer "1 result" or "0 results"."""
    grace = signers["grace"]
    answers = {
        prefix: reviewer_client.get(SIGNATURES, {"id__exact": grace.pk, "email__startswith": prefix}).status_code
        for prefix in ("g", "h")
    }
    assert answers == {"g": 400, "h": 400}


def test_a_reviewer_searches_by_name_and_city_only(reviewer_client, signers):
    grace = signers["grace"]
    assert listed(reviewer_client, q="hopper") == {grace.pk}
    assert listed(reviewer_client, q="London") == {grace.pk, signers["ada"].pk}
    assert listed(reviewer_client, q="grace@example.org") == set()
    assert listed(reviewer_client, q="example.org") == set()


def test_a_reviewer_still_filters_by_the_dashboard_links_and_the_list_filters(reviewer_client, signers):
    grace, ada = signers["grace"], signers["ada"]
    assert listed(reviewer_client, state__exact="failed") == {grace.pk}
    assert listed(reviewer_client, petition__id__exact=ada.petition_id) == {ada.pk}
    assert listed(reviewer_client, country="GB", hidden__exact=0) == {grace.pk, ada.pk}
    dashboard = reviewer_client.get(DASHBOARD).content.decode()
    links = set(re.findall(r'href="(/admin/petition_widget/signature/\?[^"]+)"', dashboard))
    assert links, "the dashboard links to filtered lists"
    for link in links:
        assert reviewer_client.get(link.replace("&amp;", "&")).status_code == 200, link


def test_the_attempts_inline_shows_no_contact_details_to_a_reviewer(reviewer_client, signers):
    grace = signers["grace"]
    ForwardAttempt.objects.create(
        signature=grace,
        started_at=timezone.now(),
        duration_ms=5,
        outcome=Outcome.REJECTED,
        message="Bad request",
    )
    page = reviewer_client.get(f"{SIGNATURES}{grace.pk}/change/").content.decode()
    assert "Bad request" in page
    assert "grace@example.org" not in page and "+442071838750" not in page


def contact_client(kind: str, reviewer: User) -> Client:
    """A client for someone who may see contact details: a superuser, a signature editor, an exporter."""
    if kind == "superuser":
        user = User.objects.create_superuser("root", "root@blog.example", "pw")
    elif kind == "editor":
        user = User.objects.create_user("editor", password="pw", is_staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_petition", "view_signature", "change_signature"])
        )
    else:
        user = reviewer
        user.user_permissions.add(Permission.objects.get(codename="export_signature"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind", ["superuser", "editor", "exporter"])
def test_who_may_see_contact_details_still_searches_and_filters_by_them(kind, reviewer, signers):
    client = contact_client(kind, reviewer)
    grace = signers["grace"]
    assert listed(client, q="grace@example") == {grace.pk}
    assert listed(client, q="GRACE@EXAMPLE.ORG") == {grace.pk}
    assert listed(client, email__startswith="grace@") == {grace.pk}
    assert listed(client, email__startswith="zzz") == set()
    assert listed(client, phone__startswith="+44") == {grace.pk}
    assert listed(client, postal_code="N1 9GU") == {grace.pk}
    assert listed(client, address__icontains="downing") == {grace.pk}
    autocomplete = client.get(
        AUTOCOMPLETE,
        {"app_label": "petition_widget", "model_name": "forwardattempt", "field_name": "signature", "term": "grace@"},
    )
    assert [row["id"] for row in autocomplete.json()["results"]] == [str(grace.pk)]


@pytest.mark.parametrize("kind", ["superuser", "editor", "exporter"])
def test_nobody_filters_by_the_address_hash(kind, reviewer, signers):
    """The address hash is shown to no one; it is for counting signatures per address, never for reading."""
    client = contact_client(kind, reviewer)
    ip_hash = signers["grace"].ip_hash
    for parameter in ("ip_hash", "ip_hash__startswith"):
        assert client.get(SIGNATURES, {parameter: ip_hash[:10]}).status_code == 400
    assert client.get(PETITIONS, {"signatures__ip_hash": ip_hash}).status_code == 400


def test_no_list_column_shows_or_sorts_by_contact_details():
    """``?o=`` sorts only by the list's columns: none of them may reach a contact detail."""
    private = {Signature._meta.get_field(name) for name in (*CONTACT_DETAIL_FIELDS, "ip_hash")}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "petition_widget":
            continue
        for column in model_admin.list_display:
            ordering = getattr(getattr(model_admin, column, None), "admin_order_field", None) or column
            assert not lookup_touches(model, str(ordering).lstrip("-"), private), (model, column)


@pytest.mark.parametrize(
    "model, lookup, private",
    [
        (Signature, "email__startswith", True),
        (Signature, "pk", False),
        (Signature, "petition__title__icontains", False),
        (Signature, "petition__signatures__postal_code", True),
        (Petition, "signatures__phone__startswith", True),
        (Petition, "signatures__forward_attempts__signature__address", True),
        (Petition, "signatures__city", False),
        (ForwardAttempt, "signature__email_normalized__exact", True),
        (ForwardAttempt, "signature__ip_hash", True),
        (ForwardAttempt, "signature__petition__slug", False),
        (Signature, "not_a_field__email", False),
    ],
)
def test_lookups_are_followed_through_every_relation(model, lookup, private):
    """What the admins refuse to a reviewer: any path that reaches a contact detail, forward or reverse."""
    fields = {Signature._meta.get_field(name) for name in (*CONTACT_DETAIL_FIELDS, "ip_hash")}
    assert lookup_touches(model, lookup, fields) is private
