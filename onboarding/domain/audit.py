"""The audit trail: every automated decision, routing decision, check and person's action of a run.

A run writes its entries, in order, to the ledger (a database outside Temporal, so the record
outlives the namespace's retention); the ledger numbers them per transaction and chains their
hashes. Reports are computed from these entries alone, so the data keys documented on each
:class:`AuditAction` are a contract: add keys freely, never rename or drop one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from onboarding.domain.stages import Stage

#: The actor of every automated entry.
WORKER_ACTOR = "onboarding-worker"


class AuditAction(StrEnum):
    """What an entry records, and the ``data`` keys it carries (all values are strings)."""

    RULES_LOADED = "rules-loaded"
    """The rules the run keeps for its whole life. ``version``, ``sha256``, ``phase``."""
    RUN_STARTED = "run-started"
    """The trigger. ``system``, ``event_type``, ``object_id``, ``event_id``."""
    STAGE = "stage"
    """The run entered ``entry.stage``. ``owner``: who owns the stage."""
    CASE_OWNER_ASSIGNED = "case-owner-assigned"
    """Routing. ``owner``, ``escalation_owner``, ``team``, ``reason``."""
    PAYLOAD_VALID = "payload-valid"
    """The required-fields gate passed. ``tier``, ``customer``, ``domain``."""
    PAYLOAD_INCOMPLETE = "payload-incomplete"
    """The gate found problems. ``fields``: the field paths, comma-separated."""
    EVENT_MERGED = "event-merged"
    """A later event of the same transaction. ``event_type``, ``event_id``, ``fields`` (paths it
    supplied), ``conflicts`` (paths whose value differed and were kept)."""
    EXCEPTION_OPENED = "exception-opened"
    """A step that cannot proceed, parked in front of a person. ``exception_id``, ``category``,
    ``owner``, ``system``, ``step``, ``sla_due_at`` (ISO 8601), ``http_status`` (when any),
    ``fields`` (the field paths at fault, comma-separated, for missing-data and
    validation-error items)."""
    EXCEPTION_RESOLVED = "exception-resolved"
    """The item closed. ``exception_id``, ``category``, ``action`` (a safe action, ``cleared``
    when its cause went away, or ``cancelled``), ``reason``. The actor is who resolved it."""
    EXCEPTION_REASSIGNED = "exception-reassigned"
    """``exception_id``, ``owner`` (the new one), ``previous``, ``reason``."""
    PERSON_ACTION = "person-action"
    """A person acted on the run (a resolve, a cancel, a sign-off, a scope change): an override
    when it is not the automated path. ``action``, ``reason``, ``exception_id`` (when on an item).
    ``action`` is a safe action (``retry``, ``replay-from``, ``supply-data``, ``choose-match``,
    ``skip``, ``reassign``, ``approve``), ``cancel``, ``scope-change`` or ``sign-off``; reports
    count every one but ``sign-off`` (a gate the tier asks for) as a manual override."""
    STEP_DONE = "step-done"
    """A side effect done. ``step``, ``system``, ``kind`` (``crm_company``, ``crm_contact``,
    ``project``, ``support_org``, ``kickoff_link``, ``email``), ``record`` (its ID, or the
    booking URL), ``created`` (``true`` when the run created it, ``false`` when it matched what
    existed)."""
    STEP_NOT_AUTOMATED = "step-not-automated"
    """The rules make the step a person's task or turn it off. ``step``, ``system``, ``mode``,
    ``owner``."""
    QA_CHECK = "qa-check"
    """One readiness check. ``check``, ``ok`` (``true``/``false``), ``pass`` (1 for the first
    pass of the gate, 2 for the next...)."""
    AWAITING_SIGN_OFF = "awaiting-sign-off"
    """The run waits for the tier's manual QA sign-off. ``roles``: who may sign."""
    QA_SIGNED_OFF = "qa-signed-off"
    """The manual gate. ``role``, ``note``."""
    NOTICE = "notice"
    """An alert sent. ``key``, ``kind`` (``at-risk``, ``breached``, ``escalated``, ``nudge``,
    ``failure``, ``manual-task``, ``billing-hold``), ``clock``, ``recipients``, ``due_at``."""
    NOTICE_FAILED = "notice-failed"
    """An alert could not be sent. ``key``."""
    PAYMENT = "payment"
    """Billing reported a payment event. ``event`` (``failed``/``succeeded``), ``invoice_id``."""
    SCOPE_CHANGE = "scope-change"
    """A change of scope requested or decided. ``id``, ``decision``."""
    REPLAY = "replay"
    """A person asked to rerun stages. ``from_stage``."""
    ROLLBACK = "rollback"
    """One record rolled back (or found already gone). ``system``, ``record``, ``outcome``."""
    CANCELLED = "cancelled"
    """The run ended cancelled. ``rollback`` (``true``/``false``), ``via`` (``cli``,
    ``temporal``)."""
    LIVE = "live"
    """The run ended live: setup, customer communication and handoff complete."""
    FAILED = "failed"
    """The run ended failed (a defect or a configuration no person can resolve). ``error``."""


class AuditEntry(BaseModel):
    """One decision on the record: automated, routing, check, or a person's action."""

    at: datetime
    actor: str = Field(description=f"A person's email, or {WORKER_ACTOR!r} for the run itself.")
    action: str = Field(description="An AuditAction value (older runs wrote other names too).")
    stage: Stage
    detail: str = Field(description="What a person reads.")
    data: dict[str, str] = Field(default_factory=dict)
