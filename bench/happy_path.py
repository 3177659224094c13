"""The happy-path workload of the benchmark: onboarding runs through the real worker, the vendor
sandbox and the bundled rules, then bare runs of the same shape (``--runs N``); and what the
other workloads reuse from it (the sandbox, the onboarding worker's command line, payloads)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.baseline import BaselinePlan, BaselineWorkflow
from bench.goals import Goal, num, times
from bench.harness import (
    ROOT,
    SANDBOX_READY,
    RssSampler,
    child_env,
    child_process,
    cpu_seconds,
    percentile,
    proc_status,
    progress,
    ratio,
    rounded,
    wait_for_output,
    wait_for_pollers,
    worker_argv,
)
from onboarding.data import BUNDLED_RULES
from onboarding.domain.audit import AuditEntry
from onboarding.domain.run import TriggerSource
from onboarding.domain.stages import Stage
from onboarding.integrations.http import VendorClient
from onboarding.ledger.models import RunFacts
from onboarding.ledger.store import Ledger
from starters.start import start_onboarding
from workflows.onboarding import OnboardingWorkflow

#: Used only when no onboarding run went live, to size the baseline anyway.
RECORDED_HISTORY = ROOT / "tests" / "histories" / "v3" / "live-smb.json"
LOCAL_ACTIVITY_MARKER = "core_local_activity"


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
        return None if self.peak_rss_bytes is None else self.peak_rss_bytes / (1024 * 1024)

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
                "p50": rounded(self.p(50)),
                "p95": rounded(self.p(95)),
                "min": rounded(latencies[0] if latencies else None),
                "max": rounded(latencies[-1] if latencies else None),
                "mean": rounded(sum(latencies) / len(latencies) if latencies else None),
            },
            "worker_peak_rss_mib": rounded(self.rss_mib),
            "worker_rss_source": self.rss_source,
            "worker_cpu_ms_per_run": rounded(self.cpu_ms_per_run),
            "warmup_runs": len(self.warmup),
            "failures": [
                {"workflow_id": o.workflow_id, "ended": o.ended, "detail": o.detail}
                for o in self.failures
            ],
        }


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


def bench_source(workflow_id: str) -> TriggerSource:
    """The trigger of a benchmark run: a paid Stripe invoice named after the run."""
    return TriggerSource(system="stripe", event_type="invoice.paid", object_id=workflow_id)


def error_text(exc: BaseException) -> str:
    """An exception and its causes, one line."""
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
        return "unknown", f"status query failed: {error_text(exc)}"
    item = status.open_exception
    if item is None:
        return status.stage.value, ""
    return status.stage.value, f"parked: {item.category.value} at {item.step}, owner {item.owner}"


async def run_onboarding(
    client: Client, task_queue: str, workflow_id: str, timeout: float
) -> RunOutcome:
    """One onboarding from the start call to its result."""
    slug = re.sub(r"[^a-z0-9]", "", workflow_id.lower())
    started = time.perf_counter()
    try:
        outcome = await start_onboarding(
            client,
            workflow_id,
            bench_source(workflow_id),
            bench_payload(slug),
            task_queue=task_queue,
        )
        result = await asyncio.wait_for(outcome.handle.result(), timeout)
    except TimeoutError:
        stage, why = await where_onboarding_stopped(client, workflow_id)
        detail = f"no result after {timeout:g}s" + (f"; {why}" if why else "")
        return RunOutcome(workflow_id, False, stage, None, detail)
    except Exception as exc:
        return RunOutcome(workflow_id, False, "failed", None, error_text(exc))
    latency = time.perf_counter() - started
    stage = result.stage.value
    live = stage == "live"
    return RunOutcome(workflow_id, live, stage, latency, "" if live else f"ended in {stage}")


async def run_baseline(
    client: Client, task_queue: str, plan: BaselinePlan, workflow_id: str, timeout: float
) -> RunOutcome:
    """One baseline run from the start call to its result (started as an onboarding is)."""
    started = time.perf_counter()
    try:
        handle = await client.start_workflow(
            BaselineWorkflow.run,
            plan,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="event_received",
            start_signal_args=[{"event": workflow_id}],
        )
        done = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        return RunOutcome(workflow_id, False, "running", None, f"no result after {timeout:g}s")
    except Exception as exc:
        return RunOutcome(workflow_id, False, "failed", None, error_text(exc))
    latency = time.perf_counter() - started
    expected = plan.activities + plan.local_activities
    ok = done == expected
    detail = "" if ok else f"ran {done} activities of {expected}"
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
    pid: int,
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
    sampler = RssSampler(pid)
    sampler.start()
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    try:
        outcomes = await run_batch(ids, args.concurrency, one)
        wall = time.perf_counter() - started
        cpu_after = cpu_seconds(pid)
    finally:
        await sampler.stop()
    hwm = proc_status(pid).get("VmHWM")
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


def plan_from_events(events: list[Any]) -> BaselinePlan:
    """The bare plan of a history: its activities and local activities (from their markers)."""
    activities = local = 0
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities += 1
        elif (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            local += 1
    return BaselinePlan(activities=activities, local_activities=local)


async def count_plan(client: Client, workflow_id: str) -> BaselinePlan:
    """How many activities and local activities a run executed, from its history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return plan_from_events(list(history.events))


