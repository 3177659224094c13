"""The onboarding workflow: one paid or signed event, one durable run, live or parked in front of a
named human.

The workflow ID is the transaction ID. :meth:`OnboardingWorkflow.run` reads as the run's story;
the stages are in :mod:`workflows.stages`, the exception desk in :mod:`workflows.desk`, the gates
in :mod:`workflows.gates`, the SLA watch in :mod:`workflows.sla_watch`, and everything the run
knows is one :class:`~onboarding.domain.run.RunState`.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from onboarding.domain.actions import (
        CancelRequest,
        CancelResult,
        PaymentFailed,
        PaymentSucceeded,
        ResolveRequest,
        ResolveResult,
        ScopeChangeRequest,
        ScopeChangeResult,
        SignOffRequest,
        SignOffResult,
    )
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.notices import NoticeKind
    from onboarding.domain.rules import RulesSnapshot
    from onboarding.domain.run import EventReceived, OnboardingInput, OnboardingResult, RunStatus
    from onboarding.domain.stages import TERMINAL_STAGES, Stage
    from onboarding.runtime import metrics
    from workflows.alerts import Alerts
    from workflows.cancellation import Cancellation
    from workflows.context import RunContext
    from workflows.desk import REPLAYABLE_STAGES, ExceptionDesk, RunCancelled
    from workflows.gates import Gates
    from workflows.ledger import LedgerWriter
    from workflows.setup import RunSetup
    from workflows.sla_watch import SlaWatch
    from workflows.stages import Stages
    from workflows.steps import StepRunner
    from workflows.versions import RELEASE_3, RELEASE_4

__all__ = ["REPLAYABLE_STAGES", "OnboardingWorkflow"]


@workflow.defn
class OnboardingWorkflow:
    """One client onboarding, from the paid or signed event to live."""

    @workflow.init
    def __init__(self, request: OnboardingInput) -> None:
        self.ctx = RunContext(request)
        self.alerts = Alerts(self.ctx)
        self.desk = ExceptionDesk(self.ctx)
        self.gates = Gates(self.ctx, self.desk, self.alerts)
        self.steps = StepRunner(self.ctx, self.desk, self.gates, self.alerts)
        self.setup = RunSetup(self.ctx, self.desk)
        self.stages = Stages(self.ctx, self.desk, self.gates, self.steps)
        self.cancellation = Cancellation(self.ctx, self.desk, self.steps)
        self.sla = SlaWatch(self.ctx, self.alerts)

    @workflow.run
    async def run(self, request: OnboardingInput) -> OnboardingResult:
        """Drive the run through every stage, or park it in front of a person."""
        try:
            return await self._run()
        finally:
            # Whatever ends the run, the search attributes it changed last are written first.
            self.ctx.write_search_attributes()

    async def _run(self) -> OnboardingResult:
        ctx, state = self.ctx, self.ctx.state
        metrics.run_started(workflow.metric_meter())
        # One patch per release, checked once: a release implies every patch before it.
        if workflow.patched(RELEASE_4):
            ctx.release = 4
        elif workflow.patched(RELEASE_3):
            ctx.release = 3
        if ctx.release3:
            ctx.ledger = LedgerWriter(ctx)
        await self.setup.load_rules()
        watch: asyncio.Task[None] | None = None
        ctx.sla_on = ctx.release4 or workflow.patched("sla-watch")
        if ctx.sla_on:
            watch = asyncio.create_task(self.sla.run())
        try:
            await self.setup.validate()
            await self.setup.assign_case_owner(ctx.tier)
            await self.stages.run_all()
            await self.gates.checkpoint()
            await self.stages.go_live()
        except RunCancelled:
            await self.cancellation.run(via="cli")
        except asyncio.CancelledError:
            if not ctx.release3:
                raise  # release 2 ended at once, without a rollback
            await self.cancellation.run(via="temporal")
        except (ApplicationError, ActivityError) as failure:
            if ctx.release3:
                await self._fail(failure, watch)
            raise
        state.done = True
        ctx.sla_changed()
        metrics.run_ended(workflow.metric_meter(), state.stage.value)
        await self._finish(watch)
        if ctx.release3 and state.stage == Stage.CANCELLED:
            await self.cancellation.end_as_cancelled()
        return OnboardingResult(
            transaction_id=ctx.transaction_id,
            stage=state.stage,
            linked=state.linked,
            manual_exceptions=len(state.exceptions),
        )

    async def _finish(self, watch: asyncio.Task[None] | None) -> None:
        """Write the rest of the record, let the SLA watch stop and every message handler
        finish. The run has ended: a cancellation requested now changes only its final status."""
        for attempt in (1, 2):
            try:
                await self.ctx.flush()
                if watch is not None:
                    await asyncio.shield(watch)
                await workflow.wait_condition(workflow.all_handlers_finished)
                return
            except asyncio.CancelledError:
                if not self.ctx.release3 or attempt == 2:
                    raise

    async def _fail(self, failure: BaseException, watch: asyncio.Task[None] | None) -> None:
        """A failure no person can resolve inside the run (a defect, or rules that do not fit):
        the stage and the current details say so, the system owner is told, the run fails."""
        ctx = self.ctx
        message = (
            str(failure.cause or failure) if isinstance(failure, ActivityError) else str(failure)
        )
        owner = ctx.rules.owners.system_owner
        ctx.enter(Stage.FAILED, owner)
        metrics.run_ended(workflow.metric_meter(), Stage.FAILED.value)
        ctx.record(AuditAction.FAILED, message, error=message)
        workflow.set_current_details(f"**Failed**: {message}\n\nOwner: {owner}.")
        await self.alerts.notify(
            key="failed",
            kind=NoticeKind.FAILURE,
            recipients=[owner],
            subject=f"Onboarding failed: {ctx.customer_name or ctx.transaction_id}",
            text=f"Transaction {ctx.transaction_id} failed and cannot be resumed: {message}. "
            f"Details: onboarding show {ctx.transaction_id}",
        )
        ctx.state.done = True
        ctx.sla_changed()
        await ctx.flush()
        if watch is not None:
            await asyncio.shield(watch)

    # ------------------------------------------------------------------ people

    @workflow.update
    def resolve(self, request: ResolveRequest) -> ResolveResult:
        """A person acts on the open exception item; the run resumes (``reassign`` only hands the
        item to another owner)."""
        return self.desk.apply(request)

    @resolve.validator
    def _validate_resolve(self, request: ResolveRequest) -> None:
        self.desk.validate(request)

    @workflow.update
    def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel the run; with ``rollback`` its own records are archived or closed."""
        self.ctx.state.cancel = request
        self.ctx.record(
            AuditAction.PERSON_ACTION,
            f"{request.actor} cancelled the run: {request.reason}",
            actor=request.actor,
            action="cancel",
            reason=request.reason,
        )
        return CancelResult(
            transaction_id=self.ctx.transaction_id,
            message="cancel accepted; "
            + ("rolling back what this run created" if request.rollback else "no rollback"),
        )

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        state = self.ctx.state
        if state.stage in TERMINAL_STAGES or state.cancel is not None:
            raise ValueError(
                f"run {self.ctx.transaction_id} is already {state.stage.value}"
                + (" (cancel in progress)" if state.cancel is not None else "")
            )
        if not request.actor.strip():
            raise ValueError("actor is required: who is cancelling")
        if not request.reason.strip():
            raise ValueError("cancel needs a justification (reason)")

    @workflow.update
    def sign_off(self, request: SignOffRequest) -> SignOffResult:
        """The manual QA sign-off before live, by a member of a permitted role."""
        return self.gates.sign_off(request)

    @sign_off.validator
    def _validate_sign_off(self, request: SignOffRequest) -> None:
        self.gates.validate_sign_off(request)

    @workflow.update
    def request_scope_change(self, request: ScopeChangeRequest) -> ScopeChangeResult:
        """A change of scope: work freezes at the next step until a scope approver approves."""
        return self.gates.request_scope_change(request)

    @request_scope_change.validator
    def _validate_scope_change(self, request: ScopeChangeRequest) -> None:
        self.gates.validate_scope_change(request)

    # ------------------------------------------------------------------ billing

    @workflow.signal
    def event_received(self, event: EventReceived) -> None:
        """Another event of this transaction (a redelivery, or the invoice after the checkout):
        what it brings that the run lacks is kept; nothing the run has is overwritten."""
        self.setup.merge_event(event)

    @workflow.signal
    def payment_failed(self, event: PaymentFailed) -> None:
        """Billing reports a failed payment: scheduling waits until it succeeds."""
        self.ctx.state.payment_failure = event
        self.ctx.record(
            AuditAction.PAYMENT,
            f"invoice {event.invoice_id}: {event.reason or 'payment failed'}",
            event="failed",
            invoice_id=event.invoice_id,
            event_id=event.event_id or "",
        )

    @workflow.signal
    def payment_succeeded(self, event: PaymentSucceeded) -> None:
        """Billing reports a successful payment: a payment hold is lifted."""
        state = self.ctx.state
        if state.payment_failure is not None:
            self.ctx.record(
                AuditAction.PAYMENT,
                f"invoice {event.invoice_id} paid",
                event="succeeded",
                invoice_id=event.invoice_id,
                event_id=event.event_id or "",
            )
        state.payment_failure = None

    # ------------------------------------------------------------------ queries

    @workflow.query
    def rules(self) -> RulesSnapshot | None:
        """The rules this run loaded at its start and keeps for its whole life."""
        return self.ctx.state.rules

    @workflow.query
    def status(self) -> RunStatus:
        """Everything about this run: stage, owners, linked IDs, exceptions, audit trail."""
        return self.ctx.state.status(self.sla.states())
