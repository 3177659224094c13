"""Slack incoming webhook: chat alerts for SLAs at risk or breached and terminal failures."""

from __future__ import annotations

import time

import httpx

from onboarding.domain.errors import ErrorType, VendorFailure, classify_response
from onboarding.domain.text import escape_chat
from onboarding.integrations.http import CallObserver, observe


class SlackWebhook:
    """Posts messages to one incoming webhook URL (the URL is the credential)."""

    system = "slack"

    def __init__(
        self, url: str, *, timeout: float = 15.0, on_call: CallObserver | None = None
    ) -> None:
        self._url = url
        self._on_call = on_call
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
        started = time.monotonic()
        try:
            response = await self._http.post(
                self._url, json={"text": escape_chat(text), "mrkdwn": False}
            )
        except httpx.TimeoutException:
            observe(self._on_call, self.system, "POST", "timeout", started)
            raise VendorFailure(ErrorType.TIMEOUT, self.system, "webhook timed out") from None
        except httpx.TransportError as exc:
            observe(self._on_call, self.system, "POST", "connection-error", started)
            raise VendorFailure(ErrorType.CONNECTION_ERROR, self.system, str(exc)) from None
        failure = None
        if not response.is_success:
            failure = classify_response(
                self.system,
                response.status_code,
                body=response.text,
                retry_after=response.headers.get("Retry-After"),
            )
        observe(
            self._on_call,
            self.system,
            "POST",
            str(response.status_code),
            started,
            failure.retry_after_seconds if failure else None,
        )
        if failure is not None:
            raise failure
