"""Benchmark: onboarding runs against a bare baseline, on one real Temporal dev server.

``python -m bench.onboarding_bench [--runs N] [--concurrency C] [--json]`` (``make bench``).

Starts the Temporal dev server (in memory, no UI), then measures two workloads, one after the
other, each with its worker in its own process so that the worker's memory and CPU are its own:

- **onboarding**: N onboardings through the whole happy path (``start_onboarding``, the real
  ``workers.main`` worker, the vendor sandbox in another process, the bundled rules), at most C
  in flight;
- **baseline**: N runs of :class:`bench.baseline.BaselineWorkflow`, as many sequential no-op
  activities as one onboarding run executes (counted from a live run's history), on a bare worker
  with the same data converter, at most C in flight.

For each: throughput over the batch, trigger-to-result latency per run (p50, p95), the worker's
peak RSS (``VmHWM``) and its CPU time per run; then the onboarding/baseline ratios. One warm-up
run per workload (``--warmup``) precedes the measured batch and is not counted. Speed is measured,
never judged: the exit status is 1 only when a run does not end where it should (``live`` for an
onboarding run) or the benchmark cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.baseline import BaselineWorkflow
from onboarding.data import BUNDLED_RULES
from onboarding.domain.run import TriggerSource
from onboarding.embedded.devserver import DevServerError, dev_server
from starters.start import start_onboarding
from workflows.onboarding import OnboardingWorkflow

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "default"
#: Used only when no onboarding run went live, to size the baseline anyway.
RECORDED_HISTORY = ROOT / "tests" / "histories" / "happy-path-v1.json"
SANDBOX_READY = re.compile(r"sandbox listening on (http://\S+)")
#: Seconds a child process gets to stop after SIGTERM before it is killed.
STOP_GRACE = 10.0
#: The same, when the benchmark is interrupted or failed.
INTERRUPT_GRACE = 2.0
READY_TIMEOUT = 60.0
MIB = 1024 * 1024


class BenchError(RuntimeError):
    """The benchmark cannot run; the message says why."""


# --- measurements ----------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """How one measured workflow run ended."""

    workflow_id: str
    ok: bool
    #: ``live`` / ``completed`` when it succeeded, else where it stopped (stage, ``failed``).
    ended: str
    #: Seconds from the start call to the result (None when no result came).
    latency_s: float | None
    detail: str = ""


@dataclass
class PhaseResult:
    """One workload's measured batch."""

    name: str
    runs: int
    concurrency: int
    wall_s: float
    outcomes: list[RunOutcome]
    warmup: list[RunOutcome]
    peak_rss_bytes: int | None
    rss_source: str
    cpu_s: float | None

    @property
    def failures(self) -> list[RunOutcome]:
        """Every run, warm-up included, that did not end as it should."""
        return [o for o in self.warmup + self.outcomes if not o.ok]

    @property
    def latencies_ms(self) -> list[float]:
        """Latencies of the successful measured runs, in milliseconds, sorted."""
        return sorted(o.latency_s * 1000 for o in self.outcomes if o.ok and o.latency_s)

    @property
    def throughput(self) -> float:
        """Successful runs per second over the whole measured batch."""
        done = sum(1 for o in self.outcomes if o.ok)
        return done / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_run(self) -> float | None:
        """The worker's CPU time (user + system) during the batch, per run."""
        return None if self.cpu_s is None or not self.runs else self.cpu_s * 1000 / self.runs

    @property
    def rss_mib(self) -> float | None:
        """The worker's peak resident set, in MiB."""
        return None if self.peak_rss_bytes is None else self.peak_rss_bytes / MIB

    def p(self, q: float) -> float | None:
        """A latency percentile in milliseconds (linear interpolation), None without data."""
        return percentile(self.latencies_ms, q)

    def to_json(self) -> dict[str, Any]:
        """The section of the JSON report."""
        latencies = self.latencies_ms
        return {
            "runs": self.runs,
            "concurrency": self.concurrency,
            "completed": sum(1 for o in self.outcomes if o.ok),
            "ended": dict(Counter(o.ended for o in self.outcomes)),
            "wall_s": round(self.wall_s, 3),
            "throughput_per_s": round(self.throughput, 3),
            "latency_ms": {
                "p50": _round(self.p(50)),
                "p95": _round(self.p(95)),
                "min": _round(latencies[0] if latencies else None),
                "max": _round(latencies[-1] if latencies else None),
                "mean": _round(sum(latencies) / len(latencies) if latencies else None),
            },
            "worker_peak_rss_mib": _round(self.rss_mib),
            "worker_rss_source": self.rss_source,
            "worker_cpu_ms_per_run": _round(self.cpu_ms_per_run),
            "warmup_runs": len(self.warmup),
            "failures": [
                {"workflow_id": o.workflow_id, "ended": o.ended, "detail": o.detail}
                for o in self.failures
            ],
        }


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q``-th percentile of sorted values, interpolated linearly between ranks.

    Args:
        sorted_values: The values, ascending.
        q: The percentile, 0 to 100.

    Returns:
        The percentile, or None for no values.
    """
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/<pid>/status``, in bytes (empty when unreadable)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return values


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, from ``/proc/<pid>/stat``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class RssSampler:
    """Samples a process's ``VmRSS``: the fallback when the kernel reports no ``VmHWM``."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak: int | None = None
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        """Take one sample."""
        rss = _proc_status(self.pid).get("VmRSS")
        if rss is not None:
            self.peak = rss if self.peak is None else max(self.peak, rss)

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start sampling in the background."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop sampling, after a last sample."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()


