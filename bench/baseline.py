"""The bare baselines of the benchmark: workflows with the Temporal shape of an onboarding run and
none of its work.

A bare run is started the same way (signal-with-start, the signal a no-op), executes as many
activities and local activities as the onboarding run it is compared with (counted from that
run's history), each a no-op, and, for the parked comparison
(:class:`bench.parked_baseline.ParkedBaselineWorkflow`), then marks itself parked in a search
attribute and waits on a timer like a run waiting for a person. It runs on a worker with the
onboarding worker's data converter, sandbox runner, cache size and slots. What the onboarding
run costs on top of it is the vendors' HTTP calls, the ledger writes, the payload models, the
rules and the run's bookkeeping.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from bench.plans import BaselinePlan, noop, run_plan

__all__ = ["BaselinePlan", "BaselineWorkflow", "build_baseline_worker"]


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


def build_baseline_worker(client: Client, *, task_queue: str) -> Worker:
    """A worker running only the bare workflows and their no-op activity, with the onboarding
    worker's sandbox runner, cache size and slots (:func:`workers.main.worker_tuning`).

    Args:
        client: A client with the shared data converter (:func:`runtime.client.connect`).
        task_queue: The task queue to poll.

    Returns:
        The worker, not started.
    """
    from bench.parked_baseline import ParkedBaselineWorkflow
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
