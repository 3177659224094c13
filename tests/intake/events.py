"""Signed deliveries for the intake tests: events built like the real senders' and signed."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import stripe
import uvicorn
from starlette.applications import Starlette

from onboarding.security.signatures import crm_signature, docusign_signature, hubspot_signature

STRIPE_SECRET = "whsec_intake_tests_" + "s" * 24
DOCUSIGN_KEY = "ZG9jdXNpZ24tY29ubmVjdC1obWFjLWtleQ=="
CRM_SECRET = "crm-intake-tests-secret"
HUBSPOT_SECRET = "hubspot-app-client-secret-for-tests"
#: The target URL the tests' HubSpot app is configured with (HubSpot signs it).
HUBSPOT_URL = "https://intake.example.com/webhooks/hubspot"


def metadata(slug: str) -> dict[str, str]:
    """Complete onboarding metadata (as in the Stripe object's metadata) for ``slug``."""
    return {
        "legal_name": f"{slug.title()} Industries",
        "company_domain": f"{slug}.example",
        "tier": "smb",
        "plan_sku": "platform-starter",
        "billing_term": "monthly",
        "crm_owner": "rep@example.com",
        "urgency": "standard",
    }


def contact(slug: str) -> tuple[str, str]:
    """The contact's name and email for ``slug``."""
    return f"Pat {slug.title()}", f"pat@{slug}.example"


def invoice_paid(slug: str, invoice_id: str | None = None) -> dict[str, Any]:
    """A Stripe ``invoice.paid`` event for a new customer."""
    name, email = contact(slug)
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": "invoice.paid",
        "data": {
            "object": {
                "id": invoice_id or f"in_{uuid.uuid4().hex[:16]}",
                "object": "invoice",
                "status": "paid",
                "customer_name": name,
                "customer_email": email,
                "amount_paid": 120000,
                "currency": "usd",
                "metadata": metadata(slug),
            }
        },
    }


def payment_failed(invoice_id: str, transaction_id: str | None = None) -> dict[str, Any]:
    """A Stripe ``invoice.payment_failed`` event (a renewal names its run in metadata)."""
    meta = {"onboarding_transaction_id": transaction_id} if transaction_id else {}
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": "invoice.payment_failed",
        "data": {
            "object": {
                "id": invoice_id,
                "object": "invoice",
                "attempt_count": 1,
                "metadata": meta,
            }
        },
    }


def envelope_completed(slug: str, envelope_id: str | None = None) -> dict[str, Any]:
    """A DocuSign Connect (JSON SIM) ``envelope-completed`` event."""
    name, email = contact(slug)
    fields = [
        {"fieldId": str(i), "name": k, "value": v}
        for i, (k, v) in enumerate(metadata(slug).items())
    ]
    return {
        "event": "envelope-completed",
        "apiVersion": "v2.1",
        "uri": "/restapi/v2.1/accounts/acct/envelopes/env",
        "retryCount": 0,
        "configurationId": 10001,
        "generatedDateTime": "2026-11-21T10:00:00.0000000Z",
        "data": {
            "accountId": "acct",
            "userId": "user",
            "envelopeId": envelope_id or str(uuid.uuid4()),
            "envelopeSummary": {
                "status": "completed",
                "emailSubject": "Please sign the order form",
                "customFields": {"textCustomFields": fields, "listCustomFields": []},
                "recipients": {
                    "signers": [
                        {
                            "name": "Counter Signer",
                            "email": "legal@vendor.example",
                            "routingOrder": "2",
                            "status": "completed",
                        },
                        {"name": name, "email": email, "routingOrder": "1", "status": "completed"},
                    ]
                },
            },
        },
    }


def deal_closed_won(slug: str, deal_id: str | None = None) -> dict[str, Any]:
    """A CRM Closed-Won webhook in the intake's documented shape."""
    name, email = contact(slug)
    return {
        "event": "deal.closed_won",
        "id": f"whk_{uuid.uuid4().hex[:12]}",
        "deal": {
            "id": deal_id or str(uuid.uuid4().int % 10**9),
            "amount": 120000,
            "currency": "usd",
            "properties": {**metadata(slug), "contact_name": name, "contact_email": email},
        },
    }


def body_of(event: Any) -> bytes:
    return json.dumps(event).encode()


def sign_stripe(
    body: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of a Stripe delivery, signed by Stripe's own library."""
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)
    return {"Stripe-Signature": str(header), "Content-Type": "application/json"}


def sign_docusign(body: bytes, key: str = DOCUSIGN_KEY) -> dict[str, str]:
    return {
        "X-DocuSign-Signature-1": docusign_signature(body, key),
        "Content-Type": "application/json",
    }


def sign_crm(body: bytes, secret: str = CRM_SECRET) -> dict[str, str]:
    return {"X-Signature": crm_signature(body, secret), "Content-Type": "application/json"}


def sign_hubspot(
    body: bytes,
    secret: str = HUBSPOT_SECRET,
    timestamp_ms: int | None = None,
    uri: str = HUBSPOT_URL,
) -> dict[str, str]:
    """Headers of a HubSpot webhook delivery (v3 signature), as HubSpot sends them."""
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {
        "X-HubSpot-Signature-v3": hubspot_signature("POST", uri, body, stamp, secret),
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def deal_stage_changed(
    deal_id: str | int, stage: str = "closedwon", *, portal_id: int = 62515
) -> dict[str, Any]:
    """One HubSpot ``deal.propertyChange`` event of ``dealstage`` (HubSpot's webhook shape)."""
    return {
        "eventId": uuid.uuid4().int % 10**10,
        "subscriptionId": 2451,
        "portalId": portal_id,
        "appId": 77001,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        "sourceId": "userId:9002",
    }


class Signer(Protocol):
    """Signs a body for one endpoint (with that endpoint's test secret by default)."""

    def __call__(self, body: bytes, secret: str = ..., /) -> dict[str, str]: ...


SIGNERS: dict[str, Signer] = {
    "stripe": sign_stripe,
    "docusign": sign_docusign,
    "hubspot": sign_hubspot,
    "crm": sign_crm,
}


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in this event loop; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
