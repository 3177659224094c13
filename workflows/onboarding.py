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
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import RunSetupActivities
    from activities.models import LoadRulesInput
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
    from onboarding.domain.rules import RulesSnapshot
    from onboarding.domain.run import OnboardingInput, OnboardingResult, RunStatus
    from onboarding.domain.stages import TERMINAL_STAGES, Stage
    from workflows.alerts import Alerts
    from workflows.cancellation import Cancellation
    from workflows.context import ACTIVITY_TIMEOUT, RunContext
    from workflows.desk import REPLAYABLE_STAGES, ExceptionDesk, RunCancelled
    from workflows.gates import Gates
    from workflows.setup import RunSetup
    from workflows.sla_watch import SlaWatch
    from workflows.stages import Stages
    from workflows.steps import StepRunner

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
        self.cancellation = Cancellation(self.ctx)
        self.sla = SlaWatch(self.ctx, self.alerts)

    @workflow.run
    async def run(self, request: OnboardingInput) -> OnboardingResult:
        """Drive the run through every stage, or park it in front of a person."""
        ctx, state = self.ctx, self.ctx.state
        await self.setup.load_rules()
        watch: asyncio.Task[None] | None = None
        ctx.sla_on = workflow.patched("sla-watch")
        if ctx.sla_on:
            watch = asyncio.create_task(self.sla.run())
        try:
            await self.setup.validate()
            await self.setup.assign_case_owner(ctx.tier)
            await self.stages.run_all()
            await self.gates.checkpoint()
            await self.stages.go_live()
        except RunCancelled:
            await self.cancellation.run()
        state.done = True
        ctx.sla_changed()
        if watch is not None:
            await watch
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OnboardingResult(
            transaction_id=ctx.transaction_id,
            stage=state.stage,
            linked=state.linked,
            manual_exceptions=len(state.exceptions),
        )

    async def _load_rules(self) -> None:
        """Load the rules the run keeps for its whole life, and record which."""
        ctx = self.ctx
        snapshot = await workflow.execute_activity_method(
            RunSetupActivities.load_rules,
            LoadRulesInput(),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RetryPolicy(
                maximum_attempts=3, non_retryable_error_types=["ValidationError"]
            ),
        )
        ctx.state.rules = snapshot
        ctx.state.case_owner = snapshot.rules.owners.process_owner
        ctx.enter(Stage.RECEIVED, ctx.state.case_owner, at=ctx.input.received_at)
        ctx.record(
            AuditAction.RULES_LOADED,
            f"rules {snapshot.version} ({snapshot.source}, sha256 {snapshot.sha256[:12]})",
            version=snapshot.version,
            sha256=snapshot.sha256,
        )

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
