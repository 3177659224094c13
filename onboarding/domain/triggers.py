"""Billing and signature events mapped onto the canonical payload.

The transaction ID comes from the event's business object (the invoice, else the checkout
session), never from a timestamp, so redeliveries and the two events Stripe sends for one
purchase (``checkout.session.completed`` and ``invoice.paid``) reach the same run. Fields Stripe
does not have come from the object's ``metadata``; what is absent stays absent (the run parks in
awaiting-data), it is never guessed.
"""

from __future__ import annotations

from typing import Any

from onboarding.domain.actions import PaymentFailed, PaymentSucceeded
from onboarding.domain.run import TriggerSource

STRIPE_START_EVENTS = frozenset({"checkout.session.completed", "invoice.paid"})


class EventError(ValueError):
    """An event that cannot start a run; the message says precisely why."""


class UnhandledEvent(EventError):
    """A well-formed event that starts nothing (another type or state): acknowledge, ignore."""


#: Invoices of an existing subscription: a renewal is not a new customer.
STRIPE_RENEWAL_REASONS = frozenset(
    {"subscription_cycle", "subscription_update", "subscription_threshold"}
)


def stripe_transaction_id(invoice_id: str | None, session_id: str | None) -> str:
    """The transaction ID of a Stripe purchase: its invoice, else its checkout session."""
    if invoice_id:
        return f"stripe-{invoice_id}"
    if session_id:
        return f"stripe-{session_id}"
    raise EventError("event has neither an invoice nor a checkout session ID")


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


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
    metadata = _object(obj.get("metadata"))
    if event_type == "checkout.session.completed":
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            raise EventError(
                f"checkout session {obj.get('id')} is not paid "
                f"(payment_status={obj.get('payment_status')!r}); nothing to onboard yet"
            )
        details = _object(obj.get("customer_details"))
        transaction_id = stripe_transaction_id(_str(obj.get("invoice")), _str(obj.get("id")))
        document = payload_from_metadata(
            metadata,
            contact_name=_str(details.get("name")),
            contact_email=_str(details.get("email")),
            amount=obj.get("amount_total") if isinstance(obj.get("amount_total"), int) else None,
            currency=_str(obj.get("currency")),
        )
    else:
        if obj.get("billing_reason") in STRIPE_RENEWAL_REASONS:
            raise UnhandledEvent(
                f"invoice {obj.get('id')} is a renewal (billing_reason="
                f"{obj.get('billing_reason')!r}); renewals do not start an onboarding"
            )
        if not metadata:
            metadata = _object(_object(obj.get("subscription_details")).get("metadata"))
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


# ----------------------------------------------------------------------------------------------
# Webhook intake: DocuSign, CRM Closed-Won, and Stripe billing events for a run that exists.

DOCUSIGN_START_EVENTS = frozenset({"envelope-completed"})
CRM_START_EVENTS = frozenset({"deal.closed_won"})
#: Stripe billing events signalled to an existing run, with the signal each one becomes.
STRIPE_SIGNAL_EVENTS = {
    "invoice.payment_failed": "payment_failed",
    "invoice.payment_succeeded": "payment_succeeded",
}
_MAX_OBJECT_ID = 200


