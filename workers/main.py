"""The onboarding worker: ``onboarding-worker``. Run as many processes as needed, anywhere.

Configuration is the environment: Temporal through ``temporalio.envconfig`` (``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, TLS, profiles), vendors through their base URL and
token variables (see the README), ``ONBOARDING_TASK_QUEUE``, ``ONBOARDING_RULES_FILE``,
``ONBOARDING_LEDGER_URL``, ``ONBOARDING_METRICS_ADDRESS`` (serve Prometheus metrics) and
``ONBOARDING_GRACEFUL_SHUTDOWN_SECONDS``.

On SIGTERM or SIGINT the worker stops polling, lets in-flight activities finish for up to the
graceful-shutdown timeout, then cancels the rest, which fail with a retryable error so another
worker runs them again (every step is a get-or-create). Keep the timeout below the time the
platform waits before it kills the process (Kubernetes' ``terminationGracePeriodSeconds``).

A worker started before Temporal (or before its namespace exists) waits and retries, with a
backoff from 1 to 30 seconds, logging why; it comes up by itself once the server answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypedDict

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities import onboarding_activities
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.ledger.store import Ledger
from onboarding.runtime import metrics
from onboarding.runtime.client import TASK_QUEUE, connect_when_ready
from onboarding.runtime.logging import configure_logging
from onboarding.runtime.process import run_console_script
from onboarding.runtime.tracing import configure_tracing
from onboarding.security.codec import CodecKeyError
from workers.runner import workflow_runner
from workflows.onboarding import OnboardingWorkflow

log = structlog.get_logger("onboarding.worker")

#: Seconds in-flight activities get to finish after SIGTERM before they are cancelled.
GRACEFUL_SHUTDOWN_ENV = "ONBOARDING_GRACEFUL_SHUTDOWN_SECONDS"
DEFAULT_GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def graceful_shutdown_timeout(value: str | None = None) -> timedelta:
    """The graceful-shutdown timeout: ``value`` or ``ONBOARDING_GRACEFUL_SHUTDOWN_SECONDS``.

    Raises:
        ValueError: When it is not a number of seconds >= 0.
    """
    raw = value if value is not None else os.environ.get(GRACEFUL_SHUTDOWN_ENV, "")
    if not raw.strip():
        return DEFAULT_GRACEFUL_SHUTDOWN
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ValueError(f"{GRACEFUL_SHUTDOWN_ENV} must be a number of seconds >= 0, not {raw!r}")
    return timedelta(seconds=seconds)


#: How many runs one worker process keeps in memory between their tasks.
CACHE_ENV = "ONBOARDING_WORKFLOW_CACHE"
DEFAULT_CACHE = 500


def workflow_cache_size(value: str | None = None) -> int:
    """The workflow cache size: ``value`` or ``ONBOARDING_WORKFLOW_CACHE``, else 500.

    Raises:
        ValueError: When it is not a whole number >= 1.
    """
    raw = value if value is not None else os.environ.get(CACHE_ENV, "")
    if not raw.strip():
        return DEFAULT_CACHE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"{CACHE_ENV} must be a whole number of runs >= 1, not {raw!r}")
    return size


class WorkerTuning(TypedDict):
    """The worker's cache size and slot limits, as ``Worker`` takes them."""

    max_cached_workflows: int
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    max_concurrent_local_activities: int


def worker_tuning(cache_size: int | None = None) -> WorkerTuning:
    """The worker's cache size and slots (shared with the benchmark's bare worker).

    Runs spend days parked on a person or a timer, and a parked run needs no memory until it
    wakes. The cache keeps the most recently active runs (about 0.25 MiB each, measured by
    ``make bench --parked``), so it bounds the worker's memory whatever the number parked: at
    500 (the default), a worker stays near 260 MiB with 10,000 runs parked, and a team's busiest
    month (500 onboardings) fits whole. A run woken beyond the cache is replayed from its history
    once, a few tens of milliseconds of CPU (the benchmark's eviction probe), which a timer that
    fires every few hours and a person who acts once a day can afford. Raise it on a bigger
    machine (``ONBOARDING_WORKFLOW_CACHE``); several workers each hold their own cache.

    The slots: 100 workflow tasks at once is the SDK's default and more than two cores ever
    run; 50 activities at once, since each is a vendor HTTP call that mostly waits, and the
    vendors' rate limits (HubSpot's 100 requests per 10 s for a private app) are met well before
    more would help; 100 local activities (the ledger writes, fast and local).

    Args:
        cache_size: Runs kept in memory (None: :func:`workflow_cache_size`).
    """
    return {
        "max_cached_workflows": cache_size if cache_size is not None else workflow_cache_size(),
        "max_concurrent_workflow_tasks": 100,
        "max_concurrent_activities": 50,
        "max_concurrent_local_activities": 100,
    }


