"""Asana: a delivery project from the tier's template, and its tasks.

Works the same with a personal access token and with an OAuth app. Asana's ``external`` task
field (a custom gid to look a task up by) needs an OAuth app and is refused with a personal
access token, so get-or-create does not use it: a project is found by the transaction ID in its
name, a task by the key line in its notes, both in paginated listings that read the primary
store (not the eventually consistent search).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.http import VendorClient

#: Asana's largest page.
PAGE_SIZE = 100


class AsanaClient(VendorClient):
    """The project tool."""

    system = "asana"

    async def pages(
        self, path: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paginated listing, following ``next_page.offset``."""
        query: dict[str, Any] = {**(params or {}), "limit": PAGE_SIZE}
        while True:
            body = (await self.request("GET", path, params=query)).json()
            for item in body.get("data") or []:
                yield dict(item)
            offset = (body.get("next_page") or {}).get("offset")
            if not offset:
                return
            query["offset"] = offset

    async def find_project(self, workspace_gid: str, name_contains: str) -> dict[str, Any] | None:
        """The non-archived project of the workspace whose name contains ``name_contains``,
        reading every page."""
        params = {"workspace": workspace_gid, "archived": "false"}
        async for project in self.pages("/projects", params):
            if name_contains in (project.get("name") or ""):
                return project
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

    async def project_tasks(
        self, project_gid: str, *, fields: tuple[str, ...] = ("name",)
    ) -> list[dict[str, Any]]:
        """Every task of a project (all pages), with ``fields``."""
        params = {"opt_fields": ",".join(fields)}
        return [t async for t in self.pages(f"/projects/{project_gid}/tasks", params)]

    async def archive_project(self, project_gid: str) -> bool:
        """Archive a project (rollback); False when it is gone already."""
        try:
            await self.request("PUT", f"/projects/{project_gid}", json={"data": {"archived": True}})
        except VendorFailure as failure:
            if failure.error_type == ErrorType.NOT_FOUND:
                return False
            raise
        return True

    @staticmethod
    def task_with_key(tasks: list[dict[str, Any]], task_key: str) -> dict[str, Any] | None:
        """The task among ``tasks`` (read with their notes) whose notes name ``task_key``."""
        line = keys.task_key_line(task_key)
        return next((t for t in tasks if keys.has_line(t.get("notes"), line)), None)

    async def find_task(self, project_gid: str, task_key: str) -> dict[str, Any] | None:
        """The task of the project whose notes name ``task_key``, or None."""
        tasks = await self.project_tasks(project_gid, fields=("name", "notes"))
        return self.task_with_key(tasks, task_key)

    async def create_task(
        self, *, project_gid: str, task_key: str, name: str, due_on: str, notes: str = ""
    ) -> str:
        """Create a task in the project, its key on the last line of its notes."""
        response = await self.request(
            "POST",
            "/tasks",
            json={
                "data": {
                    "name": name,
                    "projects": [project_gid],
                    "due_on": due_on,
                    "notes": "\n".join(p for p in (notes, keys.task_key_line(task_key)) if p),
                }
            },
        )
        return str(response.json()["data"]["gid"])

    async def get_or_create_task(
        self, *, project_gid: str, task_key: str, name: str, due_on: str, notes: str = ""
    ) -> str:
        """The project's task with this key, created when it does not exist.

        The key is a line of the task's notes, so an earlier attempt whose answer was lost is
        found in the project's task list before anything is created.
        """
        existing = await self.find_task(project_gid, task_key)
        if existing:
            return str(existing["gid"])
        return await self.create_task(
            project_gid=project_gid, task_key=task_key, name=name, due_on=due_on, notes=notes
        )

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
