"""The baseline worker process: ``python -m bench.baseline_worker --address HOST:PORT``.

Connects like the onboarding worker (:func:`runtime.client.connect`, so the same data converter),
polls until SIGINT or SIGTERM, then shuts down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bench.baseline import build_baseline_worker
from onboarding.runtime.client import connect


async def run_worker(args: argparse.Namespace) -> int:
    """Connect and poll until stopped.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0 after a clean stop, 1 when Temporal cannot be reached.
    """
    try:
        client = await connect(target_host=args.address, namespace=args.namespace)
    except Exception as exc:
        print(f"baseline-worker: cannot reach Temporal: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_baseline_worker(client, task_queue=args.task_queue):
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_worker", description=__doc__)
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    parser.add_argument("--task-queue", required=True)
    return asyncio.run(run_worker(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
