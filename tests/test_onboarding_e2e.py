"""End to end on the real dev server against the sandbox: what the sandbox holds afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from onboarding.domain.rules import load_rules
from onboarding.domain.stages import Stage
from tests.support import (
    SandboxAdmin,
    make_payload,
    result_of,
    start,
    status_of,
    unique_slug,
    wait_for_exception,
    wait_for_sign_off_gate,
)
from workflows import search_attributes as sa
from workflows.messages import SignOffRequest
from workflows.onboarding import OnboardingWorkflow

SMB_TEMPLATE_TASKS = ["Kickoff prep", "Guided setup", "First value check"]


def assert_exactly_one_of_each(records: dict[str, list[Any]], *, standard_tasks: int = 1) -> None:
    assert len(records["companies"]) == 1, records["companies"]
    assert len(records["contacts"]) == 1, records["contacts"]
    assert len(records["projects"]) == 1, records["projects"]
    assert len(records["organizations"]) == 1, records["organizations"]
    assert len(records["users"]) == 1, records["users"]
    assert len(records["emails"]) == 1, records["emails"]
    names = sorted(t["name"] for t in records["tasks"])
    assert names == sorted([*SMB_TEMPLATE_TASKS, "Hold the kickoff call"][: 3 + standard_tasks])


async def test_happy_run_creates_each_record_once_and_goes_live(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("happy")
    links_before = len((await admin.state())["calendly"]["scheduling_links"])
    emails_before = len((await admin.state())["resend"]["emails"])
    outcome = await start(client, worker.task_queue, make_payload(slug))
    result = await result_of(outcome.handle)

    assert result.stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert_exactly_one_of_each(records)
    company = records["companies"][0]
    assert company["properties"]["onboarding_status"] == "live"
    assert company["properties"]["onboarding_transaction_id"] == outcome.transaction_id
    status = await status_of(client, outcome.transaction_id)
    assert status.team == "onboarding"
    assert status.case_owner in ("implementation@example.com", "onboarding@example.com")
    assert company["properties"]["implementation_owner"] == status.case_owner
    assert records["organizations"][0]["external_id"] == f"hubspot-company-{company['id']}"
    assert records["users"][0]["organization_id"] == records["organizations"][0]["id"]
    assert records["emails"][0]["subject"] == f"Welcome, {slug.title()} Industries"
    # The kickoff link is the event type's page for this transaction: nothing is created.
    state = await admin.state()
    assert len(state["calendly"]["scheduling_links"]) == links_before
    link = str((await status_of(client, outcome.transaction_id)).linked.scheduling_link)
    assert link.startswith("https://calendly.com/sandbox-success/kickoff?")
    assert f"utm_content={outcome.transaction_id}" in link
    assert link in records["emails"][0]["text"]
    assert len(state["resend"]["emails"]) == emails_before + 1

    status = await status_of(client, outcome.transaction_id)
    assert [s.stage.value for s in status.stages] == [
        "received",
        "validating",
        "matching",
        "provisioning",
        "kickoff",
        "welcome",
        "qa",
        "live",
    ]
    assert all(s.owner for s in status.stages), "a stage without an owner is a defect"
    assert status.linked.crm_company_id == company["id"]
    assert status.linked.project_gid == records["projects"][0]["gid"]
    assert all(check.ok for check in status.qa) and len(status.qa) == 7
    assert status.rules_version == load_rules().version
    assert status.rules_sha256 and len(status.rules_sha256) == 64
    done = [a.data["step"] for a in status.audit if a.action == "step-done"]
    assert done.index("resolve_crm_identity") < done.index("create_delivery_project")

    description = await outcome.handle.describe()
    attrs = description.typed_search_attributes
    assert attrs.get(sa.STAGE) == "live"
    assert attrs.get(sa.CUSTOMER_DOMAIN) == f"{slug}.example"
    assert attrs.get(sa.TIER) == "smb"
    assert attrs.get(sa.CASE_OWNER) == status.case_owner
    assert attrs.get(sa.TEAM) == "onboarding"
    assert status.notices == [], "no alert on the happy path"


async def test_same_event_three_times_concurrently_is_one_run(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("dup")
    payload = make_payload(slug)
    transaction_id = f"stripe-in_{slug}"
    outcomes = await asyncio.gather(
        *(start(client, worker.task_queue, payload, transaction_id) for _ in range(3))
    )
    assert len({o.run_id for o in outcomes}) == 1
    result = await result_of(outcomes[0].handle)
    assert result.stage == Stage.LIVE

    late = await start(client, worker.task_queue, payload, transaction_id)
    assert late.state == "already-finished", "a delivery after the run finished must start nothing"
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{transaction_id}'")]
    assert len(runs) == 1
    records = await admin.records_for(f"{slug}.example", f"pat@{slug}.example", transaction_id)
    assert_exactly_one_of_each(records)


async def test_creates_that_commit_then_fail_are_retried_without_duplicates(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    """Every create answers 500 after committing once: retries find what was created."""
    for path in (
        "/hubspot/crm/v3/objects/companies",
        "/hubspot/crm/v3/objects/contacts",
        "/asana/api/1.0/project_templates/1200000000000003/instantiateProject",
        "/asana/api/1.0/tasks",
        "/zendesk/api/v2/organizations.json",
        "/zendesk/api/v2/users.json",
        "/resend/emails",
    ):
        await admin.fault(method="POST", path=path, status=500, count=1, fail_after_commit=True)
    slug = unique_slug("commit")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    result = await result_of(outcome.handle)

    assert result.stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert_exactly_one_of_each(records)
    log = await admin.requests()
    failed = [e for e in log if e.get("fault_id") and e["status"] == 500]
    assert len(failed) >= 7, "every injected fail-after-commit was hit"
    # What the lost answers created is known as created (the stamp on the record), not matched.
    status = await status_of(client, outcome.transaction_id)
    assert sorted(status.linked.created) == sorted(
        ["crm_company", "crm_contact", "project", "support_org", "support_user"]
    )


async def test_enterprise_tier_uses_its_own_template_sequence_and_sign_off(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("ent")
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    status = await wait_for_sign_off_gate(client, outcome.transaction_id)
    assert status.stage == Stage.QA
    assert status.awaiting == "QA sign-off by a member of: qa-reviewer, cs-lead"
    assert status.team == "enterprise"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await outcome.handle.execute_update(
            OnboardingWorkflow.sign_off, SignOffRequest(actor="intern@example.com")
        )
    assert "intern@example.com may not sign off: only members of qa-reviewer, cs-lead" in str(
        refused.value.cause
    )
    signed = await outcome.handle.execute_update(
        OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com", note="checked")
    )
    assert signed.role == "qa-reviewer"
    result = await result_of(outcome.handle)
    assert result.stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    names = {t["name"] for t in records["tasks"]}
    assert {"Security review", "SSO setup", "Send the security questionnaire"} <= names
    subjects = {e["subject"] for e in records["emails"]}
    assert subjects == {
        f"Welcome to the team, {slug.title()} Industries",
        f"{slug.title()} Industries: your implementation plan",
    }
    scheduled = [e for e in records["emails"] if e.get("scheduled_at")]
    assert len(scheduled) == 1
    status = await status_of(client, outcome.transaction_id)
    assert status.sign_off is not None and status.sign_off.actor == "qa@example.com"


async def test_enterprise_requires_its_extra_inputs(client: Client, worker: Worker) -> None:
    slug = unique_slug("entgap")
    outcome = await start(
        client, worker.task_queue, make_payload(slug, customer={"tier": "enterprise"})
    )
    status = await wait_for_exception(client, outcome.transaction_id)
    assert status.stage == Stage.AWAITING_DATA
    item = status.open_exception
    assert item is not None
    assert [(p.path, p.problem) for p in item.missing_fields] == [
        ("customer.region", "required for the enterprise tier")
    ]


async def test_partner_tier_makes_support_a_manual_task(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    slug = unique_slug("partner")
    outcome = await start(
        client, worker.task_queue, make_payload(slug, customer={"tier": "partner-led"})
    )
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert [t.step for t in status.manual_tasks] == ["provision_support"]
    assert status.manual_tasks[0].owner == "partner-success@example.com"
    support_check = next(c for c in status.qa if c.name == "support-organization")
    assert support_check.detail == "not checked: step is manual"
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert records["organizations"] == [] and len(records["projects"]) == 1
    task_mail = [
        e
        for e in (await admin.state())["resend"]["emails"]
        if e["subject"].startswith("Task: provision_support")
    ]
    assert len(task_mail) == 1 and task_mail[0]["to"] == ["partner-success@example.com"]
