#!/usr/bin/env python3
"""Requests per second of the sign POST beside a bare view and a minimal sign view.

    .venv/bin/python bench/sign.py [--rounds N] [--seconds S] [--concurrency C]
                                   [--client auto|wrk|python] [--db-dir DIR] [--wal] [--cache-url URL]
                                   [--database-url postgres://USER@HOST:PORT/ANY]
                                   [--profile] [--profile-requests N]

``--database-url`` runs everything on PostgreSQL instead: the scratch database ``pw_bench_sign`` on that
server (whatever database the URL names), dropped and created again, serves both gunicorns and the
minimal view alike, and is dropped at the end. With ``--cache-url redis://...`` too, that is the
production stack of docs/deployment.md.

Starts gunicorn (2 sync workers) on a fresh, migrated SQLite file in a temporary directory, with
the example site's settings plus the reference views of ``bench/urls.py``, and measures four
endpoints in turn, round after round, with the same concurrency:

    ours       POST /petitions/<slug>/          the app's SignView, Change.org form, every field filled,
                                                with the abuse checks on (see below)
    unchecked  POST /petitions/<slug>/          the same on a second gunicorn with the checks off
    minimal    POST /bench/minimal/<slug>/      CSRF check, one INSERT of the posted values, 303
    bare       POST /bench/bare/                HttpResponse("ok"), no CSRF check, body not read

The abuse checks are on as a site has them: the example site's SIGN_MIN_SECONDS (3), and both rate
limits counted in the cache (``--cache-url``, default the example site's local-memory cache) with
limits so high that the load generator's one address is never refused. A form token is good for one
stored signature, so every POST carries a token of its own from a pool made before the run, each as if
its form was rendered a minute earlier (made with the site's key by petition_widget.abuse itself); the
honeypot is sent empty.

Every sign POST carries a new e-mail address, the csrftoken cookie and csrfmiddlewaretoken field
obtained from a GET of the form page, and an Origin header as a browser sends it; redirects are not
followed and every status is checked (303, or 200 for bare). Any other answer stops the run with
exit status 1. The load comes from ``wrk`` with bench/sign_post.lua when it is installed
(``apt-get install wrk``), otherwise from one Python process per connection. Besides requests per
second it prints the CPU time the gunicorn workers and the load generator spent per request (Linux),
a figure that other processes on the machine disturb far less than the rate.

``--profile`` then runs the same four requests in-process through Django's WSGI handler: the time
per request without a profiler, and a cProfile of the sign POST summed over --profile-requests
requests, broken down by step and listed by cumulative time. ``--rounds 0 --profile`` only profiles.
Results and their reading: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import inspect
import io
import multiprocessing
import os
import pstats
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
# Run as a script, sys.path would start with bench/ itself; the repository takes its place so that the
# support modules import as bench.settings, bench.urls and bench.views.
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)

from bench.support import (  # noqa: E402
    HOST,
    emulator_env,
    form_post_head,
    free_port,
    pg_admin,
    post_once,
    process_cpu,
    start_emulator,
    stop_processes,
)

LUA_SCRIPT = Path(__file__).resolve().parent / "sign_post.lua"
SLUG = "bring-back-the-trees"
NEXT_URL = "/posts/bring-back-the-trees/"
# ours / minimal aimed at: with the counters in the local-memory default, and with them in Redis (the
# production stack of docs/deployment.md).
TARGET_RATIO = 0.70
TARGET_RATIO_REDIS = 0.80
# The scratch database of --database-url, on that server.
PG_DATABASE = "pw_bench_sign"
# The forwarding phase: a petition on the emulator and its form.
FORWARD_SLUG = "bench-forwarding"
FORWARD_PETITION = "1001"

# A Change.org signer who fills in every field, the phone number included (one of Ofcom's numbers
# reserved for fiction, valid for phonenumbers and nobody's).
SIGNER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address": "12 Downing Street",
    "city": "London",
    "state_province": "",
    "postal_code": "SW1A 2AA",
    "country_code": "GB",
    "phone": "020 7946 0958",
    "reason": "Shade, birds and cleaner air for everyone on our street.",
}

OVERVIEW = (
    "<p>The council cut down forty plane trees along the high street last spring and has no plan to "
    "replace them. We ask for new trees, chosen with residents, before the end of next year.</p>"
) * 6


@dataclass(frozen=True)
class Endpoint:
    """One measured URL and the only status it may answer."""

    key: str
    label: str
    path: str
    expected: int
    slug: str = SLUG  # the petition whose form token the body carries
    server: str = "checked"  # the gunicorn that answers: the abuse checks on, or "unchecked" (off)


ENDPOINTS = (
    Endpoint("ours", "ours (SignView)", f"/petitions/{SLUG}/", 303),
    Endpoint("unchecked", "ours, checks off", f"/petitions/{SLUG}/", 303, server="unchecked"),
    Endpoint("minimal", "minimal sign view", f"/bench/minimal/{SLUG}/", 303),
    Endpoint("bare", "bare view", "/bench/bare/", 200),
)
# The abuse checks of the sign POST as a site has them: the example site's minimum fill time (3 s) and a
# rate limit per address and per petition, counted in the cache, set so high that the load generator's one
# address is never refused. "unchecked" turns them all off.
CHECKED_LIMIT = "1000000000"
SERVER_SETTINGS = {
    "checked": {"SIGN_LIMIT_PER_IP": CHECKED_LIMIT, "SIGN_LIMIT_PER_PETITION": CHECKED_LIMIT},
    "unchecked": {"SIGN_MIN_SECONDS": "0", "SIGN_LIMIT_PER_IP": "0", "SIGN_LIMIT_PER_PETITION": "0"},
}
# Tokens made per second measured: the pool must outlast the fastest endpoint (wrk stops with a Lua error
# when it runs out, which fails the run; a token is never posted twice).
TOKENS_PER_SECOND = 6000
# How long before the run the benchmark's form was rendered: past SIGN_MIN_SECONDS, far within SIGN_FORM_MAX_AGE.
FORM_AGE_SECONDS = 60


@dataclass
class RunResult:
    requests: int
    seconds: float
    bad: int = 0
    first_bad: int = 0
    socket_errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu: float | None = None  # seconds of CPU the gunicorn workers used during the run
    client_cpu: float | None = None  # seconds of CPU the load generator used

    @property
    def answered(self) -> int:
        return self.requests + self.bad

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Csrf:
    cookie: str  # the value of the csrftoken cookie
    token: str  # the masked token of the form's csrfmiddlewaretoken field


@dataclass
class Server:
    """One gunicorn: its port, its workers (for the CPU figures) and its log."""

    port: int
    workers: list[int] = field(default_factory=list)
    log: Path | None = None

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace").strip() if self.log and self.log.exists() else ""
        return f"\ngunicorn's log ends with:\n{text[-chars:]}" if text else ""


@dataclass
class Bench:
    """The shared state of one run: the servers, CSRF pair, the counted 303s per e-mail prefix."""

    servers: dict[str, Server]
    csrf: Csrf
    counted: dict[str, int] = field(default_factory=dict)
    petitions: dict[str, object] = field(default_factory=dict)

    def server(self, endpoint: Endpoint) -> Server:
        return self.servers[endpoint.server]

    def body_template(self, prefix: str) -> str:
        """The urlencoded form with ``%s`` for the form token and ``%d`` twice in the e-mail address (client
        id, request number).

        As a browser sends it: a form token of the endpoint's petition and the empty honeypot included.
        Both the Lua script and the Python client fill it with printf-style formatting, so every
        other ``%`` of the urlencoded body is doubled.
        """
        fields = {**SIGNER, "next": NEXT_URL, "csrfmiddlewaretoken": self.csrf.token, "website": ""}
        return urlencode(fields).replace("%", "%%") + f"&form_token=%s&email={quote(prefix)}-%d-%d%%40bench.example"

    def tokens(self, endpoint: Endpoint, count: int) -> list[str]:
        """``count`` form tokens of the endpoint's petition, urlencoded: one per POST (see aged_form_tokens)."""
        if endpoint.slug not in self.petitions:
            from django.db import connections

            from petition_widget.models import Petition

            self.petitions[endpoint.slug] = Petition.objects.only("pk").get(slug=endpoint.slug)
            connections.close_all()
        return aged_form_tokens(self.petitions[endpoint.slug], count)