# --- child processes -------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, minus what would point it elsewhere.

    Temporal connection variables are dropped (the address and namespace are passed explicitly),
    and so are the rules and task-queue overrides; the project root goes on ``PYTHONPATH``.
    """
    dropped = {"ONBOARDING_RULES_FILE", "ONBOARDING_TASK_QUEUE", "SANDBOX_URL"}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k not in dropped
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; returns once the process is gone."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


@contextlib.contextmanager
def child_process(
    argv: list[str], *, log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a command for the duration of the block, its output in ``log``; always stopped.

    Args:
        argv: The command.
        log: File receiving its stdout and stderr.
        env: Its environment.

    Yields:
        The ``subprocess.Popen`` of the process.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    except BaseException:
        # Interrupted or failed: the dev server may be gone already (a terminal's Ctrl-C reaches
        # it too), and a worker cannot shut down gracefully without it; do not wait long.
        stop_process(proc, grace=INTERRUPT_GRACE)
        raise
    stop_process(proc)


def _read(log: Path) -> str:
    """What a log file holds so far (empty when unreadable)."""
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, indented, for an error message."""
    text = _read(log)
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:]) or "    (no output)"


def _check_alive(proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    if proc.poll() is not None:
        raise BenchError(f"{what} exited with status {proc.returncode}:\n{tail(log)}")


async def wait_for_output(
    proc: subprocess.Popen[bytes], log: Path, pattern: re.Pattern[str], what: str
) -> re.Match[str]:
    """Wait until the process writes a line matching ``pattern``.

    Raises:
        BenchError: When the process exits first or the deadline passes.
    """
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        match = pattern.search(_read(log))
        if match:
            return match
        _check_alive(proc, log, what)
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {READY_TIMEOUT:.0f}s:\n{tail(log)}")
        await asyncio.sleep(0.05)


async def wait_for_pollers(
    client: Client, task_queue: str, proc: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Wait until the worker polls the task queue for both workflow and activity tasks.

    Raises:
        BenchError: When the process exits first or the deadline passes.
    """
    deadline = time.monotonic() + READY_TIMEOUT
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while True:
        _check_alive(proc, log, what)
        polled = []
        for kind in kinds:
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=kind,
                )
            )
            polled.append(bool(response.pollers))
        if all(polled):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not polling after {READY_TIMEOUT:.0f}s:\n{tail(log)}")
        await asyncio.sleep(0.1)


# --- workloads -------------------------------------------------------------------------------


def bench_payload(slug: str) -> dict[str, Any]:
    """A complete canonical payload (smb tier) for a customer named after ``slug``."""
    return {
        "customer": {
            "legal_name": f"{slug.title()} Industries",
            "domain": f"{slug}.example",
            "tier": "smb",
        },
        "primary_contact": {"name": f"Pat {slug.title()}", "email": f"pat@{slug}.example"},
        "plan": {"sku": "platform-starter", "billing_term": "monthly"},
        "crm_owner": "rep@example.com",
        "implementation": {"urgency": "standard"},
    }


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    while cause is not None:
        text += f" <- {type(cause).__name__}: {cause}"
        cause = cause.__cause__
    return text


async def where_onboarding_stopped(client: Client, workflow_id: str) -> tuple[str, str]:
    """The stage of an unfinished onboarding run and, when it is parked, why."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, workflow_id)
    try:
        status = await handle.query(OnboardingWorkflow.status)
    except Exception as exc:
        return "unknown", f"status query failed: {_error_text(exc)}"
    item = status.open_exception
    if item is None:
        return status.stage.value, ""
    return status.stage.value, f"parked: {item.category.value} at {item.step}, owner {item.owner}"


async def run_onboarding(
    client: Client, task_queue: str, workflow_id: str, timeout: float
) -> RunOutcome:
    """One onboarding from the start call to its result."""
    slug = re.sub(r"[^a-z0-9]", "", workflow_id.lower())
    source = TriggerSource(system="stripe", event_type="invoice.paid", object_id=workflow_id)
    started = time.perf_counter()
    try:
        outcome = await start_onboarding(
            client, workflow_id, source, bench_payload(slug), task_queue=task_queue
        )
        result = await asyncio.wait_for(outcome.handle.result(), timeout)
    except TimeoutError:
        stage, why = await where_onboarding_stopped(client, workflow_id)
        detail = f"no result after {timeout:g}s" + (f"; {why}" if why else "")
        return RunOutcome(workflow_id, False, stage, None, detail)
    except Exception as exc:
        return RunOutcome(workflow_id, False, "failed", None, _error_text(exc))
    latency = time.perf_counter() - started
    stage = result.stage.value
    live = stage == "live"
    return RunOutcome(workflow_id, live, stage, latency, "" if live else f"ended in {stage}")


async def run_baseline(
    client: Client, task_queue: str, activities: int, workflow_id: str, timeout: float
) -> RunOutcome:
    """One baseline run from the start call to its result."""
    started = time.perf_counter()
    try:
        handle = await client.start_workflow(
            BaselineWorkflow.run, activities, id=workflow_id, task_queue=task_queue
        )
        done = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        return RunOutcome(workflow_id, False, "running", None, f"no result after {timeout:g}s")
    except Exception as exc:
        return RunOutcome(workflow_id, False, "failed", None, _error_text(exc))
    latency = time.perf_counter() - started
    ok = done == activities
    detail = "" if ok else f"ran {done} activities of {activities}"
    return RunOutcome(workflow_id, ok, "completed" if ok else "short", latency, detail)


async def run_batch(
    workflow_ids: list[str], concurrency: int, one: Callable[[str], Awaitable[RunOutcome]]
) -> list[RunOutcome]:
    """Run every ID through ``one``, at most ``concurrency`` in flight, in order of the list."""
    slots = asyncio.Semaphore(max(1, concurrency))

    async def guarded(workflow_id: str) -> RunOutcome:
        async with slots:
            return await one(workflow_id)

    return list(await asyncio.gather(*(guarded(i) for i in workflow_ids)))


async def measure(
    name: str,
    worker: subprocess.Popen[bytes],
    prefix: str,
    args: argparse.Namespace,
    one: Callable[[str], Awaitable[RunOutcome]],
) -> PhaseResult:
    """Warm up, then run and measure one workload's batch against its worker process."""
    warm_ids = [f"{prefix}-warmup-{i}" for i in range(args.warmup)]
    if warm_ids:
        progress(f"{name}: {len(warm_ids)} warm-up run(s)")
    warmup = await run_batch(warm_ids, args.concurrency, one)
    ids = [f"{prefix}-{i:04d}" for i in range(args.runs)]
    progress(f"{name}: {args.runs} runs, at most {args.concurrency} in flight")
    sampler = RssSampler(worker.pid)
    sampler.start()
    cpu_before = _cpu_seconds(worker.pid)
    started = time.perf_counter()
    try:
        outcomes = await run_batch(ids, args.concurrency, one)
        wall = time.perf_counter() - started
        cpu_after = _cpu_seconds(worker.pid)
    finally:
        await sampler.stop()
    hwm = _proc_status(worker.pid).get("VmHWM")
    peak, source = (hwm, "VmHWM") if hwm is not None else (sampler.peak, "VmRSS sampled")
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return PhaseResult(
        name=name,
        runs=args.runs,
        concurrency=args.concurrency,
        wall_s=wall,
        outcomes=outcomes,
        warmup=warmup,
        peak_rss_bytes=peak,
        rss_source=source if peak is not None else "unavailable",
        cpu_s=cpu,
    )


async def count_activities(client: Client, workflow_id: str) -> int:
    """How many activities a run scheduled, from its history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return sum(1 for event in history.events if event.event_type == scheduled)


def count_recorded_activities() -> int:
    """How many activities the recorded happy-path history scheduled."""
    events = json.loads(RECORDED_HISTORY.read_text())["events"]
    return sum(1 for e in events if e.get("eventType") == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")


async def onboarding_phase(
    client: Client, address: str, work: Path, tag: str, args: argparse.Namespace
) -> tuple[PhaseResult, int, str]:
    """The onboarding workload; also how many activities one run executes, and from where."""
    sandbox_log = work / "sandbox.log"
    sandbox_argv = [sys.executable, "-m", "onboarding.sandbox", "--port", "0"]
    sandbox_argv += ["--db", str(work / "sandbox.sqlite3")]
    progress("starting the vendor sandbox")
    with child_process(sandbox_argv, log=sandbox_log, env=child_env()) as sandbox:
        url = (await wait_for_output(sandbox, sandbox_log, SANDBOX_READY, "the sandbox")).group(1)
        task_queue = f"bench-onboarding-{tag}"
        worker_log = work / "onboarding-worker.log"
        worker_argv = [sys.executable, "-m", "workers.main", "--address", address]
        worker_argv += ["--namespace", NAMESPACE, "--task-queue", task_queue]
        worker_argv += ["--rules", str(BUNDLED_RULES)]
        progress("starting the onboarding worker")
        with child_process(worker_argv, log=worker_log, env=child_env(SANDBOX_URL=url)) as worker:
            await wait_for_pollers(client, task_queue, worker, worker_log, "the onboarding worker")

            async def one(workflow_id: str) -> RunOutcome:
                return await run_onboarding(client, task_queue, workflow_id, args.timeout)

            phase = await measure("onboarding", worker, f"bench-{tag}", args, one)
    live = next((o.workflow_id for o in phase.outcomes + phase.warmup if o.ok), None)
    if live is not None:
        return phase, await count_activities(client, live), f"history of {live}"
    return phase, count_recorded_activities(), "the recorded happy-path history"


async def baseline_phase(
    client: Client, address: str, work: Path, tag: str, activities: int, args: argparse.Namespace
) -> PhaseResult:
    """The bare baseline workload."""
    task_queue = f"bench-baseline-{tag}"
    worker_log = work / "baseline-worker.log"
    worker_argv = [sys.executable, "-m", "bench.baseline_worker", "--address", address]
    worker_argv += ["--namespace", NAMESPACE, "--task-queue", task_queue]
    progress("starting the baseline worker")
    with child_process(worker_argv, log=worker_log, env=child_env()) as worker:
        await wait_for_pollers(client, task_queue, worker, worker_log, "the baseline worker")

        async def one(workflow_id: str) -> RunOutcome:
            return await run_baseline(client, task_queue, activities, workflow_id, args.timeout)

        return await measure("baseline", worker, f"bench-baseline-{tag}", args, one)


# --- report ----------------------------------------------------------------------------------


@dataclass
class Report:
    """Both workloads and how they compare."""

    onboarding: PhaseResult
    baseline: PhaseResult
    activities_per_run: int
    activities_source: str
    extra: dict[str, Any] = field(default_factory=dict)

    def ratios(self) -> dict[str, float | None]:
        """Onboarding over baseline, metric by metric."""
        ob, bl = self.onboarding, self.baseline
        return {
            "throughput": _ratio(ob.throughput, bl.throughput),
            "p50_latency": _ratio(ob.p(50), bl.p(50)),
            "p95_latency": _ratio(ob.p(95), bl.p(95)),
            "worker_peak_rss": _ratio(ob.rss_mib, bl.rss_mib),
            "worker_cpu_per_run": _ratio(ob.cpu_ms_per_run, bl.cpu_ms_per_run),
        }

    @property
    def ok(self) -> bool:
        """Whether every run ended as it should."""
        return not self.onboarding.failures and not self.baseline.failures

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "runs": self.onboarding.runs,
            "concurrency": self.onboarding.concurrency,
            "activities_per_run": self.activities_per_run,
            "activities_counted_from": self.activities_source,
            **self.extra,
            "onboarding": self.onboarding.to_json(),
            "baseline": self.baseline.to_json(),
            "ratios": {k: _round(v, 3) for k, v in self.ratios().items()},
            "ok": self.ok,
        }

    def table(self) -> str:
        """The report as a console table."""

        def num(value: float | None, fmt: str) -> str:
            return "n/a" if value is None else format(value, fmt)

        head = (
            f"{'workload':<20}{'runs':>6}{'conc':>6}{'runs/s':>10}{'p50 ms':>10}{'p95 ms':>10}"
            f"{'peak RSS MiB':>14}{'CPU ms/run':>12}"
        )
        lines = [
            f"Onboarding benchmark: {self.onboarding.runs} runs per workload, at most "
            f"{self.onboarding.concurrency} in flight, one Temporal dev server (in memory).",
            f"One onboarding run executes {self.activities_per_run} activities (counted from "
            f"{self.activities_source}); a baseline run executes as many no-op activities.",
            f"Warm-up: {len(self.onboarding.warmup)} run(s) per workload, not measured. "
            "RSS and CPU are the worker process's own.",
            "",
            head,
            "-" * len(head),
        ]
        for phase in (self.onboarding, self.baseline):
            lines.append(
                f"{phase.name:<20}{phase.runs:>6}{phase.concurrency:>6}"
                f"{phase.throughput:>10.2f}{num(phase.p(50), '.1f'):>10}"
                f"{num(phase.p(95), '.1f'):>10}{num(phase.rss_mib, '.1f'):>14}"
                f"{num(phase.cpu_ms_per_run, '.1f'):>12}"
            )
        r = self.ratios()

        def x(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f}x"

        lines.append(
            f"{'onboarding/baseline':<20}{'':>6}{'':>6}{x(r['throughput']):>10}"
            f"{x(r['p50_latency']):>10}{x(r['p95_latency']):>10}{x(r['worker_peak_rss']):>14}"
            f"{x(r['worker_cpu_per_run']):>12}"
        )
        return "\n".join(lines)

    def failure_lines(self) -> list[str]:
        """One line per run that did not end as it should."""
        lines = []
        for phase in (self.onboarding, self.baseline):
            for o in phase.failures:
                why = f" ({o.detail})" if o.detail else ""
                lines.append(f"  {phase.name} run {o.workflow_id} ended {o.ended}{why}")
        return lines


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the block, so that child processes started in it
    (the dev server, spawned by the SDK's core) write their output to stderr, not to stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def work_dir(log_dir: str | None) -> Iterator[Path]:
    """Where the sandbox database and the child processes' logs go (temporary by default)."""
    if log_dir:
        path = Path(log_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="onboarding-bench-") as tmp:
        yield Path(tmp)


async def benchmark(args: argparse.Namespace) -> Report:
    """Run both workloads on one dev server and return the report."""
    tag = uuid.uuid4().hex[:6]
    with work_dir(args.log_dir) as work:
        progress("starting the Temporal dev server (in memory, no UI)")
        async with contextlib.AsyncExitStack() as stack:
            with stdout_to_stderr():  # its banner must not mix with the report (or the JSON)
                env = await stack.enter_async_context(dev_server(namespace=NAMESPACE, ui=False))
            client = env.client
            address = client.service_client.config.target_host
            onboarding, activities, source = await onboarding_phase(
                client, address, work, tag, args
            )
            baseline = await baseline_phase(client, address, work, tag, activities, args)
    return Report(onboarding, baseline, activities, source, {"warmup": args.warmup})


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
        print(report.table())
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
    parser.add_argument("--runs", type=int, default=50, help="measured runs per workload (50)")
    parser.add_argument("--concurrency", type=int, default=10, help="runs in flight at most (10)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured runs per workload before the batch (1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for one run's result (120)"
    )
    parser.add_argument(
        "--log-dir", help="keep the sandbox database and the workers' logs here (default: temp)"
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
    if args.runs < 1 or args.concurrency < 1 or args.warmup < 0 or args.timeout <= 0:
        parser.error(
            "--runs and --concurrency must be at least 1, --warmup at least 0, --timeout positive"
        )
    try:
        return asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; every child process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
