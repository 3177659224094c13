"""``onboarding queue``: every open exception item, soonest SLA first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowQueryFailedError
from temporalio.service import RPCError

from onboarding.cli.common import EXIT_OK, QUERY_TIMEOUT
from onboarding.cli.output import age, table
from onboarding.domain.run import ExceptionItem
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow


def queue_row(item: ExceptionItem, now: datetime) -> dict[str, Any]:
    """One queue line as data (``--json``) and as the table shows it."""
    overdue = item.sla_due_at is not None and item.sla_due_at < now
    return {
        "transaction_id": item.transaction_id,
        "customer": item.customer_name or "?",
        "domain": item.customer_domain,
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
    """A queue line when the run cannot be queried (no worker polling its task queue)."""
    attrs = execution.typed_search_attributes
    due = attrs.get(sa.SLA_DUE_AT)
    return {
        "transaction_id": execution.id,
        "customer": attrs.get(sa.CUSTOMER_NAME) or "?",
        "domain": attrs.get(sa.CUSTOMER_DOMAIN),
        "category": attrs.get(sa.EXCEPTION_CATEGORY) or "?",
        "system": "?",
        "step": attrs.get(sa.STAGE) or "?",
        "message": f"details unavailable: {why}",
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


async def cmd_queue(client: Client, args: argparse.Namespace) -> int:
    """Print the exception queue."""
    clauses = ["ExceptionCategory IS NOT NULL", "ExecutionStatus = 'Running'"]
    if args.category:
        clauses.append(f"ExceptionCategory = '{args.category}'")
    if args.owner:
        clauses.append(f"ExceptionOwner = '{args.owner}'")
    if args.stage:
        clauses.append(f"OnboardingStage = '{args.stage}'")
    now = datetime.now(UTC)
    if args.overdue:
        clauses.append(f"SlaDueAt < '{now.isoformat()}'")
    rows: list[dict[str, Any]] = []
    async for execution in client.list_workflows(" AND ".join(clauses)):
        handle = client.get_workflow_handle_for(OnboardingWorkflow.run, execution.id)
        try:
            status = await handle.query(OnboardingWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError) as exc:
            # No worker answers for this run right now: the queue still shows it, from the
            # search attributes, and says why the details are missing.
            rows.append(row_from_search_attributes(execution, now, str(exc)))
            continue
        if status.open_exception:
            rows.append(queue_row(status.open_exception, now))
    rows.sort(key=lambda r: r["sla_due_at"] or "")
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("The exception queue is empty.")
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
    print(
        table(
            lines,
            [
                "TRANSACTION",
                "CUSTOMER",
                "CATEGORY",
                "SYSTEM/STEP",
                "AGE",
                "SLA DUE (UTC)",
                "OWNER",
                "SAFE ACTIONS",
            ],
        )
    )
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``queue`` command."""
    queue = sub.add_parser("queue", help="open exception items, soonest SLA first")
    queue.add_argument("--category", help="e.g. ambiguous-match, missing-data, auth-error")
    queue.add_argument("--owner", help="only items owned by this person or team")
    queue.add_argument("--stage", help="only runs in this stage")
    queue.add_argument("--overdue", action="store_true", help="only items past their SLA")
    queue.add_argument("--json", action="store_true", help="machine-readable output")
    queue.set_defaults(func=cmd_queue)
