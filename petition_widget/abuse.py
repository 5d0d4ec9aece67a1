"""Abuse protection of the HTML signing form: honeypot, signed fill time, captcha hook and rate limits.

The site's own form (``SignView``) goes through all of it. The public API's POST shares the rate limits
alone: a browser key's signatures count against the same per-address and per-petition counters as the
form's, a server key's against the per-petition one, and each key's against its own hourly limit
(``API_KEY_LIMITS``, by the key's kind). Every check refuses before anything is stored:

* a **honeypot**, an input people never see, that bots fill in;
* a **form token** signed with the site's key (``django.core.signing``), bound to the petition and
  stamped with the time the form was rendered: missing, altered or another petition's, sent sooner
  than ``SIGN_MIN_SECONDS`` after rendering, or older than ``SIGN_FORM_MAX_AGE``, it is refused.
  It carries a random nonce, spent in the cache (``RATE_LIMIT_CACHE``) when a signature is about to be
  stored: a token is good for one signature, and a replay is refused. A submission that stores nothing
  (a duplicate address answered as such, an error) gives its nonce back, so the corrected form goes through.
  ``SIGN_MIN_SECONDS = 0`` turns the token check off as a whole (the token is still rendered);
* an optional **captcha** (``CAPTCHA_FIELD``, a form field class such as django-altcha's ``AltchaField``);
* **rate limits** over Django's cache (``RATE_LIMIT_CACHE``): stored signatures per client address an
  hour (``SIGN_LIMIT_PER_IP``) and per petition a minute (``SIGN_LIMIT_PER_PETITION``). Only submissions
  that passed every other check and are about to be stored count; a slot is reserved before the INSERT
  and given back if nothing was stored (an error), so a limit is never overshot and refused or failed
  submissions leave the counters as they were. A duplicate e-mail keeps its address's slot (guessing
  which addresses signed costs a slot per guess) and gives the petition's back, unless the petition
  conceals duplicates: then it counts exactly like a new signature. An API key's signatures are also
  counted per key an hour (``API_KEY_LIMITS``).

Client addresses are used only as a keyed hash (:func:`petition_widget.clients.hash_ip`), never stored, logged or
put in the cache.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django import forms
from django.core import signing
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .conf import DEFAULTS, app_settings
from .ratelimit import RateLimiter, Slot, Take, take_together

if TYPE_CHECKING:
    from .api_keys import ApiKey
    from .models import Petition

logger = logging.getLogger(__name__)

TOKEN_FIELD = "form_token"
# Not a field of any upstream's signatures POST, and a name form-filling bots rarely skip.
HONEYPOT_FIELD = "website"
CAPTCHA_FIELD = "captcha"

TOKEN_SALT = "petition_widget.abuse.form_token"

HOUR = 3600
MINUTE = 60
# Counter steps of the limits: an hour counted in five-minute steps, a minute in five-second steps (see
# ratelimit); 14 counters read per limit and signature.
IP_RESOLUTION = 300
KEY_RESOLUTION = IP_RESOLUTION
PETITION_RESOLUTION = 5


@dataclass(frozen=True)
class Refusal:
    """Why a submission was refused: a code for the log, the message the signer reads, the HTTP status."""

    code: str
    message: str | Promise
    status: int
    retry_after: int | None = field(default=None, compare=False)


HONEYPOT = Refusal(
    "honeypot", _("Something in this form did not look right. Please check your details and send it again."), 400
)
TOO_FAST = Refusal("too_fast", _("That was quick — please check your details and send the form again."), 400)
EXPIRED = Refusal("expired", _("This form is too old; please send it again."), 400)
BAD_TOKEN = Refusal("bad_token", _("This form could not be checked; please send it again."), 400)
REPLAYED = Refusal(
    "replayed", _("This form has already been sent once. Please check your details and send it again."), 400
)
CAPTCHA = Refusal("captcha", _("Please complete the check at the end of the form and send it again."), 400)
LIMIT_PER_IP = Refusal(
    "limit_per_ip", _("Many signatures are arriving from your connection right now. Please try again later."), 429
)
LIMIT_PER_PETITION = Refusal(
    "limit_per_petition",
    _("This petition is receiving a great many signatures right now. Please try again in a minute."),
    429,
)
LIMIT_PER_KEY = Refusal(
    "limit_per_key", _("This API key has stored as many signatures as it may this hour. Please try again later."), 429
)


# --- the form token --------------------------------------------------------------------------------


class FormSigner(signing.TimestampSigner):
    """Django's ``TimestampSigner`` with the form token's salt and a timestamp that can be set."""

    def __init__(self, issued_at: float | None = None) -> None:
        super().__init__(salt=TOKEN_SALT)
        self.issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() if self.issued_at is None else self.issued_at))


# Between the petition's key and the nonce in a token's value; token_urlsafe() never writes it.
NONCE_SEP = "."


def make_form_token(petition: Petition, *, issued_at: float | None = None) -> str:
    """A token for ``petition``'s form rendered at ``issued_at`` (default: now), in epoch seconds.

    Its value is the petition's key and a random nonce: each rendered form has a token of its own.
    """
    return FormSigner(issued_at).sign(f"{petition.pk}{NONCE_SEP}{secrets.token_urlsafe(16)}")


def read_form_token(token: str) -> tuple[str, str, int] | None:
    """The petition key, nonce and issue time (epoch seconds) of a token signed here, else ``None``."""
    signer = FormSigner()
    try:
        # The plain Signer's check: the timestamp is read by the caller, against both limits.
        value = signing.Signer.unsign(signer, token or "")
        payload, _sep, stamp = value.rpartition(signer.sep)
        issued = signing.b62_decode(stamp)
    except (signing.BadSignature, ValueError, IndexError):
        return None
    pk, _sep, nonce = payload.partition(NONCE_SEP)
    if not nonce:
        return None
    return pk, nonce, issued


def check_form_token(token: str, petition: Petition, *, now: float | None = None) -> Refusal | None:
    """``None`` when ``token`` is ``petition``'s and its age lies within the limits, else the refusal.

    The token keeps whole seconds: an age is counted from the start of the second the form was rendered.
    Whether its nonce was spent is :func:`claim_form_token`'s question.
    """
    parts = read_form_token(token)
    if parts is None:
        return BAD_TOKEN
    pk, _nonce, issued = parts
    if pk != str(petition.pk):
        return BAD_TOKEN
    age = (time.time() if now is None else now) - issued
    if age > app_settings.SIGN_FORM_MAX_AGE:
        return EXPIRED
    if age < app_settings.SIGN_MIN_SECONDS:
        return TOO_FAST
    return None


class TokenClaim:
    """A form token's nonce, spent for a signature about to be stored; :meth:`give_back` if none was."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def give_back(self) -> None:
        """Make the token good again: nothing was stored with it (the signer may correct and resend)."""
        key, self.key = self.key, None
        if key is None:
            return
        try:
            caches[app_settings.RATE_LIMIT_CACHE].delete(key)
        except Exception:
            logger.warning("could not give back a form token", exc_info=True)


