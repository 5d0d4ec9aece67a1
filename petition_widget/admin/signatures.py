"""The signatures' admin: the list and its filters, the forwarding attempts inline, and the reviewers'
actions (retry, cancel, mark as spam, not spam, resend confirmation, confirm on the signer's behalf, export,
erase).

A signature's page is headed "Ada Lovelace on Plant trees on Elm Street" and groups its fields (signer, what
was sent, forwarding, privacy), showing only those of its petition's platform.

Each action calls a transition of the signature's lifecycle and reports what it did. Editing, deleting or
acting on signatures here recounts the petitions concerned (:class:`RecountSignaturesMixin`).
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from .. import lifecycle
from ..confirmation import send_confirmation
from ..forwarding.validations import AWAITING, OVERDUE, VALIDATED
from ..models import ForwardAttempt, ForwardingState, Provider, Signature, recount_signatures
from . import dashboard, export, reports
from .display import state_badge
from .privacy import CONTACT_DETAIL_FIELDS, PrivateFieldsGuard, may_see_contact_details

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
# What each platform's form asks (see petition_widget.forms): the signer, then the rest of what was sent.
SIGNER_FIELDS = {
    Provider.CHANGEORG: ("petition", "first_name", "last_name", "email", "email_normalized", "phone"),
    Provider.WETHEPEOPLE: ("petition", "first_name", "last_name", "email", "email_normalized"),
}
SENT_FIELDS = {
    Provider.CHANGEORG: ("address", "city", "state_province", "postal_code", "country_code", "reason", "hidden"),
    Provider.WETHEPEOPLE: ("postal_code", "signup"),
}
# A new signature's page, before its petition is chosen: every field.
ALL_SIGNER_FIELDS = SIGNER_FIELDS[Provider.CHANGEORG]
ALL_SENT_FIELDS = (*SENT_FIELDS[Provider.CHANGEORG], "signup")
# What a reason for confirming on a signer's behalf must not hold: it is logged.
CONTACT_DETAIL_PATTERN = re.compile(r"\S+@\S+|\+?\d[\d\s().-]{6,}\d")


class SignatureForm(forms.ModelForm):
    """The signature's form in the admin: the country is chosen from the list, by name."""

    country_code = forms.ChoiceField(label=_("Country"), choices=(), required=False)

    class Meta:
        model = Signature
        fields = ("country_code",)  # the admin adds the fieldsets' fields

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "country_code" in self.fields:  # not when it is read-only
            self.fields["country_code"].choices = [("", "---------"), *countries]


