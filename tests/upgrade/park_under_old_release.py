"""Park one run under an older release, in a dev-server database file: the upgrade test's
fixture. A development tool, run with the older release's code first on the path:

    git worktree add --detach /tmp/old-release <commit of the older release>
    PYTHONPATH=/tmp/old-release python tests/upgrade/park_under_old_release.py OUT.sqlite3

It uses only what every release has (the dev-server launcher, the worker, the starter and the
tests' payload helper): a run that waits in awaiting-data for its deal owner, before any vendor
call, so the fixture needs no sandbox state.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from onboarding.domain.run import TriggerSource
from onboarding.embedded.devserver import dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.sandbox import run_in_thread
from starters.start import start_onboarding
from tests.support import make_payload
from workers.main import build_worker
from workflows.onboarding import OnboardingWorkflow

TRANSACTION = "upgrade-parked-run"
TASK_QUEUE = "upgrade"


async def park(db_file: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = run_in_thread(str(Path(tmp) / "sandbox.sqlite3"))
        vendors = Vendors(VendorSettings.for_sandbox(sandbox.base_url))
        try:
            async with dev_server(db_file=db_file, namespace="default", ui=False) as env:
                async with build_worker(env.client, vendors, task_queue=TASK_QUEUE):
                    payload = make_payload("upgrade")
                    del payload["crm_owner"]
                    outcome = await start_onboarding(
                        env.client,
                        TRANSACTION,
                        TriggerSource(system="stripe", event_type="invoice.paid", object_id="in_u"),
                        payload,
                        task_queue=TASK_QUEUE,
                    )
                    deadline = time.monotonic() + 60
                    while True:
                        status = await outcome.handle.query(OnboardingWorkflow.status)
                        if status.open_exception is not None:
                            break
                        if time.monotonic() > deadline:
                            raise SystemExit("the run did not park")
                        await asyncio.sleep(0.2)
                    print(f"parked: {status.open_exception.category.value}, stage {status.stage}")
        finally:
            await vendors.aclose()
            sandbox.stop()


if __name__ == "__main__":
    asyncio.run(park(Path(sys.argv[1])))
