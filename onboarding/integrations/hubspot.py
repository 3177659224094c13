"""HubSpot CRM v3/v4: companies, contacts, associations, and the deals that start runs.

Get-or-create never relies on search alone: HubSpot's search index lags writes by seconds, so a
retry after a lost create could search, find nothing and create a second record. Reads by a
unique value (``GET /crm/v3/objects/{type}/{value}?idProperty=...``) go to the primary store and
see a write at once: every record a run creates carries the run's transaction ID in the unique
property :data:`CREATED_BY_PROPERTY`, and contacts are read by their (unique) email.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")
_NUMERIC_ID = re.compile(r"[0-9]{1,20}")
#: HubSpot-defined association type of a deal's primary company.
DEAL_PRIMARY_COMPANY_TYPE_ID = 5
#: Most associated records looked at per deal (one page of HubSpot's v4 associations).
MAX_ASSOCIATIONS = 100


@dataclass(frozen=True)
class Association:
    """One v4 association: the other record's ID and the association's labels and type IDs."""

    to_id: str
    type_ids: tuple[int, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class DealRecords:
    """A deal as read for an onboarding: the deal, its company, its contact and its owner."""

    deal: dict[str, Any]
    company: dict[str, Any] | None
    contact: dict[str, Any] | None
    owner: dict[str, Any] | None


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

    async def get_deal(self, deal_id: str, properties: Sequence[str]) -> dict[str, Any]:
        """Read one deal with ``properties`` (404 raises ``NotFound``)."""
        response = await self.request(
            "GET",
            f"/crm/v3/objects/deals/{deal_id}",
            params={"properties": ",".join(properties), "archived": "false"},
        )
        return dict(response.json())

    async def associations(self, from_type: str, from_id: str, to_type: str) -> list[Association]:
        """The records of ``to_type`` associated with one record (v4, first page)."""
        response = await self.request(
            "GET",
            f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}",
            params={"limit": str(MAX_ASSOCIATIONS)},
        )
        found: list[Association] = []
        for result in response.json().get("results", [])[:MAX_ASSOCIATIONS]:
            to_id = str(result.get("toObjectId", ""))
            if not _NUMERIC_ID.fullmatch(to_id):
                continue
            kinds = [k for k in result.get("associationTypes") or [] if isinstance(k, dict)]
            found.append(
                Association(
                    to_id=to_id,
                    type_ids=tuple(
                        int(k["typeId"]) for k in kinds if isinstance(k.get("typeId"), int)
                    ),
                    labels=tuple(str(k["label"]) for k in kinds if isinstance(k.get("label"), str)),
                )
            )
        return found

    async def get_owner(self, owner_id: str) -> dict[str, Any]:
        """One CRM owner (a user who owns records): ``id``, ``email``, names."""
        response = await self.request("GET", f"/crm/v3/owners/{owner_id}")
        return dict(response.json())

    async def read_deal_records(self, deal_id: str, properties: Sequence[str]) -> DealRecords:
        """A deal with its company, its primary contact and its owner, for an onboarding.

        The company is the deal's primary company (association type 5), else the one with the
        lowest ID; the contact is the one labelled primary (or champion), else the lowest ID;
        the owner is ``hubspot_owner_id``. What the deal lacks is None, never guessed further.
        """
        deal = await self.get_deal(deal_id, properties)
        companies = await self.associations("deals", deal_id, "companies")
        contacts = await self.associations("deals", deal_id, "contacts")
        company_id = _pick(companies, lambda a: DEAL_PRIMARY_COMPANY_TYPE_ID in a.type_ids)
        contact_id = _pick(
            contacts,
            lambda a: any("primary" in x.lower() or "champion" in x.lower() for x in a.labels),
        )
        company = (
            await self.read_properties("companies", company_id, ["name", "domain"])
            if company_id
            else None
        )
        contact = (
            await self.read_properties("contacts", contact_id, ["firstname", "lastname", "email"])
            if contact_id
            else None
        )
        owner_id = str((deal.get("properties") or {}).get("hubspot_owner_id") or "").strip()
        owner = await self.get_owner(owner_id) if _NUMERIC_ID.fullmatch(owner_id) else None
        return DealRecords(deal=deal, company=company, contact=contact, owner=owner)

    async def read_properties(
        self, object_type: str, object_id: str, properties: Sequence[str]
    ) -> dict[str, Any]:
        """Read one object (a company, a contact) with ``properties``."""
        response = await self.request(
            "GET",
            f"/crm/v3/objects/{object_type}/{object_id}",
            params={"properties": ",".join(properties)},
        )
        return dict(response.json())


def _pick(associations: list[Association], preferred: Callable[[Association], bool]) -> str | None:
    """The preferred association's record ID, else the lowest numeric one."""
    if not associations:
        return None
    chosen = [a for a in associations if preferred(a)] or associations
    return min(chosen, key=lambda a: (len(a.to_id), a.to_id)).to_id


def ambiguous(system: str, domain: str, count: int) -> VendorFailure:
    """The failure for several CRM companies matching one customer."""
    return VendorFailure(
        ErrorType.AMBIGUOUS_MATCH,
        system,
        f"{count} CRM companies match domain {domain}; a person must choose",
    )
