import csv
import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.db.models.constants import LOOKUP_SEP
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries

from .conf import app_settings
from .confirmation import send_confirmation
from .exceptions import PetitionWidgetError
from .forwarding.outbox import pending_due, resume_petitions
from .forwarding.validations import AWAITING, OVERDUE, VALIDATED, validation_counts, validation_counts_per_petition
from .models import (
    ApiKey,
    ForwardAttempt,
    ForwardingState,
    Petition,
    Provider,
    Signature,
    recount_signatures,
)
from .petitions import add_petition, request_auth_key, sync_petition
from .privacy import UNSENT_STATES, erase_signers, in_flight
from .providers.base import SUCCESSFUL_OUTCOMES

logger = logging.getLogger(__name__)


class AddFromUpstreamForm(forms.Form):
    provider = forms.ChoiceField(label=_("Platform"), choices=Provider.choices)
    url_or_id = forms.CharField(label=_("Petition URL or id"), max_length=500)
    slug = forms.SlugField(
        label=_("Slug"),
        required=False,
        max_length=100,
        help_text=_("The form page's address; taken from the title when left empty."),
    )


FORWARDING_FIELDS = (
    "state",
    "attempts",
    "next_attempt_at",
    "lease_expires_at",
    "leased_by",
    "forwarded_at",
    "last_error",
    "finished_at",
    "upstream_validated_at",
    "upstream_signature_id",
    "validation_overdue_at",
)
# ip_hash is left out on purpose: it is only for counting signatures per address, never for reading.
PRIVACY_FIELDS = ("confirmation_sent_at", "confirmed_at", "erased_at")

# Badge backgrounds for the forwarding states; each keeps white text readable (contrast 4.5:1 or more) in
# the admin's light and dark themes alike.
STATE_COLOURS = {
    ForwardingState.PENDING: "#1d4ed8",
    ForwardingState.SENDING: "#6d28d9",
    ForwardingState.SENT: "#15803d",
    ForwardingState.HELD: "#b45309",
    ForwardingState.REJECTED: "#9f1239",
    ForwardingState.FAILED: "#b91c1c",
    ForwardingState.CANCELLED: "#4b5563",
    ForwardingState.UNCONFIRMED: "#0e7490",
    ForwardingState.SPAM: "#86198f",
}
STATE_BADGE = (
    '<span class="pw-state pw-state-{}" style="background-color: {}; color: #fff; padding: 1px 6px; '
    'border-radius: 3px; white-space: nowrap">{}</span>'
)


def state_badge(state: str, text: str) -> str:
    """``text`` in the coloured badge of a forwarding state."""
    return format_html(STATE_BADGE, state, STATE_COLOURS.get(state, "#4b5563"), text)


