"""The one place vendor HTTP calls are made and their failures classified."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from onboarding.domain.errors import ErrorType, VendorFailure, classify_response


@dataclass(frozen=True)
class VendorCall:
    """One HTTP call to a vendor, as an observer (the worker's metrics) sees it.

    Attributes:
        system: Vendor name, e.g. ``hubspot``.
        method: HTTP method.
        status: The HTTP status (``"200"``, ``"429"``, ``"503"``...), or ``"timeout"`` /
            ``"connection-error"`` when no response came back.
        seconds: How long the call took.
        retry_after_seconds: The vendor's ``Retry-After``, when it sent one.
    """

    system: str
    method: str
    status: str
    seconds: float
    retry_after_seconds: float | None = None


#: Told of every vendor call once it is over. It must be quick and must not raise: a failing
#: observer is ignored, never allowed to fail the call it observes.
CallObserver = Callable[[VendorCall], None]


def observe(
    observer: CallObserver | None,
    system: str,
    method: str,
    status: str,
    started: float,
    retry_after: float | None = None,
) -> None:
    """Tell ``observer`` (if any) about one call that began at ``started`` (monotonic clock)."""
    if observer is None:
        return
    try:
        observer(VendorCall(system, method, status, time.monotonic() - started, retry_after))
    except Exception:  # metrics must never break a vendor call
        pass


class VendorClient:
    """Base of the vendor clients: a base URL, a bearer token, and classified failures.

    Args:
        system: Vendor name used in failures and exception items.
        base_url: Where the vendor's API lives (the sandbox or the real vendor).
        token: Bearer token or API key.
        timeout: Per-request timeout in seconds.
        transport: Optional httpx transport (connection pooling is per client).
        on_call: Told of every call once it is over (status, duration), e.g. to count calls
            by status for the worker's metrics.
    """

    system = "vendor"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self._on_call = on_call
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
            VendorFailure: classified by :func:`onboarding.domain.errors.classify_response`.
        """
        started = time.monotonic()
        try:
            response = await self._http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            observe(self._on_call, self.system, method, "timeout", started)
            raise VendorFailure(
                ErrorType.TIMEOUT, self.system, f"{method} {path} timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            observe(self._on_call, self.system, method, "connection-error", started)
            raise VendorFailure(
                ErrorType.CONNECTION_ERROR,
                self.system,
                f"{method} {path}: {exc or type(exc).__name__}",
            ) from None
        failure = None
        if not (response.is_success or response.status_code in ok_statuses):
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            failure = classify_response(
                self.system,
                response.status_code,
                body=body,
                retry_after=response.headers.get("Retry-After"),
            )
        observe(
            self._on_call,
            self.system,
            method,
            str(response.status_code),
            started,
            failure.retry_after_seconds if failure else None,
        )
        if failure is None:
            return response
        raise failure
