#!/usr/bin/env python3
"""Latency of the public API's signature pages on one petition with 1,000,000 signatures.

    .venv/bin/python bench/api.py [--backend sqlite|postgres|both] [--rows N] [--requests N]
                                  [--pg-url URL] [--keep]

For each backend: a fresh database (SQLite: a file in a temporary directory; PostgreSQL: the database
``pw_bench_api`` on the server of --pg-url, dropped and created again), migrated, with one petition
and --rows public signatures one second apart written by ``bulk_create`` (not through HTTP), the
counters recounted, then ANALYZE (VACUUM ANALYZE on PostgreSQL, as autovacuum would leave it).
gunicorn (one sync worker) serves the example site with the benchmark settings, and one client asks,
in turn and --requests times each after a warm-up, for

    page 1       GET /api/v1/petitions/<id>/signatures?page_size=500&page=1
    page 1,000   the same, page=1000 (the middle: the deepest OFFSET the index walks from either end)
    page 2,000   the same, page=2000 (the last page: OFFSET 999,500)
    recent       GET /api/v1/petitions/<id>/signatures/recent

and prints the median and 90th percentile of each, and the ratio page 2,000 / page 1. Every answer is
checked (status, number of signatures). It also times the page query alone in-process, and prints
the database's plan for it. ``--backend both`` runs each backend in a process of its own.
Results and their reading: docs/benchmarks.md ("Public API").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)

from bench.support import HOST, free_port, pg_admin  # noqa: E402

UPSTREAM_ID = "1000001"
PAGE_SIZE = 500
TARGET_RATIO = 3.0
PG_DATABASE = "pw_bench_api"
BATCH = 10_000


def database_url(backend: str, tmp: Path, pg_url: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench-api.sqlite3'}"
    return urlunsplit(urlsplit(pg_url)._replace(path=f"/{PG_DATABASE}"))


def last_page(rows: int) -> int:
    return -(-rows // PAGE_SIZE)


def recreate_pg_database(pg_url: str) -> None:
    pg_admin(pg_url, f"DROP DATABASE IF EXISTS {PG_DATABASE}", f"CREATE DATABASE {PG_DATABASE}")


def drop_pg_database(pg_url: str) -> None:
    pg_admin(pg_url, f"DROP DATABASE IF EXISTS {PG_DATABASE}")


def load(rows: int) -> dict:
    """Migrate, then write the petition and its signatures; returns timings and the petition's id."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from petition_widget.models import ForwardingState, Petition, Provider, Signature, recount_signatures

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    petition = Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id=UPSTREAM_ID, slug="a-million", title="A million signatures"
    )
    # Explicit, distinct signing times one second apart (auto_now_add would stamp the load's own time).
    Signature._meta.get_field("created_at").auto_now_add = False
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for offset in range(0, rows, BATCH):
        Signature.objects.bulk_create(
            [
                Signature(
                    petition=petition,
                    first_name="Signer",
                    last_name=f"Number {i}",
                    email=f"signer{i}@bench.example",
                    email_normalized=f"signer{i}@bench.example",
                    address="1 Main Street",
                    city="Springfield",
                    state_province="IL",
                    postal_code="62701",
                    country_code="US",
                    state=ForwardingState.SENT,
                    created_at=start + timedelta(seconds=i),
                )
                for i in range(offset, min(rows, offset + BATCH))
            ],
            batch_size=BATCH,
        )
    loaded = time.perf_counter()
    recount_signatures([petition.pk])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    petition.refresh_from_db()
    assert petition.public_signature_count == rows, petition.public_signature_count
    return {
        "petition": petition.pk,
        "load_seconds": loaded - started,
        "recount_analyze_seconds": time.perf_counter() - loaded,
    }


