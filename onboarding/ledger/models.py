"""What the ledger is given and what it answers: plain models, no database, safe to import
anywhere (workflow code included)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from onboarding.domain.audit import AuditEntry


class RunFacts(BaseModel):
    """What the report needs about a run that its entries do not carry. Each write replaces the
    previous facts field by field; a field left ``None`` keeps what the ledger holds."""

    customer_name: str | None = None
    customer_domain: str | None = None
    tier: str | None = None
    phase: str | None = Field(default=None, description="The rollout phase the run runs under.")
    rules_version: str | None = None
    trigger_system: str | None = Field(default=None, description="stripe, docusign, crm...")
    trigger_event_type: str | None = None
    trigger_object_id: str | None = None


class SequencedEntry(BaseModel):
    """One audit entry and its position in the run's trail (the first entry is 1)."""

    seq: int = Field(ge=1)
    entry: AuditEntry


class AppendResult(BaseModel):
    """What one write did. ``last_seq`` is the highest position the ledger holds for the run
    (its entries 1..last_seq are all there): the next write starts after it."""

    written: int = 0
    already_there: int = 0
    conflicts: list[int] = Field(
        default_factory=list,
        description="Positions already held with different content: the ledger keeps the first "
        "write (rows are immutable).",
    )
    last_seq: int = 0


class VendorFailureRecord(BaseModel):
    """One classified vendor failure met by one activity attempt."""

    workflow_id: str
    run_id: str
    activity_id: str
    attempt: int
    activity_type: str
    system: str
    error_type: str
    http_status: int | None = None
    retry_after_seconds: float | None = None
    retry_delay_seconds: float | None = Field(
        default=None,
        description="How long Temporal waits before the next attempt (Retry-After, else the "
        "retry policy's backoff); None when no attempt follows.",
    )
    at: datetime


class LedgerRun(RunFacts):
    """A run as the ledger knows it."""

    transaction_id: str
