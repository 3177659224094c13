"""``onboarding rules``: the rules a run uses, or the rules file in force, as tables a person reads.

onboarding rules                      the rules file new runs load (ONBOARDING_RULES_FILE)
onboarding rules --file rules.toml    any rules file, checked as a run would load it
onboarding rules TRANSACTION          the rules one run loaded at its start (its tier only)
... --json                            the same as JSON, for scripts
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from onboarding.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    run_status,
)
from onboarding.cli.output import table
from onboarding.domain.rules import Rules, RulesError, RulesSnapshot, TierRules, load_rules
from onboarding.domain.sla import SlaRule
from workflows.onboarding import OnboardingWorkflow

#: Who an ``exception_routing`` or escalation reference means, in words.
_REFERENCES = {
    "deal_owner": "the deal owner",
    "case_owner": "the case owner",
    "owner": "the clock's owner",
    "escalation_owner": "the team's escalation owner",
}


def _who(ref: str, rules: Rules) -> str:
    """An owner reference in words, with the person it names where the rules say."""
    named: dict[str, str] = rules.owners.model_dump()
    if ref in named:
        return f"{ref.replace('_', ' ')} ({named[ref]})"
    return _REFERENCES.get(ref, ref)


def _sla_row(clock: str, rule: SlaRule) -> list[str]:
    return [clock, rule.within.describe(), f"{rule.at_risk:.0%}", rule.priority or "-"]


def render_rules(snapshot: RulesSnapshot, *, tier: str | None = None) -> str:
    """The rules as tables: owners, roles, routing, each tier's steps, SLAs, exception routing.

    Args:
        snapshot: The loaded rules.
        tier: Show only this tier (a run's); None shows every tier.
    """
    rules = snapshot.rules
    out = [f"Rules {snapshot.version} from {snapshot.source} (sha256 {snapshot.sha256})"]

    owners = rules.owners.model_dump()
    out += ["", table([[k.replace("_", " "), v] for k, v in owners.items()], ["OWNER", "WHO"])]
    if rules.roles:
        rows = [[role, ", ".join(people)] for role, people in rules.roles.items()]
        out += ["", table(rows, ["ROLE", "HELD BY"])]

    if rules.routing:
        rows = []
        for number, route in enumerate(rules.routing, start=1):
            team = rules.teams[route.team]
            when = ", ".join(f"{k}={v}" for k, v in route.when.items()) or "(every customer)"
            assignment = team.assignment + (
                f" (up to {team.capacity} each)" if team.assignment == "capacity" else ""
            )
            rows.append(
                [
                    str(number),
                    when,
                    route.team,
                    ", ".join(team.members),
                    assignment,
                    team.escalation_owner,
                ]
            )
        out += [
            "",
            "Case owner: the first route that matches the customer picks the team.",
            table(rows, ["ROUTE", "WHEN", "TEAM", "MEMBERS", "ASSIGNMENT", "ESCALATION OWNER"]),
        ]

    tiers = {tier: rules.tiers[tier]} if tier in rules.tiers else dict(rules.tiers)
    for name, tier_rules in tiers.items():
        out += ["", *_render_tier(name, tier_rules, rules)]

    sla = rules.sla
    rows = [_sla_row(f"stage {stage}", rule) for stage, rule in sla.stages.items()]
    rows += [_sla_row(f"exception {kind}", rule) for kind, rule in sla.exceptions.items()]
    out += [
        "",
        "SLAs (stages from the run's start; exception items from when they open):",
        table(rows, ["CLOCK", "WITHIN", "AT RISK", "PRIORITY"]),
    ]
    chain = [
        f"{'at the breach' if step.after is None else f'{step.after.describe()} after it'}: "
        f"{_who(step.notify, rules)}"
        for step in sla.escalation
    ]
    out += [
        f"After a breach: {'; then '.join(chain) or 'no escalation'}",
        f"Missing input: a nudge every {sla.nudges.every.describe()}, escalation after "
        f"{sla.nudges.escalate_after.describe()}",
        "Alert their owner at once: " + (", ".join(c.value for c in sla.alert_at_once) or "(none)"),
    ]

    if rules.exception_routing:
        rows = [[c.value, _who(ref, rules)] for c, ref in rules.exception_routing.items()]
        out += ["", table(rows, ["EXCEPTION", "GOES TO"])]

    calendar = rules.calendar
    out += [
        "",
        f"Business calendar: {calendar.timezone}, {', '.join(calendar.work_days)} "
        f"{calendar.work_hours[0]}-{calendar.work_hours[1]}, "
        f"{len(calendar.holidays)} holiday(s)",
        f"Vendor calls: transient failures retried for {rules.retry.budget_minutes:g} minutes"
        + (f" (at most {rules.retry.max_attempts} attempts)" if rules.retry.max_attempts else "")
        + f", backoff {rules.retry.initial_interval_seconds:g}s to "
        f"{rules.retry.maximum_interval_seconds:g}s; then a person is asked",
    ]
    return "\n".join(out)


def _render_tier(name: str, tier: TierRules, rules: Rules) -> list[str]:
    steps = tier.steps.model_dump(mode="json")
    sign_off = (
        ", ".join(
            f"{role} ({', '.join(rules.roles.get(role, []))})" for role in tier.qa_sign_off_roles
        )
        or "none (automated checks only)"
    )
    rows = [[step, mode] for step, mode in steps.items()]
    rows.append(["qa sign-off", sign_off])
    lines = [f"Tier {name}", table(rows, ["STEP", "MODE"])]
    if tier.required_inputs:
        lines.append(f"  required on top of the schema: {', '.join(tier.required_inputs)}")
    if tier.standard_tasks:
        tasks = ", ".join(f"{t.name} ({t.due_business_days} bd)" for t in tier.standard_tasks)
        lines.append(f"  project tasks: {tasks}")
    emails = ", ".join(f"{e.key} (day {e.send_after_days})" for e in tier.welcome_sequence)
    lines.append(f"  welcome emails: {emails}")
    return lines


async def cmd_rules(client: Client | None, args: argparse.Namespace) -> int:
    """Print the rules of a run, or of the rules file in force."""
    tier: str | None = None
    if args.transaction is None:
        try:
            snapshot = load_rules(Path(args.file) if args.file else None)
        except RulesError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    else:
        assert client is not None
        handle = client.get_workflow_handle_for(OnboardingWorkflow.run, args.transaction)
        try:
            loaded = await handle.query(OnboardingWorkflow.rules)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise CliError(
                    f"no onboarding run for transaction {args.transaction}", EXIT_NOT_FOUND
                ) from None
            raise
        if loaded is None:
            raise CliError("the run has not loaded its rules yet", EXIT_REFUSED)
        snapshot = loaded
        tier = (await run_status(client, args.transaction)).tier
    if args.json:
        data: dict[str, Any] = snapshot.model_dump(mode="json")
        if tier is not None:
            data["tier"] = tier
        print(json.dumps(data, indent=2))
    else:
        print(render_rules(snapshot, tier=tier))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``rules`` command."""
    rules = sub.add_parser(
        "rules",
        help="the rules as tables: owners, roles, routing, each tier's steps, SLAs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rules.add_argument(
        "transaction", nargs="?", help="a run's transaction ID (default: the rules file in force)"
    )
    rules.add_argument(
        "--file", help="a rules file to show instead (default: ONBOARDING_RULES_FILE or bundled)"
    )
    rules.add_argument("--json", action="store_true", help="machine-readable output")
    rules.set_defaults(func=cmd_rules, needs_temporal=lambda a: a.transaction is not None)
