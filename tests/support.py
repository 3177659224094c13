"""Helpers the tests share: the sandbox admin API, polling with a deadline, payloads, starts."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError, RPCStatusCode

from onboarding.domain.actions import CancelRequest
from onboarding.domain.run import OnboardingResult, RunStatus, TriggerSource
from onboarding.domain.stages import TERMINAL_STAGES
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import VendorSettings
from onboarding.ledger.store import Ledger
from starters.start import StartOutcome, start_onboarding
from workflows.onboarding import OnboardingWorkflow

T = TypeVar("T")

#: Retries in fractions of a second, so a failing step parks in seconds, not minutes.
FAST_RETRY = """[retry]
max_attempts = 3
initial_interval_seconds = 0.2
maximum_interval_seconds = 1
backoff_coefficient = 2.0
"""


def fast_retry_rules(text: str) -> str:
    """A rules file's text with its ``[retry]`` table replaced by :data:`FAST_RETRY`."""
    return re.sub(r"\[retry\]\n(?:[^\[\n].*\n)*", FAST_RETRY, text)


class SandboxAdmin:
    """The sandbox's admin API: what it holds, the request log, fault injection."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def state(self) -> dict[str, Any]:
        response = await self.http.get("/_admin/state")
        response.raise_for_status()
        return dict(response.json())

    async def fault(self, **spec: Any) -> dict[str, Any]:
        response = await self.http.post("/_admin/faults", json=spec)
        assert response.status_code == 201, f"fault refused: {response.text}"
        return dict(response.json())

    async def clear_faults(self) -> None:
        (await self.http.delete("/_admin/faults")).raise_for_status()

    async def requests(self, since: int = 0) -> list[dict[str, Any]]:
        response = await self.http.get("/_admin/requests", params={"since": since})
        response.raise_for_status()
        data = response.json()
        return list(data["requests"] if isinstance(data, dict) else data)

    async def last_seq(self) -> int:
        entries = await self.requests()
        return max((int(e["seq"]) for e in entries), default=0)

    async def records_for(
        self, domain: str, email: str, transaction_id: str
    ) -> dict[str, list[Any]]:
        """Every live record the sandbox holds for one customer, system by system."""
        state = await self.state()

        def live(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if not i.get("archived") and not i.get("deleted")]

        companies = [
            c
            for c in live(state["hubspot"]["companies"])
            if (c.get("properties") or {}).get("domain") == domain
        ]
        contacts = [
            c
            for c in live(state["hubspot"]["contacts"])
            if (c.get("properties") or {}).get("email") == email
        ]
        projects = [
            p for p in live(state["asana"]["projects"]) if f"[{transaction_id}]" in p["name"]
        ]
        project_gids = {p["gid"] for p in projects}
        tasks = [
            t
            for t in live(state["asana"]["tasks"])
            if project_gids
            & {
                str(p.get("gid", p)) if isinstance(p, dict) else str(p)
                for p in t.get("projects", [])
            }
        ]
        orgs = [
            o
            for o in live(state["zendesk"]["organizations"])
            if domain in o.get("domain_names", [])
        ]
        users = [u for u in live(state["zendesk"]["users"]) if u.get("email") == email]
        emails = [e for e in state["resend"]["emails"] if email in e.get("to", [])]
        links = state["calendly"]["scheduling_links"]
        return {
            "companies": companies,
            "contacts": contacts,
            "projects": projects,
            "tasks": tasks,
            "organizations": orgs,
            "users": users,
            "emails": emails,
            "links": links,
        }


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    unless: Callable[[T], str | None] | None = None,
    describe: Callable[[T], str] = repr,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``until`` holds (no fixed sleeps).

    The wait ends as soon as it is decided either way: ``unless`` names why the condition can
    no longer come (a run that ended, or waits for a person on something else), and the test
    fails at once with that and what was seen, instead of polling on to the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if until(value):
            return value
        why = unless(value) if unless is not None else None
        if why:
            raise AssertionError(f"{what} can no longer happen: {why}; seen: {describe(value)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {describe(value)}")
        await asyncio.sleep(interval)


def story(status: RunStatus) -> str:
    """What happened to a run, in a line: its stage, what it waits on, the items it had."""
    parts = [f"stage {status.stage.value}"]
    if status.awaiting:
        parts.append(f"awaiting {status.awaiting}")
    item = status.open_exception
    if item is not None:
        parts.append(f"parked: {item.category.value} at {item.step}: {item.message}")
    closed = [
        f"{e.category.value} at {e.step} ({e.resolution})"
        for e in status.exceptions
        if e.resolved_at is not None
    ]
    if closed:
        parts.append("resolved items: " + "; ".join(closed))
    return ", ".join(parts)


def run_ended(status: RunStatus) -> str | None:
    """Why nothing more will happen to a run: it ended (live, cancelled or failed)."""
    if status.stage in TERMINAL_STAGES:
        return f"the run ended {status.stage.value}"
    return None


async def status_of(client: Client, transaction_id: str) -> RunStatus:
    """The run's status query; every time, it checks that nothing in the run is unowned."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    status = await handle.query(OnboardingWorkflow.status)
    assert_owned(status)
    # The trail's written entries live in the ledger: read them as onboarding show does.
    return ledger().with_trail(status)