def aged_form_tokens(petition, count: int) -> list[str]:
    """``count`` form tokens of the petition's form as if rendered FORM_AGE_SECONDS ago, made with the site's
    key, urlencoded for the body.

    A form token is good for one signature (its nonce is spent in the cache), and a signer takes more than
    SIGN_MIN_SECONDS over the form: so the load generator is handed a pool of distinct tokens made earlier,
    as petition_widget.abuse itself makes them, and posts each once.
    """
    from petition_widget.abuse import make_form_token

    issued_at = time.time() - FORM_AGE_SECONDS
    return [quote(make_form_token(petition, issued_at=issued_at), safe="") for _ in range(count)]


def pool_size(seconds: float) -> int:
    """Tokens enough for the POSTs of ``seconds`` (more than two workers answer, even the bare view)."""
    return int(max(seconds, 1) * TOKENS_PER_SECOND) + 1000


# --- the server -----------------------------------------------------------------------------------


def scratch_database_url(url: str) -> str:
    """``url`` with the scratch database's name in place of the one it names."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{PG_DATABASE}"))


def prepare_environment(tmp: Path, port: int, cache_url: str = "", database_url: str = "") -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": scratch_database_url(database_url) if database_url else f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SITE_URL": f"http://{HOST}:{port}",
        **SERVER_SETTINGS["checked"],
        # gunicorn's control socket defaults to ~/.gunicorn; keep it in the temporary directory.
        "XDG_RUNTIME_DIR": str(tmp),
    }
    # The upstream emulator of the forwarding phase (run_upstream_phase), on a port chosen now so that the
    # settings of every process point at it.
    emulator_url = f"http://{HOST}:{free_port()}"
    env.update(
        {
            "PW_BENCH_EMULATOR_URL": emulator_url,
            **emulator_env(emulator_url),
        }
    )
    if cache_url:
        env["CACHE_URL"] = cache_url
    # SIGN_MIN_SECONDS stays at the example site's default, whatever the calling shell says.
    for name in ("SIGN_MIN_SECONDS", "TRUSTED_PROXY_COUNT", "CACHE_URL"):
        if name not in env:
            os.environ.pop(name, None)
    os.environ.update(env)
    return dict(os.environ)


def setup_database(wal: bool = False) -> None:
    """Migrate the fresh database (SQLite file or PostgreSQL scratch database), add the petition every sign
    POST goes to."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from petition_widget.models import Petition, Provider

    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
    if wal and connections["default"].vendor == "sqlite":
        # The journal mode is stored in the database file: every later connection uses it too.
        with connections["default"].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    fields = {
        "title": "Bring back the trees of the high street",
        "overview": OVERVIEW,
        "letter_body": "Please replant the high street with trees chosen together with its residents.",
        "url": "https://www.change.org/p/bring-back-the-trees",
        "status": "open",
        "goal": 5000,
        "signature_count": 1234,
        "targets": [{"name": "Town council", "type": "custom"}],
        "creator_name": "Friends of the High Street",
    }
    Petition.objects.create(
        provider=Provider.CHANGEORG, upstream_id="48503", slug=SLUG, raw={"petition_id": 48503, **fields}, **fields
    )
    connections.close_all()


