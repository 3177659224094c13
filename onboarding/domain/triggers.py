"""Billing, signature and CRM events mapped onto what they ask: start a run, signal one, or nothing.

Every field an event carries is read through a bounded reader (:func:`read_text`,
:func:`read_count`, :func:`read_id`) before anything starts: a wrong type, a string longer than
its bound, a number that is not a few ASCII digits or a string that is not valid Unicode (a lone
surrogate) raises :class:`EventError` naming the field's path. What a *value* may contain (a
name's characters, a domain's form) is the required-fields gate's decision, so a customer who
typed something odd is parked in front of a person, never dropped.

The transaction ID comes from the event's business object (the invoice, else the checkout
session; the envelope; the deal), never from a timestamp, so redeliveries and the several events
of one purchase reach the same run. Fields the sender does not have come from the object's
metadata; what is absent stays absent (the run parks in awaiting-data), it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from onboarding.domain.actions import PaymentFailed, PaymentSucceeded
from onboarding.domain.run import TriggerSource


class EventError(ValueError):
    """An event that cannot start a run; the message names the field and why."""


class UnhandledEvent(EventError):
    """A well-formed event that starts nothing (another type or state): acknowledge, ignore."""


# ------------------------------------------------------------------------------ bounded reads

#: Longest business-object ID (Temporal limits workflow IDs; ours are prefix + this).
MAX_ID_LENGTH = 128
#: Longest free-text value read from an event (Stripe's metadata values are at most 500).
MAX_TEXT_LENGTH = 500
#: Most digits in a number read from an event (amounts in minor units fit easily).
MAX_DIGITS = 15
#: Most entries read from one list in an event (custom fields, signers, contacts, events).
MAX_ENTRIES = 200
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_DIGITS = re.compile(r"[0-9]+")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _valid_unicode(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise EventError(f"{path}: not valid Unicode (a lone surrogate)") from None
    return text


def read_text(value: Any, path: str, *, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """A string field, stripped; None when absent or blank.

    Raises:
        EventError: not a string, longer than ``max_length``, or not valid Unicode.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{path}: expected a string, got {_kind(value)}")
    if len(value) > max_length:
        raise EventError(f"{path}: longer than {max_length} characters")
    text = _valid_unicode(value, path).strip()
    return text or None


