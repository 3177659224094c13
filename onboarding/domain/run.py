"""The state of one onboarding run: :class:`RunState`, everything the workflow decides on, in one
model; and :class:`RunStatus`, what its ``status`` query shows.

Plain pydantic models, no Temporal: the same shapes are read by the CLI, the tests and the demo.
No field default reads the clock or a random source (workflow code must stay deterministic).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.actions import CancelRequest, PaymentFailed
from onboarding.domain.audit import WORKER_ACTOR, AuditEntry
from onboarding.domain.errors import Category
from onboarding.domain.payload import OnboardingPayload
from onboarding.domain.rules import RulesSnapshot
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


class EventReceived(BaseModel):
    """A billing, signature or CRM event for a transaction (the run's ``event_received`` signal).

    Every delivery is sent to the transaction's run (signal-with-start), so the run that the
    first event starts also receives the later ones and keeps what they add.
    """

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
    audit_written: int = Field(
        default=0,
        description="Entries 1..this are in the ledger (read them there); ``audit`` holds the "
        "ones after.",
    )
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


class RunState(BaseModel):
    """Everything one onboarding run keeps and decides on.

    The workflow holds exactly one of these; the ``status`` query is a view of it
    (:meth:`status`), and it is what a continue-as-new would carry.
    """

    transaction_id: str
    source: TriggerSource
    received_at: datetime
    document: dict[str, Any] = Field(
        description="The payload as delivered, then merged with what people and later events "
        "supplied; validated into ``payload``."
    )
    payload: OnboardingPayload | None = None
    rules: RulesSnapshot | None = None
    stage: Stage = Stage.RECEIVED
    stages: list[StageEntry] = Field(default_factory=list)
    case_owner: str = WORKER_ACTOR
    team: str | None = None
    escalation_owner: str | None = None
    linked: LinkedRecords = Field(default_factory=LinkedRecords)
    open_item: ExceptionItem | None = None
    exceptions: list[ExceptionItem] = Field(default_factory=list)
    qa: list[QaCheck] = Field(default_factory=list)
    payment_failure: PaymentFailed | None = None
    cancel: CancelRequest | None = None
    notices: list[NoticeRecord] = Field(default_factory=list)
    sent: list[str] = Field(default_factory=list, description="Keys of the notices sent.")
    manual_tasks: list[ManualTask] = Field(default_factory=list)
    awaiting: str | None = None
    sign_off: SignOff | None = None
    scope_changes: list[ScopeChange] = Field(default_factory=list)
    pending_scope_id: str | None = Field(
        default=None, description="The scope change the run is frozen for, until approved."
    )
    audit: list[AuditEntry] = Field(
        default_factory=list,
        description="The trail's entries not yet written to the ledger (all of them for runs "
        "that do not write to it).",
    )
    audit_written: int = Field(
        default=0, description="How many entries of the trail the ledger holds (1..this)."
    )
    document_version: int = Field(
        default=0, description="Bumped whenever a later event adds to the document."
    )
    done: bool = False

    @classmethod
    def start(cls, request: OnboardingInput) -> RunState:
        """The state of a run that has just received its event."""
        return cls(
            transaction_id=request.transaction_id,
            source=request.source,
            received_at=request.received_at,
            document=dict(request.payload),
        )

    def customer(self) -> tuple[str | None, str | None]:
        """The customer's legal name and domain, as far as they are known."""
        if self.payload is not None:
            return self.payload.customer.legal_name, self.payload.customer.domain
        customer = self.document.get("customer")
        if isinstance(customer, dict):
            name, domain = customer.get("legal_name"), customer.get("domain")
            return (
                name if isinstance(name, str) else None,
                domain if isinstance(domain, str) else None,
            )
        return None, None

    @property
    def pending_scope(self) -> ScopeChange | None:
        """The scope change waiting for approval, if any."""
        return next((c for c in self.scope_changes if c.id == self.pending_scope_id), None)

    def status(self, slas: list[SlaState]) -> RunStatus:
        """The ``status`` query's answer, with the SLA clocks as of now."""
        name, domain = self.customer()
        return RunStatus(
            transaction_id=self.transaction_id,
            stage=self.stage,
            customer_name=name,
            customer_domain=domain,
            tier=self.payload.customer.tier.value if self.payload else None,
            case_owner=self.case_owner,
            rules_version=self.rules.version if self.rules else None,
            rules_sha256=self.rules.sha256 if self.rules else None,
            source=self.source,
            stages=self.stages,
            linked=self.linked,
            open_exception=self.open_item,
            exceptions=self.exceptions,
            qa=self.qa,
            audit=self.audit,
            audit_written=self.audit_written,
            team=self.team,
            escalation_owner=self.escalation_owner,
            slas=slas,
            notices=self.notices,
            manual_tasks=self.manual_tasks,
            awaiting=self.awaiting,
            sign_off=self.sign_off,
            scope_changes=self.scope_changes,
        )
