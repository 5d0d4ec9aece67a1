"""A second signature of one address: no database error (nor its log), and, on request, no telling.

A duplicate is skipped by the INSERT itself (``ON CONFLICT DO NOTHING``) on PostgreSQL and SQLite: the
database raises nothing, so PostgreSQL's log, which would hold the error's detail and the whole statement
(the signer's name, e-mail, phone, address), stays clean. That is checked by reading the server's own log.

A petition that conceals duplicates answers one exactly like a new signature, and with confirmation on,
mails the address that it has already signed (at most once per confirmation period).
"""

import re
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from petition_widget.models import Signature
from tests.factories import post_api_signature, post_signature

ADDRESS = "203.0.113.9"
DUPLICATE_MESSAGE = "This e-mail address has already signed this petition."
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')
# How long the server's log may take to show what a session wrote (the logging collector is a process).
LOG_WAIT_SECONDS = 30


@pytest.fixture(autouse=True)
def own_cache(settings, fresh_cache):
    """The throttle of "already signed" e-mails in a cache of this test's own."""
    settings.PETITION_WIDGET = {
        **settings.PETITION_WIDGET,
        "RATE_LIMIT_CACHE": fresh_cache,
        "SITE_URL": "http://testserver",
    }


def stranger() -> Client:
    """A fresh browser, as a stranger's."""
    return Client(REMOTE_ADDR=ADDRESS)


def conceal(petition, *, confirmation: bool = False):
    petition.conceal_duplicates = True
    petition.require_confirmation = confirmation
    petition.save()
    return petition


# --- finding: a duplicate is a database error that PostgreSQL logs with the signer's data --------------


def _log_file(cursor) -> str:
    """The file PostgreSQL writes its log to: the logging collector's, else the server's stderr."""
    cursor.execute("SELECT pg_current_logfile()")
    path = cursor.fetchone()[0]
    # Without the collector the server logs to its stderr, which every backend inherits.
    return path or "/proc/self/fd/2"


def _log_size(cursor, path: str) -> int:
    cursor.execute("SELECT (pg_stat_file(%s)).size", [path])
    return cursor.fetchone()[0]


@contextmanager
def server_log():
    """``.text``: what PostgreSQL wrote to its own log while the block ran ("" on other databases).

    The session logs with PostgreSQL's defaults whatever the server's configuration (errors, each with its
    statement); a marker logged afterwards shows everything before it has reached the file.
    """
    log = SimpleNamespace(text="")
    if connection.vendor != "postgresql":
        yield log
        return
    with connection.cursor() as cursor:
        cursor.execute("SET log_min_messages = warning")
        cursor.execute("SET log_min_error_statement = error")
        path = _log_file(cursor)
        start = _log_size(cursor, path)
    yield log
    marker = f"pw-log-marker-{uuid.uuid4().hex}"
    with connection.cursor() as cursor:
        cursor.execute(f"DO $$ BEGIN RAISE WARNING '{marker}'; END $$")
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            end = _log_size(cursor, path)
            cursor.execute("SELECT pg_read_binary_file(%s, %s, %s)", [path, start, max(end - start, 0)])
            log.text = bytes(cursor.fetchone()[0]).decode("utf-8", "replace")
            if marker in log.text:
                break
            assert time.monotonic() < deadline, f"PostgreSQL's log ({path}) never showed the test's marker"
            time.sleep(0.1)


