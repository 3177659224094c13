"""The brief's failure table, row by row, driven by the sandbox's fault injection on the real
dev server: the attempts made, the delay honoured, the item opened, and no duplicate anywhere."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.domain.stages import Stage
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import (
    SandboxAdmin,
    make_payload,
    result_of,
    start,
    twin_companies,
    unique_slug,
    wait_for_exception,
)
from workers.main import build_worker
from workflows import search_attributes as sa
from workflows.messages import ResolveRequest, SafeAction
from workflows.onboarding import OnboardingWorkflow

ZENDESK_ORG = "/zendesk/api/v2/organizations.json"
SMB_TEMPLATE = "/asana/api/1.0/project_templates/1200000000000003/instantiateProject"
CALENDLY = "/calendly/event_types/sandbox-kickoff"
CONTACTS = "/hubspot/crm/v3/objects/contacts"


def at(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))


async def hits(admin: SandboxAdmin, path: str, since: int) -> list[dict]:
    return [e for e in await admin.requests(since) if e["path"] == path]


async def retry_now(client: Client, transaction_id: str) -> None:
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    await handle.execute_update(
        OnboardingWorkflow.resolve,
        ResolveRequest(action=SafeAction.RETRY, actor="ops@example.com", reason="vendor is back"),
    )


#: A Retry-After the fast-retry rules' backoff cannot produce: their longest interval is 1 s.
RETRY_AFTER = 2


async def test_429_waits_for_retry_after_then_succeeds(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    await admin.fault(method="POST", path=ZENDESK_ORG, status=429, count=2, retry_after=RETRY_AFTER)
    slug = unique_slug("rate")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    assert (await result_of(outcome.handle)).stage == Stage.LIVE

    attempts = await hits(admin, ZENDESK_ORG, seq)
    assert [e["status"] for e in attempts] == [429, 429, 201]
    # The rules' backoff would wait 0.2 s, then 0.4 s (at most 1 s): a gap of 2 s or more is
    # the vendor's Retry-After, honoured on each attempt.
    gaps = [(at(b) - at(a)).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert all(gap >= RETRY_AFTER - 0.1 for gap in gaps), gaps
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["organizations"]) == 1


async def test_429_that_persists_parks_with_the_system_owner_and_resumes_on_retry(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    await admin.fault(method="POST", path=ZENDESK_ORG, status=429, retry_after=1)
    slug = unique_slug("rate")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, category="rate-limit")
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.system, item.step) == (
        "rate-limit",
        "zendesk",
        "provision_support",
    )
    assert item.owner == "platform@example.com"
    assert item.http_status == 429 and item.attempts == 3
    assert len(await hits(admin, ZENDESK_ORG, seq)) == 3, "3 attempts (the rules' max), no more"
    description = await outcome.handle.describe()
    assert description.typed_search_attributes.get(sa.EXCEPTION_CATEGORY) == "rate-limit"

    await admin.clear_faults()
    await retry_now(client, outcome.transaction_id)
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["organizations"]) == 1 and len(records["users"]) == 1
    description = await outcome.handle.describe()
    assert description.typed_search_attributes.get(sa.EXCEPTION_CATEGORY) is None


async def test_5xx_retries_with_the_same_key_then_parks_and_leaves_one_record(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    await admin.fault(method="POST", path=SMB_TEMPLATE, status=503)
    slug = unique_slug("fivexx")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, category="server-error")
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.http_status, item.attempts) == ("server-error", 503, 3)
    assert item.owner == "platform@example.com"
    assert item.idempotency_key == f"{outcome.transaction_id}:create_delivery_project"
    assert len(await hits(admin, SMB_TEMPLATE, seq)) == 3

    await admin.clear_faults()
    await retry_now(client, outcome.transaction_id)
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["projects"]) == 1


async def test_401_is_not_retried_and_goes_to_the_system_owner_at_once(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    await admin.fault(method="GET", path=CALENDLY, status=401)
    slug = unique_slug("auth")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, category="auth-error")
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.system, item.http_status) == ("auth-error", "calendly", 401)
    assert item.owner == "platform@example.com"
    assert item.message == "calendly: The access token is invalid (HTTP 401)"
    assert len(await hits(admin, CALENDLY, seq)) == 1, "credentials are never retried"
    await admin.clear_faults()
    await retry_now(client, outcome.transaction_id)
    assert (await result_of(outcome.handle)).stage == Stage.LIVE


async def test_4xx_validation_is_not_retried_and_names_the_fields(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    seq = await admin.last_seq()
    body = {
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
    await admin.fault(method="POST", path=CONTACTS, status=400, body=body)
    slug = unique_slug("invalid")
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, category="validation-error")
    item = status.open_exception
    assert item is not None
    assert (item.category.value, item.http_status, item.attempts) == ("validation-error", 400, 1)
    assert [p.path for p in item.missing_fields] == ["email"]
    assert len(await hits(admin, CONTACTS, seq)) == 1
    assert item.owner == status.case_owner
    assert status.linked.project_gid is None, "no project before a confirmed CRM identity"


async def test_timeouts_are_retried(
    client: Client, settings: VendorSettings, admin: SandboxAdmin, rules_file: Path, task_queue: str
) -> None:
    impatient = Vendors(VendorSettings(**{**settings.__dict__, "http_timeout_seconds": 0.5}))
    await admin.fault(method="GET", path=CALENDLY, latency_ms=1500, count=1)
    try:
        async with build_worker(client, impatient, task_queue=task_queue, rules_path=rules_file):
            slug = unique_slug("slow")
            outcome = await start(client, task_queue, make_payload(slug))
            result = await result_of(outcome.handle)
            status = await outcome.handle.query(OnboardingWorkflow.status)
    finally:
        await impatient.aclose()
    assert result.stage == Stage.LIVE
    assert status.exceptions == [], "a timeout is retried, not parked"


async def test_409_duplicate_contact_is_read_as_the_existing_one(
    settings: VendorSettings, admin: SandboxAdmin
) -> None:
    crm = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    email = f"dup-{unique_slug('c')}@example.com"
    try:
        first_id, first_created = await crm.create_contact({"email": email, "firstname": "A"})
        second_id, second_created = await crm.create_contact({"email": email, "firstname": "A"})
    finally:
        await crm.aclose()
    assert (first_created, second_created) == (True, False)
    assert first_id == second_id
    contacts = [
        c
        for c in (await admin.state())["hubspot"]["contacts"]
        if c["properties"].get("email") == email
    ]
    assert len(contacts) == 1


async def test_ambiguous_match_is_never_auto_picked(
    client: Client, worker: Worker, admin: SandboxAdmin, settings: VendorSettings
) -> None:
    slug = unique_slug("twins")
    ids = await twin_companies(settings, slug)
    outcome = await start(client, worker.task_queue, make_payload(slug))
    status = await wait_for_exception(client, outcome.transaction_id, category="ambiguous-match")
    item = status.open_exception
    assert item is not None
    assert item.category.value == "ambiguous-match"
    assert sorted(c.id for c in item.candidates) == sorted(ids)
    assert item.safe_actions[0] == "choose-match"
    await asyncio.sleep(0)  # nothing else happens while it waits:
    state = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(state["companies"]) == 2 and state["projects"] == [] and state["contacts"] == []
