"""What people may do to a run, and the messages they send: the safe actions on an exception item,
``resolve``, ``cancel``, ``sign-off`` and ``scope-change``, and billing's payment events.

The safe actions each kind of item allows are decided here, so the exception desk, the CLI and
the tests read one policy.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.errors import Category
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
    SIGN_OFF = "sign-off"
    """Only through the sign-off command: a member of the tier's sign-off roles signs off."""
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


class PaymentFailed(BaseModel):
    """Billing reports a failed payment for this transaction (the run's ``payment_failed`` signal)."""

    invoice_id: str
    event_id: str | None = None
    reason: str = ""
    attempt_count: int | None = None


class PaymentSucceeded(BaseModel):
    """Billing reports a later successful payment (the run's ``payment_succeeded`` signal)."""

    invoice_id: str
    event_id: str | None = None


def safe_actions(category: Category, *, skippable: bool = True) -> list[SafeAction]:
    """What a person may do about an item of ``category``, in the order the queue lists them.

    Args:
        category: The item's category.
        skippable: Whether the failed step may be skipped or rerun from an earlier stage; the
            CRM steps may not, because nothing downstream may run without a confirmed CRM
            company.
    """
    if category == Category.MISSING_DATA:
        return [SafeAction.SUPPLY_DATA, SafeAction.REASSIGN, SafeAction.CANCEL]
    if category == Category.AMBIGUOUS_MATCH:
        return [SafeAction.CHOOSE_MATCH, SafeAction.RETRY, SafeAction.REASSIGN, SafeAction.CANCEL]
    if category == Category.SCOPE_CHANGE:
        return [SafeAction.APPROVE, SafeAction.REASSIGN, SafeAction.CANCEL]
    if category == Category.QA_SIGN_OFF:
        return [SafeAction.SIGN_OFF, SafeAction.REASSIGN, SafeAction.CANCEL]
    if category == Category.PAYMENT_FAILED:
        return [SafeAction.SKIP, SafeAction.REASSIGN, SafeAction.CANCEL]
    if not skippable:
        return [SafeAction.RETRY, SafeAction.REASSIGN, SafeAction.CANCEL]
    return [
        SafeAction.RETRY,
        SafeAction.REPLAY_FROM,
        SafeAction.SKIP,
        SafeAction.REASSIGN,
        SafeAction.CANCEL,
    ]
