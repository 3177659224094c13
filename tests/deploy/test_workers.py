"""Worker processes as they run in production: several share one task queue, a SIGTERM lets
in-flight activities finish (or hands them back), and a SIGKILL in the middle of runs loses
nothing and creates nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from onboarding.domain.stages import Stage
from starters.start import StartOutcome
from tests.deploy.processes import worker_command, worker_env, worker_process
from tests.support import (
    SandboxAdmin,
    eventually,
    make_payload,
    result_of,
    start,
    unique_slug,
)

#: Worker processes started, stopped and killed: a SIGKILLed worker's calls time out after 30 s.
pytestmark = pytest.mark.slow

ZENDESK_ORG = "/zendesk/api/v2/organizations.json"
SMB_TEMPLATE = "/asana/api/1.0/project_templates/1200000000000003/instantiateProject"


def identity(process: subprocess.Popen[bytes]) -> str:
    """The worker identity the SDK gives a process (and so the history records)."""
    return f"{process.pid}@{socket.gethostname()}"


async def activity_workers(client: Client, transaction_id: str) -> Counter[str]:
    """How many activities of a run each worker identity completed."""
    handle = client.get_workflow_handle(transaction_id)
    done: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done[event.activity_task_completed_event_attributes.identity] += 1
    return done


async def starts_of(
    client: Client, transaction_id: str, activity: str
) -> list[tuple[int, str, str]]:
    """Each start of ``activity`` in a run: (attempt, worker identity, last failure type)."""
    scheduled: set[int] = set()
    starts = []
    async for event in client.get_workflow_handle(transaction_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == activity:
                scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in scheduled:
                failure = started.last_failure.application_failure_info.type
                starts.append((started.attempt, started.identity, failure))
    return starts


async def pollers(client: Client, task_queue: str) -> set[str]:
    """Identities of the workers polling ``task_queue`` for activities (the UI's Workers tab)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return {poller.identity for poller in response.pollers}


async def polling(client: Client, *processes: subprocess.Popen[bytes]) -> str:
    """Wait until every process polls its task queue (a cold start on a busy machine can take
    a while); the task queue. A process that died instead fails the test with its log."""
    task_queue: str = processes[0].task_queue  # type: ignore[attr-defined]
    wanted = {identity(p) for p in processes}

    async def probe() -> set[str]:
        for process in processes:
            if process.poll() is not None:
                log = Path(process.log).read_text()  # type: ignore[attr-defined]
                raise AssertionError(f"worker {process.pid} exited {process.returncode}: {log}")
        return await pollers(client, task_queue)

    await eventually(
        probe, lambda found: wanted <= found, timeout=120, what=f"workers {sorted(wanted)} to poll"
    )
    return task_queue


async def in_flight(admin: SandboxAdmin, path: str, since: int) -> list[dict[str, Any]]:
    """Requests to ``path`` the sandbox has received and not yet answered."""
    return [e for e in await admin.requests(since) if e["path"] == path and e.get("status") is None]


@pytest.fixture
def workers(
    client: Client, sandbox: Any, rules_file: Path, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``onboarding-worker`` processes on one fresh task queue; all stopped at the end."""
    task_queue = f"workers-{uuid.uuid4()}"
    with ExitStack() as stack:

        def spawn(*args: str) -> subprocess.Popen[bytes]:
            command = worker_command(
                client.service_client.config.target_host,
                client.namespace,
                task_queue,
                "--rules",
                str(rules_file),
                *args,
            )
            log = tmp_path / f"worker-{len(stack._exit_callbacks)}.log"
            process = stack.enter_context(
                worker_process(command, env=worker_env(sandbox.base_url), log=log)
            )
            process.task_queue = task_queue  # type: ignore[attr-defined]
            process.log = log  # type: ignore[attr-defined]
            return process

        yield spawn


async def start_runs(
    client: Client, task_queue: str, count: int, prefix: str
) -> list[StartOutcome]:
    return [
        await start(client, task_queue, make_payload(unique_slug(prefix))) for _ in range(count)
    ]


async def test_two_worker_processes_share_the_runs_of_one_task_queue(
    client: Client, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    first, second = workers(), workers()
    task_queue = await polling(client, first, second)
    outcomes = await start_runs(client, task_queue, 8, "share")
    for outcome in outcomes:
        assert (await result_of(outcome.handle)).stage == Stage.LIVE
    done: Counter[str] = Counter()
    for outcome in outcomes:
        done.update(await activity_workers(client, outcome.transaction_id))
    assert set(done) == {identity(first), identity(second)}, done
    assert min(done.values()) >= 5, f"one worker did almost nothing: {done}"


async def test_sigterm_lets_an_in_flight_activity_finish_before_the_worker_exits(
    client: Client, workers: Callable[..., subprocess.Popen[bytes]], admin: SandboxAdmin
) -> None:
    await admin.fault(method="POST", path=ZENDESK_ORG, latency_ms=3000, count=1)
    seq = await admin.last_seq()
    stopping = workers("--graceful-shutdown", "20")
    task_queue = await polling(client, stopping)
    slug = unique_slug("term")
    outcome = await start(client, task_queue, make_payload(slug))
    await eventually(lambda: in_flight(admin, ZENDESK_ORG, seq), bool, what="a slow call")

    os.killpg(stopping.pid, signal.SIGTERM)
    assert await asyncio.to_thread(stopping.wait, 30) == 0
    answered = [e for e in await admin.requests(seq) if e["path"] == ZENDESK_ORG]
    assert [e["status"] for e in answered] == [201], "the call finished, once"

    successor = workers()
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    starts = await starts_of(client, outcome.transaction_id, "provision_support")
    assert starts == [(1, identity(stopping), "")], "finished by the stopping worker, once"
    assert (await activity_workers(client, outcome.transaction_id))[identity(successor)] >= 1
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["organizations"]) == 1 and len(records["users"]) == 1


async def test_sigterm_past_the_grace_period_hands_the_activity_back(
    client: Client, workers: Callable[..., subprocess.Popen[bytes]], admin: SandboxAdmin
) -> None:
    await admin.fault(method="POST", path=ZENDESK_ORG, latency_ms=4000, count=1)
    seq = await admin.last_seq()
    stopping = workers("--graceful-shutdown", "0.5")
    task_queue = await polling(client, stopping)
    slug = unique_slug("handback")
    outcome = await start(client, task_queue, make_payload(slug))
    await eventually(lambda: in_flight(admin, ZENDESK_ORG, seq), bool, what="a slow call")

    os.killpg(stopping.pid, signal.SIGTERM)
    assert await asyncio.to_thread(stopping.wait, 30) == 0
    successor = workers()
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    starts = await starts_of(client, outcome.transaction_id, "provision_support")
    # (The history keeps the start of the last attempt only, with the failure before it.)
    assert starts == [(2, identity(successor), "WorkerShutdown")], (
        "cancelled at the end of the grace period, run again by the other worker"
    )
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert len(records["organizations"]) == 1 and len(records["users"]) == 1


async def test_sigkill_in_the_middle_of_runs_loses_nothing_and_creates_nothing_twice(
    client: Client,
    workers: Callable[..., subprocess.Popen[bytes]],
    admin: SandboxAdmin,
    rules_file: Path,
    tmp_path: Path,
) -> None:
    """The killed worker's in-flight activities time out (30 s) and run on the survivor; its
    workflows are replayed there from their histories."""
    # Long enough that the survivor starts (a loaded machine takes seconds to spawn a worker)
    # before the doomed worker's calls would answer; shorter than the 30 s start-to-close.
    await admin.fault(method="POST", path=SMB_TEMPLATE, latency_ms=25_000)
    # When the survivor takes longer still to start, the doomed worker's calls time out and are
    # retried, on it, until it is killed: without an attempt cap (the retry budget is 15
    # minutes), a slow start never parks the runs.
    uncapped = tmp_path / "uncapped-rules.toml"
    uncapped.write_text(rules_file.read_text().replace("max_attempts = 3\n", ""))
    seq = await admin.last_seq()
    doomed = workers("--rules", str(uncapped))
    task_queue = await polling(client, doomed)
    slugs = [unique_slug("kill") for _ in range(6)]
    outcomes = [await start(client, task_queue, make_payload(slug)) for slug in slugs]
    await eventually(
        lambda: in_flight(admin, SMB_TEMPLATE, seq),
        lambda calls: len(calls) >= 3,
        what="the doomed worker to be creating several projects",
    )
    survivor = workers("--rules", str(uncapped))
    await polling(client, survivor)
    os.killpg(doomed.pid, signal.SIGKILL)
    assert await asyncio.to_thread(doomed.wait, 10) == -signal.SIGKILL
    await admin.clear_faults()

    for outcome in outcomes:
        result = await asyncio.wait_for(outcome.handle.result(), timeout=120)
        assert result.stage == Stage.LIVE
    for slug, outcome in zip(slugs, outcomes, strict=True):
        records = await admin.records_for(
            f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
        )
        for kind in ("companies", "contacts", "projects", "organizations", "users"):
            assert len(records[kind]) == 1, f"{outcome.transaction_id}: {kind} {records[kind]}"
    retried = [
        start
        for outcome in outcomes
        for start in await starts_of(client, outcome.transaction_id, "create_delivery_project")
        if start[0] > 1
    ]
    assert retried and {who for _, who, _ in retried} == {identity(survivor)}, (
        "the killed worker's projects were created again by the survivor"
    )
