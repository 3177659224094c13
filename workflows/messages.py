"""Messages people and billing send to a run: the ``resolve`` and ``cancel`` updates, and the
payment signals."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.run import PaymentFailed, PaymentSucceeded
from onboarding.domain.validation import FieldProblem

__all__ = [
    "JUSTIFIED_ACTIONS",
    "CancelRequest",
    "CancelResult",
    "PaymentFailed",
    "PaymentSucceeded",
    "ResolveRequest",
    "ResolveResult",
    "SafeAction",
    "ScopeChangeRequest",
    "ScopeChangeResult",
    "SignOffRequest",
    "SignOffResult",
]


class SafeAction(StrEnum):
    """What a person may do about an exception item."""

    RETRY = "retry"
    REPLAY_FROM = "replay-from"
    SUPPLY_DATA = "supply-data"
    CHOOSE_MATCH = "choose-match"
    SKIP = "skip"
    REASSIGN = "reassign"
    APPROVE = "approve"
    CANCEL = "cancel"


#: Actions that must carry a justification.
JUSTIFIED_ACTIONS = frozenset({SafeAction.SKIP, SafeAction.CANCEL, SafeAction.REASSIGN})


class ResolveRequest(BaseModel):
    """A person's action on the open exception item. Who and why are always recorded."""

    action: SafeAction
    actor: str
    reason: str = ""
    exception_id: str | None = None
    company_id: str | None = Field(default=None, description="For choose-match.")
    data: dict[str, Any] | None = Field(
        default=None, description="For supply-data: a JSON merge patch of the payload."
    )
    stage: str | None = Field(default=None, description="For replay-from: the stage to rerun.")
    owner: str | None = Field(default=None, description="For reassign: the new owner.")


class ResolveResult(BaseModel):
    """The run's answer to a resolve update."""

    exception_id: str
    action: SafeAction
    message: str
    remaining_problems: list[FieldProblem] = Field(default_factory=list)


class SignOffRequest(BaseModel):
    """A QA sign-off before live, by a member of one of the tier's sign-off roles."""

    actor: str
    note: str = ""


class SignOffResult(BaseModel):
    """The run's answer to a sign-off."""

    message: str
    role: str


class ScopeChangeRequest(BaseModel):
    """A change of scope: the run freezes, change-order tasks are created, billing is held
    until a scope approver approves (``resolve approve``)."""

    actor: str
    reason: str
    items: list[str]


class ScopeChangeResult(BaseModel):
    """The run's answer to a scope change."""

    id: str
    message: str


class CancelRequest(BaseModel):
    """Cancel a run. With ``rollback`` its own records are archived or closed, newest first."""

    actor: str
    reason: str
    rollback: bool = True


class CancelResult(BaseModel):
    """The run's answer to a cancel update."""

    transaction_id: str
    message: str
