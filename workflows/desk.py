"""The exception desk: a step that cannot proceed becomes an item in front of a named owner, the
run waits, and a person's ``resolve`` update (checked by its validator first) lets it resume.

Every item is on the run's audit trail, in its search attributes (so the queue is a visibility
query) and in the run's current details (what the Temporal UI shows a person).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from onboarding.domain import keys
    from onboarding.domain.actions import (
        JUSTIFIED_ACTIONS,
        CancelRequest,
        ResolveRequest,
        ResolveResult,
        SafeAction,
    )
    from onboarding.domain.audit import WORKER_ACTOR, AuditAction
    from onboarding.domain.document import merge_patch, patch_paths
    from onboarding.domain.errors import Category
    from onboarding.domain.run import ExceptionItem, MatchCandidate
    from onboarding.domain.sla import deadlines
    from onboarding.domain.stages import Stage
    from onboarding.domain.validation import FieldProblem, find_problems
    from onboarding.runtime import metrics
    from workflows import search_attributes as sa
    from workflows.context import RunContext

#: Stages a person may rerun from, in order.
REPLAYABLE_STAGES = (Stage.MATCHING, Stage.PROVISIONING, Stage.KICKOFF, Stage.WELCOME, Stage.QA)


class RunCancelled(Exception):
    """A person cancelled the run: whatever it was doing stops, and the run rolls back."""


class ReplayFrom(Exception):
    """A person asked to rerun the stages from ``stage`` on (every step is a get-or-create)."""

    def __init__(self, stage: Stage) -> None:
        super().__init__(stage.value)
        self.stage = stage


class ExceptionDesk:
    """Opens exception items, waits for a person, and checks and applies their actions."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._resolution: ResolveRequest | None = None
        #: While the run rolls back, a cancel no longer ends a wait: there is nothing left to stop.
        self.cancelling = False

    def check_cancel(self) -> None:
        """Stop here if a person cancelled the run."""
        if self.ctx.state.cancel is not None:
            raise RunCancelled

    def open(
        self,
        *,
        step: str,
        system: str,
        category: Category,
        message: str,
        owner: str,
        actions: list[SafeAction],
        http_status: int | None = None,
        attempts: int = 0,
        candidates: list[MatchCandidate] | None = None,
        missing_fields: list[FieldProblem] | None = None,
    ) -> ExceptionItem:
        """Park the run on a new item, owned by ``owner``, with the actions that are safe."""
        ctx, state = self.ctx, self.ctx.state
        now = workflow.now()
        rules = ctx.rules
        due = deadlines(rules.calendar, now, rules.exception_sla(category), []).due_at
        name, domain = state.customer()
        item = ExceptionItem(
            id=f"{ctx.transaction_id}/{len(state.exceptions) + 1}",
            transaction_id=ctx.transaction_id,
            idempotency_key=keys.idempotency_key(ctx.transaction_id, step),
            customer_name=name,
            customer_domain=domain,
            category=category,
            system=system,
            step=step,
            message=message,
            http_status=http_status,
            attempts=attempts,
            sla_due_at=due,
            owner=owner,
            safe_actions=[a.value for a in actions],
            candidates=candidates or [],
            missing_fields=missing_fields or [],
            opened_at=now,
        )
        state.open_item = item
        state.exceptions.append(item)
        metrics.exception_opened(workflow.metric_meter(), category.value, system)
        ctx.sla_changed()
        ctx.record(
            AuditAction.EXCEPTION_OPENED,
            f"{category.value} at {step} ({system}): {message}; owner {owner}",
            exception_id=item.id,
            category=category.value,
            owner=owner,
            system=system,
            step=step,
            sla_due_at=due.isoformat(),
            http_status=http_status or "",
        )
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.EXCEPTION_CATEGORY.value_set(category.value),
            sa.EXCEPTION_OWNER.value_set(owner),
            sa.SLA_DUE_AT.value_set(due),
        ]
        # What is known of the customer, even before the payload validates: the queue shows it.
        if name:
            updates.append(sa.CUSTOMER_NAME.value_set(name))
        if domain:
            updates.append(sa.CUSTOMER_DOMAIN.value_set(domain))
        ctx.upsert(updates)
        if ctx.release3:
            # The queue row, whole, in the memo: the queue is one visibility list, no queries.
            workflow.upsert_memo({sa.QUEUE_MEMO: item.model_dump(mode="json")})
        self.describe(item)
        workflow.logger.warning(
            "exception item opened",
            extra={"category": category.value, "step": step, "owner": owner},
        )
        return item

    @overload
    async def wait(self, item: ExceptionItem) -> ResolveRequest: ...

    @overload
    async def wait(
        self, item: ExceptionItem, *, unless: Callable[[], bool], unless_reason: str
    ) -> ResolveRequest | None: ...

    async def wait(
        self,
        item: ExceptionItem,
        *,
        unless: Callable[[], bool] | None = None,
        unless_reason: str = "",
    ) -> ResolveRequest | None:
        """Wait for a person's action on ``item`` (or, with ``unless``, for its cause to clear).

        Raises:
            RunCancelled: the run was cancelled while it waited.
        """
        state = self.ctx.state
        self._resolution = None
        await self.ctx.flush()  # the record is complete before a person is asked
        await workflow.wait_condition(
            lambda: (
                self._resolution is not None
                or (state.cancel is not None and not self.cancelling)
                or (unless is not None and unless())
            )
        )
        resolution = self._resolution
        if resolution is not None:
            self.close(
                item,
                action=resolution.action.value,
                actor=resolution.actor,
                reason=resolution.reason,
                text=f"{resolution.action.value} by {resolution.actor}: {resolution.reason}",
            )
        elif state.cancel is not None and not self.cancelling:
            self.close_for_cancel(item)
        else:
            self.close(
                item,
                action="cleared",
                actor=WORKER_ACTOR,
                reason=unless_reason,
                text=f"cleared automatically: {unless_reason}",
            )
        if not self.cancelling:
            self.check_cancel()
        return resolution

    def close(
        self, item: ExceptionItem, *, action: str, actor: str, reason: str, text: str
    ) -> None:
        """Close ``item``: on the record, out of the queue."""
        ctx, state = self.ctx, self.ctx.state
        item.resolved_at = workflow.now()
        item.resolution = text
        metrics.exception_resolved(workflow.metric_meter(), item.category.value, action)
        ctx.record(
            AuditAction.EXCEPTION_RESOLVED,
            f"{item.id}: {text}",
            actor=actor,
            exception_id=item.id,
            category=item.category.value,
            action=action,
            reason=reason,
        )
        state.open_item = None
        ctx.upsert(
            [
                sa.EXCEPTION_CATEGORY.value_unset(),
                sa.EXCEPTION_OWNER.value_unset(),
                sa.SLA_DUE_AT.value_unset(),
            ]
        )
        if ctx.release3:
            workflow.upsert_memo({sa.QUEUE_MEMO: None})
        workflow.set_current_details("")
        ctx.sla_changed()

    def close_for_cancel(self, item: ExceptionItem) -> None:
        """Close ``item`` because the run was cancelled while it waited."""
        cancel = self.ctx.state.cancel
        actor, reason = (cancel.actor, cancel.reason) if cancel else (WORKER_ACTOR, "cancelled")
        self.close(
            item,
            action="cancelled",
            actor=actor,
            reason=reason,
            text=f"run cancelled by {actor}: {reason}",
        )

    def describe(self, item: ExceptionItem) -> None:
        """The run's current details in the Temporal UI: why it waits, for whom, and what to do."""
        command = f"onboarding resolve ACTION {item.transaction_id} --actor YOU"
        lines = [
            f"**Parked: {item.category.value}** at `{item.step}` ({item.system})",
            "",
            item.message,
            "",
            f"Owner: {item.owner}. SLA due {item.sla_due_at:%Y-%m-%d %H:%M} UTC. "
            f"Safe actions: {', '.join(item.safe_actions)}.",
        ]
        if item.missing_fields:
            lines += ["", "Missing or invalid fields:"]
            lines += [f"- `{p.path}`: {p.problem}" for p in item.missing_fields]
            command = (
                f"onboarding resolve supply-data {item.transaction_id} --actor YOU "
                + " ".join(f"--set {p.path}=VALUE" for p in item.missing_fields)
            )
        if item.candidates:
            lines += ["", "Candidates:"]
            lines += [f"- {c.id}: {c.name} ({c.domain or '-'})" for c in item.candidates]
            command = (
                f"onboarding resolve choose-match {item.transaction_id} --actor YOU "
                "--company ID --reason WHY"
            )
        if item.category == Category.QA_SIGN_OFF:
            lines[0] = f"**Waiting for QA sign-off** ({item.system})"
            command = (
                f"onboarding sign-off {item.transaction_id} --actor YOU --note WHAT-YOU-CHECKED"
            )
        lines += ["", f"`{command}`"]
        workflow.set_current_details("\n".join(lines))

    # ------------------------------------------------------------------ the resolve update

    def validate(self, request: ResolveRequest) -> None:
        """Refuse, with the reason, any action that does not fit the open item."""
        ctx = self.ctx
        item = ctx.state.open_item
        if item is None:
            raise ValueError(
                f"run {ctx.transaction_id} has no open exception item "
                f"(stage {ctx.state.stage.value})"
            )
        if request.exception_id and request.exception_id != item.id:
            raise ValueError(
                f"exception {request.exception_id} is not open; the open one is {item.id}"
            )
        if request.action.value not in item.safe_actions:
            raise ValueError(
                f"{request.action.value} is not a safe action for this {item.category.value} "
                f"item; choose one of: {', '.join(item.safe_actions)}"
            )
        if not request.actor.strip():
            raise ValueError("actor is required: who is acting")
        if request.action in JUSTIFIED_ACTIONS and not request.reason.strip():
            raise ValueError(f"{request.action.value} needs a justification (reason)")
        if request.action == SafeAction.CHOOSE_MATCH:
            ids = [c.id for c in item.candidates]
            if request.company_id not in ids:
                raise ValueError(
                    f"company {request.company_id!r} is not a candidate; "
                    f"candidates: {', '.join(ids)}"
                )
        if request.action == SafeAction.APPROVE:
            approvers = ctx.rules.roles.get("scope-approver", [])
            if request.actor.strip().lower() not in (a.lower() for a in approvers):
                raise ValueError(
                    f"{request.actor} may not approve a scope change: only scope approvers "
                    f"({', '.join(approvers) or 'nobody holds that role'})"
                )
        if request.action == SafeAction.SIGN_OFF:
            raise ValueError(
                f"a QA sign-off is given with: onboarding sign-off {ctx.transaction_id} "
                "--actor YOU (members of the sign-off roles only)"
            )
        if request.action == SafeAction.REASSIGN and not (request.owner or "").strip():
            raise ValueError("reassign needs the new owner")
        if request.action == SafeAction.REPLAY_FROM:
            allowed = self.replayable()
            if request.stage not in allowed:
                raise ValueError(
                    f"replay-from needs a stage the run has reached: one of {', '.join(allowed)}"
                )
        if request.action == SafeAction.SUPPLY_DATA:
            if not request.data:
                raise ValueError("supply-data needs the fields to set (data)")
            merged = merge_patch(ctx.state.document, request.data)
            patched = patch_paths(request.data)
            wrong = [
                p
                for p in find_problems(merged)
                if p.path == "(payload)"
                or any(p.path == q or p.path.startswith(q + ".") for q in patched)
            ]
            if wrong:
                raise ValueError(
                    "supplied data is not valid: "
                    + "; ".join(f"{p.path} {p.problem}" for p in wrong)
                )

    def apply(self, request: ResolveRequest) -> ResolveResult:
        """A validated action: on the record with who and why; the waiting step resumes
        (``reassign`` only hands the item to another owner)."""
        ctx, state = self.ctx, self.ctx.state
        item = state.open_item
        assert item is not None  # the validator guarantees it
        ctx.record(
            AuditAction.PERSON_ACTION,
            f"{request.actor} chose {request.action.value} on {item.id}: "
            f"{request.reason or '(no reason given)'}",
            actor=request.actor,
            exception_id=item.id,
            action=request.action.value,
            reason=request.reason,
        )
        if request.action == SafeAction.REASSIGN:
            previous, item.owner = item.owner, str(request.owner)
            ctx.record(
                AuditAction.EXCEPTION_REASSIGNED,
                f"{item.id} reassigned from {previous} to {item.owner}",
                actor=request.actor,
                exception_id=item.id,
                owner=item.owner,
                previous=previous,
                reason=request.reason,
            )
            ctx.upsert([sa.EXCEPTION_OWNER.value_set(item.owner)])
            if ctx.release3:
                workflow.upsert_memo({sa.QUEUE_MEMO: item.model_dump(mode="json")})
            self.describe(item)
            ctx.sla_changed()
            return ResolveResult(
                exception_id=item.id,
                action=request.action,
                message=f"{item.id} reassigned from {previous} to {item.owner}",
            )
        remaining: list[FieldProblem] = []
        if request.action == SafeAction.SUPPLY_DATA:
            state.document = merge_patch(state.document, request.data or {})
            remaining = find_problems(state.document)
        if request.action == SafeAction.CANCEL:
            state.cancel = CancelRequest(actor=request.actor, reason=request.reason)
        self._resolution = request
        message = f"{item.id}: {request.action.value} accepted; the run resumes"
        if remaining:
            message = f"{item.id}: data accepted; still missing or invalid: " + ", ".join(
                p.path for p in remaining
            )
        return ResolveResult(
            exception_id=item.id,
            action=request.action,
            message=message,
            remaining_problems=remaining,
        )

    def replayable(self) -> list[str]:
        """The stages a person may rerun from: those the run has reached."""
        reached = {entry.stage for entry in self.ctx.state.stages}
        return [stage.value for stage in REPLAYABLE_STAGES if stage in reached]
