"""The signer's client address, behind the site's trusted proxies, and the keyed hash that stands in for it.

The address itself is never stored, logged or put in the cache: the signatures and the rate limits keep
:func:`hash_ip` of it.
"""

from __future__ import annotations

import ipaddress
import logging

from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from .conf import app_settings

logger = logging.getLogger(__name__)

# Named after the module the hash was first in, and kept: another salt would change every hash, and the stored
# ones would no longer match their addresses.
IP_HASH_SALT = "petition_widget.abuse.client_address"


def _parse_address(value: str) -> str | None:
    """``value`` as a normalised IP address (a port and IPv6 brackets dropped), or ``None``."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]  # IPv4 with a port, as some proxies write it
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def client_address(request: HttpRequest) -> str | None:
    """The signer's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies of the site's own
    the n-th address from the right of ``X-Forwarded-For`` (each proxy appends the address it was reached from).

    A header shorter than that (a proxy was bypassed, or added nothing) gives its left-most address, the
    farthest one a trusted proxy wrote; a missing header, or an entry that is not an address, gives
    ``REMOTE_ADDR``. With no trusted proxies the header is ignored: anyone can send it.
    """
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            address = _parse_address(hops[-proxies] if len(hops) >= proxies else hops[0])
            if address is not None:
                return address
            logger.warning("X-Forwarded-For holds no address at the trusted position; using REMOTE_ADDR")
    return _parse_address(request.META.get("REMOTE_ADDR", ""))


def hash_ip(address: str) -> str:
    """HMAC-SHA256 of ``address`` (hex) with ``IP_HASH_KEY``, or a key derived from ``SECRET_KEY``.

    An IPv6 address counts as its /64 network, the block one subscriber is given and can pick addresses from.
    """
    ip = ipaddress.ip_address(address)
    unit = str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))) if ip.version == 6 else str(ip)
    secret = app_settings.IP_HASH_KEY or None
    return salted_hmac(IP_HASH_SALT, unit, secret=secret, algorithm="sha256").hexdigest()


def client_hash(request: HttpRequest) -> str:
    """:func:`hash_ip` of the :func:`client_address`; ``""`` when the request carries no address."""
    address = client_address(request)
    return hash_ip(address) if address else ""
