from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .conf import app_settings
from .exceptions import PetitionWidgetError
from .forwarding.outbox import resume_petitions
from .models import ApiKey, ForwardAttempt, ForwardingState, Petition, Provider, Signature, recount_signatures
from .petitions import add_petition, request_auth_key, sync_petition


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
)


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


@admin.register(Petition)
class PetitionAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "provider",
        "upstream_id",
        "slug",
        "status",
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
        (None, {"fields": ("provider", "upstream_id", "slug", "accepts_signatures")}),
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
        if obj.forwarding_paused_at is None:
            return _("running")
        return _("paused: %(reason)s") % {"reason": obj.forwarding_paused_reason}

    @admin.display(description=_("signatures by forwarding state"))
    def signatures_by_state(self, obj: Petition) -> str:
        if obj.pk is None:
            return "-"
        counts = dict(
            obj.signatures.order_by().values_list("state").annotate(n=models.Count("pk")).values_list("state", "n")
        )
        labels = dict(ForwardingState.choices)
        return (
            ", ".join(f"{labels[state]} {counts[state]}" for state in ForwardingState.values if state in counts) or "-"
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

    A counter only moves by itself when a signature is inserted; hiding, cancelling or deleting one here
    recounts the petitions concerned (one UPDATE each).
    """

    def save_model(self, request, obj, form, change):
        before = type(obj).objects.filter(pk=obj.pk).values_list("petition_id", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        recount_signatures({obj.petition_id, before} - {None})

    def delete_model(self, request, obj):
        petition_id = obj.petition_id
        super().delete_model(request, obj)
        recount_signatures([petition_id])

    def delete_queryset(self, request, queryset):
        petition_ids = set(queryset.values_list("petition_id", flat=True))
        super().delete_queryset(request, queryset)
        recount_signatures(petition_ids)

    def response_action(self, request, queryset):
        if request.POST.get("select_across") == "1":
            affected = queryset
        else:
            affected = queryset.filter(pk__in=request.POST.getlist(ACTION_CHECKBOX_NAME))
        petition_ids = set(affected.values_list("petition_id", flat=True))
        response = super().response_action(request, queryset)
        recount_signatures(petition_ids)
        return response


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


RETRIABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED, ForwardingState.REJECTED)
CANCELLABLE_STATES = (ForwardingState.PENDING, ForwardingState.HELD, ForwardingState.FAILED)


@admin.register(Signature)
class SignatureAdmin(RecountSignaturesMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "petition",
        "display_name",
        "country_code",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "forwarded_at",
    )
    list_filter = ("state", "petition", "country_code", "hidden")
    list_select_related = ("petition",)
    search_fields = ("first_name", "last_name", "email_normalized", "city")
    date_hierarchy = "created_at"
    readonly_fields = ("email_normalized", "created_at", *FORWARDING_FIELDS)
    inlines = (ForwardAttemptInline,)
    actions = ("retry_now", "cancel_forwarding")
    fieldsets = (
        (None, {"fields": ("petition", "first_name", "last_name", "email", "email_normalized", "hidden", "signup")}),
        (_("Address"), {"fields": ("address", "city", "state_province", "postal_code", "country_code", "phone")}),
        (_("Reason"), {"fields": ("reason",)}),
        (_("Forwarding"), {"fields": ("created_at", *FORWARDING_FIELDS)}),
    )

    @admin.display(description=_("name"), ordering="last_name")
    def display_name(self, obj: Signature) -> str:
        return obj.display_name

    @admin.action(description=_("Retry forwarding now (attempt count back to 0)"), permissions=["change"])
    def retry_now(self, request, queryset):
        """Make the selected signatures due now, with the full retry budget again.

        Pending, held, failed and rejected ones go back to pending with ``next_attempt_at`` = now and
        ``attempts`` = 0. Sent, cancelled and in-flight (sending) ones are left alone.
        """
        selected = queryset.count()
        eligible = queryset.filter(state__in=RETRIABLE_STATES)
        paused = eligible.filter(petition__forwarding_paused_at__isnull=False).count()
        updated = eligible.update(state=ForwardingState.PENDING, attempts=0, next_attempt_at=timezone.now())
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
                    "%(count)d was left alone (sent, being sent or cancelled).",
                    "%(count)d were left alone (sent, being sent or cancelled).",
                    selected - updated,
                )
                % {"count": selected - updated}
            )
        self.message_user(
            request, "".join(str(part) for part in parts), messages.SUCCESS if updated else messages.WARNING
        )

    @admin.action(description=_("Cancel forwarding"), permissions=["change"])
    def cancel_forwarding(self, request, queryset):
        """Stop forwarding the selected pending, held or failed signatures; sent ones are never touched."""
        selected = queryset.count()
        cancelled = queryset.filter(state__in=CANCELLABLE_STATES).update(
            state=ForwardingState.CANCELLED, next_attempt_at=None
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


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys for the public API. A key is shown once, right after it is created; only its hash is stored."""

    list_display = ("name", "prefix", "active", "created_at", "last_used_at")
    list_filter = ("active",)
    search_fields = ("name", "prefix")
    fields = ("name", "allowed_origins", "active", "prefix", "created_at", "last_used_at")
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
