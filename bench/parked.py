"""The parked benchmark: N runs waiting on a person, the load the worker spends most of its life
under (``python -m bench.onboarding_bench --parked N``).

Onboarding runs park in ``awaiting-data`` (their payload has no domain): they load the rules,
validate, open an exception item and wait on the SLA watch's timer. Bare runs
(:class:`bench.baseline.ParkedBaselineWorkflow`) run as many no-op activities and local
activities as the first parked onboarding run did, mark themselves parked in a search attribute
and wait on a timer. The bare runs go first, so the onboarding runs park, and the queue is read,
on a server that holds the bare runs too.

For each workload: the time for N starts to be parked (the bare one is the ceiling of this
server), the worker's resident set once they are (and its peak), its CPU per parked run, and
the eviction cost: a status query on one of the first runs parked, long gone from the worker's
cache when N exceeds it (the run is replayed from its history, as when its SLA timer fires or a
person acts), against a query on one of the last, still cached. For the onboarding runs, the
queue: ``onboarding queue --json`` as a person runs it, the same listing in-process, and the
bare floor, a raw visibility listing of the same runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.baseline import BaselinePlan
from bench.goals import Goal, num, times
from bench.happy_path import (
    bench_payload,
    bench_source,
    count_plan,
    error_text,
    onboarding_worker_argv,
    onboarding_worker_env,
    vendor_sandbox,
)
from bench.harness import (
    NAMESPACE,
    BenchError,
    child_env,
    child_process,
    cpu_seconds,
    peak_rss_mib,
    percentile,
    progress,
    ratio,
    rounded,
    rss_mib,
    wait_for_pollers,
    worker_argv,
)
from bench.parked_baseline import PARKED_STAGE, ParkedBaselineWorkflow
from onboarding.cli.queue import DEFAULT_LIMIT, PAGE_SIZE, read_queue, visibility_query
from starters.start import start_onboarding
from workers.main import worker_tuning
from workflows.onboarding import OnboardingWorkflow

#: The figure the goals of the parked load are set at.
GOAL_PARKED = 10_000
#: Queries per side of the eviction probe.
PROBE_RUNS = 20
#: Seconds between two counts of the parked runs.
COUNT_EVERY = 0.5
#: Seconds the worker gets to settle before its memory is read.
SETTLE = 2.0


@dataclass
class Probe:
    """Status queries on parked runs out of the worker's cache and in it."""

    evicted_ms: list[float]
    cached_ms: list[float]
    cpu_ms_per_replay: float | None

    def to_json(self) -> dict[str, Any]:
        """The probe as JSON-ready data."""
        return {
            "queries": len(self.evicted_ms),
            "evicted_p50_ms": rounded(percentile(sorted(self.evicted_ms), 50)),
            "cached_p50_ms": rounded(percentile(sorted(self.cached_ms), 50)),
            "worker_cpu_ms_per_replay": rounded(self.cpu_ms_per_replay),
        }


@dataclass
class ParkedPhase:
    """One workload's N parked runs."""

    name: str
    runs: int
    parked: int
    park_s: float | None
    cpu_s: float | None
    rss_mib: float | None
    peak_rss_mib: float | None
    probe: Probe | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Runs parked per second."""
        return None if not self.park_s else self.runs / self.park_s

    @property
    def cpu_ms_per_run(self) -> float | None:
        """The worker's CPU per parked run, while parking."""
        return None if self.cpu_s is None else self.cpu_s * 1000 / self.runs

    def to_json(self) -> dict[str, Any]:
        """The phase as JSON-ready data."""
        return {
            "runs": self.runs,
            "parked": self.parked,
            "park_s": rounded(self.park_s),
            "parked_per_s": rounded(self.rate),
            "worker_cpu_ms_per_run": rounded(self.cpu_ms_per_run),
            "worker_rss_mib": rounded(self.rss_mib),
            "worker_peak_rss_mib": rounded(self.peak_rss_mib),
            "eviction": self.probe.to_json() if self.probe else None,
            "failures": self.failures,
        }


