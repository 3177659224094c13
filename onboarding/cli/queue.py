"""``onboarding queue``: every run waiting for a person, soonest SLA first.

One paginated visibility list, filtered on the server: the search attributes carry what the
queue filters on (category, owner, stage, SLA due, customer) and each run's memo carries its
open item whole (system and step, message, safe actions, candidates, missing fields). No run is
queried, so the queue costs the same few calls for ten parked runs or ten thousand.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowExecution

from onboarding.cli.common import EXIT_OK, EXIT_USAGE, CliError
from onboarding.cli.output import age, table
from onboarding.domain.errors import Category
from onboarding.domain.run import ExceptionItem
from onboarding.domain.stages import Stage
from workflows import search_attributes as sa
from workflows.desk import QUEUE_MEMO

#: Runs per visibility page: the queue makes one list call per this many waiting runs.
PAGE_SIZE = 1000

HEADERS = [
    "TRANSACTION",
    "CUSTOMER",
    "CATEGORY",
    "SYSTEM/STEP",
    "AGE",
    "SLA DUE (UTC)",
    "OWNER",
    "SAFE ACTIONS",
]


def visibility_query(
    *,
    category: str | None = None,
    owner: str | None = None,
    stage: str | None = None,
    overdue_at: datetime | None = None,
) -> str:
    """The visibility query of the queue, with its filters: the same text works in the UI."""
    clauses = ["ExecutionStatus = 'Running'", "ExceptionCategory IS NOT NULL"]
    for key, value in (
        ("ExceptionCategory", category),
        ("ExceptionOwner", owner),
        ("OnboardingStage", stage),
    ):
        if value is not None:
            if any(c in value for c in "'\"\\") or not value.strip():
                raise CliError(
                    f"--{key}: {value!r} is not a value the queue can filter on", EXIT_USAGE
                )
            clauses.append(f"{key} = '{value}'")
    if overdue_at is not None:
        clauses.append(f"SlaDueAt < '{overdue_at.isoformat()}'")
    return " AND ".join(clauses)


def queue_row(item: ExceptionItem, now: datetime, stage: str | None = None) -> dict[str, Any]:
    """One queue line as data (``--json``) and as the table shows it."""
    overdue = item.sla_due_at is not None and item.sla_due_at < now
    return {
        "transaction_id": item.transaction_id,
        "customer": item.customer_name or "?",
        "domain": item.customer_domain,
        "stage": stage,
        "category": item.category.value,
        "system": item.system,
        "step": item.step,
        "message": item.message,
        "http_status": item.http_status,
        "attempts": item.attempts,
        "opened_at": item.opened_at.isoformat(),
        "age": age(item.opened_at, now),
        "sla_due_at": item.sla_due_at.isoformat() if item.sla_due_at else None,
        "sla_breached": overdue,
        "owner": item.owner,
        "safe_actions": item.safe_actions,
        "candidates": [c.model_dump() for c in item.candidates],
        "missing_fields": [p.model_dump() for p in item.missing_fields],
    }


def row_from_search_attributes(
    execution: WorkflowExecution, now: datetime, why: str
) -> dict[str, Any]:
    """A queue line from the search attributes alone: a run started before its items were kept
    in the memo, or a memo this process cannot decrypt."""
    attrs = execution.typed_search_attributes
    due = attrs.get(sa.SLA_DUE_AT)
    return {
        "transaction_id": execution.id,
        "customer": attrs.get(sa.CUSTOMER_NAME) or "?",
        "domain": attrs.get(sa.CUSTOMER_DOMAIN),
        "stage": attrs.get(sa.STAGE),
        "category": attrs.get(sa.EXCEPTION_CATEGORY) or "?",
        "system": "?",
        "step": attrs.get(sa.STAGE) or "?",
        "message": f"details: onboarding show {execution.id} ({why})",
        "http_status": None,
        "attempts": None,
        "opened_at": None,
        "age": age(execution.start_time, now) if execution.start_time else "?",
        "sla_due_at": due.isoformat() if due else None,
        "sla_breached": bool(due and due < now),
        "owner": attrs.get(sa.EXCEPTION_OWNER) or "?",
        "safe_actions": [],
        "candidates": [],
        "missing_fields": [],
    }


async def row_of(execution: WorkflowExecution, now: datetime) -> dict[str, Any]:
    """A run's queue line: its memo when it holds the item, else its search attributes."""
    stage = execution.typed_search_attributes.get(sa.STAGE)
    try:
        item = await execution.memo_value(QUEUE_MEMO, None, type_hint=ExceptionItem)
    except KeyError:
        item = None
    except Exception as exc:  # a memo encrypted with keys this process does not hold
        return row_from_search_attributes(execution, now, f"memo unreadable: {exc}")
    if item is None:
        return row_from_search_attributes(execution, now, "run started before release 3")
    return queue_row(item, now, stage)


async def list_queue(client: Client, query: str) -> list[dict[str, Any]]:
    """Every waiting run matching ``query``, soonest SLA first."""
    now = datetime.now(UTC)
    rows = [
        await row_of(execution, now)
        async for execution in client.list_workflows(query, page_size=PAGE_SIZE)
    ]
    # SQL visibility (SQLite, PostgreSQL) cannot order by a custom search attribute: sort here.
    rows.sort(key=lambda r: (r["sla_due_at"] or "9999", r["transaction_id"]))
    return rows


async def cmd_queue(client: Client, args: argparse.Namespace) -> int:
    """Print the queue."""
    query = visibility_query(
        category=args.category,
        owner=args.owner,
        stage=args.stage,
        overdue_at=datetime.now(UTC) if args.overdue else None,
    )
    rows = await list_queue(client, query)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("Nobody is waited on: the queue is empty.")
        return EXIT_OK
    lines = [
        [
            r["transaction_id"],
            r["customer"],
            r["category"],
            f"{r['system']}/{r['step']}",
            r["age"],
            (r["sla_due_at"] or "-")[:16].replace("T", " ")
            + (" BREACHED" if r["sla_breached"] else ""),
            r["owner"],
            ",".join(r["safe_actions"]),
        ]
        for r in rows
    ]
    print(table(lines, HEADERS))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``queue`` command."""
    queue = sub.add_parser(
        "queue",
        help="every run waiting for a person, soonest SLA first",
        description="Every run waiting for a person (an exception item, a QA sign-off, a scope "
        "approval, a payment hold), soonest SLA first.",
    )
    queue.add_argument(
        "--category", choices=[c.value for c in Category], help="only waits of this category"
    )
    queue.add_argument("--owner", help="only items owned by this person or team")
    queue.add_argument("--stage", choices=[s.value for s in Stage], help="only runs in this stage")
    queue.add_argument("--overdue", action="store_true", help="only items past their SLA")
    queue.add_argument("--json", action="store_true", help="machine-readable output")
    queue.set_defaults(func=cmd_queue)
