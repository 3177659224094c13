"""Gates: where a run waits on something other than a failed step.

- the checkpoint between steps: a cancel stops the run; a scope change freezes it (change-order
  tasks, a billing hold, an approver's decision);
- the payment hold before scheduling, while billing reports a failed payment;
- the manual QA sign-off before live, where the tier asks for it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import DeliveryActivities
    from activities.models import ChangeOrderInput
    from onboarding.domain.actions import (
        ScopeChangeRequest,
        ScopeChangeResult,
        SignOffRequest,
        SignOffResult,
        safe_actions,
    )
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.calendar import add_business_days
    from onboarding.domain.errors import Category
    from onboarding.domain.notices import NoticeKind
    from onboarding.domain.rules import TierRules
    from onboarding.domain.run import ScopeChange, SignOff
    from onboarding.domain.stages import TERMINAL_STAGES
    from workflows.alerts import Alerts
    from workflows.context import ACTIVITY_TIMEOUT, RunContext
    from workflows.desk import ExceptionDesk


class Gates:
    """The checkpoint, the payment hold and the QA sign-off."""

    def __init__(self, ctx: RunContext, desk: ExceptionDesk, alerts: Alerts) -> None:
        self.ctx = ctx
        self.desk = desk
        self.alerts = alerts

    # ------------------------------------------------------------------ between steps

    async def checkpoint(self) -> None:
        """Between steps: a cancel ends the run, a scope change freezes it until approved."""
        self.desk.check_cancel()
        if self.ctx.ledger is not None:
            await self.ctx.ledger.flush_if_moved()
        change = self.ctx.state.pending_scope
        if change is not None:
            await self._freeze_for(change)

    async def _freeze_for(self, change: ScopeChange) -> None:
        ctx = self.ctx
        rules = ctx.rules
        project = ctx.state.linked.project_gid
        if project and not change.task_gids:
            outcome = await workflow.execute_activity_method(
                DeliveryActivities.create_change_order_tasks,
                ChangeOrderInput(
                    transaction_id=ctx.transaction_id,
                    project_gid=project,
                    request_id=change.id,
                    items=change.items,
                    due_on=add_business_days(workflow.now().date(), 2).isoformat(),
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ctx.retry_policy(),
            )
            change.task_gids = outcome.task_gids
            ctx.record(
                AuditAction.SCOPE_CHANGE,
                f"{len(outcome.task_gids)} change-order task(s) for {change.id}",
                id=change.id,
                decision="tasks-created",
            )
        approvers = (
            ", ".join(rules.roles.get("scope-approver", [])) or "(nobody holds scope-approver)"
        )
        item = self.desk.open(
            step=f"scope-change:{change.id}",
            system="delivery",
            category=Category.SCOPE_CHANGE,
            message=f"scope change requested by {change.requested_by}: {change.reason} "
            f"({'; '.join(change.items)}). Work and billing are on hold until a scope approver "
            f"({approvers}) approves.",
            owner=ctx.owner_for(Category.SCOPE_CHANGE),
            actions=safe_actions(Category.SCOPE_CHANGE),
        )
        if ctx.sla_on:
            await self.alerts.notify(
                key=f"scope:{change.id}",
                kind=NoticeKind.BILLING_HOLD,
                recipients=[rules.owners.process_owner, item.owner],
                subject=f"Hold billing: scope change on {ctx.customer_name}",
                text=item.message,
            )
        resolution = await self.desk.wait(item)
        change.decision = f"{resolution.action.value} by {resolution.actor}: {resolution.reason}"
        ctx.state.pending_scope_id = None

    # ------------------------------------------------------------------ payment hold

    async def hold_while_payment_failed(self) -> None:
        """Payment failed: pause before scheduling, in front of revenue operations, until billing
        reports a successful payment or a person acts."""
        ctx = self.ctx
        failure = ctx.state.payment_failure
        if failure is None:
            return
        item = self.desk.open(
            step="payment",
            system="stripe",
            category=Category.PAYMENT_FAILED,
            message=f"payment failed for invoice {failure.invoice_id}"
            + (f": {failure.reason}" if failure.reason else ""),
            owner=ctx.rules.owners.process_owner,
            actions=safe_actions(Category.PAYMENT_FAILED),
        )
        await self.desk.wait(
            item,
            unless=lambda: ctx.state.payment_failure is None,
            unless_reason="payment succeeded",
        )

    # ------------------------------------------------------------------ QA sign-off

    async def await_sign_off(self, tier: TierRules) -> None:
        """The manual QA gate: where the tier asks for it, a permitted role signs off.

        The wait is an item in the queue, like every wait for a person, owned by the case owner
        (rules: exception routing) until a member of the sign-off roles signs off.
        """
        ctx, state = self.ctx, self.ctx.state
        if not tier.qa_sign_off_roles or state.sign_off is not None:
            return
        roles = ", ".join(tier.qa_sign_off_roles)
        state.awaiting = f"QA sign-off by a member of: {roles}"
        ctx.record(AuditAction.AWAITING_SIGN_OFF, state.awaiting, roles=roles)
        if ctx.release3:
            members = sorted({m for r in tier.qa_sign_off_roles for m in ctx.rules.roles[r]})
            item = self.desk.open(
                step="qa-sign-off",
                system="qa",
                category=Category.QA_SIGN_OFF,
                message=f"automated checks passed; waiting for the QA sign-off of a member of "
                f"{roles} ({', '.join(members)})",
                owner=ctx.owner_for(Category.QA_SIGN_OFF),
                actions=safe_actions(Category.QA_SIGN_OFF),
            )
            await self.desk.wait(
                item,
                unless=lambda: state.sign_off is not None,
                unless_reason="signed off",
            )
        else:
            workflow.set_current_details(
                f"**Waiting for QA sign-off** by a member of: {roles}.\n\n"
                f"`onboarding sign-off {ctx.transaction_id} --actor YOU`"
            )
            ctx.sla_changed()
            await workflow.wait_condition(
                lambda: state.sign_off is not None or state.cancel is not None
            )
            workflow.set_current_details("")
        state.awaiting = None
        self.desk.check_cancel()

    def validate_sign_off(self, request: SignOffRequest) -> None:
        """Refuse a sign-off when the run does not wait for one, or from a role that may not."""
        ctx = self.ctx
        awaiting = ctx.state.awaiting
        if awaiting is None or not awaiting.startswith("QA sign-off"):
            raise ValueError(
                f"run {ctx.transaction_id} is not waiting for a QA sign-off "
                f"(stage {ctx.state.stage.value})"
            )
        if self._role_of(request.actor) is None:
            roles = ", ".join(ctx.tier.qa_sign_off_roles)
            raise ValueError(f"{request.actor} may not sign off: only members of {roles}")

    def sign_off(self, request: SignOffRequest) -> SignOffResult:
        """Record a validated sign-off: the run goes live."""
        ctx = self.ctx
        role = self._role_of(request.actor)
        assert role is not None  # the validator guarantees it
        ctx.state.sign_off = SignOff(
            actor=request.actor, role=role, note=request.note, at=workflow.now()
        )
        ctx.record(
            AuditAction.QA_SIGNED_OFF,
            f"{request.actor} ({role}) signed off: {request.note or '-'}",
            actor=request.actor,
            role=role,
            note=request.note,
        )
        return SignOffResult(message=f"signed off by {request.actor} as {role}", role=role)

    def _role_of(self, actor: str) -> str | None:
        rules = self.ctx.rules
        for role in self.ctx.tier.qa_sign_off_roles:
            if actor.strip().lower() in (m.lower() for m in rules.roles.get(role, [])):
                return role
        return None

    # ------------------------------------------------------------------ scope change

    def validate_scope_change(self, request: ScopeChangeRequest) -> None:
        """Refuse a scope change on a finished run, while another waits, or without details."""
        ctx, state = self.ctx, self.ctx.state
        if state.stage in TERMINAL_STAGES or state.done:
            raise ValueError(f"run {ctx.transaction_id} is already {state.stage.value}")
        if state.pending_scope is not None:
            raise ValueError(f"scope change {state.pending_scope.id} is still waiting for approval")
        if not request.actor.strip() or not request.reason.strip():
            raise ValueError("a scope change needs an actor and a reason")
        if not [i for i in request.items if i.strip()]:
            raise ValueError("a scope change needs at least one change-order item")

    def request_scope_change(self, request: ScopeChangeRequest) -> ScopeChangeResult:
        """Record a validated scope change: the run freezes at its next step."""
        ctx, state = self.ctx, self.ctx.state
        change = ScopeChange(
            id=f"SC{len(state.scope_changes) + 1}",
            requested_by=request.actor,
            reason=request.reason,
            items=list(request.items),
            requested_at=workflow.now(),
        )
        state.scope_changes.append(change)
        state.pending_scope_id = change.id
        ctx.record(
            AuditAction.PERSON_ACTION,
            f"{request.actor}: {request.reason} ({'; '.join(request.items)}); work frozen",
            actor=request.actor,
            action="scope-change",
            reason=request.reason,
        )
        return ScopeChangeResult(
            id=change.id,
            message=f"scope change {change.id} recorded; the run freezes at its next step "
            "until a scope approver approves",
        )
