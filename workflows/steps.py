"""Steps: one side effect of a run, described by a typed :class:`StepSpec` and run with the
vendor retry policy; what cannot proceed goes to the exception desk.

A step the rules do not automate is recorded (``off``) or handed to a person as a task
(``manual``) instead of being called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.models import StepFailureDetails
    from onboarding.domain.actions import SafeAction, safe_actions
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.errors import category_for
    from onboarding.domain.notices import NoticeKind
    from onboarding.domain.rules import StepMode
    from onboarding.domain.run import ManualTask
    from onboarding.domain.stages import Stage
    from onboarding.domain.validation import FieldProblem
    from workflows.alerts import Alerts
    from workflows.context import ACTIVITY_TIMEOUT, RunContext
    from workflows.desk import ExceptionDesk, ReplayFrom
    from workflows.gates import Gates

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class StepSpec(Generic[InputT, OutputT]):
    """One side-effecting step of a run.

    Attributes:
        name: The step, as the queue and the audit trail name it (``send_email:welcome``).
        system: The vendor system it calls.
        activity: The activity method.
        input: Its input.
        mode: Automated, a person's task, or off (rules).
        skippable: Whether a person may skip it or rerun from an earlier stage; the CRM steps
            may not: nothing downstream runs without a confirmed CRM company.
        choose_match: How a person's choice of CRM company (an ambiguous match) changes the
            input; only the identity step has one.
        actions: The safe actions when it fails, when not those of the failure's category.
        checkpoint: Whether a cancel or a scope change stops it before it starts (not for the
            rollback of a cancelled run).
        heartbeat: For a step that heartbeats while it waits on a vendor's job: a worker that
            stops heartbeating is presumed dead after this long, and the next attempt resumes
            from the last heartbeat's details.
    """

    name: str
    system: str
    activity: Callable[[Any, InputT], Awaitable[OutputT]]
    input: InputT
    mode: StepMode = StepMode.AUTOMATED
    skippable: bool = True
    choose_match: Callable[[InputT, str], InputT] | None = None
    actions: list[SafeAction] | None = None
    checkpoint: bool = True
    heartbeat: timedelta | None = None


class StepRunner:
    """Runs steps; parks the run on the exception desk when one cannot proceed."""

    def __init__(self, ctx: RunContext, desk: ExceptionDesk, gates: Gates, alerts: Alerts) -> None:
        self.ctx = ctx
        self.desk = desk
        self.gates = gates
        self.alerts = alerts

    async def run(self, spec: StepSpec[InputT, OutputT]) -> OutputT | None:
        """Run ``spec`` until it succeeds (its result), or a person skips it (None).

        Raises:
            ReplayFrom: a person asked to rerun from an earlier stage.
            RunCancelled: the run was cancelled.
        """
        if spec.mode != StepMode.AUTOMATED:
            await self.not_automated(spec)
            return None
        arg = spec.input
        while True:
            if spec.checkpoint:
                await self.gates.checkpoint()
            try:
                return await workflow.execute_activity_method(
                    spec.activity,
                    arg,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    # The retry budget: transient failures retry until it runs out.
                    schedule_to_close_timeout=self.ctx.step_budget,
                    heartbeat_timeout=spec.heartbeat,
                    retry_policy=self.ctx.retry_policy(within_budget=True),
                    # A cancel waits for a call in flight to finish, so that the rollback sees
                    # what it created (older runs abandoned it).
                    cancellation_type=(
                        ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                        if self.ctx.release3
                        else ActivityCancellationType.TRY_CANCEL
                    ),
                    summary=spec.name,
                )
            except ActivityError as err:
                skipped, arg = await self._park(spec, arg, err)
                if skipped:
                    return None

    async def _park(
        self, spec: StepSpec[InputT, OutputT], arg: InputT, err: ActivityError
    ) -> tuple[bool, InputT]:
        """Open an item for the failed step and wait for a person: whether they skipped the
        step, and the input of the next attempt."""
        cause = last_failure(err)
        error_type = cause.type if isinstance(cause, ApplicationError) else None
        details = failure_details(cause)
        category = category_for(error_type)
        item = self.desk.open(
            step=spec.name,
            system=details.system or spec.system,
            category=category,
            message=str(cause.message if isinstance(cause, ApplicationError) else err),
            owner=self.ctx.owner_for(category),
            http_status=details.http_status,
            attempts=details.attempt or 0,
            candidates=details.candidates,
            missing_fields=[
                FieldProblem(path=field, problem=f"rejected by {details.system}")
                for field in details.fields
            ],
            actions=spec.actions or safe_actions(category, skippable=spec.skippable),
        )
        resolution = await self.desk.wait(item)
        if resolution.action == SafeAction.REPLAY_FROM and resolution.stage:
            raise ReplayFrom(Stage(resolution.stage)) from None
        if resolution.action == SafeAction.SKIP:
            return True, arg
        if resolution.action == SafeAction.CHOOSE_MATCH and spec.choose_match is not None:
            arg = spec.choose_match(arg, str(resolution.company_id))
        return False, arg

    async def not_automated(self, spec: StepSpec[Any, Any]) -> None:
        """A step the rules turn off (recorded) or make a person's task (recorded and sent)."""
        ctx = self.ctx
        if spec.mode == StepMode.OFF:
            ctx.record(
                AuditAction.STEP_NOT_AUTOMATED,
                f"{spec.name} ({spec.system}) is off in rules {ctx.snapshot.version}",
                step=spec.name,
                system=spec.system,
                mode=spec.mode.value,
            )
            return
        task = ManualTask(
            step=spec.name,
            owner=ctx.state.case_owner,
            created_at=workflow.now(),
            note=f"do {spec.name} in {spec.system} by hand for {ctx.customer_name}",
        )
        ctx.state.manual_tasks.append(task)
        ctx.record(
            AuditAction.STEP_NOT_AUTOMATED,
            f"{task.note}; owner {task.owner}",
            step=spec.name,
            system=spec.system,
            mode=spec.mode.value,
            owner=task.owner,
        )
        if ctx.sla_on:
            await self.alerts.notify(
                key=f"manual:{spec.name}",
                kind=NoticeKind.MANUAL_TASK,
                recipients=[task.owner],
                subject=f"Task: {spec.name} for {ctx.customer_name}",
                text=f"The rules make {spec.name} ({spec.system}) a manual task for "
                f"{ctx.transaction_id}: {task.note}.",
                chat=False,
            )


def failure_details(cause: BaseException | None) -> StepFailureDetails:
    """The typed details a vendor step's failure carries (empty for other failures)."""
    if isinstance(cause, ApplicationError) and cause.details:
        first = cause.details[0]
        if isinstance(first, dict):
            return StepFailureDetails.model_validate(first)
    return StepFailureDetails()


def last_failure(err: ActivityError) -> BaseException | None:
    """The vendor failure behind an activity error. When a step's retry budget runs out, the
    cause is a schedule-to-close timeout whose own cause is the last attempt's failure: that is
    what the exception item must name (its category, system, status and message)."""
    cause = err.cause
    if (
        isinstance(cause, TemporalTimeoutError)
        and cause.type == TimeoutType.SCHEDULE_TO_CLOSE
        and cause.cause is not None
    ):
        return cause.cause
    return cause