def recorded_plan(path: Path = RECORDED_HISTORY) -> BaselinePlan:
    """The same, from a recorded history (JSON)."""
    events = json.loads(path.read_text())["events"]
    activities = sum(1 for e in events if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    local = sum(
        1
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e.get("markerRecordedEventAttributes", {}).get("markerName") == LOCAL_ACTIVITY_MARKER
    )
    return BaselinePlan(activities=activities, local_activities=local)


@dataclass(frozen=True)
class Sandbox:
    """The vendor sandbox of a benchmark: where it answers, and its process."""

    url: str
    pid: int


@contextlib.asynccontextmanager
async def vendor_sandbox(work: Path) -> AsyncIterator[Sandbox]:
    """The vendor sandbox in its own process for the block."""
    log = work / "sandbox.log"
    argv = [sys.executable, "-m", "onboarding.sandbox", "--port", "0"]
    argv += ["--db", str(work / f"sandbox-{uuid.uuid4().hex[:6]}.sqlite3")]
    progress("starting the vendor sandbox")
    with child_process(argv, log=log, env=child_env()) as sandbox:
        ready = await wait_for_output(sandbox, log, SANDBOX_READY, "the sandbox")
        yield Sandbox(ready.group(1), sandbox.pid)


async def sandbox_requests(url: str) -> int:
    """How many requests the sandbox has answered so far (its request log's last position)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.get("/_admin/requests", params={"since": 2**62})
        response.raise_for_status()
        return int(response.json()["last_seq"])


@dataclass
class ExtraWork:
    """What an onboarding run does that a bare run does not, measured on this machine: the
    vendor requests (the worker's CPU for each, the sandbox's CPU answering them) and the
    ledger writes."""

    requests_per_run: float
    client_ms_per_request: float
    sandbox_cpu_ms_per_run: float | None
    ledger_writes_per_run: int
    ledger_entries_per_write: float
    ms_per_ledger_write: float

    @property
    def worker_ms_per_run(self) -> float:
        """The worker's CPU per run for the requests and the writes."""
        return (
            self.requests_per_run * self.client_ms_per_request
            + self.ledger_writes_per_run * self.ms_per_ledger_write
        )

    def to_json(self) -> dict[str, Any]:
        """The extra work as JSON-ready data."""
        return {
            "vendor_requests_per_run": round(self.requests_per_run, 2),
            "worker_cpu_ms_per_request": round(self.client_ms_per_request, 3),
            "sandbox_cpu_ms_per_run": rounded(self.sandbox_cpu_ms_per_run),
            "ledger_writes_per_run": self.ledger_writes_per_run,
            "ledger_entries_per_write": round(self.ledger_entries_per_write, 2),
            "worker_cpu_ms_per_ledger_write": round(self.ms_per_ledger_write, 3),
            "worker_cpu_ms_per_run": round(self.worker_ms_per_run, 2),
        }


async def client_ms_per_request(url: str, count: int = 300) -> float:
    """The CPU a vendor client spends on one request and its answer (this thread's CPU over
    ``count`` small requests to the sandbox, one at a time)."""
    client = VendorClient(url, "bench-token")
    try:
        await client.request("GET", "/_admin/health")
        started = time.thread_time()
        for _ in range(count):
            await client.request("GET", "/_admin/health")
        return (time.thread_time() - started) * 1000 / count
    finally:
        await client.aclose()


def ms_per_ledger_write(work: Path, entries: int, count: int = 300) -> float:
    """The CPU of one ledger write of ``entries`` entries (SQLite, this thread)."""
    ledger = Ledger(f"sqlite:///{work / f'ledger-probe-{uuid.uuid4().hex[:6]}.sqlite3'}")
    ledger.ensure_schema()
    facts = RunFacts(customer_name="Probe", tier="smb", trigger_system="stripe")
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor="worker",
        action="stage",
        stage=Stage.PROVISIONING,
        detail="entered provisioning, owner ops@example.com",
        data={"owner": "ops@example.com"},
    )
    started = time.thread_time()
    for i in range(count):
        ledger.append(f"probe-{i}", facts, [(seq, entry) for seq in range(1, entries + 1)])
    seconds = time.thread_time() - started
    ledger.close()
    return seconds * 1000 / count


