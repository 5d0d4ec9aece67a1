"""The petitions' admin: the list with signatures per forwarding state, adding a petition from its platform,
syncing, requesting a Change.org authorization key and resuming paused forwarding.

A petition's page shows, above its fields, the public and the upstream counts side by side with the last sync,
why forwarding is paused and what to do about it, and its charts (:mod:`.charts`); below them, a preview of
its signing form as the ``{% petition_form %}`` tag renders it (inert: nothing in it can be used).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..exceptions import PetitionWidgetError
from ..lifecycle import resume_petitions
from ..models import ForwardAttempt, ForwardingState, Petition, Provider, Signature
from ..petitions import add_petition, request_auth_key, sync_petition
from ..views import widget_context
from . import charts
from .display import signatures_url, state_badge
from .embed_code import embed_code
from .privacy import PrivateFieldsGuard


class AddFromUpstreamForm(forms.Form):
    provider = forms.ChoiceField(label=_("Platform"), choices=Provider.choices)
    url_or_id = forms.CharField(label=_("Petition URL or id"), max_length=500)
    slug = forms.SlugField(
        label=_("Slug"),
        required=False,
        max_length=100,
        help_text=_("The form page's address; taken from the title when left empty."),
    )


# What to do when forwarding is paused, by platform (the pause's reason says what the platform answered).
RESUME_HELP = {
    Provider.CHANGEORG: _(
        "Check CHANGEORG_API_KEY and CHANGEORG_SECRET in the settings; if the petition's authorization key was "
        "revoked, select the petition in the list and run “Request a new authorization key”. Then run “Resume "
        "forwarding”: the held signatures are sent at the workers' next pass."
    ),
    Provider.WETHEPEOPLE: _(
        "Check WETHEPEOPLE_API_KEY in the settings. Then select the petition in the list and run “Resume "
        "forwarding”: the held signatures are sent at the workers' next pass."
    ),
}


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
    # Seven columns fit a laptop's 1280 px beside the filters; the upstream id and the slug are on the page
    # (and searchable), the pause's reason in the forwarding column's tooltip.
    list_display = (
        "title",
        "provider",
        "status",
        "signatures_per_state",
        "signature_count",
        "form_open",
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
        # Dates from the platform, overwritten at each sync.
        "upstream_created_at",
        "end_at",
        "embed_code",
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
        (_("Embed on other sites"), {"fields": ("embed_origins", "embed_code")}),
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

    class Media:
        css = {"all": ("petition_widget/admin.css",)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The petition's fields, with its counts, its pause, its charts and its form's preview."""
        petition = self.get_object(request, admin.utils.unquote(object_id))
        if petition is not None:
            extra_context = {**(extra_context or {}), **self.overview_context(request, petition)}
        return super().change_view(request, object_id, form_url, extra_context)

    def overview_context(self, request, petition: Petition) -> dict:
        """What the petition's page shows above and below its fields."""
        preview = widget_context(request, petition)
        preview["next_url"] = ""
        return {
            "petition_charts": [
                charts.signatures_per_day(Signature.objects.filter(petition=petition), chart_id="pw-chart-daily"),
                charts.outcomes_per_hour(
                    ForwardAttempt.objects.filter(signature__petition=petition), chart_id="pw-chart-hourly"
                ),
            ],
            "form_preview": render_to_string("petition_widget/widget.html", preview, request=request),
            "signatures_url": signatures_url(petition__id__exact=petition.pk),
            "resume_help": RESUME_HELP.get(petition.provider, RESUME_HELP[Provider.WETHEPEOPLE]),
        }

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

    @admin.display(description=_("form open"), boolean=True, ordering="accepts_signatures")
    def form_open(self, obj: Petition) -> bool:
        return obj.accepts_signatures

    @admin.display(description=_("embed code"))
    def embed_code(self, obj: Petition) -> str:
        return embed_code(obj) if obj.pk else "-"

    @admin.display(description=_("forwarding"), ordering="forwarding_paused_at")
    def forwarding(self, obj: Petition) -> str:
        if not obj.forwarding_paused:
            return _("running")
        return format_html(
            '<span class="pw-admin-paused" title="{}">{}</span>',
            _("paused: %(reason)s") % {"reason": obj.forwarding_paused_reason},
            _("paused"),
        )

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
