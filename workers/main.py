"""The onboarding worker: ``onboarding-worker``. Run as many processes as needed, anywhere.

Configuration is the environment: Temporal through ``temporalio.envconfig`` (``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, TLS, profiles), vendors through their base URL and
token variables (see the README), ``ONBOARDING_TASK_QUEUE`` and ``ONBOARDING_RULES_FILE``.

A worker started before Temporal (or before its namespace exists) waits and retries, with a
backoff from 1 to 30 seconds, logging why; it comes up by itself once the server answers.
SIGINT or SIGTERM stops it gracefully (exit 0): running activities finish first.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import NoReturn

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities import onboarding_activities
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime.client import TASK_QUEUE, connect_when_ready
from onboarding.runtime.logging import configure_logging
from onboarding.runtime.process import run_console_script
from onboarding.runtime.tracing import configure_tracing
from onboarding.security.codec import CodecKeyError
from workflows.onboarding import OnboardingWorkflow

log = structlog.get_logger("onboarding.worker")


def build_worker(
    client: Client,
    vendors: Vendors,
    *,
    task_queue: str = TASK_QUEUE,
    rules_path: Path | None = None,
    max_concurrent_activities: int = 50,
) -> Worker:
    """A worker running the onboarding workflow and its activities."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OnboardingWorkflow],
        activities=onboarding_activities(vendors, rules_path=rules_path),
        max_concurrent_activities=max_concurrent_activities,
    )


async def run_worker(args: argparse.Namespace) -> int:
    """Wait for Temporal, poll until SIGINT/SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def waiting(why: str, attempt: int, delay: float) -> None:
        log.warning("waiting for Temporal", reason=why, attempt=attempt, retry_in_seconds=delay)

    try:
        client = await connect_when_ready(
            target_host=args.address, namespace=args.namespace, on_wait=waiting, stop=stop
        )
    except CodecKeyError as exc:  # configuration: waiting would not fix it
        print(f"onboarding-worker: {exc}", file=sys.stderr)
        return 2
    if client is None:
        log.info("worker stopped before Temporal was reachable")
        return 0
    vendors = Vendors(VendorSettings.from_env())
    worker = build_worker(
        client,
        vendors,
        task_queue=args.task_queue,
        rules_path=Path(args.rules) if args.rules else None,
    )
    async with worker:
        log.info("worker started", task_queue=args.task_queue, namespace=client.namespace)
        await stop.wait()
    await vendors.aclose()
    log.info("worker stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``onboarding-worker`` and return its exit code."""
    parser = argparse.ArgumentParser(prog="onboarding-worker", description=__doc__)
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    parser.add_argument("--rules", help="rules file (default: ONBOARDING_RULES_FILE or bundled)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    configure_tracing("onboarding-worker")
    return asyncio.run(run_worker(args))


def script() -> NoReturn:
    """The installed ``onboarding-worker`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
