"""The API keys' admin: a key is generated on creation and shown once; only its hash is stored."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ..api_keys import ApiKey
from .privacy import PrivateFieldsGuard


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
