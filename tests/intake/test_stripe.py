"""Stripe as it sends events today and before 2025, from its own fixtures, to where a user expects.

Every case runs in both invoice shapes, through the intake and through ``onboarding-start``,
against the real worker and the sandbox: a paid purchase goes live; an unpaid checkout starts
nothing until its ``async_payment_succeeded``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from onboarding.domain.triggers import SignalRun, StartRun, stripe_intent
from onboarding.domain.validation import find_problems
from onboarding.intake import create_app
from starters.stripe_event import main as onboarding_start
from tests.intake.conftest import intake_settings, provider_of
from tests.intake.events import body_of, contact, metadata, sign_stripe
from tests.intake.stripe_events import SHAPES, checkout_event, invoice_event, resource
from tests.support import status_of, unique_slug, wait_for_stage

SHAPE_NAMES = sorted(SHAPES)


def test_the_fixtures_have_each_api_shape() -> None:
    old, new = resource("pre-2025", "invoice"), resource("2025+", "invoice")
    assert "subscription_details" in old and "subscription" in old and "parent" not in old
    assert "subscription" not in new and "subscription_details" not in new
    assert "subscription_details" in new["parent"]
    # The current fixture has exactly fields of the current API: those of the stripe
    # library's Invoice, which is generated from Stripe's specification.
    current = {k for cls in stripe.Invoice.__mro__ for k in getattr(cls, "__annotations__", {})}
    assert set(new) <= current, set(new) - current


@pytest.mark.parametrize("shape", SHAPE_NAMES)
@pytest.mark.parametrize("event_type", ["invoice.paid", "invoice.payment_succeeded"])
def test_a_first_invoice_maps_to_a_complete_payload_in_both_shapes(
    shape: str, event_type: str
) -> None:
    event = invoice_event(shape, "acme", event_type)
    intent = stripe_intent(event)
    assert isinstance(intent, StartRun)
    assert intent.transaction_id == f"stripe-{event['data']['object']['id']}"
    assert find_problems(intent.payload) == []
    assert intent.payload["customer"]["legal_name"] == metadata("acme")["legal_name"]
    name, email = contact("acme")
    assert intent.payload["primary_contact"] == {"name": name, "email": email}
    assert intent.then_signal is not None and intent.then_signal.name == "payment_succeeded"


def test_both_shapes_of_one_invoice_map_to_the_same_run_and_payload() -> None:
    old = stripe_intent(invoice_event("pre-2025", "globex", invoice_id="in_same"))
    new = stripe_intent(invoice_event("2025+", "globex", invoice_id="in_same"))
    assert isinstance(old, StartRun) and isinstance(new, StartRun)
    assert (old.transaction_id, old.payload) == (new.transaction_id, new.payload)


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_a_renewal_names_its_run_in_the_subscription_metadata(shape: str) -> None:
    event = invoice_event(
        shape,
        "acme",
        "invoice.payment_succeeded",
        billing_reason="subscription_cycle",
        subscription_metadata={"onboarding_transaction_id": "stripe-in_first"},
    )
    intent = stripe_intent(event)
    assert isinstance(intent, SignalRun)
    assert (intent.transaction_id, intent.name) == ("stripe-in_first", "payment_succeeded")


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_checkout_sessions_map_by_payment_status(shape: str) -> None:
    paid = stripe_intent(checkout_event(shape, "initech", invoice_id="in_chk"))
    assert isinstance(paid, StartRun) and paid.transaction_id == "stripe-in_chk"
    assert find_problems(paid.payload) == []
    unpaid = checkout_event(shape, "initech", payment_status="unpaid")
    with pytest.raises(Exception, match="not paid yet"):
        stripe_intent(unpaid)
    later = checkout_event(
        shape,
        "initech",
        "checkout.session.async_payment_succeeded",
        session_id=unpaid["data"]["object"]["id"],
    )
    started = stripe_intent(later)
    assert isinstance(started, StartRun)
    assert started.transaction_id == f"stripe-{unpaid['data']['object']['id']}"


# --------------------------------------------------------------- end to end, as a user sees it

Case = Callable[[str, str], list[dict[str, Any]]]


def paid_invoice(event_type: str) -> Case:
    return lambda shape, slug: [invoice_event(shape, slug, event_type)]


def paid_checkout(shape: str, slug: str) -> list[dict[str, Any]]:
    return [checkout_event(shape, slug)]


def delayed_payment(shape: str, slug: str) -> list[dict[str, Any]]:
    unpaid = checkout_event(shape, slug, payment_status="unpaid")
    paid_later = checkout_event(
        shape,
        slug,
        "checkout.session.async_payment_succeeded",
        session_id=unpaid["data"]["object"]["id"],
    )
    return [unpaid, paid_later]


CASES: dict[str, tuple[Case, list[str]]] = {
    # case -> (the events in order, what each delivery answers)
    "invoice.paid": (paid_invoice("invoice.paid"), ["started"]),
    "invoice.payment_succeeded": (paid_invoice("invoice.payment_succeeded"), ["started"]),
    "checkout.session.completed": (paid_checkout, ["started"]),
    "unpaid checkout, then async_payment_succeeded": (delayed_payment, ["ignored", "started"]),
}


def transaction_of(event: dict[str, Any]) -> str:
    obj = event["data"]["object"]
    return f"stripe-{obj.get('invoice') or obj['id']}"


@pytest.mark.parametrize("shape", SHAPE_NAMES)
@pytest.mark.parametrize("case", list(CASES))
async def test_through_the_intake_each_case_goes_live(
    client: Client, worker: Worker, shape: str, case: str
) -> None:
    build, answers = CASES[case]
    slug = unique_slug("stripe")
    events = build(shape, slug)
    txn = transaction_of(events[-1])
    app = create_app(
        client_provider=provider_of(client), settings=intake_settings(worker.task_queue)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as http:
        for event, expected in zip(events, answers, strict=True):
            body = body_of(event)
            response = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
            assert response.json()["status"] == expected, response.text
            assert response.status_code == (201 if expected == "started" else 200)
            if expected == "ignored":  # the unpaid checkout started nothing
                with pytest.raises(RPCError) as missing:
                    await client.get_workflow_handle(txn).describe()
                assert missing.value.status == RPCStatusCode.NOT_FOUND
    status = await wait_for_stage(client, txn, "live", timeout=90)
    assert status.source.event_type == events[-1]["type"]
    assert (status.customer_name, status.customer_domain) == (
        metadata(slug)["legal_name"],
        metadata(slug)["company_domain"],
    )


@pytest.mark.parametrize("shape", SHAPE_NAMES)
@pytest.mark.parametrize("case", list(CASES))
async def test_through_onboarding_start_each_case_goes_live(
    client: Client,
    worker: Worker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    shape: str,
    case: str,
) -> None:
    build, answers = CASES[case]
    events = build(shape, unique_slug("cli"))
    txn = transaction_of(events[-1])
    files = []
    for index, event in enumerate(events):
        path = tmp_path / f"{index}-{event['type']}.json"
        path.write_text(json.dumps(event))
        files.append(str(path))
    target = client.service_client.config.target_host
    argv = [*files, "--address", target, "--namespace", client.namespace]
    argv += ["--task-queue", worker.task_queue, "--wait"]
    # The command runs its own event loop, as it does in a terminal.
    code = await asyncio.to_thread(onboarding_start, argv)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    if "ignored" in answers:
        assert "ignored: checkout session is not paid yet" in lines[0]
    assert lines[-1].endswith(f"transaction {txn}: live"), out
    assert (await status_of(client, txn)).stage.value == "live"
