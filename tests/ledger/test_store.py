"""The ledger on SQLite and on PostgreSQL: written through the activity as a run writes it."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.common import VendorActivities, vendor_errors
from activities.ledger import LedgerActivities
from activities.models import AppendToLedgerInput
from onboarding.domain.audit import WORKER_ACTOR, AuditAction, AuditEntry
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.stages import Stage
from onboarding.ledger.chain import GENESIS, verify_lines
from onboarding.ledger.models import AppendResult, RunFacts, SequencedEntry
from onboarding.ledger.store import Ledger
from onboarding.ledger.tables import metadata

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def trail(count: int, *, start: int = 1) -> list[SequencedEntry]:
    """Entries ``start``..``start + count - 1`` of a small run."""
    return [
        SequencedEntry(
            seq=n,
            entry=AuditEntry(
                at=T0 + timedelta(minutes=n),
                actor=WORKER_ACTOR,
                action=AuditAction.STAGE,
                stage=Stage.MATCHING,
                detail=f"entry {n}",
                data={"owner": "kim@example.com", "n": str(n)},
            ),
        )
        for n in range(start, start + count)
    ]


async def append(ledger: Ledger, tx: str, entries: list[SequencedEntry]) -> AppendResult:
    """One call of the activity, as the workflow makes it."""
    request = AppendToLedgerInput(
        transaction_id=tx,
        run=RunFacts(customer_name="Acme Inc", customer_domain="acme.example", tier="smb"),
        entries=entries,
    )
    return await ActivityEnvironment().run(LedgerActivities(ledger).append_to_ledger, request)


def count_rows(ledger: Ledger, tx: str) -> int:
    with ledger.engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM ledger_entries WHERE transaction_id = :tx"),
                {"tx": tx},
            ).scalar_one()
        )


def test_migrations_build_the_schema_the_code_queries(ledger: Ledger) -> None:
    """Alembic's migrations and the tables the queries use describe the same schema."""
    ledger.ensure_schema()
    with ledger.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert differences == []
    assert version == "0001"
    ledger.ensure_schema()  # a second process (or start) finds it done


async def test_a_retried_write_never_doubles_a_row(ledger: Ledger) -> None:
    first = await append(ledger, "tx-retry", trail(3))
    assert (first.written, first.already_there, first.last_seq) == (3, 0, 3)

    again = await append(ledger, "tx-retry", trail(3))  # the same batch, retried
    assert (again.written, again.already_there, again.last_seq) == (0, 3, 3)

    # The next batch overlaps what was acknowledged: only the new entries are written.
    more = await append(ledger, "tx-retry", trail(3, start=2))
    assert (more.written, more.already_there, more.last_seq) == (1, 2, 4)
    assert count_rows(ledger, "tx-retry") == 4

    rows = list(ledger.rows(transaction_id="tx-retry"))
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert ledger.runs()["tx-retry"].customer_name == "Acme Inc"


async def test_concurrent_attempts_of_one_write_store_it_once(ledger: Ledger) -> None:
    """A local activity retried while its first attempt is still writing: one row each."""
    results = await asyncio.gather(*(append(ledger, "tx-race", trail(5)) for _ in range(4)))
    assert sum(r.written for r in results) == 5
    assert all(r.last_seq == 5 for r in results)
    assert count_rows(ledger, "tx-race") == 5


async def test_a_batch_after_a_hole_fails_without_retry_and_says_where_to_start(
    ledger: Ledger,
) -> None:
    await append(ledger, "tx-gap", trail(2))
    with pytest.raises(ApplicationError) as raised:
        await append(ledger, "tx-gap", trail(2, start=4))
    assert raised.value.type == "LedgerGap" and raised.value.non_retryable
    assert "send the entries from #3 on" in str(raised.value)
    assert count_rows(ledger, "tx-gap") == 2


async def test_rows_are_never_rewritten(ledger: Ledger) -> None:
    """Other content at a written position (a reset run) is reported, and the first write kept."""
    await append(ledger, "tx-immutable", trail(2))
    changed = trail(3)
    changed[1].entry.detail = "something else"
    result = await append(ledger, "tx-immutable", changed)
    assert result.conflicts == [2]
    assert result.written == 1
    rows = list(ledger.rows(transaction_id="tx-immutable"))
    assert rows[1]["detail"] == "entry 2"
    text = [json.dumps(r) for r in rows]
    assert verify_lines(text).ok


async def test_vendor_failures_are_recorded_once_per_attempt(ledger: Ledger) -> None:
    """The vendor_errors decorator keeps each failure: system, status, Retry-After, delay."""

    class Calls(VendorActivities):
        @vendor_errors
        async def rate_limited(self) -> None:
            raise VendorFailure(ErrorType.RATE_LIMITED, "hubspot", "slow down", 429, 7.0)

        @vendor_errors
        async def server_error(self) -> None:
            raise VendorFailure(ErrorType.SERVER_ERROR, "asana", "unavailable", 503)

    calls = Calls(vendors=None, ledger=ledger)  # type: ignore[arg-type]
    env = ActivityEnvironment()
    policy = RetryPolicy(
        initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=5
    )
    for attempt, fn in ((1, calls.rate_limited), (1, calls.rate_limited), (3, calls.server_error)):
        env.info = dataclasses.replace(
            env.info,
            workflow_id="tx-health",
            workflow_run_id="run-1",
            activity_id="7",
            attempt=attempt,
            retry_policy=policy,
            current_attempt_scheduled_time=T0,
        )
        with pytest.raises(ApplicationError):
            await env.run(fn)
    failures = ledger.vendor_failures(since=T0 - timedelta(days=1))
    assert [(f.system, f.http_status, f.attempt) for f in failures] == [
        ("hubspot", 429, 1),
        ("asana", 503, 3),
    ]
    assert failures[0].retry_after_seconds == 7.0 and failures[0].retry_delay_seconds == 7.0
    assert failures[1].retry_delay_seconds == 8.0  # 2 s x 2^(3-1), no Retry-After
    assert failures[0].at == T0
