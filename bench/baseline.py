"""The bare baseline of the benchmark: a workflow of sequential no-op activities, nothing else.

It runs as many activities, one after the other, as one onboarding run does, on a worker with the
same data converter and activity slots as the onboarding worker. What the onboarding run costs on
top of it is the vendors' HTTP calls, the payload models, the rules and the run's bookkeeping.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

#: Same activity timeout as the onboarding workflow's steps.
ACTIVITY_TIMEOUT = timedelta(seconds=30)
#: Same activity slots as :func:`workers.main.build_worker`.
MAX_CONCURRENT_ACTIVITIES = 50


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    """Do nothing.

    Args:
        step: The position of the activity in its run.

    Returns:
        ``step``, unchanged.
    """
    return step


@workflow.defn(name="BenchBaselineWorkflow")
class BaselineWorkflow:
    """``activities`` no-op activities, one after the other."""

    @workflow.run
    async def run(self, activities: int) -> int:
        """Run the activities in sequence.

        Args:
            activities: How many no-op activities to run.

        Returns:
            How many ran.
        """
        done = 0
        for step in range(activities):
            await workflow.execute_activity(noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT)
            done += 1
        return done


def build_baseline_worker(client: Client, *, task_queue: str) -> Worker:
    """A worker running only the baseline workflow and its no-op activity.

    Args:
        client: A client with the shared data converter (:func:`runtime.client.connect`).
        task_queue: The task queue to poll.

    Returns:
        The worker, not started.
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BaselineWorkflow],
        activities=[noop],
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
    )