def nonce_key(nonce: str) -> str:
    """The cache key that marks a form token's nonce as spent."""
    return f"sign-token:{nonce}"


def claim_form_token(token: str) -> TokenClaim | None:
    """Spend the nonce of a checked token: the claim, or ``None`` when it was spent already (a replay).

    ``cache.add`` is atomic (Redis, Memcached, the local-memory cache), so of two requests with one token
    only one gets the claim. A cache that fails does not turn signers away: the check is off until it is back.
    """
    parts = read_form_token(token)
    if parts is None:
        return TokenClaim()
    key = nonce_key(parts[1])
    try:
        added = caches[app_settings.RATE_LIMIT_CACHE].add(key, 1, timeout=app_settings.SIGN_FORM_MAX_AGE)
    except Exception:
        logger.error("form token not spent: its cache failed", exc_info=True)
        return TokenClaim()
    return TokenClaim(key) if added else None


# --- the form ------------------------------------------------------------------------------------


def captcha_field() -> forms.Field | None:
    """A new instance of the ``CAPTCHA_FIELD`` class, or ``None`` when no captcha is configured."""
    path = app_settings.CAPTCHA_FIELD
    if not path:
        return None
    try:
        return import_string(path)()
    except ImportError as exc:
        raise ImproperlyConfigured(f"CAPTCHA_FIELD {path!r} cannot be imported: {exc}") from exc


