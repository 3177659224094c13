"""The duplicate audit against a sandbox of its own: what it finds, and the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from onboarding.domain.audit import WORKER_ACTOR, AuditAction, AuditEntry
from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.ledger.models import RunFacts
from onboarding.ledger.store import Ledger
from onboarding.sandbox import run_in_thread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Any]:
    running = run_in_thread(str(tmp_path / "sandbox.sqlite3"))
    yield running
    running.stop()


@pytest.fixture
async def own_vendors(own_sandbox: Any) -> AsyncIterator[Vendors]:
    vendors = Vendors(VendorSettings.for_sandbox(own_sandbox.base_url))
    yield vendors
    await vendors.aclose()


def audit(sandbox: Any, ledger_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SANDBOX_URL": sandbox.base_url, "ONBOARDING_LEDGER_URL": ledger_url}
    return subprocess.run(
        [sys.executable, "-m", "onboarding.cli.main", "audit", "duplicates", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # the audit command, twice, in processes of its own
async def test_duplicates_found_in_the_vendors_and_exit_non_zero(
    own_sandbox: Any, own_vendors: Vendors, tmp_path: Path
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    clean = audit(own_sandbox, ledger_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["findings"] == []

    crm, projects, support = own_vendors.crm, own_vendors.projects, own_vendors.support
    settings = own_vendors.settings
    twins = [
        (await crm.create("companies", {"name": f"Twin {n}", "domain": "twin.example"}))["id"]
        for n in (1, 2)
    ]
    held = await crm.create(
        "companies",
        {"name": "Held", "domain": "held.example", "onboarding_transaction_id": "tx-held"},
    )
    for transaction in ("tx-held", "tx-orphan"):
        await projects.instantiate_template(
            "1200000000000003",
            name=f"Customer onboarding [{transaction}]",
            team_gid=settings.asana_team_gid,
        )
    for external in ("hubspot-company-1", "hubspot-company-2"):
        await support.get_or_create_organization(
            external_id=external,
            name=f"Split {external}",
            domain="split.example",
            transaction_id=f"tx-{external}",
        )
    ledger = Ledger(ledger_url)
    ledger.append(
        "tx-held",
        RunFacts(customer_name="Held"),
        [
            (
                1,
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=WORKER_ACTOR,
                    action=AuditAction.STEP_DONE,
                    stage=Stage.MATCHING,
                    detail="crm_company held",
                    data={
                        "step": "resolve_crm_identity",
                        "system": "hubspot",
                        "kind": "crm_company",
                        "record": str(held["id"]),
                    },
                ),
            )
        ],
    )
    ledger.close()

    found = audit(own_sandbox, ledger_url)
    assert found.returncode == 1, found.stderr
    findings = {(f["check"], f["key"]): f for f in json.loads(found.stdout)["findings"]}
    assert set(findings) == {
        ("duplicate-crm-company", "twin.example"),
        ("project-without-crm-company", "tx-orphan"),
        ("several-support-organizations", "split.example"),
    }
    assert sorted(findings[("duplicate-crm-company", "twin.example")]["records"]) == sorted(
        str(t) for t in twins
    )
    assert held["id"]
