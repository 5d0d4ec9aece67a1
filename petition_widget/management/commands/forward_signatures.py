"""``manage.py forward_signatures``: relay stored signatures to their upstream platforms."""

from __future__ import annotations

import argparse
import signal
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from petition_widget.forwarding.worker import Worker, WorkerOptions

MAX_CONCURRENCY = 64
MAX_BATCH_SIZE = 1000


def _bounded_int(low: int, high: int):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def _positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < number <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return number


def _worker_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64:
        raise argparse.ArgumentTypeError("must be 1 to 64 characters")
    return value


class Command(BaseCommand):
    help = (
        "Forward stored signatures to Change.org or We the People. Runs until SIGTERM or SIGINT (it then "
        "finishes the requests in flight and releases what it had claimed); --once drains what is due and exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Forward what is due now, then exit.")
        parser.add_argument(
            "--batch-size",
            type=_bounded_int(1, MAX_BATCH_SIZE),
            default=50,
            help="Signatures claimed per database transaction (default 50).",
        )
        parser.add_argument(
            "--concurrency",
            type=_bounded_int(1, MAX_CONCURRENCY),
            default=4,
            help="Upstream requests in flight at once, one thread and HTTP session each (default 4).",
        )
        parser.add_argument(
            "--worker-id",
            type=_worker_id,
            default=None,
            help="Name written on the claimed rows and in the attempt log; unique per worker "
            "(default: host, process id and a random suffix).",
        )
        parser.add_argument(
            "--poll-interval",
            type=_positive_seconds,
            default=None,
            help="Seconds to sleep when nothing is due (default: the POLL_INTERVAL setting).",
        )

    def handle(self, *args, **options) -> None:
        close_old_connections()
        worker = Worker(
            WorkerOptions.from_settings(
                worker_id=options["worker_id"],
                concurrency=options["concurrency"],
                batch_size=options["batch_size"],
                poll_interval=options["poll_interval"],
                once=options["once"],
            )
        )
        # A --once run (from cron) says nothing at the default verbosity unless it forwarded something.
        quiet_start = worker.options.once and options["verbosity"] < 2
        if options["verbosity"] >= 1 and not quiet_start:
            self.stdout.write(
                f"Forwarding worker {worker.worker_id}: concurrency {worker.options.concurrency}, "
                f"batch {worker.options.batch_size}"
                + (", once" if worker.options.once else "; stop with Ctrl-C or SIGTERM")
            )
            self.stdout.flush()
        with _stop_on_signals(worker):
            stats = worker.run()
        if options["verbosity"] >= 1 and (stats or not quiet_start):
            counts = ", ".join(f"{name} {count}" for name, count in sorted(stats.items())) or "nothing due"
            self.stdout.write(f"Forwarding worker {worker.worker_id} stopped: {counts}.")


@contextmanager
def _stop_on_signals(worker: Worker):
    """First SIGINT/SIGTERM: stop cleanly. A second one: the default action (leases expire, nothing is lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)

    def handle(signum, frame) -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_DFL)
        worker.stop()

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
