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
        """Get-or-create the delivery project from the tier's template, then its standard tasks."""
        asana = self.vendors.projects
        settings = self.vendors.settings
        marker = f"[{request.transaction_id}]"
        project = await asana.find_project(settings.asana_workspace_gid, marker)
        created = project is None
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
                await asyncio.sleep(0.5)
                job = await asana.get_job(str(job["gid"]))
            if job["status"] == "failed":
                raise ApplicationError(
                    f"asana: project template {request.template_gid} could not be instantiated",
                    type=ErrorType.SERVER_ERROR.value,
                )
            project = job["new_project"]
        project_gid = str(project["gid"])
        template_tasks = await asana.project_tasks(project_gid)
        task_gids: dict[str, str] = {}
        for task in request.tasks:
            task_gids[task.key] = await asana.get_or_create_task(
                project_gid=project_gid,
                external_gid=keys.task_external_gid(request.transaction_id, task.key),
                name=task.name,
                due_on=task.due_on,
                notes=f"Onboarding {request.transaction_id}, HubSpot company {request.crm_company_id}",
            )
        standard = set(task_gids.values())
        return DeliveryProject(
            project_gid=project_gid,
            created=created,
            task_gids=task_gids,
            template_task_count=len([t for t in template_tasks if t.get("gid") not in standard]),
        )

    @activity.defn
    @vendor_errors
    async def create_change_order_tasks(self, request: ChangeOrderInput) -> ChangeOrderOutput:
        """Get-or-create one change-order task per item in the delivery project."""
        gids = [
            await self.vendors.projects.get_or_create_task(
                project_gid=request.project_gid,
                external_gid=keys.task_external_gid(
                    request.transaction_id, f"change-{request.request_id}-{n}"
                ),
                name=f"Change order: {item}",
                due_on=request.due_on,
                notes=f"Scope change {request.request_id} of {request.transaction_id}",
            )
            for n, item in enumerate(request.items, start=1)
        ]
        return ChangeOrderOutput(task_gids=gids)
