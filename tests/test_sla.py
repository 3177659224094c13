"""SLA deadlines and the order of their notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from onboarding.domain.calendar import BusinessCalendar, Span
from onboarding.domain.sla import (
    Deadlines,
    EscalationStep,
    Notice,
    SlaRule,
    deadlines,
    next_notice,
    notice_keys,
)

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


def test_next_notice_order_and_skipping() -> None:
    d = _sample()
    now = utc(2030, 1, 1)  # notices are returned whether or not they are already due
    expected = [
        (d.at_risk_at, "at-risk", Notice.AT_RISK, "owner"),
        (d.due_at, "breached", Notice.BREACHED, "owner"),
        (d.due_at, "escalated:0", Notice.ESCALATED, "escalation_owner"),
        (utc(2024, 6, 12, 16), "escalated:1", Notice.ESCALATED, "boss@example.com"),
    ]
    sent: set[str] = set()
    for item in expected:
        notice = next_notice(d, now, sent)
        assert notice == item
        assert notice is not None
        sent.add(notice[1])
    assert next_notice(d, now, sent) is None
    assert sent == set(notice_keys(d))


def test_next_notice_skips_sent_keys_out_of_order() -> None:
    d = _sample()
    now = FRI_4PM
    notice = next_notice(d, now, {"at-risk", "escalated:0"})
    assert notice is not None and notice[1] == "breached"
    notice = next_notice(d, now, {"at-risk", "breached", "escalated:0"})
    assert notice is not None and notice[1:] == (
        "escalated:1",
        Notice.ESCALATED,
        "boss@example.com",
    )
    assert next_notice(d, now, {"breached", "escalated:0", "escalated:1"}) == (
        d.at_risk_at,
        "at-risk",
        Notice.AT_RISK,
        "owner",
    )
    assert str(Notice.ESCALATED) == "escalated"


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
