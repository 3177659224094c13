"""Stripe events mapped to the canonical payload and a transaction ID from the business object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onboarding.domain.triggers import EventError, from_stripe_event
from onboarding.domain.validation import find_problems

EVENTS = Path(__file__).resolve().parent.parent / "onboarding" / "data" / "samples" / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_checkout_and_invoice_of_one_purchase_share_a_transaction() -> None:
    checkout_txn, checkout_source, checkout_payload = from_stripe_event(
        load("01-acme-checkout-completed.json")
    )
    invoice_txn, invoice_source, invoice_payload = from_stripe_event(
        load("02-acme-invoice-paid.json")
    )
    assert checkout_txn == invoice_txn == "stripe-in_1QAcme0000000001"
    assert checkout_source.event_type == "checkout.session.completed"
    assert invoice_source.event_type == "invoice.paid"
    assert checkout_payload == invoice_payload
    assert find_problems(checkout_payload) == []
    assert checkout_payload["customer"] == {
        "legal_name": "Acme Corporation",
        "domain": "acme.example",
        "region": "emea",
        "segment": "growth",
        "tier": "enterprise",
    }
    assert checkout_payload["handover"]["goals"] == [
        "Replace spreadsheet onboarding",
        "Cut time to first value",
    ]


def test_missing_metadata_is_left_missing_not_guessed() -> None:
    _, _, payload = from_stripe_event(load("06-hooli-missing-fields.json"))
    paths = {p.path for p in find_problems(payload)}
    assert paths == {"customer.domain", "crm_owner", "plan.billing_term"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "a Stripe event must be a JSON object"),
        ({"object": "invoice"}, 'not a Stripe event: "object" must be "event"'),
        (
            {"object": "event", "type": "customer.created", "data": {"object": {}}},
            "Stripe event type 'customer.created' is not handled",
        ),
        ({"object": "event", "type": "invoice.paid"}, 'Stripe event has no "data.object"'),
        (
            {
                "object": "event",
                "type": "checkout.session.completed",
                "data": {"object": {"id": "cs_1", "payment_status": "unpaid"}},
            },
            "checkout session is not paid yet (payment_status='unpaid')",
        ),
    ],
)
def test_events_that_cannot_start_a_run_say_why(event: object, message: str) -> None:
    with pytest.raises(EventError) as raised:
        from_stripe_event(event)
    assert message in str(raised.value)


def test_subscription_renewals_do_not_start_an_onboarding() -> None:
    event = load("03-globex-invoice-paid.json")
    event["data"]["object"]["billing_reason"] = "subscription_cycle"
    with pytest.raises(EventError) as raised:
        from_stripe_event(event)
    assert "invoice is a renewal (billing_reason='subscription_cycle')" in str(raised.value)
    event["data"]["object"]["billing_reason"] = "subscription_create"
    assert from_stripe_event(event)[0] == "stripe-in_1QGlobex00000001"