def start_gunicorn(tmp: Path, port: int, env: dict[str, str], name: str = "gunicorn") -> subprocess.Popen:
    log = open(tmp / f"{name}.log", "wb")  # closed in stop_gunicorn, with the process
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers=2",
        "--worker-class=sync",
        f"--bind={HOST}:{port}",
        f"--pythonpath={REPO}",
        f"--worker-tmp-dir={tmp}",
        "--log-level=warning",
        "--timeout=60",
        "example_project.wsgi:application",
    ]
    process = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if http_request(port, "GET", "/bench/bare/")[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    stop_gunicorn(process)
    sys.exit("gunicorn did not start:\n" + (tmp / f"{name}.log").read_text(errors="replace")[-3000:])


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.close()  # type: ignore[attr-defined]


def http_request(port: int, method: str, path: str, body: str = "", headers: dict | None = None):
    conn = HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body.encode(), headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read().decode(errors="replace")
    finally:
        conn.close()


CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def parse_csrf(headers: list[tuple[str, str]], html: str) -> Csrf:
    cookie = next(
        (v.split(";", 1)[0].split("=", 1)[1] for k, v in headers if k.lower() == "set-cookie" and "csrftoken=" in v),
        None,
    )
    match = CSRF_FIELD.search(html)
    if not cookie or not match:
        sys.exit("The form page set no csrftoken cookie or has no csrfmiddlewaretoken field.")
    return Csrf(cookie=cookie, token=match.group(1))


def fetch_csrf(port: int) -> Csrf:
    status, headers, html = http_request(port, "GET", f"/petitions/{SLUG}/")
    if status != 200:
        sys.exit(f"GET /petitions/{SLUG}/ answered {status}, not 200.")
    if 'name="form_token"' not in html or 'name="website"' not in html:
        sys.exit("The form page has no form token or no honeypot.")
    return parse_csrf(headers, html)


# --- CPU accounting ---------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the master's child processes (Linux /proc; empty elsewhere)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(entry.parent.name))
    return pids


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the load generators ----------------------------------------------------------------------------


def run_wrk(bench: Bench, endpoint: Endpoint, prefix: str, seconds: float, concurrency: int) -> RunResult:
    # One thread: one Lua state, which posts each token of the file once.
    pool = Path(tempfile.mkstemp(prefix="pw-tokens-", suffix=".txt")[1])
    pool.write_text("\n".join(bench.tokens(endpoint, pool_size(seconds))) + "\n")
    command = [
        "wrk",
        "--threads=1",
        f"--connections={concurrency}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=30s",
        f"--script={LUA_SCRIPT}",
        bench.server(endpoint).origin + endpoint.path,
        "--",
        str(endpoint.expected),
        endpoint.path,
        f"csrftoken={bench.csrf.cookie}",
        bench.server(endpoint).origin,
        bench.body_template(prefix),
        str(pool),
    ]
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        pool.unlink()
    line = next((x for x in output.stdout.splitlines() if x.startswith("BENCH ")), None)
    if output.returncode != 0 or line is None:
        sys.exit(f"wrk failed ({output.returncode}):\n{output.stdout}\n{output.stderr}")
    values = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    return RunResult(
        requests=values["requests"] - values["bad"],
        seconds=values["duration_us"] / 1e6,
        bad=values["bad"],
        first_bad=values["first_bad"],
        socket_errors=values["connect"] + values["read"] + values["write"] + values["timeout"],
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
    )


def _python_client(args: tuple) -> None:
    """One connection's worth of load: request after request, each on a new connection (:func:`post_once`)."""
    port, head, template, tokens, client_id, expected, start_at, deadline, out = args
    ok = bad = first_bad = errors = n = 0
    time.sleep(max(0.0, start_at - time.monotonic()))
    while time.monotonic() < deadline and n < len(tokens):
        n += 1
        try:
            status = post_once(port, head, (template % (tokens[n - 1], client_id, n)).encode())
        except OSError:
            errors += 1
            continue
        if time.monotonic() > deadline:
            break
        if status == expected:
            ok += 1
        else:
            bad += 1
            first_bad = first_bad or status
    out.put((ok, bad, first_bad, errors))


def run_python(bench: Bench, endpoint: Endpoint, prefix: str, seconds: float, concurrency: int) -> RunResult:
    server = bench.server(endpoint)
    head = form_post_head(server.port, endpoint.path, server.origin, bench.csrf.cookie)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.monotonic() + 0.3
    deadline = start_at + seconds
    template = bench.body_template(prefix)
    processes = [
        context.Process(
            target=_python_client,
            args=(
                (
                    server.port,
                    head,
                    template,
                    bench.tokens(endpoint, pool_size(seconds)),
                    i + 1,
                    endpoint.expected,
                    start_at,
                    deadline,
                    out,
                ),
            ),
        )
        for i in range(concurrency)
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join()
    return RunResult(
        requests=sum(r[0] for r in results),
        seconds=seconds,
        bad=sum(r[1] for r in results),
        first_bad=next((r[2] for r in results if r[2]), 0),
        socket_errors=sum(r[3] for r in results),
    )


# --- the benchmark ----------------------------------------------------------------------------------


def measure(bench: Bench, client, endpoint: Endpoint, prefix: str, seconds: float, concurrency: int) -> RunResult:
    server = bench.server(endpoint)
    server_before, client_before = process_cpu(server.workers), children_cpu()
    result = client(bench, endpoint, prefix, seconds, concurrency)
    server_after = process_cpu(server.workers)
    if server_before is not None and server_after is not None:
        result.server_cpu = server_after - server_before
    result.client_cpu = children_cpu() - client_before
    bench.counted[prefix] = result.requests
    if result.bad or result.socket_errors:
        raise SystemExit(
            f"{endpoint.label}: {result.bad} answer(s) other than {endpoint.expected} (first: "
            f"{result.first_bad or 'no status'}), {result.socket_errors} socket error(s). Stopped." + server.log_tail()
        )
    return result


def check_rows(bench: Bench, concurrency: int) -> None:
    """Every counted 303 must have stored its row; only the requests in flight at a deadline add more."""
    from django.db import connections

    from petition_widget.models import Signature

    for prefix, counted in bench.counted.items():
        if prefix.startswith("bare"):
            continue
        stored = Signature.objects.filter(email__startswith=f"{prefix}-").count()
        if not counted <= stored <= counted + concurrency:
            raise SystemExit(f"{prefix}: {counted} answers counted as 303, but {stored} rows stored.")
    connections.close_all()


def report(results: dict[str, list[RunResult]], target: float) -> None:
    keys = [e.key for e in ENDPOINTS]
    rates = {key: [r.rate for r in results[key]] for key in keys}
    print(f"\n{'round':>14}  " + "  ".join(f"{key:>9}" for key in keys) + "   (requests per second)")
    for i in range(len(rates["ours"])):
        print(f"{i + 1:>14}  " + "  ".join(f"{rates[key][i]:>9.1f}" for key in keys))

    def row(label: str, values: dict[str, float | None], digits: int = 1) -> None:
        if all(v is not None for v in values.values()):
            print(f"{label:>14}  " + "  ".join(f"{values[key]:>9.{digits}f}" for key in keys))

    def median_of(getter) -> dict[str, float | None]:
        out = {}
        for key in keys:
            values = [getter(r) for r in results[key]]
            out[key] = statistics.median(values) if None not in values else None
        return out

    medians = {key: statistics.median(rates[key]) for key in keys}
    row("median req/s", medians)
    row("p50 latency ms", median_of(lambda r: r.p50_ms))
    row("p99 latency ms", median_of(lambda r: r.p99_ms))
    server = median_of(lambda r: r.server_cpu / r.answered * 1000 if r.server_cpu is not None else None)
    row("server CPU ms/r", server, 2)
    row("workers busy %", median_of(lambda r: r.server_cpu / r.seconds / 2 * 100 if r.server_cpu else None), 0)
    row("client CPU ms/r", median_of(lambda r: r.client_cpu / r.answered * 1000 if r.client_cpu else None), 2)

    per_round = [o / m for o, m in zip(rates["ours"], rates["minimal"], strict=True)]
    ours_minimal = medians["ours"] / medians["minimal"]
    print(
        f"\nours / minimal = {ours_minimal:.3f}  (per round {min(per_round):.2f} to {max(per_round):.2f}; "
        f"target {target:.2f}: {'met' if ours_minimal >= target else 'NOT met'})"
    )
    print(f"ours / bare    = {medians['ours'] / medians['bare']:.2f}")
    print(f"minimal / bare = {medians['minimal'] / medians['bare']:.2f}")
    on_off = [o / u for o, u in zip(rates["ours"], rates["unchecked"], strict=True)]
    print(
        f"checks on / off = {medians['ours'] / medians['unchecked']:.3f}  (per round {min(on_off):.2f} to "
        f"{max(on_off):.2f}); ours with the checks off / minimal = {medians['unchecked'] / medians['minimal']:.3f}"
    )
    if server["ours"] and server["minimal"]:
        print(
            f"by server CPU per request: ours / minimal = {server['minimal'] / server['ours']:.2f}, "
            f"ours / bare = {server['bare'] / server['ours']:.2f}"
        )
    if server["ours"] and server["unchecked"]:
        print(
            f"by server CPU per request: checks on / off = {server['unchecked'] / server['ours']:.2f} "
            f"(the checks: {server['ours'] - server['unchecked']:+.2f} ms a sign POST)"
        )


def run_load(args, tmp: Path, port: int, env: dict[str, str]) -> None:
    client = {"wrk": run_wrk, "python": run_python}[args.client]
    # A second gunicorn on the same database with the abuse checks off: measured in the same rounds, idle
    # (its workers asleep in accept) while the others are measured.
    unchecked_port = free_port()
    unchecked_env = {**env, **SERVER_SETTINGS["unchecked"], "SITE_URL": f"http://{HOST}:{unchecked_port}"}
    processes = {"checked": start_gunicorn(tmp, port, env)}
    try:
        processes["unchecked"] = start_gunicorn(tmp, unchecked_port, unchecked_env, "gunicorn-unchecked")
        servers = {}
        for name, server_port in (("checked", port), ("unchecked", unchecked_port)):
            log = tmp / ("gunicorn.log" if name == "checked" else "gunicorn-unchecked.log")
            server = Server(server_port, worker_pids(processes[name].pid), log)
            if len(server.workers) != 2:
                print(f"warning: found {len(server.workers)} {name} gunicorn workers, not 2; no CPU figures")
                server.workers = []
            servers[name] = server
        bench = Bench(servers=servers, csrf=fetch_csrf(port))
        for endpoint in ENDPOINTS:
            measure(bench, client, endpoint, f"{endpoint.key}-warmup", 2, args.concurrency)
        results: dict[str, list[RunResult]] = {e.key: [] for e in ENDPOINTS}
        for round_no in range(args.rounds):
            # Rotating the order keeps any endpoint from always running right after the same other one.
            shift = round_no % len(ENDPOINTS)
            order = ENDPOINTS[shift:] + ENDPOINTS[:shift]
            line = []
            for endpoint in order:
                result = measure(
                    bench, client, endpoint, f"{endpoint.key}-r{round_no + 1}", args.seconds, args.concurrency
                )
                results[endpoint.key].append(result)
                line.append(f"{endpoint.key} {result.rate:.0f}/s")
            print(f"round {round_no + 1}/{args.rounds}: " + ", ".join(line), flush=True)
        upstream = run_upstream_phase(bench, client, args, tmp, env) if args.upstream_rounds else None
    finally:
        for process in processes.values():
            stop_gunicorn(process)
    check_rows(bench, args.concurrency)
    report(results, TARGET_RATIO_REDIS if args.cache_url.startswith(("redis://", "rediss://")) else TARGET_RATIO)
    if upstream:
        report_upstream(*upstream)


# --- the sign POST with the upstream up and down ------------------------------------------------------


def run_upstream_phase(bench: Bench, client, args, tmp: Path, env: dict[str, str]):
    """The sign POST beside a forwarding worker, with the upstream (the emulator) up and then down.

    The sign path never calls the upstream, so its latency must not depend on whether the upstream
    answers. A ``forward_signatures`` worker runs the whole time with the default settings (rate limit
    included), relaying to the emulator when it is up and retrying with backoff while it is down.
    """
    from django.db import connections

    from petition_widget.petitions import add_petition

    emulator_url = env["PW_BENCH_EMULATOR_URL"]
    manage = [sys.executable, str(REPO / "manage.py")]
    logs = [open(tmp / "emulator.log", "wb"), open(tmp / "worker.log", "wb")]  # noqa: SIM115  (closed below)
    port = int(emulator_url.rsplit(":", 1)[1])
    worker = None
    emulator = None

    try:
        emulator, control = start_emulator(
            lambda command: subprocess.Popen(command, cwd=REPO, env=env, stdout=logs[0], stderr=subprocess.STDOUT),
            port,
            what="the upstream emulator",
            seconds=30,
        )
        add_petition("changeorg", FORWARD_PETITION, slug=FORWARD_SLUG)
        connections.close_all()
        worker = subprocess.Popen(
            [*manage, "forward_signatures", "--concurrency=4", "--poll-interval=0.5", "--worker-id=bench-sign"],
            cwd=REPO,
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        endpoints = {
            "up": Endpoint("up", "ours, upstream up", f"/petitions/{FORWARD_SLUG}/", 303, slug=FORWARD_SLUG),
            "down": Endpoint("down", "ours, upstream down", f"/petitions/{FORWARD_SLUG}/", 303, slug=FORWARD_SLUG),
        }
        print(
            f"\nsign POST beside a forwarding worker, upstream up and down: {args.upstream_rounds} rounds × "
            f"{args.seconds:g} s each",
            flush=True,
        )
        measure(bench, client, endpoints["up"], "upstream-warmup", 2, args.concurrency)
        results: dict[str, list[RunResult]] = {"up": [], "down": []}
        counts = {"up": {}, "down": {}}
        for round_no in range(args.upstream_rounds):
            order = ("up", "down") if round_no % 2 == 0 else ("down", "up")
            for key in order:
                control.faults(down=key == "down")
                before = control.stats()
                results[key].append(
                    measure(bench, client, endpoints[key], f"{key}-r{round_no + 1}", args.seconds, args.concurrency)
                )
                after = control.stats()
                for name in ("accepted", "down_answers"):
                    counts[key][name] = counts[key].get(name, 0) + after[name] - before[name]
            print(
                f"round {round_no + 1}/{args.upstream_rounds}: "
                + ", ".join(f"{key} {results[key][-1].rate:.0f}/s" for key in ("up", "down")),
                flush=True,
            )
        return results, counts
    finally:
        stop_processes([process for process in (worker, emulator) if process is not None])
        for log in logs:
            log.close()


def report_upstream(results: dict[str, list[RunResult]], counts: dict[str, dict[str, int]]) -> None:
    def median(key: str, getter) -> float | None:
        values = [getter(r) for r in results[key]]
        return statistics.median(values) if values and None not in values else None

    print(f"\n{'':>24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   worker meanwhile")
    for key, label in (("up", "upstream up"), ("down", "upstream down")):
        p50, p99 = median(key, lambda r: r.p50_ms), median(key, lambda r: r.p99_ms)
        print(
            f"{label:>24} {median(key, lambda r: r.rate):>8.1f} {p50 if p50 is not None else float('nan'):>8.2f} "
            f"{p99 if p99 is not None else float('nan'):>8.2f}   {counts[key]['accepted']} accepted upstream, "
            f"{counts[key]['down_answers']} refused by the outage"
        )
    up, down = median("up", lambda r: r.p50_ms), median("down", lambda r: r.p50_ms)
    if up and down:
        print(f"p50 down / up = {down / up:.2f}", end="   ")
    print(f"req/s down / up = {median('down', lambda r: r.rate) / median('up', lambda r: r.rate):.2f}")


# --- the in-process profile -------------------------------------------------------------------------


def wsgi_call(handler, method: str, path: str, body: bytes = b"", cookie: str = "", origin: str = ""):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": f"{HOST}:8000",
        "REMOTE_ADDR": HOST,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        environ["CONTENT_LENGTH"] = str(len(body))
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    if origin:
        environ["HTTP_ORIGIN"] = origin
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status[:3])
        captured["headers"] = headers

    response = handler(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()  # request_finished: closes the database connection, as under gunicorn
    return captured["status"], captured["headers"], content.decode(errors="replace")


class InProcess:
    """The endpoints called through Django's WSGI handler, numbered like the HTTP load.

    This process has the settings of the "checked" server; "unchecked" endpoints run inside
    :meth:`configured`, which turns the abuse checks off as that server's environment does.
    """

    def __init__(self) -> None:
        from django.core.wsgi import get_wsgi_application

        self.handler = get_wsgi_application()
        status, headers, html = wsgi_call(self.handler, "GET", f"/petitions/{SLUG}/")
        if status != 200:
            raise SystemExit(f"In-process GET of the form answered {status}.")
        server = Server(port=8000)
        self.bench = Bench(servers={"checked": server, "unchecked": server}, csrf=parse_csrf(headers, html))
        self.cookie = f"csrftoken={self.bench.csrf.cookie}"
        self.templates = {}
        self.numbers = {}
        self.pool: list[str] = []

    def call(self, endpoint: Endpoint, prefix: str) -> None:
        if prefix not in self.templates:
            self.templates[prefix] = self.bench.body_template(prefix)
            self.numbers[prefix] = 0
        self.numbers[prefix] += 1
        if not self.pool:
            self.pool = self.bench.tokens(ENDPOINTS[0], 1000)
        body = (self.templates[prefix] % (self.pool.pop(), 0, self.numbers[prefix])).encode()
        origin = self.bench.server(endpoint).origin
        status = wsgi_call(self.handler, "POST", endpoint.path, body, self.cookie, origin)[0]
        if status != endpoint.expected:
            raise SystemExit(f"In-process {endpoint.label} answered {status}, not {endpoint.expected}.")

    @staticmethod
    def configured(endpoint: Endpoint):
        """The settings ``endpoint`` runs with: those of this process, or with the abuse checks off."""
        from django.conf import settings
        from django.test.utils import override_settings

        if endpoint.server == "checked":
            return contextlib.nullcontext()
        values = {key: int(value) for key, value in SERVER_SETTINGS[endpoint.server].items()}
        return override_settings(PETITION_WIDGET={**settings.PETITION_WIDGET, **values})


def code_key(function) -> tuple[str, int, str]:
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


PROFILE_STEPS = (
    # (label, depth, "module:qualified.name"); steps the code no longer has are left out of the table.
    ("whole request (WSGIHandler.__call__)", 0, "django.core.handlers.wsgi:WSGIHandler.__call__"),
    ("database connect (a new connection per request)", 1, "django.db.backends.base.base:BaseDatabaseWrapper.connect"),
    ("CsrfViewMiddleware.process_view", 1, "django.middleware.csrf:CsrfViewMiddleware.process_view"),
    ("request.POST parsing", 2, "django.http.request:HttpRequest._load_post_and_files"),
    ("view dispatch", 1, "django.views.generic.base:View.dispatch"),
    ("minimal_sign view", 1, "bench.views:minimal_sign"),
    ("get_object_or_404(Petition)", 2, "django.shortcuts:get_object_or_404"),
    ("url_has_allowed_host_and_scheme(next)", 2, "django.utils.http:url_has_allowed_host_and_scheme"),
    ("SignatureForm.__init__ (deep copy of the fields)", 2, "petition_widget.forms:SignatureForm.__init__"),
    ("form.full_clean", 2, "django.forms.forms:BaseForm.full_clean"),
    ("_clean_fields", 3, "django.forms.forms:BaseForm._clean_fields"),
    ("clean_text (NFC, control characters)", 4, "petition_widget.forms:clean_text"),
    ("name/city/region validators", 4, "petition_widget.forms:validate_name"),
    ("EmailValidator", 4, "django.core.validators:EmailValidator.__call__"),
    ("CountryCodeField.valid_value", 4, "petition_widget.forms:CountryCodeField.valid_value"),
    ("ChangeorgSignatureForm.clean (phone)", 3, "petition_widget.forms:ChangeorgSignatureForm.clean"),
    ("phonenumbers.parse", 4, "phonenumbers:parse"),
    ("phonenumbers.is_valid_number", 4, "phonenumbers:is_valid_number"),
    ("phonenumbers.format_number", 4, "phonenumbers:format_number"),
    ("abuse checks: ProtectionForm.__init__", 2, "petition_widget.abuse:ProtectionForm.__init__"),
    ("abuse checks: ProtectionForm.refusal (honeypot, token)", 2, "petition_widget.abuse:ProtectionForm.refusal"),
    ("check_form_token (the token's HMAC)", 3, "petition_widget.abuse:check_form_token"),
    ("abuse checks: client_hash (the address's HMAC)", 2, "petition_widget.clients:client_hash"),
    ("abuse checks: RateLimiter.take (cache, both limits)", 2, "petition_widget.ratelimit:RateLimiter.take"),
    ("abuse checks: take_together (Redis: token and limits)", 2, "petition_widget.ratelimit:take_together"),
    ("signing.sign", 2, "petition_widget.signing:sign"),
    ("count_new_signature (counter UPDATE)", 3, "petition_widget.models:count_new_signature"),
    ("on_signature_stored (forwarding wake)", 3, "petition_widget.forwarding.wake:on_signature_stored"),
    ("SignView.save_signature", 2, "petition_widget.views:SignView.save_signature"),
    ("build_signature", 3, "petition_widget.signing:build_signature"),
    ("Atomic.__enter__ (BEGIN)", 3, "django.db.transaction:Atomic.__enter__"),
    ("Atomic.__exit__ (COMMIT)", 3, "django.db.transaction:Atomic.__exit__"),
    ("Model.save", 2, "django.db.models:Model.save"),
    ("SQLInsertCompiler.execute_sql (INSERT)", 3, "django.db.models.sql.compiler:SQLInsertCompiler.execute_sql"),
    ("thanks_url", 2, "petition_widget.views:thanks_url"),
    ("database close (request_finished)", 1, "django.db.backends.base.base:BaseDatabaseWrapper.close"),
)


def resolve(target: str):
    """The function named ``module:qualified.name``, or None when the code no longer has it."""
    import importlib

    module_name, _, qualname = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    obj = inspect.unwrap(obj) if callable(obj) else obj
    return obj if hasattr(obj, "__code__") else None


def short_path(filename: str) -> str:
    stdlib = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/"
    for marker in ("site-packages/", str(REPO) + "/", stdlib):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def run_profile(requests: int) -> None:
    from django.db import connections

    inproc = InProcess()
    by_key = {e.key: e for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        with inproc.configured(endpoint):
            for _ in range(50):
                inproc.call(endpoint, f"{endpoint.key}-pwarm")

    # Time without a profiler first: interleaved batches, median per endpoint.
    batches, batch = 7, max(20, requests // 5)
    timings: dict[str, list[float]] = {e.key: [] for e in ENDPOINTS}
    for _ in range(batches):
        for endpoint in ENDPOINTS:
            with inproc.configured(endpoint):
                start = time.process_time()
                for _ in range(batch):
                    inproc.call(endpoint, f"{endpoint.key}-ptime")
                timings[endpoint.key].append((time.process_time() - start) / batch * 1e6)
    per_request = {key: statistics.median(values) for key, values in timings.items()}
    print(f"\nIn-process, one process, no profiler ({batches} batches of {batch}; median CPU µs per request):")
    for endpoint in ENDPOINTS:
        print(f"  {endpoint.label:<20} {per_request[endpoint.key]:8.0f} µs")
    print(
        f"  minimal / ours time = {per_request['minimal'] / per_request['ours']:.2f}   "
        f"ours − minimal = {per_request['ours'] - per_request['minimal']:.0f} µs   "
        f"minimal − bare = {per_request['minimal'] - per_request['bare']:.0f} µs   "
        f"checks on − off = {per_request['ours'] - per_request['unchecked']:.0f} µs"
    )

    stats = {}
    for key in ("ours", "minimal"):
        # The default wall-clock timer: a CPU-time timer costs a system call per event and would
        # inflate call-heavy code (query compilation) far beyond its real share.
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            inproc.call(by_key[key], f"{key}-prof")
        profiler.disable()
        stats[key] = pstats.Stats(profiler).stats

    def cumulative(key: str, function) -> float | None:
        entry = stats[key].get(code_key(function))
        return entry[3] / requests * 1e6 if entry else None

    whole = {key: cumulative(key, resolve(PROFILE_STEPS[0][2])) for key in stats}

    def cell(key: str, value: float | None) -> str:
        if value is None:
            return f"{'':>8} {'':>6}"
        return f"{value:8.0f} {value / whole[key] * 100:5.1f}%"

    print(
        f"\ncProfile, {requests} requests each: cumulative µs per request under the profiler, and the share of the"
        "\nwhole request (share × the unprofiled time above ≈ the step's real cost). Nested rows are part of the"
        "\nrow above."
    )
    print(f"  {'step':<58} {'ours':>15} {'minimal':>15}")
    for label, depth, target in PROFILE_STEPS:
        function = resolve(target)
        if function is None:
            continue
        ours, minimal = cumulative("ours", function), cumulative("minimal", function)
        if ours is None and minimal is None:
            continue
        print(f"  {'  ' * depth + label:<58} {cell('ours', ours)} {cell('minimal', minimal)}")

    print("\nTop functions of the sign POST by cumulative time (µs per request, calls per request):")
    harness = {code_key(InProcess.call), code_key(wsgi_call)}
    rows = sorted(
        ((key, value) for key, value in stats["ours"].items() if key not in harness and key[0] != "~"),
        key=lambda item: item[1][3],
        reverse=True,
    )
    print(f"  {'cumulative':>10} {'own':>7} {'calls':>7}  function")
    for (filename, line, name), (_, calls, own, cum, _) in rows[:40]:
        print(
            f"  {cum / requests * 1e6:>10.0f} {own / requests * 1e6:>7.0f} {calls / requests:>7.1f}  "
            f"{short_path(filename)}:{line} {name}"
        )
    own_rows = sorted(stats["ours"].items(), key=lambda item: item[1][2], reverse=True)
    print("\nTop functions of the sign POST by own time:")
    print(f"  {'cumulative':>10} {'own':>7} {'calls':>7}  function")
    for (filename, line, name), (_, calls, own, cum, _) in own_rows[:15]:
        print(
            f"  {cum / requests * 1e6:>10.0f} {own / requests * 1e6:>7.0f} {calls / requests:>7.1f}  "
            f"{short_path(filename)}:{line} {name}"
        )
    connections.close_all()


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the four endpoints (default 10)")
    parser.add_argument(
        "--seconds", type=float, default=4, help="seconds per endpoint and round (default 4; whole seconds with wrk)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--db-dir",
        default="/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None,
        help="where the temporary directory with the SQLite file goes (default /dev/shm, memory: see docs)",
    )
    parser.add_argument(
        "--wal",
        action="store_true",
        help="put the SQLite file in WAL mode (the example site leaves it in rollback mode)",
    )
    parser.add_argument(
        "--cache-url",
        default="",
        help="CACHE_URL of the servers, which holds the rate-limit counters (default: the example site's, "
        "local memory per worker; e.g. redis://127.0.0.1:6379/1)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server (postgres://USER@HOST:PORT/DB) to run on instead of SQLite; the scratch "
        f"database {PG_DATABASE} on it is dropped and created again, and dropped at the end",
    )
    parser.add_argument(
        "--upstream-rounds",
        type=int,
        default=3,
        help="rounds of the sign POST beside a forwarding worker with the upstream up, then down (default 3; 0: none)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile the sign POST in-process")
    parser.add_argument("--profile-requests", type=int, default=500, help="requests profiled (default 500)")
    args = parser.parse_args()
    if (
        args.rounds < 0
        or args.upstream_rounds < 0
        or args.seconds <= 0
        or args.concurrency < 1
        or args.profile_requests < 1
    ):
        parser.error(
            "--rounds and --upstream-rounds must be 0 or more; --seconds, --concurrency and --profile-requests positive"
        )
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (Debian: apt-get install wrk); use --client python")

    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// URL")
    if args.database_url:
        pg_admin(args.database_url, f"DROP DATABASE IF EXISTS {PG_DATABASE}", f"CREATE DATABASE {PG_DATABASE}")
    tmp = Path(tempfile.mkdtemp(prefix="pw-bench-", dir=args.db_dir))
    try:
        port = free_port()
        env = prepare_environment(tmp, port, args.cache_url, args.database_url)
        setup_database(wal=args.wal)
        import django
        import gunicorn
        from django.conf import settings

        from petition_widget.conf import app_settings

        print(
            f"Sign POST benchmark: Django {django.get_version()}, Python {sys.version.split()[0]}, "
            f"gunicorn {gunicorn.__version__} (2 sync workers), {database_label(args, tmp)}, "
            f"{os.cpu_count()} CPUs; abuse checks on "
            f"(SIGN_MIN_SECONDS {app_settings.SIGN_MIN_SECONDS}, limits {CHECKED_LIMIT} an hour per address and a "
            f"minute per petition, counted in {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}) "
            "beside a server with them off"
        )
        if args.rounds:
            how = "wrk, 1 thread" if args.client == "wrk" else f"{args.concurrency} Python processes"
            if args.client == "python" and not shutil.which("wrk"):
                how += " (wrk not installed: apt-get install wrk for a lighter load generator)"
            print(
                f"load: {how}; concurrency {args.concurrency}; {args.rounds} rounds × {args.seconds:g} s per endpoint",
                flush=True,
            )
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
            if load > 0.5:
                print(f"warning: load average {load:.2f} before the run; other processes share the CPUs", flush=True)
            run_load(args, tmp, port, env)
            if hasattr(os, "getloadavg"):
                print(f"load average (1 min) before the run {load:.2f}, after {os.getloadavg()[0]:.2f}")
        if args.profile:
            run_profile(args.profile_requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.database_url:
            from django.db import connections

            connections.close_all()
            pg_admin(args.database_url, f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def database_label(args, tmp: Path) -> str:
    if args.database_url:
        from django.db import connection

        version = connection.cursor().connection.info.server_version
        connection.close()
        return f"PostgreSQL {version // 10000}.{version % 10000} (database {PG_DATABASE})"
    return f"SQLite file in {tmp} ({'WAL' if args.wal else 'rollback journal'})"


if __name__ == "__main__":
    main()
