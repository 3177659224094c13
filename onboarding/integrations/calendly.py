"""Calendly: a single-use scheduling link for the kickoff."""

from __future__ import annotations

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