class HoneypotInput(forms.TextInput):
    """A text input out of the tab order and of autofill's reach (the template hides its wrapper)."""

    def __init__(self) -> None:
        super().__init__(attrs={"tabindex": "-1", "autocomplete": "off"})


class ProtectionForm(forms.Form):
    """The hidden form token, the honeypot and (with ``CAPTCHA_FIELD``) the captcha of the HTML form.

    Rendered and validated beside the petition's :class:`~petition_widget.forms.SignatureForm`, never part
    of it: the signature form and the API that shares it know nothing of these fields.
    """

    def __init__(self, data=None, *, petition: Petition, token: str | None = None) -> None:
        super().__init__(data, auto_id=f"pw-{petition.slug}-%s")
        self.petition = petition
        if data is None and token is None:
            token = make_form_token(petition)
        self.fields[TOKEN_FIELD] = forms.CharField(required=False, widget=forms.HiddenInput, initial=token)
        self.fields[HONEYPOT_FIELD] = forms.CharField(
            label=_("Leave this field empty"), required=False, widget=HoneypotInput()
        )
        captcha = captcha_field()
        if captcha is not None:
            self.fields[CAPTCHA_FIELD] = captcha

    # Named apart from the fields: in a template `protection.token` must not find the field by its name.
    @property
    def token(self) -> forms.BoundField:
        return self[TOKEN_FIELD]

    @property
    def honeypot(self) -> forms.BoundField:
        return self[HONEYPOT_FIELD]

    @property
    def captcha(self) -> forms.BoundField | None:
        return self[CAPTCHA_FIELD] if CAPTCHA_FIELD in self.fields else None

    def refusal(self) -> Refusal | None:
        """The first check the posted data fails (honeypot, token, captcha), or ``None``."""
        if self.data.get(HONEYPOT_FIELD, "").strip():
            return HONEYPOT
        if app_settings.SIGN_MIN_SECONDS:
            refusal = check_form_token(self.data.get(TOKEN_FIELD, ""), self.petition)
            if refusal is not None:
                return refusal
        # Only now the captcha: it may be good for one check only (django-altcha refuses a replay).
        if CAPTCHA_FIELD in self.fields and not self.is_valid():
            return CAPTCHA
        return None

    def claim(self) -> TokenClaim | None:
        """Spend the posted token for a signature about to be stored; ``None`` for a replayed token.

        Call it after :meth:`refusal` found nothing. With the token check off, a claim that holds nothing.
        """
        if not app_settings.SIGN_MIN_SECONDS:
            return TokenClaim()
        return claim_form_token(self.data.get(TOKEN_FIELD, ""))

    def claim_key(self) -> str | None:
        """The cache key that spending the posted token sets (:func:`nonce_key`), or ``None`` when there is
        nothing to spend (the token check is off, or the token unreadable): what :meth:`claim` would spend."""
        if not app_settings.SIGN_MIN_SECONDS:
            return None
        parts = read_form_token(self.data.get(TOKEN_FIELD, ""))
        return None if parts is None else nonce_key(parts[1])

    def again(self, *, keep_token: bool) -> ProtectionForm:
        """The unbound form to render next, with a captcha afresh and an empty honeypot.

        ``keep_token``: the posted token stays if it is still good (a signer correcting a field does not
        wait the minimum time again, and its age keeps counting); otherwise, and after a refusal, a new one.
        """
        posted = self.data.get(TOKEN_FIELD, "")
        keep = keep_token and posted and check_form_token(posted, self.petition) is None
        return ProtectionForm(petition=self.petition, token=posted if keep else None)


# --- rate limits -----------------------------------------------------------------------------------


