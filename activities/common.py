"""What every vendor-calling activity shares: vendor failures raised in the shared taxonomy."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from onboarding.domain.errors import VendorFailure
from onboarding.integrations.settings import Vendors
from onboarding.runtime import metrics

P = ParamSpec("P")
R = TypeVar("R")


def application_error(failure: VendorFailure, **extra: Any) -> ApplicationError:
    """The Temporal form of a classified vendor failure."""
    details = {
        "system": failure.system,
        "http_status": failure.http_status,
        "fields": list(failure.fields),
        "attempt": activity.info().attempt if activity.in_activity() else None,
        **extra,
    }
    return ApplicationError(
        str(failure),
        details,
        type=failure.error_type.value,
        non_retryable=not failure.retryable,
        next_retry_delay=(
            timedelta(seconds=failure.retry_after_seconds)
            if failure.retry_after_seconds is not None
            else None
        ),
    )


def vendor_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise every :class:`VendorFailure` as an ``ApplicationError`` of the shared taxonomy."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except VendorFailure as failure:
            activity.logger.warning(
                "vendor call failed",
                extra={
                    "system": failure.system,
                    "error_type": failure.error_type.value,
                    "http_status": failure.http_status,
                    "attempt": activity.info().attempt,
                },
            )
            if failure.retryable:
                metrics.record_retry_delay(
                    failure.system, failure.error_type.value, failure.retry_after_seconds
                )
            raise application_error(failure) from None

    return wrapper


class VendorActivities:
    """Activities bound to the vendor clients of one worker process.

    Args:
        vendors: The vendor clients (one connection pool per vendor, shared by every run).
    """

    def __init__(self, vendors: Vendors) -> None:
        self.vendors = vendors
