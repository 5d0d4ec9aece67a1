"""Hostile request bodies and headers: nothing reads an oversized or chunked body, nothing answers 500.

The live tests speak HTTP through a raw socket, so that a client can announce a body it never sends:
an answer that arrives anyway shows the server did not wait for (read) the body.
"""

import json
import os
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client
from django.urls import reverse

from petition_widget.api.parsers import MAX_JSON_DEPTH
from petition_widget.models import Petition, Provider, Signature
from petition_widget.petitions import callback_token
from tests.factories import new_api_key

HUGE = 200 * 1024 * 1024  # announced, never sent
BOUNDARY = "pw-boundary-7f3a"
# Only a hang guard: the answer to a refused request comes at once; this turns a server that waits for
# the body it was promised into a failure instead of a stuck test run.
ANSWER_DEADLINE = 60
API_SIGNATURES = "/api/v1/petitions/48503/signatures"


@pytest.fixture
def live_petition(transactional_db):
    return Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id="48503", slug="save-the-bees", title="Save the bees", goal=1000
    )


@pytest.fixture
def upload_dir(settings, tmp_path):
    """An empty directory where Django must write any upload too large for memory."""
    path = tmp_path / "uploads"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


def csrf_cookie(live_server, path: str) -> str:
    session = requests.Session()
    assert session.get(f"{live_server.url}{path}", timeout=30).status_code == 200
    return session.cookies["csrftoken"]


def multipart_start(fields: dict[str, str]) -> bytes:
    """The first part of a multipart body: the fields, then the start of a file part filled with zeros."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="reason"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    # Several of the multipart parser's 64 KiB chunks: enough for it to open the upload file.
    return "".join(parts).encode() + b"\0" * (256 * 1024)


def raw_request(live_server, method: str, path: str, headers: dict[str, str], sent: bytes, watch=None) -> tuple:
    """Sends the head of a request and `sent` (of the body), then waits for the answer without sending more.

    Returns (status, headers, body). While waiting, `watch` (a directory) must stay empty; a file in it
    means the server is writing the body to disk.
    """
    url = urlsplit(live_server.url)
    head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head.encode() + sent)
        answer = b""
        deadline = time.monotonic() + ANSWER_DEADLINE
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < answer_length(answer):
            if watch is not None:
                assert os.listdir(watch) == [], "the server wrote the announced body to disk"
            if time.monotonic() > deadline:
                pytest.fail("no answer: the server is waiting to read the rest of the body")
            if select.select([sock], [], [], 0.05)[0]:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        if watch is not None:
            assert os.listdir(watch) == []
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), answer_headers, body


def answer_length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


# Finding 3: a body is refused before anything reads it ---------------------------------------------


@pytest.mark.parametrize("path", ["/petitions/save-the-bees/", "/petitions/confirm/some-token/"])
def test_a_200_mb_multipart_post_with_a_valid_csrf_token_is_refused_before_it_is_read(
    live_server, live_petition, upload_dir, path
):
    token = csrf_cookie(live_server, "/petitions/save-the-bees/")
    headers = {
        "Cookie": f"csrftoken={token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(HUGE),
    }
    first_chunk = multipart_start({"csrfmiddlewaretoken": token, "first_name": "Ada"})
    status, headers, body = raw_request(live_server, "POST", path, headers, first_chunk, watch=upload_dir)
    assert status == 413
    assert headers["content-type"].startswith("text/plain")
    assert body == b"The request body is too large."
    assert os.listdir(upload_dir) == []
    assert not Signature.objects.exists()


def test_a_200_mb_multipart_post_to_the_api_is_refused_before_it_is_read(live_server, live_petition, upload_dir):
    key = new_api_key(name="guards")
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(HUGE)}
    first_chunk = multipart_start({"api_key": key, "first_name": "Ada"})
    status, _, body = raw_request(live_server, "POST", API_SIGNATURES, headers, first_chunk, watch=upload_dir)
    assert status == 413
    assert json.loads(body) == {"result": "failure", "messages": ["The request body is too large."]}
    assert os.listdir(upload_dir) == []
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/petitions/save-the-bees/", "text/plain; charset=utf-8"),
        ("/petitions/confirm/some-token/", "text/plain; charset=utf-8"),
        (API_SIGNATURES, "application/json"),
    ],
)
def test_a_chunked_sign_post_of_unknown_size_is_refused_with_411(
    live_server, live_petition, upload_dir, path, content_type
):
    token = csrf_cookie(live_server, "/petitions/save-the-bees/")
    headers = {
        "Cookie": f"csrftoken={token}",
        "X-CSRFToken": token,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding": "chunked",
    }
    chunk = multipart_start({"csrfmiddlewaretoken": token, "api_key": "x"})
    first = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    status, headers, _ = raw_request(live_server, "POST", path, headers, first, watch=upload_dir)
    assert status == 411
    assert headers["content-type"].startswith(content_type)
    assert not Signature.objects.exists()


def callback_path(petition: Petition) -> str:
    token = callback_token(petition.provider, petition.upstream_id, petition.auth_key_callback_nonce)
    return reverse("petition_widget:auth_key_callback", kwargs={"slug": petition.slug, "token": token})


SIGN_ENDPOINTS = {
    "form": lambda petition: reverse("petition_widget:sign", kwargs={"slug": petition.slug}),
    "confirmation": lambda petition: reverse("petition_widget:confirm", kwargs={"token": "some-token"}),
    "api": lambda petition: API_SIGNATURES,
    "callback": callback_path,
}


def refusal_text(response) -> str:
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body["result"] == "failure"
        return body["messages"][0]
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.parametrize("endpoint", SIGN_ENDPOINTS)
@pytest.mark.parametrize(
    ("meta", "status", "message"),
    [
        ({"CONTENT_LENGTH": str(HUGE)}, 413, "too large"),
        ({"CONTENT_LENGTH": "16385"}, 413, "too large"),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, 411, "Content-Length"),
        ({"CONTENT_LENGTH": "-5"}, 400, "Content-Length"),
        ({"CONTENT_LENGTH": "1e9"}, 400, "Content-Length"),
    ],
)
def test_no_sign_endpoint_reads_a_body_announced_too_large_or_of_unknown_length(
    petition, endpoint, meta, status, message
):
    """The test client's body is a few bytes; reading past them would raise in the test client itself."""
    response = Client(raise_request_exception=True).post(
        SIGN_ENDPOINTS[endpoint](petition), "a=b", content_type="application/x-www-form-urlencoded", **meta
    )
    assert response.status_code == status
    assert message in refusal_text(response)
    assert not Signature.objects.exists()


