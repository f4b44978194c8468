"""Remind (organizer, coach) goes through perform(): audited per case, heard by whoever
must act now, at most once a day; and every state change leaves a StateVisit behind."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.factories import to_implementation
from workflow.extensions import db
from workflow.models import AuditEvent, Notification, StateVisit
from workflow.services import Blocked, Forbidden, NotAvailable, perform

WITA = ZoneInfo("Asia/Makassar")


def written() -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(AuditEvent.id))),
        db.session.scalar(select(func.count(Notification.id))),
    )


def notified(event) -> set[int]:
    return set(
        db.session.scalars(select(Notification.user_id).where(Notification.event_id == event.id))
    )


@pytest.mark.parametrize("role", ["organizer", "coach"])
def test_a_reminder_reaches_whoever_must_act(world, role):
    # Draft: the trainee's turn.
    event = perform(world.case, "remind", world.by_role(role), comment="Mohon segera dikirim.")
    assert (event.trigger, event.from_state, event.to_state) == ("remind", "draft", "draft")
    assert event.data == {"reminded": ["trainee"], "due_date": "2026-03-02"}
    assert event.comment == "Mohon segera dikirim."
    assert notified(event) == {world.trainee.id}


def test_in_mentor_review_the_mentor_is_reminded(world):
    perform(world.case, "submit", world.trainee)
    event = perform(world.case, "remind", world.organizer)
    assert notified(event) == {world.mentor.id}


@pytest.mark.parametrize("role", ["trainee", "mentor", "executive", "examiner", "stranger"])
def test_others_may_not_remind(world, role):
    before = written()
    with pytest.raises(Forbidden):
        perform(world.case, "remind", world.by_role(role))
    assert written() == before


def test_one_reminder_a_day(world):
    with time_machine.travel(datetime(2026, 2, 20, 9, tzinfo=WITA), tick=False):
        perform(world.case, "remind", world.organizer)
        before = written()
        with pytest.raises(Blocked) as info:
            perform(world.case, "remind", world.coach)
        assert str(info.value.reasons[0]) in (
            "This case was already reminded today.",
            "Pengingat untuk aksi perubahan ini sudah dikirim hari ini.",
        )
        assert written() == before
    with time_machine.travel(datetime(2026, 2, 21, 9, tzinfo=WITA), tick=False):
        perform(world.case, "remind", world.coach)


def test_no_reminder_on_a_finished_case(world):
    perform(world.case, "withdraw", world.trainee, comment="Mutasi jabatan.")
    before = written()
    with pytest.raises(NotAvailable):
        perform(world.case, "remind", world.organizer)
    assert written() == before


def test_leaving_a_state_records_its_working_days(world):
    # The case was created on Friday 20 Feb (WITA); submitted on Wednesday 25 Feb: 3 working
    # days; approved the next Monday (2 March): 3 more (Thu, Fri, Mon).
    with time_machine.travel(datetime(2026, 2, 20, 9, tzinfo=WITA), tick=False):
        world.case.state_entered_at = datetime(2026, 2, 20, 1)
        db.session.commit()
    with time_machine.travel(datetime(2026, 2, 25, 9, tzinfo=WITA), tick=False):
        perform(world.case, "submit", world.trainee)
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=WITA), tick=False):
        perform(world.case, "approve", world.mentor)
    visits = db.session.scalars(select(StateVisit).order_by(StateVisit.id)).all()
    assert [(v.state, v.working_days, v.cohort_id) for v in visits] == [
        ("draft", 3, world.cohort.id),
        ("mentor_review", 3, world.cohort.id),
    ]
    assert visits[1].entered_at == visits[0].left_at


def test_activities_and_refusals_leave_no_visit(world):
    perform(world.case, "remind", world.organizer)
    with pytest.raises(NotAvailable):
        perform(world.case, "approve", world.mentor)
    title, world.case.title = world.case.title, ""
    db.session.commit()
    with pytest.raises(Blocked):
        perform(world.case, "submit", world.trainee)
    assert db.session.scalar(select(func.count(StateVisit.id))) == 0
    world.case.title = title
    db.session.commit()
    to_implementation(world)
    assert db.session.scalar(select(func.count(StateVisit.id))) == 3


def test_the_reminder_reads_as_one_in_the_inbox(world):
    from workflow.services import notifications

    event = perform(world.case, "remind", world.organizer, comment="Mohon segera dikirim.")
    note_id = db.session.scalar(
        select(Notification.id).where(
            Notification.event_id == event.id, Notification.user_id == world.trainee.id
        )
    )
    item = notifications.item(world.trainee.id, note_id)
    words = item.text("en")
    assert words["summary"] == (
        f"Reminder from {world.organizer.name}: “{world.case.title}” is waiting for you."
    )
    assert words["comment"] == "Mohon segera dikirim."