def build_worker(
    client: Client,
    vendors: Vendors,
    *,
    task_queue: str = TASK_QUEUE,
    rules_path: Path | None = None,
    ledger: Ledger | None = None,
    graceful_shutdown: timedelta = DEFAULT_GRACEFUL_SHUTDOWN,
    cache_size: int | None = None,
) -> Worker:
    """A worker running the onboarding workflow and its activities.

    Args:
        client: Connected client (its runtime serves the metrics, if configured).
        vendors: Vendor clients; build them with ``on_call=metrics.record_vendor_call`` to count
            vendor calls.
        task_queue: The task queue every onboarding worker polls.
        rules_path: Rules file (None: ``ONBOARDING_RULES_FILE`` or the bundled rules).
        graceful_shutdown: How long in-flight activities may finish after shutdown begins.
        cache_size: Runs kept in memory (None: ``ONBOARDING_WORKFLOW_CACHE`` or 500).
        ledger: The ledger (None: the one ``ONBOARDING_LEDGER_URL`` names, else
            ``var/ledger.sqlite3``).
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OnboardingWorkflow],
        activities=onboarding_activities(vendors, rules_path=rules_path, ledger=ledger),
        graceful_shutdown_timeout=graceful_shutdown,
        workflow_runner=workflow_runner(client.data_converter),
        **worker_tuning(cache_size),
    )


async def run_worker(args: argparse.Namespace) -> int:
    """Wait for Temporal, poll until SIGINT/SIGTERM, then shut down gracefully."""
    try:
        grace = graceful_shutdown_timeout(args.graceful_shutdown)
        cache_size = workflow_cache_size()
    except ValueError as exc:
        print(f"onboarding-worker: {exc}", file=sys.stderr)
        return 2
    address = metrics.metrics_address(args.metrics_address)
    extra: dict[str, Any] = {}
    if address:
        try:
            extra["runtime"] = metrics.prometheus_runtime(address)
        except Exception as exc:  # the port is taken, or not an address
            print(f"onboarding-worker: cannot serve metrics on {address}: {exc}", file=sys.stderr)
            return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def waiting(why: str, attempt: int, delay: float) -> None:
        log.warning("waiting for Temporal", reason=why, attempt=attempt, retry_in_seconds=delay)

    try:
        client = await connect_when_ready(
            target_host=args.address,
            namespace=args.namespace,
            on_wait=waiting,
            stop=stop,
            **extra,
        )
    except CodecKeyError as exc:  # configuration: waiting would not fix it
        print(f"onboarding-worker: {exc}", file=sys.stderr)
        return 2
    if client is None:
        log.info("worker stopped before Temporal was reachable")
        return 0
    vendors = Vendors(VendorSettings.from_env(), on_call=metrics.record_vendor_call)
    worker = build_worker(
        client,
        vendors,
        task_queue=args.task_queue,
        rules_path=Path(args.rules) if args.rules else None,
        graceful_shutdown=grace,
        cache_size=cache_size,
    )
    log.info(
        "worker started",
        task_queue=args.task_queue,
        namespace=client.namespace,
        metrics=f"http://{address}/metrics" if address else None,
        graceful_shutdown_seconds=grace.total_seconds(),
    )
    async with worker:
        await stop.wait()
        log.info("worker stopping: no new tasks; in-flight activities may finish")
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
    parser.add_argument(
        "--metrics-address",
        help="host:port to serve Prometheus metrics on (default: ONBOARDING_METRICS_ADDRESS; "
        "unset: none)",
    )
    parser.add_argument(
        "--graceful-shutdown",
        metavar="SECONDS",
        help="time in-flight activities get after SIGTERM (default: "
        f"{GRACEFUL_SHUTDOWN_ENV} or {DEFAULT_GRACEFUL_SHUTDOWN.seconds})",
    )
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
