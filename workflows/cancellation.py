"""Cancel with rollback: what the run created is archived or closed, newest first, and the run
ends cancelled; records it only matched are kept (and marked cancelled in the CRM).

A cancel comes from the CLI (the ``cancel`` update, or ``resolve cancel``, which record who and
why, followed by Temporal's own cancellation) or from Temporal alone (the UI's "Request
Cancellation", ``temporal workflow cancel``). Both take this one path, and the run ends with
Temporal's status *Canceled*, so the UI's list tells it apart at a glance.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import RollbackActivities
    from activities.models import RollbackInput
    from onboarding.domain.actions import CancelRequest, SafeAction
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.stages import Stage
    from workflows.context import ACTIVITY_TIMEOUT, STEP_DEADLINE, RunContext
    from workflows.desk import ExceptionDesk
    from workflows.steps import StepRunner, StepSpec

#: Who a cancel that came through Temporal alone is recorded as: the workflow sees the reason
#: given with the request; the requester's identity is in the run's history.
TEMPORAL_ACTOR = "temporal-cancellation-request"
#: After a CLI cancel, how long the run waits for the Temporal cancellation the CLI sends next.
CONFIRMATION_WINDOW = timedelta(seconds=30)


class Cancellation:
    """Ends a run that a person cancelled."""

    def __init__(self, ctx: RunContext, desk: ExceptionDesk, steps: StepRunner) -> None:
        self.ctx = ctx
        self.desk = desk
        self.steps = steps

    async def run(self, *, via: str) -> None:
        """Roll back what this run created (unless asked not to), then end cancelled.

        Args:
            via: ``cli`` when a person's update recorded the cancel, ``temporal`` when it came
                through Temporal's cancellation alone.
        """
        ctx, state = self.ctx, self.ctx.state
        if state.cancel is None:
            reason = workflow.cancellation_reason() or "no reason given"
            state.cancel = CancelRequest(actor=TEMPORAL_ACTOR, reason=reason)
        request = state.cancel
        if not ctx.release3:
            await self._roll_back_release_2(request)
        else:
            self.desk.cancelling = True
            if state.open_item is not None:
                self.desk.close_for_cancel(state.open_item)
            # The rollback runs as its own task: Temporal's cancellation, which follows a CLI
            # cancel, is delivered to the main task and must not cancel the rollback itself.
            rollback = asyncio.create_task(self._roll_back(request))
            while not rollback.done():
                try:
                    await asyncio.shield(rollback)
                except asyncio.CancelledError:
                    continue
        ctx.enter(Stage.CANCELLED, state.case_owner)
        ctx.record(
            AuditAction.CANCELLED,
            f"cancelled by {request.actor}: {request.reason}"
            + ("" if request.rollback else " (no rollback)"),
            actor=request.actor,
            rollback=str(request.rollback).lower(),
            via=via,
        )
        workflow.set_current_details(
            f"**Cancelled** by {request.actor}: {request.reason}"
            + ("" if request.rollback else " (nothing rolled back)")
        )

    async def end_as_cancelled(self) -> None:
        """End with Temporal's *Canceled* status: at once when Temporal's cancellation has come,
        else after waiting briefly for the one a CLI cancel sends next. Without it (the CLI
        stopped in between) the run completes, its stage ``cancelled``."""
        if workflow.cancellation_reason() is None:
            try:
                await workflow.wait_condition(lambda: False, timeout=CONFIRMATION_WINDOW)
            except TimeoutError:
                return
            except asyncio.CancelledError:
                pass
        raise asyncio.CancelledError("cancelled")

    async def _roll_back(self, request: CancelRequest) -> None:
        """Release 3: a rollback that cannot finish opens an item (retry, skip, reassign) instead
        of failing the run; a record already gone counts as rolled back."""
        ctx, state = self.ctx, self.ctx.state
        if not request.rollback or not state.linked.model_dump(exclude_defaults=True):
            return
        outcome = await self.steps.run(
            StepSpec(
                name="roll_back",
                system="rollback",
                activity=RollbackActivities.roll_back,
                input=RollbackInput(transaction_id=ctx.transaction_id, linked=state.linked),
                actions=[SafeAction.RETRY, SafeAction.SKIP, SafeAction.REASSIGN],
                checkpoint=False,
            )
        )
        if outcome is None:
            ctx.record(AuditAction.ROLLBACK, "rollback skipped by a person", outcome="skipped")
            return
        for line in outcome.actions:
            ctx.record(AuditAction.ROLLBACK, line, system=line.split(":", 1)[0], outcome="done")

    async def _roll_back_release_2(self, request: CancelRequest) -> None:
        ctx, state = self.ctx, self.ctx.state
        if request.rollback and state.linked.model_dump(exclude_defaults=True):
            outcome = await workflow.execute_activity_method(
                RollbackActivities.roll_back,
                RollbackInput(transaction_id=ctx.transaction_id, linked=state.linked),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=ctx.retry_policy(within_budget=True),
            )
            for line in outcome.actions:
                ctx.record(AuditAction.ROLLBACK, line, system=line.split(":", 1)[0], outcome="done")
