"""A week (or several) of demo-sized onboarding traffic, written to the ledger as runs write it.

``python -m bench.ledger_week [--week 2026-W47] [--weeks 4] [--runs-per-week 30] [--seed 47]``

Back-dated: each run's audit trail (rules loaded, trigger, stages and their owners, exception
items opened and resolved, QA checks, SLA notices, person actions and overrides, rollbacks) is
written through the ``append_to_ledger`` activity in the batches a run sends (at stage changes,
before parking, at the end), and its vendor failures (429 with ``Retry-After``, 5xx) through the
activities' ``vendor_errors`` recording, each in an activity context whose times are the run's.
Nothing after ``--now`` is written: runs still going then stay open, as they would be.

The ledger is ``--ledger URL``, else ``ONBOARDING_LEDGER_URL``, else ``var/ledger.sqlite3``.
Then ``onboarding report --week ...`` reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from temporalio.common import RetryPolicy
from temporalio.testing import ActivityEnvironment

from activities.common import vendor_errors
from activities.ledger import LedgerActivities
from activities.models import AppendToLedgerInput
from onboarding.domain.audit import WORKER_ACTOR, AuditAction, AuditEntry
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.rules import RolloutPhase, Rules, StepMode, load_rules
from onboarding.domain.stages import Stage
from onboarding.ledger.models import RunFacts, SequencedEntry
from onboarding.ledger.report import parse_week, week_bounds, week_of
from onboarding.ledger.store import Ledger

COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Soylent",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Massive Dynamic",
    "Gringotts",
    "Oscorp",
    "Vandelay",
    "Dunder Mifflin",
    "Pied Piper",
    "Nakatomi",
    "Monarch",
    "Buy n Large",
    "Virtucon",
    "Prestige",
    "Sterling Cooper",
    "Bluth",
    "Gekko",
    "Duff",
    "Krusty",
    "Ollivander",
    "Planet Express",
]
KINDS = ["Inc", "Labs", "Group", "Systems", "Foods", "Logistics", "Health", "Energy", "Media"]
TIERS = [("smb", 0.45), ("mid-market", 0.3), ("enterprise", 0.15), ("partner-led", 0.1)]
#: What happens to a run, and how often.
SCENARIOS = [
    ("happy", 0.46),
    ("missing-data", 0.12),
    ("ambiguous-match", 0.08),
    ("rate-limited", 0.1),
    ("server-error", 0.06),
    ("qa-failed", 0.06),
    ("auth-error", 0.04),
    ("slow-provisioning", 0.04),
    ("cancelled", 0.04),
]
MISSING_FIELDS = [
    ["customer.domain"],
    ["plan.billing_term", "crm_owner"],
    ["customer.domain", "plan.billing_term"],
    ["implementation.start_target"],
    ["customer.region"],
]
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=120),
    maximum_attempts=5,
)
TECHNICAL = {"rate-limit", "server-error", "auth-error", "validation-error"}
QA_CHECKS = ["crm-company", "delivery-project", "support-organization", "kickoff-link"]


@dataclass
class Trail:
    """One run being written: its clock, its entries, and what the ledger has acknowledged."""

    transaction_id: str
    facts: RunFacts
    at: datetime
    now: datetime
    ledger: LedgerActivities
    stage: Stage = Stage.RECEIVED
    entries: list[AuditEntry] = field(default_factory=list)
    written: int = 0
    stopped: bool = False
    exceptions: int = 0
    activities: int = 0

    def wait(self, **delta: float) -> None:
        """Let time pass in the run."""
        self.at += timedelta(**delta)

    def record(
        self, action: AuditAction, detail: str, /, *, actor: str = WORKER_ACTOR, **data: str
    ) -> None:
        """One entry, at the run's clock, unless that is after now (the run is not there yet)."""
        if self.at > self.now:
            self.stopped = True
        if self.stopped:
            return
        self.entries.append(
            AuditEntry(
                at=self.at, actor=actor, action=action, stage=self.stage, detail=detail, data=data
            )
        )

    def enter(self, stage: Stage, owner: str) -> None:
        self.stage = stage
        self.record(AuditAction.STAGE, f"entered {stage.value}, owner {owner}", owner=owner)

    async def flush(self) -> None:
        """Send what the ledger does not hold yet, as the workflow does (a local activity)."""
        if self.written == len(self.entries):
            return
        batch = [
            SequencedEntry(seq=n, entry=e)
            for n, e in enumerate(self.entries[self.written :], start=self.written + 1)
        ]
        result = await ActivityEnvironment().run(
            self.ledger.append_to_ledger,
            AppendToLedgerInput(transaction_id=self.transaction_id, run=self.facts, entries=batch),
        )
        self.written = result.last_seq

    async def vendor_failure(
        self, system: str, activity_type: str, status: int, attempt: int, retry_after: float | None
    ) -> None:
        """One failed attempt of a vendor call, recorded by the activities' own decorator."""
        if self.at > self.now:
            return
        self.activities += 1 if attempt == 1 else 0
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            env.info,
            workflow_id=self.transaction_id,
            workflow_run_id=f"run-{self.transaction_id}",
            activity_id=str(self.activities),
            activity_type=activity_type,
            attempt=attempt,
            retry_policy=RETRY,
            current_attempt_scheduled_time=self.at,
        )
        error = ErrorType.RATE_LIMITED if status == 429 else ErrorType.SERVER_ERROR

        class _Call:
            ledger = self.ledger.ledger

            @vendor_errors
            async def call(self) -> None:
                raise VendorFailure(error, system, f"HTTP {status}", status, retry_after)

        try:
            await env.run(_Call().call)
        except Exception:
            pass  # raised as Temporal would retry it: expected


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([n for n, _ in weighted], [w for _, w in weighted])[0]


