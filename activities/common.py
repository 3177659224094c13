"""What every vendor-calling activity shares: vendor failures raised in the shared taxonomy,
and recorded in the ledger for the report's API health."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from onboarding.domain.errors import VendorFailure
from onboarding.integrations.settings import Vendors
from onboarding.ledger.models import VendorFailureRecord
from onboarding.ledger.store import Ledger
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


def next_retry_delay(info: activity.Info, failure: VendorFailure) -> float | None:
    """Seconds Temporal waits before the next attempt after ``failure``: the vendor's
    ``Retry-After`` when it sent one, else the retry policy's backoff; None when no attempt
    follows (not retryable, or the last attempt)."""
    policy = info.retry_policy
    if not failure.retryable or policy is None:
        return None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return None
    if failure.retry_after_seconds is not None:
        return failure.retry_after_seconds
    initial = policy.initial_interval.total_seconds()
    delay = initial * policy.backoff_coefficient ** (info.attempt - 1)
    ceiling = policy.maximum_interval.total_seconds() if policy.maximum_interval else initial * 100
    return min(delay, ceiling)


async def record_vendor_failure(ledger: Ledger | None, failure: VendorFailure) -> None:
    """Keep the failure in the ledger (once per workflow, activity and attempt). Never raises:
    the ledger being down must not change what the activity does."""
    if ledger is None or not activity.in_activity():
        return
    info = activity.info()
    record = VendorFailureRecord(
        workflow_id=info.workflow_id or "",
        run_id=info.workflow_run_id or "",
        activity_id=info.activity_id,
        attempt=info.attempt,
        activity_type=info.activity_type,
        system=failure.system,
        error_type=failure.error_type.value,
        http_status=failure.http_status,
        retry_after_seconds=failure.retry_after_seconds,
        retry_delay_seconds=next_retry_delay(info, failure),
        # Temporal's time for the attempt (the time-skipping server's too), like the entries'.
        at=info.current_attempt_scheduled_time or datetime.now(UTC),
    )
    try:
        await asyncio.to_thread(ledger.record_vendor_failure, record)
    except Exception as exc:
        activity.logger.warning("vendor failure not recorded in the ledger: %s", exc)


def vendor_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise every :class:`VendorFailure` as an ``ApplicationError`` of the shared taxonomy,
    after recording it in the ledger of the activity's class (``self.ledger``), if it has one."""

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
            await record_vendor_failure(getattr(args[0], "ledger", None) if args else None, failure)
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
        ledger: Where vendor failures are recorded for the report (none: not recorded).
    """

    def __init__(self, vendors: Vendors, *, ledger: Ledger | None = None) -> None:
        self.vendors = vendors
        self.ledger = ledger
