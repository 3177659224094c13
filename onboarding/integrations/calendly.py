"""Calendly: the kickoff booking link.

Calendly's single-use scheduling links have no idempotency key and cannot be listed, so a create
whose answer is lost (or a worker killed right after it) leaves a link nobody can find, and a
retry makes another. The kickoff link is therefore not created at all: it is the kickoff event
type's own scheduling page, with the invitee prefilled and UTM parameters carrying the
transaction ID (:func:`onboarding.domain.keys.kickoff_link`). Only a read is made, to check that
the event type is active and to learn its scheduling URL; the same transaction always gets the
same link, and Calendly reports the ``utm_content`` of each booking in the invitee's tracking.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient


class CalendlyClient(VendorClient):
    """Scheduling."""

    system = "calendly"

    async def event_type(self, event_type_uri: str) -> dict[str, Any]:
        """The event type at ``event_type_uri`` (its API URI, ``…/event_types/UUID``)."""
        path = urlsplit(event_type_uri).path or event_type_uri
        response = await self.request("GET", path)
        return dict(response.json()["resource"])

    async def kickoff_link(
        self,
        event_type_uri: str,
        transaction_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
    ) -> str:
        """The kickoff booking link of a transaction on an active event type.

        Raises:
            VendorFailure: a validation error when the event type is not active (a person must
                pick or re-enable one); the vendor's classified failure otherwise.
        """
        event_type = await self.event_type(event_type_uri)
        if not event_type.get("active"):
            raise VendorFailure(
                ErrorType.VALIDATION_ERROR,
                self.system,
                f"kickoff event type {event_type.get('name') or event_type_uri} is not active",
            )
        return keys.kickoff_link(
            str(event_type["scheduling_url"]), transaction_id, name=name, email=email
        )
