"""Rules as configuration: a versioned TOML file, loaded once at the start of each run.

The run keeps the loaded rules in its state and records their version and hash, so editing the
file never changes a run in flight.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from enum import StrEnum
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from onboarding.data import BUNDLED_RULES
from onboarding.domain.calendar import BusinessCalendar, Span
from onboarding.domain.errors import Category
from onboarding.domain.routing import RouteRule, Team, validate_routing
from onboarding.domain.sla import EscalationStep, SlaRule


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StandardTask(_Rules):
    """A task created in the delivery project on top of the template's own tasks."""

    key: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    due_business_days: int = Field(default=1, ge=0)


class WelcomeEmail(_Rules):
    """One email of a tier's welcome sequence; ``$customer``, ``$contact_name``, ``$booking_url``,
    ``$case_owner`` and ``$plan`` are filled in."""

    key: str = Field(pattern=r"^[a-z0-9-]+$")
    subject: str
    body: str
    send_after_days: int = Field(default=0, ge=0)

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        """Subject and body with the run's values filled in."""
        return (
            Template(self.subject).safe_substitute(values),
            Template(self.body).safe_substitute(values),
        )


class StepMode(StrEnum):
    """How a step runs: automated, a person's task (the run waits for it), or not at all."""

    AUTOMATED = "automated"
    MANUAL = "manual"
    OFF = "off"


class RolloutPhase(StrEnum):
    """How far the process is rolled out. A phase caps what the steps may do; within it, each
    step keeps the mode the rules give it (a step ``off`` stays off)."""

    RECORD_AND_NOTIFY = "record-and-notify"
    """Nothing is written to another system: each step is a task for its owner, on the record."""
    CRM_AND_TASKS = "crm-and-tasks"
    """The CRM match and update and the delivery project with its tasks are automated; support,
    kickoff and welcome are tasks for the case owner."""
    FULL_PROVISIONING = "full-provisioning"
    """Every step as the rules set it."""


class Steps(_Rules):
    """The mode of each side-effecting step."""

    crm: StepMode = StepMode.AUTOMATED
    project: StepMode = StepMode.AUTOMATED
    support: StepMode = StepMode.AUTOMATED
    kickoff: StepMode = StepMode.AUTOMATED
    welcome: StepMode = StepMode.AUTOMATED

    @model_validator(mode="after")
    def _no_project_without_crm(self) -> Steps:
        if self.crm != StepMode.AUTOMATED and self.project == StepMode.AUTOMATED:
            raise ValueError(
                "project cannot be automated while crm is not: no project is ever created "
                "before a confirmed CRM account ID"
            )
        if self.crm != StepMode.AUTOMATED and self.support == StepMode.AUTOMATED:
            raise ValueError("support cannot be automated while crm is not")
        return self


#: The most each step may do in each phase (a step is never raised above its own mode).
PHASE_CEILINGS: dict[RolloutPhase, dict[str, StepMode]] = {
    RolloutPhase.RECORD_AND_NOTIFY: {
        "crm": StepMode.MANUAL,
        "project": StepMode.MANUAL,
        "support": StepMode.MANUAL,
        "kickoff": StepMode.MANUAL,
        "welcome": StepMode.MANUAL,
    },
    RolloutPhase.CRM_AND_TASKS: {
        "crm": StepMode.AUTOMATED,
        "project": StepMode.AUTOMATED,
        "support": StepMode.MANUAL,
        "kickoff": StepMode.MANUAL,
        "welcome": StepMode.MANUAL,
    },
    RolloutPhase.FULL_PROVISIONING: {},
}

_MODE_RANK = {StepMode.OFF: 0, StepMode.MANUAL: 1, StepMode.AUTOMATED: 2}


def steps_under_phase(steps: Steps, phase: RolloutPhase) -> Steps:
    """The step modes in force under ``phase``: each step's own mode, capped by the phase."""
    ceilings = PHASE_CEILINGS[phase]
    modes = {
        step: min(mode, ceilings.get(step, StepMode.AUTOMATED), key=_MODE_RANK.__getitem__)
        for step, mode in steps.model_dump().items()
    }
    return Steps.model_validate(modes)


class TierRules(_Rules):
    """What differs by tier: template, tasks, welcome sequence, required inputs, steps, gates."""

    project_template_gid: str
    standard_tasks: list[StandardTask] = Field(default_factory=list)
    welcome_sequence: list[WelcomeEmail] = Field(min_length=1)
    required_inputs: list[str] = Field(
        default_factory=list,
        description="Payload paths this tier requires on top of the schema's required fields.",
    )
    steps: Steps = Field(default_factory=Steps)
    qa_sign_off_roles: list[str] = Field(
        default_factory=list,
        description="Roles whose members may sign off QA before live; empty: no manual gate.",
    )
    phase: RolloutPhase | None = Field(
        default=None, description="This tier's rollout phase; empty: the process's phase."
    )
    #: Rules files before owner routing named the owners per tier; still read for old runs.
    implementation_owner: str | None = None
    escalation_owner: str | None = None


