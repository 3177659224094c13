"""The automated readiness gate: every linked record exists in its system."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from activities.common import VendorActivities, application_error
from activities.models import (
    VerifyInput,
    VerifyOutput,
)
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.run import QaCheck


class QaActivities(VendorActivities):
    """Readiness checks before live."""

    @activity.defn
    async def verify_linked_records(self, request: VerifyInput) -> VerifyOutput:
        """The automated readiness gate: every linked record exists in its system."""
        linked = request.linked
        v = self.vendors

        async def check(name: str, ok_when: Callable[[], Awaitable[str]]) -> QaCheck:
            if name in request.not_automated:
                return QaCheck(
                    name=name, ok=True, detail=f"not checked: step is {request.not_automated[name]}"
                )
            try:
                return QaCheck(name=name, ok=True, detail=await ok_when())
            except VendorFailure as failure:
                if failure.retryable:
                    raise application_error(failure) from None
                return QaCheck(name=name, ok=False, detail=str(failure))

        async def company() -> str:
            data = await v.crm.get("companies", str(linked.crm_company_id))
            return f"company {data['id']}"

        async def contact() -> str:
            data = await v.crm.get("contacts", str(linked.crm_contact_id))
            return f"contact {data['id']}"

        async def project() -> str:
            data = await v.projects.get_project(str(linked.project_gid))
            if data.get("archived"):
                raise VendorFailure(ErrorType.NOT_FOUND, "asana", "project is archived")
            tasks = await v.projects.project_tasks(str(linked.project_gid))
            if len(tasks) < request.expected_tasks:
                raise VendorFailure(
                    ErrorType.NOT_FOUND,
                    "asana",
                    f"project has {len(tasks)} tasks, expected at least {request.expected_tasks}",
                )
            return f"project {data['gid']} with {len(tasks)} tasks"

        async def org() -> str:
            data = await v.support.get_organization(int(linked.support_org_id or 0))
            return f"organization {data['id']}"

        async def user() -> str:
            data = await v.support.get_user(int(linked.support_user_id or 0))
            return f"user {data['id']}"

        async def emails() -> str:
            for email_id in linked.email_ids.values():
                await v.email.get(email_id)
            return f"{len(linked.email_ids)} emails"

        async def link() -> str:
            if not linked.scheduling_link:
                raise VendorFailure(ErrorType.NOT_FOUND, "calendly", "no kickoff link")
            event_type = await v.scheduling.event_type(v.settings.calendly_event_type_uri)
            if not event_type.get("active"):
                raise VendorFailure(
                    ErrorType.NOT_FOUND,
                    "calendly",
                    f"kickoff event type {event_type.get('name')} is no longer active",
                )
            return linked.scheduling_link

        checks = [
            await check("crm-company", company),
            await check("crm-contact", contact),
            await check("delivery-project", project),
            await check("support-organization", org),
            await check("support-user", user),
            await check("kickoff-link", link),
            await check("welcome-emails", emails),
        ]
        return VerifyOutput(checks=checks)
