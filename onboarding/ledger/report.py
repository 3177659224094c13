"""The Monday report: one ISO week of onboarding, computed from ledger rows alone.

No figure comes from Temporal, so the report covers runs older than the namespace's retention.
Every figure reads the data keys documented on :class:`onboarding.domain.audit.AuditAction`.
Weeks run Monday 00:00 to Monday 00:00 UTC; "at the end of the week" means the week's end, or
now for the current week.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from onboarding.domain.audit import AuditAction
from onboarding.domain.calendar import BusinessCalendar
from onboarding.domain.errors import GATE_CATEGORIES
from onboarding.ledger.models import LedgerRun, VendorFailureRecord

if TYPE_CHECKING:
    from onboarding.ledger.store import Ledger

#: Time to first value, in business days: the target range.
FIRST_VALUE_TARGET_DAYS = (5, 10)
#: Weeks of history in the exceptions-by-category chart.
HISTORY_WEEKS = 8
#: Entries that name an owner; an empty one is an unowned step.
OWNED_ACTIONS = frozenset(
    {
        AuditAction.STAGE,
        AuditAction.CASE_OWNER_ASSIGNED,
        AuditAction.EXCEPTION_OPENED,
        AuditAction.EXCEPTION_REASSIGNED,
        AuditAction.STEP_NOT_AUTOMATED,
    }
)
#: Person actions that are the designed path, not an override.
NOT_OVERRIDES = frozenset({"sign-off"})
TERMINAL = frozenset({AuditAction.LIVE, AuditAction.CANCELLED, AuditAction.FAILED})


# ------------------------------------------------------------------ weeks


def parse_week(text: str) -> date:
    """The Monday of an ISO week written ``2026-W47``."""
    try:
        year, week = text.upper().split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ValueError(f"not an ISO week: {text!r} (write it like 2026-W47)") from None


def week_label(monday: date) -> str:
    """``2026-W47`` for the week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_of(at: datetime) -> date:
    """The Monday of the ISO week ``at`` (UTC) falls in."""
    day = at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_bounds(monday: date) -> tuple[datetime, datetime]:
    """The week's start and end, UTC."""
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


def business_days_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> int:
    """Working days elapsed from ``start`` to ``end``: each working day after the start's date,
    up to and including the end's date, in the calendar's time zone."""
    first = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    days = 0
    day = first + timedelta(days=1)
    while day <= last:
        days += calendar.is_working_day(day)
        day += timedelta(days=1)
    return days


# ------------------------------------------------------------------ the report's shape


class RunLine(BaseModel):
    """One run of the week: who, under which phase and rules, and where it stands."""

    transaction_id: str
    customer: str | None
    tier: str | None
    phase: str | None
    rules_version: str | None
    started_at: datetime
    stage: str
    outcome: str = Field(description="live, cancelled, failed, or open")
    lead_time_hours: float | None = None


class NotExpected(BaseModel):
    """An open run that is not where it should be, and why."""

    transaction_id: str
    customer: str | None
    stage: str
    owner: str | None
    since: datetime
    reason: str


class Breach(BaseModel):
    """An SLA breach notice."""

    transaction_id: str
    customer: str | None
    at: datetime
    clock: str
    stage: str
    recipients: str


class OpenItem(BaseModel):
    """An exception item open at the end of the week."""

    transaction_id: str
    exception_id: str
    customer: str | None
    category: str
    owner: str
    opened_at: datetime
    age_hours: float


class Count(BaseModel):
    """A name and how often."""

    name: str
    count: int
    runs: int | None = None


class Override(BaseModel):
    """A person's action on a run."""

    transaction_id: str
    at: datetime
    actor: str
    action: str
    reason: str


class Unowned(BaseModel):
    """An entry that should name an owner and does not."""

    transaction_id: str
    seq: int
    action: str
    stage: str


class VendorHealth(BaseModel):
    """One vendor's failures in the week."""

    system: str
    rate_limited: int = Field(description="HTTP 429 answers.")
    server_errors: int = Field(description="HTTP 5xx answers.")
    other_failures: int
    average_retry_delay_seconds: float | None


