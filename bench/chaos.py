#!/usr/bin/env python3
"""Chaos: signatures posted through the sign endpoint while the upstream misbehaves and a worker dies.

    .venv/bin/python bench/chaos.py [--signatures 10000] [--outage 20] [--error-rate 0.3]
                                    [--timeout-rate 0.1] [--database-url URL] [--concurrency 8]

Starts, each in its own process: the upstream emulator (answers held back 2 s count as timeouts; the
workers give up after 1 s), the example site under gunicorn on a fresh database (a temporary SQLite file,
or --database-url, e.g. a scratch PostgreSQL database, which is migrated), and two forwarding workers.
Then it posts the signatures through the sign endpoint with CSRF token and cookie, as browsers do, and
meanwhile: at 30% SIGKILLs one worker and starts another in its place, and at 50% takes the emulator down
for --outage seconds. Once every local row has reached a final state it prints the counts: local rows
per state, what the emulator accepted, duplicates it refused, and any signature missing or extra on
either side. Exit status 0 only if the emulator holds exactly one accepted signature per local row and
every row is sent. tests/forwarding/test_forwarding_chaos.py runs the same scenario with 1,000 signatures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)

from bench.support import HOST, Processes, emulator_env, free_port, start_emulator, wait_http  # noqa: E402
from petition_widget.emulator.client import EmulatorClient  # noqa: E402

PETITION_ID = "1001"  # the emulator's seeded, open Change.org petition
SLUG = "chaos-trees"
FINAL = {"sent", "rejected", "failed", "cancelled"}

# The workers' settings: fast retries and a short lease, so that a few minutes hold the whole story.
WORKER_SETTINGS = {
    "HTTP_TIMEOUT": 1.0,
    "LEASE_SECONDS": 6.0,
    "BACKOFF_BASE_SECONDS": 0.2,
    "BACKOFF_MAX_SECONDS": 2.0,
    "MAX_ATTEMPTS": 50,
    "POLL_INTERVAL": 0.5,
    "RATE_LIMITS": {"changeorg": 0, "wethepeople": 0},
}
SIGNER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "city": "London",
    "postal_code": "SW1A 2AA",
    "country_code": "GB",
}


# --- the parts the test shares --------------------------------------------------------------------


class Signer:
    """Posts the sign form like a browser: the CSRF cookie and token, and the form token, from one GET of the
    form page, with the honeypot left empty."""

    def __init__(self, site_url: str, slug: str) -> None:
        self.url = f"{site_url.rstrip('/')}/petitions/{slug}/"
        self.session = requests.Session()
        page = self.session.get(self.url, timeout=30)
        page.raise_for_status()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise RuntimeError(f"no CSRF token in {self.url}")
        self.token = match.group(1)
        form_token = re.search(r'name="form_token" value="([^"]*)"', page.text)
        self.form_token = form_token.group(1) if form_token else ""

    def sign(self, email: str) -> None:
        response = self.session.post(
            self.url,
            data={
                **SIGNER,
                "email": email,
                "csrfmiddlewaretoken": self.token,
                "form_token": self.form_token,
                "website": "",
            },
            allow_redirects=False,
            timeout=60,
        )
        if response.status_code != 303:
            raise RuntimeError(f"signing {email} answered {response.status_code}: {response.text[:300]}")


@dataclass
class ChaosResult:
    posted: int
    local: dict[str, int]
    accepted: int
    stored: int
    duplicates_refused: int
    injected_errors: int
    delayed_answers: int
    down_answers: int
    missing_upstream: int
    extra_upstream: int
    stored_twice: int
    attempts: int
    seconds: float
    workers: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.local == {"sent": self.posted}
            and self.accepted == self.stored == self.posted
            and not (self.missing_upstream or self.extra_upstream or self.stored_twice)
        )

    def report(self) -> str:
        return "\n".join(
            [
                f"signatures posted through the sign endpoint: {self.posted}",
                f"local rows by state:                         {json.dumps(self.local, sort_keys=True)}",
                f"emulator: accepted {self.accepted}, stored {self.stored}, "
                f"'already signed' answers {self.duplicates_refused}",
                f"emulator faults: {self.injected_errors} injected errors ({self.down_answers} during the outage), "
                f"{self.delayed_answers} answers held back past the client's timeout",
                f"missing upstream {self.missing_upstream}, extra upstream {self.extra_upstream}, "
                f"stored twice {self.stored_twice}",
                f"forwarding attempts logged: {self.attempts}",
                f"workers: {', '.join(self.workers)} (exit codes {self.exit_codes})",
                f"wall time: {self.seconds:.0f} s",
                "RESULT: " + ("exactly one accepted signature per local row, all sent" if self.ok else "FAILED"),
            ]
        )


def run_chaos(
    *,
    site_url: str,
    slug: str,
    emulator: EmulatorClient,
    petition_id: str,
    count: int,
    start_worker: Callable[[str], subprocess.Popen],
    local_states: Callable[[], dict[str, int]],
    local_emails: Callable[[], set[str]],
    attempts: Callable[[], int],
    outage_seconds: float = 20.0,
    error_rate: float = 0.3,
    timeout_rate: float = 0.1,
    posting_threads: int = 4,
    deadline_seconds: float = 600.0,
    log: Callable[[str], None] = print,
) -> ChaosResult:
    """Post ``count`` signatures while two workers forward them through faults, a kill and an outage."""
    start = time.monotonic()
    emulator.faults(error_rate=error_rate, timeout_rate=timeout_rate)
    workers = {"chaos-a": start_worker("chaos-a"), "chaos-b": start_worker("chaos-b")}
    codes: list[int] = []
    outage_done = threading.Event()
    prefix = f"chaos-{secrets.token_hex(3)}"
    posted = 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    def kill_and_restart() -> None:
        victim = workers.pop("chaos-a")
        victim.send_signal(signal.SIGKILL)
        codes.append(victim.wait())
        log(f"chaos: worker chaos-a killed (SIGKILL) after {posted} signatures; chaos-a2 started in its place")
        workers["chaos-a2"] = start_worker("chaos-a2")

    def outage() -> None:
        log(f"chaos: emulator down for {outage_seconds:g} s after {posted} signatures")
        emulator.faults(down=True)
        time.sleep(outage_seconds)
        emulator.faults(down=False)
        log("chaos: emulator back up")
        outage_done.set()

    events = [(count * 3 // 10, kill_and_restart), (count // 2, lambda: threading.Thread(target=outage).start())]

    def post_some(thread_no: int) -> None:
        nonlocal posted
        try:
            signer = Signer(site_url, slug)
            for n in range(thread_no, count, posting_threads):
                signer.sign(f"{prefix}-{n}@example.org")
                with lock:
                    posted += 1
                    due = [action for at, action in events if at == posted]
                for action in due:
                    action()
        except BaseException as exc:  # reported in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=post_some, args=(n,)) for n in range(posting_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    log(f"chaos: {posted} signatures posted in {time.monotonic() - start:.0f} s; waiting for the backlog")
    outage_done.wait(timeout=outage_seconds + 60)
    deadline = time.monotonic() + deadline_seconds
    while True:
        states = local_states()
        if set(states) <= FINAL and sum(states.values()) == count:
            break
        if time.monotonic() > deadline:
            log(f"chaos: not drained after {deadline_seconds:g} s: {states}")
            break
        time.sleep(0.5)
    for process in workers.values():
        process.send_signal(signal.SIGTERM)
    for process in workers.values():
        codes.append(process.wait(timeout=60))
    stats = emulator.stats()
    received = emulator.received(petition_id)
    upstream = [r["fields"]["email"] for r in received if not r["duplicate"]]
    mine = {email for email in local_emails() if email.startswith(prefix)}
    return ChaosResult(
        posted=posted,
        local=local_states(),
        accepted=stats["accepted"],
        stored=len(upstream),
        duplicates_refused=stats["duplicates"],
        injected_errors=stats["injected_errors"],
        delayed_answers=stats["delayed_answers"],
        down_answers=stats["down_answers"],
        missing_upstream=len(mine - set(upstream)),
        extra_upstream=len(set(upstream) - mine),
        stored_twice=len(upstream) - len(set(upstream)),
        attempts=attempts(),
        seconds=time.monotonic() - start,
        workers=["chaos-a (killed)", "chaos-b", "chaos-a2"],
        exit_codes=codes,
    )


# --- the stand-alone run ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the emulator is down (default 20)")
    parser.add_argument("--error-rate", type=float, default=0.3)
    parser.add_argument("--timeout-rate", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight per worker (default 8)")
    parser.add_argument("--database-url", help="a scratch database (it is migrated and written to)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pw-chaos-"))
    site_port, emulator_port = free_port(), free_port()
    emulator_url = f"http://{HOST}:{emulator_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.forwarding_settings",
        "PYTHONPATH": str(REPO),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'chaos.sqlite3'}",
        "SITE_URL": f"http://{HOST}:{site_port}",
        **emulator_env(emulator_url),
        # Four threads post 10,000 signatures from one address to one petition, at once: the abuse checks
        # (minimum fill time, both rate limits; the per-petition default of 600 a minute included) are off.
        "SIGN_MIN_SECONDS": "0",
        "SIGN_LIMIT_PER_IP": "0",
        "SIGN_LIMIT_PER_PETITION": "0",
        "PETITION_WIDGET_JSON": json.dumps(WORKER_SETTINGS),
        "XDG_RUNTIME_DIR": str(tmp),
    }
    os.environ.update(env)
    manage = [sys.executable, str(REPO / "manage.py")]
    processes = Processes(tmp, env)
    spawn = processes.spawn

    try:
        _, emulator = start_emulator(
            lambda command: spawn("emulator", command),
            emulator_port,
            "--timeout-seconds=2",
            "--seed=0",
        )

        import django

        django.setup()
        from django.db import connections
        from django.db.models import Count

        from petition_widget.models import ForwardAttempt, Signature
        from petition_widget.petitions import add_petition

        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
        if Signature.objects.exists():
            sys.exit("The database already holds signatures; give chaos.py a scratch database.")
        add_petition("changeorg", PETITION_ID, slug=SLUG)
        connections.close_all()

        site = spawn(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers=2",
                f"--bind={HOST}:{site_port}",
                f"--worker-tmp-dir={tmp}",
                "--log-level=warning",
                "example_project.wsgi:application",
            ],
        )
        wait_http(f"http://{HOST}:{site_port}/petitions/{SLUG}/", site, "gunicorn")

        def start_worker(name: str) -> subprocess.Popen:
            return spawn(
                name,
                [
                    *manage,
                    "forward_signatures",
                    f"--worker-id={name}",
                    f"--concurrency={args.concurrency}",
                    "--batch-size=20",
                ],
            )

        def local_states() -> dict[str, int]:
            try:
                return dict(Signature.objects.order_by().values_list("state").annotate(n=Count("pk")))
            finally:
                connections.close_all()

        print(
            f"Chaos: {args.signatures} signatures, {args.error_rate:.0%} server errors, {args.timeout_rate:.0%} "
            f"timeouts, a {args.outage:g}-second outage, one worker killed and replaced; database "
            f"{connections['default'].vendor}, {os.cpu_count()} CPUs",
            flush=True,
        )
        result = run_chaos(
            site_url=f"http://{HOST}:{site_port}",
            slug=SLUG,
            emulator=emulator,
            petition_id=PETITION_ID,
            count=args.signatures,
            start_worker=start_worker,
            local_states=local_states,
            local_emails=lambda: set(Signature.objects.values_list("email", flat=True)),
            attempts=lambda: ForwardAttempt.objects.count(),
            outage_seconds=args.outage,
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            deadline_seconds=1800,
            log=lambda line: print(line, flush=True),
        )
        print()
        print(result.report())
        connections.close_all()
        sys.exit(0 if result.ok else 1)
    finally:
        processes.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
