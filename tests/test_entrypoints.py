"""The commands a person runs: the demo's one-shot mode and the starter, bad input included."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.domain.stages import Stage
from starters.stripe_event import main as start_main
from tests.support import result_of
from workers.main import DEFAULT_CACHE, worker_tuning
from workflows.onboarding import OnboardingWorkflow

#: Each command in a process of its own (a cold import each).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "onboarding" / "data" / "samples" / "events"


def test_demo_once_reaches_every_expected_state(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onboarding.embedded.demo", "--once", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Temporal UI          http://127.0.0.1:" in out
    assert f"Payloads             encrypted; key ring from {tmp_path / 'codec.keys'}" in out
    assert "Codec server         http://127.0.0.1:" in out
    assert out.count("[ok ]") == 7
    assert "PARKED ambiguous-match" in out and "PARKED missing-data" in out
    assert "Traceback" not in out + done.stderr
    assert (tmp_path / "temporal.sqlite3").exists() and (tmp_path / "sandbox.sqlite3").exists()
    logs = (tmp_path / "worker.log").read_text().splitlines()
    assert logs and all(json.loads(line) for line in logs), "worker logs are JSON lines"
    assert any(json.loads(line).get("transaction_id") for line in logs)


async def test_starter_starts_from_a_stripe_event_file(
    client: Client, worker: Worker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((EVENTS / "03-globex-invoice-paid.json").read_text())
    event["data"]["object"]["id"] = invoice = f"in_starter{tmp_path.name[-8:]}"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    argv = [
        str(path),
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        "--task-queue",
        worker.task_queue,
    ]
    assert await asyncio.to_thread(start_main, argv) == 0
    assert f"transaction stripe-{invoice}: started" in capsys.readouterr().out
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, f"stripe-{invoice}")
    assert (await result_of(handle)).stage == Stage.LIVE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        ("[1, 2]", "a Stripe event must be a JSON object"),
        (
            '{"object": "event", "type": "charge.refunded", "data": {"object": {}}}',
            "Stripe event type 'charge.refunded' does not start an onboarding",
        ),
    ],
)
def test_starter_refuses_bad_events_with_a_precise_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert start_main([str(path), "--address", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and message in err
    assert "Traceback" not in err


def test_starter_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert start_main([str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read: No such file or directory" in capsys.readouterr().err


def test_starter_without_temporal_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = start_main([str(EVENTS / "03-globex-invoice-paid.json"), "--address", "127.0.0.1:1"])
    assert code == 3
    assert "cannot reach Temporal" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    ["workers.main", "starters.stripe_event", "onboarding.embedded.demo", "onboarding.cli.main"],
)
def test_wrong_arguments_exit_2_without_traceback(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--no-such-flag"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in done.stderr or "error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_search_attributes_in_the_cluster_setup_script() -> None:
    from workflows import search_attributes as sa

    script = (ROOT / "deploy" / "setup-namespace.sh").read_text()
    for key in sa.ALL:
        assert f"{key.name}=" in script, f"deploy/setup-namespace.sh misses {key.name}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ONBOARDING_WORKFLOW_CACHE", "lots"), ("ONBOARDING_WORKFLOW_CACHE", "0")],
)
def test_a_worker_refuses_a_bad_cache_size_by_name(variable: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers.main", "--address", "127.0.0.1:1"],
        cwd=ROOT,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{variable} must be a whole number of runs >= 1, not '{value}'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_worker_cache_is_the_configured_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker_tuning()["max_cached_workflows"] == DEFAULT_CACHE
    monkeypatch.setenv("ONBOARDING_WORKFLOW_CACHE", "1200")
    assert worker_tuning()["max_cached_workflows"] == 1200