def ledger_entries(url: str) -> int:
    """How many entries a ledger holds."""
    ledger = Ledger(url)
    try:
        return sum(1 for _ in ledger.rows())
    finally:
        ledger.close()


def onboarding_worker_env(work: Path, sandbox_url: str) -> dict[str, str]:
    """The environment of an onboarding worker of the benchmark: the sandbox's vendors, and a
    ledger of its own in the work folder (``ONBOARDING_LEDGER_URL``)."""
    ledger = work / f"ledger-{uuid.uuid4().hex[:6]}.sqlite3"
    return child_env(SANDBOX_URL=sandbox_url, ONBOARDING_LEDGER_URL=f"sqlite:///{ledger}")


def onboarding_worker_argv(address: str, task_queue: str) -> list[str]:
    """The onboarding worker's command line, on the bundled rules."""
    return worker_argv("workers.main", address, task_queue, "--rules", str(BUNDLED_RULES))


async def onboarding_phase(
    client: Client, address: str, work: Path, tag: str, args: argparse.Namespace
) -> tuple[PhaseResult, BaselinePlan, str, ExtraWork]:
    """The onboarding workload; also what one run executes, where that was counted, and what
    it does beyond a bare run."""
    async with vendor_sandbox(work) as sandbox:
        task_queue = f"bench-onboarding-{tag}"
        log = work / "onboarding-worker.log"
        progress("starting the onboarding worker")
        argv = onboarding_worker_argv(address, task_queue)
        env = onboarding_worker_env(work, sandbox.url)
        with child_process(argv, log=log, env=env) as worker:
            await wait_for_pollers(client, task_queue, worker, log, "the onboarding worker")

            async def one(workflow_id: str) -> RunOutcome:
                return await run_onboarding(client, task_queue, workflow_id, args.timeout)

            requests_before = await sandbox_requests(sandbox.url)
            sandbox_cpu_before = cpu_seconds(sandbox.pid)
            phase = await measure("onboarding", worker.pid, f"bench-{tag}", args, one)
            sandbox_cpu_after = cpu_seconds(sandbox.pid)
            requests = await sandbox_requests(sandbox.url) - requests_before
        progress("measuring a vendor request's and a ledger write's CPU")
        per_request = await client_ms_per_request(sandbox.url)
    live = next((o.workflow_id for o in phase.outcomes + phase.warmup if o.ok), None)
    if live is not None:
        plan, source = await count_plan(client, live), f"history of {live}"
    else:
        plan, source = recorded_plan(), "the recorded happy-path history"
    runs = len(phase.outcomes) + len(phase.warmup)
    entries = ledger_entries(env["ONBOARDING_LEDGER_URL"]) / max(1, runs)
    per_write = max(1.0, entries / max(1, plan.local_activities))
    extra = ExtraWork(
        requests_per_run=requests / max(1, args.runs),
        client_ms_per_request=per_request,
        sandbox_cpu_ms_per_run=(
            None
            if sandbox_cpu_before is None or sandbox_cpu_after is None
            else (sandbox_cpu_after - sandbox_cpu_before) * 1000 / max(1, args.runs)
        ),
        ledger_writes_per_run=plan.local_activities,
        ledger_entries_per_write=per_write,
        ms_per_ledger_write=await asyncio.to_thread(
            ms_per_ledger_write, work, max(1, round(per_write))
        ),
    )
    return phase, plan, source, extra


