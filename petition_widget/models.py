"""The petition cache and the signatures, which are also the forwarding outbox."""

from __future__ import annotations

from django.db import connections, models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries import countries

# ApiKey is a model of this app defined beside its helpers: imported here, Django registers it with the others.
from .api_keys import ApiKey  # noqa: F401
from .embed import validate_embed_origins
from .text import drop_ignorables, normalize_email_domain


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
    require_confirmation = models.BooleanField(
        _("signatures need e-mail confirmation"),
        default=False,
        help_text=_(
            "Each signer gets an e-mail with a link; the signature is counted, listed and forwarded only after "
            "they confirm."
        ),
    )
    conceal_duplicates = models.BooleanField(
        _("do not reveal who has signed"),
        default=False,
        help_text=_(
            "For sensitive petitions: a second signature with an address that already signed is answered "
            "exactly like a new one (with confirmation on, the address is e-mailed instead), so the form cannot "
            "tell anyone whether an address signed."
        ),
    )
    embed_origins = models.TextField(
        _("sites allowed to embed the form"),
        blank=True,
        validators=[validate_embed_origins],
        help_text=_(
            "One origin a line (https://blog.example, http://localhost:8080): only pages of these sites may show "
            "the embedded form; none when empty. The petition's form page and the template tag are not affected."
        ),
    )

    # Kept by signing.sign() (an F() update in the insert's transaction) and recount_signatures(),
    # so that the public API answers counts without scanning the signatures table.
    local_signature_count = models.PositiveIntegerField(
        _("local signature count"),
        default=0,
        editable=False,
        help_text=_("Signatures collected here, hidden included."),
    )
    public_signature_count = models.PositiveIntegerField(
        _("public signature count"), default=0, editable=False, help_text=_("Signatures listed publicly.")
    )

    # Change.org petition authorization key: granted per (petition, API key, source). A secret, like
    # the API secret: it only ever enters the request signature and is never rendered.
    auth_key = models.CharField(_("authorization key"), max_length=64, blank=True, editable=False)
    auth_key_status = models.CharField(_("authorization key status"), max_length=16, blank=True)
    auth_key_source = models.URLField(_("authorization key source"), max_length=500, blank=True)
    # Part of the callback URL given with the latest key request; a new request makes the old URL worthless.
    auth_key_callback_nonce = models.CharField(
        _("authorization key callback nonce"), max_length=32, blank=True, editable=False
    )

    # Set by a forwarding worker when the upstream refuses our credentials for this petition; its
    # signatures wait until an admin resumes forwarding. Written only by targeted updates (see save()).
    forwarding_paused_at = models.DateTimeField(_("forwarding paused"), null=True, blank=True, editable=False)
    forwarding_paused_reason = models.CharField(
        _("why forwarding is paused"), max_length=500, blank=True, editable=False
    )

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

    def save(self, *args, **kwargs) -> None:
        # The counters move by concurrent F() updates; writing back the values this instance loaded
        # earlier (an admin's edit, a sync) would undo signatures counted in between. The same goes for
        # a pause that a forwarding worker records while an admin has the petition open.
        if not self._state.adding and self.pk is not None and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in COUNTER_FIELDS + PAUSE_FIELDS
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("petition_widget:sign", kwargs={"slug": self.slug})

    @property
    def forwarding_paused(self) -> bool:
        return self.forwarding_paused_at is not None

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
    CANCELLED = "cancelled", _("Cancelled")  # an admin stopped it (or erased the signer's data before it went)
    UNCONFIRMED = "unconfirmed", _("Awaiting confirmation")  # the signer has not yet followed the e-mailed link
    SPAM = "spam", _("Spam")  # an admin marked it as spam: never forwarded again, counted or listed


# States that do not count towards a petition's total and are never listed. Here rather than in
# petition_widget.lifecycle (which lists every state group and transition) because the public list's index
# below is built from it.
UNCOUNTED_STATES = (ForwardingState.CANCELLED, ForwardingState.UNCONFIRMED, ForwardingState.SPAM)


COUNTER_FIELDS = ("local_signature_count", "public_signature_count")
PAUSE_FIELDS = ("forwarding_paused_at", "forwarding_paused_reason")

# The one definition of which signatures count and which are listed. Exclusions go into COUNTED (through
# UNCOUNTED_STATES); PUBLIC follows, and so do the counters and the API's index.
COUNTED = ~Q(state__in=UNCOUNTED_STATES)
PUBLIC = COUNTED & Q(hidden=False)


