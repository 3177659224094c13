"""Replay: a workflow change that would break runs in flight fails here.

Replays the committed histories (recorded by ``tests/histories/record.py`` on released code) and
histories made just now by this suite's own runs, including parked and resolved ones.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from onboarding.runtime.client import data_converter
from tests.support import make_payload, result_of, start, unique_slug, wait_for_exception
from workflows.messages import ResolveRequest, SafeAction
from workflows.onboarding import OnboardingWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=[OnboardingWorkflow], data_converter=data_converter())


async def test_committed_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories"
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        await replayer().replay_workflow(history)


async def test_fresh_parked_and_resolved_history_replays(client: Client, worker: Worker) -> None:
    slug = unique_slug("replay")
    payload = make_payload(slug)
    del payload["crm_owner"]
    outcome = await start(client, worker.task_queue, payload)
    await wait_for_exception(client, outcome.transaction_id)
    await outcome.handle.execute_update(
        OnboardingWorkflow.resolve,
        ResolveRequest(
            action=SafeAction.SUPPLY_DATA,
            actor="ops@example.com",
            reason="owner from the deal",
            data={"crm_owner": "rep@example.com"},
        ),
    )
    await result_of(outcome.handle)
    history = await outcome.handle.fetch_history()
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
