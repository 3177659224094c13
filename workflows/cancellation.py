"""Cancel with rollback: what the run created is archived or closed, newest first, and the run
ends cancelled; records it only matched are kept (and marked cancelled in the CRM).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import RollbackActivities
    from activities.models import RollbackInput
    from onboarding.domain.actions import CancelRequest
    from onboarding.domain.audit import WORKER_ACTOR, AuditAction
    from onboarding.domain.stages import Stage
    from workflows.context import ACTIVITY_TIMEOUT, STEP_DEADLINE, RunContext


class Cancellation:
    """Ends a run that a person cancelled."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    async def run(self) -> None:
        """Roll back what this run created (unless asked not to), then end cancelled."""
        ctx, state = self.ctx, self.ctx.state
        request = state.cancel or CancelRequest(actor=WORKER_ACTOR, reason="cancelled")
        if request.rollback and state.linked.model_dump(exclude_defaults=True):
            outcome = await workflow.execute_activity_method(
                RollbackActivities.roll_back,
                RollbackInput(transaction_id=ctx.transaction_id, linked=state.linked),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=ctx.retry_policy(),
            )
            for line in outcome.actions:
                system = line.split(":", 1)[0]
                ctx.record(AuditAction.ROLLBACK, line, system=system, outcome="done")
        ctx.enter(Stage.CANCELLED, state.case_owner)
        ctx.record(
            AuditAction.CANCELLED,
            f"cancelled by {request.actor}: {request.reason}"
            + ("" if request.rollback else " (no rollback)"),
            actor=request.actor,
            rollback=str(request.rollback).lower(),
            via="cli",
        )
