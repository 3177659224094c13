"""The bare baselines of the benchmark: workflows with the Temporal shape of an onboarding run and
none of its work.

A bare run is started the same way (signal-with-start, the signal a no-op), executes as many
activities and local activities as the onboarding run it is compared with (counted from that
run's history), each a no-op, and, for the parked comparison, then marks itself parked in a
search attribute and waits on a timer like a run waiting for a person. It runs on a worker with
the onboarding worker's data converter, sandbox runner, cache size and slots. What the
onboarding run costs on top of it is the vendors' HTTP calls, the ledger writes, the payload
models, the rules and the run's bookkeeping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa

#: Same activity timeout as the onboarding workflow's steps.
ACTIVITY_TIMEOUT = timedelta(seconds=30)
#: The stage a bare parked run marks itself with (the onboarding queue never lists it).
PARKED_STAGE = "bench-parked"
#: How long a bare parked run's timer sleeps at a time (an onboarding run's SLA watch: a day).
PARKED_SLEEP = timedelta(days=1)


class BaselinePlan(BaseModel):
    """What one bare run executes."""

    activities: int
    local_activities: int = 0


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    """Do nothing.

    Args:
        step: The position of the activity in its run.

    Returns:
        ``step``, unchanged.
    """
    return step


async def run_plan(plan: BaselinePlan) -> int:
    """Workflow code: the plan's activities in sequence, a local activity after each of the
    first ones (the rest of the local activities after the last activity).

    Returns:
        How many activities of both kinds ran.
    """
    done = 0
    for step in range(max(plan.activities, plan.local_activities)):
        if step < plan.activities:
            await workflow.execute_activity(noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT)
            done += 1
        if step < plan.local_activities:
            await workflow.execute_local_activity(
                noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            done += 1
    return done


@workflow.defn(name="BenchBaselineWorkflow")
class BaselineWorkflow:
    """The plan's no-op activities, then done."""

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        """Run the plan.

        Returns:
            How many activities ran.
        """
        return await run_plan(plan)

    @workflow.signal
    def event_received(self, event: dict[str, Any]) -> None:
        """The start signal: ignored."""


@workflow.defn(name="BenchParkedBaselineWorkflow")
class ParkedBaselineWorkflow:
    """The plan's no-op activities, then parked (a search attribute says so) until released."""

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


def build_baseline_worker(client: Client, *, task_queue: str) -> Worker:
    """A worker running only the bare workflows and their no-op activity, with the onboarding
    worker's sandbox runner, cache size and slots (:func:`workers.main.worker_tuning`).

    Args:
        client: A client with the shared data converter (:func:`runtime.client.connect`).
        task_queue: The task queue to poll.

    Returns:
        The worker, not started.
    """
    from workers.main import worker_tuning
    from workers.runner import workflow_runner

    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BaselineWorkflow, ParkedBaselineWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(client.data_converter),
        **worker_tuning(),
    )
