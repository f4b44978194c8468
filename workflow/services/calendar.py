"""Working days (hari kerja): weekends, Indonesian national holidays, the government's cuti
bersama (joint leave) and an institution's extra days off are skipped."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def national_holidays(year: int) -> frozenset[date]:
    """Public holidays and cuti bersama, from the maintained `holidays` package: its
    "government" category holds the joint leave days set each year by the SKB of the
    ministers (e.g. around Lebaran), which civil servants do not work."""
    return frozenset(
        holidays.country_holidays(
            "ID", years=year, categories=(holidays.PUBLIC, holidays.GOVERNMENT)
        ).keys()
    )


def is_working_day(day: date, extra_days_off: frozenset[date] | set[date] = frozenset()) -> bool:
    return (
        day.weekday() < 5 and day not in national_holidays(day.year) and day not in extra_days_off
    )


def add_working_days(start: date, days: int, extra_days_off=frozenset()) -> date:
    """The date `days` working days after `start` (start itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, extra_days_off):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, extra_days_off=frozenset()) -> int:
    """Working days after `start` up to and including `end` (negative when end is earlier)."""
    if end < start:
        return -working_days_between(end, start, extra_days_off)
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current, extra_days_off):
            count += 1
    return count


def local_date(moment: datetime, zone: str) -> date:
    """The calendar date of a moment (naive means UTC) in an institution's zone."""
    if moment.tzinfo is None:  # stored times are naive UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone)).date()
