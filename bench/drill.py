"""Fault drill: many onboardings through crashes, storms and lost answers; then count defects.

``python -m bench.drill [--runs N] [--deliveries 3] [--json]`` (``make drill``).

On 127.0.0.1 only, bounded in time and self-stopping, it starts a Temporal dev server (SQLite
file), the vendor sandbox (HubSpot search lagging writes) and two worker processes, delivers N
onboardings ``--deliveries`` times each (some at once, some while running, some after the run
closed), and meanwhile:

- kills a worker with SIGKILL every ``--kill-every`` seconds and starts it again;
- kills the dev server once with SIGKILL and starts it again on the same database;
- answers every create (HubSpot, Asana, Zendesk, Resend) with a 500 *after* committing it, at
  random (``--commit-fault``);
- injects 429 storms shorter than the vendor's rate-limit window (HubSpot 10 s, Zendesk 60 s)
  and 5xx bursts, one every ``--storm-every`` seconds.

Every tenth transaction is an enterprise onboarding: it waits for QA sign-off and is cancelled
there, with rollback. Then the drill counts from the sandbox's own state and Temporal's
visibility: runs lost or unfinished, transactions with more than one run, duplicate records per
vendor, orphan records, runs parked for an infra reason, and what a cancel after retries left
behind. It prints a table and exits 1 on any defect (2 when it cannot run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from bench.harness import SANDBOX_READY, child_env, tail, wait_for_output
from onboarding.data import BUNDLED_RULES
from onboarding.domain import keys
from onboarding.domain.errors import Category
from onboarding.domain.run import RunStatus, TriggerSource
from onboarding.embedded.devserver import binary
from onboarding.integrations.hubspot import CREATED_BY_PROPERTY
from onboarding.runtime.client import data_converter
from starters.start import start_onboarding
from workflows import search_attributes as sa
from workflows.messages import CancelRequest
from workflows.onboarding import OnboardingWorkflow

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "default"
TASK_QUEUE = "drill"
INFRA = {Category.RATE_LIMIT.value, Category.SERVER_ERROR.value}
#: Every create the project makes, as a fault path (regex, full match).
CREATES = (
    r"/hubspot/crm/v3/objects/(companies|contacts)",
    r"/asana/api/1\.0/project_templates/\d+/instantiateProject",
    r"/asana/api/1\.0/tasks",
    r"/zendesk/api/v2/(organizations|users)(\.json)?",
    r"/resend/emails",
)
#: Storms: (vendor prefix, status, Retry-After, seconds), each shorter than the vendor's window.
STORMS = (
    ("/hubspot/", 429, 2, 6),
    ("/zendesk/", 429, 10, 8),
    ("/asana/", 503, None, 4),
    ("/resend/", 502, None, 3),
    ("/hubspot/", 503, None, 3),
)
DRILL_RULES = """[retry]
budget_minutes = 15
initial_interval_seconds = 1
maximum_interval_seconds = 5
backoff_coefficient = 2.0
"""


class DrillError(RuntimeError):
    """The drill cannot run; the message says why."""


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(f"[drill {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- processes -------------------------------------------------------------------------------


@dataclass
class Managed:
    """A child process the drill may SIGKILL and start again."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start (again), appending to the log."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