async def baseline_phase(
    client: Client, address: str, work: Path, tag: str, plan: BaselinePlan, args: argparse.Namespace
) -> PhaseResult:
    """The bare baseline workload."""
    task_queue = f"bench-baseline-{tag}"
    log = work / "baseline-worker.log"
    progress("starting the baseline worker")
    argv = worker_argv("bench.baseline_worker", address, task_queue)
    with child_process(argv, log=log, env=child_env()) as worker:
        await wait_for_pollers(client, task_queue, worker, log, "the baseline worker")

        async def one(workflow_id: str) -> RunOutcome:
            return await run_baseline(client, task_queue, plan, workflow_id, args.timeout)

        return await measure("baseline", worker.pid, f"bench-baseline-{tag}", args, one)


# --- report ----------------------------------------------------------------------------------


@dataclass
class Report:
    """The happy path's two workloads and how they compare."""

    onboarding: PhaseResult
    baseline: PhaseResult
    plan: BaselinePlan
    plan_source: str
    work: ExtraWork
    extra: dict[str, Any] = field(default_factory=dict)

    def floor_ms(self) -> float | None:
        """The CPU per run a worker that did only the bare run plus the onboarding's requests
        and ledger writes would spend."""
        bare = self.baseline.cpu_ms_per_run
        return None if bare is None else bare + self.work.worker_ms_per_run

    def ratios(self) -> dict[str, float | None]:
        """Onboarding over baseline, metric by metric."""
        ob, bl = self.onboarding, self.baseline
        return {
            "throughput": ratio(ob.throughput, bl.throughput),
            "p50_latency": ratio(ob.p(50), bl.p(50)),
            "p95_latency": ratio(ob.p(95), bl.p(95)),
            "worker_peak_rss": ratio(ob.rss_mib, bl.rss_mib),
            "worker_cpu_per_run": ratio(ob.cpu_ms_per_run, bl.cpu_ms_per_run),
        }

    @property
    def ok(self) -> bool:
        """Whether every run ended as it should."""
        return not self.onboarding.failures and not self.baseline.failures

    def to_json(self) -> dict[str, Any]:
        """The happy path as JSON-ready data."""
        return {
            "runs": self.onboarding.runs,
            "concurrency": self.onboarding.concurrency,
            "activities_per_run": self.plan.activities,
            "local_activities_per_run": self.plan.local_activities,
            "activities_counted_from": self.plan_source,
            **self.extra,
            "onboarding": self.onboarding.to_json(),
            "baseline": self.baseline.to_json(),
            "ratios": {k: rounded(v, 3) for k, v in self.ratios().items()},
            "extra_work": self.work.to_json(),
            "cpu_floor_ms_per_run": rounded(self.floor_ms()),
            "cpu_floor_ratio": rounded(ratio(self.floor_ms(), self.baseline.cpu_ms_per_run), 3),
            "ok": self.ok,
        }

    def table(self) -> str:
        """The happy path as a console table."""
        head = (
            f"{'workload':<20}{'runs':>6}{'conc':>6}{'runs/s':>10}{'p50 ms':>10}{'p95 ms':>10}"
            f"{'peak RSS MiB':>14}{'CPU ms/run':>12}"
        )
        lines = [
            f"Happy path: {self.onboarding.runs} runs per workload, at most "
            f"{self.onboarding.concurrency} in flight.",
            f"One onboarding run executes {self.plan.activities} activities and "
            f"{self.plan.local_activities} local activities (counted from {self.plan_source}); "
            "a baseline run executes as many no-op ones.",
            f"Warm-up: {len(self.onboarding.warmup)} run(s) per workload, not measured. "
            "RSS and CPU are the worker process's own.",
            "",
            head,
            "-" * len(head),
        ]
        bl_cpu = self.baseline.cpu_ms_per_run
        for phase in (self.onboarding, self.baseline):
            lines.append(
                f"{phase.name:<20}{phase.runs:>6}{phase.concurrency:>6}"
                f"{phase.throughput:>10.2f}{num(phase.p(50), '.1f'):>10}"
                f"{num(phase.p(95), '.1f'):>10}{num(phase.rss_mib, '.1f'):>14}"
                f"{num(phase.cpu_ms_per_run, '.1f'):>12}"
            )
        r = self.ratios()
        lines.append(
            f"{'onboarding/baseline':<20}{'':>6}{'':>6}{times(r['throughput']):>10}"
            f"{times(r['p50_latency']):>10}{times(r['p95_latency']):>10}"
            f"{times(r['worker_peak_rss']):>14}{times(r['worker_cpu_per_run']):>12}"
        )
        w, floor = self.work, self.floor_ms()
        lines += [
            "",
            f"What a bare run does not do, measured here: {w.requests_per_run:.1f} vendor requests "
            f"per run x {w.client_ms_per_request:.2f} ms of the worker's CPU = "
            f"{w.requests_per_run * w.client_ms_per_request:.0f} ms; {w.ledger_writes_per_run} "
            f"ledger writes x {w.ms_per_ledger_write:.2f} ms = "
            f"{w.ledger_writes_per_run * w.ms_per_ledger_write:.0f} ms. The bare run's CPU plus "
            f"these: {num(floor, '.0f')} ms per run ({times(ratio(floor, bl_cpu))} the bare run), "
            "the floor of the onboarding worker's CPU.",
            f"The vendor sandbox answering those requests spent "
            f"{num(w.sandbox_cpu_ms_per_run, '.0f')} ms of CPU per run on the same cores.",
        ]
        return "\n".join(lines)

    def failure_lines(self) -> list[str]:
        """One line per run that did not end as it should."""
        lines = []
        for phase in (self.onboarding, self.baseline):
            for o in phase.failures:
                why = f" ({o.detail})" if o.detail else ""
                lines.append(f"  {phase.name} run {o.workflow_id} ended {o.ended}{why}")
        return lines


