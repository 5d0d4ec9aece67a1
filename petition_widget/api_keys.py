"""The public API's keys: what kind each is, where it may be used from, and how it is stored (a hash only).

:class:`ApiKey` is a model of this app: ``petition_widget.models`` imports it, so that Django registers it.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

API_KEY_PREFIX_LENGTH = 8


def _is_origin(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
    )


def hash_api_key(key: str) -> str:
    """The stored form of an API key. Keys are long random tokens, so one SHA-256 is enough to protect them."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyKind(models.TextChoices):
    """What an API key is for; it decides where the key may be used from and how much it may post."""

    BROWSER = "browser", _("Browser key (public: used by web pages on its origins)")
    SERVER = "server", _("Server key (secret: used by a partner's server)")


class ApiKey(models.Model):
    """A key with which one site's JavaScript, or one partner, may post signatures through the public API.

    Only a hash of the key is stored; the key itself is shown once, when it is created.
    """

    name = models.CharField(_("name"), max_length=100, help_text=_("Who uses this key, e.g. “blog widget”."))
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=ApiKeyKind.choices,
        default=ApiKeyKind.BROWSER,
        help_text=_(
            "A browser key sits in a public page: it works only from its allowed origins, under the signing "
            "form's limits. A server key must stay secret: it is refused from browsers and has a higher limit."
        ),
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("key prefix"), max_length=API_KEY_PREFIX_LENGTH, editable=False, help_text=_("Tells keys apart.")
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_(
            "Web pages on these origins may call the API with this key from a browser (CORS), one a line, "
            "e.g. https://blog.example; “*” allows any. Requests without an Origin header (servers) are not "
            "affected."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> str:
        """A new random key (not stored: pass it to :meth:`set_key`)."""
        return secrets.token_urlsafe(30)

    def set_key(self, key: str) -> None:
        self.key_hash = hash_api_key(key)
        self.prefix = key[:API_KEY_PREFIX_LENGTH]

    def clean(self) -> None:
        """Well-formed origins; at least one for a browser key, none for a server key (refused from browsers)."""
        bad = [origin for origin in self.origins if origin != "*" and not _is_origin(origin)]
        if bad:
            raise ValidationError(
                {
                    "allowed_origins": _("Not an origin (scheme://host[:port], nothing after it): %(bad)s")
                    % {"bad": ", ".join(bad)}
                }
            )
        if self.kind == ApiKeyKind.BROWSER and not self.origins:
            raise ValidationError(
                {"allowed_origins": _("A browser key needs at least one origin: the web pages that may use it.")}
            )
        if self.kind == ApiKeyKind.SERVER and self.origins:
            raise ValidationError(
                {"allowed_origins": _("A server key is refused from browsers: leave the allowed origins empty.")}
            )

    @property
    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]

    def allows_origin(self, origin: str) -> bool:
        origins = self.origins
        return "*" in origins or origin.rstrip("/") in origins