def dev_server_argv(port: int, db_file: Path) -> list[str]:
    """The Temporal CLI dev server on ``port`` with a SQLite file and our search attributes."""
    argv = [binary("temporal"), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    argv += ["--headless", "--db-filename", str(db_file), "--log-level", "error"]
    argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    for key in sa.ALL:
        argv += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return argv


async def connect(address: str, deadline: float) -> Client:
    """A client, once the server answers (retrying until ``deadline``)."""
    while True:
        try:
            client = await Client.connect(
                address, namespace=NAMESPACE, data_converter=data_converter()
            )
            await client.count_workflows()
            return client
        except Exception as exc:
            if time.monotonic() > deadline:
                raise DrillError(f"Temporal at {address} not reachable: {exc}") from None
            await asyncio.sleep(0.3)


async def patiently(
    what: str, call: Callable[[], Awaitable[Any]], deadline: float, stats: Counter[str]
) -> Any:
    """``call`` retried through restarts and kills until ``deadline`` (as a sender retries)."""
    while True:
        try:
            return await asyncio.wait_for(call(), 20)
        except Exception as exc:
            stats[f"{what} retried"] += 1
            if time.monotonic() > deadline:
                raise DrillError(f"{what}: {exc}") from None
            await asyncio.sleep(1)


# --- the customers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """One drill transaction and who it onboards."""

    transaction_id: str
    slug: str
    tier: str

    @property
    def domain(self) -> str:
        return f"{self.slug}.example"

    @property
    def email(self) -> str:
        return f"pat@{self.slug}.example"

    def payload(self) -> dict[str, Any]:
        customer = {"legal_name": f"{self.slug.title()} Inc", "domain": self.domain}
        customer["tier"] = self.tier
        if self.tier == "enterprise":
            customer["region"] = "amer"
        return {
            "customer": customer,
            "primary_contact": {"name": f"Pat {self.slug.title()}", "email": self.email},
            "plan": {"sku": "platform-starter", "billing_term": "monthly"},
            "crm_owner": "rep@example.com",
            "implementation": {"urgency": "standard"},
        }


def customers(runs: int, tag: str) -> list[Customer]:
    """N customers: every tenth enterprise (cancelled at QA), every third mid-market."""
    out = []
    for n in range(runs):
        tier = "enterprise" if n % 10 == 9 else "mid-market" if n % 3 == 1 else "smb"
        out.append(Customer(f"drill-{tag}-{n:04d}", f"d{tag}{n:04d}", tier))
    return out


# --- the audit -------------------------------------------------------------------------------


@dataclass
class Audit:
    """What the drill counts; every row but the facts is a defect when non-zero."""

    rows: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, row: str, example: str | None = None) -> None:
        """Count one defect of kind ``row``."""
        self.rows[row] = self.rows.get(row, 0) + 1
        if example is not None and len(self.examples.setdefault(row, [])) < 5:
            self.examples[row].append(example)

    @property
    def defects(self) -> int:
        """Every defect counted."""
        return sum(self.rows.values())


DEFECT_ROWS = (
    "runs lost",
    "runs not finished",
    "transactions with more than one run",
    "duplicate hubspot companies",
    "duplicate hubspot contacts",
    "duplicate asana projects",
    "duplicate asana tasks",
    "duplicate zendesk organizations",
    "duplicate zendesk users",
    "duplicate resend emails",
    "calendly links created",
    "orphan records",
    "runs parked for an infra reason",
    "records left after a cancel",
)


def _live(item: dict[str, Any]) -> bool:
    return not item.get("archived") and not item.get("deleted")


def _tag(email: dict[str, Any], name: str) -> str | None:
    return next((t["value"] for t in email.get("tags") or [] if t.get("name") == name), None)


