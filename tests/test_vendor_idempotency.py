"""Idempotency that lives in the vendors, not only in Temporal's memory: what the sandbox holds
after lost answers, a lagging search index, a personal access token, a run re-created from
scratch, a cancel after retries, and a storm of transient failures."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.models import SendEmailInput
from onboarding.data import BUNDLED_RULES
from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.stages import Stage
from onboarding.embedded.devserver import dev_server
from onboarding.integrations.asana import AsanaClient
from onboarding.integrations.calendly import CalendlyClient
from onboarding.integrations.hubspot import CREATED_BY_PROPERTY
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import (
    SandboxAdmin,
    cancel_as_the_cli_does,
    ended_cancelled,
    make_payload,
    result_of,
    start,
    status_of,
    unique_slug,
    wait_for_exception,
    wait_for_sign_off_gate,
)
from workers.main import build_worker
from workflows.messages import CancelRequest, SignOffRequest
from workflows.onboarding import OnboardingWorkflow

CREATES = (
    ("POST", "/hubspot/crm/v3/objects/companies"),
    ("POST", "/hubspot/crm/v3/objects/contacts"),
    ("POST", "/asana/api/1.0/project_templates/{template}/instantiateProject"),
    ("POST", "/asana/api/1.0/tasks"),
    ("POST", "/zendesk/api/v2/organizations.json"),
    ("POST", "/zendesk/api/v2/users.json"),
    ("POST", "/resend/emails"),
)
TEMPLATES = {"smb": "1200000000000003", "mid-market": "1200000000000002"}
TEMPLATES["enterprise"] = "1200000000000001"
ASANA_OAUTH_TOKEN = "sandbox-asana-oauth-token"


def budget_rules(tmp: Path, minutes: float) -> Path:
    """The bundled rules with a retry budget of ``minutes`` and fast backoff (no attempt cap)."""
    text = re.sub(
        r"\[retry\]\n(?:[^\[\n].*\n)*",
        f"[retry]\nbudget_minutes = {minutes}\ninitial_interval_seconds = 0.2\n"
        "maximum_interval_seconds = 1\nbackoff_coefficient = 2.0\n",
        BUNDLED_RULES.read_text(),
    )
    path = tmp / f"rules-budget-{minutes}.toml"
    path.write_text(text)
    return path


async def fail_every_create_after_commit(admin: SandboxAdmin, tier: str = "smb") -> None:
    for method, path in CREATES:
        await admin.fault(
            method=method,
            path=path.format(template=TEMPLATES[tier]),
            status=500,
            count=1,
            fail_after_commit=True,
        )


async def live_records(admin: SandboxAdmin, transaction_id: str) -> dict[str, list[Any]]:
    """Every record in the sandbox that carries this transaction's stamp, archived or not."""
    state = await admin.state()
    hubspot = state["hubspot"]
    stamp = keys.created_by_note(transaction_id)

    def stamped(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["properties"].get(CREATED_BY_PROPERTY) == transaction_id]

    return {
        "companies": stamped(hubspot["companies"]),
        "contacts": stamped(hubspot["contacts"]),
        "projects": [
            p
            for p in state["asana"]["projects"]
            if keys.project_marker(transaction_id) in p["name"]
        ],
        "organizations": [o for o in state["zendesk"]["organizations"] if o.get("notes") == stamp],
        "users": [u for u in state["zendesk"]["users"] if u.get("notes") == stamp],
        "emails": [
            e
            for e in state["resend"]["emails"]
            if {"name": "transaction", "value": keys.tag_value(transaction_id)} in e["tags"]
        ],
    }


@pytest.fixture
async def search_lag(admin: SandboxAdmin) -> AsyncIterator[None]:
    """HubSpot's search index seconds behind every write, as in production."""
    (await admin.http.put("/_admin/hubspot/search-lag", json={"seconds": 30})).raise_for_status()
    yield
    (await admin.http.put("/_admin/hubspot/search-lag", json={"seconds": 0})).raise_for_status()


