"""API keys: who may post signatures, and from which web origins.

A **browser key** sits in a public page, so it is public: it signs only from a browser on one of its
allowed origins (or a page of the site itself), and its signatures count against the signing form's
limits per client address and per petition as well as its own. A **server key** is a partner's secret:
it is refused whenever a request carries an ``Origin`` (a browser sent it), and is held to its own
limit and the per-petition one, not the per-address one (one server posts for many signers).

``Origin`` can be forged by any client that is not a browser; what the check stops is another web site
having its visitors' browsers post with a key (from as many addresses as it has visitors). The rate
limits (``petition_widget.abuse``) are what bound a forger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost
from django.utils import timezone
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ..api_keys import ApiKey, ApiKeyKind, hash_api_key

logger = logging.getLogger(__name__)

KEY_PARAM = "api_key"
# last_used_at is a hint for admins, not an audit log: one write a minute per key is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(BaseAuthentication):
    """Reads ``api_key`` from the body of unsafe requests; reads are public and need no key.

    The key is refused in the query string: URLs end up in access logs and browser histories.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        if request.method in permissions.SAFE_METHODS:
            return None
        if KEY_PARAM in request.query_params:
            raise exceptions.AuthenticationFailed(f"{KEY_PARAM} belongs in the request body, not in the URL.")
        data = request.data
        key = data.get(KEY_PARAM) if isinstance(data, Mapping) else None
        if key is None or key == "":
            return None
        if not isinstance(key, str) or len(key) > 200:
            raise exceptions.AuthenticationFailed(f"{KEY_PARAM} is not valid.")
        api_key = ApiKey.objects.filter(key_hash=hash_api_key(key), active=True).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed(f"{KEY_PARAM} is not valid.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer a missing key with 401 rather than 403.
        return f'ApiKey realm="api", param="{KEY_PARAM}"'


class HasApiKeyOrReadOnly(permissions.BasePermission):
    message = f"{KEY_PARAM} is required."

    def has_permission(self, request: Request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or isinstance(request.auth, ApiKey)


def request_origin(request) -> str | None:
    """The ``Origin`` of a cross-origin browser request; ``None`` for same-origin and non-browser ones."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin or None
    try:
        own = f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        own = None
    return None if origin.rstrip("/") == own else origin


def origin_allowed_by_any_key(origin: str) -> bool:
    """Whether some active browser key lets pages on `origin` use the API (reads and preflights)."""
    keys = ApiKey.objects.filter(active=True, kind=ApiKeyKind.BROWSER).only("allowed_origins")
    return any(key.allows_origin(origin) for key in keys)


def origin_refusal(request, api_key: ApiKey) -> str | None:
    """Why ``api_key`` may not sign from where ``request`` comes, or ``None`` when it may.

    A server key: only without an ``Origin`` header (browsers send one with every POST). A browser key:
    only with one, either of the key's allowed origins or the site's own (a same-origin page); a missing
    or opaque (``null``) origin is refused, for a hostile page can send ``null`` from a sandboxed frame.
    """
    sent = request.headers.get("Origin")
    if api_key.kind == ApiKeyKind.SERVER:
        return "This api_key is a server key: it may not be used from a browser." if sent else None
    if not sent or sent == "null":
        return "This api_key may be used only from a web page on one of its origins."
    origin = request_origin(request)
    if origin is not None and not api_key.allows_origin(origin):
        return "This api_key may not be used from this origin."
    return None
