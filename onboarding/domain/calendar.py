"""Business calendars: working days, working hours, holidays, and spans of time added across them.

Pure and deterministic (no clock reads, no I/O beyond loading a time zone with
``zoneinfo.ZoneInfo``), so it is safe in workflow code.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in ``date.weekday()`` order (Monday is 0)."""

_HH_MM = re.compile(r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (Saturday and Sunday do not count).

    Args:
        start: The first day; it does not count, even if it is a business day.
        days: How many business days to move forward; zero or less returns ``start``.

    Returns:
        The date reached.
    """
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


class Span(BaseModel):
    """A length of time, partly wall-clock and partly business time.

    The wall-clock part (``days``, ``hours``, ``minutes``) runs whatever the calendar says; a
    day is 24 hours of elapsed time. The business part (``business_days``,
    ``business_hours``) only runs inside a calendar's working hours; one business day is the
    length of one working day of that calendar.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)
    business_hours: int = Field(default=0, ge=0)
    business_days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Span:
        if not any((self.minutes, self.hours, self.days, self.business_hours, self.business_days)):
            raise ValueError("a span needs at least one non-zero part")
        return self

    @property
    def wall(self) -> timedelta:
        """The wall-clock part of the span."""
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    def describe(self) -> str:
        """A human-readable form, e.g. ``"1 business day"`` or ``"2 days 3 hours"``.

        Returns:
            The non-zero parts, largest first, separated by spaces.
        """
        parts = [
            _plural(self.days, "day") if self.days else "",
            _plural(self.business_days, "business day") if self.business_days else "",
            _plural(self.hours, "hour") if self.hours else "",
            _plural(self.business_hours, "business hour") if self.business_hours else "",
            _plural(self.minutes, "minute") if self.minutes else "",
        ]
        return " ".join(part for part in parts if part)


def _monday_to_friday() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


def _minutes_of(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


class BusinessCalendar(BaseModel):
    """When work happens: a time zone, working weekdays, working hours and holidays.

    Working hours are local wall-clock times in ``timezone``; ``"24:00"`` is accepted as an
    end time (midnight at the end of the day), so ``("00:00", "24:00")`` is a round-the-clock
    calendar.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    work_days: list[Weekday] = Field(default_factory=_monday_to_friday, min_length=1)
    work_hours: tuple[str, str] = ("09:00", "17:00")
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("work_hours")
    @classmethod
    def _valid_hours(cls, value: tuple[str, str]) -> tuple[str, str]:
        for hh_mm in value:
            if not _HH_MM.match(hh_mm):
                raise ValueError(f"work hours must be 'HH:MM' (00:00 to 24:00), got {hh_mm!r}")
        start, end = value
        if _minutes_of(start) >= _minutes_of(end):
            raise ValueError(f"work hours must start before they end, got {start}-{end}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    def workday_length(self) -> timedelta:
        """The length of one working day (the working hours), i.e. one business day.

        Returns:
            The time between the opening and the closing time.
        """
        start, end = self.work_hours
        return timedelta(minutes=_minutes_of(end) - _minutes_of(start))

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a work day and not a holiday.

        Args:
            day: A date in the calendar's time zone.

        Returns:
            True when work happens on that day.
        """
        return WEEKDAYS[day.weekday()] in self.work_days and day not in self.holidays

    def _hours_on(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing time of ``day`` as naive local wall-clock datetimes."""
        midnight = datetime.combine(day, time())
        start, end = self.work_hours
        return (
            midnight + timedelta(minutes=_minutes_of(start)),
            midnight + timedelta(minutes=_minutes_of(end)),
        )

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` falls inside working hours (opening included, closing excluded).

        Args:
            at: A timezone-aware instant.

        Returns:
            True when ``at`` is on a working day, inside the working hours, in local time.

        Raises:
            ValueError: When ``at`` is naive.
        """
        _require_aware(at, "at")
        local = at.astimezone(self.zone).replace(tzinfo=None)
        if not self.is_working_day(local.date()):
            return False
        opens, closes = self._hours_on(local.date())
        return opens <= local < closes

    def add(self, start: datetime, span: Span) -> datetime:
        """The instant ``span`` after ``start``.

        The wall-clock part is added first, as elapsed time. The business part is then
        consumed only inside working hours (counted in local wall-clock time); if it starts
        outside working hours it starts at the next opening. A result that falls exactly on a
        closing time stays there.

        Args:
            start: A timezone-aware instant.
            span: What to add.

        Returns:
            A timezone-aware datetime in UTC.

        Raises:
            ValueError: When ``start`` is naive.
        """
        _require_aware(start, "start")
        after_wall = start.astimezone(UTC) + span.wall
        business = self.workday_length() * span.business_days + timedelta(hours=span.business_hours)
        if not business:
            return after_wall

        zone = self.zone
        cursor = after_wall.astimezone(zone).replace(tzinfo=None)
        remaining = business
        day = cursor.date()
        while True:
            if self.is_working_day(day):
                opens, closes = self._hours_on(day)
                cursor = max(cursor, opens)
                if cursor < closes:
                    available = closes - cursor
                    if remaining <= available:
                        return _to_utc(cursor + remaining, zone, not_before=after_wall)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time())


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _to_utc(local: datetime, zone: ZoneInfo, *, not_before: datetime) -> datetime:
    """A naive local wall time as a UTC instant.

    A wall time repeated by a DST fall-back resolves to its first occurrence unless that would
    be earlier than ``not_before``; a wall time skipped by a spring-forward resolves as
    ``zoneinfo`` does (with the offset in force before the change).
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first >= not_before:
        return first
    return local.replace(tzinfo=zone, fold=1).astimezone(UTC)