async def test_lost_creates_inside_the_search_lag_leave_one_record_each_known_as_created(
    client: Client, worker: Worker, admin: SandboxAdmin, search_lag: None
) -> None:
    await fail_every_create_after_commit(admin)
    slug = unique_slug("lag")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    assert (await result_of(outcome.handle)).stage == Stage.LIVE

    records = await live_records(admin, outcome.transaction_id)
    assert {k: len(v) for k, v in records.items()} == {
        "companies": 1,
        "contacts": 1,
        "projects": 1,
        "organizations": 1,
        "users": 1,
        "emails": 1,
    }
    state = await admin.state()
    same_domain = [
        c
        for c in state["hubspot"]["companies"]
        if c["properties"].get("domain") == f"{slug}.example"
    ]
    assert len(same_domain) == 1, "a retry inside the search lag must not create a second company"
    tasks = [
        t
        for t in state["asana"]["tasks"]
        if records["projects"][0]["gid"] in [p["gid"] for p in t["projects"]]
    ]
    assert sorted(t["name"] for t in tasks).count("Hold the kickoff call") == 1
    status = await status_of(client, outcome.transaction_id)
    assert sorted(status.linked.created) == sorted(
        ["crm_company", "crm_contact", "project", "support_org", "support_user"]
    )


async def test_asana_get_or_create_with_a_personal_token_and_with_an_oauth_app(
    settings: VendorSettings, admin: SandboxAdmin
) -> None:
    for token in (settings.asana_token, ASANA_OAUTH_TOKEN):
        asana = AsanaClient(settings.asana_base_url, token)
        try:
            job = await asana.instantiate_template(
                "1200000000000003",
                name=f"Token {token} [{uuid.uuid4()}]",
                team_gid="1100000000000002",
            )
            project = str(job["new_project"]["gid"])
            await admin.fault(
                method="POST",
                path="/asana/api/1.0/tasks",
                status=502,
                count=1,
                fail_after_commit=True,
            )
            with pytest.raises(VendorFailure):
                await asana.get_or_create_task(
                    project_gid=project,
                    task_key="t:task:kickoff",
                    name="Kickoff",
                    due_on="2030-01-02",
                )
            first = await asana.get_or_create_task(
                project_gid=project, task_key="t:task:kickoff", name="Kickoff", due_on="2030-01-02"
            )
            again = await asana.get_or_create_task(
                project_gid=project, task_key="t:task:kickoff", name="Kickoff", due_on="2030-01-02"
            )
            assert first == again
            names = [t["name"] for t in await asana.project_tasks(project)]
            assert names.count("Kickoff") == 1, f"one task with {token}"
        finally:
            await asana.aclose()
    log = await admin.requests()
    assert not [e for e in log if "external" in e["path"]], "external data is never used"


async def test_project_lookup_reads_every_page(settings: VendorSettings) -> None:
    asana = AsanaClient(settings.asana_base_url, settings.asana_token)
    marker = f"[page-{uuid.uuid4().hex[:8]}]"
    try:
        for n in range(101):
            await asana.request(
                "POST",
                "/projects",
                json={"data": {"name": f"Filler {n}", "team": "1100000000000002"}},
            )
        await asana.request(
            "POST",
            "/projects",
            json={"data": {"name": f"Last {marker}", "team": "1100000000000002"}},
        )
        found = await asana.find_project(settings.asana_workspace_gid, marker)
    finally:
        await asana.aclose()
    assert found is not None and found["name"] == f"Last {marker}"


async def test_kickoff_link_is_the_same_every_time_and_creates_nothing(
    settings: VendorSettings, admin: SandboxAdmin
) -> None:
    calendly = CalendlyClient(settings.calendly_base_url, settings.calendly_token)
    before = len((await admin.state())["calendly"]["scheduling_links"])
    try:
        links = {
            await calendly.kickoff_link(
                settings.calendly_event_type_uri,
                "stripe-in_1",
                name="Pat Lee",
                email="pat@x.example",
            )
            for _ in range(3)
        }
        with pytest.raises(VendorFailure) as retired:
            await calendly.kickoff_link(
                "https://api.calendly.com/event_types/sandbox-retired", "stripe-in_1"
            )
    finally:
        await calendly.aclose()
    assert links == {
        "https://calendly.com/sandbox-success/kickoff?name=Pat+Lee&email=pat%40x.example"
        "&utm_source=onboarding&utm_medium=email&utm_campaign=kickoff&utm_content=stripe-in_1"
    }
    assert retired.value.error_type == ErrorType.VALIDATION_ERROR
    assert "not active" in retired.value.message
    assert len((await admin.state())["calendly"]["scheduling_links"]) == before


