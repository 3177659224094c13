"""``onboarding-start``: start onboarding runs from Stripe event JSON files.

    onboarding-start onboarding/data/samples/events/03-globex-invoice-paid.json [more.json ...] [--wait]

Each file is one Stripe event, of any API version, mapped exactly as the intake maps it:
``checkout.session.completed`` (paid), ``checkout.session.async_payment_succeeded``,
``invoice.paid`` and ``invoice.payment_succeeded`` start the run of their purchase (or reach
it); ``invoice.payment_failed`` and a paid renewal signal the run their metadata names; an
unpaid checkout session or an unlinked renewal is reported as ignored. A file that cannot be
mapped (another event type included) is named with the precise reason and the command exits
non-zero; the other files are still delivered. Delivering the same event again reaches the same run.

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

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from onboarding.domain.text import printable
from onboarding.domain.triggers import (
    STRIPE_EVENTS,
    EventError,
    Intent,
    SignalRun,
    UnhandledEvent,
    stripe_intent,
)
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
    except ValueError:
        raise EventError(f"{path}: not JSON this command can read") from None
    if not isinstance(event, dict):
        raise EventError(f"{path}: a Stripe event must be a JSON object")
    return event


async def send_signal(client: Client, signal: SignalRun) -> str:
    """Send a billing signal; what happened, for a person."""
    try:
        await client.get_workflow_handle(signal.transaction_id).signal(signal.name, signal.event)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return f"no open run to signal {signal.name}"
        raise
    return f"signalled {signal.name}"


async def deliver(client: Client, intent: Intent, task_queue: str, wait: bool) -> list[str]:
    """Start (or reach) the run of an intent, or signal it; the lines to print."""
    if isinstance(intent, SignalRun):
        return [await send_signal(client, intent)]
    outcome = await start_onboarding(
        client, intent.transaction_id, intent.source, intent.payload, task_queue=task_queue
    )
    state = outcome.state
    if state == "already-finished":
        return [f"already finished; nothing started (run {outcome.run_id})"]
    lines = [f"{state} (run {outcome.run_id})"]
    if intent.then_signal is not None and state == "running":
        lines.append(await send_signal(client, intent.then_signal))
    if wait:
        result = await outcome.handle.result()
        lines.append(result.stage.value)
    return lines


async def _main(args: argparse.Namespace) -> int:
    mapped: list[tuple[Path, Intent]] = []
    status = 0
    for name in args.events:
        path = Path(name)
        try:
            event = read_event(path)
            intent = stripe_intent(event)
        except UnhandledEvent as exc:
            if event.get("type") in STRIPE_EVENTS:  # a handled type, in a state that waits
                print(printable(f"{path.name}: ignored: {exc}"))
                continue
            message = (
                f"Stripe event type {event.get('type')!r} does not start an onboarding; "
                f"expected one of: {', '.join(sorted(STRIPE_EVENTS))}"
            )
            print(printable(f"error: {path}: {message}"), file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        except EventError as exc:
            message = str(exc)
            text = message if message.startswith(str(path)) else f"{path}: {message}"
            print(printable(f"error: {text}"), file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        mapped.append((path, intent))
    if not mapped:
        return status
    try:
        client = await connect(target_host=args.address, namespace=args.namespace)
    except CodecKeyError:
        raise
    except Exception as exc:
        print(f"error: cannot reach Temporal: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    for path, intent in mapped:
        for line in await deliver(client, intent, args.task_queue, args.wait):
            print(printable(f"{path.name}: transaction {intent.transaction_id}: {line}"))
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
