"""The SLA watch: one long-lived task per run that sends each notice when it falls due.

It sleeps until the earliest notice the domain scheduler says the run owes, or until something
the clocks depend on changes (a stage, an item, an owner), then recomputes. Its timer always has
a timeout (at most a day), so a run never waits on an unbounded timer.

Which clocks run while a run waits for a person: all of them; none pauses (the customer's wait
does not pause, and the report measures every stage from the run's start). What changes is who
hears: while an item is open, every alert goes to the item's owner and names the item and its
due time, exactly what the queue shows; escalations still go up the chain.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from onboarding.domain.notices import DueNotice, pending_notices, running_clocks
    from onboarding.domain.run import SlaState
    from workflows.alerts import Alerts
    from workflows.context import RunContext

#: The watch wakes at least this often, even with nothing due.
MAX_SLEEP = timedelta(days=1)


class SlaWatch:
    """Sends the run's SLA notices on time; answers the ``status`` query's SLA clocks."""

    def __init__(self, ctx: RunContext, alerts: Alerts) -> None:
        self.ctx = ctx
        self.alerts = alerts

    def pending(self) -> list[DueNotice]:
        """The notices the run still owes, earliest first."""
        state = self.ctx.state
        if state.rules is None or state.done:
            return []
        return pending_notices(
            state.rules.rules,
            stage=state.stage,
            started_at=workflow.info().start_time,
            case_owner=state.case_owner,
            item=state.open_item,
            sent=state.sent,
        )

    async def run(self) -> None:
        """Until the run is done: sleep until the next notice is due, send it, recompute."""
        if self.ctx.release4:
            await self._run_on_one_timer()
            return
        ctx = self.ctx
        while not ctx.state.done:
            pending = self.pending()
            version = ctx.sla_version
            wait = pending[0].at - workflow.now() if pending else MAX_SLEEP
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda version=version: (  # type: ignore[misc]
                            ctx.state.done or ctx.sla_version != version
                        ),
                        timeout=min(wait, MAX_SLEEP),
                    )
                    continue  # something changed: recompute
                except TimeoutError:
                    if not pending or workflow.now() < pending[0].at:
                        continue
            if ctx.state.done:
                return
            await self._send(pending[0])

    async def _send(self, notice: DueNotice) -> None:
        """Send a notice that fell due and write it on the record."""
        item = self.ctx.state.open_item
        if self.ctx.release3 and item is not None and notice.owner != item.owner:
            # While a person is asked, every alert goes to the item's owner, the one person
            # who can unblock the run, and names the item and its due time: what the queue
            # shows. (Escalations still climb the chain.)
            notice = notice.model_copy(update={"owner": item.owner})
        await self.alerts.send(notice)
        await self.ctx.flush()

    async def _run_on_one_timer(self) -> None:
        """Release 4: as :meth:`run`, but a change that leaves the next notice where it was
        (most stage changes) keeps the timer already running instead of cancelling it and
        starting an equal one."""
        ctx = self.ctx
        timer: asyncio.Task[None] | None = None
        #: The notice time the running timer serves (None: no notice owed, a day's sleep).
        serves: datetime | None = None
        try:
            while not ctx.state.done:
                pending = self.pending()
                target = pending[0].at if pending else None
                now = workflow.now()
                if target is None or target > now:
                    if timer is None or timer.done() or serves != target:
                        if timer is not None and not timer.done():
                            timer.cancel()
                        wait = MAX_SLEEP if target is None else min(target - now, MAX_SLEEP)
                        timer = asyncio.create_task(
                            workflow.sleep(wait, summary="SLA watch: next notice")
                        )
                        serves = target
                    version, armed = ctx.sla_version, timer
                    await workflow.wait_condition(
                        lambda version=version, armed=armed: (  # type: ignore[misc]
                            ctx.state.done or ctx.sla_version != version or armed.done()
                        )
                    )
                    if not armed.done() or target is None or workflow.now() < target:
                        continue  # something changed, or a day passed: recompute
                if ctx.state.done:
                    return
                await self._send(pending[0])
        finally:
            if timer is not None and not timer.done():
                timer.cancel()

    def states(self) -> list[SlaState]:
        """Each running clock with its state as of now."""
        state = self.ctx.state
        if state.rules is None or state.done:
            return []
        now = workflow.now()
        return [
            SlaState(
                clock=clock.name,
                owner=clock.owner,
                priority=clock.priority,
                started_at=clock.deadlines.started_at,
                at_risk_at=clock.deadlines.at_risk_at,
                due_at=clock.deadlines.due_at,
                state=clock.state(now),
            )
            for clock in running_clocks(
                state.rules.rules,
                stage=state.stage,
                started_at=workflow.info().start_time,
                case_owner=state.case_owner,
                item=state.open_item,
            )
        ]
