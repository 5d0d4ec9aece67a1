"""Confirmed signatures: the e-mailed link, and the page whose button confirms.

A petition with ``require_confirmation`` stores each signature as awaiting confirmation and mails the
signer a link. Following the link (a GET) only shows a page with a button; the button's POST confirms.
Mail scanners and link previews fetch links but do not submit forms, so they cannot confirm anyone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .conf import app_settings

logger = logging.getLogger(__name__)

TOKEN_SALT = "petition_widget.confirmation"


class ConfirmationError(Exception):
    """The link cannot confirm anything: it was altered, it expired, or its signature is gone."""


def expiry() -> timedelta:
    return timedelta(hours=app_settings.CONFIRMATION_EXPIRY_HOURS)


def make_token(signature) -> str:
    """A signed, timestamped token naming the signature and the address the link was sent to."""
    return signing.dumps([signature.pk, signature.email_normalized], salt=TOKEN_SALT, compress=True)


def read_token(token: str) -> tuple[int, str]:
    """The signature id and normalised e-mail in a token; :class:`ConfirmationError` when invalid or expired."""
    try:
        pk, email = signing.loads(token, salt=TOKEN_SALT, max_age=expiry())
    except signing.SignatureExpired as exc:
        raise ConfirmationError("expired") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise ConfirmationError("invalid") from exc
    return int(pk), str(email)


def confirmation_url(signature) -> str:
    path = reverse("petition_widget:confirm", kwargs={"token": make_token(signature)})
    return app_settings.SITE_URL.rstrip("/") + path


def send_confirmation(signature_id: int) -> bool:
    """E-mail the confirmation link of a signature awaiting confirmation. False when nothing was sent.

    Runs after the signature's commit. A mail server that refuses is logged (by id) and leaves
    ``confirmation_sent_at`` empty, so an admin sees it and can use "Resend confirmation".
    """
    from .models import ForwardingState, Signature

    signature = (
        Signature.objects.select_related("petition")
        .filter(pk=signature_id, state=ForwardingState.UNCONFIRMED, erased_at__isnull=True)
        .first()
    )
    if signature is None:
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
    except Exception:
        logger.exception("confirmation e-mail for signature %s could not be sent", signature.pk)
        return False
    Signature.objects.filter(pk=signature.pk).update(confirmation_sent_at=timezone.now())
    logger.info("confirmation e-mail sent for signature %s", signature.pk)
    return True


def confirm(token: str):
    """Confirm the signature a token names; returns it. Confirming twice is harmless.

    The signature becomes pending (due at once), counts, is listed (unless hidden) and is forwarded.
    """
    from .forwarding.wake import on_signature_stored
    from .models import ForwardingState, Signature, recount_signatures

    pk, email = read_token(token)
    with transaction.atomic():
        signature = Signature.objects.select_related("petition").filter(pk=pk, email_normalized=email).first()
        if signature is None:
            raise ConfirmationError("gone")
        if signature.state == ForwardingState.UNCONFIRMED:
            now = timezone.now()
            Signature.objects.filter(pk=pk, state=ForwardingState.UNCONFIRMED).update(
                state=ForwardingState.PENDING, confirmed_at=now, next_attempt_at=now
            )
            recount_signatures([signature.petition_id])
            on_signature_stored(pk)
            signature.refresh_from_db()
            logger.info("signature %s confirmed", pk)
    return signature
