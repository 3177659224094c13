"""The CRM: get-or-create the company and the primary contact, and the onboarding properties.

Nothing here trusts search to see a recent write (HubSpot's index lags by seconds): the company
this transaction created is read by its unique stamp (``idProperty``), the contact by its unique
email; search by domain only finds companies that existed before the run.
"""

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
from onboarding.integrations.hubspot import CREATED_BY_PROPERTY, ambiguous

COMPANY_PROPERTIES = ["name", "domain", "onboarding_transaction_id", CREATED_BY_PROPERTY]
CONTACT_PROPERTIES = ["email", CREATED_BY_PROPERTY]


class CrmActivities(VendorActivities):
    """CRM identity and onboarding properties."""

    @activity.defn
    @vendor_errors
    async def resolve_crm_identity(self, request: ResolveIdentityInput) -> CrmIdentity:
        """Get-or-create the CRM company and the primary contact, then associate them.

        The company: the one this transaction created (its stamp), else the person's choice
        after an ambiguous match, else the one company with the domain (several are never
        auto-picked), else a new one stamped with the transaction. The contact: the one with the
        email (unique in the CRM), else a new one stamped with the transaction; a 409 duplicate
        is a "get". ``created`` is read from the stamp on the record, so it stays true whatever
        was retried.
        """
        crm = self.vendors.crm
        txn = request.transaction_id
        candidates_seen = 1
        ours = await crm.get_by_unique(
            "companies", txn, id_property=CREATED_BY_PROPERTY, properties=COMPANY_PROPERTIES
        )
        if ours is not None:
            company_id, company_created = str(ours["id"]), True
        elif request.chosen_company_id:
            company = await crm.get("companies", request.chosen_company_id)
            company_id, company_created = str(company["id"]), False
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
                company_id, company_created = str(matches[0]["id"]), False
            else:
                company, company_created = await crm.create_stamped(
                    "companies",
                    {
                        "name": request.legal_name,
                        "domain": request.domain,
                        "onboarding_transaction_id": txn,
                    },
                    transaction_id=txn,
                )
                company_id = str(company["id"])
        contact = await crm.get_by_unique(
            "contacts", request.contact_email, id_property="email", properties=CONTACT_PROPERTIES
        )
        if contact is not None:
            stamp = (contact.get("properties") or {}).get(CREATED_BY_PROPERTY)
            contact_created = stamp == txn
        else:
            first, _, last = request.contact_name.partition(" ")
            contact, contact_created = await crm.create_stamped(
                "contacts",
                {"email": request.contact_email, "firstname": first, "lastname": last},
                transaction_id=txn,
            )
        contact_id = str(contact["id"])
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
