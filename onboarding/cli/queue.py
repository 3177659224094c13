"""``onboarding queue``: every run waiting for a person, soonest SLA first.

One paginated visibility list, filtered on the server: the search attributes carry what the
queue filters on (category, owner, stage, SLA due, customer) and each run's memo carries its
open item whole (system and step, message, safe actions, candidates, missing fields). No run is
queried, so the queue costs the same few calls for ten parked runs or ten thousand.

The item is read from the memo as the JSON the run wrote (no model validation), and this module
imports neither the workflow nor the domain's models: with ten thousand runs waiting, the
command's own start-up and the rows are what a person waits for.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecution

from onboarding.cli.common import EXIT_OK, EXIT_USAGE, CliError
from onboarding.cli.output import age, table
from onboarding.domain.errors import Category
from onboarding.domain.stages import Stage
from workflows import search_attributes as sa
from workflows.search_attributes import QUEUE_MEMO

#: Runs per visibility page: the queue makes one list call per this many waiting runs.
PAGE_SIZE = 1000
#: Runs the queue shows unless told otherwise (``--limit``, ``--all``): the soonest due. Listing
#: costs the server the same for every run returned (about half a millisecond each on a dev
#: server), so ten thousand waiting runs are not all read to show a person their first screens.
DEFAULT_LIMIT = 100
#: The SLA-window search of :func:`due_cutoff`: first step, widest span, narrowest window, and
#: most narrowing steps.
SEARCH_STEP = timedelta(hours=1)
SEARCH_SPAN = timedelta(days=3650)
SEARCH_RESOLUTION = timedelta(milliseconds=1)
SEARCH_STEPS = 40

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


def _time(value: Any) -> datetime | None:
    """A time of the memo's item (ISO 8601, as the run wrote it), None when absent."""
    return None if value is None else datetime.fromisoformat(value)


