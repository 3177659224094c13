"""The support desk: the customer's organization and its end user."""

from __future__ import annotations

from temporalio import activity

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    SupportIdentity,
    SupportInput,
)
from onboarding.domain import keys


class SupportActivities(VendorActivities):
    """Support organization and user."""

    @activity.defn
    @vendor_errors
    async def provision_support(self, request: SupportInput) -> SupportIdentity:
        """Get-or-create the support organization (one per CRM company) and the primary contact
        as its end user (one per CRM contact); what is created carries the transaction."""
        zendesk = self.vendors.support
        # The workflow ID is the transaction ID.
        transaction_id = request.transaction_id or str(activity.info().workflow_id)
        org, org_created = await zendesk.get_or_create_organization(
            external_id=keys.support_org_external_id(request.crm_company_id),
            name=request.legal_name,
            domain=request.domain,
            transaction_id=transaction_id,
        )
        user, user_created = await zendesk.get_or_create_user(
            external_id=keys.support_user_external_id(request.crm_contact_id),
            name=request.contact_name,
            email=request.contact_email,
            organization_id=int(org["id"]),
            transaction_id=transaction_id,
        )
        return SupportIdentity(
            organization_id=int(org["id"]),
            user_id=int(user["id"]),
            organization_created=org_created,
            user_created=user_created,
        )
