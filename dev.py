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
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DEMO_DIR = ROOT / ".demo"
# The emulator's credentials in the demo (its own defaults, passed explicitly to both sides).
DEMO_API_KEY = "demo-api-key"
DEMO_SECRET = "demo-secret"
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


def apt_install(package: str, label: str) -> bool:
    """Install a distribution package when running as root with apt-get; False when that is not possible."""
    if not (shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0):
        return False
    print(f"Installing {label} from the distribution's packages ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False)
    return True


def ensure_chromium(env: dict) -> None:
    """Point the browser tests at a Chromium: the system's, or one installed now."""
    path = find_chromium()
    if path is None and apt_install("chromium", "Chromium"):
        path = find_chromium()
    if path is None:
        print("Installing Playwright's Chromium ...", flush=True)
        run(PYTHON, "-m", "playwright", "install", "chromium")
        return  # Playwright finds its own browser
    env["PETITION_WIDGET_CHROMIUM"] = path


def ensure_gettext() -> None:
    """GNU gettext's xgettext, which tests/test_i18n.py runs (through makemessages) to check the catalogs."""
    if shutil.which("xgettext") is None and not apt_install("gettext", "GNU gettext"):
        print("xgettext is missing: tests/test_i18n.py needs GNU gettext (apt-get install gettext).", flush=True)


def wait_for(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args[2]} stopped before it was ready.")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {seconds} seconds.")


def redis_answers(port: int = 6379) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> None:
    """The shared rate limit is tested on Redis: start a local one when none answers (installing it if need be)."""
    if redis_answers():
        return
    if not shutil.which("redis-server"):
        apt_install("redis-server", "Redis")
    if not shutil.which("redis-server"):
        sys.exit("The tests need Redis on 127.0.0.1:6379: install redis-server, or set REDIS_URL.")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    for _ in range(50):
        if redis_answers():
            return
        time.sleep(0.2)
    sys.exit("Redis was started but does not answer on 127.0.0.1:6379.")


def demo(args: list[str]) -> None:
    """The example blog on PORT (default 8000), the upstream emulator on PORT+1, and a forwarding worker."""
    ensure_venv("example")
    DEMO_DIR.mkdir(exist_ok=True)
    secret_file = DEMO_DIR / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(50))
    port = int(args[0]) if args else 8000
    emulator = f"http://127.0.0.1:{port + 1}"
    env = {
        **os.environ,
        "DEBUG": "1",
        "SECRET_KEY": secret_file.read_text(),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "CHANGEORG_API_URL": f"{emulator}/changeorg/v1",
        "WETHEPEOPLE_API_URL": f"{emulator}/wethepeople/v1",
        "CHANGEORG_API_KEY": DEMO_API_KEY,
        "CHANGEORG_SECRET": DEMO_SECRET,
        "WETHEPEOPLE_API_KEY": DEMO_API_KEY,
    }
    manage = [str(PYTHON), "manage.py"]
    run(*manage, "migrate", "--noinput", env=env)
    # WhiteNoise serves the static files (the embed script too) from STATIC_ROOT, DEBUG on or off.
    run(*manage, "collectstatic", "--noinput", "--verbosity", "0", env=env)
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    *manage,
                    "upstream_emulator",
                    "--port",
                    str(port + 1),
                    "--api-key",
                    DEMO_API_KEY,
                    "--secret",
                    DEMO_SECRET,
                ],
                cwd=ROOT,
                env=env,
            )
        )
        wait_for(f"{emulator}/_emulator/stats", processes[-1])
        password = secrets.token_urlsafe(9)
        run(*manage, "seed_demo", "--admin-password", password, env=env)
        processes.append(subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env))
        wait_for(f"http://127.0.0.1:{port}/", processes[-1])
        # The worker relays each new signature to the emulator within a second or so.
        processes.append(
            subprocess.Popen(
                [*manage, "forward_signatures", "--poll-interval", "1", "--worker-id", "demo-worker"],
                cwd=ROOT,
                env=env,
            )
        )
        print(
            f"\n  Blog post with the form:  http://127.0.0.1:{port}/posts/bring-back-the-trees/\n"
            f"  Admin:                    http://127.0.0.1:{port}/admin/  user admin, password {password}"
            " (new each start)\n"
            f"  Upstream emulator:        {emulator}/_emulator/signatures  (what it received)\n"
            "  Forwarding worker:        running; each signature shows as sent in the admin within seconds, and the\n"
            "                            form's count follows the emulator's (a sync every SYNC_INTERVAL, 30 s)\n"
            "  Stop with Ctrl-C.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        sys.exit("A demo process stopped; stopping the others.")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def test(args: list[str]) -> None:
    ensure_venv("test")
    env = dict(os.environ)
    ensure_chromium(env)
    ensure_gettext()
    if "REDIS_URL" not in env:
        ensure_redis()
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
