"""The intake benchmark: signed webhooks per second through ``onboarding-intake``, against the raw
``start_workflow`` rate of the same server (``python -m bench.onboarding_bench --intake M``).

M Stripe ``invoice.paid`` events, signed as Stripe signs them, 30% of them redeliveries of an
event sent before (Stripe redelivers until it sees a 2xx), are posted to the intake in its own
process with its production server settings, at most C at once. Every first delivery must be
answered ``201 started`` and every redelivery ``200 running``: the run exists once. No worker
polls the runs' task queue: the intake is what is measured. The bare baseline is the same
sequence of workflow IDs, redeliveries included, started straight from this process with
``start_workflow`` (``USE_EXISTING``), at most C at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from bench.baseline import BaselinePlan, BaselineWorkflow
from bench.goals import Goal, num, times
from bench.happy_path import error_text
from bench.harness import (
    NAMESPACE,
    BenchError,
    check_alive,
    child_env,
    child_process,
    cpu_seconds,
    peak_rss_mib,
    percentile,
    progress,
    ratio,
    rounded,
    tail,
)
from onboarding.security.signatures import stripe_signature_header

#: The share of deliveries that are redeliveries of an event sent before.
DUPLICATES = 0.3
STRIPE_SECRET = "whsec_bench_" + "b" * 24
WARMUP = 5


def stripe_event(slug: str) -> dict[str, Any]:
    """A Stripe ``invoice.paid`` event of a first subscription invoice, every field the run
    needs in the subscription's metadata."""
    metadata = {
        "legal_name": f"{slug.title()} Industries",
        "company_domain": f"{slug}.example",
        "tier": "smb",
        "plan_sku": "platform-starter",
        "billing_term": "monthly",
        "crm_owner": "rep@example.com",
        "urgency": "standard",
    }
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "invoice.paid",
        "api_version": "2025-03-31.basil",
        "data": {
            "object": {
                "id": f"in_{uuid.uuid4().hex[:20]}",
                "object": "invoice",
                "status": "paid",
                "billing_reason": "subscription_create",
                "customer_name": f"Pat {slug.title()}",
                "customer_email": f"pat@{slug}.example",
                "amount_paid": 120000,
                "currency": "usd",
                "metadata": {},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"metadata": metadata, "subscription": "sub_1"},
                },
            }
        },
    }