_LEDGERS: dict[str, Ledger] = {}


def ledger() -> Ledger:
    """The ledger the test workers write to (one connection pool per URL)."""
    url = os.environ.get("ONBOARDING_LEDGER_URL", "")
    if url not in _LEDGERS:
        _LEDGERS[url] = Ledger.from_env()
    return _LEDGERS[url]


def assert_owned(status: RunStatus) -> None:
    """Unowned is a defect: every stage, the case and any open item have a named owner.

    (Until its first activity has loaded the rules, a run has recorded nothing to own.)
    """
    if status.rules_version is None:
        assert status.stages == []
        return
    assert status.case_owner and "@" in status.case_owner, status.case_owner
    for entry in status.stages:
        assert entry.owner and "@" in entry.owner, f"stage {entry.stage} has no owner"
    if status.open_exception is not None:
        assert "@" in status.open_exception.owner, status.open_exception


async def wait_for_status(
    client: Client,
    transaction_id: str,
    until: Callable[[RunStatus], bool],
    *,
    what: str,
    unless: Callable[[RunStatus], str | None] = run_ended,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> RunStatus:
    """Poll the run's status until ``until`` holds; fail at once when the run ended without."""
    return await eventually(
        lambda: status_of(client, transaction_id),
        until,
        unless=unless,
        describe=story,
        timeout=timeout,
        interval=interval,
        what=f"{transaction_id}: {what}",
    )


async def wait_for_stage(
    client: Client, transaction_id: str, stage: str, *, timeout: float = 30.0
) -> RunStatus:
    return await wait_for_status(
        client,
        transaction_id,
        lambda s: s.stage.value == stage,
        what=f"to reach {stage}",
        timeout=timeout,
    )


async def wait_for_exception(
    client: Client,
    transaction_id: str,
    *,
    category: str | None = None,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> RunStatus:
    """Wait until the run parks with an open item (of ``category``, when given). It fails at
    once when the run ends instead, or parks on an item of another category: the run then
    waits for a person, and in a test the test is that person."""

    def wanted(s: RunStatus) -> bool:
        item = s.open_exception
        return item is not None and (category is None or item.category.value == category)

    def elsewhere(s: RunStatus) -> str | None:
        item = s.open_exception
        if item is not None and category is not None and item.category.value != category:
            return f"it waits on {item.category.value} at {item.step} instead"
        return run_ended(s)

    return await wait_for_status(
        client,
        transaction_id,
        wanted,
        what=f"to park with {'an exception item' if category is None else category}",
        unless=elsewhere,
        timeout=timeout,
        interval=interval,
    )


async def wait_for_sign_off_gate(
    client: Client, transaction_id: str, *, timeout: float = 30.0
) -> RunStatus:
    """Wait until the run waits for its QA sign-off (it fails at once if it parks elsewhere)."""
    return await wait_for_exception(client, transaction_id, category="qa-sign-off", timeout=timeout)


def make_payload(slug: str, **overrides: Any) -> dict[str, Any]:
    """A complete canonical payload for a customer named after ``slug``."""
    payload: dict[str, Any] = {
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
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(payload.get(key), dict):
            payload[key] = {**payload[key], **value}
        else:
            payload[key] = value
    return payload


async def start(
    client: Client, task_queue: str, payload: dict[str, Any], transaction_id: str | None = None
) -> StartOutcome:
    transaction_id = transaction_id or f"test-{uuid.uuid4().hex[:12]}"
    source = TriggerSource(system="stripe", event_type="invoice.paid", object_id=transaction_id)
    return await start_onboarding(client, transaction_id, source, payload, task_queue=task_queue)


@asynccontextmanager
async def started(
    client: Client, task_queue: str, payload: dict[str, Any], transaction_id: str | None = None
) -> AsyncIterator[StartOutcome]:
    """Start a run that ends with the test: terminated in ``finally`` unless it ended first, so a
    test that fails leaves no run behind. (On the time-skipping server that matters: its clock
    is one for every run, and a run left parked would keep firing timers in the next tests.)"""
    outcome = await start(client, task_queue, payload, transaction_id)
    try:
        yield outcome
    finally:
        await terminate_if_running(outcome.handle)


async def terminate_if_running(handle: WorkflowHandle[Any, Any]) -> None:
    """End a run the test started, if it still runs."""
    try:
        await handle.terminate("the test is over")
    except RPCError as err:
        # Already ended: "workflow execution already completed".
        if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise


async def result_of(
    handle: WorkflowHandle[Any, OnboardingResult], *, timeout: float = 60.0, interval: float = 0.2
) -> OnboardingResult:
    """The run's result. It fails at once when the run parks on a new exception item instead of
    ending: only a person could move it on, and in a test nobody will."""
    known = {item.id for item in (await _current(handle, wait=True) or _NO_STATUS).exceptions}
    ending = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, _ = await asyncio.wait({ending}, timeout=interval)
            if done:
                return ending.result()
            status = await _current(handle)
            item = status.open_exception if status is not None else None
            if status is not None and item is not None and item.id not in known:
                raise AssertionError(
                    f"{handle.id} parked again instead of ending; seen: {story(status)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {handle.id} to end; last seen: "
                    + (story(status) if status is not None else "(no answer to the query)")
                )
    finally:
        # Let the cancelled wait finish: on the time-skipping server it locks time again.
        ending.cancel()
        await asyncio.gather(ending, return_exceptions=True)


_NO_STATUS = RunStatus.model_construct(exceptions=[])


async def _current(
    handle: WorkflowHandle[Any, OnboardingResult], *, wait: bool = False
) -> RunStatus | None:
    """The run's status query, or None while no worker answers it (``wait``: up to 10 s)."""
    deadline = time.monotonic() + (10 if wait else 0)
    while True:
        try:
            return await handle.query(OnboardingWorkflow.status, rpc_timeout=timedelta(seconds=5))
        except (RPCError, WorkflowQueryFailedError):
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.2)


def unique_slug(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def twin_companies(settings: VendorSettings, slug: str) -> list[str]:
    """Two CRM companies on ``slug``.example: the set-up of an ambiguous match."""
    crm = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    try:
        created = [
            await crm.create("companies", {"name": f"{slug} {n}", "domain": f"{slug}.example"})
            for n in ("East", "West")
        ]
    finally:
        await crm.aclose()
    return [str(c["id"]) for c in created]


async def cancel_as_the_cli_does(
    handle: WorkflowHandle[Any, OnboardingResult], request: CancelRequest
) -> None:
    """The cancel update (who and why), then Temporal's own cancellation: the run rolls back
    and ends at once. (After the update alone it would wait for that cancellation for a while
    before completing; the workflow unit tests cover that path on the time-skipping server.)"""
    await handle.execute_update(OnboardingWorkflow.cancel, request)
    await handle.cancel(reason=f"cancelled by {request.actor}: {request.reason}")


async def ended_cancelled(handle: WorkflowHandle[Any, OnboardingResult]) -> None:
    """The run ended with Temporal's status Canceled (what the UI's list shows)."""
    try:
        await asyncio.wait_for(handle.result(), timeout=60)
    except WorkflowFailureError as ended:
        assert isinstance(ended.cause, CancelledError), ended.cause
        return
    raise AssertionError("the run completed instead of ending cancelled")
