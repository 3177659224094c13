"""Abuse the intake as an attacker would, within bounds, and check what people and the store see.

``python -m bench.intake_abuse [--requests 1000] [--seed 1] [--max-delay 0.5] [--json]``

Everything runs on 127.0.0.1 in a temporary directory and stops by itself (``--timeout``): a
Temporal dev server on a SQLite file with ``ONBOARDING_CODEC_KEYS`` set, the vendor sandbox, a
worker, and ``onboarding-intake`` in its own process with its production server settings. One
check per claim:

1. **hostile**: N validly signed deliveries of every source with hostile values (odd digits,
   100,000-digit numbers, lone surrogates, 10,000-character IDs, control characters, wrong
   types) in random fields of real events: every answer is 2xx or 4xx, none 5xx. The intake's
   resident memory before and after is reported.
2. **stall**: unauthenticated 60 kB request lines, oversized headers and bodies, smuggled
   framing, while a probe asks ``/healthz`` every 20 ms: the slowest answer is within
   ``--max-delay`` seconds.
3. **people**: a run whose CRM credential failure carries Slack markup, CR LF and terminal
   escapes in the vendor's text alerts at once; a run with a hostile legal name parks at the
   gate. The chat message, the email subjects and what ``onboarding show`` / ``queue`` print
   carry none of it raw (and the chat message has ``mrkdwn`` off).
4. **store**: runs that fail and retry, park on a validation or credential error, and park for
   missing data, their vendor errors echoing the contact; then the dev server's SQLite file is
   scanned: no contact email or name in it. Customer name and domain are search attributes and
   readable by design.

Exit status: 0 every check holds, 1 one does not, 2 the bench cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import json
import os
import random
import re
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.client import Client

from bench.harness import stdout_to_stderr
from onboarding.data import BUNDLED_RULES
from onboarding.domain.run import RunStatus
from onboarding.domain.text import is_steering
from onboarding.embedded.devserver import DevServerError, dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime.logging import configure_logging
from onboarding.sandbox import run_in_thread
from onboarding.security.codec import generate_key_spec
from onboarding.security.signatures import (
    crm_signature,
    docusign_signature,
    hubspot_signature,
    stripe_signature_header,
)
from workers.main import build_worker
from workflows.onboarding import OnboardingWorkflow

T = TypeVar("T")
STRIPE = "whsec_abuse_" + "a" * 24
DOCUSIGN = "ZG9jdXNpZ24tYWJ1c2Uta2V5"
HUBSPOT = "hubspot-abuse-secret"
CRM = "crm-abuse-secret"
FAST_RETRY = (
    "[retry]\nmax_attempts = 3\ninitial_interval_seconds = 0.2\n"
    "maximum_interval_seconds = 1\nbackoff_coefficient = 2.0\n"
)
#: What a vendor may echo back in an error: Slack markup, a header injection, terminal escapes.
VENDOR_TEXT = (
    "<!channel> <https://evil.example/login|Reset your password> \r\nBcc: x@evil.example "
    "\x1b]0;pwned\x07\x1b[2K"
)
HOSTILE_NAME = "Evil\x1b]0;pwned\x07 Corp\r\x1b[2KLegit Corp \u202eknab"
RAW_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
RAW_CHAT = re.compile(r"[<>]|&(?!amp;|lt;|gt;)")
CONTACTS = "/hubspot/crm/v3/objects/contacts"


class BenchError(RuntimeError):
    """The bench cannot run; the message says why."""


@dataclass
class Check:
    """One claim and what the bench saw."""

    name: str
    ok: bool = True
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.ok = False
        if len(self.problems) < 10:
            self.problems.append(problem)


# ------------------------------------------------------------------------------- events


def metadata(slug: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "legal_name": f"{slug.title()} Industries",
        "company_domain": f"{slug}.example",
        "tier": "smb",
        "plan_sku": "platform-starter",
        "billing_term": "monthly",
        "crm_owner": "rep@example.com",
        "urgency": "standard",
        "contact_name": f"Pat {slug.title()}",
        "contact_email": f"pat@{slug}.example",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def stripe_event(slug: str, **overrides: Any) -> dict[str, Any]:
    meta = metadata(slug, **overrides)
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
                "customer_name": meta.pop("contact_name", None),
                "customer_email": meta.pop("contact_email", None),
                "amount_paid": 120000,
                "currency": "usd",
                "metadata": {},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"metadata": meta, "subscription": "sub_1"},
                },
            }
        },
    }


def crm_event(slug: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event": "deal.closed_won",
        "id": f"whk_{uuid.uuid4().hex[:12]}",
        "deal": {
            "id": str(random.randrange(10**9)),
            "amount": 120000,
            "currency": "usd",
            "properties": metadata(slug, **overrides),
        },
    }


def docusign_event(slug: str) -> dict[str, Any]:
    fields = [{"name": k, "value": v} for k, v in metadata(slug).items()]
    return {
        "event": "envelope-completed",
        "generatedDateTime": "2026-11-21T10:00:00Z",
        "data": {
            "envelopeId": str(uuid.uuid4()),
            "envelopeSummary": {
                "status": "completed",
                "customFields": {"textCustomFields": fields},
                "recipients": {"signers": [{"name": "Pat", "email": "pat@x.example"}]},
            },
        },
    }


def hubspot_event() -> list[dict[str, Any]]:
    return [
        {
            "eventId": random.randrange(10**9),
            "subscriptionType": "deal.propertyChange",
            "objectId": random.randrange(10**9),
            "portalId": 62515,
            "occurredAt": int(time.time() * 1000),
            "attemptNumber": 0,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
        }
    ]


def hostile_value(rng: random.Random) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: "²",
        lambda: "٣" * rng.randint(1, 5),
        lambda: "9" * 100_000,
        lambda: "9" * 5000,
        lambda: "\ud800",
        lambda: "x" * 10_000,
        lambda: "Pat\x00\x1b[2J\r\n<!channel>",
        lambda: "\u202eevil",
        lambda: 10**30,
        lambda: -1,
        lambda: 1.5,
        lambda: float("inf"),
        lambda: True,
        lambda: None,
        lambda: [],
        lambda: {"nested": {"deep": [1, 2, 3]}},
        lambda: "",
    ]
    return rng.choice(choices)()


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += leaf_paths(item, (*prefix, index))
    return found


def mutated(event: Any, rng: random.Random) -> Any:
    event = copy.deepcopy(event)
    for path in rng.sample(leaf_paths(event), k=min(3, rng.randint(1, 3))):
        target = event
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = hostile_value(rng)
        except (KeyError, IndexError, TypeError):
            continue
    return event


class Signer:
    """Signs bodies for each endpoint as its sender does."""

    def __init__(self, base_url: str) -> None:
        self.hubspot_url = f"{base_url}/webhooks/hubspot"

    def headers(self, source: str, body: bytes) -> dict[str, str]:
        if source == "stripe":
            return {"Stripe-Signature": stripe_signature_header(body, [STRIPE], int(time.time()))}
        if source == "docusign":
            return {"X-DocuSign-Signature-1": docusign_signature(body, DOCUSIGN)}
        if source == "hubspot":
            stamp = str(int(time.time() * 1000))
            return {
                "X-HubSpot-Signature-v3": hubspot_signature(
                    "POST", self.hubspot_url, body, stamp, HUBSPOT
                ),
                "X-HubSpot-Request-Timestamp": stamp,
            }
        return {"X-Signature": crm_signature(body, CRM)}


# -------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], what: str, timeout: float = 60
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await probe()
            if until(value):
                return value
        except Exception as exc:  # not there yet (e.g. no run yet, query not answered)
            value = exc  # type: ignore[assignment]
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}; last: {str(value)[:200]}")
        await asyncio.sleep(0.2)


async def status_of(client: Client, transaction_id: str) -> RunStatus:
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    return await handle.query(OnboardingWorkflow.status)


def ended(status: RunStatus, expected: str) -> bool:
    """Whether a run is at ``expected``: a stage, or the category of its open item."""
    item = status.open_exception
    return status.stage.value == expected or (item is not None and item.category.value == expected)


async def raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


class Bench:
    """The environment: dev server, sandbox, worker, intake process."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.rng = random.Random(args.seed)
        self.checks: list[Check] = []
        self.contacts: list[str] = []  # emails and names that must not be readable at rest

    async def deliver(self, http: httpx.AsyncClient, source: str, event: Any) -> httpx.Response:
        body = json.dumps(event).encode()
        headers = {**self.signer.headers(source, body), "Content-Type": "application/json"}
        return await http.post(f"/webhooks/{source}", content=body, headers=headers)

    # --------------------------------------------------------------------------- checks

    async def hostile(self, http: httpx.AsyncClient, pid: int) -> Check:
        check = Check("hostile: signed hostile values answer 2xx/4xx, never 5xx")
        before = rss_mib(pid)
        templates: dict[str, Callable[[], Any]] = {
            "stripe": lambda: stripe_event("hostile"),
            "docusign": lambda: docusign_event("hostile"),
            "hubspot": hubspot_event,
            "crm": lambda: crm_event("hostile"),
        }
        gate = asyncio.Semaphore(16)
        statuses: Counter[int] = Counter()

        async def one(index: int) -> None:
            source = self.rng.choice(sorted(templates))
            event = mutated(templates[source](), self.rng)
            async with gate:
                response = await self.deliver(http, source, event)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                check.fail(f"{source}: {response.status_code} {response.text[:120]}")

        await asyncio.gather(*(one(i) for i in range(self.args.requests)))
        check.figures = {
            "requests": self.args.requests,
            "answers": dict(sorted(statuses.items())),
            "intake_rss_mib": {"before": before, "after": rss_mib(pid)},
        }
        return check

    async def stall(self, http: httpx.AsyncClient, port: int, pid: int) -> Check:
        check = Check(f"stall: /healthz within {self.args.max_delay} s during unsigned abuse")
        attacks = [
            b"POST /webhooks/stripe?" + b"a." * 30_000 + b" HTTP/1.1\r\nHost: i\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n",
            b"POST /webhooks/crm HTTP/1.1\r\nHost: i\r\nX-Filler: " + b"b" * 20_000 + b"\r\n"
            b"Connection: close\r\n\r\n",
            b"POST /webhooks/docusign HTTP/1.1\r\nHost: i\r\nContent-Length: 300000\r\n"
            b"Connection: close\r\n\r\n" + b"{" * 300_000,
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: i\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: i\r\n\r\n",
            b"POST /webhooks/stripe/ HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n",
        ]
        slowest = 0.0
        probes = 0
        done = asyncio.Event()

        async def probe() -> None:
            nonlocal slowest, probes
            while not done.is_set():
                started = time.monotonic()
                response = await http.get("/healthz")
                elapsed = time.monotonic() - started
                probes += 1
                slowest = max(slowest, elapsed)
                if response.status_code != 200:
                    check.fail(f"/healthz answered {response.status_code}")
                await asyncio.sleep(0.02)

        answers: Counter[str] = Counter()

        async def attack(request: bytes) -> None:
            try:
                answer = await raw(port, request)
                answers[answer.split(b"\r\n", 1)[0].decode(errors="replace")[9:12] or "-"] += 1
            except (OSError, TimeoutError):
                answers["closed"] += 1

        prober = asyncio.create_task(probe())
        deadline = time.monotonic() + self.args.stall_seconds
        while time.monotonic() < deadline:
            await asyncio.gather(*(attack(a) for a in attacks for _ in range(3)))
        done.set()
        await prober
        if slowest > self.args.max_delay:
            check.fail(f"the slowest /healthz took {slowest:.3f} s")
        if any(code.startswith("5") for code in answers):
            check.fail(f"an abusive request got a 5xx: {dict(answers)}")
        check.figures = {
            "intake_rss_mib_after": rss_mib(pid),
            "attacks": sum(answers.values()),
            "answers": dict(sorted(answers.items())),
            "health_probes": probes,
            "slowest_health_s": round(slowest, 3),
        }
        return check

    async def people(
        self, http: httpx.AsyncClient, client: Client, admin: httpx.AsyncClient
    ) -> Check:
        check = Check("people: chat, email subjects and terminal output carry nothing raw")
        # 1. A credential failure whose vendor text is hostile: alerted at once by chat and email.
        slug = f"alert{uuid.uuid4().hex[:8]}"
        await admin.post(
            "/_admin/faults",
            json={
                "path": CONTACTS,
                "method": "POST",
                "status": 401,
                "count": 1,
                "body": {"message": VENDOR_TEXT},
            },
        )
        event = crm_event(slug, legal_name=f"*Bold* & Co_ {slug}")
        self.contacts += [f"pat@{slug}.example", f"Pat {slug.title()}"]
        response = await self.deliver(http, "crm", event)
        txn = response.json().get("transaction_id", "")

        async def chat() -> list[dict[str, Any]]:
            state = (await admin.get("/_admin/state")).json()
            return [m for m in state["slack"]["messages"] if txn and txn in str(m.get("text"))]

        messages = await eventually(chat, bool, f"the chat alert of {txn}")
        for message in messages:
            text = message["text"] or ""
            if RAW_CHAT.search(text) or any(is_steering(c) and c not in "\n\t" for c in text):
                check.fail(f"chat text carries raw markup or controls: {text[:120]!r}")
            if (message.get("payload") or {}).get("mrkdwn") is not False:
                check.fail("chat message sent with mrkdwn on")
        state = (await admin.get("/_admin/state")).json()
        subjects = [e["subject"] for e in state["resend"]["emails"] if txn in str(e.get("text"))]
        if not subjects:
            check.fail("no alert email found")
        for subject in subjects:
            if "\r" in subject or "\n" in subject or any(is_steering(c) for c in subject):
                check.fail(f"email subject not one clean line: {subject[:120]!r}")
        # 2. A hostile legal name: parked at the gate; what the CLI prints.
        slug = f"prank{uuid.uuid4().hex[:8]}"
        self.contacts += [f"pat@{slug}.example", f"Pat {slug.title()}"]
        response = await self.deliver(http, "stripe", stripe_event(slug, legal_name=HOSTILE_NAME))
        parked = response.json().get("transaction_id", "")
        await eventually(
            lambda: status_of(client, parked),
            lambda s: s.open_exception is not None,
            f"{parked} to park at the gate",
        )
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": client.namespace,
        }
        printed = ""
        for command in (["show", parked], ["queue"]):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "onboarding.cli.main",
                *command,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
            printed += out.decode()
            if process.returncode != 0:
                check.fail(f"onboarding {command[0]} exited {process.returncode}: {err[-200:]!r}")
        if RAW_TERMINAL.search(printed):
            check.fail(f"terminal output carries {RAW_TERMINAL.search(printed)!r}")
        if "\\x1b]0;pwned\\x07" not in printed:
            check.fail("the hostile name is not shown escaped")
        check.figures = {
            "chat_messages": len(messages),
            "alert_emails": len(subjects),
            "cli_lines": len(printed.splitlines()),
        }
        return check

    async def store_runs(
        self, http: httpx.AsyncClient, client: Client, admin: httpx.AsyncClient
    ) -> list[str]:
        """Runs whose vendor errors echo the contact; returns their transaction IDs."""
        txns: list[str] = []
        for status, expect in ((500, "live"), (400, "validation-error"), (None, "missing-data")):
            slug = f"store{uuid.uuid4().hex[:8]}"
            email, name = f"pat@{slug}.example", f"Pat {slug.title()}"
            self.contacts += [email, name]
            if status is not None:
                await admin.post(
                    "/_admin/faults",
                    json={
                        "path": CONTACTS,
                        "method": "POST",
                        "status": status,
                        "count": 2 if status == 500 else 1,
                        "body": {"message": f"contact {email} ({name}) cannot be saved"},
                    },
                )
            overrides = {"crm_owner": None} if status is None else {}
            response = await self.deliver(http, "crm", crm_event(slug, **overrides))
            txn = response.json()["transaction_id"]
            txns.append(txn)
            await eventually(
                functools.partial(status_of, client, txn),
                functools.partial(ended, expected=expect),
                f"{txn} to end {expect}",
            )
            await admin.delete("/_admin/faults")
        return txns

    def store(self, db: Path) -> Check:
        check = Check("store: no contact email or name readable at rest (codec on)")
        stored = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
        for secret in self.contacts:
            if secret.encode() in stored:
                check.fail(f"readable in the store: {secret}")
        check.figures = {"store_bytes": len(stored), "contact_values_checked": len(self.contacts)}
        return check

    # ------------------------------------------------------------------------------- run

    async def run(self) -> list[Check]:
        os.environ["ONBOARDING_CODEC_KEYS"] = generate_key_spec("abuse")
        # The worker's own log (failed activities are expected here) goes to a file.
        worker_log = (self.tmp / "worker.log").open("w")
        configure_logging("WARNING", stream=worker_log)
        db = self.tmp / "temporal.sqlite3"
        rules = self.tmp / "rules.toml"
        rules.write_text(
            re.sub(r"\[retry\]\n(?:[^\[\n].*\n)*", FAST_RETRY, BUNDLED_RULES.read_text())
        )
        sandbox = run_in_thread(str(self.tmp / "sandbox.sqlite3"))
        vendors = Vendors(VendorSettings.for_sandbox(sandbox.base_url))
        intake: asyncio.subprocess.Process | None = None
        stack = contextlib.ExitStack()
        try:
            async with dev_server(db_file=db, namespace="default", ui=False) as env:
                client = env.client
                task_queue = f"abuse-{uuid.uuid4()}"
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                self.signer = Signer(base)
                settings = VendorSettings.for_sandbox(sandbox.base_url)
                intake_env = {
                    **os.environ,
                    "STRIPE_WEBHOOK_SECRETS": STRIPE,
                    "DOCUSIGN_CONNECT_KEYS": DOCUSIGN,
                    "HUBSPOT_APP_SECRETS": HUBSPOT,
                    "HUBSPOT_WEBHOOK_URL": f"{base}/webhooks/hubspot",
                    "HUBSPOT_BASE_URL": settings.hubspot_base_url,
                    "HUBSPOT_TOKEN": settings.hubspot_token,
                    "CRM_WEBHOOK_SECRET": CRM,
                }
                log = stack.enter_context((self.tmp / "intake.log").open("wb"))
                intake = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "onboarding.intake",
                    "--port",
                    str(port),
                    "--address",
                    client.service_client.config.target_host,
                    "--namespace",
                    client.namespace,
                    "--task-queue",
                    task_queue,
                    env=intake_env,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                )
                async with (
                    httpx.AsyncClient(base_url=base, timeout=30) as http,
                    httpx.AsyncClient(base_url=sandbox.base_url, timeout=30) as admin,
                ):
                    await eventually(
                        lambda: http.get("/healthz"), lambda r: r.status_code == 200, "the intake"
                    )
                    # Runs that must reach a state get a worker; the faults they need are
                    # counted, so no other run may be in flight meanwhile.
                    async with build_worker(
                        client, vendors, task_queue=task_queue, rules_path=rules
                    ):
                        self.checks.append(await self.people(http, client, admin))
                        await self.store_runs(http, client, admin)
                    # What hostile deliveries start waits in Temporal with no worker: the
                    # intake is what is measured.
                    self.checks.append(await self.hostile(http, intake.pid))
                    self.checks.append(await self.stall(http, port, intake.pid))
            # The dev server has stopped: everything it wrote is in its files.
            self.checks.append(self.store(db))
        finally:
            if intake is not None and intake.returncode is None:
                intake.terminate()
                try:
                    await asyncio.wait_for(intake.wait(), 10)
                except TimeoutError:
                    intake.kill()
                    await intake.wait()
            await vendors.aclose()
            sandbox.stop()
            stack.close()
            worker_log.close()
        return self.checks


def report(checks: list[Check]) -> str:
    lines = [f"{'check':<72} result"]
    for check in checks:
        lines.append(f"{check.name:<72} {'ok' if check.ok else 'FAILED'}")
        lines += [f"    {key}: {value}" for key, value in check.figures.items()]
        lines += [f"    ! {problem}" for problem in check.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.intake_abuse``."""
    parser = argparse.ArgumentParser(
        prog="intake_abuse",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=1000, help="hostile signed deliveries")
    parser.add_argument(
        "--stall-seconds", type=float, default=5, help="how long the unsigned abuse lasts"
    )
    parser.add_argument("--max-delay", type=float, default=0.5, help="seconds /healthz may take")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="the whole bench, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="intake-abuse-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            # The dev server's banner goes to stderr: stdout carries only the report.
            with stdout_to_stderr():
                checks = asyncio.run(asyncio.wait_for(bench.run(), args.timeout))
        except (BenchError, DevServerError, TimeoutError) as exc:
            print(f"intake_abuse: cannot run: {exc or 'timed out'}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        print(report(checks))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
