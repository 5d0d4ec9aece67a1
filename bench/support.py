"""What the benchmark scripts share: ports, processes, the upstream emulator, PostgreSQL and /proc figures.

Each script runs as ``.venv/bin/python bench/<name>.py``; it puts the repository first on ``sys.path``
and then imports this module as ``bench.support``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from petition_widget.emulator.client import EmulatorClient

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MANAGE = [sys.executable, str(REPO / "manage.py")]
# The credentials the benchmarks' emulator and the site's clients share.
EMULATOR_API_KEY = "bench-api-key"
EMULATOR_SECRET = "bench-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """A TCP port on HOST that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def stop_processes(processes: list[subprocess.Popen], timeout: float = 30) -> None:
    """SIGTERM every process still running, then wait for each; one that does not stop in time is killed."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


class Processes:
    """The processes a benchmark starts, each writing its output to ``<name>.log`` in ``directory``.

    ``spawn`` starts one with the benchmark's environment in the repository; ``stop`` stops them all
    (:func:`stop_processes`) and closes their logs.
    """

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.running: list[subprocess.Popen] = []
        self._logs: list = []

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115  (closed by stop())
        self._logs.append(log)
        process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def log(self, name: str) -> str:
        """What the process ``name`` has written so far."""
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_processes(self.running)
        for log in self._logs:
            log.close()


def form_post_head(port: int, path: str, origin: str, csrf_cookie: str) -> bytes:
    """The head of a form POST as a browser sends it (Origin, the CSRF cookie), with ``%d`` for the length."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nOrigin: {origin}\r\n"
        f"Cookie: csrftoken={csrf_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: %d\r\nConnection: close\r\n\r\n"
    ).encode()


def post_once(port: int, head: bytes, body: bytes, timeout: float = 30) -> int:
    """Send one POST (``head`` from :func:`form_post_head`) on a new connection: the answer's status, 0 for
    an answer that is not HTTP; raises OSError.

    gunicorn's sync workers close the connection after every answer, so a new connection per request is
    what any client gets; a raw socket keeps the load generator's share of the CPUs small.
    """
    chunks = []
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(head % len(body) + body)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer[9:12]) if answer[:5] == b"HTTP/" and answer[9:12].isdigit() else 0


def wait_http(url: str, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    """Return once ``url`` answers at all; exit the script if ``process`` stops first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} stopped before it was ready")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    sys.exit(f"{what} did not answer at {url}")


def emulator_env(url: str) -> dict[str, str]:
    """The environment that points the example site's upstream clients at the emulator served at ``url``."""
    client = EmulatorClient(url)
    return {
        "CHANGEORG_API_URL": client.changeorg_url,
        "CHANGEORG_API_KEY": EMULATOR_API_KEY,
        "CHANGEORG_SECRET": EMULATOR_SECRET,
        "WETHEPEOPLE_API_URL": client.wethepeople_url,
        "WETHEPEOPLE_API_KEY": EMULATOR_API_KEY,
    }


def start_emulator(
    spawn: Callable[[list[str]], subprocess.Popen],
    port: int,
    *options: str,
    what: str = "the emulator",
    seconds: float = 60,
) -> tuple[subprocess.Popen, EmulatorClient]:
    """``manage.py upstream_emulator`` on ``port`` with the benchmarks' credentials, started by ``spawn`` (which
    adds the environment and the log), once it answers: the process and a control client (30-second timeout)."""
    process = spawn(
        [
            *MANAGE,
            "upstream_emulator",
            f"--port={port}",
            f"--api-key={EMULATOR_API_KEY}",
            f"--secret={EMULATOR_SECRET}",
            *options,
        ]
    )
    client = EmulatorClient(f"http://{HOST}:{port}", timeout=30)
    wait_http(client.control_url("stats"), process, what, seconds)
    return process, client


def pg_admin(pg_url: str, *statements: str) -> None:
    """Run statements on the PostgreSQL server of `pg_url`, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg  # only the PostgreSQL runs need the driver

    parts = urlsplit(pg_url)
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
        autocommit=True,
    ) as conn:
        for statement in statements:
            conn.execute(statement)


def process_cpu(pids: list[int]) -> float | None:
    """User plus system CPU seconds the processes have used, or None without /proc (or without pids)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS if pids else None


def most_in_any_window(times: list[float], window: float = 60.0) -> int:
    """The most of ``times`` (seconds) that fall within any one ``window``: an upstream limit's busiest stretch."""
    times = sorted(times)
    best = start = 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best
