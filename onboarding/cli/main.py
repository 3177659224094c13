"""``onboarding``: the exception queue, one run's record, and the actions that resolve items.

    onboarding queue [--category C] [--owner O] [--stage S] [--overdue] [--json]
    onboarding show TRANSACTION [--json]
    onboarding resolve ACTION TRANSACTION --actor WHO [--reason WHY] [action options]
    onboarding cancel TRANSACTION --actor WHO --reason WHY [--no-rollback]
    onboarding sign-off TRANSACTION --actor WHO [--note TEXT]
    onboarding scope-change TRANSACTION --actor WHO --reason WHY --item TEXT [--item ...]
    onboarding rules [TRANSACTION | --file RULES.toml] [--json]
    onboarding ui [--ui-url URL]
    onboarding report [--week 2026-W47] [--format table|json|html] [--out FILE] [--post]
    onboarding audit export TRANSACTION | --since DATE [--out FILE]
    onboarding audit verify FILE
    onboarding audit duplicates [--json]

Examples (the transactions of the demo's sample events):
    onboarding show stripe-in_1QSoylent0000001
    onboarding resolve choose-match stripe-in_1QSoylent0000001 --company 10000000002 \\
        --reason "Soylent Foods Inc is the buyer"
    onboarding resolve supply-data stripe-in_1QHooli000000001 \\
        --set customer.domain=hooli.example --set plan.billing_term=annual \\
        --set crm_owner=gavin.rep@example.com --reason "from the order form"
    onboarding rules --file onboarding/data/rules/onboarding-rules.toml

Temporal is reached as every client here reaches it (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TLS, profiles); runs written with encrypted payloads need the same
ONBOARDING_CODEC_KEYS as the workers. ONBOARDING_ACTOR is who you are, for --actor.

Exit codes: 0 done; 1 audit verify found a broken row, or audit duplicates found some; 2 wrong
arguments, input or configuration (e.g. encrypted payloads and no ONBOARDING_CODEC_KEYS); 3
refused by the run (the message says why; nothing changed); 4 no such run; 5 Temporal (or the
chat webhook) unreachable; 6 the run has ended, too late for this action (nothing changed).
Report and audit read the ledger, never Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from onboarding.cli.common import EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from onboarding.runtime.client import connect
from onboarding.runtime.process import run_console_script
from onboarding.security.codec import CodecKeyError

#: The command modules, in the order ``--help`` lists them, and the commands each one adds.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "queue": ("queue",),
    "show": ("show",),
    "actions": ("resolve", "cancel", "sign-off", "scope-change"),
    "rules": ("rules",),
    "ui": ("ui",),
    "report": ("report",),
    "audit": ("audit",),
}
#: The options of ``onboarding`` itself that take a value.
GLOBAL_OPTIONS = ("--address", "--namespace")


def command_of(argv: Sequence[str]) -> str | None:
    """The command named on a command line (the first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word in GLOBAL_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line: each command module adds its own subcommands.

    Given the arguments, only the module of the command they name is imported: the modules of
    the other commands pull in the workflow, the ledger and the report's charts, and a person
    waiting on ``onboarding queue`` should not wait for those.
    """
    parser = argparse.ArgumentParser(
        prog="onboarding", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = command_of(argv) if argv is not None else None
    wanted = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    for name in wanted or COMMAND_MODULES:
        importlib.import_module(f"onboarding.cli.{name}").register(sub)
    return parser


async def run(args: argparse.Namespace) -> int:
    """Connect (when the command needs Temporal) and run one command."""
    needs_temporal = getattr(args, "needs_temporal", True)
    if callable(needs_temporal):
        needs_temporal = needs_temporal(args)
    client: Client | None = None
    if needs_temporal:
        # A command that only reads visibility (``traced=False``) needs no tracing interceptor.
        extra: dict[str, Any] = {} if getattr(args, "traced", True) else {"interceptors": []}
        try:
            client = await connect(target_host=args.address, namespace=args.namespace, **extra)
        except CodecKeyError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        except Exception as exc:
            raise CliError(f"cannot reach Temporal: {exc}", EXIT_UNAVAILABLE) from None
    try:
        return int(await args.func(client, args))
    except CodecKeyError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise CliError(f"cannot reach Temporal: {exc.message}", EXIT_UNAVAILABLE) from None
        raise CliError(f"Temporal refused the request: {exc.message}", EXIT_REFUSED) from None


def main(argv: list[str] | None = None) -> int:
    """Run ``onboarding`` and return its exit code (for tests and embedding)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return asyncio.run(run(args))
    except CliError as exc:
        print(f"onboarding: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def script() -> NoReturn:
    """The installed ``onboarding`` command: :func:`main`, then exit with its code, always."""
    run_console_script(main)


if __name__ == "__main__":
    script()