def signatures_url(**filters) -> str:
    """The signatures changelist, filtered."""
    url = reverse("admin:petition_widget_signature_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


# Signers' contact details: shown on a signature's page, and usable in the admin's filters and search, only to
# users who may change or export signatures (see may_see_contact_details).
CONTACT_DETAIL_FIELDS = ("email", "email_normalized", "phone", "address", "postal_code")
# Shown to no one, so no one filters by them either: the client address hash is only for counting signatures
# per address, and an API key's hash only for recognising the key.
UNREADABLE_FIELDS = ((Signature, ("ip_hash",)), (ApiKey, ("key_hash",)))


def may_see_contact_details(request) -> bool:
    """Whether the user may read signers' contact details: who may change or export signatures."""
    opts = Signature._meta
    return request.user.has_perm(f"{opts.app_label}.change_signature") or request.user.has_perm(
        f"{opts.app_label}.export_signature"
    )


def private_fields(request) -> set[models.Field]:
    """The model fields this user may not look into, through any admin URL."""
    fields = {model._meta.get_field(name) for model, names in UNREADABLE_FIELDS for name in names}
    if request is None or not may_see_contact_details(request):
        fields.update(Signature._meta.get_field(name) for name in CONTACT_DETAIL_FIELDS)
    return fields


def lookup_touches(model: type[models.Model], lookup: str, fields: set[models.Field]) -> bool:
    """Whether the lookup path (``petition__signatures__email__startswith``, say) reaches one of ``fields``.

    The path is followed through every relation, forward or reverse; it ends at the first part that is not a
    field (a transform or a lookup such as ``startswith``).
    """
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if field in fields:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


class PrivateFieldsGuard:
    """Keeps the admin's URLs from answering questions about what a user may not see.

    Filters passed in the query string (``?email__startswith=g``, also across relations), search and the
    autocomplete built on it must not depend on a field in :func:`private_fields`: such a filter is refused
    (Django answers 400), and such a search field is left out for the user. Sorting (``?o=``) reaches only the
    list's columns, none of which shows a contact detail.
    """

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        if lookup_touches(self.model, lookup, private_fields(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        private = private_fields(request)
        return [
            name
            for name in super().get_search_fields(request)
            if not lookup_touches(self.model, name.lstrip("^=@"), private)
        ]


class ForwardingPausedFilter(admin.SimpleListFilter):
    title = _("forwarding")
    parameter_name = "forwarding"

    def lookups(self, request, model_admin):
        return (("paused", _("paused")), ("running", _("running")))

    def queryset(self, request, queryset):
        if self.value() == "paused":
            return queryset.filter(forwarding_paused_at__isnull=False)
        if self.value() == "running":
            return queryset.filter(forwarding_paused_at__isnull=True)
        return queryset


def state_count_name(state: str) -> str:
    return f"signatures_{state}"


@admin.register(Petition)
class PetitionAdmin(PrivateFieldsGuard, admin.ModelAdmin):
    list_display = (
        "title",
        "provider",
        "upstream_id",
        "slug",
        "status",
        "signatures_per_state",
        "signature_count",
        "accepts_signatures",
        "forwarding",
        "synced_at",
    )
    list_filter = ("provider", "accepts_signatures", "status", ForwardingPausedFilter)
    search_fields = ("title", "upstream_id", "slug")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = (
        "raw",
        "synced_at",
        "created_at",
        "updated_at",
        "auth_key_status",
        "auth_key_source",
        "forwarding_paused_at",
        "forwarding_paused_reason",
        "signatures_by_state",
    )
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ("sync_now", "request_new_auth_key", "resume_forwarding")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "provider",
                    "upstream_id",
                    "slug",
                    "accepts_signatures",
                    "require_confirmation",
                    "conceal_duplicates",
                )
            },
        ),
        (_("Change.org authorization key"), {"fields": ("auth_key_status", "auth_key_source")}),
        (
            _("Forwarding"),
            {
                "fields": ("forwarding_paused_at", "forwarding_paused_reason", "signatures_by_state"),
                "description": _(
                    "When the platform refuses our credentials, forwarding pauses for this petition and its "
                    "signatures wait. Fix the credentials (settings, or “Request a new authorization key”), "
                    "then use the action “Resume forwarding” in the list."
                ),
            },
        ),
        (
            _("Cached from the upstream"),
            {
                "fields": (
                    "title",
                    "overview",
                    "letter_body",
                    "url",
                    "status",
                    "goal",
                    "signature_count",
                    "image_url",
                    "category",
                    "targets",
                    "creator_name",
                    "creator_url",
                    "organization_name",
                    "organization_url",
                    "upstream_created_at",
                    "end_at",
                    "synced_at",
                    "raw",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        # One grouped query for the whole page rather than one count per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                **{
                    state_count_name(state): Count("signatures", filter=Q(signatures__state=state))
                    for state in ForwardingState.values
                }
            )
        )

    def get_urls(self):
        return [
            path(
                "add-from-upstream/",
                self.admin_site.admin_view(self.add_from_upstream_view),
                name="petition_widget_petition_add_from_upstream",
            ),
            *super().get_urls(),
        ]

    def add_from_upstream_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AddFromUpstreamForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                petition = add_petition(
                    form.cleaned_data["provider"],
                    form.cleaned_data["url_or_id"],
                    slug=form.cleaned_data["slug"] or None,
                )
            except PetitionWidgetError as exc:
                form.add_error(None, _("The petition could not be added: %(error)s") % {"error": exc})
            else:
                self.message_user(
                    request,
                    _("Added “%(title)s”; its form is at %(path)s.")
                    % {"title": petition.title, "path": petition.get_absolute_url()},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:petition_widget_petition_change", args=[petition.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": _("Add a petition from its platform"),
        }
        return TemplateResponse(request, "admin/petition_widget/petition/add_from_upstream.html", context)

    def _each_upstream(self, request, queryset, work, done_message):
        done = failed = 0
        for petition in queryset:
            try:
                work(petition)
            except PetitionWidgetError as exc:
                failed += 1
                self.message_user(request, f"{petition.slug}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.display(description=_("forwarding"))
    def forwarding(self, obj: Petition) -> str:
        if not obj.forwarding_paused:
            return _("running")
        return _("paused: %(reason)s") % {"reason": obj.forwarding_paused_reason}

    def _state_counts(self, obj: Petition) -> dict[str, int]:
        """Signatures per forwarding state, from get_queryset's annotations (or one query without them)."""
        if hasattr(obj, state_count_name(ForwardingState.PENDING)):
            counts = {state: getattr(obj, state_count_name(state)) for state in ForwardingState.values}
        else:
            counts = dict(obj.signatures.order_by().values_list("state").annotate(n=Count("pk")))
        return {state: counts[state] for state in ForwardingState.values if counts.get(state)}

    @admin.display(description=_("signatures by forwarding state"))
    def signatures_by_state(self, obj: Petition) -> str:
        if obj.pk is None:
            return "-"
        labels = dict(ForwardingState.choices)
        return ", ".join(f"{labels[state]} {n}" for state, n in self._state_counts(obj).items()) or "-"

    @admin.display(description=_("local signatures"))
    def signatures_per_state(self, obj: Petition) -> str | None:
        labels = dict(ForwardingState.choices)
        counts = self._state_counts(obj)
        if not counts:
            return None
        return format_html_join(
            " ",
            '<a href="{}">{}</a>',
            (
                (
                    signatures_url(petition__id__exact=obj.pk, state__exact=state),
                    state_badge(state, f"{labels[state]} {n}"),
                )
                for state, n in counts.items()
            ),
        )

    @admin.action(description=_("Resume forwarding"), permissions=["change"])
    def resume_forwarding(self, request, queryset):
        petitions, signatures = resume_petitions(queryset.values_list("pk", flat=True))
        if not petitions:
            self.message_user(request, _("None of the selected petitions was paused."), messages.WARNING)
            return
        self.message_user(
            request,
            ngettext(
                "Forwarding resumed for %(count)d petition; ",
                "Forwarding resumed for %(count)d petitions; ",
                petitions,
            )
            % {"count": petitions}
            + ngettext(
                "%(held)d held signature is due again. ",
                "%(held)d held signatures are due again. ",
                signatures,
            )
            % {"held": signatures}
            + _("If the platform still refuses the credentials, forwarding pauses again with the new reason."),
            messages.SUCCESS,
        )

    @admin.action(description=_("Sync now from the upstream"), permissions=["change"])
    def sync_now(self, request, queryset):
        self._each_upstream(request, queryset, sync_petition, _("%(count)d petition(s) synced."))

    @admin.action(description=_("Request a new authorization key"), permissions=["change"])
    def request_new_auth_key(self, request, queryset):
        self._each_upstream(
            request,
            queryset.filter(provider=Provider.CHANGEORG),
            request_auth_key,
            _("Authorization key requested for %(count)d petition(s)."),
        )


class RecountSignaturesMixin:
    """Keeps the petitions' signature counters right after admins edit, delete or act on signatures.

    A counter only moves by itself when a signature is inserted or confirmed; editing, deleting, cancelling
    or marking one as spam here recounts the petitions concerned (one UPDATE each).
    """

    @staticmethod
    @contextmanager
    def recounting(queryset):
        """Recount, after the block, the petitions of the signatures in `queryset` as they were before it."""
        petition_ids = set(queryset.values_list("petition_id", flat=True))
        yield
        recount_signatures(petition_ids)

    def save_model(self, request, obj, form, change):
        before = type(obj).objects.filter(pk=obj.pk).values_list("petition_id", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        recount_signatures({obj.petition_id, before} - {None})

    def delete_model(self, request, obj):
        petition_id = obj.petition_id
        super().delete_model(request, obj)
        recount_signatures([petition_id])

    def delete_queryset(self, request, queryset):
        with self.recounting(queryset):
            super().delete_queryset(request, queryset)


class ForwardAttemptInline(admin.TabularInline):
    """Every try at forwarding the signature, oldest first; written by the workers, never edited."""

    model = ForwardAttempt
    fields = ("started_at", "duration_ms", "outcome", "http_status", "message", "worker")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CountryFilter(admin.SimpleListFilter):
    """The countries signers gave, by name."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = (
            model_admin.get_queryset(request)
            .exclude(country_code="")
            .order_by()
            .values_list("country_code", flat=True)
            .distinct()
        )
        return sorted(((code, countries.name(code) or code) for code in codes), key=lambda choice: str(choice[1]))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country_code=self.value())
        return queryset


class ErasedFilter(admin.SimpleListFilter):
    title = _("personal data")
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return (("yes", _("erased")), ("no", _("kept")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        return queryset


class ValidatedUpstreamFilter(admin.SimpleListFilter):
    """Sent We the People signatures by whether their signer validated them (they count only then)."""

    title = _("validated upstream")
    parameter_name = "validated_upstream"
    CONDITIONS = {"yes": VALIDATED, "awaiting": AWAITING, "overdue": OVERDUE}

    def lookups(self, request, model_admin):
        return (
            ("yes", _("validated")),
            ("awaiting", _("awaiting validation")),
            ("overdue", _("overdue: not validated in time")),
        )

    def queryset(self, request, queryset):
        condition = self.CONDITIONS.get(self.value())
        if condition is None:
            return queryset
        return queryset.filter(condition, petition__provider=Provider.WETHEPEOPLE, state=ForwardingState.SENT)


RETRIABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED, ForwardingState.REJECTED)
CANCELLABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED)
# The backlog: signatures not yet forwarded that still may be. The first three are waiting on us (or on the
# upstream); unconfirmed ones wait on their signers.
WAITING_STATES = (ForwardingState.PENDING, ForwardingState.SENDING, ForwardingState.HELD)
BACKLOG_STATES = (*WAITING_STATES, ForwardingState.UNCONFIRMED)
FAILURE_WINDOW = timedelta(hours=1)

EXPORT_COLUMNS = (
    ("id", "pk"),
    ("petition", "petition__slug"),
    ("provider", "petition__provider"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("address", "address"),
    ("city", "city"),
    ("region", "state_province"),
    ("postal_code", "postal_code"),
    ("country", "country_code"),
    ("hidden", "hidden"),
    ("signup", "signup"),
    ("reason", "reason"),
    ("state", "state"),
    ("attempts", "attempts"),
    ("created", "created_at"),
    ("forwarded", "forwarded_at"),
    ("confirmed", "confirmed_at"),
)
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection); a leading
# apostrophe makes it text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One exported value as text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file that hands back what is written to it, so that csv.writer produces lines to stream."""

    def write(self, value: str) -> str:
        return value


def backlog_counts(now: datetime) -> dict[str, Count]:
    """Aggregates that split signatures in BACKLOG_STATES by what they wait for."""
    pending = Q(state=ForwardingState.PENDING)
    return {
        "due_now": Count("pk", filter=pending_due(now)),
        "scheduled": Count("pk", filter=pending & Q(next_attempt_at__gt=now)),
        "sending": Count("pk", filter=Q(state=ForwardingState.SENDING)),
        "held": Count("pk", filter=Q(state=ForwardingState.HELD)),
        "unconfirmed": Count("pk", filter=Q(state=ForwardingState.UNCONFIRMED)),
    }


@admin.register(Signature)
class SignatureAdmin(PrivateFieldsGuard, RecountSignaturesMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "petition",
        "display_name",
        "country",
        "coloured_state",
        "attempts",
        "short_error",
        "created_at",
        "forwarded_at",
        "validated_upstream",
    )
    list_filter = (
        "petition",
        "state",
        ValidatedUpstreamFilter,
        CountryFilter,
        ("created_at", admin.DateFieldListFilter),
        "hidden",
        ErasedFilter,
    )
    list_select_related = ("petition",)
    search_fields = ("first_name", "last_name", "email", "city")
    date_hierarchy = "created_at"
    readonly_fields = ("email_normalized", "created_at", *FORWARDING_FIELDS, *PRIVACY_FIELDS)
    inlines = (ForwardAttemptInline,)
    actions = (
        "retry_now",
        "cancel_forwarding",
        "mark_as_spam",
        "resend_confirmation",
        "export_csv",
        "erase_personal_data",
    )
    fieldsets = (
        (None, {"fields": ("petition", "first_name", "last_name", "email", "email_normalized", "hidden", "signup")}),
        (_("Address"), {"fields": ("address", "city", "state_province", "postal_code", "country_code", "phone")}),
        (_("Reason"), {"fields": ("reason",)}),
        (_("Forwarding"), {"fields": ("created_at", *FORWARDING_FIELDS)}),
        (_("Confirmation and erasure"), {"fields": PRIVACY_FIELDS}),
    )

    def get_fieldsets(self, request, obj=None):
        """Contact details only for those who may edit or export signatures: reviewers see the rest."""
        fieldsets = super().get_fieldsets(request, obj)
        if may_see_contact_details(request):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in CONTACT_DETAIL_FIELDS]})
            for name, options in fieldsets
        ]

    def has_retry_permission(self, request) -> bool:
        """Retry, cancel, mark as spam and resend confirmations: the reviewers' permission, or change."""
        return request.user.has_perm(f"{self.opts.app_label}.retry_signature") or self.has_change_permission(request)

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.export_signature")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.erase_signature")

    def get_urls(self):
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="petition_widget_signature_dashboard",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("name"), ordering="last_name")
    def display_name(self, obj: Signature) -> str:
        return obj.display_name

    @admin.display(description=_("country"), ordering="country_code")
    def country(self, obj: Signature) -> str | None:
        if not obj.country_code:
            return None
        return format_html('<abbr title="{}">{}</abbr>', obj.country_name, obj.country_code)

    @admin.display(description=_("forwarding state"), ordering="state")
    def coloured_state(self, obj: Signature) -> str:
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description=_("validated upstream"), ordering="upstream_validated_at")
    def validated_upstream(self, obj: Signature) -> str | None:
        """We the People, once sent: validated (when), awaiting the signer's click, or overdue."""
        if obj.petition.provider != Provider.WETHEPEOPLE or obj.state != ForwardingState.SENT:
            return None
        if obj.upstream_validated_at:
            return format_html('<span data-validation="yes">{}</span>', _("yes"))
        if obj.validation_overdue_at:
            return format_html('<span data-validation="overdue">{}</span>', _("overdue"))
        return format_html('<span data-validation="awaiting">{}</span>', _("awaiting"))

    @admin.display(description=_("last error"))
    def short_error(self, obj: Signature) -> str | None:
        if not obj.last_error:
            return None
        return format_html(
            '<span title="{}" style="display: inline-block; min-width: 20em">{}</span>',
            obj.last_error,
            Truncator(obj.last_error).chars(80),
        )

    @admin.action(description=_("Retry forwarding now (attempt count back to 0)"), permissions=["retry"])
    def retry_now(self, request, queryset):
        """Make the selected signatures due now, with the full retry budget again.

        Pending, held, failed and rejected ones go back to pending with ``next_attempt_at`` = now and
        ``attempts`` = 0. Sent, cancelled, spam, unconfirmed, erased and in-flight (sending) ones are left
        alone.
        """
        selected = queryset.count()
        eligible = queryset.filter(state__in=RETRIABLE_STATES, erased_at__isnull=True)
        paused = eligible.filter(petition__forwarding_paused_at__isnull=False).count()
        updated = eligible.update(
            state=ForwardingState.PENDING, attempts=0, next_attempt_at=timezone.now(), finished_at=None
        )
        parts = [
            ngettext(
                "%(count)d signature is due now and will be sent at a worker's next pass. ",
                "%(count)d signatures are due now and will be sent at a worker's next pass. ",
                updated,
            )
            % {"count": updated},
            _("Their attempt counts were reset to 0, so each gets the full %(max)d tries again.")
            % {"max": app_settings.MAX_ATTEMPTS},
        ]
        if paused:
            parts.append(
                " "
                + ngettext(
                    "%(count)d of them belongs to a paused petition and waits until forwarding is resumed.",
                    "%(count)d of them belong to paused petitions and wait until forwarding is resumed.",
                    paused,
                )
                % {"count": paused}
            )
        if selected - updated:
            parts.append(
                " "
                + ngettext(
                    "%(count)d was left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                    "%(count)d were left alone (sent, being sent, cancelled, spam, awaiting confirmation or erased).",
                    selected - updated,
                )
                % {"count": selected - updated}
            )
        self.message_user(
            request, "".join(str(part) for part in parts), messages.SUCCESS if updated else messages.WARNING
        )

    @admin.action(description=_("Cancel forwarding"), permissions=["retry"])
    def cancel_forwarding(self, request, queryset):
        """Stop forwarding the selected pending, held or failed signatures; sent ones are never touched."""
        selected = queryset.count()
        cancellable = queryset.filter(state__in=CANCELLABLE_STATES)
        with self.recounting(cancellable):
            cancelled = cancellable.update(
                state=ForwardingState.CANCELLED, next_attempt_at=None, finished_at=timezone.now()
            )
        message = ngettext(
            "%(count)d signature cancelled: it will not be forwarded and no longer counts.",
            "%(count)d signatures cancelled: they will not be forwarded and no longer count.",
            cancelled,
        ) % {"count": cancelled}
        if selected - cancelled:
            message += " " + ngettext(
                "%(count)d was left alone: only pending, held or failed signatures can be cancelled.",
                "%(count)d were left alone: only pending, held or failed signatures can be cancelled.",
                selected - cancelled,
            ) % {"count": selected - cancelled}
        self.message_user(request, message, messages.SUCCESS if cancelled else messages.WARNING)

    @admin.action(description=_("Mark as spam"), permissions=["retry"])
    def mark_as_spam(self, request, queryset):
        """Mark the selected signatures as spam: never forwarded again, not counted, not listed.

        Any state qualifies except one a worker is sending right now (under a lease that has not expired):
        that request is already on its way, and its result would be recorded over the mark. Signatures the
        platform already has stay there; here they stop counting.
        """
        now = timezone.now()
        selected = queryset.count()
        eligible = queryset.exclude(in_flight(now)).exclude(state=ForwardingState.SPAM)
        already_sent = eligible.filter(state=ForwardingState.SENT).count()
        with self.recounting(eligible):
            marked = eligible.update(
                state=ForwardingState.SPAM, next_attempt_at=None, lease_expires_at=None, leased_by="", finished_at=now
            )
        message = ngettext(
            "%(count)d signature marked as spam: it will never be forwarded, no longer counts and is not listed.",
            "%(count)d signatures marked as spam: they will never be forwarded, no longer count and are not listed.",
            marked,
        ) % {"count": marked}
        if already_sent:
            message += " " + ngettext(
                "%(count)d of them had already reached the platform, which keeps it.",
                "%(count)d of them had already reached the platform, which keeps them.",
                already_sent,
            ) % {"count": already_sent}
        if selected - marked:
            message += " " + ngettext(
                "%(count)d was left alone (already spam, or being sent right now: try again in a minute).",
                "%(count)d were left alone (already spam, or being sent right now: try again in a minute).",
                selected - marked,
            ) % {"count": selected - marked}
        self.message_user(request, message, messages.SUCCESS if marked else messages.WARNING)

    @admin.action(description=_("Resend confirmation"), permissions=["retry"])
    def resend_confirmation(self, request, queryset):
        """E-mail the confirmation link again to the selected signers who have not confirmed yet."""
        selected = queryset.count()
        waiting = list(
            queryset.filter(state=ForwardingState.UNCONFIRMED, erased_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        sent = sum(1 for pk in waiting if send_confirmation(pk))
        failed, skipped = len(waiting) - sent, selected - len(waiting)
        parts = [
            ngettext(
                "Confirmation e-mail sent again for %(count)d signature.",
                "Confirmation e-mails sent again for %(count)d signatures.",
                sent,
            )
            % {"count": sent}
        ]
        if failed:
            parts.append(
                ngettext(
                    "%(count)d could not be sent (the mail server refused it; the log names the signature).",
                    "%(count)d could not be sent (the mail server refused them; the log names the signatures).",
                    failed,
                )
                % {"count": failed}
            )
        if skipped:
            parts.append(
                ngettext(
                    "%(count)d was skipped: it is not awaiting confirmation.",
                    "%(count)d were skipped: they are not awaiting confirmation.",
                    skipped,
                )
                % {"count": skipped}
            )
        level = messages.ERROR if failed else messages.SUCCESS if sent else messages.WARNING
        self.message_user(request, " ".join(parts), level)

    @admin.action(description=_("Export as CSV (with contact details)"), permissions=["export"])
    def export_csv(self, request, queryset):
        """Stream the selected signatures as CSV, contact details included, safe to open in a spreadsheet."""
        rows = queryset.order_by("pk").values_list(*(field for _header, field in EXPORT_COLUMNS))
        logger.info("user %s exported %s signature(s) as CSV", request.user.pk, queryset.count())

        def lines():
            writer = csv.writer(_Echo())
            yield writer.writerow([header for header, _field in EXPORT_COLUMNS])
            for row in rows.iterator(chunk_size=500):
                yield writer.writerow([csv_cell(value) for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="signatures-{stamp}.csv"'
        return response

    @admin.action(description=_("Erase personal data"), permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        """Erase everything personal of the selected signers (a signer's request), after a confirmation page.

        Names, e-mail, phone, address, city, region, postal code, reason and the client address hash are
        blanked and the signature is hidden; one not yet sent is cancelled, one being sent right now is left
        alone. See privacy.erase_signers.
        """
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Erase personal data?"),
                "signatures": queryset.select_related("petition").order_by("pk"),
                "unsent": queryset.filter(state__in=UNSENT_STATES).count(),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action": "erase_personal_data",
                "back_url": request.get_full_path(),
            }
            return TemplateResponse(request, "admin/petition_widget/signature/erase_confirmation.html", context)
        result = erase_signers(queryset)
        erased, unsent = result.erased, result.cancelled
        message = ngettext(
            "Erased the personal data of %(count)d signature: name, e-mail, phone, street address, city, "
            "region, postal code, reason and client address hash are blank, and it is hidden from the public "
            "list.",
            "Erased the personal data of %(count)d signatures: names, e-mails, phones, street addresses, "
            "cities, regions, postal codes, reasons and client address hashes are blank, and they are hidden "
            "from the public list.",
            erased,
        ) % {"count": erased}
        if unsent:
            message += " " + ngettext(
                "%(count)d of them had not been sent and was cancelled, so it will not be forwarded.",
                "%(count)d of them had not been sent and were cancelled, so they will not be forwarded.",
                unsent,
            ) % {"count": unsent}
        if result.in_flight:
            message += " " + ngettext(
                "%(count)d was left alone: a worker is sending it right now. Erase it again in a minute.",
                "%(count)d were left alone: a worker is sending them right now. Erase them again in a minute.",
                result.in_flight,
            ) % {"count": result.in_flight}
        message += " " + str(_("What the platform already received must be erased there."))
        self.message_user(request, message, messages.SUCCESS if erased else messages.WARNING)

    def dashboard_view(self, request):
        """The forwarding backlog, the last hour's failure rate, the oldest waiting signature, paused petitions."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        counts = backlog_counts(now)
        per_petition = list(
            Signature.objects.filter(state__in=BACKLOG_STATES)
            .order_by()
            .values("petition")
            .annotate(total=Count("pk"), **counts)
        )
        totals = {key: sum(row[key] for row in per_petition) for key in counts}
        pending, labels = ForwardingState.PENDING, dict(ForwardingState.choices)
        backlog = [
            {"key": "due_now", "label": _("Pending, due now"), "state": pending},
            {"key": "scheduled", "label": _("Pending, scheduled for later"), "state": pending},
            {"key": "sending", "label": labels[ForwardingState.SENDING], "state": ForwardingState.SENDING},
            {"key": "held", "label": labels[ForwardingState.HELD], "state": ForwardingState.HELD},
            {"key": "unconfirmed", "label": labels[ForwardingState.UNCONFIRMED], "state": ForwardingState.UNCONFIRMED},
        ]
        for row in backlog:
            row["count"] = totals[row["key"]]
            row["url"] = signatures_url(state__exact=row["state"])

        attempts = ForwardAttempt.objects.filter(started_at__gte=now - FAILURE_WINDOW).aggregate(
            total=Count("pk"), failed=Count("pk", filter=~Q(outcome__in=SUCCESSFUL_OUTCOMES))
        )
        failure_rate = round(attempts["failed"] * 100 / attempts["total"], 1) if attempts["total"] else None

        oldest = (
            Signature.objects.filter(state__in=WAITING_STATES)
            .select_related("petition")
            .order_by("created_at", "pk")
            .first()
        )
        if oldest is not None:
            oldest.age = timesince(oldest.created_at, now)
            oldest.url = reverse("admin:petition_widget_signature_change", args=[oldest.pk])

        petitions = Petition.objects.only("title", "slug", "forwarding_paused_at").in_bulk(
            [row["petition"] for row in per_petition]
        )
        for row in per_petition:
            row["petition"] = petitions[row["petition"]]
            row["url"] = signatures_url(petition__id__exact=row["petition"].pk)
        per_petition.sort(key=lambda row: (-row["total"], row["petition"].title))

        paused = Petition.objects.filter(forwarding_paused_at__isnull=False).order_by("forwarding_paused_at")
        context = {
            **self._validation_context(),
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Forwarding dashboard"),
            "now": now,
            "backlog": backlog,
            "attempts": attempts,
            "failure_rate": failure_rate,
            "failure_window_minutes": int(FAILURE_WINDOW.total_seconds() // 60),
            "oldest": oldest,
            "paused": paused,
            "per_petition": per_petition,
        }
        return TemplateResponse(request, "admin/petition_widget/signature/dashboard.html", context)

    def _validation_context(self) -> dict:
        """Sent We the People signatures against those their signers validated, in all and per petition."""
        totals = validation_counts()
        links = {"validated": "yes", "awaiting": "awaiting", "overdue": "overdue"}
        validations = [
            {"key": "sent", "label": _("Sent"), "count": totals["sent"], "url": None},
            {"key": "validated", "label": _("Validated by their signers"), "count": totals["validated"]},
            {"key": "awaiting", "label": _("Awaiting validation"), "count": totals["awaiting"]},
            {"key": "overdue", "label": _("Overdue: not validated in time"), "count": totals["overdue"]},
        ]
        for row in validations[1:]:
            row["url"] = signatures_url(validated_upstream=links[row["key"]])
        rows = validation_counts_per_petition()
        titles = Petition.objects.only("title").in_bulk([row["petition"] for row in rows])
        for row in rows:
            row["petition"] = titles[row["petition"]]
            row["percent"] = round(row["validated"] * 100 / row["sent"]) if row["sent"] else 0
        return {"validations": validations, "validations_per_petition": rows}


class ApiKeyForm(forms.ModelForm):
    """The key's fields, with help on what each kind of key may do."""

    class Meta:
        model = ApiKey
        fields = ("name", "kind", "allowed_origins", "active")
        help_texts = {
            "allowed_origins": _(
                "For a browser key, the web pages that may use it, one origin a line, e.g. https://blog.example "
                "(“*”: any page, which any web site can then use). Leave empty for a server key."
            ),
        }


@admin.register(ApiKey)
class ApiKeyAdmin(PrivateFieldsGuard, admin.ModelAdmin):
    """Keys for the public API. A key is shown once, right after it is created; only its hash is stored."""

    form = ApiKeyForm
    list_display = ("name", "kind", "prefix", "active", "created_at", "last_used_at")
    list_filter = ("kind", "active")
    search_fields = ("name", "prefix")
    fields = ("name", "kind", "allowed_origins", "active", "prefix", "created_at", "last_used_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        key = None
        if not change:
            key = ApiKey.generate()
            obj.set_key(key)
        super().save_model(request, obj, form, change)
        if key:
            self.message_user(
                request,
                _("The new API key is %(key)s — copy it now: it is stored only as a hash and cannot be shown again.")
                % {"key": key},
                messages.WARNING,
            )
