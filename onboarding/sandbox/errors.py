"""Each vendor's own error bodies, and the exception the routes raise to send them."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

VENDORS: tuple[str, ...] = ("hubspot", "asana", "zendesk", "resend", "calendly", "slack")

ASANA_HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
HUBSPOT_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication "
    "and you can find more details at "
    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
RESEND_MISSING_KEY_MESSAGE = (
    "Missing API key in the authorization header. Include the following header "
    "Authorization: Bearer YOUR_API_KEY in the request."
)


class ApiError(Exception):
    """Raised by a route to answer with a ready-made (vendor-shaped) error response.

    Args:
        response: The response to send.
    """

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def vendor_for_path(path: str) -> str | None:
    """Return the vendor a request path belongs to.

    Args:
        path: The request path, e.g. ``/hubspot/crm/v3/objects/companies``.

    Returns:
        The vendor name, or ``None`` for paths outside every vendor prefix.
    """
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in VENDORS else None


def retry_headers(retry_after: int | None) -> dict[str, str]:
    """Build the ``Retry-After`` header when a delay is known.

    Args:
        retry_after: Seconds to wait, or ``None``.

    Returns:
        The headers to add to the response.
    """
    return {} if retry_after is None else {"Retry-After": str(retry_after)}


# --- HubSpot ---------------------------------------------------------------------------


def hubspot_error(
    status: int,
    message: str,
    category: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """HubSpot's standard error body.

    Args:
        status: The HTTP status.
        message: The human-readable message.
        category: HubSpot's error category, e.g. ``OBJECT_NOT_FOUND``.
        errors: Optional per-field error details.
        headers: Extra response headers.

    Returns:
        The response.
    """
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def hubspot_status_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """HubSpot's error body for a bare status code (used by fault injection).

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    if status == 429:
        body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "category": "RATE_LIMITS",
            "correlationId": str(uuid.uuid4()),
            "policyName": "SECONDLY",
        }
        return JSONResponse(body, status_code=status, headers=headers)
    known = {
        400: ("Invalid input JSON on line 1, column 1", "VALIDATION_ERROR"),
        401: (HUBSPOT_AUTH_MESSAGE, "INVALID_AUTHENTICATION"),
        403: (
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
        ),
        404: ("Object not found. objectId are usually numeric.", "OBJECT_NOT_FOUND"),
        409: ("Conflict", "CONFLICT"),
    }
    message, category = known.get(
        status, ("internal error", "INTERNAL_ERROR") if status >= 500 else ("error", "ERROR")
    )
    return hubspot_error(status, message, category, headers=headers)


# --- Asana -----------------------------------------------------------------------------


