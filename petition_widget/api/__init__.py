"""The public REST API: Change.org-shaped signatures and petitions of the locally stored petitions.

It needs Django REST framework and drf-spectacular, the ``api`` extra: ``pip install
"django-petition-widget[api]"``. Nothing outside this package imports them, so a site that does not include
``petition_widget.api.urls`` runs without them.
"""

try:
    import drf_spectacular  # noqa: F401
    import rest_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        f'The petition_widget API needs {exc.name}: pip install "django-petition-widget[api]" '
        '(and add "rest_framework" to INSTALLED_APPS).'
    ) from exc