def happy_path_goals(report: Report) -> list[Goal]:
    """The happy path's two goals: throughput >= 0.9x and CPU per run <= 1.3x the bare worker."""
    r = report.ratios()
    ob, bl = report.onboarding, report.baseline
    return [
        Goal(
            "happy-path throughput (runs/s), ratio",
            f"{ob.throughput:.2f} ({times(r['throughput'])})",
            f"{bl.throughput:.2f}",
            r["throughput"],
            ">= 0.9x",
            None if r["throughput"] is None else r["throughput"] >= 0.9,
        ),
        Goal(
            "worker CPU per happy-path run (ms), ratio",
            f"{num(ob.cpu_ms_per_run, '.0f')} ({times(r['worker_cpu_per_run'])})",
            num(bl.cpu_ms_per_run, ".0f"),
            r["worker_cpu_per_run"],
            "<= 1.3x",
            None if r["worker_cpu_per_run"] is None else r["worker_cpu_per_run"] <= 1.3,
            f"floor: the bare run plus the vendor requests and ledger writes alone, "
            f"{num(report.floor_ms(), '.0f')} ms "
            f"({times(ratio(report.floor_ms(), bl.cpu_ms_per_run))})",
        ),
    ]


async def happy_path(
    client: Client, address: str, work: Path, tag: str, args: argparse.Namespace
) -> Report:
    """The happy path: onboarding runs, then bare runs of the same shape."""
    onboarding, plan, source, extra = await onboarding_phase(client, address, work, tag, args)
    baseline = await baseline_phase(client, address, work, tag, plan, args)
    return Report(onboarding, baseline, plan, source, extra, {"warmup": args.warmup})
