"""``onboarding``: the exception queue, one run's record, and the actions that resolve items.

    onboarding queue [--category C] [--owner O] [--stage S] [--overdue] [--json]
    onboarding show TRANSACTION [--json]
    onboarding resolve ACTION TRANSACTION --actor WHO [--reason WHY] [action options]
    onboarding cancel TRANSACTION --actor WHO --reason WHY [--no-rollback]
    onboarding sign-off TRANSACTION --actor WHO [--note TEXT]
    onboarding scope-change TRANSACTION --actor WHO --reason WHY --item TEXT [--item ...]
    onboarding rules TRANSACTION [--json]

Exit codes: 0 done; 2 wrong arguments or input; 3 refused by the run (the message says why);
4 no such run; 5 Temporal unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from onboarding.domain.run import ExceptionItem, RunStatus
from onboarding.runtime.client import connect
from workflows import search_attributes as sa
from workflows.messages import (
    CancelRequest,
    ResolveRequest,
    SafeAction,
    ScopeChangeRequest,
    SignOffRequest,
)
from workflows.onboarding import REPLAYABLE_STAGES, OnboardingWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)
EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_NOT_FOUND, EXIT_UNAVAILABLE = 0, 2, 3, 4, 5


class CliError(Exception):
    """A failure with the message a person reads and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- formatting


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes // 1440}d"


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


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
        "age": _age(item.opened_at, now),
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
        "age": _age(execution.start_time, now) if execution.start_time else "?",
        "sla_due_at": due.isoformat() if due else None,
        "sla_breached": bool(due and due < now),
        "owner": attrs.get(sa.EXCEPTION_OWNER) or "?",
        "safe_actions": [],
        "candidates": [],
        "missing_fields": [],
    }


def render_status(status: RunStatus, pending: list[dict[str, Any]]) -> str:
    """A run's record for a person: stage, owners, linked IDs, the open item, the audit trail."""
    out = [
        f"Transaction  {status.transaction_id}",
        f"Customer     {status.customer_name or '?'} ({status.customer_domain or 'no domain'})",
        f"Stage        {status.stage.value}    tier {status.tier or '-'}    "
        f"case owner {status.case_owner}",
        f"Owners       case {status.case_owner}; escalation {status.escalation_owner or '-'}; "
        f"team {status.team or '-'}",
        f"Rules        {status.rules_version} (sha256 {(status.rules_sha256 or '')[:12]})",
        f"Trigger      {status.source.system} {status.source.event_type} {status.source.object_id}",
        "",
        "Linked records:",
    ]
    linked = status.linked.model_dump(exclude_defaults=True)
    out += [f"  {k:<16} {v}" for k, v in linked.items()] or ["  (none yet)"]
    item = status.open_exception
    if item:
        out += [
            "",
            f"OPEN EXCEPTION {item.id}: {item.category.value} at {item.step} ({item.system})",
            f"  {item.message}",
            f"  owner {item.owner}; SLA due {item.sla_due_at:%Y-%m-%d %H:%M} UTC; "
            f"attempts {item.attempts}; HTTP {item.http_status or '-'}",
            f"  safe actions: {', '.join(item.safe_actions)}",
        ]
        out += [f"  candidate {c.id}: {c.name} ({c.domain})" for c in item.candidates]
        out += [f"  field {p.path}: {p.problem}" for p in item.missing_fields]
    for activity in pending:
        out += [
            "",
            f"Retrying {activity['activity_type']}: attempt {activity['attempt']}, "
            f"next retry {activity['next_attempt'] or '-'}",
            f"  last failure: {activity['last_failure'] or '-'}",
        ]
    if status.awaiting:
        out += ["", f"WAITING for {status.awaiting}"]
    if status.slas:
        out += ["", "SLAs:"]
        out += [
            f"  {c.clock:<28} {c.state.upper():<9} due {c.due_at:%Y-%m-%d %H:%M} UTC "
            f"(at risk {c.at_risk_at:%Y-%m-%d %H:%M}){' ' + c.priority if c.priority else ''}, "
            f"owner {c.owner}"
            for c in status.slas
        ]
    if status.notices:
        out += ["", "Alerts sent:"]
        out += [
            f"  {n.at:%Y-%m-%d %H:%M}  {n.kind:<10} to {', '.join(n.recipients)}: {n.subject}"
            for n in status.notices
        ]
    for task in status.manual_tasks:
        out += [f"Manual task  {task.step}: {task.note} (owner {task.owner})"]
    for change in status.scope_changes:
        out += [
            f"Scope change {change.id} by {change.requested_by}: {change.reason} "
            f"[{change.decision or 'waiting for approval'}]"
        ]
    out += ["", "Stages:"]
    out += [
        f"  {s.entered_at:%Y-%m-%d %H:%M:%S}  {s.stage.value:<14} owner {s.owner}"
        for s in status.stages
    ]
    out += ["", "Audit trail:"]
    out += [
        f"  {a.at:%Y-%m-%d %H:%M:%S}  {a.actor:<24} {a.action:<22} {a.detail}" for a in status.audit
    ]
    return "\n".join(out)


