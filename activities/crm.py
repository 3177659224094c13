"""The CRM: get-or-create the company and the primary contact, and the onboarding properties."""

from __future__ import annotations

from temporalio import activity

from activities.common import VendorActivities, application_error, vendor_errors
from activities.models import (
    CrmIdentity,
    CrmOnboardingUpdate,
    CrmUpdated,
    ResolveIdentityInput,
)
from onboarding.domain.run import MatchCandidate
from onboarding.integrations.hubspot import ambiguous

COMPANY_PROPERTIES = ["name", "domain", "onboarding_transaction_id"]


class CrmActivities(VendorActivities):
    """CRM identity and onboarding properties."""

    @activity.defn
    @vendor_errors
    async def resolve_crm_identity(self, request: ResolveIdentityInput) -> CrmIdentity:
        """Get-or-create the CRM company (by domain; several matches are never auto-picked) and the
        primary contact (by email; a 409 duplicate is a "get"), then associate them."""
        crm = self.vendors.crm
        company_created = False
        candidates_seen = 1
        if request.chosen_company_id:
            company = await crm.get("companies", request.chosen_company_id)
            company_id = str(company["id"])
        else:
            matches = await crm.search("companies", {"domain": request.domain}, COMPANY_PROPERTIES)
            candidates_seen = len(matches)
            if len(matches) > 1:
                candidates = [
                    MatchCandidate(
                        id=str(m["id"]),
                        name=str(m.get("properties", {}).get("name") or ""),
                        domain=m.get("properties", {}).get("domain"),
                    ).model_dump()
                    for m in matches
                ]
                raise application_error(
                    ambiguous(crm.system, request.domain, len(matches)), candidates=candidates
                )
            if matches:
                company_id = str(matches[0]["id"])
            else:
                company = await crm.create(
                    "companies",
                    {
                        "name": request.legal_name,
                        "domain": request.domain,
                        "onboarding_transaction_id": request.transaction_id,
                    },
                )
                company_id = str(company["id"])
                company_created = True
        contacts = await crm.search("contacts", {"email": request.contact_email}, ["email"])
        if contacts:
            contact_id, contact_created = str(contacts[0]["id"]), False
        else:
            first, _, last = request.contact_name.partition(" ")
            contact_id, contact_created = await crm.create_contact(
                {"email": request.contact_email, "firstname": first, "lastname": last}
            )
        await crm.associate("contacts", contact_id, "companies", company_id)
        return CrmIdentity(
            company_id=company_id,
            contact_id=contact_id,
            company_created=company_created,
            contact_created=contact_created,
            candidates_seen=candidates_seen,
        )

    @activity.defn
    @vendor_errors
    async def update_crm_onboarding(self, request: CrmOnboardingUpdate) -> CrmUpdated:
        """Record onboarding status, transaction ID and implementation owner on the company."""
        properties = {
            "onboarding_status": request.status,
            "onboarding_transaction_id": request.transaction_id,
            "implementation_owner": request.implementation_owner,
        }
        company = await self.vendors.crm.update("companies", request.company_id, properties)
        return CrmUpdated(
            company_id=request.company_id,
            properties={
                k: str(v) for k, v in company.get("properties", {}).items() if k in properties
            },
        )
