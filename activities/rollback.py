"""Cancel with rollback: archive or close what a cancelled run created, newest first."""

from __future__ import annotations

from temporalio import activity

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    RollbackInput,
    RollbackOutput,
)


class RollbackActivities(VendorActivities):
    """Rollback of what a run created."""

    @activity.defn
    @vendor_errors
    async def roll_back(self, request: RollbackInput) -> RollbackOutput:
        """Archive or close what a cancelled run created, newest first. Records the run only
        matched (an existing CRM company or contact) are kept, and marked cancelled."""
        linked = request.linked
        v = self.vendors
        done: list[str] = []
        for email_key, email_id in reversed(list(linked.email_ids.items())):
            await v.email.cancel(email_id)
            done.append(f"resend: cancelled email {email_key} ({email_id}) if still scheduled")
        if linked.support_user_id and "support_user" in linked.created:
            await v.support.delete_user(linked.support_user_id)
            done.append(f"zendesk: deleted user {linked.support_user_id}")
        if linked.support_org_id and "support_org" in linked.created:
            await v.support.delete_organization(linked.support_org_id)
            done.append(f"zendesk: deleted organization {linked.support_org_id}")
        if linked.project_gid:
            await v.projects.archive_project(linked.project_gid)
            done.append(f"asana: archived project {linked.project_gid}")
        if linked.crm_contact_id and "crm_contact" in linked.created:
            await v.crm.archive("contacts", linked.crm_contact_id)
            done.append(f"hubspot: archived contact {linked.crm_contact_id}")
        if linked.crm_company_id:
            if "crm_company" in linked.created:
                await v.crm.archive("companies", linked.crm_company_id)
                done.append(f"hubspot: archived company {linked.crm_company_id}")
            else:
                await v.crm.update(
                    "companies", linked.crm_company_id, {"onboarding_status": "cancelled"}
                )
                done.append(
                    f"hubspot: kept existing company {linked.crm_company_id}, "
                    "onboarding_status=cancelled"
                )
        return RollbackOutput(actions=done)
