"""Exit codes scripts can rely on: every command exits with its own code, every time; a reader
that stops early gets no traceback; a late action has its own code; a worker that starts before
Temporal waits for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.cli.main import main as cli_main
from onboarding.data import SAMPLES
from onboarding.embedded.devserver import dev_server
from tests.support import eventually, make_payload, start, status_of, unique_slug

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCRIPTS = (
    "onboarding",
    "onboarding-start",
    "onboarding-worker",
    "onboarding-demo",
    "onboarding-intake",
    "onboarding-codec-server",
    "onboarding-sandbox",
)
#: Runs of each command in the repetition test. The abort it guards against happened about once
#: in eight runs, so a hundred clean runs leave it no room to hide ((7/8)^100 < 2e-6).
REPEATS = 100


def test_every_installed_script_ends_through_the_exit_discipline() -> None:
    installed = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    for name in SCRIPTS:
        assert installed[name].endswith(":script"), f"{name} -> {installed[name]}"
        assert (BIN / name).exists(), f"{name} is not installed beside the interpreter"


def _parked_payload(slug: str) -> dict[str, Any]:
    """A payload without its billing term: the run parks on missing data, owned by the deal
    owner, a person no other test uses, so ``queue --owner`` lists this run alone."""
    payload = make_payload(slug, crm_owner=f"{slug}@example.com")
    del payload["plan"]["billing_term"]
    return payload


def _event_file(tmp_path: Path) -> Path:
    event = json.loads((SAMPLES / "events" / "03-globex-invoice-paid.json").read_text())
    event["data"]["object"]["id"] = f"in_exit{uuid.uuid4().hex[:10]}"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def _run_many(runs: list[dict[str, Any]], *, parallel: int = 4) -> list[dict[str, Any]]:
    """Run console scripts through ``tests.console_runs`` (one fresh process per run)."""
    jobs = {
        "parallel": parallel,
        "preload": ["onboarding.cli.main", "starters.stripe_event"],
        "runs": runs,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.console_runs"],
        input=json.dumps(jobs),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


async def test_each_command_exits_with_its_own_code_every_time(
    client: Client, worker: Worker, tmp_path: Path
) -> None:
    slug = unique_slug("exit")
    outcome = await start(client, worker.task_queue, _parked_payload(slug))
    await eventually(
        lambda: status_of(client, outcome.transaction_id),
        lambda s: s.open_exception is not None,
        what="the run to park on missing data",
    )
    connection = ["--address", client.service_client.config.target_host]
    connection += ["--namespace", client.namespace]
    transaction = outcome.transaction_id
    commands: list[tuple[str, list[str], int]] = [
        ("onboarding", [*connection, "queue", "--owner", f"{slug}@example.com"], 0),
        ("onboarding", [*connection, "show", transaction], 0),
        (
            "onboarding",
            [
                *connection,
                *("resolve", "choose-match", transaction, "--company", "1"),
                *("--actor", "kim@example.com", "--reason", "this one"),
            ],
            3,
        ),
        (
            "onboarding-start",
            [str(_event_file(tmp_path)), *connection, "--task-queue", f"idle-{slug}"],
            0,
        ),
    ]
    # The installed executables, started as a person starts them, once each.
    for script, argv, expected in commands:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(BIN / script), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == expected, (script, argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    queue = await asyncio.to_thread(
        subprocess.run, [str(BIN / "onboarding"), *commands[0][1]], capture_output=True, text=True
    )
    assert transaction in queue.stdout, "the queue lists the parked run"

    runs = [
        {"script": script, "argv": argv, "expected": expected, "label": label}
        for _ in range(REPEATS)
        for (script, argv, expected), label in zip(
            commands, ("queue", "show", "resolve", "start"), strict=True
        )
    ]
    results = await asyncio.to_thread(_run_many, runs)
    signalled = [r for r in results if r["code"] < 0]
    assert not signalled, (
        f"{len(signalled)} of {len(results)} runs died of a signal, e.g. "
        f"{signalled[0]['label']}: {signalled[0]['stderr'][-600:]}"
    )
    assert Counter(r["label"] for r in results) == dict.fromkeys(
        ("queue", "show", "resolve", "start"), REPEATS
    )
    wrong = Counter((r["label"], r["code"]) for r in results if r["code"] != r["expected"])
    assert not wrong, f"unexpected exit codes: {dict(wrong)}"
    refused = [r for r in results if r["expected"] == 3]
    assert len(refused) == REPEATS
    assert all("onboarding: refused:" in r["stderr"] for r in refused)
    assert not any("Fatal Python error" in r["stderr"] for r in results)


def _into_a_closed_pipe(argv: list[str]) -> tuple[int, str]:
    """Run a command whose reader has gone before it writes (``... | head`` at its harshest)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=120), err


