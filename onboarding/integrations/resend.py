"""Resend: transactional email with an ``Idempotency-Key`` per send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onboarding.domain.text import header_text
from onboarding.integrations.http import VendorClient


class ResendClient(VendorClient):
    """Email."""

    system = "resend"

    async def send(
        self,
        *,
        idempotency_key: str,
        sender: str,
        to: str | list[str],
        subject: str,
        text: str,
        tags: dict[str, str],
        scheduled_at: datetime | None = None,
    ) -> str:
        """Send (or schedule) one email; the same key and body again return the same ID."""
        body: dict[str, Any] = {
            "from": sender,
            "to": [to] if isinstance(to, str) else list(to),
            "subject": header_text(subject),  # one line: no CR LF from a customer name
            "text": text,
            "tags": [{"name": k, "value": v} for k, v in tags.items()],
        }
        if scheduled_at is not None:
            body["scheduled_at"] = scheduled_at.isoformat()
        response = await self.request(
            "POST", "/emails", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return str(response.json()["id"])

    async def get(self, email_id: str) -> dict[str, Any]:
        """One email (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/emails/{email_id}")
        return dict(response.json())

    async def cancel(self, email_id: str) -> None:
        """Cancel a scheduled email (rollback)."""
        await self.request("POST", f"/emails/{email_id}/cancel", ok_statuses=(404, 422))
