#!/usr/bin/env python3
"""A viral spike: many sign POSTs at once on the production stack, the forwarders draining under the upstream's limit.

    .venv/bin/python bench/spike.py [--signatures N] [--concurrency C] [--upstream-limit R]
                                    [--database-url postgres://USER@HOST:PORT/ANY] [--cache-url redis://...]

The stack of docs/deployment.md, each part a process of its own: gunicorn (2 sync workers) on PostgreSQL
(the scratch database ``pw_bench_spike`` on the server of --database-url, dropped and created again, dropped
at the end) with the counters in Redis (--cache-url, under a key prefix of the run's own), the upstream
emulator refusing more than --upstream-limit requests a minute (default 1,500, We the People's documented
limit) with 429, and two ``forward_signatures`` workers sharing that limit through Redis (``RATE_LIMITS``).
The abuse checks are on as a site has them (the form token with its minimum fill time, both limits so high
that the load generator's one address is never refused); each POST carries a token of its own.

N sign POSTs (--signatures, default 20,000) go to one Change.org petition, as fast as the machine takes
them from C processes (a new connection per request, as gunicorn's sync workers answer): the first half
with no forwarder running, the second half with both forwarders draining the backlog. Then the script waits
until the upstream has every signature (or --drain-timeout passes) and prints ``name = value`` lines:

    sign_rate_without / sign_rate_with       sign POSTs answered per second, without and with forwarders
    p50_ms_* / p99_ms_*                      their latency; p99_ratio = with / without (aim: at most 1.2)
    errors                                   answers other than 303, and socket errors (aim: 0)
    lost                                     303s whose signature is not stored, or stored and never
                                             received by the upstream (aim: 0)
    double_accepted                          signers the upstream received more than once (aim: 0)
    upstream_429                             the emulator's refusals for the limit
    minute_<k>_share                         requests the upstream received in the k-th full minute after the
                                             forwarders started, while a backlog existed, as a share of the
                                             limit (aim: at least 0.97, never over 1)
    most_in_any_60s                          the largest count in any 60-second window (at most the limit)

Results and their reading: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)

from bench.support import (  # noqa: E402
    HOST,
    Processes,
    emulator_env,
    form_post_head,
    free_port,
    most_in_any_window,
    pg_admin,
    post_once,
    process_cpu,
    start_emulator,
)

PG_DATABASE = "pw_bench_spike"
PETITION = "1001"
SLUG = "spike"
FORM_AGE_SECONDS = 60
HUGE = 1_000_000_000
SIGNER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address": "12 Downing Street",
    "city": "London",
    "state_province": "",
    "postal_code": "SW1A 2AA",
    "country_code": "GB",
    "phone": "",
    "reason": "",
}


def settings_json(limit: int) -> str:
    """PETITION_WIDGET of every process: the abuse checks on (limits out of reach), the forwarders' shared limit."""
    return json.dumps(
        {
            "SIGN_MIN_SECONDS": 3,
            "SIGN_LIMIT_PER_IP": HUGE,
            "SIGN_LIMIT_PER_PETITION": HUGE,
            "RATE_LIMITS": {"changeorg": limit, "wethepeople": limit},
            "HTTP_TIMEOUT": 10.0,
            "BACKOFF_BASE_SECONDS": 1.0,
            "BACKOFF_MAX_SECONDS": 5.0,
        }
    )


def _client(args: tuple) -> None:
    """One load process: POST each of its bodies once on a new connection; the latency and status of each."""
    port, head, bodies, start_at, out = args
    latencies, statuses, errors = [], {}, 0
    time.sleep(max(0.0, start_at - time.monotonic()))
    for body in bodies:
        started = time.perf_counter()
        try:
            status = post_once(port, head, body, timeout=60)
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    out.put((latencies, statuses, errors))


def post_all(port: int, cookie: str, csrf: str, petition, prefix: str, count: int, concurrency: int) -> dict:
    """``count`` sign POSTs from ``concurrency`` processes; rate, latency percentiles and what was answered."""
    from petition_widget.abuse import make_form_token

    issued = time.time() - FORM_AGE_SECONDS
    origin = f"http://{HOST}:{port}"
    base = urlencode({**SIGNER, "csrfmiddlewaretoken": csrf, "website": ""})
    bodies = [
        (
            f"{base}&form_token={quote(make_form_token(petition, issued_at=issued), safe='')}"
            f"&email={prefix}-{n}%40spike.example"
        ).encode()
        for n in range(count)
    ]
    head = form_post_head(port, f"/petitions/{SLUG}/", origin, cookie)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.monotonic() + 0.5
    processes = [
        context.Process(target=_client, args=((port, head, bodies[i::concurrency], start_at, out),))
        for i in range(concurrency)
    ]
    for process in processes:
        process.start()
    results = [out.get() for _ in processes]
    elapsed = time.monotonic() - start_at
    for process in processes:
        process.join()
    latencies = sorted(x for r in results for x in r[0])
    statuses: dict[int, int] = {}
    for r in results:
        for status, n in r[1].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan"),
        "accepted": statuses.get(303, 0),
        "errors": sum(n for s, n in statuses.items() if s != 303) + sum(r[2] for r in results),
        "statuses": statuses,
        "latencies": latencies,
    }


