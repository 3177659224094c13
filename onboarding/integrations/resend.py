"""Resend: transactional email with an ``Idempotency-Key`` per send.

The key is the transaction and the step, so a retried send returns the email the first attempt
sent. Resend answers 409 ``invalid_idempotent_request`` when the key comes back with a different
body: an email for this step of this transaction was accepted already, by an earlier incarnation
of the run (re-created after the Temporal store was lost, its case owner or schedule computed
anew). That email is the answer: it is looked up among the recent sends and adopted, never sent
twice. Resend keeps keys for 24 hours, the window this lookup covers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.text import header_text
from onboarding.integrations.http import VendorClient

#: How long Resend remembers an idempotency key.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
#: Pages of the email list read when adopting an earlier send (100 emails each).
MAX_LIST_PAGES = 50


def parse_created_at(value: str) -> datetime | None:
    """Resend's ``created_at`` (``2023-04-03 22:13:42.674981+00`` or ISO 8601)."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 3 and text[-3] in "+-" and text[-2:].isdigit():
        text += ":00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        """Send (or schedule) one email once per key; returns its ID.

        The same key and body again return the same ID; the same key with another body returns
        the email sent under that key earlier (see the module's docstring).
        """
        recipients = [to] if isinstance(to, str) else list(to)
        body: dict[str, Any] = {
            "from": sender,
            "to": recipients,
            "subject": header_text(subject),  # one line: no CR LF from a customer name
            "text": text,
            "tags": [{"name": k, "value": v} for k, v in tags.items()],
        }
        if scheduled_at is not None:
            body["scheduled_at"] = scheduled_at.isoformat()
        response = await self.request(
            "POST",
            "/emails",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            ok_statuses=(409,),
        )
        if response.status_code != 409:
            return str(response.json()["id"])
        error = response.json() if response.content else {}
        name = str(error.get("name") or "")
        if name == "concurrent_idempotent_requests":
            # The first request with this key is still being processed: ask again shortly.
            raise VendorFailure(
                ErrorType.RATE_LIMITED,
                self.system,
                f"send {idempotency_key} still in progress",
                409,
                retry_after_seconds=1.0,
            )
        earlier = await self.find_recent(recipients, subject)
        if earlier is None:
            raise VendorFailure(
                ErrorType.VALIDATION_ERROR,
                self.system,
                f"an email was sent under key {idempotency_key} with other content, and no "
                f"recent email to {', '.join(recipients)} with subject {subject!r} was found "
                "to adopt",
                409,
            )
        return earlier

    async def find_recent(self, to: list[str], subject: str) -> str | None:
        """The newest email of the idempotency window to exactly ``to`` with ``subject``."""
        cutoff = datetime.now(UTC) - IDEMPOTENCY_WINDOW
        params: dict[str, Any] = {"limit": 100}
        for _ in range(MAX_LIST_PAGES):
            page = (await self.request("GET", "/emails", params=params)).json()
            items = page.get("data") or []
            for email in items:
                if sorted(email.get("to") or []) == sorted(to) and email.get("subject") == subject:
                    return str(email["id"])
            oldest = parse_created_at(str(items[-1].get("created_at", ""))) if items else None
            if not page.get("has_more") or not items or (oldest and oldest < cutoff):
                return None
            params["after"] = items[-1]["id"]
        return None

    async def get(self, email_id: str) -> dict[str, Any]:
        """One email (404 raises ``NotFound``)."""
        response = await self.request("GET", f"/emails/{email_id}")
        return dict(response.json())

    async def cancel(self, email_id: str) -> bool:
        """Cancel a scheduled email (rollback); False when it is gone or not scheduled."""
        response = await self.request("POST", f"/emails/{email_id}/cancel", ok_statuses=(404, 422))
        return response.is_success
