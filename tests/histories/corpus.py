"""What a recorded history shows, read from its events alone.

The replay corpus is a set of JSON histories under ``tests/histories/<version>/``. The replay test
checks that they cover every shape a run can wait or end in, and it decides that from the events
(an ``ExceptionCategory`` upsert, an accepted ``resolve`` update and its action, a notice the SLA
watcher sent...), never from INDEX.json, so a mislabelled or missing file cannot pass for a
covered shape. The recorder writes INDEX.json from the same facts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

HISTORIES = Path(__file__).resolve().parent
INDEX = "INDEX.json"

# Names the history speaks in: search attribute keys, update, signal and activity names. They are
# the workflow's contract with every history ever recorded, so they are spelled out here rather
# than imported: renaming one in the workflow must fail the replay, not silently follow along.
CATEGORY_KEY = "ExceptionCategory"
STAGE_KEY = "OnboardingStage"
TIER_KEY = "OnboardingTier"
RESOLVE = "resolve"
CANCEL = "cancel"
SIGN_OFF = "sign_off"
PAYMENT_FAILED = "payment_failed"
PAYMENT_SUCCEEDED = "payment_succeeded"
EVENT_RECEIVED = "event_received"
NOTIFY = "notify"
ROLL_BACK = "roll_back"
VERIFY = "verify_linked_records"

#: Shapes with a name of their own (besides a category parked in and an action taken).
NAMED_SHAPES = {
    "happy-path": "a run that went live without a single exception item",
    "waiting-for-qa-sign-off": "QA checks passed; the run waits for a permitted role to sign off",
    "signed-off": "a QA sign-off was accepted and the run went live",
    "manual-step": "the rules made a step a person's task (step mode manual)",
    "step-off": "the rules turned a step off (step mode off)",
    "payment-hold": "billing's payment_succeeded lifted a payment-failed hold",
    "cancelled-with-rollback": "cancelled, and the run rolled back what it had created",
    "cancelled-no-rollback": "cancelled with rollback turned off",
    "cancelled-while-parked": "cancelled while an exception item was open",
    "alerted-at-once": "a terminal failure alerted its owner the moment the item opened",
    "sla-at-risk": "an SLA clock reached its at-risk point and the owner was told",
    "sla-breached": "an SLA clock breached",
    "sla-escalated": "an overdue clock escalated up the chain",
    "nudge": "a run waiting for missing input nudged its owner",
    "cancelled-through-temporal": "Temporal's own cancel (the UI's) with no cancel update first",
    "late-event-merged": "a later event of the transaction reached the run and was kept",
    "failed": "the run failed: a defect or rules no person can fix inside the run",
}

#: Notice keys are ``<clock>:<kind>[:<n>]``, e.g. ``exception:T/1:escalated:0``, ``stage:qa:at-risk``.
_NOTICE_SHAPES = {
    "alerted-at-once": re.compile(r":alert$"),
    "sla-at-risk": re.compile(r":at-risk$"),
    "sla-breached": re.compile(r":breached$"),
    "sla-escalated": re.compile(r":escalated(:\d+)?$"),
    "nudge": re.compile(r":nudge:\d+$"),
}


def history_files(root: Path = HISTORIES) -> list[Path]:
    """Every recorded history, oldest code version first."""
    return sorted(p for p in root.glob("v*/*.json") if p.name != INDEX)


def load(path: Path) -> WorkflowHistory:
    """A history file as the replayer reads it, under the workflow ID its run had.

    The workflow ID of an onboarding run is its transaction ID, which the start event's input
    carries; replaying under the same ID keeps ``workflow.info()`` as the run saw it.
    """
    text = path.read_text()
    events = WorkflowHistory.from_json("", text).events
    started = events[0].workflow_execution_started_event_attributes
    transaction_id = str(_value(started.input.payloads[0])["transaction_id"])
    return WorkflowHistory(transaction_id, events)


def _value(payload: Payload) -> Any:
    """A plain JSON payload's value; ``None`` for a null (an unset search attribute)."""
    encoding = payload.metadata.get("encoding", b"")
    if encoding == b"json/plain":
        return json.loads(payload.data)
    if encoding == b"binary/null":
        return None
    raise ValueError(
        f"payload with encoding {encoding!r}: record the corpus without the payload codec"
    )


