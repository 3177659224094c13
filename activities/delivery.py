"""The delivery workspace: the project from the tier's template, its tasks, change orders."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    ChangeOrderInput,
    ChangeOrderOutput,
    DeliveryProject,
    DeliveryProjectInput,
)
from onboarding.domain import keys
from onboarding.domain.errors import ErrorType


class DeliveryActivities(VendorActivities):
    """The delivery project and its tasks."""

    @activity.defn
    @vendor_errors
    async def create_delivery_project(self, request: DeliveryProjectInput) -> DeliveryProject:
        """Get-or-create the delivery project from the tier's template, then its standard tasks.

        The project is found by the transaction ID in its name, each task by its key in its
        notes (every page of each listing), so a create whose answer was lost is found, not
        repeated; with a personal access token or an OAuth app alike.
        """
        asana = self.vendors.projects
        settings = self.vendors.settings
        marker = keys.project_marker(request.transaction_id)
        project = await asana.find_project(settings.asana_workspace_gid, marker)
        if project is None:
            # A template instantiation is a job that can outlive an attempt: the previous
            # attempt's heartbeat names it, and this one waits for it instead of starting a
            # second project.
            resumed = activity.info().heartbeat_details
            if resumed:
                job = await asana.get_job(str(resumed[0]))
            else:
                job = await asana.instantiate_template(
                    request.template_gid,
                    name=keys.project_name(request.legal_name, request.transaction_id),
                    team_gid=settings.asana_team_gid,
                )
            while job.get("status") not in ("succeeded", "failed"):
                activity.heartbeat(job.get("gid"))
                job = await asana.get_job(str(job["gid"]))
                if job.get("status") not in ("succeeded", "failed"):
                    await asyncio.sleep(0.5)
            if job["status"] == "failed":
                raise ApplicationError(
                    f"asana: project template {request.template_gid} could not be instantiated",
                    type=ErrorType.SERVER_ERROR.value,
                )
            project = job["new_project"]
        project_gid = str(project["gid"])
        existing = await asana.project_tasks(project_gid, fields=("name", "notes"))
        task_gids: dict[str, str] = {}
        for task in request.tasks:
            task_key = keys.task_external_gid(request.transaction_id, task.key)
            found = asana.task_with_key(existing, task_key)
            task_gids[task.key] = (
                str(found["gid"])
                if found
                else await asana.create_task(
                    project_gid=project_gid,
                    task_key=task_key,
                    name=task.name,
                    due_on=task.due_on,
                    notes=f"Onboarding {request.transaction_id}, "
                    f"HubSpot company {request.crm_company_id}",
                )
            )
        standard = set(task_gids.values())
        template_tasks = [t for t in existing if t.get("gid") not in standard]
        return DeliveryProject(
            project_gid=project_gid,
            # The transaction ID in its name says this run made it, whichever attempt did.
            created=True,
            task_gids=task_gids,
            template_task_count=len(template_tasks),
        )

    @activity.defn
    @vendor_errors
    async def create_change_order_tasks(self, request: ChangeOrderInput) -> ChangeOrderOutput:
        """Get-or-create one change-order task per item in the delivery project."""
        gids = [
            await self.vendors.projects.get_or_create_task(
                project_gid=request.project_gid,
                task_key=keys.task_external_gid(
                    request.transaction_id, f"change-{request.request_id}-{n}"
                ),
                name=f"Change order: {item}",
                due_on=request.due_on,
                notes=f"Scope change {request.request_id} of {request.transaction_id}",
            )
            for n, item in enumerate(request.items, start=1)
        ]
        return ChangeOrderOutput(task_gids=gids)
