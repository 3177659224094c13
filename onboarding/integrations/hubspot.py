"""HubSpot CRM v3/v4: companies, contacts, associations."""

from __future__ import annotations

import re
from typing import Any

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


class HubSpotClient(VendorClient):
    """The CRM: get-or-create of the company and primary contact, and onboarding properties."""

    system = "hubspot"

    async def search(
        self, object_type: str, filters: dict[str, str], properties: list[str]
    ) -> list[dict[str, Any]]:
        """Objects whose properties equal ``filters`` (one filter group, AND)."""
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": k, "operator": "EQ", "value": v}
                        for k, v in filters.items()
                    ]
                }
            ],
            "properties": properties,
            "limit": 10,
        }
        response = await self.request("POST", f"/crm/v3/objects/{object_type}/search", json=body)
        return list(response.json().get("results", []))

    async def create(self, object_type: str, properties: dict[str, str]) -> dict[str, Any]:
        """Create one object."""
        response = await self.request(
            "POST", f"/crm/v3/objects/{object_type}", json={"properties": properties}
        )
        return dict(response.json())

    async def get(self, object_type: str, object_id: str) -> dict[str, Any]:
        """Read one object (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/crm/v3/objects/{object_type}/{object_id}")
        return dict(response.json())

    async def update(
        self, object_type: str, object_id: str, properties: dict[str, str]
    ) -> dict[str, Any]:
        """Set properties on one object."""
        response = await self.request(
            "PATCH", f"/crm/v3/objects/{object_type}/{object_id}", json={"properties": properties}
        )
        return dict(response.json())

    async def archive(self, object_type: str, object_id: str) -> None:
        """Archive one object (HubSpot's delete); an already-gone object is fine."""
        await self.request(
            "DELETE", f"/crm/v3/objects/{object_type}/{object_id}", ok_statuses=(404,)
        )

    async def create_contact(self, properties: dict[str, str]) -> tuple[str, bool]:
        """Create a contact; a 409 duplicate email is a "get". Returns ``(id, created)``."""
        try:
            contact = await self.create("contacts", properties)
        except VendorFailure as failure:
            match = _EXISTING_ID.search(failure.message)
            if failure.http_status == 409 and match:
                return match.group(1), False
            raise
        return str(contact["id"]), True

    async def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Default association between two objects (idempotent)."""
        await self.request(
            "PUT",
            f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
        )

    async def list_objects(self, object_type: str, properties: list[str]) -> list[dict[str, Any]]:
        """Every live object of a type (all pages), with these properties."""
        objects: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": ",".join(properties)}
            if after:
                params["after"] = after
            body = (
                await self.request("GET", f"/crm/v3/objects/{object_type}", params=params)
            ).json()
            objects += body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return objects


def ambiguous(system: str, domain: str, count: int) -> VendorFailure:
    """The failure for several CRM companies matching one customer."""
    return VendorFailure(
        ErrorType.AMBIGUOUS_MATCH,
        system,
        f"{count} CRM companies match domain {domain}; a person must choose",
    )
