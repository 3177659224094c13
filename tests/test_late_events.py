"""Late data enriches, never vanishes: every delivery of a transaction reaches its one run, which
keeps what a later event adds, records what it would have changed, and resumes by itself when
the later event supplies what it was waiting for."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.domain.run import TriggerSource
from onboarding.domain.stages import Stage
from starters.start import start_onboarding
from tests.support import (
    make_payload,
    result_of,
    start,
    status_of,
    unique_slug,
    wait_for_exception,
)

CHECKOUT = TriggerSource(
    system="stripe", event_type="checkout.session.completed", object_id="cs_later"
)


async def test_a_later_event_supplies_what_the_run_waits_for_and_it_resumes_by_itself(
    client: Client, worker: Worker
) -> None:
    slug = unique_slug("late")
    first = make_payload(slug)
    del first["customer"]["domain"]
    outcome = await start(client, worker.task_queue, first)
    parked = await wait_for_exception(client, outcome.transaction_id)
    assert [p.path for p in parked.open_exception.missing_fields] == ["customer.domain"]

    later = make_payload(slug, customer={"legal_name": "Another Name Ltd"}, amount=1200)
    delivered = await start_onboarding(
        client, outcome.transaction_id, CHECKOUT, later, task_queue=worker.task_queue
    )
    assert delivered.state == "running" and not delivered.started

    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert status.customer_domain == f"{slug}.example"
    # What the run already had is kept; the differing name is on the record, not applied.
    assert status.customer_name == f"{slug.title()} Industries"
    merged = next(a for a in status.audit if a.action == "event-merged")
    assert set(merged.data["fields"].split(",")) == {"customer.domain", "amount"}
    assert merged.data["conflicts"] == "customer.legal_name"
    assert merged.data["event_type"] == "checkout.session.completed"
    cleared = next(a for a in status.audit if a.action == "exception-resolved")
    assert cleared.data["action"] == "cleared"


async def test_a_redelivery_of_the_same_event_adds_nothing_and_says_nothing(
    client: Client, worker: Worker
) -> None:
    payload = make_payload(unique_slug("again"))
    outcome = await start(client, worker.task_queue, payload)
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    status = await status_of(client, outcome.transaction_id)
    assert not [a for a in status.audit if a.action == "event-merged"]