async def audit(
    client: Client,
    state: dict[str, Any],
    people: list[Customer],
    *,
    cancelled: set[str],
    links_before: int = 0,
) -> Audit:
    """Count defects from the sandbox's ``state`` and Temporal's visibility and run states.

    Args:
        client: Temporal client (visibility, and each run's ``status`` query).
        state: The sandbox's ``GET /_admin/state``.
        people: The transactions delivered.
        cancelled: Transactions cancelled on purpose (with rollback).
        links_before: Calendly scheduling links that existed before the drill.
    """
    found = Audit()
    by_id: dict[str, Customer] = {c.transaction_id: c for c in people}
    executions: Counter[str] = Counter()
    closed: dict[str, WorkflowExecutionStatus | None] = {}
    async for execution in client.list_workflows():
        if execution.id in by_id:
            executions[execution.id] += 1
            closed[execution.id] = execution.status
    statuses: dict[str, RunStatus] = {}
    slots = asyncio.Semaphore(8)

    async def status(txn: str) -> None:
        async with slots:
            handle = client.get_workflow_handle_for(OnboardingWorkflow.run, txn)
            for _ in range(5):
                try:
                    statuses[txn] = await handle.query(OnboardingWorkflow.status)
                    return
                except Exception:
                    await asyncio.sleep(1)

    await asyncio.gather(*(status(txn) for txn in by_id if executions[txn]))
    for txn in by_id:
        if not executions[txn]:
            found.add("runs lost", txn)
            continue
        if executions[txn] > 1:
            found.add("transactions with more than one run", txn)
        run = statuses.get(txn)
        expected = "cancelled" if txn in cancelled else "live"
        if run is None or run.stage.value != expected:
            found.add(
                "runs not finished",
                f"{txn}: {run.stage.value if run else 'no status'} "
                f"({closed.get(txn)}), expected {expected}",
            )
        if run is not None and any(e.category.value in INFRA for e in run.exceptions):
            item = next(e for e in run.exceptions if e.category.value in INFRA)
            found.add("runs parked for an infra reason", f"{txn}: {item.step}: {item.message}")

    hubspot, asana, zendesk = state["hubspot"], state["asana"], state["zendesk"]
    domains = {p.domain: p for p in people}
    emails = {p.email: p for p in people}
    markers = {keys.project_marker(p.transaction_id): p for p in people}

    def duplicates(row: str, items: list[Any], key: Callable[[Any], str | None]) -> None:
        counts = Counter(k for k in map(key, items) if k is not None)
        for value, count in counts.items():
            for _ in range(count - 1):
                found.add(row, value)

    companies = [c for c in hubspot["companies"] if _live(c)]
    contacts = [c for c in hubspot["contacts"] if _live(c)]
    duplicates(
        "duplicate hubspot companies",
        companies,
        lambda c: (
            c["properties"].get("domain") if c["properties"].get("domain") in domains else None
        ),
    )
    duplicates(
        "duplicate hubspot contacts",
        contacts,
        lambda c: c["properties"].get("email") if c["properties"].get("email") in emails else None,
    )
    projects = [p for p in asana["projects"] if _live(p)]

    def marker_of(project: dict[str, Any]) -> str | None:
        match = re.search(r"\[[^\]]+\]$", project["name"])
        return match.group(0) if match and match.group(0) in markers else None

    duplicates("duplicate asana projects", projects, marker_of)
    ours = {p["gid"] for p in projects if marker_of(p)}
    tasks = [
        t for t in asana["tasks"] if _live(t) and ours & {p["gid"] for p in t.get("projects") or []}
    ]
    duplicates(
        "duplicate asana tasks",
        tasks,
        lambda t: next(
            (
                line
                for line in (t.get("notes") or "").splitlines()
                if line.startswith(keys.TASK_KEY_PREFIX)
            ),
            None,
        ),
    )
    orgs = [o for o in zendesk["organizations"] if _live(o)]
    users = [u for u in zendesk["users"] if _live(u) and u.get("active", True)]
    duplicates("duplicate zendesk organizations", orgs, lambda o: o.get("external_id"))
    duplicates("duplicate zendesk users", users, lambda u: u.get("external_id"))
    sent = [e for e in state["resend"]["emails"] if _tag(e, "step") != "alert"]
    duplicates(
        "duplicate resend emails",
        sent,
        lambda e: f"{_tag(e, 'transaction')}/{_tag(e, 'step')}" if _tag(e, "transaction") else None,
    )
    for link in state["calendly"]["scheduling_links"][links_before:]:
        found.add("calendly links created", link.get("booking_url"))

    # Orphans: a record stamped with a transaction that its run does not link; and records a
    # cancel should have removed.
    for txn in by_id:
        run = statuses.get(txn)
        linked = run.linked if run else None
        stamp = keys.created_by_note(txn)
        mine: list[tuple[str, str, bool]] = []  # (kind, id, still live)
        for kind, items in (("company", hubspot["companies"]), ("contact", hubspot["contacts"])):
            for item in items:
                if item["properties"].get(CREATED_BY_PROPERTY) == txn:
                    mine.append((kind, str(item["id"]), _live(item)))
        for project in asana["projects"]:
            if keys.project_marker(txn) in project["name"]:
                mine.append(("project", str(project["gid"]), _live(project)))
        for org in zendesk["organizations"]:
            if org.get("notes") == stamp:
                mine.append(("organization", str(org["id"]), _live(org)))
        for user in zendesk["users"]:
            if user.get("notes") == stamp:
                mine.append(("user", str(user["id"]), _live(user) and user.get("active", True)))
        tag = keys.tag_value(txn)
        for email in sent:
            if _tag(email, "transaction") == tag:
                waiting = email.get("last_event") == "scheduled"
                mine.append(("email", str(email["id"]), waiting))
        if txn in cancelled:
            for kind, record_id, alive in mine:
                if alive:
                    found.add("records left after a cancel", f"{txn}: {kind} {record_id}")
            continue
        if linked is None:
            continue
        known: dict[str, set[str | None]] = {
            "company": {linked.crm_company_id},
            "contact": {linked.crm_contact_id},
            "project": {linked.project_gid},
            "organization": {str(linked.support_org_id)},
            "user": {str(linked.support_user_id)},
            "email": set(linked.email_ids.values()),
        }
        for kind, record_id, alive in mine:
            if (alive or kind == "email") and record_id not in known[kind]:
                found.add("orphan records", f"{txn}: {kind} {record_id}")
        if linked.project_gid and not linked.crm_company_id:
            found.add("orphan records", f"{txn}: project {linked.project_gid} without a company")
    return found


