"""Asana: a delivery project from the tier's template, and tasks keyed by ``external.gid``."""

from __future__ import annotations

from typing import Any

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient


class AsanaClient(VendorClient):
    """The project tool."""

    system = "asana"

    async def find_project(self, workspace_gid: str, name_contains: str) -> dict[str, Any] | None:
        """The non-archived project of the workspace whose name contains ``name_contains``."""
        response = await self.request(
            "GET", "/projects", params={"workspace": workspace_gid, "archived": "false"}
        )
        for project in response.json().get("data", []):
            if name_contains in project.get("name", ""):
                return dict(project)
        return None

    async def instantiate_template(
        self, template_gid: str, *, name: str, team_gid: str
    ) -> dict[str, Any]:
        """Start the job that creates a project (with the template's tasks) from a template."""
        response = await self.request(
            "POST",
            f"/project_templates/{template_gid}/instantiateProject",
            json={"data": {"name": name, "team": team_gid, "public": False}},
        )
        return dict(response.json()["data"])

    async def get_job(self, job_gid: str) -> dict[str, Any]:
        """The state of an asynchronous job."""
        response = await self.request("GET", f"/jobs/{job_gid}")
        return dict(response.json()["data"])

    async def get_project(self, project_gid: str) -> dict[str, Any]:
        """One project (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/projects/{project_gid}")
        return dict(response.json()["data"])

    async def project_tasks(self, project_gid: str) -> list[dict[str, Any]]:
        """The tasks of a project."""
        response = await self.request("GET", f"/projects/{project_gid}/tasks")
        return list(response.json().get("data", []))

    async def archive_project(self, project_gid: str) -> None:
        """Archive a project (rollback)."""
        await self.request("PUT", f"/projects/{project_gid}", json={"data": {"archived": True}})

    async def task_by_external_gid(self, external_gid: str) -> dict[str, Any] | None:
        """The task with this ``external.gid``, or None."""
        try:
            response = await self.request("GET", f"/tasks/external:{external_gid}")
        except VendorFailure as failure:
            if failure.error_type == ErrorType.NOT_FOUND:
                return None
            raise
        return dict(response.json()["data"])

    async def get_or_create_task(
        self, *, project_gid: str, external_gid: str, name: str, due_on: str, notes: str = ""
    ) -> str:
        """The task with this external gid, created in the project when it does not exist."""
        existing = await self.task_by_external_gid(external_gid)
        if existing:
            return str(existing["gid"])
        try:
            response = await self.request(
                "POST",
                "/tasks",
                json={
                    "data": {
                        "name": name,
                        "projects": [project_gid],
                        "due_on": due_on,
                        "notes": notes,
                        "external": {"gid": external_gid},
                    }
                },
            )
        except VendorFailure as failure:
            # Lost the race with a committed earlier attempt: read what it created.
            if failure.http_status == 400 and "external" in failure.message.lower():
                existing = await self.task_by_external_gid(external_gid)
                if existing:
                    return str(existing["gid"])
            raise
        return str(response.json()["data"]["gid"])

    async def list_projects(
        self, workspace_gid: str, *, archived: bool = False
    ) -> list[dict[str, Any]]:
        """Every project of the workspace (all pages), archived ones or the others."""
        projects: list[dict[str, Any]] = []
        offset: str | None = None
        while True:
            params: dict[str, Any] = {
                "workspace": workspace_gid,
                "archived": str(archived).lower(),
                "limit": 100,
            }
            if offset:
                params["offset"] = offset
            body = (await self.request("GET", "/projects", params=params)).json()
            projects += body.get("data", [])
            offset = (body.get("next_page") or {}).get("offset")
            if not offset:
                return projects
