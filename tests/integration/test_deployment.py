"""docs/deployment.md's production stack, started as it says: each process on its own, from the doc's own lines.

The settings block and the ``ExecStart`` commands of the systemd units are read from docs/deployment.md, so
the doc cannot drift from what runs. The test changes only what a machine of its own needs: the paths
(``/srv/petitions/.venv/bin/`` is this interpreter's directory), gunicorn's port (a free one), and the
environment file (the test's database, Redis at ``REDIS_URL``, the emulator's URLs and credentials).
gunicorn serves the signing form, ``db_worker`` runs the wake-up task, a ``forward_signatures`` worker
sweeps; the upstream is the test's emulator.

1. No forwarder running: a signature posted to gunicorn reaches the upstream through the task worker.
2. The task worker stopped, a forwarder started: the next one reaches it through the forwarder's sweep.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from petition_widget.models import ForwardAttempt, ForwardingState, Signature
from tests.forwarding_support import CHANGEORG_ID, REPO, forwarding_settings, wait_until, worker_env
from tests.integration.test_readme_quickstart import Form, free_port

DOC = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", DOC, re.S | re.M)
DOC_BIN = "/srv/petitions/.venv/bin/"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
TIMEOUT = 60  # a guard against hanging, not a measure

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def settings_block() -> str:
    found = [code for lang, code in BLOCKS if lang == "python" and code.startswith("DATABASES = ")]
    assert len(found) == 1, "docs/deployment.md has no single settings block starting with DATABASES ="
    return found[0]


def exec_start(unit: str) -> list[str]:
    """The ``ExecStart`` command of the unit file ``unit`` in the doc, with this machine's paths."""
    found = [code for lang, code in BLOCKS if lang == "ini" and code.startswith(f"# /etc/systemd/system/{unit}")]
    assert len(found) == 1, f"docs/deployment.md has no single unit {unit}"
    line = next(x for x in found[0].splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0].startswith(DOC_BIN), words[0]
    program = words[0].removeprefix(DOC_BIN)
    head = [sys.executable] if program == "python" else [str(Path(sys.executable).parent / program)]
    return head + [str(REPO / w) if w == "manage.py" else w for w in words[1:]]


@pytest.fixture
def stack(upstream, tmp_path):
    """Starts the doc's processes on demand (``stack.start(unit, **replace)``); stops them all at the end."""
    (tmp_path / "deploy_settings.py").write_text(
        "import environ\n"
        "from tests.worker_settings import *  # noqa: F403\n"
        "from tests.worker_settings import INSTALLED_APPS, PETITION_WIDGET\n"
        "env = environ.Env()\n" + settings_block()
    )
    env = {
        **worker_env(forwarding_settings(upstream)),
        "DJANGO_SETTINGS_MODULE": "deploy_settings",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}",
        "CACHE_URL": REDIS_URL,
    }
    processes: dict[str, subprocess.Popen] = {}

    class Stack:
        env_vars = env

        def start(self, unit: str, *, replace: dict[str, str] | None = None) -> subprocess.Popen:
            command = exec_start(unit)
            for old, new in (replace or {}).items():
                command = [w.replace(old, new) for w in command]
            log = open(tmp_path / f"{unit}.log", "ab")  # noqa: SIM115  (closed when the test ends)
            processes[unit] = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            processes[unit].log_file = log  # type: ignore[attr-defined]
            return processes[unit]

        def stop(self, unit: str) -> None:
            process = processes.pop(unit)
            process.terminate()
            process.wait(timeout=TIMEOUT)
            process.log_file.close()  # type: ignore[attr-defined]

        def logs(self) -> str:
            return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in tmp_path.glob("*.log"))

    # The doc's "manage.py migrate once per release": here it adds the task backend's table to the test database.
    subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "migrate", "--no-input", "-v0"], cwd=REPO, env=env, check=True
    )
    yield Stack()
    for unit in list(processes):
        Stack().stop(unit)


def sign(site: str, slug: str, email: str) -> None:
    """GET the form page from gunicorn, POST it back filled in, as a browser does."""
    session = requests.Session()
    page = session.get(f"{site}/petitions/{slug}/", timeout=30)
    assert page.status_code == 200
    form = Form(page.text)
    data = {name: field.get("value", "") for name, field in form.fields.items() if field["tag"] == "input"}
    data.update(
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": email,
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
            "address": "12 Downing Street",
        }
    )
    answer = session.post(
        f"{site}/petitions/{slug}/", data=data, headers={"Origin": site}, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 303, answer.text[-2000:]


def test_the_documented_stack_forwards_through_the_task_worker_and_through_the_sweep(stack, upstream, changeorg):
    port = free_port()
    gunicorn = stack.start("petitions-web.service", replace={"127.0.0.1:8000": f"127.0.0.1:{port}"})
    site = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert gunicorn.poll() is None, stack.logs()
        try:
            return requests.get(f"{site}/petitions/{changeorg.slug}/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, timeout=TIMEOUT, what="gunicorn answering")

    # 1. The wake-up through the task worker; no forwarder runs.
    stack.start("petitions-tasks.service")
    sign(site, changeorg.slug, "ada@example.com")
    first = Signature.objects.get(email="ada@example.com")
    wait_until(
        lambda: Signature.objects.get(pk=first.pk).state == ForwardingState.SENT,
        timeout=TIMEOUT,
        what="the signature sent through the task worker\n" + stack.logs(),
    )
    assert ForwardAttempt.objects.get(signature=first).worker.startswith("task-")

    # 2. The task worker down: a forwarder's sweep sends the next one.
    stack.stop("petitions-tasks.service")
    stack.start("petitions-forward@.service", replace={"%H-%i": "deploy-1"})
    sign(site, changeorg.slug, "grace@example.com")
    second = Signature.objects.get(email="grace@example.com")
    wait_until(
        lambda: Signature.objects.get(pk=second.pk).state == ForwardingState.SENT,
        timeout=TIMEOUT,
        what="the signature sent by the forwarder\n" + stack.logs(),
    )
    assert ForwardAttempt.objects.get(signature=second).worker == "deploy-1"
    received = upstream.received(CHANGEORG_ID)
    assert sorted(s["fields"]["email"] for s in received) == ["ada@example.com", "grace@example.com"]
