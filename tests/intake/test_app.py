"""The intake over ASGI against the real dev server: statuses, mapping, signals, logs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from onboarding.domain.run import OnboardingInput
from onboarding.intake import create_app
from onboarding.security.signatures import stripe_signature_header
from tests.intake.conftest import Intake, intake_settings, provider_of
from tests.intake.events import (
    CRM_SECRET,
    SIGNERS,
    STRIPE_SECRET,
    body_of,
    contact,
    deal_closed_won,
    deal_stage_changed,
    envelope_completed,
    invoice_paid,
    payment_failed,
    sign_crm,
    sign_docusign,
    sign_stripe,
)
from tests.support import unique_slug


async def started_input(client: Client, workflow_id: str) -> OnboardingInput:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    attributes = history.events[0].workflow_execution_started_event_attributes
    [value] = await client.data_converter.decode(attributes.input.payloads, [OnboardingInput])
    assert isinstance(value, OnboardingInput)
    return value


async def post(intake: Intake, system: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await intake.http.post(f"/webhooks/{system}", content=body, headers=headers)


async def test_stripe_start_then_redelivery_reaches_the_same_run(
    intake: Intake, client: Client, cleanup: list[str]
) -> None:
    event = invoice_paid(unique_slug("asgi"))
    body = body_of(event)
    first = await post(intake, "stripe", body, sign_stripe(body))
    txn = f"stripe-{event['data']['object']['id']}"
    cleanup.append(txn)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "started"
    assert first.json()["transaction_id"] == txn
    again = await post(intake, "stripe", body, sign_stripe(body))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "status": "running"}
    request = await started_input(client, txn)
    assert request.source.system == "stripe" and request.source.event_id == event["id"]


async def test_docusign_and_crm_start_runs_with_their_transaction_ids(
    intake: Intake, client: Client, cleanup: list[str]
) -> None:
    slug = unique_slug("sign")
    envelope = envelope_completed(slug)
    body = body_of(envelope)
    response = await post(intake, "docusign", body, sign_docusign(body))
    txn = f"docusign-{envelope['data']['envelopeId']}"
    cleanup.append(txn)
    assert response.status_code == 201, response.text
    assert response.json()["transaction_id"] == txn
    request = await started_input(client, txn)
    name, email = contact(slug)
    assert request.payload["primary_contact"] == {"name": name, "email": email}
    assert request.payload["customer"]["domain"] == f"{slug}.example"
    assert request.source.system == "docusign"

    deal = deal_closed_won(slug)
    body = body_of(deal)
    response = await post(intake, "crm", body, sign_crm(body))
    txn = f"crm-deal-{deal['deal']['id']}"
    cleanup.append(txn)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "started"
    request = await started_input(client, txn)
    assert request.payload["primary_contact"] == {"name": name, "email": email}
    assert request.payload["amount"] == 120000


async def test_events_that_start_nothing_are_acknowledged_and_ignored(intake: Intake) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "stripe",
            {"id": "evt_x", "object": "event", "type": "customer.created", "data": {}},
            "Stripe event type 'customer.created' is not handled",
        ),
        (
            "stripe",
            {
                "object": "event",
                "type": "checkout.session.completed",
                "data": {"object": {"id": "cs_1", "payment_status": "unpaid"}},
            },
            "checkout session is not paid yet",
        ),
        (
            "docusign",
            {"event": "envelope-sent", "data": {"envelopeId": "e1"}},
            "DocuSign event 'envelope-sent' is not handled",
        ),
        (
            "crm",
            {"event": "deal.updated", "deal": {"id": "1"}},
            "CRM event 'deal.updated' is not handled",
        ),
        (
            "hubspot",
            [{**deal_stage_changed(9, "appointmentscheduled")}],
            "no deal entered a closed-won stage (closedwon)",
        ),
    ]
    signers = SIGNERS
    for system, event, reason in cases:
        body = body_of(event)
        response = await post(intake, system, body, signers[system](body))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ignored"
        assert response.json()["reason"].startswith(reason)


async def test_events_that_cannot_be_mapped_are_422_with_the_reason(intake: Intake) -> None:
    cases: list[tuple[str, Any, str]] = [
        (
            "stripe",
            {"object": "event", "type": "invoice.paid", "data": {"object": {}}},
            "data.object.id is missing",
        ),
        ("stripe", [1, 2], "a Stripe event must be a JSON object"),
        (
            "docusign",
            {"event": "envelope-completed", "data": {}},
            "DocuSign envelope ID (data.envelopeId) is missing",
        ),
        (
            "crm",
            {"event": "deal.closed_won", "deal": {"properties": {}}},
            "CRM deal ID (deal.id) is missing",
        ),
        ("hubspot", {"eventId": 1}, "a HubSpot webhook delivery must be a JSON array of events"),
        (
            "hubspot",
            [{**deal_stage_changed(9), "objectId": "../owners/1"}],
            "0.objectId: expected a whole number of at most 20 ASCII digits, got other text",
        ),
    ]
    signers = SIGNERS
    for system, event, reason in cases:
        body = body_of(event)
        response = await post(intake, system, body, signers[system](body))
        assert response.status_code == 422, response.text
        assert response.json() == {"error": reason}


async def test_signature_body_and_size_refusals(intake: Intake) -> None:
    body = body_of(invoice_paid("refused"))
    # Stripe's helper signs text; a body that is not UTF-8 is signed over its bytes.
    not_utf8_signed = {
        "Stripe-Signature": stripe_signature_header(b"\xff\xfe", [STRIPE_SECRET], int(time.time()))
    }
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("stripe", body, {}, 401, "missing Stripe-Signature header"),
        (
            "stripe",
            body,
            sign_stripe(body, "whsec_wrong"),
            401,
            "no Stripe signature matches the payload with the configured secrets",
        ),
        (
            "stripe",
            body,
            sign_stripe(body, STRIPE_SECRET, int(time.time()) - 3600),
            401,
            "Stripe signature timestamp is outside the tolerance of 300 s",
        ),
        (
            "stripe",
            body,
            {"Stripe-Signature": "nonsense"},
            400,
            "malformed Stripe-Signature header",
        ),
        ("stripe", b"{oops", sign_stripe(b"{oops"), 400, "body is not JSON"),
        ("stripe", b"\xff\xfe", not_utf8_signed, 400, "body is not UTF-8"),
        ("docusign", body, {}, 401, "missing X-DocuSign-Signature-1 header"),
        (
            "docusign",
            body,
            sign_docusign(body, "another key"),
            401,
            "no DocuSign signature matches",
        ),
        ("crm", body, sign_crm(body, "not the secret"), 401, "no CRM signature matches"),
        ("crm", body, {"X-Signature": "sha256=zz"}, 400, "malformed X-Signature header"),
        ("crm", b"[", sign_crm(b"["), 400, "body is not JSON"),
    ]
    for system, content, headers, status, reason in cases:
        response = await post(intake, system, content, headers)
        assert response.status_code == status, (system, headers, response.text)
        assert response.json()["error"].startswith(reason)
    big = b"{" + b" " * (256 * 1024) + b"}"
    response = await post(intake, "crm", big, sign_crm(big))
    assert response.status_code == 413
    assert (await intake.http.get("/webhooks/stripe")).status_code == 405


async def test_unconfigured_endpoint_answers_503(client: Client) -> None:
    settings = intake_settings("unused", crm_webhook_secrets=())
    app = create_app(client_provider=provider_of(client), settings=settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as http:
        body = body_of(deal_closed_won("x"))
        response = await http.post(
            "/webhooks/crm", content=body, headers=sign_crm(body, CRM_SECRET)
        )
        assert response.status_code == 503
        assert "the crm endpoint is not configured" in response.json()["error"]
        health = await http.get("/healthz")
        assert health.json() == {
            "status": "ok",
            "endpoints": {"stripe": True, "docusign": True, "hubspot": True, "crm": False},
        }
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_payment_failed_signals_the_run_once_per_event(
    intake: Intake, client: Client, cleanup: list[str]
) -> None:
    paid = invoice_paid(unique_slug("billing"))
    invoice_id = paid["data"]["object"]["id"]
    txn = f"stripe-{invoice_id}"

    early = payment_failed(invoice_id)
    body = body_of(early)
    response = await post(intake, "stripe", body, sign_stripe(body))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "no-run"

    body = body_of(paid)
    assert (await post(intake, "stripe", body, sign_stripe(body))).status_code == 201
    cleanup.append(txn)
    # A renewal invoice names its run in metadata; delivered twice, it is one signal.
    renewal = payment_failed(f"in_{uuid.uuid4().hex[:12]}", transaction_id=txn)
    body = body_of(renewal)
    for _ in range(2):
        response = await post(intake, "stripe", body, sign_stripe(body))
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "signalled",
            "signal": "payment_failed",
            "transaction_id": txn,
        }
    history = await client.get_workflow_handle(txn).fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name != "event_received"
    ]
    assert [s.signal_name for s in signals] == ["payment_failed"]
    [decoded] = await client.data_converter.decode(signals[0].input.payloads)
    assert decoded["invoice_id"] == renewal["data"]["object"]["id"]
    assert decoded["event_id"] == renewal["id"]


async def test_logs_carry_ids_but_no_personal_data_or_secrets(
    intake: Intake, cleanup: list[str]
) -> None:
    slug = unique_slug("logs")
    name, email = contact(slug)
    deal = deal_closed_won(slug)
    body = body_of(deal)
    with capture_logs() as logs:
        ok = await post(intake, "crm", body, sign_crm(body))
        bad = await post(intake, "crm", body, sign_crm(body, "wrong"))
    cleanup.append(ok.json()["transaction_id"])
    assert ok.status_code == 201 and bad.status_code == 401
    text = json.dumps(logs, default=str)
    assert ok.json()["transaction_id"] in text
    for secret in (name, email, slug + '.example"', CRM_SECRET, sign_crm(body)["X-Signature"]):
        assert secret not in text, secret
