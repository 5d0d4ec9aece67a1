"""``manage.py upstream_emulator``: serve the emulated Change.org and We the People APIs, and nothing else."""

from __future__ import annotations

import argparse
import signal
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from petition_widget.emulator.behaviour import (
    DEFAULT_API_KEY,
    DEFAULT_NEVER_VALIDATE,
    DEFAULT_READ_LIMIT,
    DEFAULT_SECRET,
    DEFAULT_VALIDATION_DELAY,
)
from petition_widget.emulator.server import EmulatorServer
from petition_widget.emulator.state import EmulatorState


class Command(BaseCommand):
    help = (
        "Serve the upstream emulator: Change.org v1 at /changeorg/v1/, We the People v1 at /wethepeople/v1/ "
        "and its control endpoints under /_emulator/ (e.g. /_emulator/signatures). Runs until SIGINT or SIGTERM."
    )
    requires_migrations_checks = False
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        # --help shows each option's default: the credentials a site needs are the defaults.
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8100, help="Port to listen on; 0 picks a free one.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="The API key both providers accept.")
        parser.add_argument(
            "--secret", default=DEFAULT_SECRET, help="The Change.org secret token (request signatures)."
        )
        parser.add_argument("--latency-ms", type=int, default=0, help="Delay added to every API answer.")
        parser.add_argument("--error-rate", type=float, default=0.0, help="Share of API calls answering 5xx (0-1).")
        parser.add_argument(
            "--timeout-rate",
            type=float,
            default=0.0,
            help="Share of API calls processed and then held back for --timeout-seconds (0-1).",
        )
        parser.add_argument("--timeout-seconds", type=float, default=30.0, help="How long a held-back answer waits.")
        parser.add_argument(
            "--rate-limit", type=int, default=0, help="Requests a minute per API key before 429; 0 means no limit."
        )
        parser.add_argument("--seed", type=int, default=None, help="Seed of the fault randomness.")
        parser.add_argument(
            "--validation-delay",
            type=float,
            default=DEFAULT_VALIDATION_DELAY,
            help="We the People: seconds until a signer follows the validation link and the signature counts "
            f"(default {DEFAULT_VALIDATION_DELAY:g}).",
        )
        parser.add_argument(
            "--never-validate",
            type=float,
            default=DEFAULT_NEVER_VALIDATE,
            help="We the People: share of signers who never validate (0-1, chosen by a hash of the e-mail; "
            f"default {DEFAULT_NEVER_VALIDATE:g}).",
        )
        parser.add_argument(
            "--read-limit",
            type=int,
            default=DEFAULT_READ_LIMIT,
            help=f"We the People: reads a second per client before 429; 0: no limit (default {DEFAULT_READ_LIMIT}).",
        )

    def handle(self, *args, **options) -> None:
        state = self._state(options)
        try:
            server = EmulatorServer(host=options["host"], port=options["port"], state=state).start()
        except OSError as error:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {error.strerror}") from error
        stop = threading.Event()
        with _stop_on_signals(stop):
            self.stdout.write(
                f"Upstream emulator at {server.url} (Change.org {server.url}/changeorg/v1, "
                f"We the People {server.url}/wethepeople/v1, signatures received {server.url}/_emulator/signatures); "
                f"API key {state.api_key!r}, secret {shown_secret(state.secret)}. Stop with Ctrl-C or SIGTERM."
            )
            self.stdout.flush()
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            finally:
                server.stop()
        self.stdout.write("Upstream emulator stopped.")

    def _state(self, options: dict) -> EmulatorState:
        problems = []
        if not 0 <= options["port"] <= 65535:
            problems.append("--port must be between 0 and 65535")
        for name in ("error_rate", "timeout_rate", "never_validate"):
            if not 0 <= options[name] <= 1:
                problems.append(f"--{name.replace('_', '-')} must be between 0 and 1")
        for name in ("latency_ms", "rate_limit", "timeout_seconds", "validation_delay", "read_limit"):
            if options[name] < 0:
                problems.append(f"--{name.replace('_', '-')} must be 0 or more")
        for name in ("api_key", "secret"):
            if not options[name]:
                problems.append(f"--{name.replace('_', '-')} must not be empty")
        if problems:
            raise CommandError("; ".join(problems))
        return EmulatorState(
            api_key=options["api_key"],
            secret=options["secret"],
            latency_ms=options["latency_ms"],
            error_rate=options["error_rate"],
            timeout_rate=options["timeout_rate"],
            rate_limit=options["rate_limit"],
            timeout_seconds=options["timeout_seconds"],
            seed=options["seed"],
            validation_delay=options["validation_delay"],
            never_validate=options["never_validate"],
            read_limit=options["read_limit"],
        )


def shown_secret(secret: str) -> str:
    """The default secret is public (README gives it), so it is printed; one given with --secret is not."""
    return repr(secret) if secret == DEFAULT_SECRET else "as given by --secret"


class HelpFormatter(DjangoHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Django's help layout, with "(default: …)" after each option's help."""


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """Set ``stop`` on SIGINT and SIGTERM while inside; outside the main thread signals cannot be caught."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