class ConfirmOnBehalfForm(forms.Form):
    """Why an admin confirms signatures on their signers' behalf; logged, so no contact details in it."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            "Why the signers cannot confirm themselves, e.g. “confirmation was turned off; the signers were "
            "checked by phone”. It is logged with your user id: write no e-mail address or phone number."
        ),
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError(_("Give a reason."))
        if CONTACT_DETAIL_PATTERN.search(reason):
            raise forms.ValidationError(_("The reason is logged: leave out e-mail addresses and phone numbers."))
        return reason


class RecountSignaturesMixin:
    """Keeps the petitions' signature counters right after admins edit, delete or act on signatures.

    A counter only moves by itself when a signature is inserted or confirmed; editing or deleting one here
    recounts the petitions concerned (one UPDATE each), as the lifecycle's transitions do for theirs.
    """

    recounting = staticmethod(lifecycle.recounting)

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
    template = "admin/petition_widget/signature/attempts_inline.html"
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


@admin.register(Signature)
class SignatureAdmin(PrivateFieldsGuard, RecountSignaturesMixin, admin.ModelAdmin):
    form = SignatureForm
    # Seven narrow columns fit a laptop's 1280 px beside the filters; the id, the forwarding time and the
    # full error are on the signature's page (and the error in the shortened one's tooltip).
    list_display = (
        "display_name",
        "petition_title",
        "country",
        "coloured_state",
        "attempts",
        "short_error",
        "created_at",
    )
    list_display_links = ("display_name",)
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
        "not_spam",
        "resend_confirmation",
        "confirm_on_behalf",
        "export_csv",
        "erase_personal_data",
    )

    class Media:
        css = {"all": ("petition_widget/admin.css",)}

    def get_fieldsets(self, request, obj=None):
        """The signer, what was sent, forwarding and privacy, with only the fields of the petition's platform.

        Contact details only for those who may edit or export signatures: reviewers see the rest.
        """
        provider = obj.petition.provider if obj is not None else None
        forwarding = ("created_at", *FORWARDING_FIELDS)
        if obj is not None and obj.state == ForwardingState.SPAM:
            forwarding = (*forwarding, "state_before_spam")
        fieldsets = [
            (_("Signer"), {"fields": SIGNER_FIELDS.get(provider, ALL_SIGNER_FIELDS)}),
            (
                _("What was sent"),
                {
                    "fields": SENT_FIELDS.get(provider, ALL_SENT_FIELDS),
                    "description": _("Besides the signer's name and e-mail, what the platform receives."),
                },
            ),
            (_("Forwarding"), {"fields": forwarding}),
            (_("Privacy"), {"fields": PRIVACY_FIELDS}),
        ]
        if not self.has_change_permission(request, obj):
            fieldsets = [
                (name, {**options, "fields": ["country" if f == "country_code" else f for f in options["fields"]]})
                for name, options in fieldsets
            ]
        if may_see_contact_details(request):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in CONTACT_DETAIL_FIELDS]})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        # "country" is the country's code with its name, for who only views the signature.
        return (*super().get_readonly_fields(request, obj), "state_before_spam", "country")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Headed by who signed what: "Ada Lovelace on Plant trees on Elm Street"."""
        obj = self.get_object(request, admin.utils.unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), "title": signature_heading(obj), "subtitle": None}
        return super().change_view(request, object_id, form_url, extra_context)

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
        return obj.display_name or _("(erased #%(id)s)") % {"id": obj.pk}

    @admin.display(description=_("petition"), ordering="petition__title")
    def petition_title(self, obj: Signature) -> str:
        title = obj.petition.title
        return format_html('<span class="pw-admin-petition" title="{}">{}</span>', title, Truncator(title).chars(40))

    @admin.display(description=_("country"), ordering="country_code")
    def country(self, obj: Signature) -> str | None:
        if not obj.country_code:
            return None
        return format_html('<abbr title="{}">{}</abbr>', obj.country_name, obj.country_code)

    @admin.display(description=_("forwarding state"), ordering="state")
    def coloured_state(self, obj: Signature) -> str:
        """The state's badge; for a sent We the People signature also whether its signer validated it."""
        badge = state_badge(obj.state, obj.get_state_display())
        validation = self.validated_upstream(obj)
        return format_html("{} {}", badge, validation) if validation else badge

    @admin.display(description=_("validated upstream"), ordering="upstream_validated_at")
    def validated_upstream(self, obj: Signature) -> str | None:
        """We the People, once sent: validated, awaiting the signer's click, or overdue (shown in the state column)."""
        if obj.petition.provider != Provider.WETHEPEOPLE or obj.state != ForwardingState.SENT:
            return None
        if obj.upstream_validated_at:
            return format_html('<span class="pw-validation" data-validation="yes">{}</span>', _("validated"))
        if obj.validation_overdue_at:
            return format_html('<span class="pw-validation" data-validation="overdue">{}</span>', _("overdue"))
        return format_html('<span class="pw-validation" data-validation="awaiting">{}</span>', _("awaiting validation"))

    @admin.display(description=_("last error"))
    def short_error(self, obj: Signature) -> str | None:
        if not obj.last_error:
            return None
        return format_html(
            '<span title="{}" class="pw-admin-error">{}</span>', obj.last_error, Truncator(obj.last_error).chars(80)
        )

    @admin.action(description=_("Retry forwarding now (attempt count back to 0)"), permissions=["retry"])
    def retry_now(self, request, queryset):
        """Make the selected pending, held, failed and rejected signatures due now, attempts back to 0."""
        self.message_user(request, *reports.retried(lifecycle.retry_now(queryset)))

    @admin.action(description=_("Cancel forwarding"), permissions=["retry"])
    def cancel_forwarding(self, request, queryset):
        """Stop forwarding the selected pending, held or failed signatures; sent ones are never touched."""
        self.message_user(request, *reports.cancelled(lifecycle.cancel(queryset)))

    @admin.action(description=_("Mark as spam"), permissions=["retry"])
    def mark_as_spam(self, request, queryset):
        """Mark the selected signatures as spam: never forwarded again, not counted, not listed."""
        self.message_user(request, *reports.marked_as_spam(lifecycle.mark_spam(queryset)))

    @admin.action(description=_("Not spam: back to where it was (forwarding resumes)"), permissions=["retry"])
    def not_spam(self, request, queryset):
        """Take the selected spam signatures back to the state they had; those on their way are due again."""
        self.message_user(request, *reports.not_spam(lifecycle.not_spam(queryset)))

    @admin.action(description=_("Confirm on the signer's behalf…"), permissions=["retry"])
    def confirm_on_behalf(self, request, queryset):
        """Confirm the selected signatures awaiting confirmation, after a page that asks why (the reason is
        logged with the admin's id and kept in each signature's history)."""
        form = ConfirmOnBehalfForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            waiting = queryset.filter(state=ForwardingState.UNCONFIRMED, erased_at__isnull=True)
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Confirm on the signer's behalf?"),
                "form": form,
                "signatures": queryset.select_related("petition").order_by("pk"),
                "waiting": waiting.count(),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action": "confirm_on_behalf",
                "back_url": request.get_full_path(),
            }
            return TemplateResponse(
                request, "admin/petition_widget/signature/confirm_on_behalf.html", context, status=200
            )
        reason = form.cleaned_data["reason"]
        result = lifecycle.confirm_on_behalf(queryset, by=request.user.pk, reason=reason)
        for signature in Signature.objects.filter(pk__in=result.ids):
            self.log_change(request, signature, _("Confirmed on the signer's behalf: %(reason)s") % {"reason": reason})
        self.message_user(request, *reports.confirmed_on_behalf(result))

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
        self.message_user(request, *reports.confirmations_resent(sent, len(waiting) - sent, selected - len(waiting)))

    @admin.action(description=_("Erase personal data"), permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        """Erase everything personal of the selected signers (a signer's request), after a confirmation page.

        Names, e-mail, phone, address, city, region, postal code, reason and the client address hash are
        blanked and the signature is hidden; one not yet sent is cancelled, one being sent right now is left
        alone. See :func:`petition_widget.lifecycle.erase`.
        """
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Erase personal data?"),
                "signatures": queryset.select_related("petition").order_by("pk"),
                "unsent": queryset.filter(state__in=lifecycle.UNSENT_STATES).count(),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action": "erase_personal_data",
                "back_url": request.get_full_path(),
            }
            return TemplateResponse(request, "admin/petition_widget/signature/erase_confirmation.html", context)
        self.message_user(request, *reports.erased(lifecycle.erase(queryset)))

    @admin.action(description=_("Export as CSV (with contact details)"), permissions=["export"])
    def export_csv(self, request, queryset):
        """Stream the selected signatures as CSV, contact details included, safe to open in a spreadsheet."""
        return export.csv_response(request, queryset)

    def dashboard_view(self, request):
        """The forwarding dashboard (see :mod:`.dashboard`)."""
        return dashboard.dashboard_view(self, request)


def signature_heading(signature: Signature) -> str:
    """Who signed what, for the signature's page: "Ada Lovelace on Plant trees on Elm Street"."""
    who = signature.display_name or _("Signature #%(id)s (erased)") % {"id": signature.pk}
    return _("%(signer)s on %(petition)s") % {"signer": who, "petition": signature.petition.title}
