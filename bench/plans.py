"""What the bare runs of the benchmark share: the plan of a run, its no-op activity, and the
workflow code that executes a plan.

Kept out of the bare workflows' own modules: the sandbox imports a workflow's module afresh for
every run, and this one is passed through, so a bare run does not define a model class or an
activity each time it starts.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

#: Same activity timeout as the onboarding workflow's steps.
ACTIVITY_TIMEOUT = timedelta(seconds=30)


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
