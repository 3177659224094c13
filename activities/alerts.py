"""Alerts to people: SLA notices, manual tasks and terminal failures, by email and chat."""

from __future__ import annotations

from temporalio import activity

from activities.common import VendorActivities, vendor_errors
from activities.models import (
    NotifyInput,
    NotifyOutput,
)
from onboarding.domain import keys


class AlertActivities(VendorActivities):
    """Alerts by email and chat webhook."""

    @activity.defn
    @vendor_errors
    async def notify(self, request: NotifyInput) -> NotifyOutput:
        """An alert by email (idempotent per key) and to the chat webhook."""
        email_id = await self.vendors.email.send(
            idempotency_key=keys.idempotency_key(request.transaction_id, "notify", request.key),
            sender=self.vendors.settings.resend_from,
            to=request.recipients,
            subject=request.subject,
            text=request.text,
            tags={"transaction": keys.tag_value(request.transaction_id), "step": "alert"},
        )
        if request.chat:
            await self.vendors.chat.post(f"{request.subject}\n{request.text}")
        return NotifyOutput(email_id=email_id, chat_posted=request.chat)
