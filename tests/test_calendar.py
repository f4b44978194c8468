"""Working days (hari kerja) and local dates in WIB / WITA / WIT."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow.extensions import db
from workflow.models import Institution, InstitutionHoliday
from workflow.services.calendar import (
    add_working_days,
    is_working_day,
    local_date,
    working_days_between,
)
from workflow.services.workflow import definition_of, due_date_for


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 8, 14), True),  # Friday
        (date(2026, 8, 15), False),  # Saturday
        (date(2026, 8, 16), False),  # Sunday
        (date(2026, 8, 17), False),  # Monday, Independence Day
        (date(2026, 8, 18), True),
        (date(2026, 12, 25), False),  # Friday, Christmas
        (date(2026, 3, 19), False),  # Thursday, Nyepi
        (date(2026, 1, 1), False),  # New Year
        (date(2026, 3, 18), False),  # Wednesday, cuti bersama before Nyepi
        (date(2026, 3, 17), True),
        # Lebaran 2026: Idul Fitri on 21-22 March (a weekend), cuti bersama on 20, 23, 24.
        (date(2026, 3, 20), False),
        (date(2026, 3, 23), False),
        (date(2026, 3, 24), False),
        (date(2026, 3, 25), True),
    ],
)
def test_is_working_day(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "extra", "expected"),
    [
        (date(2026, 3, 6), 3, set(), date(2026, 3, 11)),  # Fri + 3 across a weekend
        (date(2026, 3, 5), 3, set(), date(2026, 3, 10)),  # Thu + 3: Fri, Mon, Tue
        (date(2026, 3, 6), 3, {date(2026, 3, 10)}, date(2026, 3, 12)),  # institution day off
        (date(2026, 3, 7), 1, set(), date(2026, 3, 9)),  # from a Saturday
        (date(2026, 8, 14), 1, set(), date(2026, 8, 18)),  # over 17 August
        (date(2026, 8, 13), 3, set(), date(2026, 8, 19)),  # Fri 14, (17 off), 18, 19
        (date(2026, 12, 24), 1, set(), date(2026, 12, 28)),  # over Christmas and a weekend
        (date(2026, 12, 31), 1, set(), date(2027, 1, 4)),  # over New Year into the next year
        # Nyepi (19), cuti bersama (20, 23, 24), the Idul Fitri weekend: 25, 26, 27.
        (date(2026, 3, 18), 3, set(), date(2026, 3, 27)),
        (date(2026, 3, 6), 0, set(), date(2026, 3, 6)),
    ],
)
def test_add_working_days(start, days, extra, expected):
    assert add_working_days(start, days, frozenset(extra)) == expected


def test_working_days_between():
    assert working_days_between(date(2026, 8, 14), date(2026, 8, 21)) == 4
    assert working_days_between(date(2026, 8, 21), date(2026, 8, 14)) == -4
    assert working_days_between(date(2026, 8, 14), date(2026, 8, 14)) == 0
    assert working_days_between(date(2026, 8, 14), date(2026, 8, 21), {date(2026, 8, 20)}) == 3
    # The inverse of add_working_days.
    start = date(2026, 3, 6)
    for n in range(0, 30):
        assert working_days_between(start, add_working_days(start, n)) == n


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (datetime(2026, 3, 1, 16, 59, 59), "Asia/Jakarta", date(2026, 3, 1)),  # 23:59:59 WIB
        (datetime(2026, 3, 1, 17, 0, 0), "Asia/Jakarta", date(2026, 3, 2)),  # 00:00 WIB
        (datetime(2026, 3, 1, 15, 59, 59), "Asia/Makassar", date(2026, 3, 1)),  # 23:59 WITA
        (datetime(2026, 3, 1, 16, 0, 0), "Asia/Makassar", date(2026, 3, 2)),  # 00:00 WITA
        (datetime(2026, 3, 1, 14, 59, 59), "Asia/Jayapura", date(2026, 3, 1)),  # 23:59 WIT
        (datetime(2026, 3, 1, 15, 0, 0), "Asia/Jayapura", date(2026, 3, 2)),  # 00:00 WIT
        (datetime(2026, 3, 1, 23, 30), "Asia/Jakarta", date(2026, 3, 2)),
        (datetime(2026, 3, 1, 0, 30), "Asia/Jayapura", date(2026, 3, 1)),
        (datetime(2026, 12, 31, 17, 0), "Asia/Jakarta", date(2027, 1, 1)),
    ],
)
def test_local_date_around_midnight(moment, zone, expected):
    assert local_date(moment, zone) == expected


def test_local_date_of_an_aware_moment():
    wib = ZoneInfo("Asia/Jakarta")
    # 23:30 WIB on 1 March is 00:30 WITA and 01:30 WIT on 2 March.
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=wib)
    assert local_date(moment, "Asia/Jakarta") == date(2026, 3, 1)
    assert local_date(moment, "Asia/Makassar") == date(2026, 3, 2)
    assert local_date(moment, "Asia/Jayapura") == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("zone", "label"),
    [("Asia/Jakarta", "WIB"), ("Asia/Makassar", "WITA"), ("Asia/Jayapura", "WIT")],
)
def test_zone_labels(zone, label):
    assert Institution(code="x", name="x", timezone=zone).zone_label == label


# --- due dates through the service, with the institution's days off from the database ---


def test_due_date_for_a_three_working_day_sla(world):
    definition = definition_of(world.case)
    # Thu 5 March 2026, 10:00 UTC (18:00 WITA): Fri 6, Mon 9, Tue 10.
    entered = datetime(2026, 3, 5, 10, 0)
    assert due_date_for(world.case, definition, "mentor_review", entered) == date(2026, 3, 10)
    # 5 working days for a revision: Fri 6, Mon 9 .. Thu 12.
    assert due_date_for(world.case, definition, "revision_requested", entered) == date(2026, 3, 12)


def test_due_date_counts_from_the_local_date(world):
    definition = definition_of(world.case)
    # Fri 6 March 16:30 UTC is already Saturday in WITA: Mon 9, Tue 10, Wed 11.
    entered = datetime(2026, 3, 6, 16, 30)
    assert due_date_for(world.case, definition, "mentor_review", entered) == date(2026, 3, 11)
    world.cohort.program.institution.timezone = "Asia/Jakarta"  # still Friday 23:30 in WIB
    db.session.commit()
    assert due_date_for(world.case, definition, "mentor_review", entered) == date(2026, 3, 11)
    entered = datetime(2026, 3, 6, 16, 0)  # Fri 23:00 WIB: Mon 9, Tue 10, Wed 11 too
    assert due_date_for(world.case, definition, "mentor_review", entered) == date(2026, 3, 11)


def test_due_date_skips_extra_days_off_of_this_institution_only(world):
    from tests.factories import World

    other = World()
    definition = definition_of(world.case)
    db.session.add(
        InstitutionHoliday(
            institution=world.cohort.program.institution, day=date(2026, 3, 9), name="Cuti"
        )
    )
    db.session.commit()
    entered = datetime(2026, 3, 5, 10, 0)
    assert due_date_for(world.case, definition, "mentor_review", entered) == date(2026, 3, 11)
    assert due_date_for(other.case, definition, "mentor_review", entered) == date(2026, 3, 10)


def test_until_and_no_sla(world):
    definition = definition_of(world.case)
    entered = datetime(2026, 3, 5, 10, 0)
    assert due_date_for(world.case, definition, "draft", entered) == date(2026, 3, 2)
    assert due_date_for(world.case, definition, "implementation", entered) == date(2026, 6, 5)
    assert due_date_for(world.case, definition, "deferred", entered) is None
    assert due_date_for(world.case, definition, "completed", entered) is None


def test_lebaran_2026_cuti_bersama_moves_a_due_date(world):
    """Submitted on Tuesday 17 March 2026, the mentor's three working days skip the cuti
    bersama (18, 20, 23, 24), Nyepi (19) and the Idul Fitri weekend: due Friday 27 March."""
    from workflow.models._base import clock_at
    from workflow.services import perform

    assert add_working_days(date(2026, 3, 17), 3) == date(2026, 3, 27)
    assert working_days_between(date(2026, 3, 17), date(2026, 3, 27)) == 3
    with clock_at(datetime(2026, 3, 17, 2, 0)):  # 10:00 WITA
        perform(world.case, "submit", world.trainee)
    assert world.case.state == "mentor_review"
    assert world.case.due_date == date(2026, 3, 27)
