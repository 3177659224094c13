"""Zendesk Support: organization and users, ``create_or_update`` by ``external_id``."""

from __future__ import annotations

from typing import Any

from onboarding.integrations.http import VendorClient


class ZendeskClient(VendorClient):
    """The support desk."""

    system = "zendesk"

    async def upsert_organization(
        self, *, external_id: str, name: str, domain: str
    ) -> tuple[dict[str, Any], bool]:
        """Create or update the organization with this external ID; ``(organization, created)``."""
        response = await self.request(
            "POST",
            "/api/v2/organizations/create_or_update.json",
            json={
                "organization": {"name": name, "external_id": external_id, "domain_names": [domain]}
            },
        )
        return dict(response.json()["organization"]), response.status_code == 201

    async def upsert_user(
        self, *, external_id: str, name: str, email: str, organization_id: int
    ) -> tuple[dict[str, Any], bool]:
        """Create or update the end user with this external ID; ``(user, created)``."""
        response = await self.request(
            "POST",
            "/api/v2/users/create_or_update.json",
            json={
                "user": {
                    "name": name,
                    "email": email,
                    "external_id": external_id,
                    "organization_id": organization_id,
                    "role": "end-user",
                }
            },
        )
        return dict(response.json()["user"]), response.status_code == 201

    async def get_organization(self, org_id: int) -> dict[str, Any]:
        """One organization (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/api/v2/organizations/{org_id}.json")
        return dict(response.json()["organization"])

    async def get_user(self, user_id: int) -> dict[str, Any]:
        """One user (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/api/v2/users/{user_id}.json")
        return dict(response.json()["user"])

    async def delete_organization(self, org_id: int) -> None:
        """Delete an organization (rollback); already gone is fine."""
        await self.request("DELETE", f"/api/v2/organizations/{org_id}.json", ok_statuses=(404,))

    async def delete_user(self, user_id: int) -> None:
        """Delete a user (rollback); already gone is fine."""
        await self.request("DELETE", f"/api/v2/users/{user_id}.json", ok_statuses=(404,))

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
