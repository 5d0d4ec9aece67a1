#!/usr/bin/env python3
"""Forwarding throughput, the shared rate limit, and the worker's memory.

    .venv/bin/python bench/forward.py [--database-url URL] [--latency-ms 50] [--seconds 15]
                                      [--provider changeorg|wethepeople] [--skip-rate] [--skip-memory]

Starts the upstream emulator in its own process and migrates a fresh database (a temporary SQLite file,
or --database-url, e.g. a scratch PostgreSQL database), then measures with ``manage.py forward_signatures``
processes:

1. Throughput. For --concurrency 1, 4 and 16, a backlog of about --seconds worth of signatures at the
   bound, forwarded by one ``--once`` worker against the emulator with --latency-ms added to every answer.
   Rate = signatures / (last forwarded_at - first attempt's start), so process start-up is left out. The
   bound is concurrency / latency: what the worker would reach if nothing but the upstream's latency
   counted. Aim: at least 80% of the bound at concurrency 16.
2. The rate limit. Two workers (concurrency 16 each) share 1,500 requests a minute for We the People
   through Redis (CACHE_URL, default redis://127.0.0.1:6379/1) for two minutes, with the emulator also
   enforcing 1,500 a minute. Printed: the largest count of requests started in any 60-second window
   (must not pass 1,500), the mean rate, and the emulator's 429 answers (0 if the limiter held).
3. Memory. The peak resident memory of a ``--once`` worker process after 5,000 and after 20,000
   We the People forwards (no added latency), read from /proc (VmHWM) while it runs: it must not grow with the count.

Results and their reading: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)

from bench.support import (  # noqa: E402
    HOST,
    emulator_env,
    free_port,
    most_in_any_window,
    process_cpu,
    start_emulator,
)

PETITIONS = {"changeorg": "1001", "wethepeople": "2001"}
TARGET_RATIO = 0.80
RATE_LIMIT = 1500
RATE_SECONDS = 120
WORKER_SETTINGS = {
    "HTTP_TIMEOUT": 10.0,
    "RATE_LIMITS": {"changeorg": 0, "wethepeople": 0},
    "BACKOFF_BASE_SECONDS": 1.0,
    "BACKOFF_MAX_SECONDS": 5.0,
}


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.manage = [sys.executable, str(REPO / "manage.py")]
        emulator_port = free_port()
        self.emulator_url = f"http://{HOST}:{emulator_port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.forwarding_settings",
            "PYTHONPATH": str(REPO),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'forward.sqlite3'}",
            "SITE_URL": "http://127.0.0.1:8000",
            **emulator_env(self.emulator_url),
            "PETITION_WIDGET_JSON": json.dumps(WORKER_SETTINGS),
        }
        os.environ.update(self.env)
        self.logs: list = []
        self.emulator_process, self.emulator = start_emulator(
            lambda command: self.spawn("emulator", command), emulator_port
        )

    def spawn(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        out = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115  (closed in close())
        self.logs.append(out)
        return subprocess.Popen(command, cwd=REPO, env=env or self.env, stdout=out, stderr=subprocess.STDOUT)

    def close(self) -> None:
        if self.emulator_process.poll() is None:
            self.emulator_process.terminate()
            self.emulator_process.wait(timeout=30)
        for out in self.logs:
            out.close()

    def setup_database(self) -> None:
        import django

        subprocess.run([*self.manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True)
        django.setup()
        from petition_widget.models import Petition, Signature
        from petition_widget.petitions import add_petition

        if Signature.objects.exists():
            sys.exit("The database already holds signatures; give forward.py a scratch database.")
        self.petitions = {}
        for provider, upstream_id in PETITIONS.items():
            self.petitions[provider] = add_petition(provider, upstream_id, slug=f"bench-{provider}")
        self.Petition = Petition

    def add_backlog(self, provider: str, count: int, prefix: str) -> None:
        from petition_widget.models import Signature

        petition = self.petitions[provider]
        rows = []
        for n in range(count):
            email = f"{prefix}-{n}@bench.example"
            rows.append(
                Signature(
                    petition=petition,
                    first_name="Ada",
                    last_name="Lovelace",
                    email=email,
                    email_normalized=email,
                    city="London",
                    postal_code="SW1A 2AA" if provider == "changeorg" else "20500",
                    country_code="GB",
                )
            )
        Signature.objects.bulk_create(rows, batch_size=500)
        self.close_connections()

    @staticmethod
    def close_connections() -> None:
        from django.db import connections

        connections.close_all()

    def worker(self, name: str, *options: str, env: dict | None = None) -> subprocess.Popen:
        return self.spawn(name, [*self.manage, "forward_signatures", f"--worker-id={name}", *options], env=env)

    def wait_rusage(self, process: subprocess.Popen) -> tuple[int, int, float]:
        """Wait for a worker; its exit status, peak resident memory in KiB and CPU seconds."""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        return process.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime

    def emulator_cpu(self) -> float:
        """CPU seconds the emulator process has used (Linux)."""
        return process_cpu([self.emulator_process.pid]) or 0.0


def throughput(bench: Bench) -> None:
    from django.db.models import Max, Min

    from petition_widget.models import ForwardAttempt, Signature

    args = bench.args
    latency = args.latency_ms / 1000
    bench.emulator.faults(latency_ms=args.latency_ms)
    print(
        f"\n1. Throughput: {args.provider}, emulator latency {args.latency_ms} ms, one --once worker, "
        f"batch 50\n\n{'concurrency':>12} {'signatures':>11} {'seconds':>8} {'forwarded/s':>12} {'bound/s':>8} "
        f"{'ratio':>6} {'worker CPU ms/fwd':>18} {'emulator CPU ms/req':>20}",
        flush=True,
    )
    ratios = {}
    for concurrency in (1, 4, 16):
        bound = concurrency / latency
        count = max(100, int(bound * args.seconds))
        prefix = f"c{concurrency}"
        bench.add_backlog(args.provider, count, prefix)
        emulator_before = bench.emulator_cpu()
        worker = bench.worker(f"throughput-{concurrency}", "--once", f"--concurrency={concurrency}")
        code, _, worker_cpu = bench.wait_rusage(worker)
        emulator_cpu = bench.emulator_cpu() - emulator_before
        if code != 0:
            sys.exit(f"the worker exited with {code}; see {bench.tmp}")
        rows = Signature.objects.filter(email__startswith=f"{prefix}-")
        sent = rows.filter(state="sent").count()
        if sent != count:
            sys.exit(f"only {sent} of {count} signatures were sent")
        first = ForwardAttempt.objects.filter(signature__in=rows).aggregate(t=Min("started_at"))["t"]
        last = rows.aggregate(t=Max("forwarded_at"))["t"]
        seconds = (last - first) / timedelta(seconds=1)
        rate = count / seconds
        ratios[concurrency] = rate / bound
        bench.close_connections()
        print(
            f"{concurrency:>12} {count:>11} {seconds:>8.1f} {rate:>12.1f} {bound:>8.0f} {rate / bound:>6.2f} "
            f"{worker_cpu / count * 1000:>18.2f} {emulator_cpu / count * 1000:>20.2f}",
            flush=True,
        )
    bench.emulator.faults(latency_ms=0)
    verdict = "met" if ratios[16] >= TARGET_RATIO else "NOT met"
    print(f"\nratio at concurrency 16: {ratios[16]:.2f} (aim {TARGET_RATIO:.2f}: {verdict})")


def rate_limit(bench: Bench) -> None:
    from petition_widget.models import ForwardAttempt

    cache_url = os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1")
    settings = {**WORKER_SETTINGS, "RATE_LIMITS": {"changeorg": 0, "wethepeople": RATE_LIMIT}}
    env = {**bench.env, "CACHE_URL": cache_url, "PETITION_WIDGET_JSON": json.dumps(settings)}
    backlog = RATE_LIMIT * (RATE_SECONDS // 60 + 1)
    bench.add_backlog("wethepeople", backlog, "rate")
    bench.emulator.faults(rate_limit=RATE_LIMIT, latency_ms=20)
    before = bench.emulator.stats()
    print(
        f"\n2. Rate limit: {RATE_LIMIT} a minute for We the People, shared by two workers (concurrency 16 each) "
        f"through {cache_url}, for {RATE_SECONDS} s; {backlog} signatures waiting",
        flush=True,
    )
    workers = [bench.worker(f"rate-{n}", "--concurrency=16", env=env) for n in (1, 2)]
    time.sleep(RATE_SECONDS)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=120)
    after = bench.emulator.stats()
    bench.emulator.faults(rate_limit=0, latency_ms=0)
    attempts = ForwardAttempt.objects.filter(worker__startswith="rate-")
    times = [t.timestamp() for t in attempts.values_list("started_at", flat=True)]
    by_worker = {name: attempts.filter(worker=name).count() for name in ("rate-1", "rate-2")}
    bench.close_connections()
    start = min(times)
    peak = most_in_any_window(times)
    per_ten = [0] * (RATE_SECONDS // 10 + 1)
    for moment in times:
        per_ten[min(int((moment - start) // 10), len(per_ten) - 1)] += 1
    print(f"  requests sent:                         {len(times)} ({by_worker['rate-1']} + {by_worker['rate-2']})")
    verdict = "kept" if peak <= RATE_LIMIT else "PASSED"
    print(f"  largest count in any 60-second window: {peak} (limit {RATE_LIMIT}: {verdict})")
    print(f"  mean rate over the {RATE_SECONDS} s:               {len(times) / RATE_SECONDS * 60:.0f} a minute")
    print(f"  requests per 10 s from the first:      {' '.join(str(n) for n in per_ten)}")
    print(f"  emulator's 429 answers:                {after['rate_limited'] - before['rate_limited']}")


def peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def memory(bench: Bench) -> None:
    print("\n3. Worker memory: one --once worker, concurrency 16, We the People, no added latency", flush=True)
    print(f"{'forwards':>10} {'peak RSS MiB':>13} {'seconds':>8}")
    for count in (5_000, 20_000):
        # A fresh emulator memory: it looks for duplicates by scanning what it holds, which would slow it down.
        bench.emulator.reset()
        bench.add_backlog("wethepeople", count, f"mem{count}")
        start = time.monotonic()
        worker = bench.worker(f"memory-{count}", "--once", "--concurrency=16")
        # VmHWM, the peak since exec: the rusage of a child also counts the parent's pages it was forked with.
        peak_kib = 0
        while worker.poll() is None:
            peak_kib = max(peak_kib, peak_rss_kib(worker.pid))
            time.sleep(0.2)
        if worker.returncode != 0:
            sys.exit(f"the worker exited with {worker.returncode}; see {bench.tmp}")
        print(f"{count:>10} {peak_kib / 1024:>13.1f} {time.monotonic() - start:>8.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a scratch database (it is migrated and written to)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15, help="backlog size, in seconds at the bound")
    parser.add_argument("--provider", choices=sorted(PETITIONS), default="changeorg")
    parser.add_argument("--skip-rate", action="store_true", help="leave out the two-minute rate-limit run")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the memory runs")
    args = parser.parse_args()
    if args.latency_ms < 1:
        parser.error("--latency-ms must be at least 1 (the bound divides by it)")

    tmp = Path(tempfile.mkdtemp(prefix="pw-forward-"))
    bench = Bench(args, tmp)
    try:
        bench.setup_database()
        import django
        from django.db import connection

        print(
            f"Forwarding benchmark: Django {django.get_version()}, Python {sys.version.split()[0]}, "
            f"database {connection.vendor}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )
        bench.close_connections()
        throughput(bench)
        if not args.skip_rate:
            rate_limit(bench)
        if not args.skip_memory:
            memory(bench)
        print(f"\nbench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        bench.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
