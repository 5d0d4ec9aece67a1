"""System checks for the ``PETITION_WIDGET`` setting (ids ``petition_widget.E001``…)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from .conf import SETTING_NAME, app_settings

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
URL_KEYS = ("CHANGEORG_API_URL", "WETHEPEOPLE_API_URL")


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@register()
def check_settings(app_configs=None, **kwargs) -> list:
    try:
        unknown = app_settings.unknown_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="petition_widget.E001")]
    if unknown:
        return [
            Error(
                f"Unknown key(s) in {SETTING_NAME}: {', '.join(unknown)}.",
                hint="Check the spelling; README.md lists every setting.",
                id="petition_widget.E002",
            )
        ]

    errors: list = []
    for key in URL_KEYS:
        url = getattr(app_settings, key)
        if not _is_http_url(url):
            errors.append(
                Error(f"{SETTING_NAME}['{key}'] must be an http(s) URL, not {url!r}.", id="petition_widget.E003")
            )
        elif urlsplit(url).scheme == "http" and urlsplit(url).hostname not in LOOPBACK_HOSTS and not settings.DEBUG:
            errors.append(
                Error(
                    f"{SETTING_NAME}['{key}'] uses plain http with DEBUG off; API keys would cross the network "
                    "in clear.",
                    hint="Use https, or a loopback address for a local emulator.",
                    id="petition_widget.E004",
                )
            )

    has_key = bool(app_settings.CHANGEORG_API_KEY)
    has_secret = bool(app_settings.CHANGEORG_SECRET)
    if has_key != has_secret:
        errors.append(
            Error(
                "Change.org needs both CHANGEORG_API_KEY and CHANGEORG_SECRET; only "
                f"{'the API key' if has_key else 'the secret'} is set.",
                id="petition_widget.E005",
            )
        )
    if not (has_key or has_secret or app_settings.WETHEPEOPLE_API_KEY):
        errors.append(
            Warning(
                "No upstream credentials are set: signatures will be stored but never forwarded.",
                hint=f"Set CHANGEORG_API_KEY and CHANGEORG_SECRET, or WETHEPEOPLE_API_KEY, in {SETTING_NAME}.",
                id="petition_widget.W001",
            )
        )

    site_url = app_settings.SITE_URL
    if site_url and not _is_http_url(site_url):
        errors.append(
            Error(
                f"{SETTING_NAME}['SITE_URL'] must be an absolute http(s) URL, not {site_url!r}.",
                id="petition_widget.E006",
            )
        )
    elif has_key and not site_url:
        errors.append(
            Error(
                f"{SETTING_NAME}['SITE_URL'] is required with Change.org credentials: it is the `source` of the "
                "petition authorization keys.",
                hint="Set it to the public base URL of the site, e.g. https://blog.example.",
                id="petition_widget.E006",
            )
        )

    max_bytes = app_settings.MAX_REQUEST_BYTES
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1024:
        errors.append(
            Error(
                f"{SETTING_NAME}['MAX_REQUEST_BYTES'] must be an integer of at least 1024, not {max_bytes!r}.",
                id="petition_widget.E007",
            )
        )

    base_template = app_settings.BASE_TEMPLATE
    try:
        get_template(base_template)
    except (TemplateDoesNotExist, TypeError):
        errors.append(
            Error(f"{SETTING_NAME}['BASE_TEMPLATE'] {base_template!r} cannot be found.", id="petition_widget.E008")
        )
    return errors