def deliveries(count: int, tag: str, seed: int = 13) -> list[tuple[bytes, bool]]:
    """``count`` event bodies in sending order, each with whether it is a redelivery."""
    rng = random.Random(seed)
    sent: list[bytes] = []
    out: list[tuple[bytes, bool]] = []
    for i in range(count):
        if sent and rng.random() < DUPLICATES:
            out.append((rng.choice(sent), True))
            continue
        body = json.dumps(stripe_event(f"in{tag}{i}")).encode()
        sent.append(body)
        out.append((body, False))
    return out


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IntakeReport:
    """The intake's rate and the raw start rate, on the same server."""

    deliveries: int
    redeliveries: int
    concurrency: int
    intake_s: float
    intake_latencies_ms: list[float]
    intake_cpu_s: float | None
    intake_peak_rss_mib: float | None
    statuses: dict[str, int]
    raw_s: float
    raw_latencies_ms: list[float]
    failures: list[str] = field(default_factory=list)

    @property
    def intake_rate(self) -> float:
        """Deliveries answered per second."""
        return self.deliveries / self.intake_s

    @property
    def raw_rate(self) -> float:
        """Raw start calls per second."""
        return self.deliveries / self.raw_s

    @property
    def ok(self) -> bool:
        """Whether every delivery was answered as it should."""
        return not self.failures

    def failure_lines(self) -> list[str]:
        """One line per problem."""
        return [f"  intake: {f}" for f in self.failures]

    def to_json(self) -> dict[str, Any]:
        """The intake comparison as JSON-ready data."""
        return {
            "deliveries": self.deliveries,
            "redeliveries": self.redeliveries,
            "concurrency": self.concurrency,
            "statuses": self.statuses,
            "intake_per_s": round(self.intake_rate, 2),
            "intake_p50_ms": rounded(percentile(sorted(self.intake_latencies_ms), 50)),
            "intake_p95_ms": rounded(percentile(sorted(self.intake_latencies_ms), 95)),
            "intake_cpu_ms_per_delivery": rounded(
                None if self.intake_cpu_s is None else self.intake_cpu_s * 1000 / self.deliveries
            ),
            "intake_peak_rss_mib": rounded(self.intake_peak_rss_mib),
            "raw_start_per_s": round(self.raw_rate, 2),
            "raw_p50_ms": rounded(percentile(sorted(self.raw_latencies_ms), 50)),
            "raw_p95_ms": rounded(percentile(sorted(self.raw_latencies_ms), 95)),
            "ratio": rounded(ratio(self.intake_rate, self.raw_rate), 3),
            "failures": self.failures,
            "ok": self.ok,
        }

    def table(self) -> str:
        """The intake comparison as a console table."""
        head = f"{'workload':<28}{'per s':>10}{'p50 ms':>10}{'p95 ms':>10}{'CPU ms/each':>13}"
        cpu = None if self.intake_cpu_s is None else self.intake_cpu_s * 1000 / self.deliveries
        intake = sorted(self.intake_latencies_ms)
        raw = sorted(self.raw_latencies_ms)
        return "\n".join(
            [
                f"Intake: {self.deliveries} signed Stripe webhooks, {self.redeliveries} of them "
                f"redeliveries, at most {self.concurrency} in flight; answers "
                + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
                + ".",
                "Raw: the same workflow IDs started with start_workflow from the benchmark "
                "process. CPU: the intake process's own.",
                "",
                head,
                "-" * len(head),
                f"{'onboarding-intake':<28}{self.intake_rate:>10.1f}"
                f"{num(percentile(intake, 50), '.1f'):>10}{num(percentile(intake, 95), '.1f'):>10}"
                f"{num(cpu, '.2f'):>13}",
                f"{'raw start_workflow':<28}{self.raw_rate:>10.1f}"
                f"{num(percentile(raw, 50), '.1f'):>10}{num(percentile(raw, 95), '.1f'):>10}"
                f"{'':>13}",
                f"{'intake/raw':<28}{times(ratio(self.intake_rate, self.raw_rate)):>10}",
            ]
        )

    def goals(self) -> list[Goal]:
        """The intake has no goal of its own: its ratio is shown for the record."""
        r = ratio(self.intake_rate, self.raw_rate)
        return [
            Goal(
                "signed webhooks per second (30% dupes), ratio",
                f"{self.intake_rate:.0f} ({times(r)})",
                f"{self.raw_rate:.0f} (raw)",
                r,
                "(no goal)",
                None,
            )
        ]


