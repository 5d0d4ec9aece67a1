"""The petition cache: add a petition from its upstream, keep it fresh, track its Change.org auth key.

Every function here talks to the upstream; none is ever called while a visitor loads or submits a form.
The HTTP calls happen with no transaction open; only the final write is atomic.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.text import slugify

from .conf import app_settings
from .exceptions import ConfigurationError
from .models import Petition
from .providers import get_provider
from .providers.base import AuthKeyGrant, PetitionData
from .providers.changeorg import GRANT_STATUSES

logger = logging.getLogger(__name__)

CALLBACK_SALT = "petition_widget.auth_key_callback"
GRANTED = "granted"


def callback_token(provider: str, upstream_id: str, nonce: str) -> str:
    """The unguessable part of a petition's auth-key callback URL, so nobody else can revoke its key.

    `nonce` is drawn afresh for each key request (:func:`new_callback_nonce`): a callback URL given with
    an earlier request (it sits in access logs) is worthless. A petition stored before nonces existed
    has none and keeps the URL it was given until its next key request.
    """
    message = f"{provider}:{upstream_id}:{nonce}" if nonce else f"{provider}:{upstream_id}"
    return salted_hmac(CALLBACK_SALT, message).hexdigest()[:32]


def new_callback_nonce() -> str:
    return secrets.token_hex(16)


def check_callback_token(petition: Petition, token: str) -> bool:
    """Whether `token` belongs to the callback URL given with the petition's latest key request."""
    expected = callback_token(petition.provider, petition.upstream_id, petition.auth_key_callback_nonce)
    return constant_time_compare(expected, token)


def form_source(slug: str) -> str:
    """The ``source`` of a petition's key: the absolute URL of its form page, where signatures are collected."""
    return absolute_url(reverse("petition_widget:sign", kwargs={"slug": slug}))


def absolute_url(path: str) -> str:
    site_url = app_settings.SITE_URL
    if not site_url:
        raise ConfigurationError(
            "PETITION_WIDGET['SITE_URL'] is needed to build absolute URLs (auth key source, confirmation links)."
        )
    return site_url.rstrip("/") + path


def _unique_slug(title: str, upstream_id: str) -> str:
    base = slugify(title)[:80].strip("-") or f"petition-{upstream_id}"
    slug, n = base, 2
    while Petition.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _apply(petition: Petition, data: PetitionData) -> None:
    for field, value in data.model_fields().items():
        setattr(petition, field, value)
    petition.synced_at = timezone.now()


def add_petition(provider_name: str, url_or_id: str, *, slug: str | None = None) -> Petition:
    """Resolve, fetch and store a petition (or refresh the one already stored); for Change.org also
    request the petition authorization key for this site's form page.

    All or nothing: on upstream trouble a :class:`~petition_widget.exceptions.PetitionWidgetError`
    subclass is raised and nothing is stored.
    """
    provider = get_provider(provider_name)
    upstream_id = provider.resolve_petition_id(url_or_id.strip())
    data = provider.fetch_petition(upstream_id)
    existing = Petition.objects.filter(provider=provider_name, upstream_id=upstream_id).first()
    slug = slug or (existing.slug if existing else _unique_slug(data.title, upstream_id))
    nonce = new_callback_nonce()
    grant = _request_grant(provider, provider_name, upstream_id, slug, nonce)
    with transaction.atomic():
        petition = Petition.objects.select_for_update().filter(provider=provider_name, upstream_id=upstream_id).first()
        petition = petition or Petition(provider=provider_name, upstream_id=upstream_id)
        petition.slug = slug
        _apply(petition, data)
        if grant is not None:
            _apply_grant(petition, grant, nonce)
        petition.full_clean(exclude=["targets", "raw"])
        petition.save()
    logger.info("petition %s (%s %s) added", petition.pk, provider_name, upstream_id)
    return petition


def _request_grant(provider, provider_name: str, upstream_id: str, slug: str, nonce: str) -> AuthKeyGrant | None:
    """Ask for the key, giving a callback URL made with `nonce` (stored with the grant, once it is known)."""
    callback = absolute_url(
        reverse(
            "petition_widget:auth_key_callback",
            kwargs={"slug": slug, "token": callback_token(provider_name, upstream_id, nonce)},
        )
    )
    return provider.request_auth_key(upstream_id, source=form_source(slug), callback_endpoint=callback)