def test_the_confirmation_post_still_needs_the_csrf_token(petition):
    strict = Client(enforce_csrf_checks=True)
    url = reverse("petition_widget:confirm", kwargs={"token": "some-token"})
    assert strict.post(url, {}).status_code == 403
    strict.get(reverse("petition_widget:sign", kwargs={"slug": petition.slug}))  # sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    assert strict.post(url, {"csrfmiddlewaretoken": token}).status_code == 400  # the token is not valid


# Finding 5: deeply nested JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '{"a":' * 1000 + "1" + "}" * 1000,
        "[{" + '"a":[{' * 900 + "}]" * 900 + "}]",
        '{"first_name": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["arrays", "objects", "mixed", "in-a-field"],
)
def test_deeply_nested_json_is_a_400_in_the_failure_shape_not_a_500(petition, body):
    response = Client(raise_request_exception=False).post(API_SIGNATURES, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["result"] == "failure"
    assert "nested too deeply" in response.json()["messages"][0]


def nested_field(depth: int) -> str:
    """A sign body whose first_name is arrays ``depth - 1`` deep, inside the body's object: ``depth`` in all."""
    return '{"first_name": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_json_one_level_deeper_than_the_limit_is_refused_whatever_python_parses(petition):
    """Python 3.11's json gives up at a depth of about a thousand, 3.13's only past several thousand: the
    limit is the project's own, the same on both."""
    response = Client(raise_request_exception=False).post(
        API_SIGNATURES, nested_field(MAX_JSON_DEPTH + 1), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["result"] == "failure"
    assert "nested too deeply" in response.json()["messages"][0]
    assert not Signature.objects.exists()


def test_json_nested_as_deep_as_the_limit_is_parsed_and_goes_on_to_the_key_check(petition):
    response = Client(raise_request_exception=False).post(
        API_SIGNATURES, nested_field(MAX_JSON_DEPTH), content_type="application/json"
    )
    assert response.status_code == 401  # no API key in the body: refused by the next check, not the parser
    assert "nested too deeply" not in json.dumps(response.json())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"api_key": ', "application/json"),
        (b'{"api_key": "\xff\xfe"}', "application/json"),
        (b'{"api_key": NaN}', "application/json"),
        (b"--x\r\nbroken", "multipart/form-data"),
    ],
    ids=["truncated", "not-utf8", "nan", "no-boundary"],
)
def test_any_malformed_body_is_a_400_in_the_failure_shape(petition, body, content_type):
    response = Client(raise_request_exception=False).post(API_SIGNATURES, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["result"] == "failure"


# Finding 6: a Content-Type charset that is not a text encoding --------------------------------------

UNREADABLE_CHARSETS = ["rot13", "hex", "bz2_codec", "base64", "idna", "undefined", "no-such-charset"]


@pytest.mark.parametrize("charset", UNREADABLE_CHARSETS)
@pytest.mark.parametrize("endpoint", SIGN_ENDPOINTS)
def test_a_form_post_in_a_rot13_or_hex_charset_is_a_400_not_a_500(petition, endpoint, charset):
    response = Client(raise_request_exception=True).post(
        SIGN_ENDPOINTS[endpoint](petition),
        "first_name=Ada",
        content_type="application/x-www-form-urlencoded",
        CONTENT_TYPE=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400
    assert "character set" in refusal_text(response)
    assert not Signature.objects.exists()


@pytest.fixture
def example_site(transactional_db):
    """The example site's own WSGI application (example_project/wsgi.py) on a real server on loopback."""
    from example_project.wsgi import application

    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler, allow_reuse_address=False)
    server.set_app(application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("charset", ["rot13", "hex", "bz2_codec", "idna"])
@pytest.mark.parametrize(
    "path", ["/petitions/save-the-bees/?a=b", "/?page=1", "/admin/login/?next=/admin/", "/api/v1/petitions/1?x=1"]
)
def test_a_rot13_charset_with_a_query_string_is_a_400_not_a_500_on_any_url(example_site, charset, path):
    headers = {"Content-Type": f"text/plain; charset={charset}"}
    response = requests.get(f"{example_site}{path}", headers=headers, timeout=30)
    assert response.status_code == 400
    assert "character set" in response.text


def test_the_encoding_guard_lets_a_readable_charset_through(example_site, live_petition):
    headers = {"Content-Type": "text/plain; charset=iso-8859-1"}
    response = requests.get(f"{example_site}/petitions/save-the-bees/?a=b", headers=headers, timeout=30)
    assert response.status_code == 200
    assert "Save the bees" in response.text
