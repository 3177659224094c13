"""Upgrades never break a run that waits: a run parked by release 2's workers resumes and goes
live under this release's.

The fixture is a dev-server database in which release 2's code parked one run in awaiting-data
(``park_under_old_release.py`` says how it was made). This release's worker picks the run up
where it stands, replaying its release-2 history, and a person's supply-data carries it to live:
the run keeps release 2's behaviour to its end (the release patch is not in its history).
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
from pathlib import Path

import pytest

from onboarding.cli.main import main as cli_main
from onboarding.domain.stages import Stage
from onboarding.embedded.devserver import dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import SandboxAdmin, eventually, result_of, run_ended
from tests.upgrade.park_under_old_release import TASK_QUEUE, TRANSACTION
from workers.main import build_worker
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

#: A dev server of its own (the parked release-2 store), the worker and the sandbox.
pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "release-2-parked.sqlite3.gz"


async def test_a_run_parked_by_release_2_goes_live_under_this_release(
    tmp_path: Path, settings: VendorSettings, admin: SandboxAdmin, rules_file: Path
) -> None:
    db_file = tmp_path / "temporal.sqlite3"
    with gzip.open(FIXTURE) as packed, db_file.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    vendors = Vendors(settings)
    try:
        async with dev_server(db_file=db_file, namespace="default", ui=False) as env:
            client = env.client
            handle = client.get_workflow_handle_for(OnboardingWorkflow.run, TRANSACTION)
            async with build_worker(client, vendors, task_queue=TASK_QUEUE, rules_path=rules_file):
                parked = await eventually(
                    lambda: handle.query(OnboardingWorkflow.status),
                    lambda s: s.open_exception is not None,
                    unless=run_ended,
                    what="the release-2 run to answer from this release's worker",
                )
                assert parked.stage == Stage.AWAITING_DATA
                assert [p.path for p in parked.open_exception.missing_fields] == ["crm_owner"]
                # Release 2 kept its whole trail in memory; it never wrote to the ledger.
                assert parked.audit_written == 0 and len(parked.audit) >= 5
                target = client.service_client.config.target_host
                code = await asyncio.to_thread(
                    cli_main,
                    [
                        "--address", target, "--namespace", "default",
                        "resolve", "supply-data", TRANSACTION, "--actor", "ops@example.com",
                        "--set", "crm_owner=rep@example.com", "--reason", "from the deal",
                    ],
                )  # fmt: skip
                assert code == 0
                assert (await result_of(handle)).stage == Stage.LIVE
            description = await handle.describe()
            assert description.typed_search_attributes.get(sa.STAGE) == "live"
            # It finished as release 2 runs do: no release-3 marker was written into it.
            assert description.typed_search_attributes.get(sa.RELEASE) is None
    finally:
        await vendors.aclose()
    state = await admin.state()
    assert any(
        (c.get("properties") or {}).get("domain") == "upgrade.example"
        for c in state["hubspot"]["companies"]
    )
