from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Petition, Signature

FORWARDING_FIELDS = (
    "state",
    "attempts",
    "next_attempt_at",
    "lease_expires_at",
    "leased_by",
    "forwarded_at",
    "last_error",
)


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
        "synced_at",
    )
    list_filter = ("provider", "accepts_signatures", "status")
    search_fields = ("title", "upstream_id", "slug")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("raw", "synced_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("provider", "upstream_id", "slug", "accepts_signatures")}),
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


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    list_display = ("id", "petition", "display_name", "country_code", "state", "attempts", "created_at", "forwarded_at")
    list_filter = ("state", "petition", "country_code", "hidden")
    list_select_related = ("petition",)
    search_fields = ("first_name", "last_name", "email_normalized", "city")
    date_hierarchy = "created_at"
    readonly_fields = ("email_normalized", "created_at", *FORWARDING_FIELDS)
    fieldsets = (
        (None, {"fields": ("petition", "first_name", "last_name", "email", "email_normalized", "hidden", "signup")}),
        (_("Address"), {"fields": ("address", "city", "state_province", "postal_code", "country_code", "phone")}),
        (_("Reason"), {"fields": ("reason",)}),
        (_("Forwarding"), {"fields": ("created_at", *FORWARDING_FIELDS)}),
    )

    @admin.display(description=_("name"), ordering="last_name")
    def display_name(self, obj: Signature) -> str:
        return obj.display_name
