"""Record the replay corpus: ``python -m tests.histories.record [SCENARIO ...]``.

A development tool, not part of ``make test``. It starts a fresh Temporal dev server (and, for the
SLA scenarios, the time-skipping test server, where days pass in seconds) and a fresh vendor
sandbox, then drives real runs of every scenario below: the sandbox's fault injection provokes
each failure and the test suite's fast-retry rules make a failing step park in seconds. Each run
that waits is saved WHILE it waits (a run parked under this code version, exactly what a new
version must pick up) and again once a person's action resolved or ended it, as
``tests/histories/<version>/<shape>.json``. ``INDEX.json`` beside them maps every shape to its file
and to what its events show (read by :mod:`tests.histories.corpus`).

Payloads are recorded as plain JSON: ``ONBOARDING_CODEC_KEYS`` is ignored here, so the histories
can be read, and replayed with or without a key ring.

When a workflow change is released, record the new version's corpus
(``python -m tests.histories.record --version v5`` for the release after 4) and keep the older directories: the replay
test replays every history under ``tests/histories/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from onboarding.data import BUNDLED_RULES
from onboarding.domain.run import (
    EventReceived,
    OnboardingInput,
    OnboardingResult,
    RunStatus,
    TriggerSource,
)
from onboarding.domain.stages import Stage
from onboarding.embedded.devserver import binary, dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime.client import data_converter
from onboarding.sandbox import run_in_thread
from tests.histories.corpus import HISTORIES, INDEX, history_files, load, read_facts
from tests.support import (
    SandboxAdmin,
    eventually,
    fast_retry_rules,
    make_payload,
    run_ended,
    start,
    story,
    twin_companies,
)
from workers.main import build_worker
from workflows import search_attributes as sa
from workflows.messages import (
    CancelRequest,
    PaymentFailed,
    PaymentSucceeded,
    ResolveRequest,
    SafeAction,
    ScopeChangeRequest,
    SignOffRequest,
)
from workflows.onboarding import OnboardingWorkflow

#: The code version the corpus is recorded for: the directory under ``tests/histories/``.
CODE_VERSION = "v4"

CALENDLY = "/calendly/event_types/sandbox-kickoff"
ZENDESK_ORG = "/zendesk/api/v2/organizations.json"
ZENDESK_USERS = "/zendesk/api/v2/users/"
SMB_TEMPLATE = "/asana/api/1.0/project_templates/1200000000000003/instantiateProject"
CONTACTS = "/hubspot/crm/v3/objects/contacts"
RESEND = "/resend/emails"
HUBSPOT_INVALID_EMAIL = {
    "status": "error",
    "message": "Property values were not valid",
    "category": "VALIDATION_ERROR",
    "errors": [
        {
            "message": "Email is invalid",
            "code": "INVALID_EMAIL",
            "context": {"propertyName": ["email"]},
        }
    ],
}
OPS = "ops@example.com"

Run = WorkflowHandle[OnboardingWorkflow, OnboardingResult]


@dataclass
class Bench:
    """What a scenario drives: a Temporal server, a worker on its own task queue, the sandbox."""

    env: WorkflowEnvironment
    task_queue: str
    admin: SandboxAdmin
    settings: VendorSettings
    out: Path
    scenario: str
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self, name: str, payload: dict[str, Any]) -> Run:
        """Start one run; its transaction ID (and so its workflow ID) is ``corpus-<name>``."""
        outcome = await start(self.client, self.task_queue, payload, f"corpus-{name}")
        return outcome.handle

    async def status(self, run: Run) -> RunStatus:
        return await run.query(OnboardingWorkflow.status)

    async def until(
        self, run: Run, what: str, ready: Callable[[RunStatus], bool], *, timeout: float = 60
    ) -> RunStatus:
        """Poll the run's status until ``ready`` holds (activities run in real time)."""
        return await eventually(
            lambda: self.status(run),
            ready,
            unless=run_ended,
            describe=story,
            timeout=timeout,
            interval=0.2,
            what=what,
        )

    async def parked(self, run: Run, category: str) -> RunStatus:
        """Wait until the run parks with an open item of ``category``."""
        return await self.until(
            run,
            f"{run.id} to park in {category}",
            lambda s: s.open_exception is not None and s.open_exception.category.value == category,
        )

    async def resolve(self, run: Run, action: SafeAction, **fields: Any) -> None:
        fields.setdefault("actor", OPS)
        await run.execute_update(
            OnboardingWorkflow.resolve, ResolveRequest(action=action, **fields)
        )

    async def cancel(self, run: Run, request: CancelRequest) -> None:
        """Cancel as the CLI does: the update records who and why, Temporal's cancel follows."""
        await run.execute_update(OnboardingWorkflow.cancel, request)
        await run.cancel(reason=f"cancelled by {request.actor}: {request.reason}")

    async def cancelled(self, run: Run) -> None:
        """Wait until the run ended with Temporal's status Canceled, its stage cancelled."""
        try:
            await asyncio.wait_for(run.result(), timeout=120)
        except WorkflowFailureError:
            status = await self.status(run)
            assert status.stage == Stage.CANCELLED, f"{run.id} ended {status.stage.value}"
            return
        raise AssertionError(f"{run.id} completed instead of ending cancelled")

    async def ended(self, run: Run, stage: Stage) -> None:
        result = await asyncio.wait_for(run.result(), timeout=120)
        assert result.stage == stage, f"{run.id} ended {result.stage.value}, not {stage.value}"

    async def save(self, shape: str, run: Run, description: str) -> None:
        """Write the run's history as it stands, once no task or activity is in flight."""
        history = await settled_history(self.client, run)
        path = self.out / f"{shape}.json"
        path.write_text(json.dumps(scrubbed(json.loads(history.to_json())), indent=2) + "\n")
        self.saved[shape] = {"scenario": self.scenario, "description": description}
        facts = read_facts(load(path))
        print(
            f"  {shape}: {facts.events} events, "
            + ("waits" if facts.waiting else f"ended {facts.closed}")
            + (f" in {facts.parked_in}" if facts.parked_in else "")
        )


