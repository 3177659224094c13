"""Cancel with rollback: archive or close what a cancelled run created, newest first.

What the run created is read from the records themselves, not from the run's memory: every
record a run creates carries its transaction ID (the HubSpot stamp property, the Asana project's
name, the Zendesk notes), so a record whose create was retried, or made by an attempt whose
answer was lost, is rolled back too, and a record the run only matched is kept. A record already
gone (404) is fine: rollback is itself retried and must be idempotent.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    RollbackInput,
    RollbackOutput,
)
from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.integrations.hubspot import CREATED_BY_PROPERTY


async def _or_none(read: Any) -> dict[str, Any] | None:
    """The record ``read`` returns, or None when it is gone (404)."""
    try:
        return dict(await read)
    except VendorFailure as failure:
        if failure.error_type == ErrorType.NOT_FOUND:
            return None
        raise


class RollbackActivities(VendorActivities):
    """Rollback of what a run created."""

    @activity.defn
    @vendor_errors
    async def roll_back(self, request: RollbackInput) -> RollbackOutput:
        """Archive or close what this transaction created, newest first: scheduled emails
        cancelled, support user and organization deleted, delivery project archived, CRM contact
        and company archived. Records it only matched are kept (the CRM company is marked
        ``onboarding_status=cancelled``)."""
        txn = request.transaction_id
        linked = request.linked
        v = self.vendors
        done: list[str] = []

        for email_key, email_id in reversed(list(linked.email_ids.items())):
            if await v.email.cancel(email_id):
                done.append(f"resend: cancelled scheduled email {email_key} ({email_id})")
            else:
                done.append(f"resend: email {email_key} ({email_id}) not scheduled: kept")

        user: dict[str, Any] | None = None
        if linked.support_user_id:
            user = await _or_none(v.support.get_user(linked.support_user_id))
        elif linked.crm_contact_id:
            user = await v.support.find_user(keys.support_user_external_id(linked.crm_contact_id))
        if user is not None and user.get("active", True):
            if keys.was_created_by(user.get("notes"), txn):
                gone = not await v.support.delete_user(int(user["id"]))
                done.append(f"zendesk: deleted user {user['id']}" + (" (already gone)" * gone))
            else:
                done.append(f"zendesk: kept existing user {user['id']} (not created by this run)")

        org: dict[str, Any] | None = None
        if linked.support_org_id:
            org = await _or_none(v.support.get_organization(linked.support_org_id))
        elif linked.crm_company_id:
            org = await v.support.find_organization(
                keys.support_org_external_id(linked.crm_company_id)
            )
        if org is not None:
            if keys.was_created_by(org.get("notes"), txn):
                gone = not await v.support.delete_organization(int(org["id"]))
                done.append(
                    f"zendesk: deleted organization {org['id']}" + (" (already gone)" * gone)
                )
            else:
                done.append(
                    f"zendesk: kept existing organization {org['id']} (not created by this run)"
                )

        project = await v.projects.find_project(
            v.settings.asana_workspace_gid, keys.project_marker(txn)
        )
        project_gid = str(project["gid"]) if project else linked.project_gid
        if project_gid:
            archived = await v.projects.archive_project(project_gid)
            done.append(
                f"asana: archived project {project_gid}" + ("" if archived else " (already gone)")
            )

        for object_type, noun, linked_id in (
            ("contacts", "contact", linked.crm_contact_id),
            ("companies", "company", linked.crm_company_id),
        ):
            ours = await v.crm.get_by_unique(object_type, txn, id_property=CREATED_BY_PROPERTY)
            if ours is not None:
                await v.crm.archive(object_type, str(ours["id"]))
                done.append(f"hubspot: archived {noun} {ours['id']}")
            elif linked_id and object_type == "companies":
                try:
                    await v.crm.update(object_type, linked_id, {"onboarding_status": "cancelled"})
                    done.append(
                        f"hubspot: kept existing company {linked_id}, onboarding_status=cancelled"
                    )
                except VendorFailure as failure:
                    if failure.error_type != ErrorType.NOT_FOUND:
                        raise
                    done.append(f"hubspot: company {linked_id} already gone")
            elif linked_id:
                done.append(f"hubspot: kept existing {noun} {linked_id} (not created by this run)")
        return RollbackOutput(actions=done)
