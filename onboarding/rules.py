"""Rules as configuration: a versioned TOML file, loaded once at the start of each run.

The run keeps the loaded rules in its state and records their version and hash, so editing the
file never changes a run in flight.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from string import Template

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules" / "onboarding-rules.toml"


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


class TierRules(_Rules):
    """What differs by tier: template, owner, tasks, welcome sequence."""

    project_template_gid: str
    implementation_owner: str
    escalation_owner: str
    standard_tasks: list[StandardTask] = Field(default_factory=list)
    welcome_sequence: list[WelcomeEmail] = Field(min_length=1)


class Owners(_Rules):
    """Who owns what is not owned by a tier."""

    process_owner: str
    system_owner: str
    sales_ops: str
    support_ops: str


class RetryRules(_Rules):
    """Retry policy of vendor calls (the brief: to a human after 3 to 5 attempts)."""

    max_attempts: int = Field(default=5, ge=3, le=5)
    initial_interval_seconds: float = Field(default=2.0, gt=0)
    maximum_interval_seconds: float = Field(default=120.0, gt=0)
    backoff_coefficient: float = Field(default=2.0, ge=1)


class Rules(_Rules):
    """The whole rules file."""

    version: str
    owners: Owners
    retry: RetryRules = Field(default_factory=RetryRules)
    tiers: dict[str, TierRules]


class RulesSnapshot(BaseModel):
    """Rules as one run loaded them: the content, its declared version and its hash."""

    version: str
    sha256: str
    source: str
    rules: Rules


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the reason."""


def rules_path() -> Path:
    """The rules file in force: ``ONBOARDING_RULES_FILE`` or the bundled sample."""
    return Path(os.environ.get("ONBOARDING_RULES_FILE") or DEFAULT_RULES_PATH)


def load_rules(path: Path | None = None) -> RulesSnapshot:
    """Load and validate a rules file.

    Raises:
        RulesError: naming the file and what is wrong in it.
    """
    path = path or rules_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"rules file {path}: cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"rules file {path}: not valid TOML: {exc}") from None
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise RulesError(f"rules file {path}: {reasons}") from None
    return RulesSnapshot(
        version=rules.version,
        sha256=hashlib.sha256(raw).hexdigest(),
        source=path.name,
        rules=rules,
    )
