"""The fault drill's audit counts what it must: a planted duplicate makes it fail.

The drill itself (``make drill``) is not part of the suite; its audit runs here against the
real dev server and sandbox.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from bench.drill import Customer, audit
from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors
from tests.support import SandboxAdmin, result_of, start, unique_slug


async def test_the_drill_audit_finds_a_planted_duplicate(
    client: Client, worker: Worker, admin: SandboxAdmin, vendors: Vendors
) -> None:
    slug = unique_slug("drill")
    person = Customer(f"drill-{slug}", slug, "smb")
    outcome = await start(client, worker.task_queue, person.payload(), person.transaction_id)
    assert (await result_of(outcome.handle)).stage == Stage.LIVE

    clean = await audit(client, await admin.state(), [person], cancelled=set())
    assert clean.rows == {}, clean.examples

    await vendors.crm.create("companies", {"name": "Twin", "domain": person.domain})
    planted = await audit(client, await admin.state(), [person], cancelled=set())
    assert planted.rows == {"duplicate hubspot companies": 1}
    assert planted.defects == 1
    assert planted.examples["duplicate hubspot companies"] == [person.domain]

    lost = await audit(
        client,
        await admin.state(),
        [Customer(f"drill-{slug}-x", f"{slug}x", "smb")],
        cancelled=set(),
    )
    assert lost.rows == {"runs lost": 1}