async def test_resend_adopts_what_was_sent_under_the_same_key_with_other_content(
    vendors: Vendors, admin: SandboxAdmin
) -> None:
    to = f"{unique_slug('mail')}@example.com"
    key = f"stripe-in_{uuid.uuid4().hex[:8]}:email:day-2"
    received = datetime(2030, 1, 1, 9, tzinfo=UTC)
    request = SendEmailInput(
        transaction_id="t", key="day-2", to=to, subject="Day 2", text="Hi", send_after_days=2
    )
    first = await vendors.email.send(
        idempotency_key=key,
        sender="Onboarding <onboarding@example.com>",
        to=to,
        subject="Day 2",
        text="Hi, your lead is Kim",
        tags={},
        scheduled_at=request.model_copy(update={"schedule_from": received}).schedule(),
    )
    # A re-created run: another case owner in the body, the schedule computed anew.
    second = await vendors.email.send(
        idempotency_key=key,
        sender="Onboarding <onboarding@example.com>",
        to=to,
        subject="Day 2",
        text="Hi, your lead is Sam",
        tags={},
        scheduled_at=received + timedelta(days=2, minutes=7),
    )
    assert second == first
    sent = [e for e in (await admin.state())["resend"]["emails"] if e["to"] == [to]]
    assert len(sent) == 1 and sent[0]["scheduled_at"].startswith("2030-01-03T09:00")
    with pytest.raises(VendorFailure) as changed:
        await vendors.email.send(
            idempotency_key=key,
            sender="Onboarding <onboarding@example.com>",
            to=to,
            subject="Another subject",
            text="Hi",
            tags={},
        )
    assert changed.value.http_status == 409 and "no recent email" in changed.value.message


async def test_cancel_after_retries_rolls_back_everything_the_run_created(
    client: Client, worker: Worker, admin: SandboxAdmin, search_lag: None
) -> None:
    await fail_every_create_after_commit(admin, "enterprise")
    slug = unique_slug("undo")
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    await wait_for_sign_off_gate(client, outcome.transaction_id)
    created = await live_records(admin, outcome.transaction_id)
    assert all(len(v) >= 1 for v in created.values()), created
    # One record is gone already before the rollback: that is "already gone", not a failure.
    user_id = created["users"][0]["id"]
    await admin.http.delete(
        f"/zendesk/api/v2/users/{user_id}.json",
        headers={"Authorization": "Bearer sandbox-zendesk-token"},
    )
    await cancel_as_the_cli_does(
        outcome.handle, CancelRequest(actor="cs@example.com", reason="deal fell through")
    )
    await ended_cancelled(outcome.handle)

    after = await live_records(admin, outcome.transaction_id)
    assert all(c["archived"] for c in after["companies"] + after["contacts"])
    assert all(p["archived"] for p in after["projects"])
    assert all(o.get("deleted") for o in after["organizations"] + after["users"])
    scheduled = [e for e in after["emails"] if e.get("scheduled_at")]
    assert scheduled and all(e["last_event"] == "canceled" for e in scheduled)
    status = await status_of(client, outcome.transaction_id)
    rollback = [a.detail for a in status.audit if a.action == "rollback"]
    assert any(line.startswith("hubspot: archived company") for line in rollback), rollback


async def test_cancel_keeps_what_the_run_only_matched(
    client: Client, worker: Worker, admin: SandboxAdmin, vendors: Vendors
) -> None:
    slug = unique_slug("keep")
    existing = await vendors.crm.create("companies", {"name": "Keep", "domain": f"{slug}.example"})
    person = await vendors.support.request(
        "POST",
        "/api/v2/users.json",
        json={"user": {"name": "Pat", "email": f"pat@{slug}.example"}},
    )
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    await wait_for_sign_off_gate(client, outcome.transaction_id)
    await cancel_as_the_cli_does(
        outcome.handle, CancelRequest(actor="cs@example.com", reason="duplicate order")
    )
    await ended_cancelled(outcome.handle)
    assert (await status_of(client, outcome.transaction_id)).stage == Stage.CANCELLED
    company = await vendors.crm.get("companies", str(existing["id"]), ["onboarding_status"])
    assert company["archived"] is False
    assert company["properties"]["onboarding_status"] == "cancelled"
    user = await vendors.support.get_user(int(person.json()["user"]["id"]))
    assert user["active"] is True, "a support user who existed before is kept"
    after = await live_records(admin, outcome.transaction_id)
    assert after["companies"] == [] and after["users"] == []
    assert all(c["archived"] for c in after["contacts"])


