"""The Change.org request signature: the documented vector, and what the server side accepts."""

from urllib.parse import quote, urlencode

import pytest

from petition_widget import rsig

SECRET = "003af2309b1f012f479b109add670a2c"
AUTH_KEY = "29b109add0012f47754a28309b670a2c"
PARAMS = [
    ("api_key", "754a28309b20012f479b109add670a2c"),
    ("endpoint", "/v1/petitions/48503/signatures"),
    ("timestamp", "2012-04-18T21:02:00Z"),
    ("first_name", "Miles"),
    ("last_name", "O'Brien (Jr.)"),
    ("city", "New York"),
    ("reason", "Trees! *Many* of them ~ now"),
]


def node_querystring(params):
    """What Node's querystring.stringify produces: %20 for spaces, !'()* left as they are."""
    return urlencode(params, quote_via=lambda value, *args: quote(value, safe="!'()*"))


def test_known_vector_from_the_old_docs():
    body = (
        "api_key=754a28309b20012f479b109add670a2c"
        "&endpoint=https%3A%2F%2Fapi.change.org%2Fv1%2Fpetitions%2F48503"
        "&petition_id=4832&timestamp=2012-04-18T21%3A02-07%3A00"
    )
    assert rsig.sign_body(body, SECRET) == "ac0889ce480e30151c08613093868d22e30d4fcb60cc42089313e9d6ccc5bcbc"


def test_auth_key_is_appended_to_the_hashed_string():
    assert rsig.sign_body("a=1", SECRET, AUTH_KEY) == rsig.sign_body("a=1" + SECRET + AUTH_KEY, "")
    assert rsig.sign_body("a=1", SECRET, AUTH_KEY) != rsig.sign_body("a=1", SECRET)


def test_signed_body_encodes_rfc3986_and_puts_rsig_last():
    sent = rsig.signed_body(PARAMS, SECRET, AUTH_KEY)
    body, _, signature = sent.partition("&rsig=")
    assert "city=New%20York" in body
    assert "last_name=O%27Brien%20%28Jr.%29" in body
    assert "+" not in body
    assert signature == rsig.sign_body(body, SECRET, AUTH_KEY)
    assert sent.rsplit("&", 1)[1].startswith("rsig=")


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda params: urlencode(params, quote_via=quote), id="rfc3986-%20"),
        pytest.param(urlencode, id="form-plus"),
    ],
)
def test_verify_accepts_a_body_signed_as_sent(encode):
    body = encode(PARAMS)
    assert rsig.verify(f"{body}&rsig={rsig.sign_body(body, SECRET, AUTH_KEY)}", SECRET, AUTH_KEY)


def test_verify_accepts_node_querystring_signing_for_an_obrien():
    signed = node_querystring(PARAMS)
    sent = urlencode(PARAMS, quote_via=quote)
    # The npm client hashes one string and sends another: they differ exactly on the apostrophe and friends.
    assert "O'Brien" in signed and "O%27Brien" in sent
    assert rsig.verify(f"{sent}&rsig={rsig.sign_body(signed, SECRET, AUTH_KEY)}", SECRET, AUTH_KEY)


def test_verify_accepts_a_form_signed_body_sent_with_percent_twenty():
    sent = urlencode(PARAMS, quote_via=quote)
    assert rsig.verify(f"{sent}&rsig={rsig.sign_body(urlencode(PARAMS), SECRET, AUTH_KEY)}", SECRET, AUTH_KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda sent: sent.replace("Miles", "Niles"), id="body-altered"),
        pytest.param(lambda sent: sent.replace("city=New%20York&", ""), id="parameter-dropped"),
        pytest.param(lambda sent: sent + "&hidden=true", id="parameter-after-rsig"),
        pytest.param(lambda sent: sent.partition("&rsig=")[0], id="rsig-missing"),
        pytest.param(lambda sent: sent.partition("&rsig=")[0] + "&rsig=", id="rsig-empty"),
        pytest.param(lambda sent: sent[:-1] + ("0" if sent[-1] != "0" else "1"), id="rsig-changed"),
    ],
)
def test_verify_refuses_tampering(tamper):
    sent = rsig.signed_body(PARAMS, SECRET, AUTH_KEY)
    assert rsig.verify(sent, SECRET, AUTH_KEY)
    assert not rsig.verify(tamper(sent), SECRET, AUTH_KEY)


def test_verify_refuses_reordered_parameters():
    sent = rsig.signed_body(PARAMS, SECRET, AUTH_KEY)
    reordered = urlencode(list(reversed(PARAMS)), quote_via=quote)
    assert not rsig.verify(f"{reordered}&rsig={sent.partition('&rsig=')[2]}", SECRET, AUTH_KEY)


@pytest.mark.parametrize(
    ("secret", "auth_key"),
    [("wrong-secret", AUTH_KEY), (SECRET, "0" * 32), (SECRET, "")],
    ids=["wrong-secret", "wrong-auth-key", "auth-key-left-out"],
)
def test_verify_needs_the_same_secret_and_auth_key(secret, auth_key):
    assert not rsig.verify(rsig.signed_body(PARAMS, SECRET, AUTH_KEY), secret, auth_key)


def test_verify_refuses_an_undecodable_body_without_raising():
    body = "first_name=%FF%FE&city=x"
    assert rsig.verify(f"{body}&rsig={rsig.sign_body(body, SECRET)}", SECRET)
    assert not rsig.verify(f"{body}&rsig={'0' * 64}", SECRET)
