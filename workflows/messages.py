"""Messages people send to a run: the ``resolve`` update and its answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class SafeAction(StrEnum):
    """What a person may do about an exception item."""

    RETRY = "retry"
    SKIP = "skip"
    CANCEL = "cancel"
    CHOOSE_MATCH = "choose-match"
    SUPPLY_DATA = "supply-data"


class ResolveRequest(BaseModel):
    """A person's action on the open exception item. Who and why are always recorded."""

    action: SafeAction
    actor: str = Field(min_length=1)
    reason: str = ""
    exception_id: str | None = None
    company_id: str | None = Field(default=None, description="For choose-match.")
    data: dict[str, Any] | None = Field(
        default=None, description="For supply-data: a JSON merge patch of the payload."
    )


class ResolveResult(BaseModel):
    """The run's answer to a resolve update."""

    exception_id: str
    action: SafeAction
    accepted: bool


class PaymentFailed(BaseModel):
    """Billing reports a failed payment for this transaction (signal ``payment_failed``)."""

    invoice_id: str
    event_id: str | None = None
    reason: str = ""
    attempt_count: int | None = None


class PaymentSucceeded(BaseModel):
    """Billing reports a later successful payment (signal ``payment_succeeded``)."""

    invoice_id: str
    event_id: str | None = None