async def test_a_reader_that_stops_early_gets_no_traceback(client: Client, worker: Worker) -> None:
    slug = unique_slug("pipe")
    outcome = await start(client, worker.task_queue, _parked_payload(slug))
    await eventually(
        lambda: status_of(client, outcome.transaction_id),
        lambda s: s.open_exception is not None,
        what="the run to park on missing data",
    )
    connection = ["--address", client.service_client.config.target_host]
    connection += ["--namespace", client.namespace]
    for argv in (
        [str(BIN / "onboarding"), *connection, "show", outcome.transaction_id, "--json"],
        [str(BIN / "onboarding"), "rules"],
    ):
        code, err = await asyncio.to_thread(_into_a_closed_pipe, argv)
        assert code == 0, err
        assert "Traceback" not in err and "BrokenPipeError" not in err, err


async def test_a_late_action_has_its_own_exit_code(
    client: Client, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = unique_slug("late")
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    await eventually(
        lambda: status_of(client, outcome.transaction_id),
        lambda s: s.awaiting is not None and s.awaiting.startswith("QA sign-off"),
        what="the QA sign-off gate",
    )
    connection = ["--address", client.service_client.config.target_host]
    connection += ["--namespace", client.namespace]

    async def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(cli_main, [*connection, *args])
        return code, capsys.readouterr().err

    sign_off = ["sign-off", outcome.transaction_id, "--actor", "qa@example.com"]
    assert (await cli(*sign_off))[0] == 0
    await outcome.handle.result()
    code, err = await cli(*sign_off)
    assert code == 6, err
    assert "the run is no longer running: it ended completed" in err
    assert "in stage live; nothing was changed" in err
    code, err = await cli(
        "cancel", outcome.transaction_id, "--actor", "kim@example.com", "--reason", "too late"
    )
    assert code == 6 and "no longer running" in err
    code, err = await cli("show", "no-such-transaction")
    assert code == 4, "a run that never existed keeps its own code"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_worker_started_before_temporal_comes_up_by_itself(tmp_path: Path) -> None:
    port = _free_port()
    task_queue = f"early-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = await asyncio.create_subprocess_exec(
            str(BIN / "onboarding-worker"),
            *("--address", f"127.0.0.1:{port}", "--namespace", "onboarding"),
            *("--task-queue", task_queue),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "SANDBOX_URL": "http://127.0.0.1:9"},
        )
    try:

        async def log_lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in log_path.read_text().splitlines() if line]

        waits = await eventually(
            log_lines,
            lambda lines: sum(line["event"] == "waiting for Temporal" for line in lines) >= 2,
            timeout=60,
            what="the worker to say twice that it waits for Temporal",
        )
        first, second = [line for line in waits if line["event"] == "waiting for Temporal"][:2]
        assert "cannot reach Temporal" in first["reason"]
        assert second["retry_in_seconds"] > first["retry_in_seconds"], "it backs off"
        assert worker.returncode is None, "the worker is still there, waiting"

        async with dev_server(namespace="onboarding", port=port, ui=False) as env:

            async def pollers() -> int:
                described = await env.client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace="onboarding",
                        task_queue=TaskQueue(name=task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                )
                return len(described.pollers)

            await eventually(pollers, lambda n: n > 0, timeout=90, what="the worker to poll")
            assert any(line["event"] == "worker started" for line in await log_lines())
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 60) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
