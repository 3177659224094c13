"""Rules as configuration: validated at load, versioned per run, never changing a run in flight;
the scope-change path and the CLI's view of the rules a run used."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from onboarding.cli.main import main as cli_main
from onboarding.data import BUNDLED_RULES, RULES_SCHEMA
from onboarding.domain.rules import RulesError, load_rules
from onboarding.domain.schema import render_rules
from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import (
    SandboxAdmin,
    make_payload,
    result_of,
    start,
    status_of,
    unique_slug,
    wait_for_exception,
)
from workers.main import build_worker
from workflows.messages import ResolveRequest, SafeAction, ScopeChangeRequest
from workflows.onboarding import OnboardingWorkflow


def test_committed_rules_schema_matches_the_models() -> None:
    assert RULES_SCHEMA.read_text() == render_rules(), (
        "onboarding/data/schemas/ drifted from onboarding/domain/rules.py: run `python -m onboarding.domain.schema`"
    )


def test_sample_rules_route_every_tier_and_hold_every_owner() -> None:
    rules = load_rules().rules
    assert set(rules.tiers) == {"enterprise", "mid-market", "smb", "partner-led"}
    assert rules.routing[-1].when == {}, "a catch-all route"
    assert rules.tiers["enterprise"].qa_sign_off_roles == ["qa-reviewer", "cs-lead"]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda t: t.replace('version = "2026-11-23.1"\n', ""), "version: Field required"),
        (
            lambda t: t.replace('team = "onboarding"   #', 'team = "nobody"   #'),
            "route 3 names unknown team 'nobody'",
        ),
        (lambda t: t.replace('timezone = "UTC"', 'timezone = "Mars/Olympus"'), "calendar.timezone"),
        (
            lambda t: t.replace('steps = { support = "manual" }', 'steps = { crm = "off" }'),
            "project cannot be automated while crm is not",
        ),
        (
            lambda t: t.replace(
                'qa_sign_off_roles = ["qa-reviewer", "cs-lead"]', 'qa_sign_off_roles = ["wizard"]'
            ),
            "tiers.enterprise.qa_sign_off_roles: unknown role(s) ['wizard']",
        ),
        (lambda t: t + "\n[nonsense\n", "not valid TOML"),
    ],
)
def test_a_bad_rules_file_is_refused_with_the_path_and_reason(
    tmp_path: Path, edit: object, reason: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(edit(BUNDLED_RULES.read_text()))  # type: ignore[operator]
    with pytest.raises(RulesError) as refused:
        load_rules(path)
    assert str(refused.value).startswith(f"rules file {path}: ")
    assert reason in str(refused.value)


async def test_editing_the_rules_never_changes_a_run_in_flight(
    client: Client, settings: VendorSettings, admin: SandboxAdmin, tmp_path: Path, rules_file: Path
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(rules_file.read_text())
    before = load_rules(path)
    vendors = Vendors(settings)
    queue = f"tq-{uuid.uuid4()}"
    try:
        async with build_worker(client, vendors, task_queue=queue, rules_path=path):
            slug = unique_slug("inflight")
            payload = make_payload(slug)
            del payload["crm_owner"]
            first = await start(client, queue, payload)
            await wait_for_exception(client, first.transaction_id)

            edited = (
                path.read_text()
                .replace('version = "2026-11-23.1"', 'version = "2026-11-23.2"')
                .replace(
                    'subject = "Welcome, $customer", body = "Hi $contact_name,\\n\\nYou',
                    'subject = "Hello from the new rules, $customer", body = "Hi $contact_name,\\n\\nYou',
                )
            )
            assert edited != path.read_text()
            path.write_text(edited)

            await first.handle.execute_update(
                OnboardingWorkflow.resolve,
                ResolveRequest(
                    action=SafeAction.SUPPLY_DATA,
                    actor="ops@x.io",
                    data={"crm_owner": "rep@example.com"},
                ),
            )
            assert (await result_of(first.handle)).stage == Stage.LIVE
            old_run = await status_of(client, first.transaction_id)

            second_slug = unique_slug("after")
            second = await start(client, queue, make_payload(second_slug))
            await result_of(second.handle)
            new_run = await status_of(client, second.transaction_id)
    finally:
        await vendors.aclose()
    assert (old_run.rules_version, old_run.rules_sha256) == (before.version, before.sha256)
    assert new_run.rules_version == "2026-11-23.2" and new_run.rules_sha256 != before.sha256
    emails = (await admin.state())["resend"]["emails"]
    subject_of = {e["to"][0]: e["subject"] for e in emails}
    assert subject_of[f"pat@{slug}.example"] == f"Welcome, {slug.title()} Industries"
    assert subject_of[f"pat@{second_slug}.example"] == (
        f"Hello from the new rules, {second_slug.title()} Industries"
    )
    rules_loaded = next(a for a in old_run.audit if a.action == "rules-loaded")
    assert rules_loaded.data == {"version": before.version, "sha256": before.sha256}


async def test_scope_change_freezes_the_run_until_an_approver_approves(
    client: Client, worker: object, admin: SandboxAdmin
) -> None:
    task_queue = worker.task_queue  # type: ignore[attr-defined]
    await admin.fault(
        method="GET", path="/calendly/event_types/sandbox-kickoff", status=401, count=1
    )
    slug = unique_slug("scope")
    outcome = await start(client, task_queue, make_payload(slug))
    await wait_for_exception(client, outcome.transaction_id)
    change = await outcome.handle.execute_update(
        OnboardingWorkflow.request_scope_change,
        ScopeChangeRequest(
            actor="am@example.com",
            reason="customer adds SSO",
            items=["Configure SSO", "Extra admin training"],
        ),
    )
    assert change.id == "SC1"
    await outcome.handle.execute_update(
        OnboardingWorkflow.resolve,
        ResolveRequest(action=SafeAction.RETRY, actor="platform@example.com"),
    )
    status = await wait_for_exception(client, outcome.transaction_id, category="scope-change")
    assert status.linked.scheduling_link is None, "frozen: no kickoff while the change waits"
    assert len(status.scope_changes[0].task_gids) == 2
    tasks = [
        t["name"]
        for t in (await admin.state())["asana"]["tasks"]
        if t.get("projects") and status.linked.project_gid in str(t["projects"])
    ]
    assert {"Change order: Configure SSO", "Change order: Extra admin training"} <= set(tasks)
    hold = [
        e
        for e in (await admin.state())["resend"]["emails"]
        if e["subject"] == f"Hold billing: scope change on {slug.title()} Industries"
    ]
    assert len(hold) == 1 and "revops@example.com" in hold[0]["to"]

    with pytest.raises(Exception) as refused:
        await outcome.handle.execute_update(
            OnboardingWorkflow.resolve,
            ResolveRequest(action=SafeAction.APPROVE, actor="intern@example.com", reason="ok"),
        )
    assert "may not approve a scope change" in str(refused.value.__cause__ or refused.value)
    await outcome.handle.execute_update(
        OnboardingWorkflow.resolve,
        ResolveRequest(action=SafeAction.APPROVE, actor="revops@example.com", reason="signed CO"),
    )
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert status.scope_changes[0].decision == "approve by revops@example.com: signed CO"


async def test_cli_shows_owners_slas_and_the_rules_a_run_used(
    client: Client, worker: object, capsys: pytest.CaptureFixture[str]
) -> None:
    task_queue = worker.task_queue  # type: ignore[attr-defined]
    slug = unique_slug("clisla")
    payload = make_payload(slug)
    del payload["crm_owner"]
    outcome = await start(client, task_queue, payload)
    await wait_for_exception(client, outcome.transaction_id)
    base = ["--address", client.service_client.config.target_host, "--namespace", client.namespace]

    assert await asyncio.to_thread(cli_main, [*base, "show", outcome.transaction_id]) == 0
    out = capsys.readouterr().out
    assert "Owners       case revops@example.com" in out
    assert re.search(r"stage:provisioning\s+ON-TRACK\s+due .* P1, owner revops@example.com", out)
    assert "OPEN EXCEPTION" in out and "owner sales-ops@example.com" in out

    assert await asyncio.to_thread(cli_main, [*base, "rules", outcome.transaction_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Rules 2026-11-23.1 from rules.toml (sha256 ")
    assert re.search(r"stage provisioning\s+30 minutes\s+75%\s+P1", out)

    code = await asyncio.to_thread(
        cli_main, [*base, "sign-off", outcome.transaction_id, "--actor", "qa@example.com"]
    )
    assert code == 3
    assert "is not waiting for a QA sign-off" in capsys.readouterr().err
    await outcome.handle.terminate("test over")


def test_a_run_keeps_only_its_tier_and_the_result_is_still_valid_rules() -> None:
    snapshot = load_rules(BUNDLED_RULES)
    kept = snapshot.for_tier("smb")
    assert set(kept.rules.tiers) == {"smb"}
    assert (kept.version, kept.sha256) == (snapshot.version, snapshot.sha256)
    # What the rules query answers is decoded by the CLI: it must still validate.
    assert type(kept).model_validate(kept.model_dump(mode="json")) == kept


def test_retry_budget_defaults_and_rules_files_from_before_the_budget(tmp_path: Path) -> None:
    bundled = load_rules().rules.retry
    assert bundled.budget_minutes >= 10, "a storm shorter than the budget never reaches a person"
    assert bundled.max_attempts is None, "attempts are bounded by the budget, not a count"
    old = tmp_path / "old.toml"
    old.write_text(
        re.sub(
            r"\[retry\]\n(?:[^\[\n].*\n)*",
            "[retry]\nmax_attempts = 5\ninitial_interval_seconds = 2\n"
            "maximum_interval_seconds = 120\nbackoff_coefficient = 2.0\n",
            BUNDLED_RULES.read_text(),
        )
    )
    kept = load_rules(old).rules.retry
    assert (kept.max_attempts, kept.budget_minutes) == (5, 15.0)
    bad = tmp_path / "bad.toml"
    bad.write_text(old.read_text().replace("max_attempts = 5", "budget_minutes = 0"))
    with pytest.raises(RulesError, match=r"retry\.budget_minutes"):
        load_rules(bad)
