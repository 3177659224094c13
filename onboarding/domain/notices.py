"""The SLA scheduler: which SLA clocks run in a run, and which notices it owes, earliest first.

Pure and deterministic (no clock reads): the workflow's SLA watch asks it what to send next, the
``status`` query asks it for each clock's state, and the tests exercise it without Temporal.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from onboarding.domain.errors import Category
from onboarding.domain.rules import Rules
from onboarding.domain.run import ExceptionItem
from onboarding.domain.sla import Deadlines, OwnerRef, deadlines
from onboarding.domain.stages import STAGE_ORDER, Stage


class NoticeKind(StrEnum):
    """The kinds of alert a run sends."""

    AT_RISK = "at-risk"
    BREACHED = "breached"
    ESCALATED = "escalated"
    NUDGE = "nudge"
    FAILURE = "failure"
    """A failure that alerts its owner the moment its item opens (rules ``alert_at_once``)."""
    MANUAL_TASK = "manual-task"
    BILLING_HOLD = "billing-hold"


#: Kinds that change the run's ``SlaState`` search attribute.
SLA_STATE_KINDS = frozenset({NoticeKind.AT_RISK, NoticeKind.BREACHED, NoticeKind.ESCALATED})


class SlaClock(BaseModel):
    """One running SLA clock: a stage the run has not left yet, or its open exception item.

    Attributes:
        name: ``stage:<stage>`` or ``exception:<item id>``.
        owner: Who answers for it.
        deadlines: Its at-risk, due and escalation times.
        priority: The rule's label (``P1``...), if any.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    owner: str
    deadlines: Deadlines
    priority: str | None = None

    def state(self, now: datetime) -> str:
        """``on-track``, ``at-risk`` or ``breached`` at ``now``."""
        if now >= self.deadlines.due_at:
            return "breached"
        return "at-risk" if now >= self.deadlines.at_risk_at else "on-track"


class DueNotice(BaseModel):
    """A notice a run owes, due at ``at``.

    Attributes:
        at: When it falls due (it may be in the past: send it at once).
        clock: The clock it belongs to.
        key: Its key within the clock (``at-risk``, ``breached``, ``escalated:0``, ``nudge:2``...).
        kind: What kind of alert it is.
        notify: Whom to send it to (``OwnerRef`` values, resolved by the caller).
        owner: The clock's owner.
    """

    model_config = ConfigDict(frozen=True)

    at: datetime
    clock: str
    key: str
    kind: NoticeKind
    notify: list[OwnerRef]
    owner: str

    @property
    def sent_key(self) -> str:
        """The key under which the run records it as sent: never sent twice."""
        return f"{self.clock}:{self.key}"


def running_clocks(
    rules: Rules,
    *,
    stage: Stage,
    started_at: datetime,
    case_owner: str,
    item: ExceptionItem | None,
) -> list[SlaClock]:
    """The SLA clocks running in a run at ``stage``.

    Stage clocks run from the run's start until it leaves their stage; an open exception item's
    clock runs from its opening (missing input has nudges instead, see :func:`pending_notices`).

    Args:
        rules: The run's rules.
        stage: Where the run is (a terminal stage stops every clock).
        started_at: When the run started.
        case_owner: The owner of the stage clocks.
        item: The open exception item, if any.
    """
    if stage not in STAGE_ORDER or stage == Stage.LIVE:
        return []
    escalation = rules.sla.escalation
    position = STAGE_ORDER.index(stage)
    clocks = [
        SlaClock(
            name=f"stage:{name}",
            owner=case_owner,
            deadlines=deadlines(rules.calendar, started_at, rule, escalation),
            priority=rule.priority,
        )
        for name, rule in rules.sla.stages.items()
        if not (Stage(name) in STAGE_ORDER and STAGE_ORDER.index(Stage(name)) < position)
    ]
    if item is not None and item.category != Category.MISSING_DATA:
        rule = rules.exception_sla(item.category)
        clocks.append(
            SlaClock(
                name=f"exception:{item.id}",
                owner=item.owner,
                deadlines=deadlines(rules.calendar, item.opened_at, rule, escalation),
                priority=rule.priority,
            )
        )
    return clocks


#: A run waiting for missing input sends at most this many nudges before its escalation.
MAX_NUDGES = 50


def pending_notices(
    rules: Rules,
    *,
    stage: Stage,
    started_at: datetime,
    case_owner: str,
    item: ExceptionItem | None,
    sent: Collection[str],
) -> list[DueNotice]:
    """Every notice the run still owes, earliest first.

    For each running clock: at-risk and breached to its owner, then each escalation step. For an
    open item: an immediate alert when its category alerts at once; for missing input, a nudge
    to the item's owner every ``nudges.every`` until ``nudges.escalate_after``, then an
    escalation to the escalation owner.

    Args:
        rules: The run's rules.
        stage: Where the run is.
        started_at: When the run started.
        case_owner: The owner of the stage clocks.
        item: The open exception item, if any.
        sent: ``sent_key`` of every notice already sent.
    """
    owed: list[DueNotice] = []
    for clock in running_clocks(
        rules, stage=stage, started_at=started_at, case_owner=case_owner, item=item
    ):
        d = clock.deadlines
        owed.append(_notice(d.at_risk_at, clock, "at-risk", NoticeKind.AT_RISK, "owner"))
        owed.append(_notice(d.due_at, clock, "breached", NoticeKind.BREACHED, "owner"))
        for index, (when, notify) in enumerate(d.escalations):
            owed.append(_notice(when, clock, f"escalated:{index}", NoticeKind.ESCALATED, notify))
    if item is not None and stage in STAGE_ORDER and stage != Stage.LIVE:
        name = f"exception:{item.id}"

        def item_notice(at: datetime, key: str, kind: NoticeKind, notify: str) -> DueNotice:
            return DueNotice(
                at=at, clock=name, key=key, kind=kind, notify=[notify], owner=item.owner
            )

        if item.category in rules.sla.alert_at_once:
            owed.append(item_notice(item.opened_at, "alert", NoticeKind.FAILURE, "owner"))
        if item.category == Category.MISSING_DATA:
            nudges, calendar = rules.sla.nudges, rules.calendar
            escalate_at = calendar.add(item.opened_at, nudges.escalate_after)
            when, count = calendar.add(item.opened_at, nudges.every), 1
            while when < escalate_at and count <= MAX_NUDGES:
                owed.append(item_notice(when, f"nudge:{count}", NoticeKind.NUDGE, "owner"))
                when, count = calendar.add(when, nudges.every), count + 1
            owed.append(
                item_notice(escalate_at, "escalated", NoticeKind.ESCALATED, "escalation_owner")
            )
    return sorted((n for n in owed if n.sent_key not in sent), key=lambda n: (n.at, n.clock, n.key))


def _notice(at: datetime, clock: SlaClock, key: str, kind: NoticeKind, notify: str) -> DueNotice:
    return DueNotice(
        at=at, clock=clock.name, key=key, kind=kind, notify=[notify], owner=clock.owner
    )
