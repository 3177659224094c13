"""What a run writes to Temporal's history, the cost a team pays per onboarding (server work, and
billable actions on Temporal Cloud): release 4 records one patch marker, writes the search
attributes a workflow task changes as one upsert, and keeps the SLA watch's timer while the
notice it waits for stays the same. Checked on real runs on the dev server."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from onboarding.domain.stages import Stage
from tests.support import make_payload, result_of, start, unique_slug, wait_for_exception
from workflows import search_attributes as sa

UPSERT = EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES


async def events_of(handle: WorkflowHandle) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def patch_markers(events: list[HistoryEvent]) -> list[HistoryEvent]:
    return [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def adjacent_upserts(events: list[HistoryEvent]) -> list[int]:
    """IDs of upserts that directly follow another upsert (one workflow task, two writes)."""
    return [
        b.event_id for a, b in pairwise(events) if a.event_type == UPSERT and b.event_type == UPSERT
    ]


def timers_that_changed_nothing(events: list[HistoryEvent]) -> list[str]:
    """Timers started in place of a cancelled one that would have fired at the same time."""
    fires: list[datetime] = []
    repeats: list[str] = []
    for e in events:
        if e.event_type != EventType.EVENT_TYPE_TIMER_STARTED:
            continue
        started = e.event_time.ToDatetime()
        fire = started + e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        if fires and abs(fire - fires[-1]) < timedelta(seconds=1):
            repeats.append(f"event {e.event_id} fires at {fire:%H:%M:%S}, as the timer before it")
        fires.append(fire)
    return repeats


async def test_a_live_run_records_one_patch_and_no_redundant_writes(
    client: Client, worker: Worker
) -> None:
    outcome = await start(client, worker.task_queue, make_payload(unique_slug("cost")))
    assert (await result_of(outcome.handle)).stage == Stage.LIVE
    events = await events_of(outcome.handle)

    markers = patch_markers(events)
    assert len(markers) == 1, f"{len(markers)} patch markers: the release implies the older ones"
    assert adjacent_upserts(events) == []
    assert timers_that_changed_nothing(events) == []
    attrs = (await outcome.handle.describe()).typed_search_attributes
    assert attrs.get(sa.STAGE) == "live"
    assert attrs.get(sa.RELEASE) == 4


async def test_a_parked_run_is_one_search_attribute_write_per_step_and_one_timer(
    client: Client, worker: Worker
) -> None:
    payload = make_payload(unique_slug("costpark"))
    del payload["customer"]["domain"]
    outcome = await start(client, worker.task_queue, payload)
    status = await wait_for_exception(client, outcome.transaction_id, category="missing-data")
    assert status.stage == Stage.AWAITING_DATA
    events = await events_of(outcome.handle)

    assert adjacent_upserts(events) == []
    assert timers_that_changed_nothing(events) == []
    started = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert len(started) == 1, "parking changes no SLA notice time: the first timer stays"
    # What the queue reads is all there, written at once.
    attrs = (await outcome.handle.describe()).typed_search_attributes
    assert attrs.get(sa.STAGE) == "awaiting-data"
    assert attrs.get(sa.EXCEPTION_CATEGORY) == "missing-data"
    assert attrs.get(sa.EXCEPTION_OWNER) == status.open_exception.owner  # type: ignore[union-attr]
    assert attrs.get(sa.SLA_DUE_AT) is not None
    await outcome.handle.terminate("test done")