async def post_all(
    http: httpx.AsyncClient, bodies: list[tuple[bytes, bool]], concurrency: int
) -> tuple[list[float], Counter[str], list[str]]:
    """Post every body, signed now, at most ``concurrency`` at once; latencies, the answers
    by status, and what was answered wrong."""
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    # A sender redelivers an event after it saw no 2xx for it: never while the first is in flight.
    answered = {body: asyncio.Event() for body, redelivery in bodies if not redelivery}

    async def one(body: bytes, redelivery: bool) -> None:
        first = answered.get(body)
        if redelivery and first is not None:
            await first.wait()
        try:
            await send(body, redelivery)
        finally:
            if not redelivery and first is not None:
                first.set()

    async def send(body: bytes, redelivery: bool) -> None:
        async with slots:
            headers = {
                "Stripe-Signature": stripe_signature_header(
                    body, [STRIPE_SECRET], int(time.time())
                ),
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            try:
                response = await http.post("/webhooks/stripe", content=body, headers=headers)
            except httpx.HTTPError as exc:
                problems.append(f"delivery failed: {error_text(exc)}")
                return
            latencies.append((time.perf_counter() - started) * 1000)
            status = response.json().get("status", str(response.status_code))
            statuses[f"{response.status_code} {status}"] += 1
            expected = (200, "running") if redelivery else (201, "started")
            if (response.status_code, status) != expected and len(problems) < 10:
                problems.append(
                    f"{'redelivery' if redelivery else 'delivery'} answered "
                    f"{response.status_code} {response.text[:200]}"
                )

    await asyncio.gather(*(one(body, dup) for body, dup in bodies))
    return latencies, statuses, problems


async def start_all(
    client: Client, task_queue: str, ids: list[str], concurrency: int
) -> tuple[list[float], list[str]]:
    """Start every ID (redeliveries reach the running run), at most ``concurrency`` at once."""
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    problems: list[str] = []
    plan = BaselinePlan(activities=1)

    async def one(workflow_id: str) -> None:
        async with slots:
            started = time.perf_counter()
            try:
                await client.start_workflow(
                    BaselineWorkflow.run,
                    plan,
                    id=workflow_id,
                    task_queue=task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except Exception as exc:
                if len(problems) < 10:
                    problems.append(f"raw start failed: {error_text(exc)}")
                return
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(i) for i in ids))
    return latencies, problems


async def intake_benchmark(
    client: Client, address: str, work: Path, tag: str, args: argparse.Namespace
) -> IntakeReport:
    """The intake against the raw start rate."""
    count, concurrency = args.intake, args.intake_concurrency
    bodies = deliveries(count + WARMUP, tag)
    warmup, measured = bodies[:WARMUP], bodies[WARMUP:]
    port = free_port()
    log = work / "intake.log"
    argv = [sys.executable, "-m", "onboarding.intake", "--port", str(port)]
    argv += ["--address", address, "--namespace", NAMESPACE]
    argv += ["--task-queue", f"bench-intake-{tag}", "--log-level", "WARNING"]
    env = child_env(STRIPE_WEBHOOK_SECRETS=STRIPE_SECRET)
    progress("intake: starting onboarding-intake")
    with child_process(argv, log=log, env=env) as intake:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                check_alive(intake, log, "the intake")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"the intake is not answering after 60 s:\n{tail(log)}")
                await asyncio.sleep(0.1)
            _, _, warm_problems = await post_all(http, warmup, concurrency)
            if warm_problems:
                raise BenchError(f"the intake's warm-up failed: {warm_problems[0]}\n{tail(log)}")
            progress(f"intake: {len(measured)} deliveries, at most {concurrency} in flight")
            cpu_before = cpu_seconds(intake.pid)
            started = time.perf_counter()
            latencies, statuses, problems = await post_all(http, measured, concurrency)
            intake_s = time.perf_counter() - started
            cpu_after = cpu_seconds(intake.pid)
            peak = peak_rss_mib(intake.pid)
    # The same sequence of IDs, redeliveries included, as raw starts.
    first_seen: dict[bytes, str] = {}
    ids = [
        first_seen.setdefault(body, f"bench-raw-{tag}-{len(first_seen)}") for body, _ in measured
    ]
    raw_queue = f"bench-raw-{tag}"
    await start_all(client, raw_queue, [f"{raw_queue}-warmup-{i}" for i in range(WARMUP)], 5)
    progress(f"intake: {len(ids)} raw starts, at most {concurrency} in flight")
    started = time.perf_counter()
    raw_latencies, raw_problems = await start_all(client, raw_queue, ids, concurrency)
    raw_s = time.perf_counter() - started
    return IntakeReport(
        deliveries=len(measured),
        redeliveries=sum(1 for _, dup in measured if dup),
        concurrency=concurrency,
        intake_s=intake_s,
        intake_latencies_ms=latencies,
        intake_cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        intake_peak_rss_mib=peak,
        statuses=dict(statuses),
        raw_s=raw_s,
        raw_latencies_ms=raw_latencies,
        failures=problems + raw_problems,
    )