def _recorded_at(verbose_name: str, help_text: str = "") -> models.DateTimeField:
    """When something happened to a signature: optional, written by the app alone (not editable in forms)."""
    return models.DateTimeField(verbose_name, null=True, blank=True, editable=False, help_text=help_text)


class SignatureQuerySet(models.QuerySet):
    """Queries over signatures that know which of them count and which are shown."""

    def counted(self) -> SignatureQuerySet:
        """Signatures that count towards a petition's local total (hidden ones included)."""
        return self.filter(COUNTED)

    def public(self) -> SignatureQuerySet:
        """Signatures that may be listed publicly: counted, and the signer did not ask to be hidden."""
        return self.filter(PUBLIC)


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
    finished_at = models.DateTimeField(
        _("final state reached"), null=True, blank=True, help_text=_("When it was sent, rejected, failed or cancelled.")
    )
    # Where a signature stood when an admin marked it as spam, so that "not spam" can put it back there.
    state_before_spam = models.CharField(
        _("state before it was marked as spam"),
        max_length=16,
        choices=ForwardingState.choices,
        blank=True,
        editable=False,
    )

    # We the People counts a signature only once its signer follows the validation e-mail it sends; the
    # validation poll (forwarding.validations) records when it first found the signature counted, and flags
    # one that is still not counted VALIDATION_OVERDUE_HOURS after it was sent. Never retried either way.
    upstream_validated_at = _recorded_at(
        _("validated upstream"),
        _("We the People: when a poll of its validations first found this signature counted."),
    )
    upstream_signature_id = models.CharField(
        _("upstream signature id"),
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("We the People: the signature's id in its validation record."),
    )
    validation_overdue_at = _recorded_at(
        _("validation overdue"),
        _(
            "We the People: when it was flagged as still not validated by its signer, VALIDATION_OVERDUE_HOURS "
            "after it was sent. It is not sent again: a second post would not help."
        ),
    )

    # A keyed hash of the client address (clients.hash_ip): tells signatures from one address apart without
    # keeping the address.
    ip_hash = models.CharField(_("client address hash"), max_length=64, blank=True, editable=False)
    confirmation_sent_at = _recorded_at(_("confirmation e-mailed"))
    confirmed_at = _recorded_at(_("confirmed"))
    erased_at = _recorded_at(_("contact details erased"), _("By purge_signatures or an admin."))

    objects = SignatureQuerySet.as_manager()

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["-created_at"]
        permissions = [
            ("retry_signature", _("Can retry, cancel and mark signatures as spam")),
            ("export_signature", _("Can export signatures with contact details")),
            ("erase_signature", _("Can erase a signer's personal data")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["petition", "email_normalized"], name="petition_widget_one_signature_per_email"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="pw_signature_due"),
            models.Index(fields=["petition", "created_at"], name="pw_signature_petition_time"),
            # The public list's pages: OFFSET walks this index alone, in either direction. hidden and state
            # are repeated in it because SQLite (before 3.45?) uses a partial index as a covering index only
            # when it holds every column the query names, those of its own condition included.
            models.Index(
                fields=["petition", "created_at", "id", "hidden", "state"],
                name="pw_signature_public_page",
                condition=PUBLIC,
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} on {self.petition_id}"

    def save(self, *args, **kwargs) -> None:
        self.email_normalized = self.normalize_email(self.email)
        super().save(*args, **kwargs)

    def insert_unless_duplicate(self, using: str = "default") -> bool:
        """INSERT this new signature unless its address already signed the petition; whether it was stored.

        ``INSERT … ON CONFLICT (petition_id, email_normalized) DO NOTHING RETURNING id``: a duplicate is
        no database error, so the server logs neither an error nor the statement with the signer's data
        (PostgreSQL logs both for a unique violation by default). Built from the concrete fields as
        :meth:`save` would write them (``email_normalized``, ``created_at``); sets the primary key. No
        ``pre_save``/``post_save`` signals are sent. Only for :func:`inserts_unless_duplicate` databases.
        """
        connection = connections[using]
        self.email_normalized = self.normalize_email(self.email)
        meta = self._meta
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        values = [field.get_db_prep_save(field.pre_save(self, add=True), connection) for field in fields]
        quote = connection.ops.quote_name
        unique = next(c for c in meta.constraints if c.name == "petition_widget_one_signature_per_email")
        target = ", ".join(quote(meta.get_field(name).column) for name in unique.fields)
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({target}) DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        if row is None:
            return False
        self.pk = meta.pk.to_python(row[0])
        self._state.adding = False
        self._state.db = using
        return True

    @staticmethod
    def normalize_email(email: str) -> str:
        """The form of an e-mail address that the one-signature-per-address rule compares.

        Default-ignorable code points dropped, the domain in its IDNA ASCII form (so ``x@ｅxample.com``
        is ``x@example.com``), then casefolded.
        """
        email = email.strip()
        try:
            email = normalize_email_domain(email)
        except ValueError:  # a domain IDNA refuses never passes the form: compare it as typed
            email = drop_ignorables(email)
        return email.casefold()

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def country_name(self) -> str:
        return countries.name(self.country_code) if self.country_code else ""


def is_counted(signature: Signature) -> bool:
    """:data:`COUNTED` for one signature in memory (a test holds the two together for every state)."""
    return signature.state not in UNCOUNTED_STATES


def is_public(signature: Signature) -> bool:
    """:data:`PUBLIC` for one signature in memory."""
    return is_counted(signature) and not signature.hidden


def inserts_unless_duplicate(using: str = "default") -> bool:
    """Whether the database takes :meth:`Signature.insert_unless_duplicate` (PostgreSQL; SQLite 3.35 or later)."""
    connection = connections[using]
    return connection.vendor in ("postgresql", "sqlite") and connection.features.can_return_columns_from_insert


def count_new_signature(signature: Signature) -> None:
    """Add a signature that starts to count (just inserted, or just confirmed) to its petition's counters.

    One UPDATE, in the caller's transaction.

    Plain parametrised SQL: this runs on every sign POST, inside the write lock, and the ORM's
    compilation of the same UPDATE costs several times its execution.
    """
    if not is_counted(signature):
        return  # awaiting confirmation: counted once confirmed
    connection = connections[signature._state.db or "default"]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Petition._meta.db_table)} SET {quote('local_signature_count')} = "
            f"{quote('local_signature_count')} + %s, {quote('public_signature_count')} = "
            f"{quote('public_signature_count')} + %s WHERE {quote('id')} = %s",
            [1, int(is_public(signature)), signature.petition_id],
        )


