"""API health from a real run: the activities record each vendor failure as Temporal retries."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.domain.stages import Stage
from onboarding.ledger.store import Ledger
from tests.support import SandboxAdmin, make_payload, result_of, start, unique_slug

ZENDESK_ORG = "/zendesk/api/v2/organizations.json"


async def test_each_429_of_a_real_run_is_recorded_once_with_its_retry_after(
    client: Client, worker: Worker, admin: SandboxAdmin
) -> None:
    await admin.fault(method="POST", path=ZENDESK_ORG, status=429, count=2, retry_after=1)
    outcome = await start(client, worker.task_queue, make_payload(unique_slug("health")))
    assert (await result_of(outcome.handle)).stage == Stage.LIVE

    ledger = Ledger.from_env()  # the worker's: the suite points it at a temporary file
    try:
        failures = [f for f in ledger.vendor_failures() if f.workflow_id == outcome.transaction_id]
    finally:
        ledger.close()
    assert [(f.system, f.http_status, f.attempt) for f in failures] == [
        ("zendesk", 429, 1),
        ("zendesk", 429, 2),
    ]
    assert all(f.activity_type == "provision_support" for f in failures)
    assert all(f.retry_after_seconds == 1.0 == f.retry_delay_seconds for f in failures)
