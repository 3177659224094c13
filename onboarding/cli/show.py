"""``onboarding show``: one run's record."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client

from onboarding.cli.common import EXIT_OK, run_status
from onboarding.cli.output import safe_lines
from onboarding.domain.run import RunStatus
from onboarding.ledger.store import Ledger


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


async def failure_text(client: Client, failure: Failure) -> str:
    """A failure's message; decoded when the codec encoded it (and the keys are here)."""
    if failure.HasField("encoded_attributes"):
        try:
            return str(await client.data_converter.decode_failure(failure))
        except Exception:  # no key for it: say so rather than fail the whole command
            return f"{failure.message} (set ONBOARDING_CODEC_KEYS to read it)"
    return failure.message


async def cmd_show(client: Client, args: argparse.Namespace) -> int:
    """Print one run's record."""
    status = await run_status(client, args.transaction)
    if status.audit_written:
        try:
            status = await asyncio.to_thread(Ledger.from_env().with_trail, status)
        except Exception as exc:  # the trail's head is in a ledger this process cannot read
            print(
                f"onboarding: the audit trail's first {status.audit_written} entries are in the "
                f"ledger (ONBOARDING_LEDGER_URL), which cannot be read here: {exc}",
                file=sys.stderr,
            )
    handle = client.get_workflow_handle(args.transaction)
    description = await handle.describe()
    pending = [
        {
            "activity_type": p.activity_type.name,
            "attempt": p.attempt,
            "next_attempt": p.next_attempt_schedule_time.ToDatetime().isoformat()
            if p.HasField("next_attempt_schedule_time")
            else None,
            "last_failure": await failure_text(client, p.last_failure)
            if p.HasField("last_failure")
            else None,
        }
        for p in description.raw_description.pending_activities
    ]
    if args.json:
        data = status.model_dump(mode="json")
        data["pending_activities"] = pending
        data["execution_status"] = description.status.name if description.status else None
        print(json.dumps(data, indent=2))
    else:
        print(safe_lines(render_status(status, pending)))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``show`` command."""
    show = sub.add_parser("show", help="one run: stage, linked IDs, open item, audit trail")
    show.add_argument("transaction")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
