"""Signing: store one validated signature under the limits, once per address, and say what happened.

:func:`sign` is the one way in for every channel (the HTML form's ``SignView``, the public API's POST).
The caller validates the signer's fields (a :class:`~petition_widget.forms.SignatureForm`), says who posts
(a :class:`Client`) and hands over the form token's check (:class:`Checks`, ``None`` where there is none);
:func:`sign` then, in this order:

1. spends the form token's nonce (a replayed token is refused) and
2. reserves a slot of each rate limit, both in :func:`petition_widget.abuse.claim_and_reserve` (one round
   trip when the counters are in Redis);
3. INSERTs the signature unless its address has already signed the petition, adds it to the petition's
   counters in the same transaction, and after the commit sends the confirmation e-mail (a petition that
   asks for one) or wakes forwarding (:mod:`petition_widget.forwarding.wake`);
4. for a duplicate: gives the petition's slot back but keeps the address's (guessing which addresses
   signed costs a slot per guess) and gives the token back, so the corrected form goes through; unless
   the petition conceals duplicates: then everything counts as for a new signature, and on a petition
   with confirmation the address is mailed that it has already signed.

Whatever goes wrong before the commit (a limit, a database error) gives back every slot and the token.
Nothing here talks to the upstream.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from django.db import IntegrityError, router, transaction

from . import abuse, clients
from .api_keys import ApiKeyKind
from .confirmation import send_already_signed, send_confirmation
from .forwarding.wake import on_signature_stored
from .models import ForwardingState, Signature, count_new_signature, inserts_unless_duplicate

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .api_keys import ApiKey
    from .models import Petition


@dataclass(frozen=True)
class Client:
    """Who posts a signature, as the limits see it.

    ``ip_hash`` is the keyed hash of the client's address (:func:`petition_widget.clients.client_hash`),
    stored with the signature and held to the per-address limit; ``""`` when the client is not (a server
    posting for many signers). ``api_key`` is the public API key the signature came with, held to its own
    hourly limit, or ``None`` on the site's own form.
    """

    ip_hash: str = ""
    api_key: ApiKey | None = None

    @property
    def address_limited(self) -> bool:
        """Whether the per-address limit applies."""
        return bool(self.ip_hash)

    @classmethod
    def of(cls, request: HttpRequest, api_key: ApiKey | None = None) -> Client:
        """The client of ``request``: a browser (the form, or a browser key) is held to the per-address
        limit; a server key posts for many signers from one address, so it is not (its own limit bounds it).
        """
        if api_key is not None and api_key.kind != ApiKeyKind.BROWSER:
            return cls(ip_hash="", api_key=api_key)
        return cls(ip_hash=clients.client_hash(request), api_key=api_key)


class Checks(Protocol):
    """The form token's single use: :class:`petition_widget.abuse.ProtectionForm` is one.

    Checks that also have ``claim_key()`` (the nonce's cache key, or ``None``) let a Redis cache spend the
    token in the same round trip as the limits.
    """

    def claim(self) -> abuse.TokenClaim | None:
        """Spend the token for a signature about to be stored; ``None`` when it was spent already."""


class Status(enum.Enum):
    """What :func:`sign` did."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    CONCEALED_DUPLICATE = "concealed_duplicate"
    REFUSED = "refused"


@dataclass(frozen=True)
class SignResult:
    """The outcome of one :func:`sign`: the signature stored, or why nothing was."""

    status: Status
    signature: Signature | None = None
    refusal: abuse.Refusal | None = None

    @property
    def answered_as_new(self) -> bool:
        """The signer is told the signature was taken: stored, or a duplicate the petition conceals."""
        return self.status in (Status.STORED, Status.CONCEALED_DUPLICATE)


def build_signature(petition: Petition, data: Mapping[str, Any], **extra: Any) -> Signature:
    """An unsaved :class:`Signature` of ``petition`` from model field values (``data``) and ``extra``.

    A petition that asks for confirmed signatures gets them awaiting confirmation.
    """
    signature = Signature(petition=petition, **data, **extra)
    if petition.require_confirmation:
        signature.state = ForwardingState.UNCONFIRMED
    return signature


def sign(petition: Petition, data: Mapping[str, Any], *, client: Client, checks: Checks | None = None) -> SignResult:
    """Store a signature of ``petition`` from validated model field values (``data``); see the module.

    A refusal (a replayed token, a rate limit) stores and counts nothing. A database error other than
    the duplicate is raised, with the slots and the token given back.
    """
    signature = build_signature(petition, data, ip_hash=client.ip_hash)
    using = router.db_for_write(Signature, instance=signature)
    try:
        with abuse.claim_and_reserve(petition, client.ip_hash, api_key=client.api_key, checks=checks) as (
            claim,
            reservation,
        ):
            stored = _store(signature, using)
            if not stored and not petition.conceal_duplicates:
                reservation.release(keep_address=True)
    except abuse.Refused as exc:
        return SignResult(Status.REFUSED, refusal=exc.refusal)
    if stored:
        return SignResult(Status.STORED, signature=signature)
    if not petition.conceal_duplicates:
        claim.give_back()
        return SignResult(Status.DUPLICATE)
    # Answered exactly as a new signature: the token is spent and the limits counted alike.
    if petition.require_confirmation:
        transaction.on_commit(partial(send_already_signed, petition.pk, signature.email), using=using)
    return SignResult(Status.CONCEALED_DUPLICATE)


def _store(signature: Signature, using: str) -> bool:
    """INSERT and count ``signature`` in one transaction, mail or wake after the commit; ``False``: a duplicate."""
    with transaction.atomic(using=using):
        if not _insert(signature, using):
            return False
        count_new_signature(signature)
        if signature.state == ForwardingState.UNCONFIRMED:
            transaction.on_commit(partial(send_confirmation, signature.pk), using=using)
        else:
            on_signature_stored(signature.pk)
    return True


def _insert(signature: Signature, using: str) -> bool:
    """INSERT ``signature``; ``False`` when its address has already signed the petition.

    No lookup comes first: the unique constraint decides, so two concurrent submissions of one address
    cannot both get in. On PostgreSQL and SQLite the INSERT skips a conflicting row
    (:meth:`Signature.insert_unless_duplicate`), so a duplicate is no database error and puts nothing in
    the database's log; elsewhere a savepoint catches the IntegrityError.
    """
    if inserts_unless_duplicate(using):
        return signature.insert_unless_duplicate(using)
    try:
        with transaction.atomic(using=using):
            signature.save(using=using)
    except IntegrityError:
        duplicate = (
            Signature.objects.using(using)
            .filter(petition_id=signature.petition_id, email_normalized=signature.email_normalized)
            .exists()
        )
        if not duplicate:
            raise
        return False
    return True