async def test_a_run_recreated_from_scratch_reuses_what_exists_and_goes_live(
    client: Client, worker: Worker, admin: SandboxAdmin, vendors: Vendors, rules_file: Path
) -> None:
    """The same event twice against one vendor state, the Temporal store lost in between."""
    slug = unique_slug("again")
    payload = make_payload(slug, customer={"tier": "mid-market"})
    transaction_id = f"stripe-in_{slug}"
    first = await start(client, worker.task_queue, payload, transaction_id)
    assert (await result_of(first.handle)).stage == Stage.LIVE
    before = await live_records(admin, transaction_id)
    first_status = await status_of(client, transaction_id)

    async with dev_server(namespace="default", ui=False) as fresh:
        task_queue = f"tq-{uuid.uuid4()}"
        async with build_worker(
            fresh.client, vendors, task_queue=task_queue, rules_path=rules_file
        ):
            second = await start(fresh.client, task_queue, payload, transaction_id)
            assert second.run_id != first.run_id, "a new store: a new run"
            assert (await result_of(second.handle)).stage == Stage.LIVE
            second_status = await status_of(fresh.client, transaction_id)

    after = await live_records(admin, transaction_id)
    assert {k: [r.get("id", r.get("gid")) for r in v] for k, v in after.items()} == {
        k: [r.get("id", r.get("gid")) for r in v] for k, v in before.items()
    }, "nothing created twice"
    assert len(after["emails"]) == 2, "welcome and day-2, each sent once"
    assert second_status.linked.email_ids == first_status.linked.email_ids
    assert second_status.linked.scheduling_link == first_status.linked.scheduling_link
    assert sorted(second_status.linked.created) == sorted(first_status.linked.created)
    assert second_status.exceptions == [], "no person was needed"


@pytest.fixture
async def budget_worker(
    client: Client, vendors: Vendors, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Worker]:
    minutes = getattr(request, "param", 0.5)
    rules = budget_rules(tmp_path, minutes)
    async with build_worker(
        client, vendors, task_queue=f"tq-{uuid.uuid4()}", rules_path=rules
    ) as worker:
        yield worker


@pytest.mark.slow  # a storm of 429s longer than ten seconds
async def test_a_storm_shorter_than_the_budget_never_reaches_a_person(
    client: Client, budget_worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    search = "/hubspot/crm/v3/objects/companies/search"
    await admin.fault(method="POST", path=search, status=429, count=8, retry_after=1)
    await admin.fault(method="POST", path="/zendesk/api/v2/organizations.json", status=503, count=6)
    slug = unique_slug("storm")
    outcome = await start(client, budget_worker.task_queue, make_payload(slug))
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert status.exceptions == []
    hits = [e for e in await admin.requests(seq) if e["path"] == search]
    assert [e["status"] for e in hits][:8] == [429] * 8, "more attempts than the old cap of 5"


@pytest.mark.parametrize("budget_worker", [0.05], indirect=True)
async def test_when_the_budget_runs_out_the_item_names_the_last_vendor_failure(
    client: Client, budget_worker: Worker, admin: SandboxAdmin
) -> None:
    path = f"/asana/api/1.0/project_templates/{TEMPLATES['smb']}/instantiateProject"
    await admin.fault(method="POST", path=path, status=503)
    slug = unique_slug("budget")
    outcome = await start(client, budget_worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, timeout=60)
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.system, item.http_status) == ("server-error", "asana", 503)
    assert item.message == "asana: Server Error (HTTP 503)"
    assert item.attempts >= 2 and item.owner == "platform@example.com"
    await admin.clear_faults()
    await outcome.handle.execute_update(
        OnboardingWorkflow.cancel, CancelRequest(actor="ops@example.com", reason="test over")
    )


async def test_qa_sign_off_after_a_recreated_kickoff_needs_no_new_link(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    """The kickoff link is checked against the event type at QA: it must still be active."""
    slug = unique_slug("qa")
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    await wait_for_sign_off_gate(client, outcome.transaction_id)
    status = await status_of(client, outcome.transaction_id)
    link_check = next(c for c in status.qa if c.name == "kickoff-link")
    assert link_check.ok and f"utm_content={outcome.transaction_id}" in link_check.detail
    await outcome.handle.execute_update(
        OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com", note="ok")
    )
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
