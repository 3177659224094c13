"""``onboarding rules`` as a person reads it, and help texts whose examples name real files."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.cli.main import main as cli_main
from onboarding.embedded.demo import main as demo_main
from onboarding.intake.__main__ import main as intake_main
from onboarding.sandbox.__main__ import main as sandbox_main
from onboarding.security.codec_server import main as codec_server_main
from starters.stripe_event import main as start_main
from tests.support import make_payload, result_of, start, unique_slug
from workers.main import main as worker_main

ROOT = Path(__file__).resolve().parent.parent


def _columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_rules_print_as_tables_without_temporal(capsys: pytest.CaptureFixture[str]) -> None:
    # No Temporal at this address: reading the rules file does not need it.
    assert cli_main(["--address", "127.0.0.1:1", "rules"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Rules 2026-11-23.1 from onboarding-rules.toml (sha256 ")
    rows = [_columns(line) for line in lines]
    assert ["ROLE", "HELD BY"] in rows
    assert ["qa-reviewer", "qa@example.com, head-of-cs@example.com"] in rows
    assert ["process owner", "revops@example.com"] in rows
    routes = rows.index(["ROUTE", "WHEN", "TEAM", "MEMBERS", "ASSIGNMENT", "ESCALATION OWNER"])
    assert rows[routes + 1][:3] == ["1", "tier=enterprise", "enterprise"]
    assert rows[routes + 4][:3] == ["4", "(every customer)", "onboarding"]
    # Each tier's steps, its QA gate and who may sign.
    partner = lines.index("Tier partner-led")
    assert ["support", "manual"] in rows[partner : partner + 9]
    enterprise = lines.index("Tier enterprise")
    gate = next(r for r in rows[enterprise:] if r[0] == "qa sign-off")
    assert gate[1].startswith("qa-reviewer (qa@example.com, head-of-cs@example.com), cs-lead")
    # SLAs: the clock, the time allowed, when it is at risk, the priority.
    assert ["stage provisioning", "30 minutes", "75%", "P1"] in rows
    assert ["stage kickoff", "1 business day", "75%", "P2"] in rows
    assert ["exception technical", "4 hours", "75%", "-"] in rows
    assert (
        "After a breach: at the breach: the team's escalation owner; "
        "then 24 hours after it: process owner (revops@example.com)"
    ) in lines
    assert ["missing-data", "the deal owner"] in rows


def test_rules_as_json_and_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["rules", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == "2026-11-23.1"
    assert data["rules"]["roles"]["qa-reviewer"] == ["qa@example.com", "head-of-cs@example.com"]
    bad = tmp_path / "rules.toml"
    bad.write_text('version = "x"\n')
    assert cli_main(["rules", "--file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"onboarding: rules file {bad}: owners: Field required")


async def test_the_rules_of_one_run_show_its_tier(
    client: Client, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = make_payload(unique_slug("rules"), customer={"tier": "mid-market"})
    outcome = await start(client, worker.task_queue, payload)
    await result_of(outcome.handle)
    connection = ["--address", client.service_client.config.target_host]
    connection += ["--namespace", client.namespace]
    capsys.readouterr()
    code = await asyncio.to_thread(cli_main, [*connection, "rules", outcome.transaction_id])
    out = capsys.readouterr().out
    assert code == 0
    assert "Tier mid-market" in out and "Tier enterprise" not in out
    code = await asyncio.to_thread(
        cli_main, [*connection, "rules", outcome.transaction_id, "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["tier"] == "mid-market"


MAINS: dict[str, Callable[[list[str]], object]] = {
    "onboarding": cli_main,
    "onboarding-start": start_main,
    "onboarding-worker": worker_main,
    "onboarding-demo": demo_main,
    "onboarding-intake": intake_main,
    "onboarding-codec-server": codec_server_main,
    "onboarding-sandbox": sandbox_main,
}
HELP_TOPICS = [
    ["--help"],
    ["rules", "--help"],
    ["resolve", "supply-data", "--help"],
]


@pytest.mark.parametrize("name", sorted(MAINS))
def test_help_examples_name_files_that_exist(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    topics = HELP_TOPICS if name == "onboarding" else [["--help"]]
    for topic in topics:
        with pytest.raises(SystemExit) as done:
            MAINS[name](topic)
        assert done.value.code == 0
        text = capsys.readouterr().out
        for path in re.findall(r"[\w./-]+/[\w.-]+\.(?:json|toml)\b", text):
            assert (ROOT / path).exists(), f"{name} {' '.join(topic)} names {path}"
