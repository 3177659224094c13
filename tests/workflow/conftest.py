"""Workflow unit tests: the real workflow on the time-skipping server, its vendor activities
faked by name (see :mod:`tests.workflow.fakes`), so each branch of the exception desk, the
gates and the cancellation is tested in well under a second."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from onboarding.domain.audit import AuditEntry
from onboarding.domain.run import OnboardingResult, RunStatus
from starters.start import StartOutcome
from tests.support import (
    ledger,
    result_of,
    start,
    status_of,
    terminate_if_running,
    unique_slug,
    wait_for_exception,
)
from tests.workflow.fakes import FakeSystems
from workers.runner import workflow_runner
from workflows.messages import ResolveRequest, ResolveResult, SafeAction
from workflows.onboarding import OnboardingWorkflow

Run = WorkflowHandle[OnboardingWorkflow, OnboardingResult]


@dataclass
class Harness:
    """Starts runs on a worker with fake vendors and acts on them as a person would."""

    env: WorkflowEnvironment
    task_queue: str
    systems: FakeSystems
    runs: list[StartOutcome] = field(default_factory=list)

    async def start(self, payload: dict[str, Any]) -> Run:
        outcome = await start(self.env.client, self.task_queue, payload, f"unit-{unique_slug('')}")
        self.runs.append(outcome)
        return outcome.handle

    async def status(self, run: Run) -> RunStatus:
        """The run's status with its whole trail (the ledger's part, then the rest)."""
        return await status_of(self.env.client, run.id)

    async def parked(self, run: Run, category: str) -> RunStatus:
        """Wait until the run parks on an item of ``category`` (fails at once elsewhere)."""
        return await wait_for_exception(
            self.env.client, run.id, category=category, timeout=10, interval=0.02
        )

    async def resolve(self, run: Run, action: SafeAction, **fields: Any) -> ResolveResult:
        fields.setdefault("actor", "ops@example.com")
        return await run.execute_update(
            OnboardingWorkflow.resolve, ResolveRequest(action=action, **fields)
        )

    async def refusal(self, run: Run, update: Any, request: Any) -> str:
        """The validator's reason for refusing ``update`` (it changes nothing)."""
        try:
            await run.execute_update(update, request)
        except WorkflowUpdateFailedError as refused:
            assert isinstance(refused.cause, ApplicationError), refused.cause
            return refused.cause.message
        raise AssertionError(f"{request!r} was accepted")

    async def refused(self, run: Run, action: SafeAction, **fields: Any) -> str:
        fields.setdefault("actor", "ops@example.com")
        return await self.refusal(
            run, OnboardingWorkflow.resolve, ResolveRequest(action=action, **fields)
        )

    async def ended(self, run: Run) -> OnboardingResult:
        """The run's result (it fails at once if the run parks on a new item instead). Waiting
        on it lets the server skip time: timers fire at once."""
        return await result_of(run, timeout=10, interval=0.05)


def actions_on_record(trail: list[AuditEntry]) -> list[tuple[str, str]]:
    """Who did what, from the audit trail's person actions."""
    return [(a.actor, a.data.get("action", "")) for a in trail if a.action == "person-action"]


@pytest.fixture
def systems() -> FakeSystems:
    return FakeSystems()


@pytest.fixture
async def harness(
    ts_env: WorkflowEnvironment, systems: FakeSystems, rules_file: Path
) -> AsyncIterator[Harness]:
    task_queue = f"unit-{uuid.uuid4()}"
    worker = Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[OnboardingWorkflow],
        activities=systems.activities(rules_file, ledger()),
        workflow_runner=workflow_runner(ts_env.client.data_converter),
    )
    async with worker:
        h = Harness(ts_env, task_queue, systems)
        try:
            yield h
        finally:
            # A run a failed test left parked must not fire timers into the next tests.
            for outcome in h.runs:
                await terminate_if_running(outcome.handle)