# --- the drill -------------------------------------------------------------------------------


@dataclass
class Chaos:
    """What the drill did to the system."""

    worker_kills: int = 0
    server_kills: int = 0
    storms: Counter[str] = field(default_factory=Counter)
    stats: Counter[str] = field(default_factory=Counter)


async def fault_hits(http: httpx.AsyncClient, fault_id: str | None = None) -> int:
    """How many responses a fault (or every fault) has answered so far."""
    faults = (await sandbox_admin(http, "GET", "/_admin/faults"))["faults"]
    return sum(int(f["hits"]) for f in faults if fault_id is None or f["id"] == fault_id)


async def sandbox_admin(http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    response = await http.request(method, path, **kw)
    response.raise_for_status()
    return response.json() if response.content else None


async def run(args: argparse.Namespace) -> int:
    """The whole drill; the exit status."""
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    tag = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="drill-"))
    rules = work / "rules.toml"
    rules.write_text(re.sub(r"\[retry\]\n(?:[^\[\n].*\n)*", DRILL_RULES, BUNDLED_RULES.read_text()))
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = Managed(
        "dev server",
        dev_server_argv(port, work / "temporal.sqlite"),
        work / "temporal.log",
        child_env(),
    )
    sandbox = Managed(
        "sandbox",
        [
            *(sys.executable, "-m", "onboarding.sandbox", "--port", "0"),
            *("--db", str(work / "sandbox.sqlite3")),
            *("--hubspot-search-lag", str(args.search_lag)),
        ],
        work / "sandbox.log",
        child_env(),
    )
    workers: list[Managed] = []
    chaos = Chaos()
    people = customers(args.runs, tag)
    enterprise = {p.transaction_id for p in people if p.tier == "enterprise"}
    cancelled: set[str] = set()
    progress(f"work folder {work}")
    try:
        server.start()
        sandbox.start()
        assert sandbox.proc is not None
        url = (
            await wait_for_output(sandbox.proc, sandbox.log, SANDBOX_READY, "the sandbox")
        ).group(1)
        client = await connect(address, time.monotonic() + 60)
        for n in range(2):
            worker = Managed(
                f"worker {n + 1}",
                [
                    *(sys.executable, "-m", "workers.main", "--address", address),
                    *("--namespace", NAMESPACE, "--task-queue", TASK_QUEUE),
                    *("--rules", str(rules), "--log-level", "WARNING"),
                ],
                work / f"worker-{n + 1}.log",
                child_env(SANDBOX_URL=url, HTTP_TIMEOUT_SECONDS="10"),
            )
            worker.start()
            workers.append(worker)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            links_before = len(
                (await sandbox_admin(http, "GET", "/_admin/state/calendly"))["scheduling_links"]
            )
            for pattern in CREATES:
                await sandbox_admin(
                    http,
                    "POST",
                    "/_admin/faults",
                    json={
                        "method": "POST",
                        "path": pattern,
                        "match": "regex",
                        "status": 500,
                        "fail_after_commit": True,
                        "probability": args.commit_fault,
                        "seed": args.seed,
                    },
                )
            progress(
                f"{args.runs} transactions x {args.deliveries} deliveries, "
                f"{len(enterprise)} to cancel at QA; chaos on"
            )
            stop = asyncio.Event()
            chaos_tasks = [
                asyncio.create_task(kill_workers(workers, args, stop, chaos)),
                asyncio.create_task(storms(http, args, stop, chaos)),
            ]
            delivered = asyncio.create_task(deliver(client, people, args, deadline, chaos))
            # The dev server dies a third of the way through the deliveries.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(delivered), max(10.0, args.runs * 0.15))
            progress("SIGKILL the dev server, then start it again on the same database")
            server.kill()
            chaos.server_kills += 1
            await asyncio.sleep(1)
            server.start()
            client = await connect(address, time.monotonic() + 60)
            await delivered
            progress("every delivery made; chaos goes on while the runs finish")
            chaos_until = min(deadline, time.monotonic() + args.chaos_minutes * 60)
            await settle(client, people, enterprise, cancelled, chaos_until, chaos)
            stop.set()
            for task in chaos_tasks:
                await task
            chaos.stats["fail-after-commit responses"] = await fault_hits(http)
            await sandbox_admin(http, "DELETE", "/_admin/faults")
            for worker in workers:
                if worker.proc is None or worker.proc.poll() is not None:
                    worker.start()
            progress("chaos over")
            await settle(client, people, enterprise, cancelled, deadline, chaos)
            state = await sandbox_admin(http, "GET", "/_admin/state")
            found = await audit(
                # A cancel whose answer was lost still cancels: every enterprise run must end
                # cancelled, whatever the drill heard back.
                client,
                state,
                people,
                cancelled=enterprise,
                links_before=links_before,
            )
    except DrillError as exc:
        print(f"drill: {exc}", file=sys.stderr)
        for proc in (server, sandbox, *workers):
            print(f"  {proc.name} log:\n{tail(proc.log)}", file=sys.stderr)
        return 2
    finally:
        for proc in (*workers, sandbox, server):
            proc.stop()
    elapsed = time.monotonic() - started
    print_report(args, elapsed, chaos, found, len(enterprise))
    return 1 if found.defects else 0


