"""Benchmark: onboarding runs against a bare baseline, on one real Temporal dev server.

``python -m bench.onboarding_bench [--runs N] [--concurrency C] [--parked N] [--intake M]
[--json]`` (``make bench``).

Starts the Temporal dev server (in memory, no UI), then measures, each workload with its
worker in its own process so that the worker's memory and CPU are its own:

- **happy path** (``--runs``): N onboardings through the whole happy path (``start_onboarding``,
  the real ``workers.main`` worker, the vendor sandbox in another process, the bundled rules), at
  most C in flight; then N runs of :class:`bench.baseline.BaselineWorkflow`, as many no-op
  activities and local activities as one onboarding run executes (counted from a live run's
  history), on a bare worker with the same converter, sandbox runner, cache and slots.
  Throughput, trigger-to-result latency (p50, p95), the worker's peak RSS and its CPU per run.
- **intake** (``--intake M``, see :mod:`bench.intake_rate`): M signed Stripe webhooks, 30% of them
  redeliveries, through ``onboarding-intake``, against the raw ``start_workflow`` rate.
- **parked** (``--parked N``, see :mod:`bench.parked`): N runs parked in ``awaiting-data``: the time
  for N starts to be parked, the worker's memory with N parked, the queue's latency and what a
  parked run costs when it wakes after it left the worker's cache; against bare runs that park.

Every figure is printed beside the bare baseline's, measured in the same run, with the ratio;
then the goals of the onboarding worker, met or not. Speed is measured, never judged: the exit
status is 1 only when a run does not end where it should or the benchmark cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from bench.goals import Goal, goals_table
from bench.happy_path import Report, happy_path, happy_path_goals
from bench.harness import (
    NAMESPACE,
    BenchError,
    machine_load,
    progress,
    stdout_to_stderr,
    work_dir,
)
from bench.intake_rate import intake_benchmark
from bench.parked import parked_benchmark
from onboarding.embedded.devserver import DevServerError, dev_server


@dataclass
class BenchReport:
    """Everything one benchmark run measured."""

    machine: str
    happy: Report | None = None
    intake: Any = None
    parked: Any = None

    @property
    def ok(self) -> bool:
        """Whether every run of every workload ended as it should."""
        return all(part.ok for part in (self.happy, self.intake, self.parked) if part is not None)

    def goals(self) -> list[Goal]:
        """The goals of every workload measured."""
        goals: list[Goal] = []
        if self.parked is not None:
            goals += self.parked.goals()
        if self.happy is not None:
            goals += happy_path_goals(self.happy)
        if self.intake is not None:
            goals += self.intake.goals()
        return goals

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON-ready data (the happy path's figures at the top level)."""
        data: dict[str, Any] = {"machine": self.machine}
        if self.happy is not None:
            data.update(self.happy.to_json())
        if self.intake is not None:
            data["intake"] = self.intake.to_json()
        if self.parked is not None:
            data["parked"] = self.parked.to_json()
        data["goals"] = [g.to_json() for g in self.goals()]
        data["ok"] = self.ok
        return data

    def text(self) -> str:
        """The whole report as console tables."""
        parts = [
            f"Onboarding benchmark on one Temporal dev server (in memory); machine: {self.machine}."
        ]
        for part in (self.happy, self.intake, self.parked):
            if part is not None:
                parts.append(part.table())
        parts.append(goals_table(self.goals()))
        return "\n\n".join(parts)

    def failure_lines(self) -> list[str]:
        """One line per run that did not end as it should."""
        lines: list[str] = []
        for part in (self.happy, self.intake, self.parked):
            if part is not None:
                lines += part.failure_lines()
        return lines


async def benchmark(args: argparse.Namespace) -> BenchReport:
    """Run every workload asked for on one dev server and return the report."""
    tag = uuid.uuid4().hex[:6]
    report = BenchReport(machine=machine_load())
    with work_dir(args.log_dir) as work:
        progress(f"machine: {report.machine}")
        progress("starting the Temporal dev server (in memory, no UI)")
        async with contextlib.AsyncExitStack() as stack:
            with stdout_to_stderr():  # its banner must not mix with the report (or the JSON)
                env = await stack.enter_async_context(dev_server(namespace=NAMESPACE, ui=False))
            client = env.client
            address = client.service_client.config.target_host
            if args.runs:
                report.happy = await happy_path(client, address, work, tag, args)
            if args.intake:
                report.intake = await intake_benchmark(client, address, work, tag, args)
            if args.parked:
                # Last: the parked runs stay open until the dev server stops.
                report.parked = await parked_benchmark(client, address, work, tag, args)
        report.machine += f" (at the end: {machine_load()})"
    return report


async def amain(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report; the exit status."""
    task = asyncio.current_task()
    if task is not None:  # SIGTERM unwinds like Ctrl-C: every child process is stopped
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        report = await benchmark(args)
    except (BenchError, DevServerError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.text())
    failures = report.failure_lines()
    if failures:
        out = sys.stderr if args.json else sys.stdout
        print(f"\n{len(failures)} run(s) did not end as they should:", file=out)
        print("\n".join(failures), file=out)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.onboarding_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--runs", type=int, default=50, help="happy-path runs per workload; 0: none (50)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="happy-path runs in flight at most (10)"
    )
    parser.add_argument(
        "--parked", type=int, default=0, metavar="N", help="park N runs per workload (0: none)"
    )
    parser.add_argument(
        "--start-concurrency",
        type=int,
        default=20,
        help="start calls in flight at most while parking (20)",
    )
    parser.add_argument(
        "--intake",
        type=int,
        default=0,
        metavar="M",
        help="send M signed webhooks to the intake, 30%% of them redeliveries (0: none)",
    )
    parser.add_argument(
        "--intake-concurrency", type=int, default=20, help="webhooks in flight at most (20)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured runs per workload before the batch (1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for one run's result (120)"
    )
    parser.add_argument(
        "--log-dir", help="keep the databases and the processes' logs here (default: temp)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 when every run ended as it should, 1 otherwise, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        args.runs < 0
        or args.concurrency < 1
        or args.warmup < 0
        or args.timeout <= 0
        or args.parked < 0
        or args.intake < 0
        or args.start_concurrency < 1
        or args.intake_concurrency < 1
    ):
        parser.error(
            "--runs, --parked and --intake must be at least 0, the concurrencies at least 1, "
            "--warmup at least 0, --timeout positive"
        )
    if not (args.runs or args.parked or args.intake):
        parser.error("nothing to measure: give --runs, --parked or --intake")
    try:
        return asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; every child process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
