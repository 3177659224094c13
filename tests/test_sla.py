"""SLA deadlines and the order of their notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from onboarding.data import BUNDLED_RULES
from onboarding.domain.calendar import BusinessCalendar, Span
from onboarding.domain.errors import Category
from onboarding.domain.notices import NoticeKind, pending_notices, running_clocks
from onboarding.domain.rules import Rules, load_rules
from onboarding.domain.run import ExceptionItem
from onboarding.domain.sla import Deadlines, EscalationStep, SlaRule, deadlines
from onboarding.domain.stages import Stage

CAL = BusinessCalendar()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


FRI_4PM = utc(2024, 6, 7, 16)
MON_4PM = utc(2024, 6, 10, 16)


def test_kickoff_p2_one_business_day() -> None:
    rule = SlaRule(within=Span(business_days=1), priority="P2")
    d = deadlines(
        CAL,
        FRI_4PM,
        rule,
        [
            EscalationStep(notify="escalation_owner"),
            EscalationStep(after=Span(business_hours=4), notify="process_owner"),
        ],
    )
    assert d.started_at == FRI_4PM
    assert d.due_at == MON_4PM
    # 75 % of the 72 wall-clock hours between start and due.
    assert d.at_risk_at == FRI_4PM + timedelta(hours=54)
    assert d.escalations == [
        (MON_4PM, "escalation_owner"),
        (utc(2024, 6, 11, 12), "process_owner"),
    ]


def test_provisioning_p1_thirty_minutes_wall_clock() -> None:
    rule = SlaRule(within=Span(minutes=30), at_risk=0.5, priority="P1")
    start = utc(2024, 6, 8, 23, 50)  # Saturday night: wall clock ignores the calendar
    d = deadlines(CAL, start, rule, [])
    assert d.due_at == utc(2024, 6, 9, 0, 20)
    assert d.at_risk_at == utc(2024, 6, 9, 0, 5)
    assert d.escalations == []


def test_escalations_are_sorted_by_time_stably() -> None:
    rule = SlaRule(within=Span(hours=48))
    d = deadlines(
        CAL,
        FRI_4PM,
        rule,
        [
            EscalationStep(after=Span(hours=72), notify="head@example.com"),
            EscalationStep(notify="escalation_owner"),
            EscalationStep(after=Span(hours=24), notify="process_owner"),
            EscalationStep(after=None, notify="system_owner"),
        ],
    )
    due = FRI_4PM + timedelta(hours=48)
    assert d.due_at == due
    assert d.escalations == [
        (due, "escalation_owner"),
        (due, "system_owner"),
        (due + timedelta(hours=24), "process_owner"),
        (due + timedelta(hours=72), "head@example.com"),
    ]


def test_deadlines_are_utc_for_a_local_start() -> None:
    london = BusinessCalendar(timezone="Europe/London")
    start = datetime.fromisoformat("2024-10-25T16:00:00+01:00")
    d = deadlines(london, start, SlaRule(within=Span(business_hours=2)), [])
    assert d.started_at == utc(2024, 10, 25, 15)
    assert d.started_at.tzinfo is UTC
    assert d.due_at == utc(2024, 10, 28, 10)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines(CAL, datetime(2024, 6, 7, 16), SlaRule(within=Span(hours=4)), [])


def _sample() -> Deadlines:
    return deadlines(
        CAL,
        FRI_4PM,
        SlaRule(within=Span(business_days=1)),
        [
            EscalationStep(notify="escalation_owner"),
            EscalationStep(after=Span(business_days=2), notify="boss@example.com"),
        ],
    )


def _rules() -> Rules:
    rules = load_rules(BUNDLED_RULES).rules
    return rules.model_copy(update={"calendar": BusinessCalendar(holidays=[])})


def _item(category: Category, opened_at: datetime, owner: str = "ops@example.com") -> ExceptionItem:
    return ExceptionItem(
        id="t-1/1",
        transaction_id="t-1",
        idempotency_key="t-1:step",
        customer_name="Acme",
        customer_domain="acme.example",
        category=category,
        system="hubspot",
        step="resolve_crm_identity",
        message="boom",
        owner=owner,
        safe_actions=["retry"],
        opened_at=opened_at,
    )


def test_a_new_run_owes_each_stage_notice_in_time_order() -> None:
    rules = _rules()
    owed = pending_notices(
        rules,
        stage=Stage.VALIDATING,
        started_at=FRI_4PM,
        case_owner="cs@example.com",
        item=None,
        sent=[],
    )
    provisioning = [n for n in owed if n.clock == "stage:provisioning"]
    assert [n.key for n in provisioning][:3] == ["at-risk", "breached", "escalated:0"]
    assert [n.kind for n in provisioning][:2] == [NoticeKind.AT_RISK, NoticeKind.BREACHED]
    assert provisioning[0].at == FRI_4PM + timedelta(minutes=22, seconds=30)
    assert provisioning[1].at == FRI_4PM + timedelta(minutes=30)
    assert provisioning[2].notify == ["escalation_owner"]
    assert all(n.owner == "cs@example.com" for n in owed)
    assert [n.at for n in owed] == sorted(n.at for n in owed)
    sent = [n.sent_key for n in owed[:2]]
    again = pending_notices(
        rules,
        stage=Stage.VALIDATING,
        started_at=FRI_4PM,
        case_owner="cs@example.com",
        item=None,
        sent=sent,
    )
    assert again == owed[2:]


def test_leaving_a_stage_stops_its_clock_and_the_end_stops_all() -> None:
    rules = _rules()
    kickoff = pending_notices(
        rules,
        stage=Stage.KICKOFF,
        started_at=FRI_4PM,
        case_owner="cs@example.com",
        item=None,
        sent=[],
    )
    clocks = {n.clock for n in kickoff}
    assert "stage:kickoff" in clocks and "stage:provisioning" not in clocks
    for stage in (Stage.LIVE, Stage.CANCELLED):
        assert (
            pending_notices(
                rules,
                stage=stage,
                started_at=FRI_4PM,
                case_owner="x@example.com",
                item=None,
                sent=[],
            )
            == []
        )


def test_missing_input_is_nudged_then_escalated_and_has_no_clock_of_its_own() -> None:
    rules = _rules()
    item = _item(Category.MISSING_DATA, FRI_4PM, owner="rep@example.com")
    owed = pending_notices(
        rules,
        stage=Stage.AWAITING_DATA,
        started_at=FRI_4PM,
        case_owner="cs@example.com",
        item=item,
        sent=[],
    )
    mine = [n for n in owed if n.clock == "exception:t-1/1"]
    assert [n.key for n in mine] == ["nudge:1", "escalated"]
    assert mine[0].kind == NoticeKind.NUDGE and mine[0].owner == "rep@example.com"
    assert mine[1].notify == ["escalation_owner"]
    assert not [
        c
        for c in running_clocks(
            rules,
            stage=Stage.AWAITING_DATA,
            started_at=FRI_4PM,
            case_owner="cs@example.com",
            item=item,
        )
        if c.name.startswith("exception:")
    ]


def test_a_credential_failure_alerts_at_once_and_runs_its_own_clock() -> None:
    rules = _rules()
    opened = FRI_4PM + timedelta(minutes=5)
    item = _item(Category.AUTH_ERROR, opened, owner="it@example.com")
    owed = pending_notices(
        rules,
        stage=Stage.MATCHING,
        started_at=FRI_4PM,
        case_owner="cs@example.com",
        item=item,
        sent=[],
    )
    mine = [n for n in owed if n.clock == "exception:t-1/1"]
    assert mine[0].key == "alert" and mine[0].kind == NoticeKind.FAILURE and mine[0].at == opened
    breach = next(n for n in mine if n.key == "breached")
    assert breach.at == opened + timedelta(hours=4) and breach.owner == "it@example.com"
    clock = next(
        c
        for c in running_clocks(
            rules, stage=Stage.MATCHING, started_at=FRI_4PM, case_owner="cs@example.com", item=item
        )
        if c.name == "exception:t-1/1"
    )
    assert clock.state(opened) == "on-track"
    assert clock.state(opened + timedelta(hours=3, minutes=30)) == "at-risk"
    assert clock.state(opened + timedelta(hours=4)) == "breached"


@pytest.mark.parametrize("at_risk", [0, 1, -0.1, 1.5])
def test_at_risk_out_of_range(at_risk: float) -> None:
    with pytest.raises(ValidationError, match="at_risk"):
        SlaRule(within=Span(hours=1), at_risk=at_risk)


@pytest.mark.parametrize("notify", ["", "ownr", "@example.com", "bob@", "bob smith@example.com"])
def test_bad_notify_is_refused(notify: str) -> None:
    with pytest.raises(ValidationError, match="notify"):
        EscalationStep(notify=notify)


def test_models_are_strict_and_frozen() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        SlaRule(within=Span(hours=1), severity="high")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SlaRule(within=Span())
    rule = SlaRule(within=Span(hours=1))
    with pytest.raises(ValidationError):
        rule.at_risk = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="sorted"):
        Deadlines(
            started_at=FRI_4PM,
            at_risk_at=FRI_4PM,
            due_at=MON_4PM,
            escalations=[(MON_4PM, "owner"), (FRI_4PM, "owner")],
        )


def test_rule_from_config_values() -> None:
    rule = SlaRule.model_validate({"within": {"business_days": 1}, "priority": "P2"})
    assert rule.within.describe() == "1 business day"
    assert rule.at_risk == 0.75
