"""The petition cache: add a petition from its upstream, keep it fresh, track its Change.org auth key.

Every function here talks to the upstream; none is ever called while a visitor loads or submits a form.
The HTTP calls happen with no transaction open; only the final write is atomic.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.text import slugify

from .conf import app_settings
from .exceptions import ConfigurationError
from .models import Petition
from .providers import get_provider
from .providers.base import AuthKeyGrant, PetitionData

logger = logging.getLogger(__name__)

CALLBACK_SALT = "petition_widget.auth_key_callback"
GRANTED = "granted"


def callback_token(provider: str, upstream_id: str) -> str:
    """The unguessable part of a petition's auth-key callback URL, so nobody else can revoke its key."""
    return salted_hmac(CALLBACK_SALT, f"{provider}:{upstream_id}").hexdigest()[:32]


def check_callback_token(petition: Petition, token: str) -> bool:
    return constant_time_compare(callback_token(petition.provider, petition.upstream_id), token)


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
    grant = _request_grant(provider, provider_name, upstream_id, slug)
    with transaction.atomic():
        petition = Petition.objects.select_for_update().filter(provider=provider_name, upstream_id=upstream_id).first()
        petition = petition or Petition(provider=provider_name, upstream_id=upstream_id)
        petition.slug = slug
        _apply(petition, data)
        if grant is not None:
            _apply_grant(petition, grant)
        petition.full_clean(exclude=["targets", "raw"])
        petition.save()
    logger.info("petition %s (%s %s) added", petition.pk, provider_name, upstream_id)
    return petition


def _request_grant(provider, provider_name: str, upstream_id: str, slug: str) -> AuthKeyGrant | None:
    source = absolute_url(reverse("petition_widget:sign", kwargs={"slug": slug}))
    callback = absolute_url(
        reverse(
            "petition_widget:auth_key_callback",
            kwargs={"slug": slug, "token": callback_token(provider_name, upstream_id)},
        )
    )
    return provider.request_auth_key(upstream_id, source=source, callback_endpoint=callback)


def _apply_grant(petition: Petition, grant: AuthKeyGrant) -> None:
    petition.auth_key = grant.auth_key if grant.granted else ""
    petition.auth_key_status = grant.status
    petition.auth_key_source = grant.source


def request_auth_key(petition: Petition) -> str:
    """Ask the upstream for a new authorization key for the petition's form page; store it, return its status."""
    grant = _request_grant(get_provider(petition.provider), petition.provider, petition.upstream_id, petition.slug)
    if grant is None:
        return ""
    _apply_grant(petition, grant)
    petition.save(update_fields=["auth_key", "auth_key_status", "auth_key_source"])
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


def record_auth_key_change(petition: Petition, *, status: str, auth_key: str = "", source: str = "") -> None:
    """Record an upstream's later change to the petition's key (a revocation by the petition's creator)."""
    updates = {"auth_key_status": status}
    if status != GRANTED:
        updates["auth_key"] = ""
    elif auth_key:
        updates["auth_key"] = auth_key
    if source:
        updates["auth_key_source"] = source
    Petition.objects.filter(pk=petition.pk).update(**updates)
    logger.warning("petition %s: upstream reports auth key %s", petition.pk, status)
