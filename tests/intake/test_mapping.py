"""DocuSign, CRM and Stripe billing events mapped onto runs (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.domain.run import PaymentFailed
from onboarding.domain.triggers import (
    EventError,
    SignalRun,
    StartRun,
    UnhandledEvent,
    from_crm_event,
    from_docusign_event,
    stripe_intent,
)
from onboarding.domain.validation import find_problems
from onboarding.intake import IntakeSettings
from onboarding.intake.__main__ import main
from tests.intake.events import contact, deal_closed_won, envelope_completed, payment_failed


def test_docusign_envelope_maps_custom_fields_and_the_first_signer() -> None:
    event = envelope_completed("globex", envelope_id="4f0c-env")
    start = from_docusign_event(event)
    txn, source, payload = start.transaction_id, start.source, start.payload
    assert txn == "docusign-4f0c-env"
    assert source.system == "docusign" and source.object_id == "4f0c-env"
    assert payload["primary_contact"] == dict(
        zip(("name", "email"), contact("globex"), strict=True)
    )
    assert payload["customer"]["legal_name"] == "Globex Industries"
    assert find_problems(payload) == []


def test_docusign_custom_fields_name_the_contact_over_the_signer() -> None:
    event = envelope_completed("globex")
    fields = event["data"]["envelopeSummary"]["customFields"]["textCustomFields"]
    fields.append({"name": "contact_email", "value": "ops@globex.example"})
    assert from_docusign_event(event).payload["primary_contact"]["email"] == "ops@globex.example"


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ({"event": "envelope-sent", "data": {}}, UnhandledEvent, "DocuSign event 'envelope-sent'"),
        (
            {
                "event": "envelope-completed",
                "data": {"envelopeId": "e", "envelopeSummary": {"status": "voided"}},
            },
            UnhandledEvent,
            "DocuSign envelope status is 'voided'",
        ),
        ({"data": {}}, EventError, 'DocuSign Connect event has no "event"'),
        ({"event": "envelope-completed"}, EventError, 'DocuSign Connect event has no "data"'),
        (
            {"event": "envelope-completed", "data": {"envelopeId": "x" * 201}},
            EventError,
            "not a plausible ID",
        ),
    ],
)
def test_docusign_refusals(event: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        from_docusign_event(event)


def test_crm_closed_won_maps_properties() -> None:
    event = deal_closed_won("initech", deal_id="881")
    event["deal"]["id"] = 881
    start = from_crm_event(event)
    txn, source, payload = start.transaction_id, start.source, start.payload
    assert txn == "crm-deal-881"
    assert source.system == "crm" and source.event_id == event["id"]
    assert payload["primary_contact"]["email"] == "pat@initech.example"
    assert payload["amount"] == 120000 and payload["currency"] == "usd"
    assert find_problems(payload) == []


def test_crm_refusals() -> None:
    with pytest.raises(UnhandledEvent, match=r"CRM event 'deal\.lost' is not handled"):
        from_crm_event({"event": "deal.lost"})
    with pytest.raises(EventError, match='CRM event has no "deal" object'):
        from_crm_event({"event": "deal.closed_won"})
    with pytest.raises(EventError, match=r"CRM deal ID \(deal.id\): expected a string"):
        from_crm_event({"event": "deal.closed_won", "deal": {"id": True}})


def signal_of(event: dict[str, Any]) -> SignalRun:
    intent = stripe_intent(event)
    assert isinstance(intent, SignalRun), intent
    return intent


def test_payment_failed_reaches_the_invoice_run_or_the_named_one() -> None:
    signal = signal_of(payment_failed("in_123"))
    assert signal.transaction_id == "stripe-in_123" and signal.name == "payment_failed"
    assert isinstance(signal.event, PaymentFailed)
    assert signal.event.invoice_id == "in_123" and signal.event.attempt_count == 1
    assert signal.event.reason == "invoice payment failed (attempt 1)"
    renewal = payment_failed("in_456", transaction_id="stripe-in_123")
    assert signal_of(renewal).transaction_id == "stripe-in_123"
    # 2025+ API versions keep subscription metadata under parent.subscription_details.
    nested = payment_failed("in_789")
    nested["data"]["object"]["metadata"] = {}
    nested["data"]["object"]["parent"] = {
        "subscription_details": {"metadata": {"onboarding_transaction_id": "crm-deal-9"}}
    }
    assert signal_of(nested).transaction_id == "crm-deal-9"
    with pytest.raises(EventError, match=r"data\.object\.id is missing"):
        stripe_intent({"object": "event", "type": "invoice.payment_failed", "data": {"object": {}}})


def test_paid_invoices_start_and_lift_a_payment_hold_of_an_open_run() -> None:
    succeeded = {**payment_failed("in_123"), "type": "invoice.payment_succeeded"}
    start = stripe_intent(succeeded)
    assert isinstance(start, StartRun) and start.transaction_id == "stripe-in_123"
    assert start.then_signal is not None and start.then_signal.name == "payment_succeeded"
    renewal = {**payment_failed("in_456", "docusign-e1"), "type": "invoice.paid"}
    renewal["data"]["object"]["billing_reason"] = "subscription_cycle"
    assert signal_of(renewal).transaction_id == "docusign-e1"
    del renewal["data"]["object"]["metadata"]["onboarding_transaction_id"]
    with pytest.raises(UnhandledEvent, match="renewals do not start an onboarding"):
        stripe_intent(renewal)


def test_stripe_events_that_start_nothing_or_are_not_stripe_events() -> None:
    with pytest.raises(UnhandledEvent, match=r"'charge\.refunded' is not handled"):
        stripe_intent({"object": "event", "type": "charge.refunded"})
    with pytest.raises(UnhandledEvent, match="payment_status='unpaid'"):
        stripe_intent(
            {
                "object": "event",
                "type": "checkout.session.completed",
                "data": {"object": {"id": "cs_1", "payment_status": "unpaid"}},
            }
        )
    with pytest.raises(EventError, match='"object" must be "event"'):
        stripe_intent({"type": "invoice.paid"})


def test_settings_from_the_environment() -> None:
    settings = IntakeSettings.from_env(
        {
            "STRIPE_WEBHOOK_SECRETS": "whsec_new, whsec_old",
            "DOCUSIGN_CONNECT_KEYS": "k1",
            "CRM_WEBHOOK_SECRET": "s",
            "INTAKE_MAX_BODY_BYTES": "1024",
            "ONBOARDING_TASK_QUEUE": "tq",
        }
    )
    assert settings.stripe_webhook_secrets == ("whsec_new", "whsec_old")
    assert settings.docusign_connect_keys == ("k1",)
    assert settings.crm_webhook_secrets == ("s",)
    assert settings.max_body_bytes == 1024 and settings.task_queue == "tq"
    assert IntakeSettings.from_env({}).configured() == {
        "stripe": False,
        "docusign": False,
        "hubspot": False,
        "crm": False,
    }


def test_the_command_refuses_to_start_without_any_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "STRIPE_WEBHOOK_SECRETS",
        "DOCUSIGN_CONNECT_KEYS",
        "HUBSPOT_APP_SECRETS",
        "CRM_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    assert "no endpoint is configured" in capsys.readouterr().err
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("ONBOARDING_CODEC_KEYS", "k:short")
    assert main([]) == 2
    assert "ONBOARDING_CODEC_KEYS: key 'k'" in capsys.readouterr().err