# ---------------------------------------------------------------- commands


async def _status(client: Client, transaction_id: str) -> RunStatus:
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    try:
        return await handle.query(OnboardingWorkflow.status)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no onboarding run for transaction {transaction_id}", EXIT_NOT_FOUND
            ) from None
        raise


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
    table = [
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
        _table(
            table,
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


async def cmd_show(client: Client, args: argparse.Namespace) -> int:
    """Print one run's record."""
    status = await _status(client, args.transaction)
    handle = client.get_workflow_handle(args.transaction)
    description = await handle.describe()
    pending = [
        {
            "activity_type": p.activity_type.name,
            "attempt": p.attempt,
            "next_attempt": p.next_attempt_schedule_time.ToDatetime().isoformat()
            if p.HasField("next_attempt_schedule_time")
            else None,
            "last_failure": p.last_failure.message if p.HasField("last_failure") else None,
        }
        for p in description.raw_description.pending_activities
    ]
    if args.json:
        data = status.model_dump(mode="json")
        data["pending_activities"] = pending
        data["execution_status"] = description.status.name if description.status else None
        print(json.dumps(data, indent=2))
    else:
        print(render_status(status, pending))
    return EXIT_OK


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise CliError(f"--set {path}: {part} is not an object", EXIT_USAGE)
    target[parts[-1]] = value


def supplied_data(args: argparse.Namespace) -> dict[str, Any]:
    """The merge patch of ``supply-data`` from ``--data JSON`` and ``--set path=value``."""
    data: dict[str, Any] = {}
    if args.data:
        try:
            loaded = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise CliError(f"--data is not valid JSON: {exc.msg}", EXIT_USAGE) from None
        if not isinstance(loaded, dict):
            raise CliError("--data must be a JSON object", EXIT_USAGE)
        data.update(loaded)
    for item in args.set or []:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"--set {item!r}: expected path=value", EXIT_USAGE)
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        _set_path(data, path.strip(), value)
    if not data:
        raise CliError("supply-data needs --set path=value (or --data JSON)", EXIT_USAGE)
    return data


async def cmd_resolve(client: Client, args: argparse.Namespace) -> int:
    """Send the resolve update for one action."""
    action = SafeAction(args.action)
    request = ResolveRequest(
        action=action,
        actor=args.actor,
        reason=args.reason or "",
        exception_id=args.exception,
        company_id=getattr(args, "company", None),
        data=supplied_data(args) if action == SafeAction.SUPPLY_DATA else None,
        stage=getattr(args, "stage", None),
        owner=getattr(args, "owner", None),
    )
    return await _send(client, args.transaction, OnboardingWorkflow.resolve, request)


async def cmd_cancel(client: Client, args: argparse.Namespace) -> int:
    """Send the cancel update."""
    request = CancelRequest(actor=args.actor, reason=args.reason, rollback=not args.no_rollback)
    return await _send(client, args.transaction, OnboardingWorkflow.cancel, request)


async def cmd_sign_off(client: Client, args: argparse.Namespace) -> int:
    """Send the QA sign-off."""
    request = SignOffRequest(actor=args.actor, note=args.note or "")
    return await _send(client, args.transaction, OnboardingWorkflow.sign_off, request)


async def cmd_scope_change(client: Client, args: argparse.Namespace) -> int:
    """Request a change of scope."""
    request = ScopeChangeRequest(actor=args.actor, reason=args.reason, items=args.item)
    return await _send(client, args.transaction, OnboardingWorkflow.request_scope_change, request)


async def cmd_rules(client: Client, args: argparse.Namespace) -> int:
    """Print the rules a run uses: version, hash, and its tier's rules."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, args.transaction)
    try:
        snapshot = await handle.query(OnboardingWorkflow.rules)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no onboarding run for transaction {args.transaction}", EXIT_NOT_FOUND
            ) from None
        raise
    if snapshot is None:
        raise CliError("the run has not loaded its rules yet", EXIT_REFUSED)
    if args.json:
        print(json.dumps(snapshot.model_dump(mode="json"), indent=2))
        return EXIT_OK
    status = await _status(client, args.transaction)
    rules = snapshot.rules
    print(f"Rules {snapshot.version} from {snapshot.source}, sha256 {snapshot.sha256}")
    tier = rules.tiers.get(status.tier or "")
    if tier is not None:
        print(f"Tier {status.tier}:")
        print(json.dumps(tier.model_dump(mode="json"), indent=2))
    print("SLAs:")
    print(json.dumps(rules.sla.model_dump(mode="json", exclude_defaults=False), indent=2))
    return EXIT_OK


async def _send(client: Client, transaction_id: str, update: Any, request: Any) -> int:
    """Send one update to a run and print its answer; refusals and missing runs are clear."""
    await _status(client, transaction_id)  # a clear "no such run" before the update
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    result = await _update(handle.execute_update(update, request))
    print(result.message)
    return EXIT_OK


async def _update(call: Any) -> Any:
    try:
        return await call
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise CliError(f"refused: {message}", EXIT_REFUSED) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError("the run is no longer running", EXIT_NOT_FOUND) from None
        raise


# ---------------------------------------------------------------- arguments


def _actor_default() -> str | None:
    return os.environ.get("ONBOARDING_ACTOR") or None


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="onboarding", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", help="Temporal host:port (default: TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", help="Temporal namespace (default: TEMPORAL_NAMESPACE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    queue = sub.add_parser("queue", help="open exception items, soonest SLA first")
    queue.add_argument("--category", help="e.g. ambiguous-match, missing-data, auth-error")
    queue.add_argument("--owner", help="only items owned by this person or team")
    queue.add_argument("--stage", help="only runs in this stage")
    queue.add_argument("--overdue", action="store_true", help="only items past their SLA")
    queue.add_argument("--json", action="store_true", help="machine-readable output")

    show = sub.add_parser("show", help="one run: stage, linked IDs, open item, audit trail")
    show.add_argument("transaction")
    show.add_argument("--json", action="store_true")

    resolve = sub.add_parser("resolve", help="act on a run's open exception item")
    actions = resolve.add_subparsers(dest="action", required=True, metavar="ACTION")
    helps = {
        SafeAction.RETRY: "run the failed step again",
        SafeAction.REPLAY_FROM: "rerun the stages from an earlier one (--stage)",
        SafeAction.SUPPLY_DATA: "set missing or wrong payload fields (--set path=value)",
        SafeAction.CHOOSE_MATCH: "pick the CRM company of an ambiguous match (--company)",
        SafeAction.SKIP: "skip the step (a --reason is required)",
        SafeAction.REASSIGN: "hand the item to another owner (--owner, --reason)",
        SafeAction.APPROVE: "approve a scope change (scope approvers only)",
        SafeAction.CANCEL: "cancel the run and roll back what it created (--reason)",
    }
    for action, text in helps.items():
        p = actions.add_parser(action.value, help=text)
        p.add_argument("transaction")
        p.add_argument(
            "--actor",
            default=_actor_default(),
            required=_actor_default() is None,
            help="who is acting (default: ONBOARDING_ACTOR)",
        )
        p.add_argument("--reason", help="why (required for skip, reassign and cancel)")
        p.add_argument("--exception", help="the exception item ID, to be sure it is that one")
        if action == SafeAction.CHOOSE_MATCH:
            p.add_argument("--company", required=True, help="the chosen CRM company ID")
        if action == SafeAction.SUPPLY_DATA:
            p.add_argument(
                "--set",
                action="append",
                metavar="PATH=VALUE",
                help="a payload field, e.g. customer.domain=hooli.example",
            )
            p.add_argument("--data", help="a JSON merge patch of the payload")
        if action == SafeAction.REPLAY_FROM:
            p.add_argument("--stage", required=True, choices=[s.value for s in REPLAYABLE_STAGES])
        if action == SafeAction.REASSIGN:
            p.add_argument("--owner", required=True, help="the new owner")

    cancel = sub.add_parser("cancel", help="cancel a run (with rollback unless --no-rollback)")
    cancel.add_argument("transaction")
    cancel.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--no-rollback", action="store_true", help="keep what the run created")

    sign_off = sub.add_parser("sign-off", help="QA sign-off before live (permitted roles only)")
    sign_off.add_argument("transaction")
    sign_off.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    sign_off.add_argument("--note", help="what was checked")

    scope = sub.add_parser("scope-change", help="freeze a run for a change of scope")
    scope.add_argument("transaction")
    scope.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    scope.add_argument("--reason", required=True)
    scope.add_argument(
        "--item", action="append", required=True, help="one change-order item (repeat for several)"
    )

    rules = sub.add_parser("rules", help="the rules a run uses (version, hash, its tier, SLAs)")
    rules.add_argument("transaction")
    rules.add_argument("--json", action="store_true")
    return parser


COMMANDS = {
    "queue": cmd_queue,
    "show": cmd_show,
    "resolve": cmd_resolve,
    "cancel": cmd_cancel,
    "sign-off": cmd_sign_off,
    "scope-change": cmd_scope_change,
    "rules": cmd_rules,
}


async def run(args: argparse.Namespace) -> int:
    """Connect and run one command."""
    try:
        client = await connect(target_host=args.address, namespace=args.namespace)
    except Exception as exc:
        raise CliError(f"cannot reach Temporal: {exc}", EXIT_UNAVAILABLE) from None
    try:
        return await COMMANDS[args.command](client, args)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise CliError(f"cannot reach Temporal: {exc.message}", EXIT_UNAVAILABLE) from None
        raise CliError(f"Temporal refused the request: {exc.message}", EXIT_REFUSED) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``onboarding``."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except CliError as exc:
        print(f"onboarding: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
