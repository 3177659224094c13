"""Business calendars: spans added across working hours, weekends, holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from onboarding.domain.calendar import BusinessCalendar, Span, add_business_days

UTC_CAL = BusinessCalendar()
LONDON = ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2024-06-07 is a Friday.
FRI = (2024, 6, 7)
MON = (2024, 6, 10)


def test_add_business_days_is_unchanged() -> None:
    assert add_business_days(date(2024, 6, 7), 1) == date(2024, 6, 10)
    assert add_business_days(date(2024, 6, 5), 2) == date(2024, 6, 7)
    assert add_business_days(date(2024, 6, 8), 1) == date(2024, 6, 10)
    assert add_business_days(date(2024, 6, 7), 0) == date(2024, 6, 7)
    assert add_business_days(date(2024, 6, 3), 10) == date(2024, 6, 17)


@pytest.mark.parametrize(
    ("start", "span", "expected"),
    [
        (utc(*FRI, 16), Span(business_days=1), utc(*MON, 16)),
        (utc(*FRI, 16), Span(business_hours=2), utc(*MON, 10)),
        (utc(2024, 6, 8, 12), Span(business_hours=1), utc(*MON, 10)),  # Saturday
        (utc(2024, 6, 5, 10), Span(hours=4), utc(2024, 6, 5, 14)),  # Wednesday, wall clock
        (utc(*FRI, 18), Span(minutes=30), utc(*FRI, 18, 30)),  # wall clock ignores hours
        (utc(*FRI, 16), Span(business_hours=1), utc(*FRI, 17)),  # ends at closing: stays
        (utc(*FRI, 17), Span(business_hours=1), utc(*MON, 10)),  # at closing: next opening
        (utc(*MON, 7), Span(business_days=1), utc(*MON, 17)),  # before opening
        (utc(*MON, 9), Span(business_days=5), utc(2024, 6, 14, 17)),
        (utc(*FRI, 16), Span(days=1, business_hours=1), utc(*MON, 10)),  # wall part first
        (utc(*FRI, 20), Span(hours=1, business_hours=1), utc(*MON, 10)),
        (utc(*FRI, 16), Span(business_days=1, business_hours=2), utc(2024, 6, 11, 10)),
    ],
)
def test_add_utc_calendar(start: datetime, span: Span, expected: datetime) -> None:
    result = UTC_CAL.add(start, span)
    assert result == expected
    assert result.tzinfo is UTC


def test_holiday_is_skipped() -> None:
    calendar = BusinessCalendar(holidays=[date(2024, 6, 7)])  # the Friday
    assert calendar.add(utc(2024, 6, 6, 16), Span(business_days=1)) == utc(*MON, 16)
    assert not calendar.is_working_time(utc(*FRI, 10))


def test_custom_work_days_and_hours() -> None:
    calendar = BusinessCalendar(work_days=["sat"], work_hours=("10:00", "12:00"))
    assert calendar.workday_length() == timedelta(hours=2)
    # Friday 16:00 -> Saturday 10:00 + 2h = 12:00; then a week to the next Saturday.
    assert calendar.add(utc(*FRI, 16), Span(business_days=1)) == utc(2024, 6, 8, 12)
    assert calendar.add(utc(*FRI, 16), Span(business_days=1, business_hours=1)) == utc(
        2024, 6, 15, 11
    )


def test_round_the_clock_calendar() -> None:
    calendar = BusinessCalendar(
        work_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], work_hours=("00:00", "24:00")
    )
    assert calendar.workday_length() == timedelta(hours=24)
    assert calendar.add(utc(*FRI, 23), Span(business_hours=2)) == utc(2024, 6, 8, 1)
    assert calendar.is_working_time(utc(*FRI, 23, 59))


def test_start_in_another_timezone_and_naive_refused() -> None:
    start = datetime(2024, 6, 7, 18, tzinfo=ZoneInfo("Europe/Paris"))  # 16:00 UTC
    assert UTC_CAL.add(start, Span(business_hours=2)) == utc(*MON, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        UTC_CAL.add(datetime(2024, 6, 7, 16), Span(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        UTC_CAL.is_working_time(datetime(2024, 6, 7, 16))


def test_is_working_time_bounds() -> None:
    assert UTC_CAL.is_working_time(utc(*FRI, 9))
    assert UTC_CAL.is_working_time(utc(*FRI, 16, 59))
    assert not UTC_CAL.is_working_time(utc(*FRI, 17))
    assert not UTC_CAL.is_working_time(utc(*FRI, 8, 59))
    assert not UTC_CAL.is_working_time(utc(2024, 6, 8, 12))


# Europe/London: BST (UTC+1) ends on Sunday 2024-10-27 at 02:00 local (01:00 UTC).
LONDON_CAL = BusinessCalendar(timezone="Europe/London")


def test_london_across_october_dst_change() -> None:
    friday_4pm = datetime(2024, 10, 25, 16, tzinfo=LONDON)  # 15:00 UTC
    assert friday_4pm.astimezone(UTC) == utc(2024, 10, 25, 15)
    # One hour on Friday, then Monday 09:00 GMT (= 09:00 UTC) onwards.
    assert LONDON_CAL.add(friday_4pm, Span(business_hours=2)) == utc(2024, 10, 28, 10)
    assert LONDON_CAL.add(friday_4pm, Span(business_days=1)) == utc(2024, 10, 28, 16)
    # Working hours are local: 08:30 UTC is 09:30 BST in summer, 08:30 GMT in winter.
    assert LONDON_CAL.is_working_time(utc(2024, 10, 25, 8, 30))
    assert not LONDON_CAL.is_working_time(utc(2024, 10, 28, 8, 30))
    # A wall-clock span is elapsed time: 24 hours across the change.
    assert LONDON_CAL.add(friday_4pm, Span(days=2)) == utc(2024, 10, 27, 15)


def test_london_across_march_dst_change() -> None:
    # BST starts on Sunday 2024-03-31 at 01:00 GMT; Friday 16:00 GMT is 16:00 UTC.
    friday_4pm = datetime(2024, 3, 29, 16, tzinfo=LONDON)
    assert LONDON_CAL.add(friday_4pm, Span(business_hours=2)) == utc(2024, 4, 1, 9)  # 10 BST


def test_round_the_clock_london_in_the_repeated_hour_never_goes_back() -> None:
    calendar = BusinessCalendar(
        timezone="Europe/London",
        work_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        work_hours=("00:00", "24:00"),
    )
    second_0130 = datetime(2024, 10, 27, 1, 30, tzinfo=LONDON, fold=1)  # 01:30 UTC
    assert second_0130.astimezone(UTC) == utc(2024, 10, 27, 1, 30)
    result = calendar.add(second_0130, Span(business_hours=1))
    assert result == utc(2024, 10, 27, 2, 30)


def test_many_business_days_terminates_quickly() -> None:
    calendar = BusinessCalendar(work_days=["wed"], holidays=[date(2024, 6, 12)])
    result = calendar.add(utc(2024, 6, 10), Span(business_days=260))
    assert result.weekday() == 2
    assert result.year == 2029


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (Span(business_days=1), "1 business day"),
        (Span(hours=4), "4 hours"),
        (Span(minutes=30), "30 minutes"),
        (Span(days=2, hours=3), "2 days 3 hours"),
        (Span(business_hours=1), "1 business hour"),
        (
            Span(business_days=2, business_hours=3, minutes=1),
            "2 business days 3 business hours 1 minute",
        ),
    ],
)
def test_span_describe(span: Span, text: str) -> None:
    assert span.describe() == text


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"hours": 0, "minutes": 0},
        {"hours": -1, "days": 2},
        {"weeks": 1},
    ],
)
def test_span_validation(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Span(**kwargs)  # type: ignore[arg-type]


def test_span_is_frozen() -> None:
    span = Span(hours=1)
    with pytest.raises(ValidationError):
        span.hours = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown IANA time zone"),
        ({"timezone": "../etc"}, "unknown IANA time zone"),
        ({"work_hours": ("9:00", "17:00")}, "HH:MM"),
        ({"work_hours": ("09:00", "25:00")}, "HH:MM"),
        ({"work_hours": ("09:60", "17:00")}, "HH:MM"),
        ({"work_hours": ("17:00", "09:00")}, "start before"),
        ({"work_hours": ("09:00", "09:00")}, "start before"),
        ({"work_days": []}, "at least 1"),
        ({"work_days": ["monday"]}, "mon"),
        ({"weekends": True}, "Extra inputs"),
    ],
)
def test_calendar_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_calendar_from_config_values() -> None:
    calendar = BusinessCalendar.model_validate(
        {
            "timezone": "America/New_York",
            "work_days": ["mon", "tue"],
            "work_hours": ["08:30", "12:00"],
            "holidays": ["2024-07-04"],
        }
    )
    assert calendar.work_hours == ("08:30", "12:00")
    assert calendar.holidays == [date(2024, 7, 4)]
    assert calendar.workday_length() == timedelta(hours=3, minutes=30)
