"""README's "Using it in your project", followed literally from ``django-admin startproject``.

The settings, URL, WSGI and template lines and the commands are read from README's own code blocks, so README
cannot drift from what works. Only the ports change (the test takes free ones for the site and the emulator),
and the test adds what README leaves to the reader: a page of its own that holds README's template lines, a
superuser (README: ``createsuperuser``) and the wait that the form's bot check asks of a human
(``SIGN_MIN_SECONDS``, 3 seconds by default; README's settings keep the default).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from petition_widget.conf import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Using it in your project") : README.index("### In production")]
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", SECTION, re.S | re.M)
BIN = Path(sys.executable).parent
README_SITE, README_EMULATOR = "127.0.0.1:8000", "127.0.0.1:8100"
TIMEOUT = 120


def block(language: str, first_line: str) -> str:
    """README's code block in ``language`` whose first line starts with ``first_line``."""
    found = [code for lang, code in BLOCKS if lang == language and code.startswith(first_line)]
    assert len(found) == 1, f"README has {len(found)} {language} blocks starting with {first_line!r}"
    return found[0]


def commands(first_command: str) -> list[tuple[list[str], list[str]]]:
    """The ``$ python manage.py …`` commands of README's console block starting with ``first_command``, each
    with the output lines README shows for it."""
    steps: list[tuple[list[str], list[str]]] = []
    for line in block("console", f"$ python manage.py {first_command}").splitlines():
        if line.startswith("$ python manage.py "):
            steps.append((line.removeprefix("$ python manage.py ").split(), []))
        elif line.strip():
            steps[-1][1].append(line)
    return steps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Form(HTMLParser):
    """The first ``<form>`` of a page: its action and the inputs and selects it holds."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, dict[str, str]] = {}
        self._inside = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self._inside = attributes.get("action", ""), True
        elif self._inside and tag in ("input", "select", "textarea") and "name" in attributes:
            self.fields[attributes["name"]] = {"tag": tag, **attributes}

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


class Project:
    """A project made by ``django-admin startproject`` in a directory, run with this interpreter."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
        self.env["PYTHONUNBUFFERED"] = "1"
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.directory,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def append(self, name: str, text: str) -> None:
        path = self.directory / "mysite" / name
        path.write_text(path.read_text() + "\n" + text)


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def fill(form: Form, signer: dict[str, str]) -> dict[str, str]:
    """What a person sends: the hidden inputs as rendered, the signer's entries, the honeypot left empty."""
    data = {name: field.get("value", "") for name, field in form.fields.items() if field.get("type") == "hidden"}
    for name, value in signer.items():
        assert name in form.fields, f"the form has no field {name!r}: {sorted(form.fields)}"
        data[name] = value
    return data


@pytest.fixture
def project(tmp_path):
    result = subprocess.run(
        [str(BIN / "django-admin"), "startproject", "mysite", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    project = Project(tmp_path)
    yield project
    project.stop()


def test_readme_takes_a_new_project_to_a_signature_at_the_emulator_and_in_the_admin(project):
    site, emulator = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"

    # Steps 2 and 3: README's lines, appended to startproject's files.
    settings = block("python", "# settings.py").replace(README_SITE, site).replace(README_EMULATOR, emulator)
    project.append("settings.py", settings)
    project.append("urls.py", block("python", "# urls.py"))
    project.append("wsgi.py", block("python", "# wsgi.py"))
    readme = {}
    exec(block("python", "# settings.py"), {"INSTALLED_APPS": []}, readme)
    credentials = readme["PETITION_WIDGET"]

    # Step 4: the emulator, as README starts it (on a free port), prints the credentials README gives.
    ((emulator_args, _),) = commands("upstream_emulator")
    upstream = project.start(*emulator_args, "--port", emulator.rsplit(":", 1)[1])
    started = upstream.stdout.readline()
    assert f"API key {credentials['CHANGEORG_API_KEY']!r}, secret {credentials['CHANGEORG_SECRET']!r}" in started
    assert f"Change.org http://{emulator}/changeorg/v1" in started
    assert f"We the People http://{emulator}/wethepeople/v1" in started
    signatures_url = re.search(r"http://\S+/_emulator/signatures", started).group(0)
    assert requests.get(signatures_url, timeout=10).json() == {"count": 0, "signatures": []}

    checked = project.manage("check", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout

    slug = None
    for args, printed in commands("migrate"):
        result = project.manage(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        if args[0] == "add_petition":
            assert result.stdout.splitlines() == printed, "README shows what add_petition prints"
            assert result.stderr == ""
            slug = printed[0].strip("/").rsplit("/", 1)[1]

    # Step 5: README's template lines in a page of the site (a view that renders it with render()).
    (project.directory / "templates").mkdir()
    (project.directory / "templates" / "page.html").write_text(
        "<!doctype html><html><body><h1>My blog</h1>\n"
        + block("django", "{% load petition_widget %}")
        + "</body></html>"
    )
    assert f'{{% petition_form "{slug}" %}}' in block("django", "{% load petition_widget %}")
    project.append("settings.py", 'TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]\n')
    project.append(
        "urls.py",
        "from django.shortcuts import render\n\n"
        'urlpatterns += [path("blog/", lambda request: render(request, "page.html"))]\n',
    )
    web = project.start("runserver", site, "--noreload")
    wait_for(f"http://{site}/blog/", web)

    # A visitor signs through the HTTP form: GET, then POST with the CSRF cookie and the form's token.
    browser = requests.Session()
    page = browser.get(f"http://{site}/blog/", timeout=30)
    assert page.status_code == 200 and "My blog" in page.text
    form = Form(page.text)
    assert form.action == f"/petitions/{slug}/"
    signer = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@blog-reader.example",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country_code": "GB",
    }
    time.sleep(DEFAULTS["SIGN_MIN_SECONDS"] + 0.5)  # a person takes longer than the bot check's minimum
    answer = browser.post(urljoin(page.url, form.action), data=fill(form, signer), timeout=30)
    assert answer.status_code == 200 and answer.url.startswith(f"http://{site}/blog/?petition_signed={slug}")
    assert "Thank you for signing!" in answer.text

    # The worker, as README runs it, forwards the signature; the emulator has it.
    ((forward_args, _),) = commands("forward_signatures")
    forwarded = project.manage(*forward_args)
    assert forwarded.returncode == 0 and forwarded.stderr == "", forwarded.stdout + forwarded.stderr
    assert "sent 1" in forwarded.stdout
    received = requests.get(signatures_url, timeout=10).json()["signatures"]
    assert [(s["provider"], s["fields"]["email"], s["fields"]["last_name"]) for s in received] == [
        ("changeorg", signer["email"], signer["last_name"])
    ]

    # And the admin lists it as sent.
    password = "readme-test-password"
    created = project.manage(
        "createsuperuser",
        "--noinput",
        env={
            "DJANGO_SUPERUSER_USERNAME": "admin",
            "DJANGO_SUPERUSER_EMAIL": "admin@blog.example",
            "DJANGO_SUPERUSER_PASSWORD": password,
        },
    )
    assert created.returncode == 0, created.stderr
    admin = requests.Session()
    login = admin.get(f"http://{site}/admin/login/", timeout=30)
    token = Form(login.text).fields["csrfmiddlewaretoken"]["value"]
    admin.post(
        login.url,
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": password, "next": "/admin/"},
        timeout=30,
    )
    listing = admin.get(f"http://{site}/admin/petition_widget/signature/", timeout=30)
    assert listing.status_code == 200 and "Ada" in listing.text
    assert "1 signature" in listing.text