class Owners(_Rules):
    """Who owns what is not owned by a tier."""

    process_owner: str
    system_owner: str
    sales_ops: str
    support_ops: str


class RetryRules(_Rules):
    """How a step's vendor calls are retried.

    Transient failures (429 honouring ``Retry-After``, 5xx, timeouts, connection errors) are
    retried with exponential backoff for ``budget_minutes`` from the step's first attempt; only
    when the budget runs out does an exception item open, with the last vendor failure. Failures
    no retry can fix (401/403, validation, ambiguous match) open one at once.
    """

    budget_minutes: float = Field(
        default=15.0,
        gt=0,
        description="How long a step keeps retrying transient failures before a person is asked. "
        "Longer than the vendors' rate-limit windows (HubSpot 10 s, Zendesk 60 s) and their "
        "usual incidents, so that a storm never reaches a person.",
    )
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        description="An optional cap on the attempts within the budget. Unset (the default): "
        "as many as the budget allows. Rules files before the budget set 3 to 5 here, and the "
        "runs that loaded them keep that cap.",
    )
    initial_interval_seconds: float = Field(default=2.0, gt=0)
    maximum_interval_seconds: float = Field(default=60.0, gt=0)
    backoff_coefficient: float = Field(default=2.0, ge=1)


def _default_stage_slas() -> dict[str, SlaRule]:
    return {
        "provisioning": SlaRule(within=Span(minutes=30), priority="P1"),
        "kickoff": SlaRule(within=Span(business_days=1), priority="P2"),
    }


def _default_exception_slas() -> dict[str, SlaRule]:
    return {
        "technical": SlaRule(within=Span(hours=4)),
        "business": SlaRule(within=Span(hours=24)),
    }


def _default_escalation() -> list[EscalationStep]:
    return [
        EscalationStep(notify="escalation_owner"),
        EscalationStep(after=Span(hours=24), notify="process_owner"),
    ]


class Nudges(_Rules):
    """Reminders while a run waits for missing input, then escalation."""

    every: Span = Field(default_factory=lambda: Span(hours=24))
    escalate_after: Span = Field(default_factory=lambda: Span(hours=48))
    subject: str = "Onboarding $customer is waiting for: $fields"
    body: str = (
        "Hi,\n\nthe onboarding of $customer ($transaction) cannot go on until these fields are "
        "supplied: $fields.\nSupply them with: onboarding resolve supply-data $transaction "
        "--set path=value\n"
    )

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        """Subject and body with the run's values filled in."""
        return (
            Template(self.subject).safe_substitute(values),
            Template(self.body).safe_substitute(values),
        )


class SlaRules(_Rules):
    """SLAs per stage (from the run's start) and per exception category, and the escalation
    chain after a breach. Technical categories fall back to ``technical``, business ones to
    ``business``."""

    stages: dict[str, SlaRule] = Field(default_factory=_default_stage_slas)
    exceptions: dict[str, SlaRule] = Field(default_factory=_default_exception_slas)
    escalation: list[EscalationStep] = Field(default_factory=_default_escalation)
    nudges: Nudges = Field(default_factory=Nudges)
    alert_at_once: list[Category] = Field(
        default_factory=lambda: [Category.AUTH_ERROR],
        description="Categories whose items alert their owner the moment they open.",
    )


TECHNICAL_CATEGORIES = frozenset(
    {Category.RATE_LIMIT, Category.SERVER_ERROR, Category.AUTH_ERROR, Category.VALIDATION_ERROR}
)

#: Who an exception category goes to, unless the rules say otherwise: a role of the run
#: (``deal_owner``, ``case_owner``), a key of ``owners``, or an email address.
DEFAULT_EXCEPTION_ROUTING: dict[str, str] = {
    Category.MISSING_DATA: "deal_owner",
    Category.AMBIGUOUS_MATCH: "case_owner",
    Category.RATE_LIMIT: "system_owner",
    Category.SERVER_ERROR: "system_owner",
    Category.AUTH_ERROR: "system_owner",
    Category.VALIDATION_ERROR: "case_owner",
    Category.PAYMENT_FAILED: "process_owner",
    Category.SCOPE_CHANGE: "case_owner",
    Category.QA_FAILED: "case_owner",
    Category.QA_SIGN_OFF: "case_owner",
}