@dataclass
class Facts:
    """What one history shows.

    Attributes:
        closed: How the run ended (``live``, ``cancelled``, or the close event's kind);
            ``None`` while it still runs: a history recorded while the run waits.
        stage: The last stage the run upserted.
        tier: The customer's tier, once validated.
        categories: The category of every exception item the run opened, in order.
        parked_in: The category of the item still open at the end of the history.
        actions: Every ``resolve`` action a person took, in order.
        updates: Every accepted update, by name, in order.
        signals: Every signal received, by name, in order.
        activities: Every activity scheduled, by type, in order.
        notices: The key of every notice the run sent (``<clock>:<kind>``).
        step_modes: The step modes other than automated that the QA gate was told about.
        cancelled_while_parked: A cancel arrived while an item was open.
        cancel_rollback: The ``rollback`` of the last cancel update, if there was one.
        payment_hold_cleared: ``payment_succeeded`` arrived while a payment-failed item was open.
        temporal_cancel_only: Temporal's cancel arrived with no cancel update or resolve cancel
            before it (the UI's Request Cancellation).
    """

    closed: str | None = None
    stage: str | None = None
    tier: str | None = None
    categories: list[str] = field(default_factory=list)
    parked_in: str | None = None
    actions: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    step_modes: set[str] = field(default_factory=set)
    cancelled_while_parked: bool = False
    cancel_rollback: bool | None = None
    payment_hold_cleared: bool = False
    temporal_cancel_only: bool = False
    events: int = 0

    @property
    def waiting(self) -> bool:
        """The history was recorded while the run was still running (parked or waiting)."""
        return self.closed is None

    def shapes(self) -> set[str]:
        """The named shapes (:data:`NAMED_SHAPES`) this history shows."""
        found: set[str] = set()
        if self.closed == "live" and not self.categories:
            found.add("happy-path")
        if (
            self.waiting
            and self.stage == "qa"
            and self.parked_in in (None, "qa-sign-off")
            and VERIFY in self.activities
            and SIGN_OFF not in self.updates
        ):
            found.add("waiting-for-qa-sign-off")
        if SIGN_OFF in self.updates and self.closed == "live":
            found.add("signed-off")
        if "manual" in self.step_modes:
            found.add("manual-step")
        if "off" in self.step_modes:
            found.add("step-off")
        if self.payment_hold_cleared:
            found.add("payment-hold")
        if self.closed in ("cancelled", "canceled"):
            if ROLL_BACK in self.activities:
                found.add("cancelled-with-rollback")
            if self.cancel_rollback is False:
                found.add("cancelled-no-rollback")
            if self.cancelled_while_parked:
                found.add("cancelled-while-parked")
        if self.temporal_cancel_only:
            found.add("cancelled-through-temporal")
        if self.signals.count(EVENT_RECEIVED) > 1:
            found.add("late-event-merged")
        if self.closed == "failed":
            found.add("failed")
        for shape, pattern in _NOTICE_SHAPES.items():
            if any(pattern.search(key) for key in self.notices):
                found.add(shape)
        return found

    def summary(self) -> dict[str, Any]:
        """The facts INDEX.json shows for this history."""
        return {
            "waits": self.waiting,
            "ended": self.closed,
            "stage": self.stage,
            "parked_in": self.parked_in,
            "categories": sorted(set(self.categories)),
            "actions": sorted(set(self.actions)),
            "shapes": sorted(self.shapes()),
            "events": self.events,
        }


def read_facts(history: WorkflowHistory) -> Facts:
    """Walk a history's events once and collect what it shows."""
    facts = Facts(events=len(history.events))
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            for key, payload in fields.indexed_fields.items():
                value = _value(payload)
                if key == CATEGORY_KEY:
                    if value is not None:
                        facts.categories.append(str(value))
                    facts.parked_in = None if value is None else str(value)
                elif key == STAGE_KEY and value is not None:
                    facts.stage = str(value)
                elif key == TIER_KEY and value is not None:
                    facts.tier = str(value)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            name = request.input.name
            args = [_value(p) for p in request.input.args.payloads]
            facts.updates.append(name)
            if name == SIGN_OFF:
                facts.actions.append("sign-off")
            if name == RESOLVE and args:
                facts.actions.append(str(args[0]["action"]))
                if args[0]["action"] == "cancel" and facts.parked_in is not None:
                    facts.cancelled_while_parked = True
            if name == CANCEL and args:
                facts.cancel_rollback = bool(args[0].get("rollback", True))
                if facts.parked_in is not None:
                    facts.cancelled_while_parked = True
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            if CANCEL not in facts.updates and "cancel" not in facts.actions:
                facts.temporal_cancel_only = True
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            name = event.workflow_execution_signaled_event_attributes.signal_name
            facts.signals.append(name)
            if name == PAYMENT_SUCCEEDED and facts.parked_in == "payment-failed":
                facts.payment_hold_cleared = True
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            name = attributes.activity_type.name
            facts.activities.append(name)
            args = [_value(p) for p in attributes.input.payloads]
            if name == NOTIFY and args:
                facts.notices.append(str(args[0]["key"]))
            if name == VERIFY and args:
                facts.step_modes.update(str(m) for m in args[0].get("not_automated", {}).values())
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            result = event.workflow_execution_completed_event_attributes.result.payloads
            facts.closed = str(_value(result[0])["stage"]) if result else "completed"
        elif kind in _CLOSED:
            facts.closed = _CLOSED[kind]
    return facts


_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed-out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued-as-new",
}