def scrubbed(node: Any) -> Any:
    """The history without failure stack traces (they carry the absolute paths of the recording
    checkout) and client identities (process and host). Replay reads neither."""
    if isinstance(node, dict):
        return {
            key: (
                "" if key == "stackTrace" else "recorder" if key == "identity" else scrubbed(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [scrubbed(item) for item in node]
    return node


async def settled_history(client: Client, run: Run, timeout: float = 60) -> WorkflowHistory:
    """The run's history once it is at rest: no workflow task and no activity in flight.

    A history fetched mid-task would end in a half-finished workflow task; waiting for rest gives
    exactly what a new worker version would find after a deploy.
    """

    async def describe() -> DescribeWorkflowExecutionResponse:
        # The raw call: the time-skipping server answers with search attribute values the
        # client's typed decoding refuses.
        return await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=run.id),
            )
        )

    deadline = time.monotonic() + timeout
    while True:
        described = await describe()
        busy = bool(described.pending_activities) or described.HasField("pending_workflow_task")
        if not busy:
            history = await run.fetch_history()
            again = await describe()
            if again.workflow_execution_info.history_length == len(history.events):
                return history
        if time.monotonic() > deadline:
            raise AssertionError(f"{run.id} did not come to rest")
        await asyncio.sleep(0.2)


Scenario = Callable[[Bench], Awaitable[None]]


@dataclass(frozen=True)
class Spec:
    """One scenario: the runs it drives and the shapes it saves."""

    run: Scenario
    timeskipping: bool = False
    #: An edit of the (fast-retry) rules text for this scenario's worker.
    rules: Callable[[str], str] | None = None


SCENARIOS: dict[str, Spec] = {}


def scenario(
    name: str, *, timeskipping: bool = False, rules: Callable[[str], str] | None = None
) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = Spec(fn, timeskipping, rules)
        return fn

    return register


# ---------------------------------------------------------------- runs that never park


