"""Helpers shared by the vendor route modules."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onboarding.sandbox.errors import ApiError
from onboarding.sandbox.store import Store

Endpoint = Callable[[Request], Awaitable[Response]]
AuthCheck = Callable[[Request], Response | None]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def now() -> datetime:
    """Return the current UTC time.

    Returns:
        An aware datetime.
    """
    return datetime.now(UTC)


def iso_ms(moment: datetime) -> str:
    """Format a time as ``2024-05-01T12:34:56.789Z`` (HubSpot, Asana).

    Args:
        moment: An aware datetime.

    Returns:
        The formatted time.
    """
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_s(moment: datetime) -> str:
    """Format a time as ``2024-05-01T12:34:56Z`` (Zendesk, Calendly).

    Args:
        moment: An aware datetime.

    Returns:
        The formatted time.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def store_of(request: Request) -> Store:
    """Return the store of the app serving a request.

    Args:
        request: The request.

    Returns:
        The store.
    """
    store: Store = request.app.state.store
    return store


def token_for(request: Request, vendor: str) -> str:
    """Return the credential the sandbox accepts for a vendor.

    Args:
        request: The request.
        vendor: The vendor name.

    Returns:
        The accepted token.
    """
    tokens: dict[str, str] = request.app.state.tokens
    return tokens[vendor]


def bearer_token(request: Request) -> str | None:
    """Extract the token of an ``Authorization: Bearer <token>`` header.

    Args:
        request: The request.

    Returns:
        The token; ``None`` when the header is missing or not a bearer header.
    """
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """Decode an ``Authorization: Basic`` header.

    Args:
        request: The request.

    Returns:
        ``(user, password)``, or ``None`` when absent or malformed.
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def has_authorization(request: Request) -> bool:
    """Tell whether the request carries any ``Authorization`` header.

    Args:
        request: The request.

    Returns:
        Whether the header is present and non-empty.
    """
    return bool(request.headers.get("authorization", "").strip())


async def json_body(request: Request, invalid: Callable[[str], Response]) -> Any:
    """Decode the JSON request body.

    Args:
        request: The request.
        invalid: Builds the vendor's error response from a message.

    Returns:
        The decoded body, or ``None`` when the body is empty.

    Raises:
        ApiError: When the body is not valid JSON.
    """
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(invalid(f"Invalid JSON: {exc}")) from exc


def guard(check: AuthCheck, endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so the vendor's auth check runs first.

    Args:
        check: Returns an error response when the request is not authorised.
        endpoint: The real endpoint.

    Returns:
        The guarded endpoint.
    """

    async def guarded(request: Request) -> Response:
        denied = check(request)
        if denied is not None:
            return denied
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    return guarded


def route(path: str, endpoint: Endpoint, methods: list[str], check: AuthCheck) -> Route:
    """Build a route whose endpoint is protected by ``check``.

    Args:
        path: The route path template.
        endpoint: The endpoint.
        methods: The accepted methods.
        check: The vendor's auth check.

    Returns:
        The route.
    """
    return Route(path, guard(check, endpoint), methods=methods)


def catch_all(check: AuthCheck, not_found: Callable[[Request], Response]) -> Route:
    """A last route answering unknown paths with the vendor's 404 (after auth).

    Args:
        check: The vendor's auth check.
        not_found: Builds the vendor's 404 response.

    Returns:
        The route.
    """

    async def unknown(request: Request) -> Response:
        return not_found(request)

    return Route("/{rest:path}", guard(check, unknown), methods=ALL_METHODS)


def public(record: dict[str, Any], hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drop bookkeeping keys (``_``-prefixed and ``hidden``) from a stored record.

    Args:
        record: The stored record.
        hidden: Further keys to drop.

    Returns:
        A copy without those keys.
    """
    return {k: v for k, v in record.items() if not k.startswith("_") and k not in hidden}