def query_timings(petition_pk: int, rows: int, repeat: int) -> dict:
    """The page queries alone, in-process (no HTTP, no JSON): median ms, and the database's plans."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from petition_widget.api.views import page_rows
    from petition_widget.models import Petition

    petition = Petition.objects.get(pk=petition_pk)
    last = last_page(rows)
    pages = {"page 1": 1, f"page {max(1, last // 2):,}": max(1, last // 2), f"page {last:,}": last}
    result: dict = {"queries": {}, "plans": {}}
    for name, page in pages.items():
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            fetched = list(page_rows(petition, "time_asc", (page - 1) * PAGE_SIZE, PAGE_SIZE))
            times.append((time.perf_counter() - began) * 1000)
            assert len(fetched) == min(PAGE_SIZE, rows - (page - 1) * PAGE_SIZE)
        result["queries"][name] = statistics.median(times)
        if page == 1:
            continue
        with CaptureQueriesContext(connection) as captured:
            list(page_rows(petition, "time_asc", (page - 1) * PAGE_SIZE, PAGE_SIZE))
        plans = []
        with connection.cursor() as cursor:
            for query in captured.captured_queries:
                if connection.vendor == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query["sql"])
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                lines = (" | ".join(str(col) for col in row) for row in cursor.fetchall())
                plans.append("\n".join(line if len(line) < 160 else line[:150] + " …" for line in lines))
        result["plans"][name] = "\n-- next statement --\n".join(plans)
    connection.close()
    return result


def get(port: int, path: str) -> tuple[float, int, bytes]:
    conn = HTTPConnection(HOST, port, timeout=60)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Host": f"{HOST}:{port}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - began) * 1000
    conn.close()
    return elapsed, response.status, body


def wait_for(port: int, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")


def measure(port: int, rows: int, requests: int) -> dict[str, list[float]]:
    base = f"/api/v1/petitions/{UPSTREAM_ID}/signatures"
    last = last_page(rows)
    middle = max(1, last // 2)
    endpoints = {
        "page 1": (f"{base}?page_size={PAGE_SIZE}&page=1", PAGE_SIZE),
        f"page {middle:,}": (f"{base}?page_size={PAGE_SIZE}&page={middle}", PAGE_SIZE),
        f"page {last:,}": (f"{base}?page_size={PAGE_SIZE}&page={last}", rows - (last - 1) * PAGE_SIZE),
        "recent": (f"{base}/recent", min(10, rows)),
    }
    times: dict[str, list[float]] = {name: [] for name in endpoints}
    for round_no in range(requests + 3):
        for name, (path, expected) in endpoints.items():
            elapsed, status, body = get(port, path)
            answer = json.loads(body)
            listed = answer if isinstance(answer, list) else answer.get("signatures", [])
            if status != 200 or len(listed) != expected:
                sys.exit(f"{name}: status {status}, {len(listed)} signatures instead of {expected}: {body[:300]!r}")
            if round_no >= 3:  # the first rounds warm the caches
                times[name].append(elapsed)
    return times


def run_backend(backend: str, rows: int, requests: int, pg_url: str, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pw-bench-api-"))
    port = free_port()
    url = database_url(backend, tmp, pg_url)
    if backend == "postgres":
        recreate_pg_database(pg_url)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": url,
            "SITE_URL": f"http://{HOST}:{port}",
            "XDG_RUNTIME_DIR": str(tmp),
        }
    )
    print(f"[{backend}] loading {rows:,} signatures ...", flush=True)
    loaded = load(rows)
    seconds = (loaded["load_seconds"], loaded["recount_analyze_seconds"])
    print(f"[{backend}] loaded in {seconds[0]:.0f} s; recount and analyze {seconds[1]:.1f} s", flush=True)
    queries = query_timings(loaded["petition"], rows, repeat=max(5, requests // 2))

    log = tmp / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "example_project.wsgi:application", "--bind", f"{HOST}:{port}", "--workers", "1"],
        cwd=REPO,
        env=dict(os.environ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(port, log)
        times = measure(port, rows, requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
            if backend == "postgres":
                drop_pg_database(pg_url)
    summary = {
        name: {"median_ms": statistics.median(values), "p90_ms": statistics.quantiles(values, n=10)[-1]}
        for name, values in times.items()
    }
    last = f"page {last_page(rows):,}"
    return {
        "backend": backend,
        "rows": rows,
        "requests": requests,
        "http": summary,
        "ratio": summary[last]["median_ms"] / summary["page 1"]["median_ms"],
        "last": last,
        "queries": queries["queries"],
        "plans": queries["plans"],
    }


def report(result: dict) -> None:
    backend = result["backend"]
    print(f"\n== {backend}: {result['rows']:,} public signatures, page_size={PAGE_SIZE}, ", end="")
    print(f"{result['requests']} requests each")
    print(f"{'endpoint':<14}{'median ms':>11}{'p90 ms':>9}")
    for name, values in result["http"].items():
        print(f"{name:<14}{values['median_ms']:>11.1f}{values['p90_ms']:>9.1f}")
    verdict = "under" if result["ratio"] < TARGET_RATIO else "NOT under"
    print(f"ratio {result['last']} / page 1: {result['ratio']:.2f} ({verdict} the target {TARGET_RATIO:g})")
    print(
        "page query alone (in-process, median ms): " + ", ".join(f"{k}: {v:.1f}" for k, v in result["queries"].items())
    )
    for name, plan in result["plans"].items():
        print(f"-- plan of {name} (time_asc):\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per endpoint")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help=f"a PostgreSQL server to create the database {PG_DATABASE} on",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and the temporary directory")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows < PAGE_SIZE or args.requests < 2:
        parser.error("--rows must be at least 500 and --requests at least 2")

    if args.backend != "both":
        result = run_backend(args.backend, args.rows, args.requests, args.pg_url, args.keep)
        print("BENCH " + json.dumps(result) if args.json else "", flush=True)
        if not args.json:
            report(result)
        return

    results = []
    for backend in ("sqlite", "postgres"):
        command = [sys.executable, __file__, "--backend", backend, "--rows", str(args.rows)]
        command += ["--requests", str(args.requests), "--pg-url", args.pg_url, "--json"]
        command += ["--keep"] if args.keep else []
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        for line in output.splitlines():
            if line.startswith("BENCH "):
                results.append(json.loads(line[6:]))
            elif line:
                print(line, flush=True)
    for result in results:
        report(result)


if __name__ == "__main__":
    main()