async def deliver(
    client: Client, people: list[Customer], args: argparse.Namespace, deadline: float, chaos: Chaos
) -> None:
    """Every transaction ``--deliveries`` times: twice at once, the rest later (while running or
    after the run closed), as a billing system redelivers."""
    slots = asyncio.Semaphore(args.concurrency)
    rng = random.Random(args.seed)

    async def one(person: Customer, delay: float) -> None:
        await asyncio.sleep(delay)
        source = TriggerSource(
            system="stripe", event_type="invoice.paid", object_id=person.transaction_id
        )
        async with slots:
            await patiently(
                "delivery",
                lambda: start_onboarding(
                    client, person.transaction_id, source, person.payload(), task_queue=TASK_QUEUE
                ),
                deadline,
                chaos.stats,
            )
            chaos.stats["deliveries"] += 1

    jobs = []
    for n, person in enumerate(people):
        first = n / args.rate
        for k in range(args.deliveries):
            later = first if k < 2 else first + rng.uniform(5, 60)
            jobs.append(one(person, later))
    await asyncio.gather(*jobs)


async def kill_workers(
    workers: list[Managed], args: argparse.Namespace, stop: asyncio.Event, chaos: Chaos
) -> None:
    """SIGKILL a worker every ``--kill-every`` seconds and start it again."""
    n = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.kill_every)
        if stop.is_set():
            return
        worker = workers[n % len(workers)]
        n += 1
        worker.kill()
        chaos.worker_kills += 1
        worker.start()


async def storms(
    http: httpx.AsyncClient, args: argparse.Namespace, stop: asyncio.Event, chaos: Chaos
) -> None:
    """A 429 storm or a 5xx burst every ``--storm-every`` seconds, each shorter than the
    vendor's rate-limit window, removed when it is over."""
    n = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.storm_every)
        if stop.is_set():
            return
        prefix, status, retry_after, seconds = STORMS[n % len(STORMS)]
        n += 1
        spec: dict[str, Any] = {"path": prefix, "match": "prefix", "status": status}
        if retry_after is not None:
            spec["retry_after"] = retry_after
        fault = await sandbox_admin(http, "POST", "/_admin/faults", json=spec)
        chaos.storms[f"{status} {prefix.strip('/')}"] += 1
        await asyncio.sleep(seconds)
        chaos.stats["storm responses"] += await fault_hits(http, fault["id"])
        await http.delete(f"/_admin/faults/{fault['id']}")