def _object_id(value: Any, what: str) -> str:
    """A business object ID fit for a workflow ID: a short printable string (or an integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _str(value)
    if text is None:
        raise EventError(f"{what} is missing")
    if len(text) > _MAX_OBJECT_ID or not text.isprintable():
        raise EventError(
            f"{what} is not a plausible ID (printable, at most {_MAX_OBJECT_ID} chars)"
        )
    return text


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def stripe_event_kind(event: Any) -> str:
    """What a Stripe event asks of the intake: ``"start"`` or a signal name.

    Raises:
        UnhandledEvent: a Stripe event of another type, or a checkout session not paid yet
            (Stripe expects a 2xx for events an endpoint ignores).
        EventError: not a Stripe event object.
    """
    if not isinstance(event, dict):
        raise EventError("a Stripe event must be a JSON object")
    if event.get("object") != "event":
        raise EventError('not a Stripe event: "object" must be "event"')
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise EventError('Stripe event has no "type"')
    if event_type in STRIPE_SIGNAL_EVENTS:
        return STRIPE_SIGNAL_EVENTS[event_type]
    if event_type not in STRIPE_START_EVENTS:
        raise UnhandledEvent(f"Stripe event type {event_type!r} is not handled")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    payment_status = obj.get("payment_status") if isinstance(obj, dict) else None
    if (
        event_type == "checkout.session.completed"
        and isinstance(payment_status, str)
        and payment_status not in ("paid", "no_payment_required")
    ):
        raise UnhandledEvent(
            f"checkout session is not paid yet (payment_status={payment_status!r}); "
            "nothing to onboard yet"
        )
    return "start"


def _stripe_invoice(event: Any, expected_type: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    if not isinstance(event, dict) or event.get("object") != "event":
        raise EventError('not a Stripe event: "object" must be "event"')
    if event.get("type") != expected_type:
        raise EventError(f"expected a Stripe {expected_type} event, got {event.get('type')!r}")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise EventError('Stripe event has no "data.object"')
    invoice_id = _object_id(obj.get("id"), "Stripe invoice ID (data.object.id)")
    metadata: Any = obj.get("metadata")
    if not isinstance(metadata, dict) or not metadata:
        # Older API versions: subscription_details; 2025+: parent.subscription_details.
        candidates = [obj.get("subscription_details"), (obj.get("parent") or {})]
        metadata = {}
        for candidate in candidates:
            if isinstance(candidate, dict) and isinstance(
                candidate.get("subscription_details"), dict
            ):
                candidate = candidate["subscription_details"]
            if isinstance(candidate, dict) and isinstance(candidate.get("metadata"), dict):
                metadata = candidate["metadata"]
                break
    return obj, invoice_id, metadata


def _billing_transaction_id(metadata: dict[str, Any], invoice_id: str) -> str:
    override = metadata.get("onboarding_transaction_id")
    if override is not None:
        return _object_id(override, "metadata.onboarding_transaction_id")
    return stripe_transaction_id(invoice_id, None)


def payment_failed_from_stripe_event(event: Any) -> tuple[str, PaymentFailed]:
    """Map ``invoice.payment_failed`` to the run it concerns and the ``payment_failed`` signal.

    The run is ``metadata.onboarding_transaction_id`` when the invoice (or its subscription)
    carries it, else ``stripe-<invoice id>``.

    Raises:
        EventError: not an ``invoice.payment_failed`` event, or no invoice ID.
    """
    obj, invoice_id, metadata = _stripe_invoice(event, "invoice.payment_failed")
    error = obj.get("last_finalization_error")
    reason = _str(error.get("message")) if isinstance(error, dict) else None
    attempts = _int(obj.get("attempt_count"))
    if reason is None:
        reason = "invoice payment failed" + (f" (attempt {attempts})" if attempts else "")
    return _billing_transaction_id(metadata, invoice_id), PaymentFailed(
        invoice_id=invoice_id,
        event_id=_str(event.get("id")),
        reason=reason,
        attempt_count=attempts,
    )


def payment_succeeded_from_stripe_event(event: Any) -> tuple[str, PaymentSucceeded]:
    """Map ``invoice.payment_succeeded`` to its run and the ``payment_succeeded`` signal.

    Raises:
        EventError: not an ``invoice.payment_succeeded`` event, or no invoice ID.
    """
    _, invoice_id, metadata = _stripe_invoice(event, "invoice.payment_succeeded")
    return _billing_transaction_id(metadata, invoice_id), PaymentSucceeded(
        invoice_id=invoice_id, event_id=_str(event.get("id"))
    )


def _docusign_fields(summary: dict[str, Any]) -> dict[str, Any]:
    custom = summary.get("customFields")
    fields: dict[str, Any] = {}
    if isinstance(custom, dict):
        for group in ("textCustomFields", "listCustomFields"):
            entries = custom.get(group)
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    fields.setdefault(entry["name"].strip(), entry.get("value"))
    return fields


def _docusign_signer(summary: dict[str, Any]) -> tuple[str | None, str | None]:
    recipients = summary.get("recipients")
    signers = recipients.get("signers") if isinstance(recipients, dict) else None
    candidates = [s for s in signers if isinstance(s, dict)] if isinstance(signers, list) else []
    candidates.sort(key=lambda s: _int(s.get("routingOrder")) or 0)
    for signer in candidates:
        name, email = _str(signer.get("name")), _str(signer.get("email"))
        if name or email:
            return name, email
    return None, None


def from_docusign_event(event: Any) -> tuple[str, TriggerSource, dict[str, Any]]:
    """Map a DocuSign Connect (JSON) ``envelope-completed`` event to ``(txn, source, payload)``.

    The transaction is ``docusign-<envelopeId>``. The envelope's custom fields (text and list)
    carry the same keys as the Stripe metadata (``legal_name``, ``company_domain``, ``tier``,
    ...); the contact is the first signer by routing order unless the fields name one.

    Raises:
        UnhandledEvent: another Connect event (sent, delivered, declined, ...).
        EventError: not a Connect JSON event, or no envelope ID.
    """
    if not isinstance(event, dict):
        raise EventError("a DocuSign Connect event must be a JSON object")
    event_type = event.get("event")
    if not isinstance(event_type, str) or not event_type:
        raise EventError('DocuSign Connect event has no "event" (configure the JSON data format)')
    if event_type not in DOCUSIGN_START_EVENTS:
        raise UnhandledEvent(f"DocuSign event {event_type!r} is not handled")
    data = event.get("data")
    if not isinstance(data, dict):
        raise EventError('DocuSign Connect event has no "data"')
    envelope_id = _object_id(data.get("envelopeId"), "DocuSign envelope ID (data.envelopeId)")
    summary = _object(data.get("envelopeSummary"))
    status = summary.get("status")
    if isinstance(status, str) and status and status != "completed":
        raise UnhandledEvent(f"DocuSign envelope status is {status!r}, not 'completed'")
    fields = _docusign_fields(summary)
    name, email = _docusign_signer(summary)
    document = payload_from_metadata(
        fields,
        contact_name=name,
        contact_email=email,
        amount=_int(fields.get("amount")),
        currency=_str(fields.get("currency")),
    )
    source = TriggerSource(
        system="docusign",
        event_type=event_type,
        event_id=_str(event.get("generatedDateTime")),
        object_id=envelope_id,
    )
    return f"docusign-{envelope_id}", source, document


def from_crm_event(event: Any) -> tuple[str, TriggerSource, dict[str, Any]]:
    """Map a CRM Closed-Won webhook to ``(transaction_id, source, payload document)``.

    The shape (a small, documented contract a CRM workflow rule or middleware posts)::

        {"event": "deal.closed_won", "id": "<optional delivery id>",
         "deal": {"id": "881", "amount": 4800000, "currency": "usd",
                  "properties": {"legal_name": "...", "company_domain": "...", "tier": "...",
                                 "contact_name": "...", "contact_email": "...", ...}}}

    ``properties`` takes the same keys as the Stripe metadata. The transaction is
    ``crm-deal-<id>``.

    Raises:
        UnhandledEvent: another event type.
        EventError: not a JSON object, no deal, or no deal ID.
    """
    if not isinstance(event, dict):
        raise EventError("a CRM event must be a JSON object")
    event_type = event.get("event")
    if not isinstance(event_type, str) or not event_type:
        raise EventError('CRM event has no "event"')
    if event_type not in CRM_START_EVENTS:
        raise UnhandledEvent(f"CRM event {event_type!r} is not handled")
    deal = event.get("deal")
    if not isinstance(deal, dict):
        raise EventError('CRM event has no "deal" object')
    deal_id = _object_id(deal.get("id"), "CRM deal ID (deal.id)")
    properties = _object(deal.get("properties"))
    document = payload_from_metadata(
        properties,
        contact_name=None,
        contact_email=None,
        amount=_int(deal.get("amount")),
        currency=_str(deal.get("currency")),
    )
    source = TriggerSource(
        system="crm",
        event_type=event_type,
        event_id=_str(event.get("id")),
        object_id=deal_id,
    )
    return f"crm-deal-{deal_id}", source, document