class Refused(Exception):
    """A signature about to be stored is refused: ``refusal`` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


class RateLimited(Refused):
    """A rate limit is reached: ``refusal`` says which, and when to try again."""


# The jitter of a refusal's Retry-After; one generator for the process rather than one seeded per request.
_RANDOM = random.Random()


def ip_limiter() -> RateLimiter:
    """The limiter of signatures per client address an hour."""
    return RateLimiter(app_settings.RATE_LIMIT_CACHE, window=HOUR, resolution=IP_RESOLUTION, rng=_RANDOM)


def petition_limiter() -> RateLimiter:
    """The limiter of signatures per petition a minute."""
    return RateLimiter(app_settings.RATE_LIMIT_CACHE, window=MINUTE, resolution=PETITION_RESOLUTION, rng=_RANDOM)


def key_limiter() -> RateLimiter:
    """The limiter of signatures per public API key an hour."""
    return RateLimiter(app_settings.RATE_LIMIT_CACHE, window=HOUR, resolution=KEY_RESOLUTION, rng=_RANDOM)


def key_limit(api_key: ApiKey) -> int:
    """Signatures ``api_key`` may store in an hour: ``API_KEY_LIMITS`` of its kind (0: no limit).

    A kind the setting leaves out keeps its default.
    """
    configured = app_settings.API_KEY_LIMITS or {}
    return int(configured.get(api_key.kind, DEFAULTS["API_KEY_LIMITS"].get(api_key.kind, 0)) or 0)


def api_key_key(api_key: ApiKey) -> str:
    """The counter name of a public API key: by its stored hash, so a key made later never inherits it."""
    return f"sign-key:{api_key.key_hash[:32]}"


def ip_key(ip_hash: str) -> str:
    """The counter name of a client address, by its hash."""
    return f"sign-ip:{ip_hash}"


def petition_key(petition: Petition) -> str:
    """The counter name of a petition."""
    return f"sign-petition:{petition.pk}"


class Reservation:
    """Slots taken for one signature about to be stored; :meth:`release` gives them back."""

    def __init__(self) -> None:
        # (the limit's name, "address" or "petition"; its limiter; the slot)
        self.slots: list[tuple[str, RateLimiter, Slot]] = []

    def release(self, *, keep_address: bool = False) -> None:
        """Uncount the signature: it was not stored after all.

        ``keep_address``: the client address's slot stays taken (a duplicate e-mail counts against it).
        """
        kept = []
        while self.slots:
            name, limiter, slot = self.slots.pop()
            if keep_address and name == "address":
                kept.append((name, limiter, slot))
                continue
            try:
                limiter.give_back(slot)
            except Exception:
                logger.warning("could not give back a signing rate-limit slot", exc_info=True)
        self.slots = kept


def _take(
    reservation: Reservation,
    name: str,
    make_limiter: Callable[[], RateLimiter],
    key: str,
    limit: int,
    refusal: Refusal,
) -> None:
    if limit <= 0:
        return
    limiter = make_limiter()
    try:
        slot, wait = limiter.take(key, limit)
    except Exception:
        # The cache is down or keeps nothing (checks.py warns of a DummyCache): signers are not turned
        # away for it; the limit is off until the cache is back.
        logger.error("signing rate limit not applied: its cache failed", exc_info=True)
        return
    if slot is None:
        reservation.release()
        raise RateLimited(Refusal(refusal.code, refusal.message, refusal.status, retry_after=max(1, round(wait))))
    reservation.slots.append((name, limiter, slot))


@contextmanager
def reserve_signature(petition: Petition, ip_hash: str, *, api_key: ApiKey | None = None) -> Iterator[Reservation]:
    """Count one signature against the limits, or raise :class:`RateLimited` with nothing counted.

    The per-address limit applies when ``ip_hash`` is given (``""``: not held to it), the per-petition
    limit always, and with ``api_key`` the key's own limit. Store the signature inside the block; if it
    raises, the slots are given back, and a signature that was not stored after all (a duplicate) must be
    released by the caller (``keep_address``, see above).
    """
    reservation = Reservation()
    if ip_hash:
        _take(reservation, "address", ip_limiter, ip_key(ip_hash), app_settings.SIGN_LIMIT_PER_IP, LIMIT_PER_IP)
    _take(
        reservation,
        "petition",
        petition_limiter,
        petition_key(petition),
        app_settings.SIGN_LIMIT_PER_PETITION,
        LIMIT_PER_PETITION,
    )
    if api_key is not None:
        _take(reservation, "key", key_limiter, api_key_key(api_key), key_limit(api_key), LIMIT_PER_KEY)
    try:
        yield reservation
    except BaseException:
        reservation.release()
        raise


# --- the token and the limits together: one round trip on Redis --------------------------------------


# (the limit's name, its limiter, its counter's name, the limit, its refusal)
_Limit = tuple[str, RateLimiter, str, int, Refusal]


def _limits(petition: Petition, ip_hash: str, api_key: ApiKey | None) -> list[_Limit]:
    """The limits a signature counts against, in :func:`reserve_signature`'s order (limits of 0 left out)."""
    limits = []
    if ip_hash:
        limits.append(("address", ip_limiter(), ip_key(ip_hash), app_settings.SIGN_LIMIT_PER_IP, LIMIT_PER_IP))
    limits.append(
        (
            "petition",
            petition_limiter(),
            petition_key(petition),
            app_settings.SIGN_LIMIT_PER_PETITION,
            LIMIT_PER_PETITION,
        )
    )
    if api_key is not None:
        limits.append(("key", key_limiter(), api_key_key(api_key), key_limit(api_key), LIMIT_PER_KEY))
    return [limit for limit in limits if limit[3] > 0]


