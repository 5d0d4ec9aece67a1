"""Confirmed signatures: the e-mailed link, and the page whose button confirms.

A petition with ``require_confirmation`` stores each signature as awaiting confirmation and mails the
signer a link. Following the link (a GET) only shows a page with a button; the button's POST confirms.
Mail scanners and link previews fetch links but do not submit forms, so they cannot confirm anyone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core import signing
from django.core.cache import caches
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from . import lifecycle
from .conf import app_settings
from .models import ForwardingState, Petition, Signature
from .petitions import absolute_url

logger = logging.getLogger(__name__)

TOKEN_SALT = "petition_widget.confirmation"
ALREADY_SIGNED_SALT = "petition_widget.confirmation.already_signed"


class ConfirmationError(Exception):
    """The link cannot confirm anything: it was altered, it expired, or its signature is gone."""


def expiry() -> timedelta:
    return timedelta(hours=app_settings.CONFIRMATION_EXPIRY_HOURS)


def address_digest(email_normalized: str) -> str:
    """A short keyed hash of the address a link was sent to: the link names it without showing it."""
    return salted_hmac(TOKEN_SALT, email_normalized, algorithm="sha256").hexdigest()[:24]


def token_payload(signature) -> list:
    return [signature.pk, address_digest(signature.email_normalized)]


def make_token(signature) -> str:
    """A signed, timestamped token naming the signature and (hashed) the address the link was sent to.

    Signed, not encrypted, so it holds no e-mail address: links end up in access logs.
    """
    return signing.dumps(token_payload(signature), salt=TOKEN_SALT)


def read_token(token: str) -> tuple[int, str]:
    """The signature id and address digest in a token; :class:`ConfirmationError` when invalid or expired."""
    try:
        pk, digest = signing.loads(token, salt=TOKEN_SALT, max_age=expiry())
    except signing.SignatureExpired as exc:
        raise ConfirmationError("expired") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise ConfirmationError("invalid") from exc
    return int(pk), str(digest)


def find_signature(token: str, queryset=None):
    """The signature a token names, or :class:`ConfirmationError` ("gone" when it was deleted or erased)."""
    pk, digest = read_token(token)
    signature = (queryset if queryset is not None else Signature.objects).filter(pk=pk).first()
    if signature is None or not constant_time_compare(address_digest(signature.email_normalized), digest):
        raise ConfirmationError("gone")
    return signature


def confirmation_url(signature) -> str:
    return absolute_url(reverse("petition_widget:confirm", kwargs={"token": make_token(signature)}))


def send_confirmation(signature_id: int) -> bool:
    """E-mail the confirmation link of a signature awaiting confirmation. False when nothing was sent.

    Runs after the signature's commit. A mail server that refuses is logged (by id) and leaves
    ``confirmation_sent_at`` empty, so an admin sees it and can use "Resend confirmation".
    """
    signature = (
        Signature.objects.select_related("petition")
        .filter(pk=signature_id, state=ForwardingState.UNCONFIRMED, erased_at__isnull=True)
        .first()
    )
    if signature is None:
        return False
    if not app_settings.SITE_URL:
        logger.error("confirmation e-mail for signature %s not sent: SITE_URL is empty (check W002)", signature.pk)
        return False
    context = {
        "signature": signature,
        "petition": signature.petition,
        "url": confirmation_url(signature),
        "expiry_hours": app_settings.CONFIRMATION_EXPIRY_HOURS,
    }
    subject = " ".join(render_to_string("petition_widget/email/confirm_subject.txt", context).split())
    body = render_to_string("petition_widget/email/confirm_body.txt", context)
    try:
        send_mail(subject, body, app_settings.CONFIRMATION_FROM_EMAIL or None, [signature.email])
    except Exception as exc:
        # Not logger.exception: SMTP errors carry the recipient's address in their text.
        logger.error("confirmation e-mail for signature %s could not be sent: %s", signature.pk, type(exc).__name__)
        return False
    Signature.objects.filter(pk=signature.pk).update(confirmation_sent_at=timezone.now())
    logger.info("confirmation e-mail sent for signature %s", signature.pk)
    return True


def already_signed_key(petition_id: int, email_normalized: str) -> str:
    """The cache key that throttles "already signed" e-mails to one address about one petition (a keyed hash)."""
    digest = salted_hmac(ALREADY_SIGNED_SALT, f"{petition_id}:{email_normalized}", algorithm="sha256").hexdigest()
    return f"petition_widget:already-signed:{digest[:32]}"


def send_already_signed(petition_id: int, email: str) -> bool:
    """E-mail `email` that it has already signed the petition; False when nothing was sent.

    The answer to a duplicate on a petition that conceals duplicates and asks for confirmation: the
    signer is told by mail, as a new signer would be, and the page shows nobody else anything. At most
    one such e-mail goes to an address about a petition every ``CONFIRMATION_EXPIRY_HOURS``, counted in
    the ``RATE_LIMIT_CACHE`` cache, so the form cannot be used to flood an inbox; when that cache fails
    nothing is sent. The mail holds the petition's title only, nothing the sender typed. Runs after the
    commit; the address is never logged.
    """
    petition = Petition.objects.filter(pk=petition_id).only("pk", "title").first()
    if petition is None:
        return False
    key = already_signed_key(petition.pk, Signature.normalize_email(email))
    try:
        first = caches[app_settings.RATE_LIMIT_CACHE].add(key, 1, timeout=int(expiry().total_seconds()))
    except Exception as exc:
        logger.error(
            "already-signed e-mail for petition %s not sent: its cache failed (%s)", petition.pk, type(exc).__name__
        )
        return False
    if not first:
        logger.info("already-signed e-mail for petition %s not sent: that address had one recently", petition.pk)
        return False
    context = {"petition": petition, "expiry_hours": app_settings.CONFIRMATION_EXPIRY_HOURS}
    subject = " ".join(render_to_string("petition_widget/email/already_signed_subject.txt", context).split())
    body = render_to_string("petition_widget/email/already_signed_body.txt", context)
    try:
        send_mail(subject, body, app_settings.CONFIRMATION_FROM_EMAIL or None, [email])
    except Exception as exc:
        # Not logger.exception: SMTP errors carry the recipient's address in their text.
        logger.error("already-signed e-mail for petition %s could not be sent: %s", petition.pk, type(exc).__name__)
        return False
    logger.info("already-signed e-mail sent for petition %s", petition.pk)
    return True


def confirm(token: str):
    """Confirm the signature a token names; returns it. Confirming twice is harmless.

    The row is locked first (PostgreSQL), so a purge deleting expired ones cannot take it meanwhile; the
    state change is the lifecycle's :func:`~petition_widget.lifecycle.confirm`, in the same transaction.
    """
    with transaction.atomic():
        signature = find_signature(token, Signature.objects.select_for_update())
        lifecycle.confirm(signature)
    return signature
