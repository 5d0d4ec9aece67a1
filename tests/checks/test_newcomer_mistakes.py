"""Each mistake a newcomer can make while following README names itself in one line.

A system check, a ``CommandError`` or, with ``DEBUG`` on, a message in the page: never a traceback, never
silence. The whole path, from ``startproject`` to a signature at the emulator, is in test_readme_quickstart.py.
"""

import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template import Context, Template

from petition_widget.checks import check_email, check_installed_apps, check_settings, check_urls
from petition_widget.forwarding.worker import Worker, WorkerOptions

ROOT = Path(__file__).resolve().parents[2]
README_PETITION = "https://www.change.org/p/plant-trees-on-elm-street"

# The URLconf of a site that forgot README's step 3 (this module serves as ROOT_URLCONF in the tests below).
urlpatterns: list = []
WITHOUT_WIDGET_URLS = __name__


def one_line(text: str) -> str:
    assert text and "\n" not in text.strip() and "Traceback" not in text, text
    return text


# -- items 2 and 3: the emulator's credentials ---------------------------------------------------------------------


def test_the_emulators_help_shows_the_default_credentials_and_port(monkeypatch):
    from petition_widget.management.commands.upstream_emulator import Command

    monkeypatch.setenv("COLUMNS", "200")
    text = Command().create_parser("manage.py", "upstream_emulator").format_help()
    for default in ("(default: 8100)", "(default: demo-api-key)", "(default: demo-secret)"):
        assert default in text


def test_the_emulator_prints_its_default_secret_but_not_one_given_on_the_command_line():
    from petition_widget.management.commands.upstream_emulator import shown_secret

    assert shown_secret("demo-secret") == "'demo-secret'"
    assert "s3" not in shown_secret("s3")


# -- item 4: the URL include ----------------------------------------------------------------------------------


def test_a_missing_urls_include_is_a_system_check_error_naming_the_include_line(settings):
    settings.ROOT_URLCONF = WITHOUT_WIDGET_URLS
    (error,) = check_urls()
    assert error.id == "petition_widget.E024"
    one_line(error.msg)
    assert 'path("", include("petition_widget.urls"))' in error.hint


def test_the_site_that_includes_the_urls_passes_the_check():
    assert check_urls() == []


def test_add_petition_before_the_urls_include_is_a_command_error_naming_the_include_line(settings, db):
    settings.ROOT_URLCONF = WITHOUT_WIDGET_URLS
    with pytest.raises(CommandError) as raised:
        call_command("add_petition", "changeorg", README_PETITION)
    message = one_line(str(raised.value))
    assert "petition_widget.urls is not included" in message
    assert 'include("petition_widget.urls")' in message


# -- item 5: the tag with a slug that matches nothing ------------------------------------------------------------


TAG = "{% load petition_widget %}<main>{% petition_form slug %}</main>"


def render_tag(rf, **context) -> str:
    return Template(TAG).render(Context({"request": rf.get("/post/"), **context}))


@pytest.mark.parametrize("slug", ["plant-twelve-new-trees-on-elm-street", None])
def test_with_debug_on_a_tag_that_finds_no_petition_says_so_in_the_page(rf, db, settings, caplog, slug):
    settings.DEBUG = True
    html = render_tag(rf, slug=slug)
    assert '<p class="pw-missing" role="alert">' in html
    assert "no petition" in html or "was given None" in html
    assert "add_petition" in html
    assert "petition_form: no petition with slug" in caplog.text


def test_with_debug_off_a_tag_that_finds_no_petition_renders_nothing_and_logs(rf, db, settings, caplog):
    settings.DEBUG = False
    assert "".join(render_tag(rf, slug="nope").split()) == "<main></main>"
    assert "no petition with slug 'nope'" in caplog.text


def test_the_missing_petition_message_is_escaped(rf, db, settings):
    settings.DEBUG = True
    html = render_tag(rf, slug="<script>x</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- item 6: We the People without its key ------------------------------------------------------------------------


def test_add_petition_wethepeople_without_its_key_is_a_command_error(settings, db):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "WETHEPEOPLE_API_KEY": ""}
    with pytest.raises(CommandError) as raised:
        call_command("add_petition", "wethepeople", "2001")
    message = one_line(str(raised.value))
    assert "WETHEPEOPLE_API_KEY" in message


# -- item 7: cron's forward_signatures --once ----------------------------------------------------------------------


