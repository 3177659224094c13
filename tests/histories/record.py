"""Record a workflow history for the replay tests: ``python -m tests.histories.record NAME``.

Runs one happy-path onboarding on a fresh dev server against a fresh sandbox and writes
``tests/histories/NAME.json``. Record a new file when a workflow change is released; keep the old
ones, so the replay test proves that running runs still replay.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from onboarding.domain.run import TriggerSource
from onboarding.embedded.devserver import dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.sandbox import run_in_thread
from starters.start import start_onboarding
from tests.support import make_payload
from workers.main import build_worker

HERE = Path(__file__).resolve().parent


async def record(name: str) -> Path:
    """Run one onboarding to live and save its history."""
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = run_in_thread(str(Path(tmp) / "sandbox.sqlite3"))
        vendors = Vendors(VendorSettings.for_sandbox(sandbox.base_url))
        try:
            async with dev_server(namespace="default", ui=False) as env:
                async with build_worker(env.client, vendors, task_queue="record"):
                    outcome = await start_onboarding(
                        env.client,
                        "stripe-in_recorded0001",
                        TriggerSource(system="stripe", event_type="invoice.paid", object_id="in_1"),
                        make_payload("recorded"),
                        task_queue="record",
                    )
                    await outcome.handle.result()
                    history = await outcome.handle.fetch_history()
        finally:
            await vendors.aclose()
            sandbox.stop()
    path = HERE / f"{name}.json"
    path.write_text(history.to_json())
    return path


if __name__ == "__main__":
    print(asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else "happy-path-v1")))
