"""The one place vendor HTTP calls are made and their failures classified."""

from __future__ import annotations

from typing import Any

import httpx

from onboarding.domain.errors import ErrorType, VendorFailure, classify_response


class VendorClient:
    """Base of the vendor clients: a base URL, a bearer token, and classified failures.

    Args:
        system: Vendor name used in failures and exception items.
        base_url: Where the vendor's API lives (the sandbox or the real vendor).
        token: Bearer token or API key.
        timeout: Per-request timeout in seconds.
        transport: Optional httpx transport (connection pooling is per client).
    """

    system = "vendor"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; any response outside 2xx and ``ok_statuses`` raises.

        Raises:
            VendorFailure: classified by the brief's failure table.
        """
        try:
            response = await self._http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise VendorFailure(
                ErrorType.TIMEOUT, self.system, f"{method} {path} timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise VendorFailure(
                ErrorType.CONNECTION_ERROR,
                self.system,
                f"{method} {path}: {exc or type(exc).__name__}",
            ) from None
        if response.is_success or response.status_code in ok_statuses:
            return response
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise classify_response(
            self.system,
            response.status_code,
            body=body,
            retry_after=response.headers.get("Retry-After"),
        )