class WeekCategories(BaseModel):
    """Exception items opened in one week, by category."""

    week: str
    categories: dict[str, int]


class WeeklyReport(BaseModel):
    """Every figure of the Monday report."""

    week: str
    start: datetime
    end: datetime
    as_of: datetime
    runs_started: int
    runs_live: int
    runs_cancelled: int
    runs_open_at_end: int
    runs_by_phase: dict[str, int]
    runs: list[RunLine]
    not_in_expected_state: list[NotExpected]
    sla_breaches: list[Breach]
    sla_breaches_by_stage: dict[str, int]
    open_exceptions: list[OpenItem]
    open_exception_median_age_hours: float | None
    open_exception_oldest_age_hours: float | None
    exceptions_opened: int
    top_exception_categories: list[Count]
    top_validation_failures: list[Count]
    overrides: list[Override]
    overrides_by_action: dict[str, int]
    median_lead_time_hours: float | None
    lead_times_hours: list[float]
    completed_without_exception_share: float | None
    exceptions_per_10_onboardings: float | None
    mean_time_to_resolve_hours: float | None
    exceptions_resolved: int
    qa_first_pass_rate: float | None
    qa_runs_checked: int
    unowned_steps: list[Unowned]
    time_to_first_value_days: list[int]
    median_time_to_first_value_days: float | None
    first_value_within_target_share: float | None
    first_value_target_days: tuple[int, int] = FIRST_VALUE_TARGET_DAYS
    api_health: list[VendorHealth]
    average_retry_delay_seconds: float | None
    exceptions_by_week: list[WeekCategories]


# ------------------------------------------------------------------ reading the trail


def _at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["at"])


@dataclass
class _Trail:
    """One run's rows, read once."""

    transaction_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def started_at(self) -> datetime:
        for row in self.rows:
            if row["action"] == AuditAction.RUN_STARTED:
                return _at(row)
        return _at(self.rows[0])

    def first(self, action: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["action"] == action), None)

    def last(self, action: str) -> dict[str, Any] | None:
        return next((r for r in reversed(self.rows) if r["action"] == action), None)

    @property
    def ending(self) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["action"] in TERMINAL), None)

    @property
    def stage(self) -> str:
        return str(self.rows[-1]["stage"])

    def open_exceptions(self) -> list[dict[str, Any]]:
        opened: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            key = row["data"].get("exception_id", "")
            if row["action"] == AuditAction.EXCEPTION_OPENED:
                opened[key] = row
            elif row["action"] == AuditAction.EXCEPTION_RESOLVED:
                opened.pop(key, None)
        return list(opened.values())


def _is_exception(row: dict[str, Any]) -> bool:
    """An exception-opened row of a real exception: a planned wait for a person (a QA sign-off)
    is in the queue, not among the exceptions the report counts."""
    return row["data"].get("category", "") not in GATE_CATEGORIES


def _trails(rows: Iterable[dict[str, Any]]) -> dict[str, _Trail]:
    trails: dict[str, _Trail] = {}
    for row in rows:
        trails.setdefault(row["transaction_id"], _Trail(row["transaction_id"])).rows.append(row)
    for trail in trails.values():
        trail.rows.sort(key=lambda r: r["seq"])
    return trails


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


# ------------------------------------------------------------------ the computation


