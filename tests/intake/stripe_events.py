"""Stripe events built from Stripe's own published fixtures, in both API shapes.

``pre-2025``: an invoice with top-level ``subscription`` and ``subscription_details`` (the
fixture of February 2025). ``2025+``: an invoice with ``parent.subscription_details`` and no
top-level subscription (the current fixture). Only what an event of a type differs in is set
(type, IDs, status, the onboarding metadata); every other field is Stripe's.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from tests.intake.events import contact, metadata

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
SHAPES = {"pre-2025": "fixtures3-2025-02-14.json", "2025+": "fixtures3-2026-07-29.json"}
API_VERSIONS = {"pre-2025": "2024-06-20", "2025+": "2025-03-31.basil"}


@cache
def _fixtures(shape: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / SHAPES[shape]).read_text()))


def resource(shape: str, name: str) -> dict[str, Any]:
    """A fresh copy of one of Stripe's fixture objects (``event``, ``invoice``, ...)."""
    return copy.deepcopy(_fixtures(shape)[name])


def event_of(shape: str, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Stripe's event envelope around ``obj``."""
    event = resource(shape, "event")
    event.update(
        id=f"evt_{uuid.uuid4().hex[:24]}",
        type=event_type,
        api_version=API_VERSIONS[shape],
        created=int(time.time()),
        data={"object": obj},
    )
    return event


def invoice_event(
    shape: str,
    slug: str,
    event_type: str = "invoice.paid",
    *,
    invoice_id: str | None = None,
    billing_reason: str = "subscription_create",
    subscription_metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A paid first invoice of a subscription whose metadata carries the onboarding keys."""
    invoice = resource(shape, "invoice")
    name, email = contact(slug)
    subscription = f"sub_{uuid.uuid4().hex[:14]}"
    meta = metadata(slug) if subscription_metadata is None else subscription_metadata
    invoice.update(
        id=invoice_id or f"in_{uuid.uuid4().hex[:24]}",
        status="paid",
        billing_reason=billing_reason,
        customer_name=name,
        customer_email=email,
        amount_paid=invoice["amount_due"],
        attempted=True,
        attempt_count=1,
    )
    if shape == "pre-2025":
        invoice["subscription"] = subscription
        invoice["subscription_details"] = {"metadata": meta}
    else:
        invoice["parent"] = {
            "quote_details": None,
            "subscription_details": {"metadata": meta, "subscription": subscription},
            "type": "subscription_details",
        }
    return event_of(shape, event_type, invoice)


def checkout_event(
    shape: str,
    slug: str,
    event_type: str = "checkout.session.completed",
    *,
    payment_status: str = "paid",
    session_id: str | None = None,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """A completed checkout session whose metadata carries the onboarding keys."""
    session = resource(shape, "checkout.session")
    name, email = contact(slug)
    session["customer_details"].update(name=name, email=email)
    session.update(
        id=session_id or f"cs_test_{uuid.uuid4().hex[:24]}",
        status="complete",
        payment_status=payment_status,
        invoice=invoice_id,
        amount_total=120000,
        currency="usd",
        metadata=metadata(slug),
    )
    return event_of(shape, event_type, session)