@dataclass
class QueueTiming:
    """The queue read with N runs parked (medians of three reads, one read of every row)."""

    waiting: int
    shown: int
    cli_s: float | None
    cli_startup_s: float | None
    in_process_s: float
    all_s: float
    raw_all_s: float
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The queue figures as JSON-ready data."""
        return {
            "waiting": self.waiting,
            "shown": self.shown,
            "cli_json_s": rounded(self.cli_s, 3),
            "cli_startup_s": rounded(self.cli_startup_s, 3),
            "in_process_s": rounded(self.in_process_s, 3),
            "all_rows_s": rounded(self.all_s, 3),
            "raw_list_all_s": rounded(self.raw_all_s, 3),
            "problems": self.problems,
        }


@dataclass
class ParkedReport:
    """Both parked workloads, the queue, and how they compare."""

    onboarding: ParkedPhase
    bare: ParkedPhase
    queue: QueueTiming
    plan: BaselinePlan
    cache_size: int

    @property
    def ok(self) -> bool:
        """Whether every run parked and the queue listed every one of them."""
        return not self.failure_lines()

    def failure_lines(self) -> list[str]:
        """One line per problem."""
        lines = [
            f"  parked {p.name}: {f}" for p in (self.onboarding, self.bare) for f in p.failures
        ]
        return lines + [f"  queue: {p}" for p in self.queue.problems]

    def park_ratio(self) -> float | None:
        """Onboarding's parking rate over the bare ceiling's."""
        return ratio(self.onboarding.rate, self.bare.rate)

    def to_json(self) -> dict[str, Any]:
        """The parked comparison as JSON-ready data."""
        return {
            "runs": self.onboarding.runs,
            "cache_size": self.cache_size,
            "bare_plan": self.plan.model_dump(),
            "onboarding": self.onboarding.to_json(),
            "bare": self.bare.to_json(),
            "queue": self.queue.to_json(),
            "ratios": {
                "park_rate": rounded(self.park_ratio(), 3),
                "worker_rss": rounded(ratio(self.onboarding.rss_mib, self.bare.rss_mib), 3),
                "worker_peak_rss": rounded(
                    ratio(self.onboarding.peak_rss_mib, self.bare.peak_rss_mib), 3
                ),
                "queue_all_over_raw_list": rounded(
                    ratio(self.queue.all_s, self.queue.raw_all_s), 3
                ),
            },
            "ok": self.ok,
        }

    def table(self) -> str:
        """The parked comparison as a console table."""
        ob, bl, q = self.onboarding, self.bare, self.queue
        head = (
            f"{'workload':<20}{'parked':>8}{'park s':>9}{'runs/s':>9}{'CPU ms/run':>12}"
            f"{'RSS MiB':>10}{'peak MiB':>10}{'cached ms':>11}{'evicted ms':>12}{'replay CPU ms':>15}"
        )
        lines = [
            f"Parked: {ob.runs} runs per workload parked at once (at most start calls in flight "
            f"as given), the worker's cache holds {self.cache_size} runs.",
            f"A bare run executes {self.plan.activities} no-op activities and "
            f"{self.plan.local_activities} local activities (as the first parked onboarding run "
            "did), then parks on a timer.",
            "cached / evicted ms: a status query on one of the last / first runs parked (p50 of "
            f"{PROBE_RUNS}); replay CPU: the worker's CPU per query on an evicted run.",
            "",
            head,
            "-" * len(head),
        ]
        for p in (ob, bl):
            probe = p.probe
            lines.append(
                f"{p.name:<20}{p.parked:>8}{num(p.park_s, '.1f'):>9}{num(p.rate, '.2f'):>9}"
                f"{num(p.cpu_ms_per_run, '.1f'):>12}{num(p.rss_mib, '.0f'):>10}"
                f"{num(p.peak_rss_mib, '.0f'):>10}"
                f"{num(percentile(sorted(probe.cached_ms), 50) if probe else None, '.1f'):>11}"
                f"{num(percentile(sorted(probe.evicted_ms), 50) if probe else None, '.1f'):>12}"
                f"{num(probe.cpu_ms_per_replay if probe else None, '.1f'):>15}"
            )
        lines.append(
            f"{'onboarding/bare':<20}{'':>8}{'':>9}{times(self.park_ratio()):>9}"
            f"{times(ratio(ob.cpu_ms_per_run, bl.cpu_ms_per_run)):>12}"
            f"{times(ratio(ob.rss_mib, bl.rss_mib)):>10}"
            f"{times(ratio(ob.peak_rss_mib, bl.peak_rss_mib)):>10}"
        )
        lines += [
            "",
            f"Queue with {q.waiting} runs waiting: `onboarding queue --json` (the {q.shown} "
            f"soonest due) {num(q.cli_s, '.3f')} s, of which the command's start-up "
            f"(`onboarding queue --help`) {num(q.cli_startup_s, '.3f')} s; the same in-process "
            f"{q.in_process_s:.3f} s (medians of 3). Every row (--all) in-process {q.all_s:.3f} s; "
            f"a raw visibility listing of every row {q.raw_all_s:.3f} s "
            f"({times(ratio(q.all_s, q.raw_all_s))}).",
        ]
        return "\n".join(lines)

    def goals(self) -> list[Goal]:
        """The parked load's goals: queue <= 1 s and worker <= 300 MiB at 10,000 parked; parking
        at >= 0.9x the bare ceiling."""
        ob, bl, q = self.onboarding, self.bare, self.queue
        at_goal = ob.runs >= GOAL_PARKED
        note = "" if at_goal else f"goal is set at {GOAL_PARKED:,} parked (--parked {GOAL_PARKED})"
        queue_met = None if not at_goal or q.cli_s is None else q.cli_s <= 1.0
        rss_met = None if not at_goal or ob.peak_rss_mib is None else ob.peak_rss_mib <= 300
        r = self.park_ratio()
        return [
            Goal(
                f"`onboarding queue --json`, {ob.runs:,} parked (s)",
                num(q.cli_s, ".2f"),
                f"{q.raw_all_s:.2f} (raw, all)",
                q.cli_s,
                "<= 1 s at 10,000",
                queue_met,
                note,
            ),
            Goal(
                f"worker peak RSS, {ob.runs:,} parked (MiB)",
                num(ob.peak_rss_mib, ".0f"),
                num(bl.peak_rss_mib, ".0f"),
                ob.peak_rss_mib,
                "<= 300 at 10,000",
                rss_met,
                note,
            ),
            Goal(
                f"time for {ob.runs:,} starts to be parked (s), ratio",
                f"{num(ob.park_s, '.0f')} ({times(r)})",
                num(bl.park_s, ".0f"),
                r,
                ">= 0.9x",
                None if r is None else r >= 0.9,
            ),
        ]


# --- parking ---------------------------------------------------------------------------------


async def count(client: Client, query: str) -> int:
    """How many runs match a visibility query."""
    return (await client.count_workflows(query)).count


async def park(
    name: str,
    client: Client,
    pid: int,
    ids: list[str],
    start_one: Callable[[str], Awaitable[None]],
    query: str,
    already: int,
    args: argparse.Namespace,
) -> ParkedPhase:
    """Start every run (at most ``args.start_concurrency`` start calls in flight) and wait until
    visibility counts them all parked; the worker's figures once they are."""
    failures: list[str] = []
    slots = asyncio.Semaphore(args.start_concurrency)

    async def guarded(workflow_id: str) -> None:
        async with slots:
            try:
                await start_one(workflow_id)
            except Exception as exc:
                failures.append(f"{workflow_id}: start failed: {error_text(exc)}")

    target = already + len(ids)
    deadline_s = max(120.0, len(ids) * 0.5)
    progress(f"parked {name}: starting {len(ids)} runs")
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    starts = asyncio.gather(*(guarded(i) for i in ids))
    parked = already
    park_s: float | None = None
    try:
        while True:
            await asyncio.sleep(COUNT_EVERY)
            parked = await count(client, query)
            if parked >= target and starts.done():
                park_s = time.perf_counter() - started
                break
            if time.perf_counter() - started > deadline_s:
                failures.append(f"only {parked - already} of {len(ids)} parked after {deadline_s}s")
                break
    finally:
        await starts
    cpu_after = cpu_seconds(pid)
    progress(f"parked {name}: {parked - already} parked in {num(park_s, '.1f')} s")
    await asyncio.sleep(SETTLE)
    return ParkedPhase(
        name=name,
        runs=len(ids),
        parked=parked - already,
        park_s=park_s,
        cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        rss_mib=rss_mib(pid),
        peak_rss_mib=peak_rss_mib(pid),
        failures=failures,
    )


