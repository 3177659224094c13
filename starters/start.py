"""Start an onboarding run idempotently: the workflow ID is the transaction ID.

Every delivery is a signal-with-start: the first starts the run, and it and every later one
(a redelivery, the invoice after the checkout) reach the run as its ``event_received`` signal,
which keeps what an event adds (``USE_EXISTING``). A delivery after the run closed starts
nothing (``REJECT_DUPLICATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from onboarding.domain.run import EventReceived, OnboardingInput, OnboardingResult, TriggerSource
from onboarding.domain.stages import Stage
from onboarding.runtime.client import TASK_QUEUE
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow


@dataclass(frozen=True)
class StartOutcome:
    """What happened to one delivery."""

    transaction_id: str
    run_id: str | None
    #: ``started`` (this delivery started the run), ``running`` (it reached the running run,
    #: which keeps what it adds) or ``already-finished`` (a late delivery: nothing new).
    state: str
    handle: WorkflowHandle[OnboardingWorkflow, OnboardingResult]
    #: Whether this delivery started the run (else it reached the run already running).
    started: bool = False


async def start_onboarding(
    client: Client,
    transaction_id: str,
    source: TriggerSource,
    payload: dict[str, Any],
    *,
    task_queue: str = TASK_QUEUE,
    received_at: datetime | None = None,
) -> StartOutcome:
    """Start (or reach) the run of one transaction. Durable once this returns."""
    request = OnboardingInput(
        transaction_id=transaction_id,
        source=source,
        payload=payload,
        received_at=received_at or datetime.now(UTC),
    )
    customer = payload.get("customer")
    name = (
        customer.get("legal_name") if isinstance(customer, dict) else None
    ) or "unknown customer"
    event = EventReceived(source=source, payload=payload, received_at=request.received_at)
    try:
        handle = await client.start_workflow(
            OnboardingWorkflow.run,
            request,
            start_signal="event_received",
            start_signal_args=[event],
            id=transaction_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.STAGE, Stage.RECEIVED.value)]
            ),
            static_summary=f"Onboarding {name} ({source.system} {source.event_type})",
        )
    except WorkflowAlreadyStartedError as exc:
        handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
        return StartOutcome(transaction_id, exc.run_id, "already-finished", handle)
    response = getattr(handle, "_start_workflow_response", None)
    started = bool(getattr(response, "started", True))
    return StartOutcome(
        transaction_id,
        handle.first_execution_run_id,
        "started" if started else "running",
        handle,
        started=started,
    )
