#!/usr/bin/env python3
"""The two commands a newcomer needs; each makes its own virtual environment in .venv.

    python3 dev.py demo     start the example site with its admin, demo petition seeded
    python3 dev.py test     run the whole test suite (pass extra pytest arguments after it)
    python3 dev.py install  only create .venv and install the project with its test tools

Only Python 3.11+ is needed. `test` also needs a Chromium for the browser tests: it uses
$PETITION_WIDGET_CHROMIUM or the one on PATH, and installs one when there is none.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DEMO_DIR = ROOT / ".demo"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args: str | Path, env: dict | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project with `extras`, again only when setup.cfg changed."""
    if sys.version_info < (3, 11):  # noqa: UP036  (the newcomer may run an older python3)
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # ensurepip missing on some distributions
            sys.exit(f"Could not create a virtual environment ({exc}). On Debian/Ubuntu: apt install python3-venv")
    stamp = VENV / f".installed-{extras}"
    digest = hashlib.sha256((ROOT / "setup.cfg").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing the project and its [{extras}] dependencies ...", flush=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    stamp.write_text(digest)


def find_chromium() -> str | None:
    candidates = [
        os.environ.get("PETITION_WIDGET_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ]
    return next((c for c in candidates if c and Path(c).exists()), None)


def ensure_chromium(env: dict) -> None:
    """Point the browser tests at a Chromium: the system's, or one installed now."""
    path = find_chromium()
    if path is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("Installing Chromium from the distribution's packages ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False)
        path = find_chromium()
    if path is None:
        print("Installing Playwright's Chromium ...", flush=True)
        run(PYTHON, "-m", "playwright", "install", "chromium")
        return  # Playwright finds its own browser
    env["PETITION_WIDGET_CHROMIUM"] = path


def demo(args: list[str]) -> None:
    ensure_venv("example")
    DEMO_DIR.mkdir(exist_ok=True)
    secret_file = DEMO_DIR / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(50))
    port = args[0] if args else "8000"
    env = {
        **os.environ,
        "DEBUG": "1",
        "SECRET_KEY": secret_file.read_text(),
        "SITE_URL": os.environ.get("SITE_URL", f"http://127.0.0.1:{port}"),
    }
    password = secrets.token_urlsafe(9)
    run(PYTHON, "manage.py", "migrate", "--noinput", env=env)
    run(PYTHON, "manage.py", "seed_demo", "--admin-password", password, env=env)
    print(
        f"\n  Blog post with the form: http://127.0.0.1:{port}/posts/bring-back-the-trees/\n"
        f"  Admin: http://127.0.0.1:{port}/admin/  user: admin  password (new each start): {password}\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        run(PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", env=env)
    except KeyboardInterrupt:
        pass


def test(args: list[str]) -> None:
    ensure_venv("test")
    env = dict(os.environ)
    ensure_chromium(env)
    result = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)
    sys.exit(result.returncode)


def install(args: list[str]) -> None:
    ensure_venv("test")


def main() -> None:
    commands = {"demo": demo, "test": test, "install": install}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