async def probe(
    pid: int, ids: list[str], cache_size: int, query_one: Callable[[str], Awaitable[None]]
) -> Probe | None:
    """Status queries on the first runs parked (evicted when there are more runs than the cache
    holds) and on the last ones (cached), one at a time."""
    if len(ids) <= cache_size + PROBE_RUNS:
        return None

    async def timed(batch: list[str]) -> tuple[list[float], float | None]:
        latencies = []
        cpu_before = cpu_seconds(pid)
        for workflow_id in batch:
            started = time.perf_counter()
            await query_one(workflow_id)
            latencies.append((time.perf_counter() - started) * 1000)
        cpu_after = cpu_seconds(pid)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return latencies, None if cpu is None else cpu * 1000 / len(batch)

    cached, _ = await timed(ids[-PROBE_RUNS:])
    evicted, cpu_per_replay = await timed(ids[:PROBE_RUNS])
    return Probe(evicted_ms=evicted, cached_ms=cached, cpu_ms_per_replay=cpu_per_replay)


# --- the queue -------------------------------------------------------------------------------


def cli_command() -> list[str]:
    """How to run ``onboarding``: its installed script, else the module through this Python."""
    script = Path(sys.executable).with_name("onboarding")
    if script.exists():
        return [str(script)]
    found = shutil.which("onboarding")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; from onboarding.cli.main import main; sys.exit(main())",
    ]


