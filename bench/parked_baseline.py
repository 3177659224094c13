"""The bare parked run of the benchmark: a bare run's activities, then parked (a search attribute
says so) on a timer until released, as a run waiting for a person."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.plans import BaselinePlan, run_plan
    from workflows import search_attributes as sa

#: The stage a bare parked run marks itself with (the onboarding queue never lists it).
PARKED_STAGE = "bench-parked"
#: How long a bare parked run's timer sleeps at a time (an onboarding run's SLA watch: a day).
PARKED_SLEEP = timedelta(days=1)


@workflow.defn(name="BenchParkedBaselineWorkflow")
class ParkedBaselineWorkflow:
    """The plan's no-op activities, then parked until released."""

    @workflow.init
    def __init__(self, plan: BaselinePlan) -> None:
        self.released = False
        self.done = 0

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        """Run the plan, then wait, a timer at a time, until released.

        Returns:
            How many activities ran.
        """
        self.done = await run_plan(plan)
        workflow.upsert_search_attributes([sa.STAGE.value_set(PARKED_STAGE)])
        while not self.released:
            try:
                await workflow.wait_condition(lambda: self.released, timeout=PARKED_SLEEP)
            except TimeoutError:
                pass
        return self.done

    @workflow.signal
    def event_received(self, event: dict[str, Any]) -> None:
        """The start signal: ignored."""

    @workflow.signal
    def release(self) -> None:
        """Let the run end."""
        self.released = True

    @workflow.query
    def status(self) -> int:
        """How many activities the run executed."""
        return self.done