async def write_run(
    ledger: LedgerActivities,
    rules: Rules,
    rules_sha: str,
    rng: random.Random,
    *,
    number: int,
    started_at: datetime,
    now: datetime,
    scenario: str | None = None,
    tier: str | None = None,
) -> Trail:
    """Write one run's trail; the scenario decides what goes wrong and who acts."""
    tier = tier or _pick(rng, TIERS)
    scenario = scenario or _pick(rng, SCENARIOS)
    name = COMPANIES[number % len(COMPANIES)]
    kind = KINDS[number // len(COMPANIES) % len(KINDS)]
    legal = f"{name} {kind}"
    slug = f"{name}{kind}".lower().replace(" ", "")
    domain = f"{slug}.example"
    invoice = f"in_{started_at:%m%d}{number:04d}{slug[:6]}"
    tx = f"stripe-{invoice}"
    phase = rules.phase_of(tier)
    steps = rules.effective_steps(tier)
    deal_owner = f"rep{number % 4 + 1}@example.com"
    team_name = {"enterprise": "enterprise", "partner-led": "partners"}.get(tier, "onboarding")
    team = rules.teams[team_name]
    case_owner = team.members[number % len(team.members)]
    owners = rules.owners
    facts = RunFacts(
        customer_name=legal,
        customer_domain=None if scenario == "missing-data" else domain,
        tier=tier,
        phase=phase.value,
        rules_version=rules.version,
        trigger_system="stripe",
        trigger_event_type="invoice.paid",
        trigger_object_id=invoice,
    )
    run = Trail(tx, facts, started_at, now, ledger)
    sla_minutes = 30

    def open_item(category: str, owner: str, system: str, step: str, **more: str) -> str:
        run.exceptions += 1
        item = f"x{run.exceptions}"
        due = run.at + (timedelta(hours=4) if category in TECHNICAL else timedelta(hours=24))
        run.record(
            AuditAction.EXCEPTION_OPENED,
            f"{category} on {system}/{step}, owner {owner}",
            exception_id=item,
            category=category,
            owner=owner,
            system=system,
            step=step,
            sla_due_at=due.isoformat(),
            **more,
        )
        return item

    def resolve(item: str, category: str, actor: str, action: str, reason: str) -> None:
        run.record(
            AuditAction.PERSON_ACTION,
            f"{actor}: {action} ({reason})",
            actor=actor,
            action=action,
            reason=reason,
            exception_id=item,
        )
        run.record(
            AuditAction.EXCEPTION_RESOLVED,
            f"{item} resolved by {action}",
            actor=actor,
            exception_id=item,
            category=category,
            action=action,
            reason=reason,
        )

    def notice(kind: str, clock: str, recipients: str, due: datetime) -> None:
        run.record(
            AuditAction.NOTICE,
            f"{kind} to {recipients}",
            key=f"{clock}:{kind}",
            kind=kind,
            clock=clock,
            recipients=recipients,
            due_at=due.isoformat(),
        )

    # --- received and validating
    run.record(
        AuditAction.RULES_LOADED,
        f"rules {rules.version}",
        version=rules.version,
        sha256=rules_sha,
        phase=phase.value,
    )
    run.record(
        AuditAction.RUN_STARTED,
        f"stripe invoice.paid {invoice}",
        system="stripe",
        event_type="invoice.paid",
        object_id=invoice,
        event_id=f"evt_{invoice[3:]}",
    )
    run.enter(Stage.RECEIVED, owners.process_owner)
    run.wait(seconds=2)
    run.enter(Stage.VALIDATING, owners.sales_ops)
    await run.flush()
    if scenario == "missing-data":
        fields = rng.choice(MISSING_FIELDS)
        run.record(
            AuditAction.PAYLOAD_INCOMPLETE, "missing: " + ", ".join(fields), fields=",".join(fields)
        )
        run.enter(Stage.AWAITING_DATA, deal_owner)
        item = open_item(
            "missing-data", deal_owner, "intake", "validate_payload", fields=",".join(fields)
        )
        await run.flush()
        waited = rng.uniform(3, 60)
        if waited > 24:
            run.wait(hours=24)
            notice("nudge", f"exception:{item}", deal_owner, run.at)
            await run.flush()
            run.wait(hours=waited - 24)
        else:
            run.wait(hours=waited)
        resolve(item, "missing-data", deal_owner, "supply-data", "from the order form")
        run.facts = run.facts.model_copy(update={"customer_domain": domain})
    run.record(
        AuditAction.PAYLOAD_VALID,
        "every required field present and valid",
        tier=tier,
        customer=legal,
        domain=domain,
    )
    run.record(
        AuditAction.CASE_OWNER_ASSIGNED,
        f"{case_owner} ({team_name})",
        owner=case_owner,
        escalation_owner=team.escalation_owner,
        team=team_name,
        reason=f"tier {tier}",
    )
    provisioning_from = run.at

    # --- matching
    run.wait(seconds=3)
    run.enter(Stage.MATCHING, case_owner)
    await run.flush()
    if steps.crm == StepMode.AUTOMATED:
        if scenario == "ambiguous-match":
            item = open_item("ambiguous-match", case_owner, "hubspot", "resolve_crm_identity")
            await run.flush()
            run.wait(hours=rng.uniform(0.5, 20))
            if run.at - provisioning_from > timedelta(minutes=sla_minutes):
                notice(
                    "breached",
                    "stage:provisioning",
                    case_owner,
                    provisioning_from + timedelta(minutes=30),
                )
            resolve(item, "ambiguous-match", case_owner, "choose-match", f"{legal} is the buyer")
        run.record(
            AuditAction.STEP_DONE,
            "CRM company",
            step="crm_company",
            system="hubspot",
            record=str(10_000_000 + number),
            created="false" if scenario == "ambiguous-match" else "true",
        )
        run.record(
            AuditAction.STEP_DONE,
            "CRM contact",
            step="crm_contact",
            system="hubspot",
            record=str(20_000_000 + number),
            created="true",
        )
    else:
        run.record(
            AuditAction.STEP_NOT_AUTOMATED,
            f"crm is {steps.crm.value}",
            step="crm",
            system="hubspot",
            mode=steps.crm.value,
            owner=case_owner,
        )

    # --- provisioning
    run.wait(seconds=5)
    run.enter(Stage.PROVISIONING, case_owner)
    await run.flush()
    if scenario == "rate-limited":
        for attempt in (1, 2):
            await run.vendor_failure("hubspot", "update_crm_onboarding", 429, attempt, 10.0)
            run.wait(seconds=10)
    if scenario == "server-error":
        for attempt in range(1, 6):
            await run.vendor_failure("asana", "create_delivery_project", 503, attempt, None)
            run.wait(seconds=2 * 2 ** (attempt - 1))
        item = open_item(
            "server-error",
            owners.system_owner,
            "asana",
            "create_delivery_project",
            http_status="503",
        )
        await run.flush()
        run.wait(hours=rng.uniform(0.3, 5))
        notice(
            "breached", "stage:provisioning", case_owner, provisioning_from + timedelta(minutes=30)
        )
        resolve(item, "server-error", owners.system_owner, "retry", "Asana incident over")
    if scenario == "slow-provisioning":
        run.wait(minutes=22.5)
        notice(
            "at-risk", "stage:provisioning", case_owner, provisioning_from + timedelta(minutes=30)
        )
        run.wait(minutes=rng.uniform(8, 50))
        notice(
            "breached", "stage:provisioning", case_owner, provisioning_from + timedelta(minutes=30)
        )
        notice(
            "escalated",
            "stage:provisioning",
            team.escalation_owner,
            provisioning_from + timedelta(minutes=30),
        )
    for step, system, label in (
        ("project", "asana", "delivery project"),
        ("support", "zendesk", "support organization"),
    ):
        mode = getattr(steps, step)
        if mode == StepMode.AUTOMATED:
            run.record(
                AuditAction.STEP_DONE,
                label,
                step=step,
                system=system,
                record=f"{system}-{number}",
                created="true",
            )
        else:
            owner = owners.support_ops if step == "support" else case_owner
            run.record(
                AuditAction.STEP_NOT_AUTOMATED,
                f"{step} is {mode.value}",
                step=step,
                system=system,
                mode=mode.value,
                owner=owner,
            )
            if mode == StepMode.MANUAL:
                notice("manual-task", f"step:{step}", owner, run.at + timedelta(hours=48))
    if scenario == "auth-error":
        item = open_item(
            "auth-error", owners.system_owner, "zendesk", "provision_support", http_status="401"
        )
        notice("failure", f"exception:{item}", owners.system_owner, run.at)
        await run.flush()
        run.wait(hours=rng.uniform(30, 120))
        if run.at > run.now:
            return run  # still parked when the week was written
        resolve(item, "auth-error", owners.system_owner, "retry", "token rotated")
    if scenario == "cancelled":
        run.wait(hours=rng.uniform(1, 30))
        actor = "revops@example.com"
        run.record(
            AuditAction.PERSON_ACTION,
            "cancel: order withdrawn",
            actor=actor,
            action="cancel",
            reason="order withdrawn",
        )
        for system, record in (
            ("zendesk", f"zendesk-{number}"),
            ("asana", f"asana-{number}"),
            ("hubspot", str(20_000_000 + number)),
        ):
            run.record(
                AuditAction.ROLLBACK,
                f"{system} {record} archived",
                system=system,
                record=record,
                outcome="archived",
            )
        run.enter(Stage.CANCELLED, case_owner)
        run.record(
            AuditAction.CANCELLED, "cancelled, rolled back", actor=actor, rollback="true", via="cli"
        )
        await run.flush()
        return run

    # --- kickoff and welcome
    run.wait(seconds=4)
    run.enter(Stage.KICKOFF, case_owner)
    if steps.kickoff == StepMode.AUTOMATED:
        run.record(
            AuditAction.STEP_DONE,
            "kickoff link",
            step="kickoff",
            system="calendly",
            record=f"https://calendly.com/d/{slug}",
            created="true",
        )
    else:
        run.record(
            AuditAction.STEP_NOT_AUTOMATED,
            "kickoff is manual",
            step="kickoff",
            system="calendly",
            mode=steps.kickoff.value,
            owner=case_owner,
        )
    run.wait(seconds=2)
    run.enter(Stage.WELCOME, case_owner)
    if steps.welcome == StepMode.AUTOMATED:
        run.record(
            AuditAction.STEP_DONE,
            "welcome email",
            step="welcome",
            system="resend",
            record=f"email-{number}",
            created="true",
        )
    else:
        run.record(
            AuditAction.STEP_NOT_AUTOMATED,
            "welcome is manual",
            step="welcome",
            system="resend",
            mode=steps.welcome.value,
            owner=case_owner,
        )
    await run.flush()

    # --- QA and live
    run.wait(seconds=3)
    run.enter(Stage.QA, case_owner)
    failing = rng.choice(QA_CHECKS) if scenario == "qa-failed" else None
    for check in QA_CHECKS:
        run.record(
            AuditAction.QA_CHECK,
            check,
            check=check,
            ok="false" if check == failing else "true",
            **{"pass": "1"},
        )
    if failing:
        item = open_item("qa-failed", case_owner, "qa", "verify_linked_records")
        await run.flush()
        run.wait(hours=rng.uniform(1, 26))
        resolve(item, "qa-failed", case_owner, "replay-from", f"{failing} fixed by hand")
        run.record(AuditAction.REPLAY, "rerunning from qa", from_stage="qa")
        for check in QA_CHECKS:
            run.record(AuditAction.QA_CHECK, check, check=check, ok="true", **{"pass": "2"})
    if rules.tiers[tier].qa_sign_off_roles:
        await run.flush()
        wait = rng.uniform(2, 80)
        if wait > 48:
            run.wait(hours=36)
            notice("at-risk", "stage:qa", case_owner, run.at + timedelta(hours=12))
            run.wait(hours=12)
            notice("breached", "stage:qa", case_owner, run.at)
            await run.flush()
            run.wait(hours=wait - 48)
        else:
            run.wait(hours=wait)
        signer = "qa@example.com"
        run.record(
            AuditAction.PERSON_ACTION,
            "sign-off",
            actor=signer,
            action="sign-off",
            reason="all linked records checked",
        )
        run.record(
            AuditAction.QA_SIGNED_OFF,
            f"{signer} signed off",
            actor=signer,
            role="qa-reviewer",
            note="all linked records checked",
        )
    run.wait(seconds=2)
    run.enter(Stage.LIVE, case_owner)
    run.record(AuditAction.LIVE, "setup, customer communication and ownership handoff complete")
    await run.flush()
    return run


async def generate(
    ledger: Ledger,
    week: date,
    *,
    weeks: int = 8,
    runs_per_week: int = 30,
    seed: int = 47,
    now: datetime | None = None,
    rules: Rules | None = None,
) -> list[Trail]:
    """Write ``weeks`` weeks of runs, the last one being ``week``; return every run written."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    snapshot = load_rules()
    rules = rules or demo_rules(snapshot.rules)
    activities = LedgerActivities(ledger)
    trails: list[Trail] = []
    number = 0
    for back in range(weeks - 1, -1, -1):
        start, _ = week_bounds(week - timedelta(weeks=back))
        for _ in range(runs_per_week):
            # Mostly working hours on working days, some at night and at weekends.
            day = rng.choices(range(7), [20, 20, 20, 20, 16, 2, 2])[0]
            hour = rng.uniform(8, 18) if rng.random() < 0.85 else rng.uniform(0, 24)
            started_at = start + timedelta(days=day, hours=hour)
            if started_at > now:
                continue
            trails.append(
                await write_run(
                    activities,
                    rules,
                    snapshot.sha256,
                    rng,
                    number=number,
                    started_at=started_at,
                    now=now,
                )
            )
            number += 1
    return trails


def demo_rules(rules: Rules) -> Rules:
    """The bundled rules with partner-led runs still in the CRM-and-tasks phase of the rollout,
    so that the report shows two phases side by side."""
    tiers = dict(rules.tiers)
    tiers["partner-led"] = tiers["partner-led"].model_copy(
        update={"phase": RolloutPhase.CRM_AND_TASKS}
    )
    return rules.model_copy(update={"tiers": tiers})


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.ledger_week``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger_week",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--week", help="the last week written (default: the current one)")
    parser.add_argument("--weeks", type=int, default=8, help="how many weeks, ending with --week")
    parser.add_argument("--runs-per-week", type=int, default=30)
    parser.add_argument("--seed", type=int, default=47)
    parser.add_argument("--now", help="ISO time: nothing after it is written (default: now)")
    parser.add_argument("--ledger", help="ledger URL (default: ONBOARDING_LEDGER_URL or var/)")
    args = parser.parse_args(argv)
    # Each vendor failure is logged by the activity as it would be in a worker: not needed here.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    week = parse_week(args.week) if args.week else week_of(now)
    ledger = Ledger(args.ledger) if args.ledger else Ledger.from_env()
    try:
        trails = asyncio.run(
            generate(
                ledger,
                week,
                weeks=args.weeks,
                runs_per_week=args.runs_per_week,
                seed=args.seed,
                now=now,
            )
        )
    finally:
        ledger.close()
    entries = sum(len(t.entries) for t in trails)
    print(f"wrote {len(trails)} runs, {entries} entries, to {ledger.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
