"""Billing and signature events mapped onto the canonical payload.

The transaction ID comes from the event's business object (the invoice, else the checkout
session), never from a timestamp, so redeliveries and the two events Stripe sends for one
purchase (``checkout.session.completed`` and ``invoice.paid``) reach the same run. Fields Stripe
does not have come from the object's ``metadata``; what is absent stays absent (the run parks in
awaiting-data), it is never guessed.
"""

from __future__ import annotations

from typing import Any

from onboarding.run import TriggerSource

STRIPE_START_EVENTS = frozenset({"checkout.session.completed", "invoice.paid"})


class EventError(ValueError):
    """An event that cannot start a run; the message says precisely why."""


def stripe_transaction_id(invoice_id: str | None, session_id: str | None) -> str:
    """The transaction ID of a Stripe purchase: its invoice, else its checkout session."""
    if invoice_id:
        return f"stripe-{invoice_id}"
    if session_id:
        return f"stripe-{session_id}"
    raise EventError("event has neither an invoice nor a checkout session ID")


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    return value


def payload_from_metadata(
    metadata: dict[str, Any],
    *,
    contact_name: str | None,
    contact_email: str | None,
    amount: int | None,
    currency: str | None,
) -> dict[str, Any]:
    """The canonical payload document from a Stripe object's metadata and customer details."""
    domain = _str(metadata.get("company_domain"))
    document = {
        "customer": {
            "legal_name": _str(metadata.get("legal_name")),
            "domain": domain.lower() if domain else None,
            "region": _str(metadata.get("region")),
            "segment": _str(metadata.get("segment")),
            "tier": _str(metadata.get("tier")),
        },
        "primary_contact": {
            "name": _str(metadata.get("contact_name")) or contact_name,
            "email": _str(metadata.get("contact_email")) or contact_email,
        },
        "plan": {
            "sku": _str(metadata.get("plan_sku")),
            "billing_term": _str(metadata.get("billing_term")),
        },
        "crm_owner": _str(metadata.get("crm_owner")),
        "implementation": {
            "start_target": _str(metadata.get("implementation_start")),
            "urgency": _str(metadata.get("urgency")),
        },
        "amount": amount,
        "currency": currency,
        "first_value": {
            "milestone": _str(metadata.get("first_value_milestone")),
            "target_days": int(metadata["first_value_days"])
            if str(metadata.get("first_value_days", "")).isdigit()
            else None,
        },
        "handover": {
            "goals": [g.strip() for g in str(metadata.get("goals", "")).split(";") if g.strip()],
            "links": {"deal": _str(metadata.get("deal_url"))},
        },
    }
    return dict(_drop_empty(document))


def from_stripe_event(event: Any) -> tuple[str, TriggerSource, dict[str, Any]]:
    """Map a Stripe event to ``(transaction_id, source, payload document)``.

    Raises:
        EventError: the event is not a Stripe event object, not a type that starts a run, or
            lacks the business object's ID.
    """
    if not isinstance(event, dict):
        raise EventError("a Stripe event must be a JSON object")
    if event.get("object") != "event":
        raise EventError('not a Stripe event: "object" must be "event"')
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise EventError('Stripe event has no "type"')
    if event_type not in STRIPE_START_EVENTS:
        raise EventError(
            f"Stripe event type {event_type!r} does not start an onboarding; "
            f"expected one of: {', '.join(sorted(STRIPE_START_EVENTS))}"
        )
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        raise EventError('Stripe event has no "data.object"')
    raw_metadata = obj.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    if event_type == "checkout.session.completed":
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            raise EventError(
                f"checkout session {obj.get('id')} is not paid "
                f"(payment_status={obj.get('payment_status')!r}); nothing to onboard yet"
            )
        raw_details = obj.get("customer_details")
        details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
        transaction_id = stripe_transaction_id(_str(obj.get("invoice")), _str(obj.get("id")))
        document = payload_from_metadata(
            metadata,
            contact_name=_str(details.get("name")),
            contact_email=_str(details.get("email")),
            amount=obj.get("amount_total") if isinstance(obj.get("amount_total"), int) else None,
            currency=_str(obj.get("currency")),
        )
    else:
        if not metadata:
            sub = obj.get("subscription_details")
            sub_metadata = sub.get("metadata") if isinstance(sub, dict) else None
            metadata = sub_metadata if isinstance(sub_metadata, dict) else {}
        transaction_id = stripe_transaction_id(_str(obj.get("id")), None)
        document = payload_from_metadata(
            metadata,
            contact_name=_str(obj.get("customer_name")),
            contact_email=_str(obj.get("customer_email")),
            amount=obj.get("amount_paid") if isinstance(obj.get("amount_paid"), int) else None,
            currency=_str(obj.get("currency")),
        )
    source = TriggerSource(
        system="stripe",
        event_type=event_type,
        event_id=_str(event.get("id")),
        object_id=str(obj.get("id")),
    )
    return transaction_id, source, document