class Rules(_Rules):
    """The whole rules file."""

    version: str
    phase: RolloutPhase = Field(
        default=RolloutPhase.FULL_PROVISIONING,
        description="The rollout phase of the whole process (a tier may set its own).",
    )
    owners: Owners
    retry: RetryRules = Field(default_factory=RetryRules)
    tiers: dict[str, TierRules]
    calendar: BusinessCalendar = Field(default_factory=BusinessCalendar)
    teams: dict[str, Team] = Field(default_factory=dict)
    routing: list[RouteRule] = Field(default_factory=list)
    roles: dict[str, list[str]] = Field(
        default_factory=dict, description="Role name to the people who hold it (emails)."
    )
    exception_routing: dict[Category, str] = Field(default_factory=dict)
    sla: SlaRules = Field(default_factory=SlaRules)

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        if self.routing:
            validate_routing(self.teams, self.routing)
        else:
            for name, tier in self.tiers.items():
                if not (tier.implementation_owner and tier.escalation_owner):
                    raise ValueError(
                        f"tiers.{name}: without routing, a tier needs implementation_owner "
                        "and escalation_owner"
                    )
        for name, tier in self.tiers.items():
            unknown = [r for r in tier.qa_sign_off_roles if r not in self.roles]
            if unknown:
                raise ValueError(f"tiers.{name}.qa_sign_off_roles: unknown role(s) {unknown}")
        return self

    def phase_of(self, tier: str) -> RolloutPhase:
        """The rollout phase a run of ``tier`` runs under."""
        return self.tiers[tier].phase or self.phase

    def effective_steps(self, tier: str) -> Steps:
        """The step modes a run of ``tier`` follows: the tier's modes under its phase."""
        return steps_under_phase(self.tiers[tier].steps, self.phase_of(tier))

    def route_exception(self, category: Category, *, deal_owner: str, case_owner: str) -> str:
        """The owner of an exception item of ``category``."""
        ref = self.exception_routing.get(category) or DEFAULT_EXCEPTION_ROUTING[category]
        if ref == "deal_owner":
            return deal_owner
        if ref == "case_owner":
            return case_owner
        named: dict[str, Any] = self.owners.model_dump()
        return str(named.get(ref, ref))

    def exception_sla(self, category: Category) -> SlaRule:
        """The SLA of an item of ``category``."""
        if category.value in self.sla.exceptions:
            return self.sla.exceptions[category.value]
        kind = "technical" if category in TECHNICAL_CATEGORIES else "business"
        return self.sla.exceptions.get(kind) or _default_exception_slas()[kind]


class RulesSnapshot(BaseModel):
    """Rules as one run loaded them: the content, its declared version and its hash."""

    version: str
    sha256: str
    source: str
    rules: Rules

    def for_tier(self, tier: str) -> RulesSnapshot:
        """The same rules with only the tier a run reads (the other tiers' templates, tasks and
        welcome sequences are most of a rules file). Version and hash stay those of the file,
        so the record still names exactly what the run loaded, and the result is still a valid
        rules file (routing and teams stay)."""
        rules = self.rules.model_copy(update={"tiers": {tier: self.rules.tiers[tier]}})
        return self.model_copy(update={"rules": rules})


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the reason."""


def rules_path() -> Path | Traversable:
    """The rules file in force: ``ONBOARDING_RULES_FILE`` or the bundled sample."""
    configured = os.environ.get("ONBOARDING_RULES_FILE")
    return Path(configured) if configured else BUNDLED_RULES


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of the rules file, as committed under ``schemas/``."""
    schema = Rules.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://onboarding-control-plane.dev/schemas/onboarding-rules.schema.json"
    return schema


def load_rules(path: Path | Traversable | None = None) -> RulesSnapshot:
    """Load and validate a rules file.

    The file is read every time, so an edit takes effect with the next run; parsing and
    validating it happens once per distinct content (every run starts by loading the rules).

    Raises:
        RulesError: naming the file and what is wrong in it.
    """
    path = path or rules_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"rules file {path}: cannot be read: {exc.strerror}") from None
    return _parse_rules(raw, path.name, str(path))


@functools.lru_cache(maxsize=8)
def _parse_rules(raw: bytes, name: str, shown: str) -> RulesSnapshot:
    """The snapshot of one rules file's content (cached: treat the result as read-only)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"rules file {shown}: not valid TOML: {exc}") from None
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise RulesError(f"rules file {shown}: {reasons}") from None
    return RulesSnapshot(
        version=rules.version,
        sha256=hashlib.sha256(raw).hexdigest(),
        source=name,
        rules=rules,
    )
