"""One handler per source: how it is signed, how its events map, and the shared pipeline.

Each handler is the same three steps over :class:`~onboarding.intake.pipeline.Pipeline`:
verify the signature on the raw body, map the event to intents, start or signal. Adding a
source is adding a function here and a line to :data:`SOURCES`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.triggers import (
    HUBSPOT_DEAL_PROPERTIES,
    DealClosedWon,
    StartRun,
    from_crm_event,
    from_docusign_event,
    from_hubspot_deal,
    hubspot_closed_won,
    read_text,
    stripe_intent,
)
from onboarding.intake.pipeline import Delivery, Ignored, Outcome, Pipeline, Refusal
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.security.signatures import (
    HUBSPOT_SIGNATURE_HEADER,
    HUBSPOT_TIMESTAMP_HEADER,
    docusign_signatures,
    verify_crm,
    verify_docusign,
    verify_hubspot,
    verify_stripe,
)

Handler = Callable[[Delivery, Pipeline], Awaitable[list[Outcome]]]


async def stripe(delivery: Delivery, pipe: Pipeline) -> list[Outcome]:
    """Stripe: ``Stripe-Signature`` over the raw body; one event per delivery."""
    s = pipe.settings

    def verify(d: Delivery) -> None:
        verify_stripe(
            d.body,
            d.header("stripe-signature"),
            s.stripe_webhook_secrets,
            tolerance=s.stripe_tolerance_seconds,
        )

    intent = await pipe.verified(delivery, verify, stripe_intent)
    return [await pipe.deliver(delivery, intent)]


async def docusign(delivery: Delivery, pipe: Pipeline) -> list[Outcome]:
    """DocuSign Connect (JSON): ``X-DocuSign-Signature-N`` HMACs; ``envelope-completed``."""
    keys = pipe.settings.docusign_connect_keys

    def verify(d: Delivery) -> None:
        verify_docusign(d.body, docusign_signatures(d.headers.items()), keys)

    intent = await pipe.verified(delivery, verify, from_docusign_event)
    return [await pipe.deliver(delivery, intent)]


async def crm(delivery: Delivery, pipe: Pipeline) -> list[Outcome]:
    """The generic signed CRM webhook: ``X-Signature`` over the body; ``deal.closed_won``."""
    secrets = pipe.settings.crm_webhook_secrets

    def verify(d: Delivery) -> None:
        verify_crm(d.body, d.header("x-signature"), secrets)

    intent = await pipe.verified(delivery, verify, from_crm_event)
    return [await pipe.deliver(delivery, intent)]


def hubspot(crm_client: HubSpotClient | None) -> Handler:
    """HubSpot webhooks: ``X-HubSpot-Signature-v3``; deals moved to a closed-won stage.

    For each such deal the deal, its company, contact and owner are read from the CRM API
    (``crm_client``) to build the payload; the transaction is ``hubspot-deal-<id>``.
    """

    async def handle(delivery: Delivery, pipe: Pipeline) -> list[Outcome]:
        s = pipe.settings

        def verify(d: Delivery) -> None:
            verify_hubspot(
                d.method,
                s.hubspot_webhook_url or d.url,
                d.body,
                d.header(HUBSPOT_SIGNATURE_HEADER),
                d.header(HUBSPOT_TIMESTAMP_HEADER),
                s.hubspot_app_secrets,
                tolerance=s.hubspot_tolerance_seconds,
            )

        changes = await pipe.verified(
            delivery, verify, lambda events: hubspot_closed_won(events, s.hubspot_closed_won_stages)
        )
        if crm_client is None:
            raise Refusal(
                503,
                "the hubspot endpoint is not configured: no HubSpot API token to read deals",
                retry_after=s.retry_after_seconds,
            )

        async def intent_of(change: DealClosedWon) -> StartRun:
            return await read_deal(crm_client, change, pipe)

        return await pipe.deliver_each(delivery, changes, intent_of)

    return handle


async def read_deal(client: HubSpotClient, change: DealClosedWon, pipe: Pipeline) -> StartRun:
    """The start of a run from a closed-won deal, read with its company, contact and owner.

    Raises:
        Ignored: the deal is gone, or no longer in a closed-won stage.
        Refusal: 503 when the CRM cannot be read now (HubSpot retries the delivery).
        EventError: a property out of its bounds.
    """
    s = pipe.settings
    try:
        records = await asyncio.wait_for(
            client.read_deal_records(change.deal_id, HUBSPOT_DEAL_PROPERTIES),
            timeout=s.crm_timeout_seconds,
        )
    except TimeoutError:
        raise Refusal(
            503, "HubSpot did not answer in time; retry later", retry_after=s.retry_after_seconds
        ) from None
    except VendorFailure as failure:
        if failure.error_type is ErrorType.NOT_FOUND:
            raise Ignored(f"deal {change.deal_id} no longer exists in HubSpot") from None
        why = (
            "HubSpot refused the API token (HUBSPOT_TOKEN)"
            if failure.error_type is ErrorType.AUTH_ERROR
            else f"HubSpot answered {failure.http_status or failure.error_type.value}"
        )
        wait = failure.retry_after_seconds or s.retry_after_seconds
        raise Refusal(
            503,
            f"cannot read deal {change.deal_id}: {why}; retry later",
            retry_after=max(1, int(wait)),
        ) from None
    properties: Any = records.deal.get("properties")
    stage = read_text(
        properties.get("dealstage") if isinstance(properties, dict) else None,
        "deal.properties.dealstage",
        max_length=100,
    )
    if stage not in s.hubspot_closed_won_stages:
        raise Ignored(f"deal {change.deal_id} is no longer closed-won (stage {stage!r})")
    return from_hubspot_deal(
        change, records.deal, company=records.company, contact=records.contact, owner=records.owner
    )


def sources(crm_client: HubSpotClient | None) -> dict[str, Handler]:
    """Every source by the last segment of its path (``/webhooks/<source>``)."""
    return {"stripe": stripe, "docusign": docusign, "hubspot": hubspot(crm_client), "crm": crm}
