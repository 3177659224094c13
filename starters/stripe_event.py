"""``onboarding-start``: start onboarding runs from Stripe event JSON files.

    onboarding-start onboarding/data/samples/events/03-globex-invoice-paid.json [more.json ...] [--wait]

Each file is one Stripe event (``checkout.session.completed`` or ``invoice.paid``). A file that
cannot start a run is named with the precise reason and the command exits non-zero; the other
files are still started. Delivering the same event again reaches the same run.

Exit codes: 0 every file reached its run; 2 a file could not start a run (bad JSON, an event
that does not start an onboarding, a malformed ONBOARDING_CODEC_KEYS); 3 Temporal unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import NoReturn

from onboarding.domain.triggers import EventError, from_stripe_event
from onboarding.runtime.client import TASK_QUEUE, connect
from onboarding.runtime.process import run_console_script
from onboarding.security.codec import CodecKeyError
from starters.start import start_onboarding

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


def read_event(path: Path | Traversable) -> dict[str, object]:
    """Load one event file, with a clear error naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EventError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(event, dict):
        raise EventError(f"{path}: a Stripe event must be a JSON object")
    return event


async def _main(args: argparse.Namespace) -> int:
    mapped = []
    status = 0
    for name in args.events:
        path = Path(name)
        try:
            transaction_id, source, payload = from_stripe_event(read_event(path))
        except EventError as exc:
            message = str(exc)
            print(
                f"error: {message if message.startswith(str(path)) else f'{path}: {message}'}",
                file=sys.stderr,
            )
            status = EXIT_BAD_INPUT
            continue
        mapped.append((path, transaction_id, source, payload))
    if not mapped:
        return status
    try:
        client = await connect(target_host=args.address, namespace=args.namespace)
    except CodecKeyError:
        raise
    except Exception as exc:
        print(f"error: cannot reach Temporal: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    for path, transaction_id, source, payload in mapped:
        outcome = await start_onboarding(
            client, transaction_id, source, payload, task_queue=args.task_queue
        )
        note = "already finished; nothing started" if outcome.state == "closed" else "running"
        print(f"{path.name}: transaction {transaction_id}: {note} (run {outcome.run_id})")
        if args.wait and outcome.state == "running":
            result = await outcome.handle.result()
            print(f"{path.name}: transaction {transaction_id}: {result.stage.value}")
    return status


def main(argv: list[str] | None = None) -> int:
    """Run ``onboarding-start`` and return its exit code."""
    parser = argparse.ArgumentParser(
        prog="onboarding-start",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("events", nargs="+", help="Stripe event JSON files")
    parser.add_argument("--wait", action="store_true", help="wait for each run to end")
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="namespace (default: TEMPORAL_NAMESPACE)")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except CodecKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def script() -> NoReturn:
    """The installed ``onboarding-start`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