def compute_report(
    rows: Iterable[dict[str, Any]],
    *,
    week: date,
    runs: dict[str, LedgerRun] | None = None,
    vendor_failures: Iterable[VendorFailureRecord] = (),
    calendar: BusinessCalendar | None = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """The report of the week starting on Monday ``week``.

    Args:
        rows: Ledger rows (exported form) of every run the week looks at, each run from its
            first row, none after the week's end (:meth:`Ledger.rows_for_report`).
        week: The week's Monday.
        runs: The run facts the ledger keeps (customer, tier, phase), by transaction.
        vendor_failures: Vendor failures recorded in the week.
        calendar: Working days, for time to first value (default: Monday to Friday, UTC).
        now: The report's clock (default: now); caps "the end of the week".
    """
    calendar = calendar or BusinessCalendar()
    runs = runs or {}
    start, end = week_bounds(week)
    as_of = min(end, now or datetime.now(UTC))
    trails = _trails(r for r in rows if _at(r) < end)

    def in_week(row: dict[str, Any]) -> bool:
        return start <= _at(row) < end

    def customer(tx: str) -> str | None:
        facts = runs.get(tx)
        if facts and facts.customer_name:
            return facts.customer_name
        valid = trails[tx].last(AuditAction.PAYLOAD_VALID) if tx in trails else None
        return valid["data"].get("customer") if valid else None

    def week_rows(action: str) -> list[dict[str, Any]]:
        return [r for t in trails.values() for r in t.rows if r["action"] == action and in_week(r)]

    started = [t for t in trails.values() if start <= t.started_at < end]
    live = [t for t in trails.values() if (e := t.ending) and e["action"] == "live" and in_week(e)]
    cancelled = [
        t for t in trails.values() if (e := t.ending) and e["action"] == "cancelled" and in_week(e)
    ]
    open_runs = [t for t in trails.values() if t.ending is None]

    # Which phase and rules each run ran under: from its rules-loaded entry.
    lines: list[RunLine] = []
    by_phase: Counter[str] = Counter()
    for trail in sorted(started, key=lambda t: t.started_at):
        loaded = trail.first(AuditAction.RULES_LOADED)
        facts = runs.get(trail.transaction_id)
        valid = trail.last(AuditAction.PAYLOAD_VALID)
        phase = (loaded["data"].get("phase") if loaded else None) or (facts and facts.phase)
        ending = trail.ending
        lines.append(
            RunLine(
                transaction_id=trail.transaction_id,
                customer=customer(trail.transaction_id),
                tier=(facts.tier if facts and facts.tier else None)
                or (valid["data"].get("tier") if valid else None),
                phase=phase or None,
                rules_version=loaded["data"].get("version") if loaded else None,
                started_at=trail.started_at,
                stage=trail.stage,
                outcome=ending["action"] if ending else "open",
                lead_time_hours=(
                    round(_hours(_at(ending) - trail.started_at), 2)
                    if ending and ending["action"] == "live"
                    else None
                ),
            )
        )
        by_phase[phase or "unknown"] += 1

    # Runs not in their expected state: open, and parked on an exception item or past a stage's
    # SLA (a run waiting for its planned QA sign-off, within its SLA, is where it should be).
    not_expected: list[NotExpected] = []
    for trail in sorted(open_runs, key=lambda t: t.started_at):
        items = [i for i in trail.open_exceptions() if _is_exception(i)]
        stage_entry = trail.last(AuditAction.STAGE)
        owner = stage_entry["data"].get("owner") if stage_entry else None
        since = _at(stage_entry) if stage_entry else trail.started_at
        breached = [
            r
            for r in trail.rows
            if r["action"] == AuditAction.NOTICE
            and r["data"].get("kind") == "breached"
            and r["data"].get("clock") == f"stage:{trail.stage}"
        ]
        if items:
            item = items[-1]
            reason = (
                f"{item['data'].get('category')} item open since "
                f"{_at(item):%Y-%m-%d %H:%M}, owner {item['data'].get('owner')}"
            )
        elif breached:
            reason = f"SLA of stage {trail.stage} breached at {_at(breached[-1]):%Y-%m-%d %H:%M}"
        else:
            continue
        not_expected.append(
            NotExpected(
                transaction_id=trail.transaction_id,
                customer=customer(trail.transaction_id),
                stage=trail.stage,
                owner=owner,
                since=since,
                reason=reason,
            )
        )

    breaches = [
        Breach(
            transaction_id=r["transaction_id"],
            customer=customer(r["transaction_id"]),
            at=_at(r),
            clock=r["data"].get("clock", ""),
            stage=_breach_stage(r),
            recipients=r["data"].get("recipients", ""),
        )
        for r in week_rows(AuditAction.NOTICE)
        if r["data"].get("kind") == "breached"
    ]

    open_items = sorted(
        (
            OpenItem(
                transaction_id=t.transaction_id,
                exception_id=item["data"].get("exception_id", ""),
                customer=customer(t.transaction_id),
                category=item["data"].get("category", ""),
                owner=item["data"].get("owner", ""),
                opened_at=_at(item),
                age_hours=round(_hours(as_of - _at(item)), 2),
            )
            for t in open_runs
            for item in t.open_exceptions()
        ),
        key=lambda i: i.opened_at,
    )
    ages = [i.age_hours for i in open_items]

    opened = [r for r in week_rows(AuditAction.EXCEPTION_OPENED) if _is_exception(r)]
    categories = Counter(r["data"].get("category", "") for r in opened)

    field_rows: list[tuple[str, str]] = []
    for r in week_rows(AuditAction.PAYLOAD_INCOMPLETE):
        field_rows += [(r["transaction_id"], f) for f in _split(r["data"].get("fields"))]
    for r in opened:
        if r["data"].get("category") == "validation-error":
            field_rows += [(r["transaction_id"], f) for f in _split(r["data"].get("fields"))]
    field_counts = Counter(f for _, f in field_rows)
    field_runs: dict[str, set[str]] = defaultdict(set)
    for tx, f in field_rows:
        field_runs[f].add(tx)

    overrides = [
        Override(
            transaction_id=r["transaction_id"],
            at=_at(r),
            actor=r["actor"],
            action=r["data"].get("action", ""),
            reason=r["data"].get("reason", ""),
        )
        for r in week_rows(AuditAction.PERSON_ACTION)
        if r["data"].get("action") not in NOT_OVERRIDES
    ]

    lead_times = sorted(
        round(_hours(_at(t.ending) - t.started_at), 2) for t in live if t.ending is not None
    )
    touchless = [
        t
        for t in live
        if not any(r["action"] == AuditAction.EXCEPTION_OPENED and _is_exception(r) for r in t.rows)
    ]

    resolve_hours: list[float] = []
    for r in week_rows(AuditAction.EXCEPTION_RESOLVED):
        if r["data"].get("action") == "cancelled":
            continue
        trail = trails[r["transaction_id"]]
        match = next(
            (
                o
                for o in trail.rows
                if o["action"] == AuditAction.EXCEPTION_OPENED
                and o["data"].get("exception_id") == r["data"].get("exception_id")
                and o["seq"] < r["seq"]
            ),
            None,
        )
        if match is not None and _is_exception(match):
            resolve_hours.append(_hours(_at(r) - _at(match)))

    qa_runs, qa_passed = 0, 0
    for trail in trails.values():
        first_pass = [
            r
            for r in trail.rows
            if r["action"] == AuditAction.QA_CHECK and r["data"].get("pass", "1") == "1"
        ]
        if first_pass and in_week(first_pass[0]):
            qa_runs += 1
            qa_passed += all(r["data"].get("ok") == "true" for r in first_pass)

    unowned = [
        Unowned(
            transaction_id=r["transaction_id"], seq=r["seq"], action=r["action"], stage=r["stage"]
        )
        for t in trails.values()
        for r in t.rows
        if r["action"] in OWNED_ACTIONS and in_week(r) and not r["data"].get("owner", "").strip()
    ]

    first_value = sorted(
        business_days_between(t.started_at, _at(t.ending), calendar)
        for t in live
        if t.ending is not None
    )

    health = _api_health(f for f in vendor_failures if start <= f.at < end)
    delays = [
        f.retry_delay_seconds
        for f in vendor_failures
        if start <= f.at < end and f.retry_delay_seconds is not None
    ]

    history: list[WeekCategories] = []
    for back in range(HISTORY_WEEKS - 1, -1, -1):
        monday = week - timedelta(weeks=back)
        counts = Counter(
            r["data"].get("category", "")
            for t in trails.values()
            for r in t.rows
            if r["action"] == AuditAction.EXCEPTION_OPENED
            and _is_exception(r)
            and week_of(_at(r)) == monday
        )
        history.append(WeekCategories(week=week_label(monday), categories=dict(counts)))

    return WeeklyReport(
        week=week_label(week),
        start=start,
        end=end,
        as_of=as_of,
        runs_started=len(started),
        runs_live=len(live),
        runs_cancelled=len(cancelled),
        runs_open_at_end=len(open_runs),
        runs_by_phase=dict(sorted(by_phase.items())),
        runs=lines,
        not_in_expected_state=not_expected,
        sla_breaches=sorted(breaches, key=lambda b: b.at),
        sla_breaches_by_stage=dict(Counter(b.stage for b in breaches).most_common()),
        open_exceptions=open_items,
        open_exception_median_age_hours=_median(ages),
        open_exception_oldest_age_hours=max(ages) if ages else None,
        exceptions_opened=len(opened),
        top_exception_categories=[Count(name=c, count=n) for c, n in categories.most_common()],
        top_validation_failures=[
            Count(name=f, count=n, runs=len(field_runs[f])) for f, n in field_counts.most_common()
        ],
        overrides=sorted(overrides, key=lambda o: o.at),
        overrides_by_action=dict(Counter(o.action for o in overrides).most_common()),
        median_lead_time_hours=_median(lead_times),
        lead_times_hours=lead_times,
        completed_without_exception_share=_share(len(touchless), len(live)),
        exceptions_per_10_onboardings=(10 * len(opened) / len(started)) if started else None,
        mean_time_to_resolve_hours=statistics.fmean(resolve_hours) if resolve_hours else None,
        exceptions_resolved=len(resolve_hours),
        qa_first_pass_rate=_share(qa_passed, qa_runs),
        qa_runs_checked=qa_runs,
        unowned_steps=unowned,
        time_to_first_value_days=first_value,
        median_time_to_first_value_days=_median([float(d) for d in first_value]),
        first_value_within_target_share=_share(
            sum(d <= FIRST_VALUE_TARGET_DAYS[1] for d in first_value), len(first_value)
        ),
        api_health=health,
        average_retry_delay_seconds=statistics.fmean(delays) if delays else None,
        exceptions_by_week=history,
    )


def _split(value: str | None) -> list[str]:
    return [f.strip() for f in (value or "").split(",") if f.strip()]


def _breach_stage(row: dict[str, Any]) -> str:
    # A stage clock names its stage; an exception's clock runs in the stage the run parked in.
    clock = str(row["data"].get("clock", ""))
    return clock.removeprefix("stage:") if clock.startswith("stage:") else str(row["stage"])


def _api_health(failures: Iterable[VendorFailureRecord]) -> list[VendorHealth]:
    by_system: dict[str, list[VendorFailureRecord]] = defaultdict(list)
    for failure in failures:
        by_system[failure.system].append(failure)
    health = []
    for system, items in sorted(by_system.items()):
        delays = [f.retry_delay_seconds for f in items if f.retry_delay_seconds is not None]
        rate_limited = sum(f.http_status == 429 for f in items)
        server_errors = sum(f.http_status is not None and 500 <= f.http_status < 600 for f in items)
        health.append(
            VendorHealth(
                system=system,
                rate_limited=rate_limited,
                server_errors=server_errors,
                other_failures=len(items) - rate_limited - server_errors,
                average_retry_delay_seconds=statistics.fmean(delays) if delays else None,
            )
        )
    return health


def weekly_report(
    ledger: Ledger,
    week: date,
    *,
    calendar: BusinessCalendar | None = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """The report of the week starting on Monday ``week``, read from ``ledger``."""
    start, end = week_bounds(week)
    history_start, _ = week_bounds(week - timedelta(weeks=HISTORY_WEEKS - 1))
    return compute_report(
        ledger.rows_for_report(since=history_start, until=end),
        week=week,
        runs=ledger.runs(),
        vendor_failures=ledger.vendor_failures(since=start, until=end),
        calendar=calendar,
        now=now,
    )