def asana_error(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Asana's error body: ``{"errors": [{"message": ..., "help": ...}]}``.

    Args:
        status: The HTTP status.
        message: The error message.
        headers: Extra response headers.
        **extra: Further keys for the error object (e.g. ``phrase``).

    Returns:
        The response.
    """
    error: dict[str, Any] = {"message": message, "help": ASANA_HELP, **extra}
    return JSONResponse({"errors": [error]}, status_code=status, headers=headers)


def asana_status_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Asana's error body for a bare status code.

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    if status >= 500:
        return asana_error(
            status, "Server Error", headers=headers, phrase="6 sad squid snuggle softly"
        )
    messages = {
        400: "Bad Request",
        401: "Not Authorized",
        402: "Payment Required",
        403: "Forbidden",
        404: "Not Found",
        429: (
            "You've made too many requests and hit a rate limit. "
            "Please retry after the given amount of time."
        ),
    }
    return asana_error(status, messages.get(status, "Error"), headers=headers)


# --- Zendesk ---------------------------------------------------------------------------


def zendesk_error(
    status: int,
    error: str,
    description: str | None = None,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Zendesk's error body: ``{"error": ..., "description": ..., "details": ...}``.

    Args:
        status: The HTTP status.
        error: The error code, e.g. ``RecordNotFound``.
        description: The description, omitted when ``None``.
        details: Per-field details, omitted when ``None``.
        headers: Extra response headers.

    Returns:
        The response.
    """
    body: dict[str, Any] = {"error": error}
    if description is not None:
        body["description"] = description
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def zendesk_status_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Zendesk's error body for a bare status code.

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    if status == 429:
        return zendesk_error(
            429,
            "APIRateLimitExceeded",
            "Number of allowed API requests per minute exceeded",
            headers=headers,
        )
    if status >= 500:
        return zendesk_error(status, "InternalError", headers=headers)
    known: dict[int, tuple[str, str | None]] = {
        400: ("InvalidValue", "Invalid request"),
        401: ("Couldn't authenticate you", None),
        403: (
            "Forbidden",
            "You do not have access to this page. Please contact the account owner "
            "of this help desk for further help.",
        ),
        404: ("RecordNotFound", "Not found"),
        409: ("DuplicateValue", "Conflict"),
        422: ("RecordInvalid", "Record validation errors"),
    }
    error, description = known.get(status, ("Error", None))
    return zendesk_error(status, error, description, headers=headers)


# --- Resend ----------------------------------------------------------------------------


def resend_error(
    status: int, message: str, name: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Resend's error body: ``{"statusCode": ..., "message": ..., "name": ...}``.

    Args:
        status: The HTTP status.
        message: The human-readable message.
        name: Resend's error name, e.g. ``validation_error``.
        headers: Extra response headers.

    Returns:
        The response.
    """
    return JSONResponse(
        {"statusCode": status, "message": message, "name": name},
        status_code=status,
        headers=headers,
    )


def resend_status_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Resend's error body for a bare status code.

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    known = {
        400: ("Invalid request.", "validation_error"),
        401: (RESEND_MISSING_KEY_MESSAGE, "missing_api_key"),
        403: ("API key is invalid", "invalid_api_key"),
        404: ("The requested endpoint does not exist.", "not_found"),
        405: ("Method is not allowed for the requested path.", "method_not_allowed"),
        409: (
            "Same idempotency key used with a different request payload",
            "invalid_idempotent_request",
        ),
        422: ("Invalid request.", "validation_error"),
        429: (
            "Too many requests. You can only make 2 requests per second. See rate limit "
            "response headers for more information. Or contact support to increase rate limit.",
            "rate_limit_exceeded",
        ),
    }
    if status >= 500:
        message, name = "An unexpected error occurred.", "internal_server_error"
    else:
        message, name = known.get(status, ("Error", "application_error"))
    return resend_error(status, message, name, headers=headers)


# --- Calendly --------------------------------------------------------------------------


def calendly_error(
    status: int,
    title: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Calendly's error body: ``{"title": ..., "message": ..., "details": [...]}``.

    Args:
        status: The HTTP status.
        title: The error title, e.g. ``Invalid Argument``.
        message: The human-readable message.
        details: Per-parameter details, omitted when ``None``.
        headers: Extra response headers.

    Returns:
        The response.
    """
    body: dict[str, Any] = {"title": title, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def calendly_status_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Calendly's error body for a bare status code.

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    known = {
        400: ("Invalid Argument", "The supplied parameters are invalid."),
        401: ("Unauthenticated", "The access token is invalid"),
        403: ("Permission Denied", "You do not have permission to access this resource."),
        404: ("Resource Not Found", "The server could not find the requested resource."),
        429: ("Too Many Requests", "You have exceeded the rate limit. Please try again later."),
    }
    if status >= 500:
        title, message = "Internal Server Error", "The server encountered an unexpected condition."
    else:
        title, message = known.get(status, ("Error", "The request could not be completed."))
    return calendly_error(status, title, message, headers=headers)


# --- Slack -----------------------------------------------------------------------------


def slack_error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    """Slack incoming-webhook errors are plain-text codes such as ``no_text``.

    Args:
        status: The HTTP status.
        code: The plain-text error code.
        headers: Extra response headers.

    Returns:
        The response.
    """
    return PlainTextResponse(code, status_code=status, headers=headers)


def slack_status_error(status: int, headers: dict[str, str] | None = None) -> Response:
    """Slack's webhook error for a bare status code.

    Args:
        status: The HTTP status.
        headers: Extra response headers.

    Returns:
        The response.
    """
    known = {
        400: "invalid_payload",
        403: "invalid_token",
        404: "no_service",
        410: "channel_is_archived",
        429: "rate_limited",
    }
    code = "internal_error" if status >= 500 else known.get(status, "error")
    return slack_error(status, code, headers)


_BY_VENDOR = {
    "hubspot": hubspot_status_error,
    "asana": asana_status_error,
    "zendesk": zendesk_status_error,
    "resend": resend_status_error,
    "calendly": calendly_status_error,
    "slack": slack_status_error,
}


def status_error(vendor: str | None, status: int, retry_after: int | None = None) -> Response:
    """Build the error response a vendor would send for ``status``.

    Args:
        vendor: The vendor name (``None`` gives a generic JSON body).
        status: The HTTP status.
        retry_after: Seconds for a ``Retry-After`` header, if any.

    Returns:
        The response.
    """
    headers = retry_headers(retry_after)
    factory = _BY_VENDOR.get(vendor or "")
    if factory is None:
        return JSONResponse({"error": f"HTTP {status}"}, status_code=status, headers=headers)
    return factory(status, headers)
