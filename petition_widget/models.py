"""The petition cache and the signatures, which are also the forwarding outbox."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries import countries


class Provider(models.TextChoices):
    """The upstream platforms a petition can live on."""

    CHANGEORG = "changeorg", "Change.org"
    WETHEPEOPLE = "wethepeople", "We the People"


class Petition(models.Model):
    """A local copy of an upstream petition; forms render from it, never from the upstream."""

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    upstream_id = models.CharField(_("upstream id"), max_length=64)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)

    title = models.CharField(_("title"), max_length=500)
    overview = models.TextField(_("overview"), blank=True)
    letter_body = models.TextField(_("letter body"), blank=True)
    url = models.URLField(_("upstream URL"), max_length=500, blank=True)
    status = models.CharField(_("upstream status"), max_length=32, blank=True)
    goal = models.PositiveIntegerField(_("goal"), null=True, blank=True)
    signature_count = models.PositiveIntegerField(_("upstream signature count"), default=0)
    image_url = models.URLField(_("image URL"), max_length=500, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True)
    targets = models.JSONField(_("targets"), default=list, blank=True)
    creator_name = models.CharField(_("creator name"), max_length=200, blank=True)
    creator_url = models.URLField(_("creator URL"), max_length=500, blank=True)
    organization_name = models.CharField(_("organization name"), max_length=200, blank=True)
    organization_url = models.URLField(_("organization URL"), max_length=500, blank=True)
    upstream_created_at = models.DateTimeField(_("created upstream"), null=True, blank=True)
    end_at = models.DateTimeField(_("closes"), null=True, blank=True)
    raw = models.JSONField(_("raw upstream data"), default=dict, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    accepts_signatures = models.BooleanField(_("accepts signatures"), default=True)

    # Change.org petition authorization key: granted per (petition, API key, source). A secret, like
    # the API secret: it only ever enters the request signature and is never rendered.
    auth_key = models.CharField(_("authorization key"), max_length=64, blank=True, editable=False)
    auth_key_status = models.CharField(_("authorization key status"), max_length=16, blank=True)
    auth_key_source = models.URLField(_("authorization key source"), max_length=500, blank=True)

    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("petition")
        verbose_name_plural = _("petitions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_id"], name="petition_widget_unique_upstream_id"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("petition_widget:sign", kwargs={"slug": self.slug})

    @property
    def progress_percent(self) -> int:
        if not self.goal:
            return 0
        return min(100, self.signature_count * 100 // self.goal)


class ForwardingState(models.TextChoices):
    """Where a signature stands on its way to the upstream platform."""

    PENDING = "pending", _("Pending")  # stored, waiting for a worker (or for its next attempt)
    SENDING = "sending", _("Sending")  # claimed by a worker under a lease
    SENT = "sent", _("Sent")  # the upstream accepted it, or already had it
    HELD = "held", _("Held")  # the petition's credentials are wrong; waits for an admin to resume
    REJECTED = "rejected", _("Rejected")  # the upstream refused it for good; its messages are kept
    FAILED = "failed", _("Failed")  # gave up after the maximum number of attempts
    CANCELLED = "cancelled", _("Cancelled")  # an admin stopped it


class Signature(models.Model):
    """One signer's signature: every field of the upstream POST plus its forwarding state."""

    petition = models.ForeignKey(
        Petition, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("petition")
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("e-mail"), max_length=254)
    email_normalized = models.CharField(_("normalised e-mail"), max_length=254, editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state_province = models.CharField(_("state or province"), max_length=64, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    country_code = models.CharField(_("country"), max_length=2, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    reason = models.TextField(_("reason"), max_length=1000, blank=True)
    hidden = models.BooleanField(_("hidden"), default=False, help_text=_("The signer asked not to be listed publicly."))
    signup = models.BooleanField(
        _("sign-up"), default=False, help_text=_("We the People: the signer asked for updates.")
    )
    created_at = models.DateTimeField(_("signed"), auto_now_add=True, db_index=True)

    state = models.CharField(
        _("forwarding state"), max_length=16, choices=ForwardingState.choices, default=ForwardingState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    leased_by = models.CharField(_("leased by"), max_length=64, blank=True)
    forwarded_at = models.DateTimeField(_("forwarded"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["petition", "email_normalized"], name="petition_widget_one_signature_per_email"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="pw_signature_due"),
            models.Index(fields=["petition", "created_at"], name="pw_signature_petition_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} on {self.petition_id}"

    def save(self, *args, **kwargs) -> None:
        self.email_normalized = self.normalize_email(self.email)
        super().save(*args, **kwargs)

    @staticmethod
    def normalize_email(email: str) -> str:
        """The form of an e-mail address that the one-signature-per-address rule compares."""
        return email.strip().casefold()

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def country_name(self) -> str:
        return countries.name(self.country_code) if self.country_code else ""