def run_cli(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the CLI once; its wall-clock seconds and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [*cli_command(), *argv], capture_output=True, text=True, env=child_env(), timeout=600
    )
    return time.perf_counter() - started, done


async def time_queue(client: Client, address: str, expected: int) -> QueueTiming:
    """Read the queue as a person does (``onboarding queue --json``: the soonest due), the same
    in-process, every row in-process (``--all``), and every row as a raw visibility listing."""
    problems: list[str] = []
    query = visibility_query()
    shown = min(expected, DEFAULT_LIMIT)
    progress(f"queue: reading {expected} waiting runs")

    async def timed_read(limit: int | None) -> float:
        started = time.perf_counter()
        queue = await read_queue(client, query, limit=limit)
        seconds = time.perf_counter() - started
        if queue.waiting != expected or len(queue.rows) != (limit or expected):
            problems.append(
                f"the queue showed {len(queue.rows)} of {queue.waiting} waiting runs; "
                f"{limit or expected} of {expected} expected"
            )
        return seconds

    in_process_s = [await timed_read(shown) for _ in range(3)]
    all_s = await timed_read(None)
    started = time.perf_counter()
    seen = 0
    async for _ in client.list_workflows(query, page_size=PAGE_SIZE):
        seen += 1
    raw_all_s = time.perf_counter() - started
    if seen != expected:
        problems.append(f"raw listing saw {seen} runs, {expected} expected")
    cli_s: list[float] = []
    for _ in range(3):
        seconds, done = await asyncio.to_thread(
            run_cli, ["--address", address, "--namespace", NAMESPACE, "queue", "--json"]
        )
        if done.returncode != 0:
            problems.append(f"onboarding queue exited {done.returncode}: {done.stderr[-500:]}")
            break
        listed = len(json.loads(done.stdout))
        if listed != shown:
            problems.append(f"onboarding queue --json listed {listed} runs, {shown} expected")
        cli_s.append(seconds)
    startup = [(await asyncio.to_thread(run_cli, ["queue", "--help"]))[0] for _ in range(3)]
    return QueueTiming(
        waiting=expected,
        shown=shown,
        cli_s=statistics.median(cli_s) if cli_s else None,
        cli_startup_s=statistics.median(startup),
        in_process_s=statistics.median(in_process_s),
        all_s=all_s,
        raw_all_s=raw_all_s,
        problems=problems,
    )


# --- the comparison --------------------------------------------------------------------------


def parked_payload(slug: str) -> dict[str, Any]:
    """A payload without the customer's domain: the run parks in awaiting-data."""
    payload = bench_payload(slug)
    del payload["customer"]["domain"]
    return payload


