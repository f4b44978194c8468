"""Follow-up deadlines in `flask aksi remind`: due soon and overdue to whoever's turn it is
(the alumnus, then the confirmer), the escalation to the cohort's organizers."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from tests.factories import World
from tests.test_followup import graduate, report_data
from tests.test_reminders import at, english, remind, reminder_rows
from workflow.extensions import db
from workflow.models import Reminder
from workflow.services import followup as fu
from workflow.services import perform


@pytest.fixture
def remind_app(app, smtp_server):
    app.config.update(
        smtp_server.config(),
        BASE_URL="https://aksi.example.test",
        MAIL_SEND_IMMEDIATELY=False,
        REMIND_DAYS_BEFORE=2,
        REMIND_HOUR=7,
    )
    return app


# The 12-month round opened on 22 June 2027; the alumnus's 20 working days end on 20 July.
DUE = date(2027, 7, 20)


def _world() -> World:
    world = World(version=None)
    graduate(world)
    english(world.trainee, world.mentor, world.organizer)
    return world


def test_the_alumnus_is_reminded_then_escalated_to_the_organizers(remind_app, smtp_server):
    world = _world()
    case_id = world.case.id
    with time_machine.travel(at("2027-07-16", 9), tick=False):
        assert fu.follow_up_of(world.case).round(12).due == DUE
    subject = f"followup:{case_id}:12"

    outcome = remind(at("2027-07-17", 9))  # Saturday: two working days before
    assert outcome.queued == 1
    assert reminder_rows() == [(world.trainee.id, subject, "due_soon", "trainee", DUE)]
    (mail,) = smtp_server.messages
    body = mail.get_content()
    assert "Follow-up report due: 12 months after graduation" in body

    remind(at("2027-07-21", 9))  # the day after: late, escalated to the organizer only
    rows = reminder_rows()
    assert (world.trainee.id, subject, "overdue", "trainee", DUE) in rows
    assert (world.organizer.id, subject, "overdue", "organizer", DUE) in rows
    assert not [r for r in rows if r[0] == world.mentor.id]
    organizer_mail = next(m for m in smtp_server.messages if m["To"] == world.organizer.email)
    assert "Escalation" in organizer_mail.get_content()


def test_once_reported_it_is_the_confirmers_turn(remind_app, smtp_server):
    world = _world()
    medium, long = world.case.milestones[1], world.case.milestones[2]
    with time_machine.travel(at("2027-07-15", 9), tick=False):
        perform(world.case, "report_follow_up", world.trainee, data=report_data(medium, long))
    confirm_by = db.session.scalar(select(Reminder.id))  # none queued yet
    assert confirm_by is None
    remind(at("2027-07-28", 9))  # the mentor's deadline is 29 July
    rows = reminder_rows()
    assert [(r[0], r[2], r[3]) for r in rows] == [(world.mentor.id, "due_soon", "mentor")]
    mail = next(m for m in smtp_server.messages if m["To"] == world.mentor.email)
    assert "Follow-up report to confirm: 12 months after graduation" in mail.get_content()


def test_a_reminder_whose_round_moved_on_is_dropped(remind_app, smtp_server):
    world = _world()
    medium, long = world.case.milestones[1], world.case.milestones[2]
    remind_app.config["REMIND_HOUR"] = 23  # queue now, send later
    remind(at("2027-07-17", 9))
    assert len(reminder_rows()) == 1 and not smtp_server.messages
    with time_machine.travel(at("2027-07-17", 10), tick=False):
        perform(world.case, "report_follow_up", world.trainee, data=report_data(medium, long))
    outcome = remind(at("2027-07-17", 23, 30))
    assert outcome.digests.dropped == 1
    assert not [m for m in smtp_server.messages if m["To"] == world.trainee.email]


def test_a_case_long_past_its_last_horizon_is_not_read(remind_app):
    world = _world()
    with time_machine.travel(at("2031-01-05", 9), tick=False):
        from workflow.services import reminders

        assert world.case.id not in {d.case_id for d in reminders.plan()}