def queue_row(item: dict[str, Any], now: datetime, stage: str | None = None) -> dict[str, Any]:
    """One queue line as data (``--json``) and as the table shows it, from the open item as the
    run keeps it in its memo (``ExceptionItem`` in JSON).

    Raises:
        KeyError, TypeError, ValueError: the memo does not hold an item.
    """
    opened_at = _time(item["opened_at"])
    due = _time(item.get("sla_due_at"))
    if opened_at is None:
        raise ValueError("the item has no opening time")
    return {
        "transaction_id": item["transaction_id"],
        "customer": item.get("customer_name") or "?",
        "domain": item.get("customer_domain"),
        "stage": stage,
        "category": item["category"],
        "system": item["system"],
        "step": item["step"],
        "message": item["message"],
        "http_status": item.get("http_status"),
        "attempts": item.get("attempts", 0),
        "opened_at": opened_at.isoformat(),
        "age": age(opened_at, now),
        "sla_due_at": due.isoformat() if due else None,
        "sla_breached": due is not None and due < now,
        "owner": item["owner"],
        "safe_actions": list(item["safe_actions"]),
        "candidates": list(item.get("candidates") or []),
        "missing_fields": list(item.get("missing_fields") or []),
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
        item = await execution.memo_value(QUEUE_MEMO, None)
    except KeyError:
        item = None
    except Exception as exc:  # a memo encrypted with keys this process does not hold
        return row_from_search_attributes(execution, now, f"memo unreadable: {exc}")
    if item is None:
        return row_from_search_attributes(execution, now, "run started before release 3")
    try:
        return queue_row(item, now, stage)
    except (KeyError, TypeError, ValueError) as exc:
        return row_from_search_attributes(execution, now, f"memo unreadable: {exc!r}")


@dataclass
class Queue:
    """The runs shown, soonest SLA first, and how many wait in all."""

    rows: list[dict[str, Any]]
    waiting: int


async def count(client: Client, query: str) -> int:
    """How many runs match ``query`` (visibility counts without reading the runs)."""
    return (await client.count_workflows(query)).count


def due_before(query: str, cutoff: datetime) -> str:
    """``query`` narrowed to the runs whose SLA falls due before ``cutoff``."""
    return f"{query} AND SlaDueAt < '{cutoff.isoformat()}'"


async def due_cutoff(client: Client, query: str, limit: int, now: datetime) -> datetime | None:
    """A time before which at least ``limit``, and not many more, of the runs matching
    ``query`` fall due; None when fewer than ``limit`` have an SLA at all.

    SQL visibility (SQLite, PostgreSQL) cannot order by a custom search attribute, and listing
    costs the server about the same for every run it returns, while counting is cheap, and the
    cheaper the fewer runs a count matches. So the cutoff is found by counting runs due within
    windows: from ``now`` outwards until ``limit`` are due, then narrowing (interpolating where
    due times are spread, halving where they bunch up) until the window holds little more.
    """

    def due(lo: datetime | None, hi: datetime) -> str:
        clause = f" AND SlaDueAt < '{hi.isoformat()}'"
        return query + clause + (f" AND SlaDueAt >= '{lo.isoformat()}'" if lo else "")

    step = SEARCH_STEP
    due_now = await count(client, due(None, now))
    if due_now >= limit:  # enough overdue already: widen into the past
        hi, n_hi, lo = now, due_now, now - step
        n_lo = n_hi - await count(client, due(lo, hi))
        while n_lo >= limit:
            if now - lo > SEARCH_SPAN:
                return hi
            step *= 2
            hi, n_hi, lo = lo, n_lo, lo - step
            n_lo = n_hi - await count(client, due(lo, hi))
    else:  # widen into the future
        lo, n_lo, hi = now, due_now, now + step
        n_hi = n_lo + await count(client, due(lo, hi))
        while n_hi < limit:
            if hi - now > SEARCH_SPAN:
                return None
            step *= 2
            lo, n_lo, hi = hi, n_hi, hi + step
            n_hi = n_lo + await count(client, due(lo, hi))
    interpolate = True
    for _ in range(SEARCH_STEPS):
        if n_hi <= limit + limit // 4 or hi - lo <= SEARCH_RESOLUTION:
            break
        # Aim a little past the limit as if due times were even within the window (they bunch
        # up when runs park in bursts), and halve the window whenever that did not halve it.
        # Count the side expected to hold fewer runs.
        share = (1.1 * limit - n_lo) / max(1, n_hi - n_lo) if interpolate else 0.5
        share = min(0.99, max(0.01, share))
        mid = lo + (hi - lo) * share
        if share <= 0.5:
            n_mid = n_lo + await count(client, due(lo, mid))
        else:
            n_mid = n_hi - await count(client, due(mid, hi))
        span = hi - lo
        if n_mid >= limit:
            hi, n_hi = mid, n_mid
        else:
            lo, n_lo = mid, n_mid
        interpolate = hi - lo <= span / 2
    return hi


async def read_queue(client: Client, query: str, *, limit: int | None = DEFAULT_LIMIT) -> Queue:
    """The runs waiting that match ``query``, soonest SLA first: the ``limit`` soonest due
    (None: every one)."""
    now = datetime.now(UTC)
    waiting = await count(client, query)
    parts: list[tuple[str, int | None]] = [(query, None)]
    if limit is not None and waiting > limit:
        cutoff = await due_cutoff(client, query, limit, now)
        if cutoff is not None:
            parts = [(due_before(query, cutoff), None)]
        else:  # fewer than `limit` have an SLA: every one of those, then runs without one
            parts = [
                (due_before(query, now + SEARCH_SPAN), None),
                (f"{query} AND SlaDueAt IS NULL", limit),
            ]
    page_size = PAGE_SIZE if limit is None else min(PAGE_SIZE, 2 * limit + 1)
    rows = []
    for listed, most in parts:
        async for execution in client.list_workflows(listed, page_size=page_size, limit=most):
            rows.append(await row_of(execution, now))
    # SQL visibility cannot order by a custom search attribute: sort here.
    rows.sort(key=lambda r: (r["sla_due_at"] or "9999", r["transaction_id"]))
    return Queue(rows=rows if limit is None else rows[:limit], waiting=waiting)


async def list_queue(client: Client, query: str) -> list[dict[str, Any]]:
    """Every waiting run matching ``query``, soonest SLA first."""
    return (await read_queue(client, query, limit=None)).rows


async def cmd_queue(client: Client, args: argparse.Namespace) -> int:
    """Print the queue."""
    query = visibility_query(
        category=args.category,
        owner=args.owner,
        stage=args.stage,
        overdue_at=datetime.now(UTC) if args.overdue else None,
    )
    queue = await read_queue(client, query, limit=None if args.all else args.limit)
    rows = queue.rows
    more = ""
    if len(rows) < queue.waiting:
        more = (
            f"The {len(rows)} soonest due of {queue.waiting} waiting runs "
            "(--limit N for more, --all for every one)."
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        if more:
            print(more, file=sys.stderr)
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
    if more:
        print(more)
    return EXIT_OK


def positive(text: str) -> int:
    """A count of at least 1 (``--limit``)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


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
    queue.add_argument(
        "--limit",
        type=positive,
        default=DEFAULT_LIMIT,
        help=f"show the N soonest due ({DEFAULT_LIMIT})",
    )
    queue.add_argument("--all", action="store_true", help="show every waiting run")
    queue.set_defaults(func=cmd_queue, traced=False)
