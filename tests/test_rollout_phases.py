"""Rollout phases: a phase caps what each step may do, and never raises a step."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from onboarding.data import BUNDLED_RULES
from onboarding.domain.rules import (
    RolloutPhase,
    RulesError,
    StepMode,
    Steps,
    load_rules,
    steps_under_phase,
)
from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors
from tests.support import SandboxAdmin, make_payload, result_of, start, status_of, unique_slug
from workers.main import build_worker

A, M, X = StepMode.AUTOMATED, StepMode.MANUAL, StepMode.OFF  # X: off


def modes(steps: Steps) -> tuple[StepMode, ...]:
    return (steps.crm, steps.project, steps.support, steps.kickoff, steps.welcome)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (RolloutPhase.RECORD_AND_NOTIFY, (M, M, M, M, M)),
        (RolloutPhase.CRM_AND_TASKS, (A, A, M, M, M)),
        (RolloutPhase.FULL_PROVISIONING, (A, A, A, A, A)),
    ],
)
def test_each_phase_caps_the_steps(phase: RolloutPhase, expected: tuple[StepMode, ...]) -> None:
    assert modes(steps_under_phase(Steps(), phase)) == expected


def test_a_phase_never_raises_a_step() -> None:
    steps = Steps(support=M, kickoff=X)
    assert modes(steps_under_phase(steps, RolloutPhase.FULL_PROVISIONING)) == (A, A, M, X, A)
    assert modes(steps_under_phase(steps, RolloutPhase.CRM_AND_TASKS)) == (A, A, M, X, M)
    assert modes(steps_under_phase(steps, RolloutPhase.RECORD_AND_NOTIFY)) == (M, M, M, X, M)


def test_the_rules_set_a_phase_for_the_process_and_a_tier(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundled = load_rules(BUNDLED_RULES).rules
    assert bundled.phase == RolloutPhase.FULL_PROVISIONING
    # The bundled partner-led tier keeps support a manual task in every phase.
    assert modes(bundled.effective_steps("partner-led")) == (A, A, M, A, A)

    text = BUNDLED_RULES.read_text().replace(
        'phase = "full-provisioning"', 'phase = "crm-and-tasks"'
    )
    text = text.replace("[tiers.smb]\n", '[tiers.smb]\nphase = "record-and-notify"\n')
    path = tmp_path / "rules.toml"
    path.write_text(text)
    rules = load_rules(path).rules
    assert rules.phase_of("enterprise") == RolloutPhase.CRM_AND_TASKS
    assert modes(rules.effective_steps("enterprise")) == (A, A, M, M, M)
    assert rules.phase_of("smb") == RolloutPhase.RECORD_AND_NOTIFY
    assert modes(rules.effective_steps("smb")) == (M, M, M, M, M)

    path.write_text(re.sub(r'^phase = ".*"$', 'phase = "everything-at-once"', text, flags=re.M))
    with pytest.raises(RulesError, match="phase"):
        load_rules(path)


async def test_a_run_under_record_and_notify_writes_to_no_system_and_says_so(
    client: Client, vendors: Vendors, rules_file: Path, tmp_path: Path, admin: SandboxAdmin
) -> None:
    """The first rollout phase end to end: every step is a task for its owner, on the record;
    nothing is created in any vendor system; the run still goes live and records its phase."""
    rules = tmp_path / "record-and-notify.toml"
    rules.write_text(
        rules_file.read_text().replace(
            'phase = "full-provisioning"', 'phase = "record-and-notify"', 1
        )
    )
    queue = f"tq-{uuid.uuid4()}"
    slug = unique_slug("phase")
    async with build_worker(client, vendors, task_queue=queue, rules_path=rules):
        outcome = await start(client, queue, make_payload(slug))
        assert (await result_of(outcome.handle)).stage == Stage.LIVE
        status = await status_of(client, outcome.transaction_id)
    assert {task.step for task in status.manual_tasks} >= {
        "resolve_crm_identity",
        "create_delivery_project",
        "provision_support",
        "create_kickoff_link",
    }
    assert status.linked.crm_company_id is None and status.linked.project_gid is None
    records = await admin.records_for(
        f"{slug}.example", f"pat@{slug}.example", outcome.transaction_id
    )
    assert all(records[kind] == [] for kind in ("companies", "projects", "organizations"))
    valid = next(a for a in status.audit if a.action == "payload-valid")
    assert valid.data["phase"] == "record-and-notify"
