"""Customer communication: the kickoff booking link and the welcome emails."""

from __future__ import annotations

from temporalio import activity

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    KickoffLink,
    KickoffLinkInput,
    SendEmailInput,
    SentEmail,
)
from onboarding.domain import keys


class CustomerActivities(VendorActivities):
    """Kickoff link and welcome emails."""

    @activity.defn
    @vendor_errors
    async def create_kickoff_link(self, request: KickoffLinkInput) -> KickoffLink:
        """The kickoff booking link: the kickoff event type's scheduling page for this
        transaction. Nothing is created at the scheduling vendor, so nothing can be created
        twice: every attempt, and every incarnation of the run, gets the same link."""
        url = await self.vendors.scheduling.kickoff_link(
            self.vendors.settings.calendly_event_type_uri,
            request.transaction_id,
            name=request.contact_name,
            email=request.contact_email,
        )
        return KickoffLink(booking_url=url)

    @activity.defn
    @vendor_errors
    async def send_email(self, request: SendEmailInput) -> SentEmail:
        """Send or schedule one email, once: its idempotency key is the transaction and the step,
        and an email sent under that key earlier (even with other content) is the answer."""
        email_id = await self.vendors.email.send(
            idempotency_key=keys.idempotency_key(request.transaction_id, "email", request.key),
            sender=self.vendors.settings.resend_from,
            to=request.to,
            subject=request.subject,
            text=request.text,
            tags={"transaction": keys.tag_value(request.transaction_id), "step": request.key},
            scheduled_at=request.schedule(),
        )
        return SentEmail(key=request.key, email_id=email_id)