def _claim_and_reserve_at_once(
    petition: Petition, ip_hash: str, api_key: ApiKey | None, token_key: str | None
) -> tuple[TokenClaim, Reservation] | None:
    """Spend the token and take every slot in one round trip when ``RATE_LIMIT_CACHE`` is Redis, else ``None``.

    Raises :class:`Refused` (a replay) or :class:`RateLimited` with nothing counted and nothing spent. A
    cache that fails lets the signature through unchecked, as each check alone does.
    """
    cache = caches[app_settings.RATE_LIMIT_CACHE]
    limits = _limits(petition, ip_hash, api_key)
    try:
        together = take_together(
            cache,
            [Take(limiter, key, limit) for _name, limiter, key, limit, _refusal in limits],
            marker=token_key or "",
            marker_ttl=app_settings.SIGN_FORM_MAX_AGE,
        )
    except Exception:
        logger.error("form token not spent and signing rate limits not applied: their cache failed", exc_info=True)
        return TokenClaim(), Reservation()
    if together is None:
        return None
    if not together.marked:
        raise Refused(REPLAYED)
    if together.refused is not None:
        refusal = limits[together.refused][4]
        retry = max(1, round(together.wait))
        raise RateLimited(Refusal(refusal.code, refusal.message, refusal.status, retry_after=retry))
    reservation = Reservation()
    pairs = zip(limits, together.slots, strict=True)
    reservation.slots = [(name, limiter, slot) for (name, limiter, *_rest), slot in pairs]
    return TokenClaim(token_key), reservation


class Claims(Protocol):
    """The form token's single use as :func:`claim_and_reserve` needs it (:class:`ProtectionForm` is one)."""

    def claim(self) -> TokenClaim | None: ...


@contextmanager
def claim_and_reserve(
    petition: Petition, ip_hash: str, *, api_key: ApiKey | None = None, checks: Claims | None = None
) -> Iterator[tuple[TokenClaim, Reservation]]:
    """Spend the form token of ``checks`` (if any) and count one signature against the limits, or raise
    :class:`Refused` (:data:`REPLAYED`) / :class:`RateLimited` with nothing spent or counted.

    On a Redis ``RATE_LIMIT_CACHE`` (and checks that name their token's key, ``claim_key``) all of it
    takes one round trip (:func:`petition_widget.ratelimit.take_together`); on other caches the token is
    spent first (:func:`claim_form_token`), then :func:`reserve_signature` takes the slots one by one. The
    outcome is the same. Store the signature inside the block: if it raises, the slots and the token are
    given back; a duplicate is the caller's to release (``keep_address``) and, unless concealed, to give
    the token back for.
    """
    at_once = None
    if checks is None or hasattr(checks, "claim_key"):
        token_key = None if checks is None else checks.claim_key()
        at_once = _claim_and_reserve_at_once(petition, ip_hash, api_key, token_key)
    if at_once is not None:
        claim, reservation = at_once
        try:
            yield claim, reservation
        except BaseException:
            reservation.release()
            claim.give_back()
            raise
        return
    claim = TokenClaim() if checks is None else checks.claim()
    if claim is None:
        raise Refused(REPLAYED)
    try:
        with reserve_signature(petition, ip_hash, api_key=api_key) as reservation:
            yield claim, reservation
    except BaseException:
        claim.give_back()
        raise
