"""The Change.org v1 request signature (``rsig``), shared by the client and the emulator.

``rsig = sha256_hex(body + secret + auth_key)``: plain concatenation, lowercase hex, where ``body`` is
the exact url-encoded string sent, without ``rsig``, which is always the last parameter.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

__all__ = ["sign_body", "signed_body", "verify"]

RSIG_SEPARATOR = "&rsig="

# Node's querystring.escape leaves these unescaped (encodeURIComponent's set), unlike RFC 3986.
_NODE_SAFE = "!'()*"


def sign_body(body: str, secret: str, auth_key: str = "") -> str:
    """Return the lowercase hex sha256 of ``body + secret + auth_key``."""
    return hashlib.sha256((body + secret + auth_key).encode("utf-8")).hexdigest()


def signed_body(params: list[tuple[str, str]], secret: str, auth_key: str = "") -> str:
    """Encode ``params`` (RFC 3986 style, spaces as ``%20``) and append ``&rsig=`` as the last parameter."""
    body = urlencode(params, quote_via=quote)
    return f"{body}{RSIG_SEPARATOR}{sign_body(body, secret, auth_key)}"


def _quote_node(value: str, safe: str = "", encoding: str | None = None, errors: str | None = None) -> str:
    return quote(value, safe=safe + _NODE_SAFE, encoding=encoding, errors=errors)


_ENCODERS: tuple[Callable[..., str], ...] = (quote, quote_plus, _quote_node)


def _candidates(body: str) -> list[str]:
    """The signed strings a client may have hashed for this body: as sent, then re-encoded three ways."""
    candidates = [body]
    try:
        params = parse_qsl(body, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return candidates
    for encoder in _ENCODERS:
        encoded = urlencode(params, quote_via=encoder)
        if encoded not in candidates:
            candidates.append(encoded)
    return candidates


def verify(raw_body: str, secret: str, auth_key: str = "") -> bool:
    """Whether the ``rsig`` ending ``raw_body`` signs it with ``secret`` (and ``auth_key``).

    Valid when it matches the raw body up to ``&rsig=``, or the same parameters in the order received
    re-encoded as RFC 3986 (``%20``), as a form (``+``) or as Node's ``querystring``. Every variant still
    needs the secret, so accepting them costs no security. Comparisons are constant-time.
    """
    body, separator, received = raw_body.rpartition(RSIG_SEPARATOR)
    if not separator or not received:
        return False
    received_bytes = received.strip().lower().encode("ascii", "replace")
    valid = False
    for candidate in _candidates(body):
        expected = sign_body(candidate, secret, auth_key).encode("ascii")
        # No early exit: every candidate is compared, whichever one matches.
        valid |= hmac.compare_digest(expected, received_bytes)
    return valid