def _apply_grant(petition: Petition, grant: AuthKeyGrant, nonce: str) -> None:
    petition.auth_key = grant.auth_key if grant.granted else ""
    petition.auth_key_status = grant.status
    petition.auth_key_source = grant.source
    petition.auth_key_callback_nonce = nonce


def request_auth_key(petition: Petition) -> str:
    """Ask the upstream for a new authorization key for the petition's form page; store it, return its status.

    Callback URLs given with earlier requests stop working.
    """
    nonce = new_callback_nonce()
    grant = _request_grant(
        get_provider(petition.provider), petition.provider, petition.upstream_id, petition.slug, nonce
    )
    if grant is None:
        return ""
    _apply_grant(petition, grant, nonce)
    petition.save(update_fields=["auth_key", "auth_key_status", "auth_key_source", "auth_key_callback_nonce"])
    logger.info("petition %s: auth key %s", petition.pk, grant.status)
    return grant.status


def sync_petition(petition: Petition) -> Petition:
    """Refresh the cached upstream fields (count, status, goal, closing date…) of one petition."""
    data = get_provider(petition.provider).fetch_petition(petition.upstream_id)
    with transaction.atomic():
        petition = Petition.objects.select_for_update().get(pk=petition.pk)
        _apply(petition, data)
        petition.save()
    return petition


def stale_petitions(interval: float) -> models.QuerySet:
    """Open petitions whose cached upstream data is older than ``interval`` seconds (or never synced)."""
    cutoff = timezone.now() - timedelta(seconds=interval)
    return Petition.objects.filter(accepts_signatures=True).filter(Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff))


def sync_stale_petitions(interval: float, *, take_slot: Callable[[str], bool] | None = None) -> tuple[int, int]:
    """Sync each open petition not synced for ``interval`` seconds; returns (synced, failed).

    Run by the forwarding workers between batches, never in a visitor's request. A petition the
    upstream cannot give is logged (by id) and tried again on the next round. ``take_slot(provider)``,
    when given, is asked before each petition's request (the upstream counts a read against the same
    limit as a signature): ``False`` leaves that petition, and the rest of its provider's, to the next round.
    """
    synced = failed = 0
    no_room: set[str] = set()
    for petition in stale_petitions(interval).only("pk", "provider", "upstream_id").order_by("synced_at", "pk"):
        if petition.provider in no_room:
            continue
        if take_slot is not None and not take_slot(petition.provider):
            no_room.add(petition.provider)
            continue
        try:
            sync_petition(petition)
        except Exception as exc:
            failed += 1
            logger.warning("petition %s could not be synced: %s", petition.pk, type(exc).__name__)
        else:
            synced += 1
    return synced, failed


class CallbackRefused(ValueError):
    """An auth-key callback that does not describe the key of our own latest request; nothing was written."""


def record_auth_key_change(petition: Petition, *, status: str, auth_key: str = "", source: str = "") -> None:
    """Record an upstream's later change to the petition's key (a revocation by the petition's creator).

    A callback may take the key away (``revoked``, ``denied``: the key is cleared and forwarding pauses).
    ``granted`` is accepted only when it re-states the key we hold from our own request: a callback
    never installs a key (the admin's "Request a new authorization key" does). A ``source`` other
    than our form page is refused; an absent one is fine. Raises :class:`CallbackRefused`.
    """
    if status not in GRANT_STATUSES:
        raise CallbackRefused("unexpected status")
    if source and source != form_source(petition.slug):
        raise CallbackRefused("unexpected source")
    # Only a change made for the key request this callback URL was given with: a concurrent new
    # request (a new nonce) is left alone.
    current = Petition.objects.filter(pk=petition.pk, auth_key_callback_nonce=petition.auth_key_callback_nonce)
    if status == GRANTED:
        if not petition.auth_key or not constant_time_compare(auth_key, petition.auth_key):
            raise CallbackRefused("unexpected authorization key")
        current.filter(auth_key=petition.auth_key).update(auth_key_status=GRANTED)
    else:
        current.update(auth_key_status=status, auth_key="")
    logger.warning("petition %s: upstream reports auth key %s", petition.pk, status)