async def parked_benchmark(
    client: Client, address: str, work: Path, tag: str, args: argparse.Namespace
) -> ParkedReport:
    """Park N bare runs, then N onboarding runs; read the queue; probe the eviction cost."""
    n = args.parked
    cache_size = worker_tuning()["max_cached_workflows"]
    ob_queue, bare_queue = f"bench-parked-{tag}", f"bench-parked-bare-{tag}"
    ob_query = f"TaskQueue = '{ob_queue}' AND ExceptionCategory IS NOT NULL"
    bare_query = f"TaskQueue = '{bare_queue}' AND OnboardingStage = '{PARKED_STAGE}'"

    async def start_parked_onboarding(workflow_id: str) -> None:
        slug = workflow_id.replace("-", "")
        await start_onboarding(
            client,
            workflow_id,
            bench_source(workflow_id),
            parked_payload(slug),
            task_queue=ob_queue,
        )

    async def query_onboarding(workflow_id: str) -> None:
        handle = client.get_workflow_handle_for(OnboardingWorkflow.run, workflow_id)
        await handle.query(OnboardingWorkflow.status)

    async with vendor_sandbox(work) as sandbox:
        log = work / "parked-onboarding-worker.log"
        progress("parked: starting the onboarding worker")
        argv = onboarding_worker_argv(address, ob_queue)
        with child_process(
            argv, log=log, env=onboarding_worker_env(work, sandbox.url)
        ) as ob_worker:
            await wait_for_pollers(client, ob_queue, ob_worker, log, "the onboarding worker")
            warm_id = f"bench-parked-{tag}-warmup"
            await start_parked_onboarding(warm_id)
            deadline = time.monotonic() + 120
            while await count(client, ob_query) < 1:
                if time.monotonic() > deadline:
                    raise BenchError(f"the warm-up run {warm_id} did not park in 120 s")
                await asyncio.sleep(0.2)
            plan = await count_plan(client, warm_id)
            progress(
                f"parked: an onboarding run parks after {plan.activities} activities and "
                f"{plan.local_activities} local activities"
            )

            bare = await park_bare(client, address, work, bare_queue, bare_query, plan, args)

            ids = [f"bench-parked-{tag}-{i:05d}" for i in range(n)]
            onboarding = await park(
                "onboarding", client, ob_worker.pid, ids, start_parked_onboarding, ob_query, 1, args
            )
            queue = await time_queue(client, address, expected=onboarding.parked + 1)
            progress("parked onboarding: probing the eviction cost")
            onboarding.probe = await probe(ob_worker.pid, ids, cache_size, query_onboarding)
    return ParkedReport(onboarding, bare, queue, plan, cache_size)


async def park_bare(
    client: Client,
    address: str,
    work: Path,
    task_queue: str,
    query: str,
    plan: BaselinePlan,
    args: argparse.Namespace,
) -> ParkedPhase:
    """Park the bare runs on their own worker (one warm-up run first), and probe them."""
    cache_size = worker_tuning()["max_cached_workflows"]

    async def start_bare(workflow_id: str) -> None:
        await client.start_workflow(
            ParkedBaselineWorkflow.run,
            plan,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="event_received",
            start_signal_args=[{"event": workflow_id}],
        )

    async def query_bare(workflow_id: str) -> None:
        handle = client.get_workflow_handle_for(ParkedBaselineWorkflow.run, workflow_id)
        await handle.query(ParkedBaselineWorkflow.status)

    log = work / "parked-bare-worker.log"
    progress("parked: starting the bare worker")
    argv = worker_argv("bench.baseline_worker", address, task_queue)
    with child_process(argv, log=log, env=child_env()) as worker:
        await wait_for_pollers(client, task_queue, worker, log, "the bare worker")
        await start_bare(f"{task_queue}-warmup")
        deadline = time.monotonic() + 120
        while await count(client, query) < 1:
            if time.monotonic() > deadline:
                raise BenchError("the bare warm-up run did not park in 120 s")
            await asyncio.sleep(0.2)
        ids = [f"{task_queue}-{i:05d}" for i in range(args.parked)]
        phase = await park("bare", client, worker.pid, ids, start_bare, query, 1, args)
        progress("parked bare: probing the eviction cost")
        phase.probe = await probe(worker.pid, ids, cache_size, query_bare)
        return phase
