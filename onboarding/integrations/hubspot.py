"""HubSpot CRM v3/v4: companies, contacts, associations.

Get-or-create never relies on search alone: HubSpot's search index lags writes by seconds, so a
retry after a lost create could search, find nothing and create a second record. Reads by a
unique value (``GET /crm/v3/objects/{type}/{value}?idProperty=...``) go to the primary store and
see a write at once: every record a run creates carries the run's transaction ID in the unique
property :data:`CREATED_BY_PROPERTY`, and contacts are read by their (unique) email.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")

#: A single-line text property with unique values, on companies and on contacts: the
#: transaction that created the record. Read with ``idProperty``; what tells a record the run
#: created from one it matched, and what rollback archives.
CREATED_BY_PROPERTY = "onboarding_created_by_transaction"


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
            "sorts": [],
            "after": "0",
            "limit": 10,
        }
        response = await self.request("POST", f"/crm/v3/objects/{object_type}/search", json=body)
        return list(response.json().get("results", []))

    async def create(self, object_type: str, properties: dict[str, str]) -> dict[str, Any]:
        """Create one object."""
        response = await self.request(
            "POST",
            f"/crm/v3/objects/{object_type}",
            json={"properties": properties, "associations": []},
        )
        return dict(response.json())

    async def get(
        self, object_type: str, object_id: str, properties: list[str] | None = None
    ) -> dict[str, Any]:
        """Read one object (404 raises ``NotFound``)."""
        params = {"properties": ",".join(properties)} if properties else None
        response = await self.request(
            "GET", f"/crm/v3/objects/{object_type}/{object_id}", params=params
        )
        return dict(response.json())

    async def get_by_unique(
        self,
        object_type: str,
        value: str,
        *,
        id_property: str,
        properties: list[str] | None = None,
    ) -> dict[str, Any] | None:
        """The object whose unique property ``id_property`` equals ``value``, or None.

        Unlike search, this reads the primary store: a record created a moment ago is found.
        """
        params = {"idProperty": id_property}
        if properties:
            params["properties"] = ",".join(properties)
        try:
            response = await self.request(
                "GET", f"/crm/v3/objects/{object_type}/{quote(value, safe='')}", params=params
            )
        except VendorFailure as failure:
            if failure.error_type == ErrorType.NOT_FOUND:
                return None
            raise
        return dict(response.json())

    async def create_stamped(
        self, object_type: str, properties: dict[str, str], *, transaction_id: str
    ) -> tuple[dict[str, Any], bool]:
        """Create an object stamped with the transaction that creates it; ``(object, created)``.

        When a record with this stamp exists already (an earlier attempt committed and its answer
        was lost), HubSpot refuses the second one on the unique property; that record is the
        answer, read back with ``idProperty``. A contact whose email exists already comes back as
        that contact (409 with its ID), ``created`` telling whether this transaction made it.
        """
        stamped = {**properties, CREATED_BY_PROPERTY: transaction_id}
        try:
            return await self.create(object_type, stamped), True
        except VendorFailure as failure:
            if failure.http_status not in (400, 409):
                raise
            ours = await self.get_by_unique(
                object_type, transaction_id, id_property=CREATED_BY_PROPERTY
            )
            if ours is not None:
                return ours, True
            match = _EXISTING_ID.search(failure.message)
            if failure.http_status == 409 and match:
                existing = await self.get(object_type, match.group(1), [CREATED_BY_PROPERTY])
                stamp = (existing.get("properties") or {}).get(CREATED_BY_PROPERTY)
                return existing, stamp == transaction_id
            raise

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


def ambiguous(system: str, domain: str, count: int) -> VendorFailure:
    """The failure for several CRM companies matching one customer."""
    return VendorFailure(
        ErrorType.AMBIGUOUS_MATCH,
        system,
        f"{count} CRM companies match domain {domain}; a person must choose",
    )
