"""Every resolution action, several end to end through the ``onboarding`` CLI: the run resumes,
the audit trail says who and why, invalid actions are refused and change nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.cli.main import main as cli_main
from onboarding.domain.run import RunStatus
from onboarding.domain.stages import Stage
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import VendorSettings
from tests.support import (
    SandboxAdmin,
    ended_cancelled,
    eventually,
    make_payload,
    result_of,
    start,
    status_of,
    story,
    twin_companies,
    unique_slug,
    wait_for_exception,
)
from workflows import search_attributes as sa
from workflows.messages import PaymentFailed, PaymentSucceeded
from workflows.onboarding import OnboardingWorkflow

CALENDLY = "/calendly/event_types/sandbox-kickoff"
RESEND = "/resend/emails"


class Cli:
    """Runs ``onboarding ...`` against the test server, as an operator would."""

    def __init__(self, client: Client, capsys: pytest.CaptureFixture[str]) -> None:
        self.target = client.service_client.config.target_host
        self.namespace = client.namespace
        self.capsys = capsys

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        argv = ["--address", self.target, "--namespace", self.namespace, *args]
        code = await asyncio.to_thread(cli_main, argv)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(client: Client, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(client, capsys)


async def test_ambiguous_match_resolved_with_the_cli(
    client: Client, worker: Worker, admin: SandboxAdmin, settings: VendorSettings, cli: Cli
) -> None:
    slug = unique_slug("amb")
    east, west = await twin_companies(settings, slug)
    outcome = await start(
        client, worker.task_queue, make_payload(slug, customer={"tier": "mid-market"})
    )
    await wait_for_exception(client, outcome.transaction_id, category="ambiguous-match")

    async def queue() -> tuple[list[dict[str, Any]], RunStatus]:
        """The run's rows in the queue (visibility lags a little), and the run's own status."""
        code, out, _ = await cli("queue", "--category", "ambiguous-match", "--json")
        assert code == 0
        rows = [r for r in json.loads(out) if r["transaction_id"] == outcome.transaction_id]
        return rows, await status_of(client, outcome.transaction_id)

    def not_parked(seen: tuple[list[dict[str, Any]], RunStatus]) -> str | None:
        item = seen[1].open_exception
        return None if item is not None else f"the run no longer waits ({story(seen[1])})"

    rows, _ = await eventually(
        queue, lambda seen: bool(seen[0]), unless=not_parked, what="the item to show in the queue"
    )
    row = rows[0]
    status = await status_of(client, outcome.transaction_id)
    assert row["owner"] == status.case_owner and status.team == "onboarding"
    assert {c["id"] for c in row["candidates"]} == {east, west}
    assert row["safe_actions"][0] == "choose-match"
    code, out, _ = await cli("queue")
    assert code == 0 and outcome.transaction_id in out and "ambiguous-match" in out

    code, _, err = await cli(
        "resolve",
        "choose-match",
        outcome.transaction_id,
        "--company",
        "999",
        "--actor",
        "kim@example.com",
    )
    assert code == 3
    assert "company '999' is not a candidate" in err
    assert (await status_of(client, outcome.transaction_id)).open_exception is not None

    code, out, _ = await cli(
        "resolve",
        "choose-match",
        outcome.transaction_id,
        "--company",
        west,
        "--actor",
        "kim@example.com",
        "--reason",
        "West is the buyer",
    )
    assert code == 0, out
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert status.linked.crm_company_id == west
    choice = next(
        a
        for a in status.audit
        if a.action == "person-action" and a.data["action"] == "choose-match"
    )
    assert choice.actor == "kim@example.com" and "West is the buyer" in choice.detail
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["companies"]) == 2, "no third company was created"
    assert len(records["projects"]) == 1

    code, out, _ = await cli("show", outcome.transaction_id)
    assert code == 0 and "Stage        live" in out and "chose choose-match" in out


async def test_missing_data_supplied_with_the_cli(
    client: Client, worker: Worker, admin: SandboxAdmin, cli: Cli
) -> None:
    slug = unique_slug("gap")
    payload = make_payload(slug)
    del payload["crm_owner"]
    del payload["customer"]["domain"]
    outcome = await start(client, worker.task_queue, payload)
    status = await wait_for_exception(client, outcome.transaction_id)
    item = status.open_exception
    assert item is not None and status.stage == Stage.AWAITING_DATA
    assert item.category.value == "missing-data"
    assert [p.path for p in item.missing_fields] == ["crm_owner", "customer.domain"]
    assert item.owner == "sales-ops@example.com", "no deal owner on the payload: sales ops"

    code, _, err = await cli(
        "resolve",
        "supply-data",
        outcome.transaction_id,
        "--actor",
        "a@x.io",
        "--set",
        "customer.domain=Not A Domain",
    )
    assert code == 3 and "customer.domain is not valid: 'Not A Domain'" in err

    code, out, _ = await cli(
        "resolve",
        "supply-data",
        outcome.transaction_id,
        "--actor",
        "a@x.io",
        "--set",
        f"customer.domain={slug}.example",
    )
    assert code == 0 and "still missing or invalid: crm_owner" in out
    status = await wait_for_exception(client, outcome.transaction_id)
    assert [p.path for p in status.open_exception.missing_fields] == ["crm_owner"]  # type: ignore[union-attr]

    code, out, _ = await cli(
        "resolve",
        "supply-data",
        outcome.transaction_id,
        "--actor",
        "a@x.io",
        "--set",
        "crm_owner=rep@example.com",
        "--reason",
        "from the deal",
    )
    assert code == 0, out
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["companies"]) == 1


async def test_skip_needs_a_justification_and_is_on_the_record(
    client: Client, worker: Worker, admin: SandboxAdmin, cli: Cli
) -> None:
    await admin.fault(method="POST", path=RESEND, status=401)
    slug = unique_slug("skip")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id)
    assert status.open_exception and status.open_exception.step == "send_email:welcome"

    code, _, err = await cli(
        "resolve", "skip", outcome.transaction_id, "--actor", "lee@example.com"
    )
    assert code == 3 and "skip needs a justification" in err
    code, _, _ = await cli(
        "resolve",
        "skip",
        outcome.transaction_id,
        "--actor",
        "lee@example.com",
        "--reason",
        "customer asked for no email; welcomed by phone",
    )
    assert code == 0
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    skip = next(
        a for a in status.audit if a.action == "person-action" and a.data["action"] == "skip"
    )
    assert skip.actor == "lee@example.com" and "welcomed by phone" in skip.detail
    assert status.linked.email_ids == {}


async def test_reassign_hands_the_item_to_another_owner(
    client: Client, worker: Worker, admin: SandboxAdmin, cli: Cli
) -> None:
    await admin.fault(method="GET", path=CALENDLY, status=403)
    slug = unique_slug("hand")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    await wait_for_exception(client, outcome.transaction_id)
    code, out, _ = await cli(
        "resolve",
        "reassign",
        outcome.transaction_id,
        "--actor",
        "lead@x.io",
        "--owner",
        "integrations@example.com",
        "--reason",
        "calendly admin",
    )
    assert code == 0 and "reassigned from platform@example.com to integrations@example.com" in out
    status = await status_of(client, outcome.transaction_id)
    assert status.open_exception and status.open_exception.owner == "integrations@example.com"
    description = await outcome.handle.describe()
    assert description.typed_search_attributes.get(sa.EXCEPTION_OWNER) == "integrations@example.com"

    await admin.clear_faults()
    code, _, _ = await cli(
        "resolve", "retry", outcome.transaction_id, "--actor", "integrations@example.com"
    )
    assert code == 0
    assert (await result_of(outcome.handle)).stage == Stage.LIVE


async def test_qa_failure_then_replay_from_provisioning(
    client: Client, worker: Worker, admin: SandboxAdmin, settings: VendorSettings, cli: Cli
) -> None:
    await admin.fault(method="GET", path=CALENDLY, status=401)
    slug = unique_slug("qa")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id)
    org_id = status.linked.support_org_id
    # Someone deletes the support organization by hand while the run waits.
    async with httpx.AsyncClient(
        base_url=settings.zendesk_base_url,
        headers={"Authorization": f"Bearer {settings.zendesk_token}"},
    ) as http:
        assert (await http.delete(f"/api/v2/organizations/{org_id}.json")).status_code == 204
    await admin.clear_faults()
    code, _, _ = await cli("resolve", "retry", outcome.transaction_id, "--actor", "ops@x.io")
    assert code == 0

    status = await wait_for_exception(client, outcome.transaction_id, category="qa-failed")
    assert "support-organization" in status.open_exception.message  # type: ignore[union-attr]
    code, _, err = await cli(
        "resolve",
        "replay-from",
        outcome.transaction_id,
        "--stage",
        "qa",
        "--actor",
        "ops@x.io",
        "--exception",
        "nope",
    )
    assert code == 3 and "is not open" in err
    code, out, _ = await cli(
        "resolve",
        "replay-from",
        outcome.transaction_id,
        "--stage",
        "provisioning",
        "--actor",
        "ops@x.io",
    )
    assert code == 0, out
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert all(c.ok for c in status.qa)
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["organizations"]) == 1 and len(records["projects"]) == 1
    assert len(records["emails"]) == 1, "the welcome email was not sent twice"


async def test_cancel_rolls_back_and_leaves_no_orphan(
    client: Client, worker: Worker, admin: SandboxAdmin, cli: Cli
) -> None:
    await admin.fault(method="GET", path=CALENDLY, status=401)
    slug = unique_slug("cxl")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id)
    assert set(status.linked.created) == {
        "crm_company",
        "crm_contact",
        "project",
        "support_org",
        "support_user",
    }

    code, _, err = await cli(
        "cancel", outcome.transaction_id, "--actor", "cs@x.io", "--reason", " "
    )
    assert code == 3 and "cancel needs a justification" in err
    code, out, _ = await cli(
        "cancel", outcome.transaction_id, "--actor", "cs@x.io", "--reason", "deal unwound"
    )
    assert code == 0 and "rolling back" in out
    await ended_cancelled(outcome.handle)
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    for kind in ("companies", "contacts", "projects", "organizations", "users"):
        assert records[kind] == [], f"orphan {kind} left behind: {records[kind]}"
    status = await status_of(client, outcome.transaction_id)
    rollback = [a.detail for a in status.audit if a.action == "rollback"]
    assert rollback[0].startswith("zendesk: deleted user") and rollback[-1].startswith(
        "hubspot: archived company"
    )
    code, _, err = await cli(
        "cancel", outcome.transaction_id, "--actor", "cs@x.io", "--reason", "again"
    )
    assert code == 6 and "no longer running" in err


async def test_a_temporal_cancel_rolls_back_keeps_a_matched_company_and_says_so(
    client: Client, worker: Worker, admin: SandboxAdmin, settings: VendorSettings
) -> None:
    """The UI's "Request Cancellation" is the same call: the same rollback as the CLI's."""
    slug = unique_slug("keep")
    crm = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    existing = await crm.create("companies", {"name": f"{slug} Ltd", "domain": f"{slug}.example"})
    await crm.aclose()
    await admin.fault(method="GET", path=CALENDLY, status=401)
    outcome = await start(client, worker.task_queue, make_payload(slug))
    await wait_for_exception(client, outcome.transaction_id)
    await outcome.handle.cancel(reason="duplicate order")
    await ended_cancelled(outcome.handle)
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert [c["id"] for c in records["companies"]] == [existing["id"]]
    for kind in ("contacts", "projects", "organizations", "users"):
        assert records[kind] == [], f"orphan {kind} left behind: {records[kind]}"
    status = await status_of(client, outcome.transaction_id)
    assert status.stage == Stage.CANCELLED and status.open_exception is None
    ended = next(a for a in status.audit if a.action == "cancelled")
    assert ended.data["via"] == "temporal" and "duplicate order" in ended.detail
    description = await outcome.handle.describe()
    assert description.typed_search_attributes.get(sa.STAGE) == "cancelled"
    assert description.typed_search_attributes.get(sa.EXCEPTION_CATEGORY) is None
    state = await admin.state()
    kept = next(c for c in state["hubspot"]["companies"] if c["id"] == existing["id"])
    assert kept["properties"]["onboarding_status"] == "cancelled"


async def test_payment_failed_holds_kickoff_until_paid(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    await admin.fault(
        method="POST",
        path="/zendesk/api/v2/organizations.json",
        latency_ms=1500,
        count=1,
    )
    slug = unique_slug("pay")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    await outcome.handle.signal(
        OnboardingWorkflow.payment_failed,
        PaymentFailed(invoice_id="in_1", event_id="evt_1", reason="card_declined"),
    )
    status = await wait_for_exception(client, outcome.transaction_id)
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.owner) == ("payment-failed", "revops@example.com")
    assert status.linked.scheduling_link is None, "no scheduling while payment has failed"
    await outcome.handle.signal(
        OnboardingWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_1")
    )
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert status.exceptions[0].resolution == "cleared automatically: payment succeeded"


async def test_cli_bad_arguments_and_unknown_runs_are_clear(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await cli("show", "no-such-transaction")
    assert code == 4 and "no onboarding run for transaction no-such-transaction" in err
    code, _, err = await cli("resolve", "retry", "no-such-transaction", "--actor", "x@y.z")
    assert code == 4
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["resolve", "teleport", "x"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'teleport'" in capsys.readouterr().err
    code = await asyncio.to_thread(cli_main, ["--address", "127.0.0.1:1", "queue"])
    assert code == 5
    assert "cannot reach Temporal" in capsys.readouterr().err
