"""The messages the onboarding workflow accepts (its updates' and signals' payloads), re-exported
from the domain so that starters, the CLI and tests import them from one place."""

from __future__ import annotations

from onboarding.domain.actions import (
    JUSTIFIED_ACTIONS,
    CancelRequest,
    CancelResult,
    PaymentFailed,
    PaymentSucceeded,
    ResolveRequest,
    ResolveResult,
    SafeAction,
    ScopeChangeRequest,
    ScopeChangeResult,
    SignOffRequest,
    SignOffResult,
)

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