def test_forward_signatures_once_with_nothing_due_says_nothing(transactional_db, settings, caplog):
    """README's cron line runs it every minute: no output, so cron has nothing to mail (a LocMemCache included)."""
    assert "LocMemCache" in settings.CACHES[settings.PETITION_WIDGET.get("RATE_LIMIT_CACHE", "default")]["BACKEND"]
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level(logging.INFO):
        call_command("forward_signatures", "--once", stdout=out, stderr=err)
    assert out.getvalue() == err.getvalue() == ""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("each worker process counts on its own" in r.getMessage() for r in caplog.records)


def test_a_looping_worker_on_a_process_local_cache_warns(transactional_db, caplog):
    worker = Worker(WorkerOptions.from_settings(once=False))
    worker.stop()
    worker.run()
    (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "each worker process counts on its own" in one_line(warning.getMessage())


# -- item 8: confirmation e-mails through an SMTP server nobody runs -------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_smtp_on_a_loopback_address_where_nothing_listens_is_a_warning(settings):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP, "localhost", closed_port()
    (warning,) = check_email()
    assert warning.id == "petition_widget.W004"
    assert "confirmation e-mails" in one_line(warning.msg)
    assert "console.EmailBackend" in warning.hint


def test_smtp_on_a_loopback_address_that_answers_passes(settings):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        settings.EMAIL_BACKEND, settings.EMAIL_HOST = SMTP, "127.0.0.1"
        settings.EMAIL_PORT = server.getsockname()[1]
        assert check_email() == []


def test_smtp_elsewhere_and_other_backends_are_not_probed(settings):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = SMTP, "mail.blog.example", 25
    assert check_email() == []
    settings.EMAIL_BACKEND, settings.EMAIL_HOST = "django.core.mail.backends.console.EmailBackend", "localhost"
    assert check_email() == []


# -- item 9: SITE_URL on plain http, django_countries left out ---------------------------------------------------------


def site_url_ids(settings, url, debug):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "SITE_URL": url}
    settings.DEBUG = debug
    return [message.id for message in check_settings()]


def test_site_url_on_plain_http_with_debug_off_is_a_warning(settings):
    settings.PETITION_WIDGET = {**settings.PETITION_WIDGET, "SITE_URL": "http://blog.example"}
    settings.DEBUG = False
    (warning,) = [m for m in check_settings() if m.id == "petition_widget.W003"]
    assert "SITE_URL" in one_line(warning.msg) and "https" in warning.hint


@pytest.mark.parametrize(
    "url, debug",
    [
        ("https://blog.example", False),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://blog.example", True),
    ],
)
def test_site_url_on_https_on_loopback_or_with_debug_on_passes(settings, url, debug):
    assert "petition_widget.W003" not in site_url_ids(settings, url, debug)


def test_django_countries_left_out_of_installed_apps_is_a_warning(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_countries"]
    (warning,) = check_installed_apps()
    assert warning.id == "petition_widget.W005"
    assert "django_countries" in one_line(warning.msg)


def test_the_suites_site_has_django_countries():
    assert check_installed_apps() == []


# -- item 10: the API's dependencies are an extra ----------------------------------------------------------------

WITHOUT_DRF = r"""
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("rest_framework", "drf_spectacular"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Refuse())

import django
from django.conf import settings
settings.configure(
    DEBUG=True, SECRET_KEY="x", ROOT_URLCONF="site_urls", ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages", "django_countries", "petition_widget"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "django.contrib.messages.middleware.MessageMiddleware"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                   "django.contrib.auth.context_processors.auth",
                                                   "django.contrib.messages.context_processors.messages"]}}],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    PETITION_WIDGET={"WETHEPEOPLE_API_KEY": "k", "SITE_URL": "http://127.0.0.1:8000"},
)
django.setup()
import petition_widget
for info in pkgutil.walk_packages(petition_widget.__path__, "petition_widget."):
    # The API and the optional integrations (Wagtail, health checks) need their own extras and apps.
    if not info.name.startswith(("petition_widget.api", "petition_widget.contrib", "petition_widget.health")):
        importlib.import_module(info.name)
from django.core.management import call_command
call_command("check", fail_level="WARNING")
assert not [m for m in sys.modules if m.split(".")[0] in ("rest_framework", "drf_spectacular")]
try:
    import petition_widget.api
except ImportError as exc:
    print("API:", exc)
"""


def test_without_the_api_extra_the_app_imports_and_checks_without_drf(tmp_path):
    (tmp_path / "site_urls.py").write_text(
        "from django.contrib import admin\nfrom django.urls import include, path\n"
        'urlpatterns = [path("admin/", admin.site.urls), path("", include("petition_widget.urls"))]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_DRF], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert 'API: The petition_widget API needs drf_spectacular: pip install "django-petition-widget[api]"' in (
        result.stdout
    )