def recount_signatures(petitions: models.QuerySet | list | None = None) -> int:
    """Recompute the counters of `petitions` (primary keys, a queryset, or all) from the signatures.

    Run it after signatures change outside the signing form (the admin does; bulk edits and deletions
    should). Returns the number of petitions updated.
    """
    queryset = Petition.objects.all()
    if petitions is not None:
        queryset = queryset.filter(pk__in=petitions)

    def count(signatures: SignatureQuerySet) -> Coalesce:
        total = signatures.filter(petition=OuterRef("pk")).order_by().values("petition").annotate(n=Count("pk"))
        return Coalesce(Subquery(total.values("n")), 0)

    return queryset.update(
        local_signature_count=count(Signature.objects.counted()),
        public_signature_count=count(Signature.objects.public()),
    )


class Outcome(models.TextChoices):
    """What one submission of a signature to the upstream came to: a provider's ``classify()`` answers one,
    and each :class:`ForwardAttempt` keeps it."""

    SENT = "sent", _("Sent")  # accepted (or queued) by the upstream
    # The upstream already has this signer: a terminal success, never retried.
    DUPLICATE = "duplicate", _("Already signed")
    REJECTED = "rejected", _("Rejected")  # refused for good; the upstream's messages say why
    RETRY = "retry", _("Will retry")  # transient trouble (no answer, a 5xx, a rate limit); may succeed later
    HELD = "held", _("Held")  # our credentials or configuration were refused; the petition waits for an admin


# The outcomes after which a signature counts as delivered.
SUCCESSFUL_OUTCOMES = frozenset({Outcome.SENT, Outcome.DUPLICATE})


ATTEMPT_MESSAGE_LENGTH = 500


class ForwardAttempt(models.Model):
    """One try at forwarding a signature to its upstream: when, how long, and what came back.

    Written by the forwarding worker in the transaction that moves the signature on; never edited.
    The message is the upstream's own words, shortened, and never holds a credential.
    """

    signature = models.ForeignKey(
        Signature, on_delete=models.CASCADE, related_name="forward_attempts", verbose_name=_("signature")
    )
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    message = models.CharField(_("upstream message"), max_length=ATTEMPT_MESSAGE_LENGTH, blank=True)
    worker = models.CharField(_("worker"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("forwarding attempt")
        verbose_name_plural = _("forwarding attempts")
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["signature", "started_at"], name="pw_attempt_signature_time"),
            # The admin dashboard's failure rate of the last hour.
            models.Index(fields=["started_at"], name="pw_attempt_time"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} at {self.started_at:%Y-%m-%d %H:%M:%S}"
