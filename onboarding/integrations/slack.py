"""Slack incoming webhook: chat alerts for SLAs at risk or breached and terminal failures."""

from __future__ import annotations

import httpx

from onboarding.domain.errors import ErrorType, VendorFailure, classify_response


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
        """Post one message; Slack answers ``ok`` in plain text."""
        try:
            response = await self._http.post(self._url, json={"text": text})
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
