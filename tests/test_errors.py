"""The error taxonomy: every row of the brief's failure table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.common import application_error
from onboarding.domain.errors import (
    Category,
    ErrorType,
    category_for,
    classify_response,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "error_type", "retryable", "category"),
    [
        (429, ErrorType.RATE_LIMITED, True, Category.RATE_LIMIT),
        (500, ErrorType.SERVER_ERROR, True, Category.SERVER_ERROR),
        (503, ErrorType.SERVER_ERROR, True, Category.SERVER_ERROR),
        (401, ErrorType.AUTH_ERROR, False, Category.AUTH_ERROR),
        (403, ErrorType.AUTH_ERROR, False, Category.AUTH_ERROR),
        (400, ErrorType.VALIDATION_ERROR, False, Category.VALIDATION_ERROR),
        (422, ErrorType.VALIDATION_ERROR, False, Category.VALIDATION_ERROR),
        (408, ErrorType.TIMEOUT, True, Category.SERVER_ERROR),
    ],
)
def test_status_classification(
    status: int, error_type: ErrorType, retryable: bool, category: Category
) -> None:
    failure = classify_response("hubspot", status, body={"message": "boom"})
    assert failure.error_type == error_type
    assert failure.retryable is retryable
    assert category_for(failure.error_type) == category
    assert str(failure) == f"hubspot: boom (HTTP {status})"


def test_retry_after_seconds_and_http_date() -> None:
    assert classify_response("asana", 429, retry_after="7").retry_after_seconds == 7.0
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sat, 21 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(("retry_after", "delay"), [("7", 7.0), ("0", 0.0), ("1.5", 1.5)])
def test_a_429_with_retry_after_becomes_the_next_retry_delay(
    retry_after: str, delay: float
) -> None:
    """Temporal waits the vendor's Retry-After, not the retry policy's backoff, before the
    next attempt: the activity error carries it as ``next_retry_delay``."""
    error = application_error(classify_response("zendesk", 429, retry_after=retry_after))
    assert error.type == "RateLimited" and not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=delay)
    assert error.details[0]["http_status"] == 429


def test_without_retry_after_the_retry_policy_decides_the_delay() -> None:
    assert application_error(classify_response("zendesk", 429)).next_retry_delay is None
    assert application_error(classify_response("asana", 503)).next_retry_delay is None
    auth = application_error(classify_response("calendly", 401, retry_after="30"))
    assert auth.non_retryable and auth.next_retry_delay is None


def test_vendor_messages_and_fields_are_extracted() -> None:
    hubspot = classify_response(
        "hubspot",
        400,
        body={
            "message": "Property values were not valid",
            "errors": [{"message": "bad", "context": {"propertyName": ["email"]}}],
        },
    )
    assert hubspot.fields == ("email",)
    asana = classify_response("asana", 401, body={"errors": [{"message": "Not Authorized"}]})
    assert asana.message == "Not Authorized"
    zendesk = classify_response(
        "zendesk",
        422,
        body={
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"name": [{"description": "taken"}]},
        },
    )
    assert zendesk.fields == ("name",)
    assert zendesk.message == "RecordInvalid: Record validation errors"
