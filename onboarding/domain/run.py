"""The state of one onboarding run, as the workflow keeps it and its ``status`` query shows it.

Plain pydantic models, no Temporal: the same shapes are read by the CLI, the tests and the demo.
No field default reads the clock or a random source (workflow code must stay deterministic).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.audit import AuditEntry
from onboarding.domain.errors import Category
from onboarding.domain.stages import Stage
from onboarding.domain.validation import FieldProblem


class TriggerSource(BaseModel):
    """The business event that started the run."""

    system: str = Field(description="stripe, docusign, crm, or manual.")
    event_type: str
    event_id: str | None = None
    object_id: str = Field(description="The business object (invoice, envelope, deal) ID.")


class OnboardingInput(BaseModel):
    """Input of the onboarding workflow; its workflow ID is ``transaction_id``."""

    transaction_id: str
    source: TriggerSource
    payload: dict[str, Any]
    received_at: datetime


class StageEntry(BaseModel):
    """One stage a run went through, with when and who owned it."""

    stage: Stage
    owner: str
    entered_at: datetime
    left_at: datetime | None = None


class LinkedRecords(BaseModel):
    """IDs of everything the run created or matched, system by system."""

    crm_company_id: str | None = None
    crm_contact_id: str | None = None
    project_gid: str | None = None
    task_gids: dict[str, str] = Field(default_factory=dict)
    support_org_id: int | None = None
    support_user_id: int | None = None
    scheduling_link: str | None = None
    email_ids: dict[str, str] = Field(default_factory=dict)
    created: list[str] = Field(
        default_factory=list,
        description="Records this run created (not matched), in creation order: what a "
        "rollback may archive.",
    )


class MatchCandidate(BaseModel):
    """One CRM company an ambiguous match could mean."""

    id: str
    name: str
    domain: str | None = None


class ExceptionItem(BaseModel):
    """A step that cannot proceed, parked in front of a named owner."""

    id: str
    transaction_id: str
    idempotency_key: str
    customer_name: str | None
    customer_domain: str | None
    category: Category
    system: str
    step: str
    message: str
    http_status: int | None = None
    attempts: int = 0
    next_retry_at: datetime | None = None
    sla_due_at: datetime | None = None
    owner: str
    safe_actions: list[str]
    candidates: list[MatchCandidate] = Field(default_factory=list)
    missing_fields: list[FieldProblem] = Field(default_factory=list)
    opened_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None


class QaCheck(BaseModel):
    """One automated readiness check before live."""

    name: str
    ok: bool
    detail: str = ""


class SlaState(BaseModel):
    """One SLA clock of a run: a stage, an exception item, or the nudges for missing input."""

    clock: str
    owner: str
    priority: str | None = None
    started_at: datetime
    at_risk_at: datetime
    due_at: datetime
    state: str = Field(description="on-track, at-risk or breached (as of the query).")


class NoticeRecord(BaseModel):
    """An alert the run sent: at risk, breached, escalated, nudge, or a terminal failure."""

    at: datetime
    clock: str
    kind: str
    recipients: list[str]
    subject: str


class ManualTask(BaseModel):
    """A step the rules make a person's task instead of an automated call."""

    step: str
    owner: str
    created_at: datetime
    note: str


class SignOff(BaseModel):
    """The manual QA sign-off before live."""

    actor: str
    role: str
    note: str
    at: datetime


class ScopeChange(BaseModel):
    """A requested change of scope: work freezes until it is approved."""

    id: str
    requested_by: str
    reason: str
    items: list[str]
    requested_at: datetime
    task_gids: list[str] = Field(default_factory=list)
    decision: str | None = None


class RunStatus(BaseModel):
    """What the ``status`` query answers: everything a case owner needs about one run."""

    transaction_id: str
    stage: Stage
    customer_name: str | None
    customer_domain: str | None
    tier: str | None
    case_owner: str
    rules_version: str | None
    rules_sha256: str | None
    source: TriggerSource
    stages: list[StageEntry]
    linked: LinkedRecords
    open_exception: ExceptionItem | None
    exceptions: list[ExceptionItem]
    qa: list[QaCheck]
    audit: list[AuditEntry]
    team: str | None = None
    escalation_owner: str | None = None
    slas: list[SlaState] = Field(default_factory=list)
    notices: list[NoticeRecord] = Field(default_factory=list)
    manual_tasks: list[ManualTask] = Field(default_factory=list)
    awaiting: str | None = Field(default=None, description="What the run waits for, if anything.")
    sign_off: SignOff | None = None
    scope_changes: list[ScopeChange] = Field(default_factory=list)


class OnboardingResult(BaseModel):
    """How a run ended."""

    transaction_id: str
    stage: Stage
    linked: LinkedRecords
    manual_exceptions: int


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
