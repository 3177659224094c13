"""One error taxonomy for every vendor response and every exception item.

An integration turns each HTTP response it cannot use into a :class:`VendorFailure` with
:func:`classify_response`; the activity layer raises it as a Temporal ``ApplicationError`` whose
``type`` is the failure's :class:`ErrorType`. Retry policies list the non-retryable types, and the
workflow maps a failure that ran out of attempts onto an exception-queue :class:`Category`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class ErrorType(StrEnum):
    """The ``type`` of every ``ApplicationError`` the activities raise."""

    RATE_LIMITED = "RateLimited"
    SERVER_ERROR = "ServerError"
    TIMEOUT = "Timeout"
    CONNECTION_ERROR = "ConnectionError"
    AUTH_ERROR = "AuthError"
    VALIDATION_ERROR = "ValidationError"
    NOT_FOUND = "NotFound"
    AMBIGUOUS_MATCH = "AmbiguousMatch"
    MISSING_DATA = "MissingData"


#: Types no retry can fix: a human must act (credentials, validation, an ambiguous match).
NON_RETRYABLE_ERROR_TYPES: tuple[str, ...] = (
    ErrorType.AUTH_ERROR,
    ErrorType.VALIDATION_ERROR,
    ErrorType.NOT_FOUND,
    ErrorType.AMBIGUOUS_MATCH,
    ErrorType.MISSING_DATA,
)


class Category(StrEnum):
    """What a run waits on a person for: the exception-queue categories, technical and business,
    and the planned gate of a manual QA sign-off (a wait, not an exception: reports count it
    apart, see :data:`GATE_CATEGORIES`)."""

    MISSING_DATA = "missing-data"
    AMBIGUOUS_MATCH = "ambiguous-match"
    RATE_LIMIT = "rate-limit"
    SERVER_ERROR = "server-error"
    AUTH_ERROR = "auth-error"
    VALIDATION_ERROR = "validation-error"
    PAYMENT_FAILED = "payment-failed"
    SCOPE_CHANGE = "scope-change"
    QA_FAILED = "qa-failed"
    QA_SIGN_OFF = "qa-sign-off"


#: Categories that are planned waits for a person, not failures.
GATE_CATEGORIES = frozenset({Category.QA_SIGN_OFF})


CATEGORY_OF: dict[ErrorType, Category] = {
    ErrorType.RATE_LIMITED: Category.RATE_LIMIT,
    ErrorType.SERVER_ERROR: Category.SERVER_ERROR,
    ErrorType.TIMEOUT: Category.SERVER_ERROR,
    ErrorType.CONNECTION_ERROR: Category.SERVER_ERROR,
    ErrorType.AUTH_ERROR: Category.AUTH_ERROR,
    ErrorType.VALIDATION_ERROR: Category.VALIDATION_ERROR,
    ErrorType.NOT_FOUND: Category.VALIDATION_ERROR,
    ErrorType.AMBIGUOUS_MATCH: Category.AMBIGUOUS_MATCH,
    ErrorType.MISSING_DATA: Category.MISSING_DATA,
}


def category_for(error_type: str | None) -> Category:
    """The exception-queue category for an ``ApplicationError`` type (unknown: server error)."""
    try:
        return CATEGORY_OF[ErrorType(error_type or "")]
    except ValueError:
        return Category.SERVER_ERROR


@dataclass(frozen=True)
class VendorFailure(Exception):
    """A vendor call that did not succeed, classified.

    Attributes:
        error_type: Where it sits in the taxonomy.
        system: The vendor system, e.g. ``hubspot``.
        message: What a person reads.
        http_status: The HTTP status, when there was a response.
        retry_after_seconds: The vendor's ``Retry-After``, when it sent one.
        fields: Field paths the vendor rejected, for validation errors.
    """

    error_type: ErrorType
    system: str
    message: str
    http_status: int | None = None
    retry_after_seconds: float | None = None
    fields: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{self.system}: {self.message}{status}"

    @property
    def retryable(self) -> bool:
        """Whether retrying the same request may succeed."""
        return self.error_type not in NON_RETRYABLE_ERROR_TYPES


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _vendor_message(body: Any) -> str | None:
    """Pull the human message out of the error bodies of the vendors we speak to."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
        if isinstance(body.get("description"), str):
            return f"{body.get('error', '')}: {body['description']}".strip(": ")
        if isinstance(body.get("error"), str):
            return str(body["error"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return None


def _vendor_fields(body: Any) -> tuple[str, ...]:
    """Field names a vendor's validation error points at (HubSpot, Zendesk, Calendly)."""
    found: list[str] = []
    if isinstance(body, dict):
        for err in body.get("errors") or []:
            if isinstance(err, dict):
                context = err.get("context") or {}
                found.extend(context.get("propertyName") or [])
        details = body.get("details")
        if isinstance(details, dict):
            found.extend(str(k) for k in details)
        elif isinstance(details, list):
            found.extend(str(d.get("parameter")) for d in details if isinstance(d, dict))
    return tuple(dict.fromkeys(f for f in found if f))


def classify_response(
    system: str, status: int, *, body: Any = None, retry_after: str | None = None
) -> VendorFailure:
    """Classify an unsuccessful vendor response by status: what a retry can fix (429, 5xx)
    and what only a person can (401/403, validation errors).

    Args:
        system: The vendor system name.
        status: The HTTP status code (>= 400).
        body: The decoded response body (JSON or text).
        retry_after: The raw ``Retry-After`` header, if any.
    """
    message = _vendor_message(body) or f"HTTP {status}"
    if status == 429:
        return VendorFailure(
            ErrorType.RATE_LIMITED, system, message, status, parse_retry_after(retry_after)
        )
    if status in (401, 403):
        return VendorFailure(ErrorType.AUTH_ERROR, system, message, status)
    if status == 404:
        return VendorFailure(ErrorType.NOT_FOUND, system, message, status)
    if status == 408:
        return VendorFailure(ErrorType.TIMEOUT, system, message, status)
    if status >= 500:
        return VendorFailure(
            ErrorType.SERVER_ERROR, system, message, status, parse_retry_after(retry_after)
        )
    return VendorFailure(
        ErrorType.VALIDATION_ERROR, system, message, status, fields=_vendor_fields(body)
    )