def read_count(value: Any, path: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """A whole number field: an integer, or a string of ASCII digits; None when absent.

    ``"²"`` and ``"٣"`` are digits to :meth:`str.isdigit` but not numbers anyone typed on
    purpose; they, 5,000-digit numbers and fractions are refused.

    Raises:
        EventError: anything but a non-negative whole number of at most ``max_digits`` digits.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 10**max_digits:
            return value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) <= max_digits and _DIGITS.fullmatch(text):
            return int(text)
    raise EventError(
        f"{path}: expected a whole number of at most {max_digits} ASCII digits, "
        f"got {_kind(value) if not isinstance(value, str) else 'other text'}"
    )


def read_id(value: Any, path: str) -> str:
    """A business-object ID fit for a workflow ID: an integer, or short ASCII text.

    Raises:
        EventError: missing, or not letters, digits and ``._:@-`` within
            :data:`MAX_ID_LENGTH` characters.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise EventError(f"{path} is missing")
    if not isinstance(value, str):
        raise EventError(f"{path}: expected a string, got {_kind(value)}")
    text = value.strip()
    if len(text) > MAX_ID_LENGTH or not _ID.fullmatch(text):
        raise EventError(
            f"{path} is not a plausible ID (ASCII letters, digits and ._:@-, "
            f"at most {MAX_ID_LENGTH} characters)"
        )
    return text


def read_object(value: Any, path: str, *, required: bool = False) -> dict[str, Any]:
    """A JSON object field; an empty one when absent (unless ``required``).

    Raises:
        EventError: present but not an object, or required and absent.
    """
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise EventError(
            f"{path}: expected an object, got {_kind(value) if value is not None else 'nothing'}"
        )
    return value


def read_list(value: Any, path: str, *, max_entries: int = MAX_ENTRIES) -> list[Any]:
    """A JSON array field; empty when absent.

    Raises:
        EventError: present but not an array, or longer than ``max_entries``.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventError(f"{path}: expected an array, got {_kind(value)}")
    if len(value) > max_entries:
        raise EventError(f"{path}: more than {max_entries} entries")
    return value


# ----------------------------------------------------------------------------- intents


@dataclass(frozen=True)
class SignalRun:
    """Deliver a billing signal to the run of ``transaction_id``."""

    transaction_id: str
    name: str
    event: PaymentFailed | PaymentSucceeded
    event_id: str | None


@dataclass(frozen=True)
class StartRun:
    """Start the run of ``transaction_id`` (or reach it, when it exists, with this event).

    Attributes:
        then_signal: Sent as well when the run already existed (a payment hold is lifted by a
            later successful payment of the same purchase).
    """

    transaction_id: str
    source: TriggerSource
    payload: dict[str, Any]
    then_signal: SignalRun | None = field(default=None)


Intent = StartRun | SignalRun


# ------------------------------------------------------------------- the canonical payload

#: The keys a sender's metadata (Stripe), custom fields (DocuSign) or deal properties (CRM) use.
ONBOARDING_KEYS = (
    "legal_name",
    "company_domain",
    "region",
    "segment",
    "tier",
    "contact_name",
    "contact_email",
    "plan_sku",
    "billing_term",
    "crm_owner",
    "implementation_start",
    "urgency",
    "first_value_milestone",
    "first_value_days",
    "goals",
    "deal_url",
    "onboarding_transaction_id",
)


def read_fields(source: Mapping[str, Any], path: str) -> dict[str, str]:
    """The onboarding keys present in ``source`` (metadata, custom fields, properties), bounded.

    Only the keys the project uses are read; anything else the sender attached is left alone.
    """
    fields: dict[str, str] = {}
    for key in ONBOARDING_KEYS:
        text = read_text(source.get(key), f"{path}.{key}")
        if text is not None:
            fields[key] = text
    return fields


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    return value


def payload_from_fields(
    fields: Mapping[str, str],
    *,
    path: str,
    contact_name: str | None = None,
    contact_email: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    legal_name: str | None = None,
    domain: str | None = None,
    crm_owner: str | None = None,
    deal_url: str | None = None,
) -> dict[str, Any]:
    """The canonical payload document from onboarding keys and what the sender knows itself.

    The keys win over the sender's own fields (a person set them on purpose). Values are kept
    as given: the required-fields gate normalises the domain and judges names.

    Raises:
        EventError: ``first_value_days`` is not a whole number.
    """
    goals = [g.strip() for g in fields.get("goals", "").split(";") if g.strip()]
    document = {
        "customer": {
            "legal_name": fields.get("legal_name") or legal_name,
            "domain": fields.get("company_domain") or domain,
            "region": fields.get("region"),
            "segment": fields.get("segment"),
            "tier": fields.get("tier"),
        },
        "primary_contact": {
            "name": fields.get("contact_name") or contact_name,
            "email": fields.get("contact_email") or contact_email,
        },
        "plan": {"sku": fields.get("plan_sku"), "billing_term": fields.get("billing_term")},
        "crm_owner": fields.get("crm_owner") or crm_owner,
        "implementation": {
            "start_target": fields.get("implementation_start"),
            "urgency": fields.get("urgency"),
        },
        "amount": amount,
        "currency": currency.lower() if currency else None,
        "first_value": {
            "milestone": fields.get("first_value_milestone"),
            "target_days": read_count(
                fields.get("first_value_days"), f"{path}.first_value_days", max_digits=3
            ),
        },
        "handover": {"goals": goals, "links": {"deal": fields.get("deal_url") or deal_url}},
    }
    return dict(_drop_empty(document))


# ----------------------------------------------------------------------------------- Stripe

#: Stripe events that start (or reach) a run.
STRIPE_START_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "invoice.paid",
        "invoice.payment_succeeded",
    }
)
#: Stripe events that only signal a run that exists.
STRIPE_SIGNAL_EVENTS = frozenset({"invoice.payment_failed"})
STRIPE_EVENTS = STRIPE_START_EVENTS | STRIPE_SIGNAL_EVENTS
#: Invoices of an existing subscription: a renewal is not a new customer.
STRIPE_RENEWAL_REASONS = frozenset(
    {"subscription_cycle", "subscription_update", "subscription_threshold"}
)
#: Checkout payment states that mean "paid" (``unpaid`` waits for async_payment_succeeded).
STRIPE_PAID_STATES = frozenset({"paid", "no_payment_required"})


def stripe_transaction_id(invoice_id: str | None, session_id: str | None) -> str:
    """The transaction ID of a Stripe purchase: its invoice, else its checkout session."""
    if invoice_id:
        return f"stripe-{invoice_id}"
    if session_id:
        return f"stripe-{session_id}"
    raise EventError("event has neither an invoice nor a checkout session ID")


@dataclass(frozen=True)
class _StripeEvent:
    type: str
    id: str | None
    object: dict[str, Any]


def _stripe_event(event: Any) -> _StripeEvent:
    if not isinstance(event, dict):
        raise EventError("a Stripe event must be a JSON object")
    if event.get("object") != "event":
        raise EventError('not a Stripe event: "object" must be "event"')
    event_type = read_text(event.get("type"), "type", max_length=100)
    if event_type is None:
        raise EventError('Stripe event has no "type"')
    if event_type not in STRIPE_EVENTS:
        raise UnhandledEvent(f"Stripe event type {event_type!r} is not handled")
    event_id = read_id(event["id"], "id") if event.get("id") is not None else None
    data = read_object(event.get("data"), "data")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise EventError('Stripe event has no "data.object"')
    return _StripeEvent(event_type, event_id, obj)


def stripe_invoice_fields(invoice: dict[str, Any]) -> dict[str, str]:
    """The onboarding keys of an invoice: its subscription's metadata, then its own.

    An invoice of API versions before 2025 carries ``subscription`` and
    ``subscription_details.metadata`` at the top; from the 2025 versions on, they moved to
    ``parent.subscription_details`` and the top-level fields are gone. Both are read.
    """
    path = "data.object"
    legacy = read_object(invoice.get("subscription_details"), f"{path}.subscription_details")
    parent = read_object(invoice.get("parent"), f"{path}.parent")
    current = read_object(parent.get("subscription_details"), f"{path}.parent.subscription_details")
    fields: dict[str, str] = {}
    for meta, where in (
        (legacy.get("metadata"), f"{path}.subscription_details.metadata"),
        (current.get("metadata"), f"{path}.parent.subscription_details.metadata"),
        (invoice.get("metadata"), f"{path}.metadata"),
    ):
        fields.update(read_fields(read_object(meta, where), where))
    return fields


def _run_of(fields: Mapping[str, str], default: str) -> str:
    """The run a Stripe object names in ``onboarding_transaction_id``, else ``default``."""
    named = fields.get("onboarding_transaction_id")
    return read_id(named, "metadata.onboarding_transaction_id") if named else default


def _stripe_source(event: _StripeEvent, object_id: str) -> TriggerSource:
    return TriggerSource(
        system="stripe", event_type=event.type, event_id=event.id, object_id=object_id
    )


def _stripe_checkout(event: _StripeEvent) -> StartRun:
    session = event.object
    path = "data.object"
    session_id = read_id(session.get("id"), f"{path}.id")
    status = read_text(session.get("payment_status"), f"{path}.payment_status", max_length=40)
    if event.type == "checkout.session.completed" and status not in STRIPE_PAID_STATES:
        raise UnhandledEvent(
            f"checkout session is not paid yet (payment_status={status!r}); its "
            "checkout.session.async_payment_succeeded starts the run"
        )
    invoice = session.get("invoice")
    invoice_id = read_id(invoice, f"{path}.invoice") if invoice else None
    details = read_object(session.get("customer_details"), f"{path}.customer_details")
    fields = read_fields(read_object(session.get("metadata"), f"{path}.metadata"), "metadata")
    payload = payload_from_fields(
        fields,
        path=f"{path}.metadata",
        contact_name=read_text(details.get("name"), f"{path}.customer_details.name"),
        contact_email=read_text(
            details.get("email"), f"{path}.customer_details.email", max_length=254
        ),
        legal_name=read_text(
            details.get("business_name"), f"{path}.customer_details.business_name"
        ),
        amount=read_count(session.get("amount_total"), f"{path}.amount_total"),
        currency=read_text(session.get("currency"), f"{path}.currency", max_length=3),
    )
    transaction_id = _run_of(fields, stripe_transaction_id(invoice_id, session_id))
    return StartRun(transaction_id, _stripe_source(event, session_id), payload)


def _stripe_invoice(event: _StripeEvent) -> Intent:
    invoice = event.object
    path = "data.object"
    invoice_id = read_id(invoice.get("id"), f"{path}.id")
    fields = stripe_invoice_fields(invoice)
    transaction_id = _run_of(fields, stripe_transaction_id(invoice_id, None))
    reason = read_text(invoice.get("billing_reason"), f"{path}.billing_reason", max_length=60)
    attempts = read_count(invoice.get("attempt_count"), f"{path}.attempt_count", max_digits=6)
    if event.type == "invoice.payment_failed":
        error = read_object(
            invoice.get("last_finalization_error"), f"{path}.last_finalization_error"
        )
        why = read_text(error.get("message"), f"{path}.last_finalization_error.message")
        failed = PaymentFailed(
            invoice_id=invoice_id,
            event_id=event.id,
            reason=why or "invoice payment failed" + (f" (attempt {attempts})" if attempts else ""),
            attempt_count=attempts,
        )
        return SignalRun(transaction_id, "payment_failed", failed, event.id)
    succeeded = SignalRun(
        transaction_id,
        "payment_succeeded",
        PaymentSucceeded(invoice_id=invoice_id, event_id=event.id),
        event.id,
    )
    if reason in STRIPE_RENEWAL_REASONS:
        if "onboarding_transaction_id" in fields:
            return succeeded  # a renewal paid: lifts a payment hold of the run it names
        raise UnhandledEvent(
            f"invoice is a renewal (billing_reason={reason!r}); renewals do not start an onboarding"
        )
    payload = payload_from_fields(
        fields,
        path=f"{path}.metadata",
        contact_name=read_text(invoice.get("customer_name"), f"{path}.customer_name"),
        contact_email=read_text(
            invoice.get("customer_email"), f"{path}.customer_email", max_length=254
        ),
        amount=read_count(invoice.get("amount_paid"), f"{path}.amount_paid"),
        currency=read_text(invoice.get("currency"), f"{path}.currency", max_length=3),
    )
    return StartRun(
        transaction_id, _stripe_source(event, invoice_id), payload, then_signal=succeeded
    )


def stripe_intent(event: Any) -> Intent:
    """What a Stripe event asks: start (or reach) a run, or signal one.

    - ``checkout.session.completed`` (paid), ``checkout.session.async_payment_succeeded``,
      ``invoice.paid`` and ``invoice.payment_succeeded`` of a first invoice start the run of
      the purchase (``stripe-<invoice>``, else ``stripe-<session>``); reaching a run that
      exists, a paid invoice also lifts its payment hold.
    - ``invoice.payment_failed`` signals ``payment_failed``; a paid renewal signals
      ``payment_succeeded``, to the run its metadata names.

    Any object may name its run in ``metadata.onboarding_transaction_id`` (an invoice, also in
    its subscription's metadata): the invoice of a deal signed in DocuSign reaches that run.

    Raises:
        UnhandledEvent: another event type, an unpaid checkout session, an unlinked renewal.
        EventError: not a Stripe event, or a field out of its bounds (the message names it).
    """
    stripe_event = _stripe_event(event)
    if stripe_event.type.startswith("checkout.session."):
        return _stripe_checkout(stripe_event)
    return _stripe_invoice(stripe_event)


def from_stripe_event(event: Any) -> tuple[str, TriggerSource, dict[str, Any]]:
    """Map a Stripe event that starts a run to ``(transaction_id, source, payload document)``.

    Raises:
        EventError: the event does not start a run (the message says why).
    """
    intent = stripe_intent(event)
    if not isinstance(intent, StartRun):
        raise EventError(
            f"Stripe event type {event.get('type')!r} does not start an onboarding; it "
            f"signals {intent.name} to run {intent.transaction_id}"
        )
    return intent.transaction_id, intent.source, intent.payload


# --------------------------------------------------------------------------------- DocuSign

DOCUSIGN_START_EVENTS = frozenset({"envelope-completed"})


_DOCUSIGN_KEYS = frozenset({*ONBOARDING_KEYS, "amount", "currency"})


def _docusign_fields(summary: dict[str, Any]) -> dict[str, str]:
    """The envelope's custom fields (text, then list) that carry onboarding keys, bounded."""
    root = "data.envelopeSummary.customFields"
    custom = read_object(summary.get("customFields"), root)
    fields: dict[str, str] = {}
    for group in ("textCustomFields", "listCustomFields"):
        path = f"{root}.{group}"
        for index, entry in enumerate(read_list(custom.get(group), path)):
            entry = read_object(entry, f"{path}.{index}")
            name = read_text(entry.get("name"), f"{path}.{index}.name", max_length=100)
            if name in _DOCUSIGN_KEYS and name not in fields:
                value = read_text(entry.get("value"), f"{path}.{index}.value")
                if value is not None:
                    fields[name] = value
    return fields


def _docusign_signer(summary: dict[str, Any]) -> tuple[str | None, str | None]:
    path = "data.envelopeSummary.recipients.signers"
    recipients = read_object(summary.get("recipients"), "data.envelopeSummary.recipients")
    signers: list[tuple[int, str | None, str | None]] = []
    for index, signer in enumerate(read_list(recipients.get("signers"), path)):
        signer = read_object(signer, f"{path}.{index}")
        order = read_count(signer.get("routingOrder"), f"{path}.{index}.routingOrder", max_digits=4)
        name = read_text(signer.get("name"), f"{path}.{index}.name")
        email = read_text(signer.get("email"), f"{path}.{index}.email", max_length=254)
        signers.append((order or 0, name, email))
    for _, name, email in sorted(signers, key=lambda s: s[0]):
        if name or email:
            return name, email
    return None, None


def from_docusign_event(event: Any) -> StartRun:
    """Map a DocuSign Connect (JSON) ``envelope-completed`` event to the start of its run.

    The transaction is ``docusign-<envelopeId>``. The envelope's custom fields (text and list)
    carry the onboarding keys (``legal_name``, ``company_domain``, ``tier``, ...); the contact
    is the first signer by routing order unless the fields name one.

    Raises:
        UnhandledEvent: another Connect event (sent, delivered, declined, ...).
        EventError: not a Connect JSON event, no envelope ID, or a field out of its bounds.
    """
    if not isinstance(event, dict):
        raise EventError("a DocuSign Connect event must be a JSON object")
    event_type = read_text(event.get("event"), "event", max_length=100)
    if event_type is None:
        raise EventError('DocuSign Connect event has no "event" (configure the JSON data format)')
    if event_type not in DOCUSIGN_START_EVENTS:
        raise UnhandledEvent(f"DocuSign event {event_type!r} is not handled")
    data = event.get("data")
    if not isinstance(data, dict):
        raise EventError('DocuSign Connect event has no "data"')
    envelope_id = read_id(data.get("envelopeId"), "DocuSign envelope ID (data.envelopeId)")
    summary = read_object(data.get("envelopeSummary"), "data.envelopeSummary")
    status = read_text(summary.get("status"), "data.envelopeSummary.status", max_length=40)
    if status is not None and status != "completed":
        raise UnhandledEvent(f"DocuSign envelope status is {status!r}, not 'completed'")
    fields = _docusign_fields(summary)
    name, email = _docusign_signer(summary)
    payload = payload_from_fields(
        fields,
        path="data.envelopeSummary.customFields",
        contact_name=name,
        contact_email=email,
        amount=read_count(fields.get("amount"), "data.envelopeSummary.customFields.amount"),
        currency=fields.get("currency"),
    )
    source = TriggerSource(
        system="docusign",
        event_type=event_type,
        event_id=read_text(event.get("generatedDateTime"), "generatedDateTime", max_length=64),
        object_id=envelope_id,
    )
    return StartRun(f"docusign-{envelope_id}", source, payload)


# ------------------------------------------------------------------------ a generic CRM

CRM_START_EVENTS = frozenset({"deal.closed_won"})


def from_crm_event(event: Any) -> StartRun:
    """Map the generic signed CRM Closed-Won webhook to the start of its run.

    The shape (a small, documented contract a CRM workflow rule or middleware posts)::

        {"event": "deal.closed_won", "id": "<optional delivery id>",
         "deal": {"id": "881", "amount": 4800000, "currency": "usd",
                  "properties": {"legal_name": "...", "company_domain": "...", "tier": "...",
                                 "contact_name": "...", "contact_email": "...", ...}}}

    ``properties`` takes the onboarding keys (as Stripe metadata does). The transaction is
    ``crm-deal-<id>``.

    Raises:
        UnhandledEvent: another event type.
        EventError: not a JSON object, no deal, no deal ID, or a field out of its bounds.
    """
    if not isinstance(event, dict):
        raise EventError("a CRM event must be a JSON object")
    event_type = read_text(event.get("event"), "event", max_length=100)
    if event_type is None:
        raise EventError('CRM event has no "event"')
    if event_type not in CRM_START_EVENTS:
        raise UnhandledEvent(f"CRM event {event_type!r} is not handled")
    deal = event.get("deal")
    if not isinstance(deal, dict):
        raise EventError('CRM event has no "deal" object')
    deal_id = read_id(deal.get("id"), "CRM deal ID (deal.id)")
    fields = read_fields(read_object(deal.get("properties"), "deal.properties"), "deal.properties")
    payload = payload_from_fields(
        fields,
        path="deal.properties",
        amount=read_count(deal.get("amount"), "deal.amount"),
        currency=read_text(deal.get("currency"), "deal.currency", max_length=3),
    )
    event_id = read_id(event["id"], "id") if event.get("id") is not None else None
    source = TriggerSource(
        system="crm", event_type=event_type, event_id=event_id, object_id=deal_id
    )
    return StartRun(f"crm-deal-{deal_id}", source, payload)


# ---------------------------------------------------------------------------------- HubSpot

#: The default pipeline's closed-won stage; other pipelines have their own stage IDs.
HUBSPOT_CLOSED_WON_STAGE = "closedwon"
#: HubSpot sends at most 100 events per request.
HUBSPOT_MAX_EVENTS = 100
#: The deal properties the intake reads (standard ones, then the onboarding keys).
HUBSPOT_DEAL_PROPERTIES = (
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "deal_currency_code",
    "hubspot_owner_id",
    *ONBOARDING_KEYS,
)
#: Currencies without minor units (an amount of 5000 JPY is 5000 in minor units).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
_DECIMAL = re.compile(r"([0-9]{1,13})(?:\.([0-9]{1,2})0*)?")


@dataclass(frozen=True)
class DealClosedWon:
    """One HubSpot ``deal.propertyChange`` that moved a deal into a closed-won stage."""

    deal_id: str
    stage: str
    event_id: str
    portal_id: str | None


def _hubspot_number(value: Any, path: str) -> str:
    """A HubSpot ID: a whole number (HubSpot's IDs are numeric, and go into API paths)."""
    number = read_count(value, path, max_digits=20)
    if number is None:
        raise EventError(f"{path} is missing")
    return str(number)


def hubspot_closed_won(events: Any, stages: Iterable[str]) -> list[DealClosedWon]:
    """The deals a HubSpot webhook delivery moved to a closed-won stage, once each.

    HubSpot posts a JSON array of up to 100 events; every event is read (bounded) whatever its
    type, so a malformed one refuses the whole delivery: HubSpot itself never sends one.

    Raises:
        UnhandledEvent: well formed, but no deal entered a closed-won stage.
        EventError: not an array of HubSpot events, or a field out of its bounds.
    """
    if not isinstance(events, list):
        raise EventError("a HubSpot webhook delivery must be a JSON array of events")
    if not events:
        raise EventError("the HubSpot delivery holds no event")
    read_list(events, "(events)", max_entries=HUBSPOT_MAX_EVENTS)
    wanted = frozenset(stages)
    found: dict[str, DealClosedWon] = {}
    for index, event in enumerate(events):
        path = f"{index}"
        event = read_object(event, path, required=True)
        event_id = _hubspot_number(event.get("eventId"), f"{path}.eventId")
        kind = read_text(event.get("subscriptionType"), f"{path}.subscriptionType", max_length=100)
        object_id = _hubspot_number(event.get("objectId"), f"{path}.objectId")
        portal = event.get("portalId")
        portal_id = _hubspot_number(portal, f"{path}.portalId") if portal is not None else None
        name = read_text(event.get("propertyName"), f"{path}.propertyName", max_length=100)
        value = read_text(event.get("propertyValue"), f"{path}.propertyValue")
        read_count(event.get("occurredAt"), f"{path}.occurredAt", max_digits=15)
        read_count(event.get("attemptNumber"), f"{path}.attemptNumber", max_digits=4)
        if kind == "deal.propertyChange" and name == "dealstage" and value in wanted:
            found.setdefault(object_id, DealClosedWon(object_id, value or "", event_id, portal_id))
    if not found:
        raise UnhandledEvent(
            f"no deal entered a closed-won stage ({', '.join(sorted(wanted))}) "
            f"in these {len(events)} event(s)"
        )
    return list(found.values())


def _hubspot_amount(amount: str | None, currency: str | None, path: str) -> int | None:
    """A HubSpot amount (a decimal string in major units) in minor units."""
    if amount is None:
        return None
    match = _DECIMAL.fullmatch(amount)
    if match is None:
        raise EventError(f"{path}: expected a decimal amount, got other text")
    major, minor = int(match.group(1)), (match.group(2) or "").ljust(2, "0")
    if currency and currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return major
    return major * 100 + int(minor)


def _properties(obj: Any, path: str) -> dict[str, Any]:
    return read_object(read_object(obj, path).get("properties"), f"{path}.properties")


def from_hubspot_deal(
    change: DealClosedWon,
    deal: Mapping[str, Any],
    *,
    company: Mapping[str, Any] | None,
    contact: Mapping[str, Any] | None,
    owner: Mapping[str, Any] | None,
) -> StartRun:
    """The start of a run from a closed-won HubSpot deal and what is associated with it.

    The deal's own onboarding properties (custom properties named like the Stripe metadata
    keys) win; otherwise the legal name and domain come from the deal's company, the contact
    from its contact, the CRM owner from the deal owner's email. The transaction is
    ``hubspot-deal-<deal id>``.

    Raises:
        EventError: a property out of its bounds.
    """
    props = _properties(deal, "deal")
    fields = read_fields(props, "deal.properties")
    company_props = _properties(company, "company") if company else {}
    contact_props = _properties(contact, "contact") if contact else {}
    first = read_text(contact_props.get("firstname"), "contact.properties.firstname")
    last = read_text(contact_props.get("lastname"), "contact.properties.lastname")
    currency = read_text(
        props.get("deal_currency_code"), "deal.properties.deal_currency_code", max_length=3
    )
    deal_url = (
        f"https://app.hubspot.com/contacts/{change.portal_id}/deal/{change.deal_id}"
        if change.portal_id
        else None
    )
    payload = payload_from_fields(
        fields,
        path="deal.properties",
        legal_name=read_text(company_props.get("name"), "company.properties.name"),
        domain=read_text(company_props.get("domain"), "company.properties.domain"),
        contact_name=" ".join(p for p in (first, last) if p) or None,
        contact_email=read_text(
            contact_props.get("email"), "contact.properties.email", max_length=254
        ),
        crm_owner=read_text((owner or {}).get("email"), "owner.email", max_length=254),
        amount=_hubspot_amount(
            read_text(props.get("amount"), "deal.properties.amount", max_length=40),
            currency,
            "deal.properties.amount",
        ),
        currency=currency,
        deal_url=deal_url,
    )
    source = TriggerSource(
        system="hubspot",
        event_type="deal.propertyChange",
        event_id=change.event_id,
        object_id=change.deal_id,
    )
    return StartRun(f"hubspot-deal-{change.deal_id}", source, payload)