@contextmanager
def database_errors():
    """The errors the database raised for this thread's queries while the block ran."""
    errors: list[str] = []

    def record(execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            raise

    with connection.execute_wrapper(record):
        yield errors


@pytest.mark.django_db
def test_a_duplicate_signature_raises_no_database_error_and_leaves_no_personal_data_in_its_log(
    client, petition, changeorg_data
):
    email = f"dup-{uuid.uuid4().hex[:12]}@example.org"
    data = {**changeorg_data, "email": email, "phone": "+44 20 7946 0958", "reason": "Bees matter"}
    assert post_signature(client, petition, data).status_code == 303

    with server_log() as log, database_errors() as errors:
        response = post_signature(client, petition, data)

    assert response.status_code == 200
    assert DUPLICATE_MESSAGE in response.content.decode()
    assert errors == []
    assert email not in log.text.lower()
    assert "petition_widget_one_signature_per_email" not in log.text
    assert Signature.objects.count() == 1


@pytest.mark.django_db
def test_the_stored_signature_is_whole(client, petition, changeorg_data):
    """The hand-built INSERT writes what save() would: normalised e-mail, creation time, defaults; the pk."""
    response = post_signature(client, petition, {**changeorg_data, "email": " Ada@Example.COM", "hidden": "on"})
    assert response.status_code == 303
    signature = Signature.objects.get()
    # The domain is stored in its one IDNA form (lower case), the local part as typed.
    assert (signature.email, signature.email_normalized, signature.hidden) == (
        "Ada@example.com",
        "ada@example.com",
        True,
    )
    assert signature.created_at is not None and signature.state == "pending" and signature.attempts == 0
    petition.refresh_from_db()
    assert (petition.local_signature_count, petition.public_signature_count) == (1, 0)


# --- finding: the duplicate message tells anyone whether an address signed -----------------------------


def signers_browser(response) -> Client:
    """A browser holding the cookies `response` set: the one that signed (the thank-you state is for it only)."""
    browser = Client()
    browser.cookies.update(response.cookies)
    return browser


def comparable(response) -> tuple:
    """Status, headers, cookies and body of a response, the CSRF token aside."""
    body = CSRF_INPUT.sub("", response.content.decode())
    return response.status_code, dict(response.headers), sorted(response.cookies), body


@pytest.mark.parametrize("confirmation", [False, True], ids=["plain", "with confirmation"])
def test_a_concealing_petition_answers_a_duplicate_exactly_like_a_new_signature(
    petition, changeorg_data, confirmation, django_capture_on_commit_callbacks
):
    conceal(petition, confirmation=confirmation)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signature(stranger(), petition, changeorg_data).status_code == 303  # ada has signed
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        new = post_signature(stranger(), petition, {**changeorg_data, "email": "bob@example.org"})
        duplicate = post_signature(stranger(), petition, {**changeorg_data, "first_name": "Augusta"})

    assert new.status_code == 303
    assert comparable(duplicate) == comparable(new)
    thanks = [comparable(signers_browser(response).get(response["Location"])) for response in (new, duplicate)]
    assert thanks[0] == thanks[1]
    assert "Thank you for signing!" in thanks[0][3]
    if confirmation:
        assert "we sent you an e-mail" in thanks[0][3]
    assert Signature.objects.count() == 2
    assert Signature.objects.get(email="ada@example.com").first_name == "Ada"
    if confirmation:
        confirm, already = mail.outbox
        assert confirm.to == ["bob@example.org"] and "confirm" in confirm.subject.lower()
        assert already.to == ["ada@example.com"]
        assert "already signed" in already.subject and petition.title in already.subject
        assert "Augusta" not in already.body  # nothing the sender typed
    else:
        assert mail.outbox == []


def test_a_normal_petition_still_tells_a_duplicate_apart(petition, changeorg_data):
    assert post_signature(stranger(), petition, changeorg_data).status_code == 303
    new = post_signature(stranger(), petition, {**changeorg_data, "email": "bob@example.org"})
    duplicate = post_signature(stranger(), petition, changeorg_data)
    assert (new.status_code, duplicate.status_code) == (303, 200)
    assert DUPLICATE_MESSAGE in duplicate.content.decode()


def test_the_already_signed_mail_goes_out_once_per_address_and_petition(
    petition, wtp_petition, changeorg_data, wtp_data, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level("DEBUG")
    conceal(petition, confirmation=True)
    conceal(wtp_petition, confirmation=True)
    wtp_data = {**wtp_data, "email": changeorg_data["email"]}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signature(stranger(), petition, changeorg_data).status_code == 303
        assert post_signature(stranger(), wtp_petition, wtp_data).status_code == 303
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):  # a mail bomb
            assert (
                post_signature(stranger(), petition, {**changeorg_data, "email": "ADA@example.com"}).status_code == 303
            )
        assert post_signature(stranger(), wtp_petition, wtp_data).status_code == 303  # another petition: its own notice

    assert [(message.to, message.subject) for message in mail.outbox] == [
        (["ADA@example.com"], f"You have already signed: {petition.title}"),
        (["ada@example.com"], f"You have already signed: {wtp_petition.title}"),
    ]
    assert "ada@example.com" not in caplog.text.lower()
    assert "already-signed e-mail sent for petition" in caplog.text


def test_the_api_answers_a_concealed_duplicate_like_a_new_signature(petition, api_key, changeorg_data):
    assert post_api_signature(stranger(), api_key.key, changeorg_data, petition.upstream_id).status_code == 202
    refused = post_api_signature(stranger(), api_key.key, changeorg_data, petition.upstream_id)
    assert refused.status_code == 400 and refused.json()["messages"] == ["user has already signed the petition"]

    conceal(petition)
    new = post_api_signature(
        stranger(), api_key.key, {**changeorg_data, "email": "bob@example.org"}, petition.upstream_id
    )
    duplicate = post_api_signature(stranger(), api_key.key, changeorg_data, petition.upstream_id)
    assert new.status_code == 202
    assert (duplicate.status_code, dict(duplicate.headers), duplicate.json()) == (
        new.status_code,
        dict(new.headers),
        new.json(),
    )
    assert Signature.objects.count() == 2
