"""``onboarding``: the exception queue, one run's record, and the actions that resolve items.

    onboarding queue [--category C] [--owner O] [--stage S] [--overdue] [--json]
    onboarding show TRANSACTION [--json]
    onboarding resolve ACTION TRANSACTION --actor WHO [--reason WHY] [action options]
    onboarding cancel TRANSACTION --actor WHO --reason WHY [--no-rollback]
    onboarding sign-off TRANSACTION --actor WHO [--note TEXT]
    onboarding scope-change TRANSACTION --actor WHO --reason WHY --item TEXT [--item ...]
    onboarding rules TRANSACTION [--json]

Exit codes: 0 done; 2 wrong arguments or input; 3 refused by the run (the message says why);
4 no such run; 5 Temporal unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from temporalio.service import RPCError, RPCStatusCode

from onboarding.cli import actions, queue, show
from onboarding.cli.common import EXIT_REFUSED, EXIT_UNAVAILABLE, CliError
from onboarding.runtime.client import connect
from onboarding.runtime.process import run_console_script


def build_parser() -> argparse.ArgumentParser:
    """The command line: each command module adds its own subcommands."""
    parser = argparse.ArgumentParser(
        prog="onboarding", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (queue, show, actions):
        module.register(sub)
    return parser


async def run(args: argparse.Namespace) -> int:
    """Connect and run one command."""
    try:
        client = await connect(target_host=args.address, namespace=args.namespace)
    except Exception as exc:
        raise CliError(f"cannot reach Temporal: {exc}", EXIT_UNAVAILABLE) from None
    try:
        return int(await args.func(client, args))
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise CliError(f"cannot reach Temporal: {exc.message}", EXIT_UNAVAILABLE) from None
        raise CliError(f"Temporal refused the request: {exc.message}", EXIT_REFUSED) from None


def main(argv: list[str] | None = None) -> int:
    """Run ``onboarding`` and return its exit code (for tests and embedding)."""
    args = build_parser().parse_args(argv)
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
