"""The queue: every run waiting for a person, from one visibility list, whatever it waits for."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.cli import queue as cli_queue
from onboarding.cli.queue import (
    SEARCH_SPAN,
    SEARCH_STEP,
    SEARCH_STEPS,
    list_queue,
    read_queue,
    visibility_query,
)
from tests.support import eventually, make_payload, start, unique_slug, wait_for_stage

COUNTED = (
    "list_workflow_executions",
    "count_workflow_executions",
    "query_workflow",
    "describe_workflow_execution",
    "get_workflow_execution_history",
)


def count_calls(client: Client, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the server calls the client makes, by RPC."""
    calls: Counter[str] = Counter()
    service = client.workflow_service
    for name in COUNTED:
        original = getattr(service, name)

        async def counted(
            *args: Any, _original: Any = original, _name: str = name, **kw: Any
        ) -> Any:
            calls[_name] += 1
            return await _original(*args, **kw)

        monkeypatch.setattr(service, name, counted)
    return calls


@pytest.mark.parametrize("parked", [3, 11])
async def test_the_queue_costs_one_list_call_per_page_whatever_waits(
    client: Client, worker: Worker, monkeypatch: pytest.MonkeyPatch, parked: int
) -> None:
    owner = f"{unique_slug('rep')}@example.com"
    for _ in range(parked):
        payload = make_payload(unique_slug("q"), crm_owner=owner)
        del payload["customer"]["domain"]
        await start(client, worker.task_queue, payload)
    query = visibility_query(owner=owner)
    rows = await eventually(
        lambda: list_queue(client, query),
        lambda r: len(r) == parked and all(row["step"] == "validate_payload" for row in r),
        what=f"{parked} parked runs in the queue",
    )
    assert {r["category"] for r in rows} == {"missing-data"}
    assert all(r["missing_fields"][0]["path"] == "customer.domain" for r in rows)

    monkeypatch.setattr(cli_queue, "PAGE_SIZE", 4)
    calls = count_calls(client, monkeypatch)
    assert len(await list_queue(client, query)) == parked
    assert calls["list_workflow_executions"] == math.ceil(parked / 4)
    assert calls["query_workflow"] == calls["describe_workflow_execution"] == 0
    assert calls["get_workflow_execution_history"] == 0


async def test_more_waiting_than_shown_reads_only_the_soonest_due(
    client: Client, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue shows the soonest due first; beyond its limit it counts to find them and lists
    only those: the calls are bounded by the search, not by how many runs wait."""
    owner = f"{unique_slug('rep')}@example.com"
    for _ in range(7):
        payload = make_payload(unique_slug("soon"), crm_owner=owner)
        del payload["customer"]["domain"]
        await start(client, worker.task_queue, payload)
    query = visibility_query(owner=owner)
    # Visibility applies a run's search attributes one update at a time: wait until every run's
    # SLA due time is searchable, not only its category, or the search would see fewer due.
    await eventually(
        lambda: cli_queue.count(client, f"{query} AND SlaDueAt IS NOT NULL"),
        lambda n: n == 7,
        what="7 parked runs with an SLA due time in visibility",
    )
    every = await eventually(
        lambda: list_queue(client, query), lambda r: len(r) == 7, what="7 parked runs"
    )
    soonest = [r["transaction_id"] for r in every[:3]]
    assert [r["sla_due_at"] for r in every] == sorted(r["sla_due_at"] for r in every)

    monkeypatch.setattr(cli_queue, "PAGE_SIZE", 2)
    calls = count_calls(client, monkeypatch)
    queue = await read_queue(client, query, limit=3)
    assert queue.waiting == 7
    assert [r["transaction_id"] for r in queue.rows] == soonest
    # The 3 soonest, 2 a page: 2 calls, 3 when the 4th falls due within the same millisecond as
    # the 3rd (the search's resolution). Listing all 7 would take 4.
    assert calls["list_workflow_executions"] <= 3
    widenings = 2 + math.ceil(math.log2(SEARCH_SPAN / SEARCH_STEP))
    assert calls["count_workflow_executions"] <= 2 + widenings + SEARCH_STEPS
    assert calls["query_workflow"] == calls["get_workflow_execution_history"] == 0


async def test_a_run_waiting_for_qa_sign_off_is_in_the_queue(
    client: Client, worker: Worker
) -> None:
    slug = unique_slug("signq")
    outcome = await start(
        client,
        worker.task_queue,
        make_payload(slug, customer={"tier": "enterprise", "region": "amer"}),
    )
    await wait_for_stage(client, outcome.transaction_id, "qa")
    rows = await eventually(
        lambda: list_queue(client, visibility_query(category="qa-sign-off")),
        lambda r: any(row["transaction_id"] == outcome.transaction_id for row in r),
        what="the sign-off wait in the queue",
    )
    row = next(r for r in rows if r["transaction_id"] == outcome.transaction_id)
    assert row["customer"] == f"{slug.title()} Industries" and row["stage"] == "qa"
    assert row["safe_actions"] == ["sign-off", "reassign", "cancel"]
    assert "@" in row["owner"] and row["sla_due_at"]


async def test_a_filter_value_cannot_break_out_of_the_query() -> None:
    with pytest.raises(Exception, match="is not a value the queue can filter on"):
        visibility_query(owner="x' OR ExecutionStatus = 'Completed")