@scenario("happy-path")
async def happy_path(bench: Bench) -> None:
    run = await bench.start("live-smb", make_payload("livesmb"))
    await bench.ended(run, Stage.LIVE)
    await bench.save("live-smb", run, "smb customer from payment to live, no exception")


@scenario("partner-manual-step")
async def partner_manual_step(bench: Bench) -> None:
    run = await bench.start(
        "live-partner-manual", make_payload("partnermanual", customer={"tier": "partner-led"})
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save(
        "live-partner-manual-support",
        run,
        "partner-led tier: support is a manual task for the case owner (rules), then live",
    )


@scenario(
    "partner-steps-off",
    rules=lambda text: text.replace(
        'steps = { support = "manual" }', 'steps = { support = "off", kickoff = "manual" }'
    ),
)
async def partner_steps_off(bench: Bench) -> None:
    run = await bench.start(
        "live-partner-steps-off", make_payload("partneroff", customer={"tier": "partner-led"})
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save(
        "live-partner-steps-off",
        run,
        "partner-led tier with rules turning support off and kickoff manual, then live",
    )


# ---------------------------------------------------------------- the QA sign-off gate


def enterprise(slug: str) -> dict[str, Any]:
    return make_payload(slug, customer={"tier": "enterprise", "region": "amer"})


async def waiting_for_sign_off(bench: Bench, run: Run) -> RunStatus:
    return await bench.until(
        run,
        f"{run.id} to wait for a QA sign-off",
        lambda s: (s.awaiting or "").startswith("QA sign-off"),
    )


@scenario("enterprise-sign-off")
async def enterprise_sign_off(bench: Bench) -> None:
    run = await bench.start("enterprise-sign-off", enterprise("entsign"))
    await waiting_for_sign_off(bench, run)
    await bench.save(
        "waiting-for-qa-sign-off",
        run,
        "enterprise run past its automated QA checks, waiting for a qa-reviewer or cs-lead",
    )
    await run.execute_update(
        OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com", note="checked")
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save("signed-off-live", run, "the enterprise run signed off by QA, then live")


@scenario("enterprise-cancel-at-sign-off")
async def enterprise_cancel_at_sign_off(bench: Bench) -> None:
    run = await bench.start("enterprise-cancel", enterprise("entcancel"))
    await waiting_for_sign_off(bench, run)
    await bench.cancel(run, CancelRequest(actor="cs@example.com", reason="deal unwound"))
    await bench.cancelled(run)
    await bench.save(
        "cancelled-waiting-for-sign-off",
        run,
        "enterprise run cancelled (with rollback) while it waited for its QA sign-off",
    )


# ---------------------------------------------------------------- parked, then resolved


@scenario("missing-data")
async def missing_data(bench: Bench) -> None:
    payload = make_payload("missingdata")
    del payload["crm_owner"]
    run = await bench.start("missing-data", payload)
    await bench.parked(run, "missing-data")
    await bench.save("parked-missing-data", run, "awaiting-data: crm_owner missing")
    await bench.resolve(
        run, SafeAction.SUPPLY_DATA, reason="from the deal", data={"crm_owner": "rep@example.com"}
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-supply-data", run, "the missing field supplied, then live")


@scenario("ambiguous-match")
async def ambiguous_match(bench: Bench) -> None:
    ids = await twin_companies(bench.settings, "twins")
    run = await bench.start("ambiguous-match", make_payload("twins"))
    await bench.parked(run, "ambiguous-match")
    await bench.save("parked-ambiguous-match", run, "two CRM companies share the domain")
    await bench.resolve(run, SafeAction.CHOOSE_MATCH, company_id=ids[1], reason="West is the buyer")
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-choose-match", run, "a person chose the company, then live")


@scenario("rate-limit")
async def rate_limit(bench: Bench) -> None:
    await bench.admin.fault(method="POST", path=ZENDESK_ORG, status=429, retry_after=1)
    run = await bench.start("rate-limit", make_payload("ratelimit"))
    await bench.parked(run, "rate-limit")
    await bench.save("parked-rate-limit", run, "Zendesk answered 429 until the attempts ran out")
    await bench.admin.clear_faults()
    await bench.resolve(run, SafeAction.RETRY, reason="vendor is back")
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-retry", run, "retried once the vendor was back, then live")


@scenario("server-error")
async def server_error(bench: Bench) -> None:
    await bench.admin.fault(method="POST", path=SMB_TEMPLATE, status=503)
    run = await bench.start("server-error", make_payload("servererror"))
    await bench.parked(run, "server-error")
    await bench.save("parked-server-error", run, "Asana answered 503 until the attempts ran out")
    await bench.resolve(
        run, SafeAction.REASSIGN, owner="integrations@example.com", reason="Asana admin"
    )
    await bench.save(
        "parked-server-error-reassigned", run, "the same item handed to another owner: still parked"
    )
    await bench.admin.clear_faults()
    await bench.resolve(run, SafeAction.RETRY, actor="integrations@example.com")
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-reassign-then-retry", run, "reassigned, then retried, then live")


@scenario("auth-error")
async def auth_error(bench: Bench) -> None:
    await bench.admin.fault(method="POST", path=RESEND, status=401)
    run = await bench.start("auth-error", make_payload("autherror"))
    await bench.parked(run, "auth-error")
    await bench.save(
        "parked-auth-error",
        run,
        "Resend answered 401 to the welcome email: not retried, system owner alerted at once",
    )
    await bench.resolve(run, SafeAction.SKIP, reason="customer welcomed by phone")
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-skip", run, "the welcome email skipped with a justification, live")


@scenario("validation-error")
async def validation_error(bench: Bench) -> None:
    await bench.admin.fault(method="POST", path=CONTACTS, status=400, body=HUBSPOT_INVALID_EMAIL)
    run = await bench.start("validation-error", make_payload("validationerror"))
    await bench.parked(run, "validation-error")
    await bench.save("parked-validation-error", run, "HubSpot rejected the contact's email (400)")
    await bench.resolve(run, SafeAction.CANCEL, reason="order placed in error")
    await run.cancel(reason="cancelled by ops@example.com: order placed in error")
    await bench.cancelled(run)
    await bench.save("resolved-cancel", run, "cancelled from the item (resolve cancel)")


@scenario("payment-failed")
async def payment_failed(bench: Bench) -> None:
    # Slow support provisioning a little so the signal lands before the kickoff stage.
    await bench.admin.fault(method="POST", path=ZENDESK_ORG, latency_ms=1500, count=1)
    run = await bench.start("payment-failed", make_payload("paymentfailed"))
    await run.signal(
        OnboardingWorkflow.payment_failed,
        PaymentFailed(invoice_id="in_corpus", event_id="evt_failed", reason="card_declined"),
    )
    await bench.parked(run, "payment-failed")
    await bench.save("parked-payment-failed", run, "payment failed: kickoff held for revops")
    await run.signal(
        OnboardingWorkflow.payment_succeeded,
        PaymentSucceeded(invoice_id="in_corpus", event_id="evt_paid"),
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save("payment-hold-cleared", run, "billing reported the payment; hold lifted, live")


@scenario("scope-change")
async def scope_change(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401, count=1)
    run = await bench.start("scope-change", make_payload("scopechange"))
    await bench.parked(run, "auth-error")
    await run.execute_update(
        OnboardingWorkflow.request_scope_change,
        ScopeChangeRequest(
            actor="am@example.com",
            reason="customer adds SSO",
            items=["Configure SSO", "Extra admin training"],
        ),
    )
    await bench.resolve(run, SafeAction.RETRY, actor="platform@example.com")
    await bench.parked(run, "scope-change")
    await bench.save(
        "parked-scope-change", run, "scope change: change-order tasks made, work and billing held"
    )
    await bench.resolve(
        run, SafeAction.APPROVE, actor="revops@example.com", reason="signed change order"
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-approve", run, "a scope approver approved, then live")


@scenario("qa-failed")
async def qa_failed(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("qa-failed", make_payload("qafailed"))
    status = await bench.parked(run, "auth-error")
    # Someone deletes the support organisation by hand while the run waits.
    async with httpx.AsyncClient(
        base_url=bench.settings.zendesk_base_url,
        headers={"Authorization": f"Bearer {bench.settings.zendesk_token}"},
    ) as http:
        org = status.linked.support_org_id
        deleted = await http.delete(f"/api/v2/organizations/{org}.json")
        assert deleted.status_code == 204, deleted.text
    await bench.admin.clear_faults()
    await bench.resolve(run, SafeAction.RETRY, reason="token rotated")
    await bench.parked(run, "qa-failed")
    await bench.save("parked-qa-failed", run, "the QA gate found the support organisation gone")
    await bench.resolve(run, SafeAction.REPLAY_FROM, stage="provisioning", reason="recreate it")
    await bench.ended(run, Stage.LIVE)
    await bench.save("resolved-replay-from", run, "replayed from provisioning, then live")


# ---------------------------------------------------------------- cancelled


@scenario("cancel-with-rollback")
async def cancel_with_rollback(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("cancel-rollback", make_payload("cancelrollback"))
    await bench.parked(run, "auth-error")
    await bench.cancel(run, CancelRequest(actor="cs@example.com", reason="deal unwound"))
    await bench.cancelled(run)
    await bench.save(
        "cancelled-with-rollback",
        run,
        "cancel update after provisioning: CRM, project and support records rolled back",
    )


@scenario("cancel-no-rollback")
async def cancel_no_rollback(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("cancel-no-rollback", make_payload("cancelkeep"))
    await bench.parked(run, "auth-error")
    await bench.cancel(
        run, CancelRequest(actor="cs@example.com", reason="moved to another order", rollback=False)
    )
    await bench.cancelled(run)
    await bench.save(
        "cancelled-no-rollback", run, "cancel update with --no-rollback: records left in place"
    )


@scenario("cancel-awaiting-data")
async def cancel_awaiting_data(bench: Bench) -> None:
    payload = make_payload("cancelgap")
    del payload["crm_owner"]
    run = await bench.start("cancel-awaiting-data", payload)
    await bench.parked(run, "missing-data")
    await bench.cancel(run, CancelRequest(actor="cs@example.com", reason="duplicate order"))
    await bench.cancelled(run)
    await bench.save(
        "cancelled-while-awaiting-data",
        run,
        "cancel update while parked in awaiting-data: nothing created, nothing to roll back",
    )


# ---------------------------------------------------------------- release 3


@scenario("temporal-cancel")
async def temporal_cancel(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("temporal-cancel", make_payload("uicancel"))
    await bench.parked(run, "auth-error")
    await run.cancel(reason="requested in the Temporal UI")
    await bench.cancelled(run)
    await bench.save(
        "cancelled-through-temporal",
        run,
        "Temporal's own cancel (the UI's Request Cancellation) of a parked run: rolled back",
    )


@scenario("late-event")
async def late_event(bench: Bench) -> None:
    payload = make_payload("lateevent")
    del payload["customer"]["domain"]
    run = await bench.start("late-event", payload)
    await bench.parked(run, "missing-data")
    await bench.save("parked-missing-domain", run, "the first event had no domain")
    later = make_payload("lateevent")
    await bench.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(
            transaction_id="corpus-late-event",
            source=TriggerSource(
                system="stripe", event_type="checkout.session.completed", object_id="cs_late"
            ),
            payload=later,
            received_at=datetime.now(UTC),
        ),
        id="corpus-late-event",
        task_queue=bench.task_queue,
        start_signal="event_received",
        start_signal_args=[
            EventReceived(
                source=TriggerSource(
                    system="stripe", event_type="checkout.session.completed", object_id="cs_late"
                ),
                payload=later,
                received_at=datetime.now(UTC),
            )
        ],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save(
        "late-event-supplied-data",
        run,
        "a later event of the transaction brought the domain: the run resumed by itself, live",
    )


@scenario("rollback-fails")
async def rollback_fails(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("rollback-fails", make_payload("rollbackfails"))
    await bench.parked(run, "auth-error")
    await bench.admin.fault(method="DELETE", path=ZENDESK_USERS, match="prefix", status=401)
    await bench.cancel(run, CancelRequest(actor="cs@example.com", reason="deal unwound"))
    await bench.parked(run, "auth-error")
    await bench.save(
        "parked-rollback", run, "the rollback met a revoked Zendesk token: an item, not a failure"
    )
    await bench.admin.clear_faults()
    await bench.resolve(run, SafeAction.RETRY, reason="token renewed")
    await bench.cancelled(run)
    await bench.save("rollback-retried", run, "the rollback retried after the token was renewed")


@scenario("run-fails", rules=lambda text: text.replace("[tiers.smb]", "[tiers.smb-renamed]", 1))
async def run_fails(bench: Bench) -> None:
    run = await bench.start("run-fails", make_payload("runfails"))
    try:
        await asyncio.wait_for(run.result(), timeout=120)
    except WorkflowFailureError:
        pass
    await bench.save(
        "failed", run, "the rules lost the customer's tier: the run ends failed, and says so"
    )


# ---------------------------------------------------------------- SLAs (time-skipping)


async def skip(bench: Bench, by: timedelta) -> None:
    """Let ``by`` pass on the time-skipping server; every timer due meanwhile fires."""
    await bench.env.sleep(by)


async def notices(bench: Bench, run: Run, *keys: str) -> RunStatus:
    """Wait until the run has sent a notice of each kind in ``keys``."""
    return await bench.until(
        run,
        f"{run.id} to send {', '.join(keys)}",
        lambda s: all(any(n.kind == k for n in s.notices) for k in keys),
    )


@scenario("sla-technical", timeskipping=True)
async def sla_technical(bench: Bench) -> None:
    await bench.admin.fault(method="GET", path=CALENDLY, status=401)
    run = await bench.start("sla-technical", make_payload("slatech"))
    await bench.parked(run, "auth-error")
    await skip(bench, timedelta(hours=3, minutes=30))
    await notices(bench, run, "failure", "at-risk")
    await bench.save("sla-at-risk", run, "auth-error item 3.5 h old: at risk (4 h technical SLA)")
    await skip(bench, timedelta(hours=1))
    await notices(bench, run, "breached", "escalated")
    await bench.save("sla-breached", run, "4.5 h old: breached, escalated to the escalation owner")
    await skip(bench, timedelta(hours=24))
    status = await bench.status(run)
    assert len([n for n in status.notices if n.kind == "escalated"]) >= 2, status.notices
    await bench.save("sla-escalated", run, "28.5 h old: escalated on to the process owner")
    await bench.admin.clear_faults()
    await bench.resolve(run, SafeAction.RETRY, actor="platform@example.com")
    await bench.ended(run, Stage.LIVE)
    await bench.save("sla-escalated-resolved", run, "retried after the escalations, then live")


@scenario("sla-nudge", timeskipping=True)
async def sla_nudge(bench: Bench) -> None:
    payload = make_payload("slanudge")
    del payload["crm_owner"]
    run = await bench.start("sla-nudge", payload)
    await bench.parked(run, "missing-data")
    await skip(bench, timedelta(hours=25))
    await notices(bench, run, "nudge")
    await bench.save("nudged", run, "missing input 25 h: the owner nudged once")
    await skip(bench, timedelta(hours=24))
    await bench.until(
        run,
        "the missing-data escalation",
        lambda s: any(
            n.kind == "escalated" and n.clock.startswith("exception:") for n in s.notices
        ),
    )
    await bench.save("nudged-then-escalated", run, "missing input 49 h: escalated")
    await bench.resolve(
        run, SafeAction.SUPPLY_DATA, reason="from the deal", data={"crm_owner": "rep@example.com"}
    )
    await bench.ended(run, Stage.LIVE)
    await bench.save("nudged-then-supplied", run, "the field supplied after escalation, then live")


@scenario("sla-sign-off-overdue", timeskipping=True)
async def sla_sign_off_overdue(bench: Bench) -> None:
    run = await bench.start("sla-sign-off", enterprise("slasignoff"))
    await waiting_for_sign_off(bench, run)
    await skip(bench, timedelta(hours=73))
    await bench.until(
        run,
        "the QA stage escalations",
        lambda s: (
            len([n for n in s.notices if n.clock == "stage:qa" and n.kind == "escalated"]) >= 2
        ),
    )
    await bench.save(
        "waiting-for-sign-off-overdue", run, "73 h waiting for sign-off: QA stage SLA escalated"
    )
    await run.execute_update(OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com"))
    await bench.ended(run, Stage.LIVE)
    await bench.save("sign-off-overdue-signed", run, "signed off late, then live")


# ---------------------------------------------------------------- driver


async def time_skipping_server() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(),
        test_server_existing_path=binary("temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
        )
    )
    return env


def write_index(out: Path, saved: dict[str, dict[str, Any]]) -> Path:
    """INDEX.json: every history in ``out``, its description and what its events show."""
    path = out / INDEX
    previous: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    index: dict[str, Any] = {}
    for file in history_files(out.parent):
        if file.parent != out:
            continue
        known = saved.get(file.stem) or previous.get(file.stem) or {}
        facts = read_facts(load(file))
        index[file.stem] = {
            "file": file.name,
            "scenario": known.get("scenario", "(recorded by hand)"),
            "description": known.get("description", ""),
            **facts.summary(),
        }
    path.write_text(json.dumps(index, indent=2) + "\n")
    return path


async def record(names: list[str], version: str) -> Path:
    """Drive every named scenario on fresh servers; write its histories and the index."""
    out = HISTORIES / version
    out.mkdir(parents=True, exist_ok=True)
    saved: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ONBOARDING_LEDGER_URL"] = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        sandbox = run_in_thread(str(Path(tmp) / "sandbox.sqlite3"))
        settings = VendorSettings.for_sandbox(sandbox.base_url)
        vendors = Vendors(settings)
        try:
            async with AsyncExitStack() as stack:
                http = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=sandbox.base_url, timeout=10)
                )
                admin = SandboxAdmin(http)
                servers: dict[bool, WorkflowEnvironment] = {}
                for name in names:
                    spec = SCENARIOS[name]
                    if spec.timeskipping not in servers:
                        env = await stack.enter_async_context(
                            await time_skipping_server()
                            if spec.timeskipping
                            else dev_server(namespace="default", ui=False)
                        )
                        servers[spec.timeskipping] = env
                    env = servers[spec.timeskipping]
                    rules = Path(tmp) / f"rules-{name}.toml"
                    text = fast_retry_rules(BUNDLED_RULES.read_text())
                    rules.write_text(spec.rules(text) if spec.rules else text)
                    task_queue = f"corpus-{name}-{uuid.uuid4().hex[:6]}"
                    print(f"{name}:")
                    await admin.clear_faults()
                    bench = Bench(env, task_queue, admin, settings, out, name, saved)
                    async with build_worker(
                        env.client, vendors, task_queue=task_queue, rules_path=rules
                    ):
                        await spec.run(bench)
                    await admin.clear_faults()
        finally:
            await vendors.aclose()
            sandbox.stop()
    return write_index(out, saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.histories.record", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("scenarios", nargs="*", help="scenarios to record (default: all)")
    parser.add_argument("--version", default=CODE_VERSION, help="corpus directory (%(default)s)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    logging.getLogger("temporalio").setLevel(logging.ERROR)  # the runs fail on purpose
    # Plain JSON payloads: the corpus must be readable and replay with any key ring.
    os.environ.pop("ONBOARDING_CODEC_KEYS", None)
    names = args.scenarios or list(SCENARIOS)
    # Dev-server scenarios first, so the time-skipping server starts only when needed.
    names.sort(key=lambda n: SCENARIOS[n].timeskipping)
    print(asyncio.run(record(names, args.version)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