def attempt_figures(forwarders_started: float) -> dict[str, str]:
    """What the forwarders' attempts (ForwardAttempt) say: how many of each outcome and status, the slowest,
    and the 429s in each minute from the forwarders' start."""
    from django.db.models import Count, Max

    from petition_widget.models import ForwardAttempt

    rows = ForwardAttempt.objects.values("outcome", "http_status").annotate(n=Count("id")).order_by("-n")
    by_minute: dict[int, int] = {}
    for started in ForwardAttempt.objects.filter(http_status=429).values_list("started_at", flat=True):
        minute = int((started.timestamp() - forwarders_started) // 60) + 1
        by_minute[minute] = by_minute.get(minute, 0) + 1
    last = max(by_minute, default=0)
    return {
        "attempts": ", ".join(f"{r['outcome']} {r['http_status']}: {r['n']}" for r in rows),
        "attempt_max_ms": str(ForwardAttempt.objects.aggregate(m=Max("duration_ms"))["m"]),
        "attempts_429_by_minute": " ".join(str(by_minute.get(k, 0)) for k in range(1, last + 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=20_000, help="sign POSTs in all (default 20,000)")
    parser.add_argument("--concurrency", type=int, default=4, help="load processes (default 4)")
    parser.add_argument("--upstream-limit", type=int, default=1500, help="upstream requests a minute (default 1,500)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument(
        "--forwarder-nice",
        type=int,
        default=10,
        help="run the forwarders at this niceness (default 10, as docs/deployment.md's unit has them; 0: as the site)",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=0, help="seconds to wait for the upstream (default: twice the need)"
    )
    args = parser.parse_args()
    if args.signatures < 2 or args.concurrency < 1 or args.upstream_limit < 1:
        parser.error("--signatures must be 2 or more, --concurrency and --upstream-limit positive")
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// URL")
    drain_timeout = args.drain_timeout or 2 * 60 * args.signatures / args.upstream_limit + 120

    pg_admin(args.database_url, f"DROP DATABASE IF EXISTS {PG_DATABASE}", f"CREATE DATABASE {PG_DATABASE}")
    tmp = Path(tempfile.mkdtemp(prefix="pw-spike-"))
    emulator_port, port = free_port(), free_port()
    emulator_url = f"http://{HOST}:{emulator_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.spike_settings",
        "PYTHONPATH": str(REPO),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": urlunsplit(urlsplit(args.database_url)._replace(path=f"/{PG_DATABASE}")),
        "CACHE_URL": args.cache_url,
        "PW_BENCH_CACHE_PREFIX": f"pw-spike-{secrets.token_hex(4)}",
        "SITE_URL": f"http://{HOST}:{port}",
        "XDG_RUNTIME_DIR": str(tmp),
        **emulator_env(emulator_url),
        "PETITION_WIDGET_JSON": settings_json(args.upstream_limit),
    }
    os.environ.update(env)
    processes = Processes(tmp, env)
    spawn = processes.spawn
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
        import django

        django.setup()
        from django.db import connections

        from petition_widget.models import ForwardingState, Signature
        from petition_widget.petitions import add_petition

        emulator_process, emulator = start_emulator(lambda command: spawn("emulator", command), emulator_port)
        emulator.faults(rate_limit=args.upstream_limit)
        petition = add_petition("changeorg", PETITION, slug=SLUG)
        connections.close_all()

        gunicorn = spawn(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers=2",
                f"--bind={HOST}:{port}",
                f"--worker-tmp-dir={tmp}",
                "--log-level=warning",
                "--timeout=60",
                "example_project.wsgi:application",
            ],
        )
        from bench.sign import http_request, parse_csrf

        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, html = http_request(port, "GET", f"/petitions/{SLUG}/")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                sys.exit("gunicorn did not start:\n" + processes.log("gunicorn")[-3000:])
            time.sleep(0.2)
        csrf = parse_csrf(headers, html)
        half = args.signatures // 2
        print(
            f"Spike: {args.signatures} sign POSTs from {args.concurrency} processes to gunicorn (2 workers) on "
            f"PostgreSQL, counters in {args.cache_url}; upstream limit {args.upstream_limit} a minute; load average "
            f"{os.getloadavg()[0]:.2f} at the start",
            flush=True,
        )
        without = post_all(port, csrf.cookie, csrf.token, petition, "without", half, args.concurrency)
        print(f"without forwarders: {without['rate']:.0f}/s", flush=True)
        nice = ["nice", "-n", str(args.forwarder_nice)] if args.forwarder_nice else []
        forwarders_started = time.time()
        forward = [*nice, sys.executable, "manage.py", "forward_signatures"]
        forwarders = [spawn(f"forwarder-{n}", [*forward, f"--worker-id=spike-{n}"]) for n in (1, 2)]
        cpu_pids = {"forwarders": [p.pid for p in forwarders], "emulator": [emulator_process.pid]}
        # The second half begins once the forwarders are at work (their start-up is not part of the load).
        deadline = time.monotonic() + 60
        while not emulator.received(PETITION) and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu_before = {name: process_cpu(pids) for name, pids in cpu_pids.items()}
        with_ = post_all(port, csrf.cookie, csrf.token, petition, "with", args.signatures - half, args.concurrency)
        cpu_with = {name: process_cpu(pids) for name, pids in cpu_pids.items()}
        print(f"with forwarders: {with_['rate']:.0f}/s; draining", flush=True)
        stored = Signature.objects.filter(petition=petition).count()
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline:
            if Signature.objects.filter(petition=petition, state=ForwardingState.SENT).count() >= stored:
                break
            connections.close_all()
            time.sleep(2)
        sent = Signature.objects.filter(petition=petition, state=ForwardingState.SENT).count()
        attempts = attempt_figures(forwarders_started)
        cpu_end = {name: process_cpu(pids) for name, pids in cpu_pids.items()}
        connections.close_all()
        stats = emulator.stats()
        received = emulator.received(PETITION)
    finally:
        processes.stop()
        from django.db import connections

        connections.close_all()
        pg_admin(args.database_url, f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)

    emails: dict[str, int] = {}
    for entry in received:
        email = entry["fields"].get("email", "")
        emails[email] = emails.get(email, 0) + 1
    times = sorted(datetime.fromisoformat(entry["received_at"]).timestamp() for entry in received)
    accepted = without["accepted"] + with_["accepted"]
    lines = {
        "signatures": args.signatures,
        "sign_rate_without": f"{without['rate']:.1f}",
        "sign_rate_with": f"{with_['rate']:.1f}",
        "p50_ms_without": f"{without['p50_ms']:.1f}",
        "p50_ms_with": f"{with_['p50_ms']:.1f}",
        "p99_ms_without": f"{without['p99_ms']:.1f}",
        "p99_ms_with": f"{with_['p99_ms']:.1f}",
        "p99_ratio": f"{with_['p99_ms'] / without['p99_ms']:.2f}",
        "errors": without["errors"] + with_["errors"],
        "accepted": accepted,
        "stored": stored,
        "sent": sent,
        "received_upstream": len(emails),
        "lost": max(0, accepted - stored) + (stored - len(emails)),
        "double_accepted": sum(1 for n in emails.values() if n > 1),
        "upstream_429": stats.get("rate_limited", 0),
        **attempts,
        "most_in_any_60s": most_in_any_window(times),
        "upstream_limit": args.upstream_limit,
    }
    if times:
        # Full minutes from the forwarders' start while a backlog existed: up to the last signature's arrival.
        full = int((times[-1] - forwarders_started) // 60)
        for k in range(full):
            start = forwarders_started + 60 * k
            count = sum(1 for t in times if start <= t < start + 60)
            lines[f"minute_{k + 1}_share"] = f"{count / args.upstream_limit:.3f}"
        lines["full_minutes"] = full
    # CPU of the forwarders and of the emulator (which stands in for a remote upstream) while the second half
    # was posted, as a share of the machine's CPUs, and over the whole drain per signature sent.
    seconds_with = len(with_["latencies"]) / with_["rate"] if with_["rate"] else 0.0
    for name in cpu_pids:
        if None not in (cpu_before[name], cpu_with[name], cpu_end[name]) and seconds_with and sent:
            share = (cpu_with[name] - cpu_before[name]) / seconds_with / (os.cpu_count() or 1)
            lines[f"{name}_cpu_share_while_posting"] = f"{share:.3f}"
            lines[f"{name}_cpu_ms_per_signature"] = f"{cpu_end[name] / sent * 1000:.2f}"
    lines["load_average_end"] = f"{os.getloadavg()[0]:.2f}"
    for name, value in lines.items():
        print(f"{name} = {value}")


if __name__ == "__main__":
    main()
