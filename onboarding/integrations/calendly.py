"""Calendly: a single-use scheduling link for the kickoff."""

from __future__ import annotations

from typing import Any

from onboarding.integrations.http import VendorClient


class CalendlyClient(VendorClient):
    """Scheduling."""

    system = "calendly"

    async def create_single_use_link(self, event_type_uri: str) -> str:
        """A booking URL good for one event of this event type."""
        response = await self.request(
            "POST",
            "/scheduling_links",
            json={"max_event_count": 1, "owner": event_type_uri, "owner_type": "EventType"},
        )
        return str(response.json()["resource"]["booking_url"])

    async def list_scheduling_links(self) -> list[dict[str, Any]]:
        """Single-use links issued so far. Only the sandbox answers this: Calendly's API can
        create such links but not list them (it answers 404, a ``NotFound`` failure)."""
        response = await self.request("GET", "/scheduling_links")
        return list(response.json().get("collection", []))
