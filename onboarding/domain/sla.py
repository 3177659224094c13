"""SLAs: when a piece of work is at risk, when it is breached, and whom to escalate to after.

Pure and deterministic (no clock reads): the caller passes the times in, so it is safe in
workflow code. Which notices a run owes is :mod:`onboarding.domain.notices`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onboarding.domain.calendar import BusinessCalendar, Span

OwnerRef = str
"""Who to notify: a role (see ``OWNER_ROLES``) resolved by the caller, or an email address."""

OWNER_ROLES: frozenset[str] = frozenset(
    {"owner", "escalation_owner", "process_owner", "system_owner"}
)
"""The role names an ``OwnerRef`` may use instead of an email address."""


def _check_owner_ref(value: str) -> str:
    local, at, domain = value.partition("@")
    if value in OWNER_ROLES or (at and local and domain and " " not in value):
        return value
    raise ValueError(
        f"notify must be one of {', '.join(sorted(OWNER_ROLES))} or an email address, got {value!r}"
    )


class SlaRule(BaseModel):
    """How long a piece of work may take, and when it counts as at risk.

    Attributes:
        within: The time allowed, from the start.
        at_risk: The fraction of the allowed time after which the work is at risk.
        priority: An optional label such as ``"P1"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    within: Span
    at_risk: float = Field(default=0.75, gt=0, lt=1)
    priority: str | None = None


class EscalationStep(BaseModel):
    """One escalation after a breach.

    Attributes:
        after: How long after the breach; ``None`` escalates at the breach itself.
        notify: Whom to notify.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    after: Span | None = None
    notify: OwnerRef

    @field_validator("notify")
    @classmethod
    def _valid_notify(cls, value: str) -> str:
        return _check_owner_ref(value)


class Deadlines(BaseModel):
    """The computed times of one SLA, all in UTC.

    Attributes:
        started_at: When the clock started.
        at_risk_at: When the work becomes at risk.
        due_at: When the SLA is breached.
        escalations: Escalation times and whom to notify, sorted by time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    started_at: datetime
    at_risk_at: datetime
    due_at: datetime
    escalations: list[tuple[datetime, OwnerRef]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Deadlines:
        times = [when for when, _ in self.escalations]
        if times != sorted(times):
            raise ValueError("escalations must be sorted by time")
        return self


def deadlines(
    calendar: BusinessCalendar,
    started_at: datetime,
    rule: SlaRule,
    escalation: list[EscalationStep],
) -> Deadlines:
    """Compute the at-risk, due and escalation times of an SLA.

    Args:
        calendar: The business calendar the SLA runs on.
        started_at: When the clock started (timezone-aware).
        rule: The SLA.
        escalation: The escalation steps, measured from the breach.

    Returns:
        The deadlines, in UTC. Escalations are sorted by time; steps due at the same time keep
        their order in ``escalation``.

    Raises:
        ValueError: When ``started_at`` is naive.
    """
    due_at = calendar.add(started_at, rule.within)
    start = started_at.astimezone(UTC)
    at_risk_at = start + (due_at - start) * rule.at_risk
    steps = [
        (due_at if step.after is None else calendar.add(due_at, step.after), step.notify)
        for step in escalation
    ]
    steps.sort(key=lambda item: item[0])
    return Deadlines(started_at=start, at_risk_at=at_risk_at, due_at=due_at, escalations=steps)
