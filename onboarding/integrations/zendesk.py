"""Zendesk Support: the customer's organization and its end user.

Get-or-create by ``external_id`` (the confirmed CRM company or contact), looked up before any
create. A record the run creates carries the transaction in its ``notes``
(:func:`onboarding.domain.keys.created_by_note`), so a retry, or a run re-created from scratch,
can tell what it created from what it found, and rollback deletes only the former.
"""

from __future__ import annotations

from typing import Any

from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient


class ZendeskClient(VendorClient):
    """The support desk."""

    system = "zendesk"

    async def find_organization(self, external_id: str) -> dict[str, Any] | None:
        """The organization with this external ID, or None."""
        response = await self.request(
            "GET", "/api/v2/organizations/search.json", params={"external_id": external_id}
        )
        found = response.json().get("organizations") or []
        return dict(found[0]) if found else None

    async def find_user(self, external_id: str) -> dict[str, Any] | None:
        """The user with this external ID, or None."""
        response = await self.request(
            "GET", "/api/v2/users/search.json", params={"external_id": external_id}
        )
        found = response.json().get("users") or []
        return dict(found[0]) if found else None

    async def get_or_create_organization(
        self, *, external_id: str, name: str, domain: str, transaction_id: str
    ) -> tuple[dict[str, Any], bool]:
        """The organization with this external ID, created (stamped) when there is none;
        ``(organization, created by this transaction)``."""
        found = await self.find_organization(external_id)
        if found is None:
            try:
                response = await self.request(
                    "POST",
                    "/api/v2/organizations.json",
                    json={
                        "organization": {
                            "name": name,
                            "external_id": external_id,
                            "domain_names": [domain],
                            "notes": keys.created_by_note(transaction_id),
                        }
                    },
                )
                return dict(response.json()["organization"]), True
            except VendorFailure as failure:
                if failure.error_type != ErrorType.VALIDATION_ERROR:
                    raise
                # Another attempt may have created it in between; else the name is taken by an
                # organization of another customer, which a person must sort out.
                found = await self.find_organization(external_id)
                if found is None:
                    raise
        return found, keys.was_created_by(found.get("notes"), transaction_id)

    async def get_or_create_user(
        self,
        *,
        external_id: str,
        name: str,
        email: str,
        organization_id: int,
        transaction_id: str,
    ) -> tuple[dict[str, Any], bool]:
        """The end user with this external ID, created (stamped) when there is none;
        ``(user, created by this transaction)``.

        A person who is a support user already (same email, from an earlier ticket) is linked to
        the organization and the CRM contact, and kept as matched.
        """
        found = await self.find_user(external_id)
        if found is not None:
            return found, keys.was_created_by(found.get("notes"), transaction_id)
        try:
            response = await self.request(
                "POST",
                "/api/v2/users.json",
                json={
                    "user": {
                        "name": name,
                        "email": email,
                        "external_id": external_id,
                        "organization_id": organization_id,
                        "role": "end-user",
                        "notes": keys.created_by_note(transaction_id),
                    }
                },
            )
            return dict(response.json()["user"]), True
        except VendorFailure as failure:
            if failure.error_type != ErrorType.VALIDATION_ERROR:
                raise
            found = await self.find_user(external_id)
            if found is not None:
                return found, keys.was_created_by(found.get("notes"), transaction_id)
        response = await self.request(
            "POST",
            "/api/v2/users/create_or_update.json",
            json={
                "user": {
                    "email": email,
                    "external_id": external_id,
                    "organization_id": organization_id,
                }
            },
        )
        return dict(response.json()["user"]), False

    async def get_organization(self, org_id: int) -> dict[str, Any]:
        """One organization (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/api/v2/organizations/{org_id}.json")
        return dict(response.json()["organization"])

    async def get_user(self, user_id: int) -> dict[str, Any]:
        """One user (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/api/v2/users/{user_id}.json")
        return dict(response.json()["user"])

    async def delete_organization(self, org_id: int) -> bool:
        """Delete an organization (rollback); False when it is gone already."""
        response = await self.request(
            "DELETE", f"/api/v2/organizations/{org_id}.json", ok_statuses=(404,)
        )
        return response.status_code != 404

    async def delete_user(self, user_id: int) -> bool:
        """Delete a user (rollback); False when it is gone already."""
        response = await self.request("DELETE", f"/api/v2/users/{user_id}.json", ok_statuses=(404,))
        return response.status_code != 404

    async def list_organizations(self) -> list[dict[str, Any]]:
        """Every organization (all pages)."""
        organizations: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.request(
                "GET", "/api/v2/organizations.json", params={"per_page": 100, "page": page}
            )
            body = response.json()
            organizations += body.get("organizations", [])
            if not body.get("next_page"):
                return organizations
            page += 1