async def settle(
    client: Client,
    people: list[Customer],
    enterprise: set[str],
    cancelled: set[str],
    deadline: float,
    chaos: Chaos,
) -> None:
    """Wait until every run has closed (live, or cancelled at its QA sign-off with rollback), or
    the deadline. Reads visibility, and queries only the enterprise runs in ``qa``."""
    ours = {p.transaction_id for p in people}
    while time.monotonic() < deadline:
        try:
            running = {e.id async for e in client.list_workflows("ExecutionStatus = 'Running'")}
            at_qa = {
                e.id
                async for e in client.list_workflows(
                    "ExecutionStatus = 'Running' AND OnboardingStage = 'qa'"
                )
            }
        except Exception:
            chaos.stats["visibility reads retried"] += 1
            await asyncio.sleep(2)
            continue
        pending = ours & running
        if not pending:
            return
        for txn in sorted(at_qa & (enterprise - cancelled)):
            handle = client.get_workflow_handle_for(OnboardingWorkflow.run, txn)
            try:
                status = await asyncio.wait_for(handle.query(OnboardingWorkflow.status), 10)
                if status.awaiting:
                    await asyncio.wait_for(
                        handle.execute_update(
                            OnboardingWorkflow.cancel,
                            CancelRequest(actor="drill@example.com", reason="fault drill"),
                        ),
                        20,
                    )
                    cancelled.add(txn)
            except Exception:
                chaos.stats["cancels retried"] += 1
        progress(f"{len(pending)} run(s) not finished yet")
        await asyncio.sleep(5)


def print_report(
    args: argparse.Namespace, elapsed: float, chaos: Chaos, found: Audit, cancelled: int
) -> None:
    """The table, or JSON with ``--json``."""
    if args.json:
        print(
            json.dumps(
                {
                    "runs": args.runs,
                    "deliveries": args.deliveries,
                    "duration_s": round(elapsed, 1),
                    "worker_kills": chaos.worker_kills,
                    "server_kills": chaos.server_kills,
                    "storms": dict(chaos.storms),
                    "stats": dict(chaos.stats),
                    "cancelled_after_retries": cancelled,
                    "defects": {row: found.rows.get(row, 0) for row in DEFECT_ROWS},
                    "examples": found.examples,
                    "ok": not found.defects,
                },
                indent=2,
            )
        )
        return
    print(
        f"Fault drill: {args.runs} transactions x {args.deliveries} deliveries, 2 workers, "
        f"{elapsed:.0f} s"
    )
    storms = ", ".join(f"{k}: {v}" for k, v in sorted(chaos.storms.items()))
    print(
        f"chaos: {chaos.worker_kills} worker SIGKILLs, {chaos.server_kills} dev-server "
        f"SIGKILL and restart, storms ({storms}) answering "
        f"{chaos.stats['storm responses']} requests, "
        f"{chaos.stats['fail-after-commit responses']} creates committed then answered 500 "
        f"(p={args.commit_fault} on every create)"
    )
    retried = {k: v for k, v in chaos.stats.items() if k.endswith("retried")}
    print(f"deliveries: {chaos.stats['deliveries']}; retried calls: {retried or 'none'}")
    print(f"cancelled at QA with rollback, after retries: {cancelled} (each checked below)")
    print()
    print(f"{'check':<40} {'count':>6}")
    for row in DEFECT_ROWS:
        print(f"{row:<40} {found.rows.get(row, 0):>6}")
    print()
    for row, examples in found.examples.items():
        print(f"{row}: " + "; ".join(examples))
    print("result: " + ("OK" if not found.defects else f"{found.defects} DEFECT(S)"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make drill``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.drill", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=int(os.environ.get("DRILL_RUNS", "30")))
    parser.add_argument("--deliveries", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5.0, help="first deliveries per second")
    parser.add_argument("--concurrency", type=int, default=40, help="deliveries in flight")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between SIGKILLs")
    parser.add_argument("--storm-every", type=float, default=12.0, help="seconds between storms")
    parser.add_argument("--commit-fault", type=float, default=0.3, help="fail-after-commit odds")
    parser.add_argument("--search-lag", type=float, default=3.0, help="HubSpot search lag (s)")
    parser.add_argument("--chaos-minutes", type=float, default=10.0)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="hard stop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 2


if __name__ == "__main__":
    sys.exit(main())
