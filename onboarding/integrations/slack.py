"""Slack incoming webhook: chat alerts for SLAs at risk or breached and terminal failures."""

from __future__ import annotations

import httpx

from onboarding.domain.errors import ErrorType, VendorFailure, classify_response
from onboarding.domain.text import escape_chat


class SlackWebhook:
    """Posts messages to one incoming webhook URL (the URL is the credential)."""

    system = "slack"

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self._url = url
        self._http = httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def post(self, text: str) -> None:
        """Post one message as plain text; Slack answers ``ok`` in plain text.

        The text carries values from events (customer names, messages): ``&``, ``<`` and ``>``
        are escaped as Slack asks, so nothing can ping a channel or disguise a link, and
        ``mrkdwn`` is off, so nothing can format itself either.
        """
        try:
            response = await self._http.post(
                self._url, json={"text": escape_chat(text), "mrkdwn": False}
            )
        except httpx.TimeoutException:
            raise VendorFailure(ErrorType.TIMEOUT, self.system, "webhook timed out") from None
        except httpx.TransportError as exc:
            raise VendorFailure(ErrorType.CONNECTION_ERROR, self.system, str(exc)) from None
        if not response.is_success:
            raise classify_response(
                self.system,
                response.status_code,
                body=response.text,
                retry_after=response.headers.get("Retry-After"),
            )
