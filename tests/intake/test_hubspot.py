"""HubSpot's own webhook delivery on the Closed-Won path, against the sandbox's CRM API.

A ``deal.propertyChange`` of ``dealstage`` to the closed-won stage, signed with
``X-HubSpot-Signature-v3``, makes the intake read the deal, its company, contact and owner, and
start a run that goes live. A wrong signature or a stale timestamp starts nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from onboarding.domain.triggers import HUBSPOT_DEAL_PROPERTIES, DealClosedWon, from_hubspot_deal
from onboarding.domain.validation import find_problems
from onboarding.intake import create_app
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import VendorSettings
from tests.intake.conftest import intake_settings, provider_of
from tests.intake.events import deal_stage_changed, sign_hubspot
from tests.support import unique_slug, wait_for_stage

#: The sandbox's owner 1002 is rep@example.com.
OWNER_ID = "1002"


@dataclass
class Deal:
    """A deal in the sandbox CRM, with its company and contact."""

    id: str
    slug: str
    company_id: str
    contact_id: str


async def create_deal(crm: HubSpotClient, slug: str, **properties: str) -> Deal:
    """A company, a contact and a deal associated with both, as sales would leave them."""
    company = await crm.create(
        "companies", {"name": f"{slug.title()} Ltd", "domain": f"{slug}.example"}
    )
    person = await crm.create(
        "contacts", {"firstname": "Pat", "lastname": slug.title(), "email": f"pat@{slug}.example"}
    )
    response = await crm.request(
        "POST",
        "/crm/v3/objects/deals",
        json={
            "properties": {
                "dealname": f"{slug} platform",
                "dealstage": "closedwon",
                "pipeline": "default",
                "amount": "1200.00",
                "deal_currency_code": "USD",
                "hubspot_owner_id": OWNER_ID,
                "tier": "smb",
                "plan_sku": "platform-starter",
                "billing_term": "monthly",
                "urgency": "standard",
                **properties,
            },
            "associations": [
                {
                    "to": {"id": company["id"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                },
                {
                    "to": {"id": person["id"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
            ],
        },
    )
    return Deal(str(response.json()["id"]), slug, str(company["id"]), str(person["id"]))


@pytest.fixture
async def crm(settings: VendorSettings) -> AsyncIterator[HubSpotClient]:
    client = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    yield client
    await client.aclose()


def intake_for(client: Client, crm: HubSpotClient, task_queue: str) -> httpx.AsyncClient:
    app = create_app(
        client_provider=provider_of(client), settings=intake_settings(task_queue), hubspot=crm
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def assert_no_run(client: Client, transaction_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(transaction_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_the_crm_api_serves_a_deal_with_its_company_contact_and_owner(
    crm: HubSpotClient,
) -> None:
    deal = await create_deal(crm, unique_slug("read"))
    associations = await crm.associations("deals", deal.id, "companies")
    assert [(a.to_id, a.type_ids) for a in associations] == [(deal.company_id, (5, 341))]
    records = await crm.read_deal_records(deal.id, HUBSPOT_DEAL_PROPERTIES)
    assert records.deal["properties"]["dealstage"] == "closedwon"
    assert records.company is not None and records.company["id"] == deal.company_id
    assert records.contact is not None and records.contact["id"] == deal.contact_id
    assert records.owner is not None
    assert (records.owner["id"], records.owner["email"]) == (OWNER_ID, "rep@example.com")
    change = DealClosedWon(deal.id, "closedwon", "1", "62515")
    start = from_hubspot_deal(
        change, records.deal, company=records.company, contact=records.contact, owner=records.owner
    )
    assert start.payload["amount"] == 120000 and start.payload["currency"] == "usd"


async def test_a_signed_closed_won_delivery_starts_a_run_that_goes_live(
    client: Client, worker: Worker, crm: HubSpotClient
) -> None:
    deal = await create_deal(crm, unique_slug("won"))
    txn = f"hubspot-deal-{deal.id}"
    # HubSpot batches: the closed-won change arrives with an unrelated event.
    events = [
        {**deal_stage_changed(deal.id), "propertyName": "amount", "propertyValue": "1200"},
        deal_stage_changed(deal.id),
    ]
    body = json.dumps(events).encode()
    async with intake_for(client, crm, worker.task_queue) as http:
        response = await http.post("/webhooks/hubspot", content=body, headers=sign_hubspot(body))
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "started"
        assert response.json()["transaction_id"] == txn
        again = await http.post("/webhooks/hubspot", content=body, headers=sign_hubspot(body))
        assert again.status_code == 200 and again.json()["status"] == "running", again.text
    status = await wait_for_stage(client, txn, "live", timeout=90)
    assert status.source.system == "hubspot" and status.source.object_id == deal.id
    assert (status.customer_name, status.customer_domain) == (
        f"{deal.slug.title()} Ltd",
        f"{deal.slug}.example",
    )
    assert status.linked.crm_company_id == deal.company_id  # matched, not created again


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("wrong secret", "no HubSpot signature matches"),
        ("stale timestamp", "HubSpot request timestamp is outside the window of 300 s"),
        ("signed for another URL", "no HubSpot signature matches"),
        ("no signature", "missing X-HubSpot-Signature-v3 header"),
    ],
)
async def test_a_wrong_signature_or_a_stale_timestamp_is_401_and_starts_nothing(
    client: Client, crm: HubSpotClient, problem: str, reason: str
) -> None:
    deal = await create_deal(crm, unique_slug("forged"))
    body = json.dumps([deal_stage_changed(deal.id)]).encode()
    headers = {
        "wrong secret": sign_hubspot(body, "not-the-app-secret"),
        "stale timestamp": sign_hubspot(body, timestamp_ms=int((time.time() - 301) * 1000)),
        "signed for another URL": sign_hubspot(body, uri="https://evil.example/webhooks/hubspot"),
        "no signature": {"Content-Type": "application/json"},
    }[problem]
    async with intake_for(client, crm, "never-polled") as http:
        response = await http.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"].startswith(reason)
    await assert_no_run(client, f"hubspot-deal-{deal.id}")


async def test_deals_not_closed_won_now_are_acknowledged_and_start_nothing(
    client: Client, crm: HubSpotClient
) -> None:
    reopened = await create_deal(crm, unique_slug("reopened"))
    # Moved to closed-won, then back before the webhook was read: the CRM is the truth.
    await crm.request(
        "PATCH",
        f"/crm/v3/objects/deals/{reopened.id}",
        json={"properties": {"dealstage": "contractsent"}},
    )
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([deal_stage_changed(reopened.id)], "is no longer closed-won (stage 'contractsent')"),
        ([deal_stage_changed(99999999999)], "deal 99999999999 no longer exists in HubSpot"),
        ([deal_stage_changed(reopened.id, "qualifiedtobuy")], "no deal entered a closed-won"),
    ]
    async with intake_for(client, crm, "never-polled") as http:
        for events, reason in cases:
            body = json.dumps(events).encode()
            response = await http.post(
                "/webhooks/hubspot", content=body, headers=sign_hubspot(body)
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "ignored"
            assert reason in response.json()["reason"]
    await assert_no_run(client, f"hubspot-deal-{reopened.id}")


async def test_the_crm_unreachable_is_503_and_the_retry_starts_the_run(
    client: Client, settings: VendorSettings
) -> None:
    unreachable = HubSpotClient("http://127.0.0.1:9/hubspot", settings.hubspot_token, timeout=1)
    reachable = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    try:
        deal = await create_deal(reachable, unique_slug("outage"))
        body = json.dumps([deal_stage_changed(deal.id)]).encode()
        async with intake_for(client, unreachable, "never-polled") as http:
            down = await http.post("/webhooks/hubspot", content=body, headers=sign_hubspot(body))
        assert down.status_code == 503 and down.headers["retry-after"], down.text
        await assert_no_run(client, f"hubspot-deal-{deal.id}")
        async with intake_for(client, reachable, "never-polled") as http:
            back = await http.post("/webhooks/hubspot", content=body, headers=sign_hubspot(body))
        assert back.status_code == 201, back.text
        await client.get_workflow_handle(back.json()["transaction_id"]).terminate("test done")
    finally:
        await unreachable.aclose()
        await reachable.aclose()


def test_a_deal_without_onboarding_properties_leaves_them_missing() -> None:
    change = DealClosedWon("7", "closedwon", "1", None)
    start = from_hubspot_deal(
        change,
        {
            "id": "7",
            "properties": {"dealstage": "closedwon", "amount": "5000", "deal_currency_code": "JPY"},
        },
        company=None,
        contact=None,
        owner=None,
    )
    assert start.payload["amount"] == 5000  # yen have no minor unit
    assert {p.path for p in find_problems(start.payload)} >= {
        "customer",
        "primary_contact",
        "plan",
        "crm_owner",
    }
