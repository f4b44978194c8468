"""`flask aksi remind` through time (time-machine), with a real SMTP server counting the mails:
a reminder N working days before a deadline, escalations once it has passed, one digest per
person per day, never the same reminder twice."""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import event, func, select

from tests import factories
from tests.factories import to_implementation
from tests.smtp import SmtpServer, free_port
from tests.test_http_home import counting_statements
from workflow import config as app_config
from workflow.extensions import db
from workflow.models import (
    Case,
    CohortMember,
    Institution,
    InstitutionHoliday,
    Milestone,
    Notification,
    Reminder,
)
from workflow.services import notifications, perform, reminders, start_case

WITA = ZoneInfo("Asia/Makassar")  # the world's institution
WIT = ZoneInfo("Asia/Jayapura")  # an hour ahead of WITA
REPORT = {"status": "reported", "achieved_quantity": "1", "narrative": "Pedoman selesai."}


def at(day: str, hour: int = 7, minute: int = 0, zone: ZoneInfo = WITA) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=zone)


def remind(moment: datetime) -> reminders.RunOutcome:
    with time_machine.travel(moment, tick=False):
        return reminders.run()


@pytest.fixture
def remind_app(app, smtp_server):
    # Only the digests go through SMTP here: the action mails stay queued.
    app.config.update(
        smtp_server.config(),
        BASE_URL="https://aksi.example.test",
        MAIL_SEND_IMMEDIATELY=False,
        REMIND_DAYS_BEFORE=2,
        REMIND_HOUR=7,
    )
    return app


def english(*users) -> None:
    for user in users:
        user.locale = "en"
    db.session.commit()


def reminder_rows() -> list[tuple]:
    return sorted(
        db.session.execute(
            select(
                Reminder.user_id, Reminder.subject, Reminder.kind, Reminder.role, Reminder.due_date
            )
        ).all()
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def second_case(world, title: str = "Digitalisasi Arsip Desa") -> Case:
    """Another trainee's case in the same cohort, with the same mentor."""
    trainee = factories.create_user(name="Siti Rahma")
    case = start_case(
        world.cohort, trainee, group=world.group, mentor=world.mentor, executive=world.executive
    )
    factories.fill_proposal(case)
    case.title = title
    db.session.commit()
    return case


# ---------------------------------------------------------------- before a deadline


def test_due_soon_reminds_the_owner_once_per_deadline(remind_app, smtp_server, world):
    """Draft due Monday 2 March (the cohort's proposal deadline); N = 2 working days."""
    english(world.trainee)
    steps = [
        (at("2026-02-25", 8), 0, 0),  # Wednesday: 3 working days left
        (at("2026-02-26", 6, 59), 1, 0),  # Thursday, queued but before 07:00 local
        (at("2026-02-26", 7), 0, 1),  # 07:00: the digest goes
        (at("2026-02-26", 7), 0, 0),  # the same minute again
        (at("2026-02-26", 16, 30), 0, 0),  # later that day
        (at("2026-02-27", 7), 0, 0),  # Friday: the same deadline
        (at("2026-03-02", 7), 0, 0),  # Monday, due today
    ]
    for moment, queued, sent in steps:
        outcome = remind(moment)
        assert (outcome.queued, outcome.digests.sent) == (queued, sent), moment
    (mail,) = smtp_server.messages
    assert mail["To"] == world.trainee.email
    assert mail["Subject"] == "[Aksi] Deadline reminder (1)"
    body = mail.get_content()
    assert world.case.title in body
    assert "Status: Drafting the proposal" in body
    assert "Due: March 2, 2026 (in 2 working days)" in body
    assert f"https://aksi.example.test/cases/{world.case.id}" in body
    assert "Trainee:" not in body  # it is their own case
    assert "Escalation" not in body
    assert reminder_rows() == [
        (world.trainee.id, f"case:{world.case.id}", "due_soon", "trainee", date(2026, 3, 2))
    ]
    reminder = db.session.scalar(select(Reminder))
    assert reminder.digest_day == date(2026, 2, 26) and reminder.sent_at is not None


def test_the_digest_is_in_the_inbox_too_and_not_mailed_again(remind_app, smtp_server, world):
    english(world.trainee)
    remind(at("2026-02-26"))
    note = db.session.scalar(select(Notification).where(Notification.kind == "reminder"))
    assert note.user_id == world.trainee.id and note.case_id == world.case.id
    assert note.emailed_at is not None  # the digest was the mail: send-mail skips it
    assert note.message == "Deadline reminder (1)"
    item = notifications.item(world.trainee.id, note.id)
    assert item.text("en")["summary"] == "Deadline reminder (1)"
    from workflow.services.mail import deliver_pending

    assert deliver_pending().sent == 0
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("due", "day_off", "day_before", "first_day"),
    [
        # Due Monday: Friday and Monday are the 2 working days left, so Thursday.
        ("2026-03-02", None, "2026-02-25", "2026-02-26"),
        # The institution's own day off on that Friday: Wednesday.
        ("2026-03-02", "2026-02-27", "2026-02-24", "2026-02-25"),
        # Due Wednesday 25 March: Nyepi (19) and Lebaran's cuti bersama (18, 20, 23, 24)
        # leave only Tuesday 17 and the 25th, so from Monday 16.
        ("2026-03-25", None, "2026-03-15", "2026-03-16"),
    ],
)
def test_the_first_reminder_day_counts_working_days(
    remind_app, world, due, day_off, day_before, first_day
):
    world.case.due_date = date.fromisoformat(due)
    if day_off:
        institution = world.cohort.program.institution
        db.session.add(InstitutionHoliday(institution=institution, day=date.fromisoformat(day_off)))
    db.session.commit()
    with time_machine.travel(at(day_before, 23, 59), tick=False):
        assert reminders.collect() == 0
    # Just after midnight local time (16:01 UTC the day before).
    with time_machine.travel(at(first_day, 0, 1), tick=False):
        assert reminders.collect() == 1
    assert reminder_rows() == [
        (world.trainee.id, f"case:{world.case.id}", "due_soon", "trainee", date.fromisoformat(due))
    ]


def test_a_missed_day_still_reminds_once(remind_app, smtp_server, world):
    """cron did not run on Thursday: Friday reminds (1 working day left), and only once."""
    english(world.trainee)
    assert remind(at("2026-02-27")).digests.sent == 1
    assert "in 1 working day)" in smtp_server.messages[0].get_content()
    assert remind(at("2026-03-02")).queued == 0
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("moment", "who"),
    [
        (at("2026-03-03", 5, 59), []),  # 06:59 WIT, 05:59 WITA
        (at("2026-03-03", 6, 0), ["organizer"]),  # 07:00 WIT: the organizer in Jayapura
        (at("2026-03-03", 7, 0), ["mentor", "organizer", "trainee"]),  # 07:00 WITA: the rest
    ],
)
def test_not_before_remind_hour_where_the_person_works(remind_app, smtp_server, world, moment, who):
    jayapura = Institution(code="bpsdm-papua", name="BPSDM Papua", timezone="Asia/Jayapura")
    world.organizer.institution = jayapura
    db.session.commit()
    if moment.hour >= 6:
        remind(at("2026-03-03", 5, 59))  # queued earlier, mailed from the hour on
    remind(moment)
    mailed = sorted(
        role
        for role in ("trainee", "mentor", "organizer")
        if smtp_server.to(world.by_role(role).email)
    )
    assert mailed == who


def test_remind_hour_is_configurable(remind_app, smtp_server, world):
    remind_app.config["REMIND_HOUR"] = 9
    assert remind(at("2026-02-26", 8, 59)).digests.sent == 0
    assert remind(at("2026-02-26", 9, 0)).digests.sent == 1


# ---------------------------------------------------------------- after a deadline


def test_overdue_escalates_in_one_digest_per_person(remind_app, smtp_server, world):
    """Two cases of one mentor, both past the proposal deadline (Monday 2 March)."""
    other = second_case(world)
    english(world.mentor, world.organizer, world.trainee)
    outcome = remind(at("2026-03-03"))
    assert outcome.queued == 6  # 2 trainees + mentor and organizer for each case
    assert outcome.digests.sent == 4 and outcome.digests.items == 6
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [world.trainee.email, other.trainee.email, world.mentor.email, world.organizer.email]
    )
    for role in ("mentor", "organizer"):
        (mail,) = smtp_server.to(world.by_role(role).email)
        assert mail["Subject"] == "[Aksi] Deadline reminder (2) — Escalation"
        body = mail.get_content()
        assert world.case.title in body and other.title in body
        assert f"Trainee: {world.trainee.name}" in body and "Trainee: Siti Rahma" in body
        assert body.count("Due: March 2, 2026 (1 working day late)") == 2
        assert body.count("Escalation: the deadline has passed and Trainee has not acted yet.") == 2
        assert body.count("https://aksi.example.test/cases/") == 2
    (own,) = smtp_server.to(world.trainee.email)
    assert own["Subject"] == "[Aksi] Deadline reminder (1)"  # their own task, late
    assert "1 working day late" in own.get_content() and "Escalation" not in own.get_content()
    for role in ("coach", "examiner", "executive"):
        assert smtp_server.to(world.by_role(role).email) == []
    # Again that day and the next: the same deadline, nothing new.
    assert remind(at("2026-03-03", 15)).queued == 0
    assert remind(at("2026-03-04")).queued == 0
    assert len(smtp_server.messages) == 4
    mentor_rows = [r for r in reminder_rows() if r[0] == world.mentor.id]
    assert mentor_rows == sorted(
        [
            (world.mentor.id, f"case:{world.case.id}", "overdue", "mentor", date(2026, 3, 2)),
            (world.mentor.id, f"case:{other.id}", "overdue", "mentor", date(2026, 3, 2)),
        ]
    )


def test_extending_the_deadline_is_a_new_deadline(remind_app, smtp_server, world):
    english(world.trainee, world.mentor, world.organizer)
    assert remind(at("2026-03-03")).digests.sent == 3  # trainee, mentor, organizer
    with time_machine.travel(at("2026-03-03", 10), tick=False):
        perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment="Sakit, surat dokter terlampir.",
            data={"due_date": "2026-03-09"},
        )
    assert world.case.due_date == date(2026, 3, 9)
    assert remind(at("2026-03-03", 10, 5)).queued == 0  # 4 working days left
    assert remind(at("2026-03-04")).queued == 0  # 3 left
    outcome = remind(at("2026-03-05"))  # Thursday: 2 left
    assert (outcome.queued, outcome.digests.sent) == (1, 1)
    assert smtp_server.messages[-1]["To"] == world.trainee.email
    assert "Due: March 9, 2026 (in 2 working days)" in smtp_server.messages[-1].get_content()
    outcome = remind(at("2026-03-10"))  # the new deadline passed: escalated again
    assert (outcome.queued, outcome.digests.sent) == (3, 3)
    assert len(smtp_server.messages) == 7


def test_a_reminder_whose_deadline_moved_on_is_dropped(remind_app, smtp_server, world):
    """Queued at night, the case submitted before 07:00: the trainee is not reminded."""
    assert remind(at("2026-02-26", 0, 30)).queued == 1
    with time_machine.travel(at("2026-02-26", 6), tick=False):
        perform(world.case, "submit", world.trainee)
    outcome = remind(at("2026-02-26"))
    assert (outcome.queued, outcome.digests.sent, outcome.digests.dropped) == (0, 0, 1)
    assert smtp_server.messages == []
    reminder = db.session.scalar(select(Reminder))
    assert reminder.sent_at is not None and reminder.digest_day is None


def test_an_inactive_persons_reminders_are_dropped(remind_app, smtp_server, world):
    world.mentor.active = False
    db.session.commit()
    outcome = remind(at("2026-03-03"))
    assert outcome.digests.sent == 2 and outcome.digests.dropped == 1
    assert smtp_server.to(world.mentor.email) == []


def test_one_digest_a_day_later_items_wait_for_tomorrow(remind_app, smtp_server, world):
    """The mentor had today's digest; a case submitted to them later waits for tomorrow's."""
    remind_app.config["REMIND_DAYS_BEFORE"] = 3
    second_case(world)
    english(world.mentor)
    assert remind(at("2026-03-03")).digests.sent == 4
    with time_machine.travel(at("2026-03-03", 9), tick=False):
        perform(world.case, "submit", world.trainee)  # mentor_review, due Friday 6 March
    outcome = remind(at("2026-03-03", 9, 5))
    assert (outcome.queued, outcome.digests.sent) == (1, 0)
    assert remind(at("2026-03-03", 18)).digests.sent == 0
    outcome = remind(at("2026-03-04"))
    assert outcome.digests.sent == 1
    mails = smtp_server.to(world.mentor.email)
    assert len(mails) == 2
    body = mails[-1].get_content()
    assert "Status: Awaiting mentor approval" in body and "in 2 working days" in body
    assert mails[-1]["Subject"] == "[Aksi] Deadline reminder (1)"


@pytest.mark.parametrize(
    ("state", "owners"),
    [
        ("draft", ["trainee"]),
        ("mentor_review", ["mentor"]),
        ("revision_requested", ["trainee"]),
        ("endorsement_pending", ["executive"]),
        ("implementation", ["trainee"]),
        ("evaluation", ["coach", "examiner", "mentor"]),
        ("deferred", ["organizer"]),  # no SLA, but the organizer may set a due date
    ],
)
def test_who_is_reminded_and_who_hears_it_is_late(remind_app, world, state, owners):
    """Due Friday 5 June: the owners on Wednesday 3rd; on Monday 8th the owners, the mentor
    and the organizers (one reminder each, the own task's role first)."""
    world.case.state, world.case.due_date = state, date(2026, 6, 5)
    db.session.commit()
    subject = f"case:{world.case.id}"

    def told(moment) -> list[tuple[str, str]]:
        with time_machine.travel(moment, tick=False):
            reminders.collect()
        roles = {world.by_role(r).id: r for r in reversed(reminders.ROLE_LABELS)}
        return sorted(
            (roles[uid], role)
            for uid, subj, kind, role, _due in reminder_rows()
            if subj == subject and kind == ("due_soon" if moment.day == 3 else "overdue")
        )

    assert told(at("2026-06-02")) == []
    assert told(at("2026-06-03")) == sorted((r, r) for r in owners)
    late = {r: r for r in owners}
    for role in ("mentor", "organizer"):
        late.setdefault(role, role)
    assert told(at("2026-06-08")) == sorted(late.items())


# ---------------------------------------------------------------- milestones


@pytest.fixture
def started(world):
    with time_machine.travel(at("2026-03-10", 9), tick=False):
        to_implementation(world)
    return world


def test_milestone_target_date_reminds_the_trainee(remind_app, smtp_server, started):
    """Target Wednesday 1 April: Monday 30 March is 2 working days before."""
    english(started.trainee)
    assert remind(at("2026-03-27")).queued == 0
    outcome = remind(at("2026-03-30"))
    assert (outcome.queued, outcome.digests.sent) == (1, 1)
    (mail,) = smtp_server.messages
    assert mail["To"] == started.trainee.email
    body = mail.get_content()
    assert "Milestone to report on: Menyusun pedoman" in body
    assert "Due: April 1, 2026 (in 2 working days)" in body
    m = started.case.milestones[0]
    assert reminder_rows() == [
        (started.trainee.id, f"milestone:{m.id}", "due_soon", "trainee", date(2026, 4, 1))
    ]
    # Past the target date: the trainee is late, the mentor and the organizer hear of it.
    outcome = remind(at("2026-04-02"))
    assert outcome.digests.sent == 3
    # The organizer reads Indonesian (the default).
    assert "Eskalasi" in smtp_server.to(started.organizer.email)[0]["Subject"]


def test_an_unverified_report_escalates_to_the_organizer_only(remind_app, smtp_server, started):
    """Reported Wednesday 15 April: the mentor verifies by Monday 20 April (3 working days)."""
    english(started.mentor, started.organizer)
    m = started.case.milestones[0]
    with time_machine.travel(at("2026-04-15", 11), tick=False):
        perform(
            started.case, "report_progress", started.trainee, data={"milestone_id": m.id, **REPORT}
        )
    assert m.due_date == date(2026, 4, 20)
    outcome = remind(at("2026-04-16"))
    assert (outcome.queued, outcome.digests.sent) == (1, 1)
    (soon,) = smtp_server.to(started.mentor.email)
    assert "Milestone report to verify: Menyusun pedoman" in soon.get_content()
    assert "Due: April 20, 2026 (in 2 working days)" in soon.get_content()
    outcome = remind(at("2026-04-21"))
    assert (outcome.queued, outcome.digests.sent) == (2, 2)
    late = smtp_server.to(started.mentor.email)[-1]
    assert "1 working day late" in late.get_content() and "Escalation" not in late.get_content()
    (escalation,) = smtp_server.to(started.organizer.email)
    assert "Escalation: the deadline has passed and Mentor has not acted yet." in (
        escalation.get_content()
    )
    assert smtp_server.to(started.trainee.email) == []  # not theirs to act on
    assert [r[2:4] for r in reminder_rows() if r[1] == f"milestone:{m.id}"] == [
        ("due_soon", "mentor"),
        ("overdue", "mentor"),
        ("overdue", "organizer"),
    ]


def test_a_returned_milestone_reminds_the_trainee_to_fix_it(remind_app, smtp_server, started):
    english(started.trainee)
    m = started.case.milestones[0]
    with time_machine.travel(at("2026-04-15", 11), tick=False):
        perform(
            started.case, "report_progress", started.trainee, data={"milestone_id": m.id, **REPORT}
        )
    with time_machine.travel(at("2026-04-16", 10), tick=False):
        perform(
            started.case,
            "return_milestone",
            started.mentor,
            comment="Lampirkan SK.",
            data={"milestone_id": m.id},
        )
    assert m.due_date == date(2026, 4, 23)  # 5 working days after Thursday 16 April
    assert remind(at("2026-04-20")).queued == 0
    assert remind(at("2026-04-21")).digests.sent == 1
    body = smtp_server.to(started.trainee.email)[0].get_content()
    assert "Milestone returned for correction: Menyusun pedoman" in body
    assert "Due: April 23, 2026 (in 2 working days)" in body


def test_closed_milestones_and_finished_cases_are_not_reminded(remind_app, smtp_server, started):
    m = started.case.milestones[0]
    with time_machine.travel(at("2026-04-15", 11), tick=False):
        perform(
            started.case, "report_progress", started.trainee, data={"milestone_id": m.id, **REPORT}
        )
        perform(started.case, "verify_milestone", started.mentor, data={"milestone_id": m.id})
        perform(started.case, "withdraw", started.trainee, comment="Mutasi jabatan.")
    assert remind(at("2026-07-01")).queued == 0
    assert smtp_server.messages == []


# ---------------------------------------------------------------- in the person's language


def test_the_digest_is_in_the_persons_language(remind_app, smtp_server, world):
    """Indonesian by default: the labels of the definition and the catalogue's words."""
    second_case(world)
    remind(at("2026-03-03"))
    (mail,) = smtp_server.to(world.mentor.email)
    assert mail["Content-Language"] == "id"
    body = mail.get_content()
    with force_locale("id"):
        expected = [
            _("Hello %(name)s,", name=world.mentor.name),
            _("These deadlines need your attention:"),
            _("Status: %(state)s", state="Penyusunan rancangan"),
            "2 Maret 2026 ("
            + ngettext("%(num)d working day late", "%(num)d working days late", 1)
            + ")",
            _("Escalation: the deadline has passed and %(who)s has not acted yet.", who="Peserta"),
        ]
        subject = "[Aksi] " + _("Deadline reminder (%(n)d)", n=2) + " — " + _("Escalation")
    for text in expected:
        assert text in body
    assert "Yth." in body  # the catalogue's greeting
    assert mail["Subject"] == subject


# ---------------------------------------------------------------- delivery problems


def test_a_permanent_refusal_is_not_retried(remind_app, smtp_server, world):
    smtp_server.handler.refuse.add(world.trainee.email)
    outcome = remind(at("2026-02-26"))
    assert (outcome.digests.sent, outcome.digests.refused, outcome.digests.failed) == (0, 1, 0)
    assert smtp_server.messages == []
    assert db.session.scalar(select(Reminder.sent_at)) is not None
    # The inbox still has it; the next run does not try again.
    assert count(Notification) == 1
    assert remind(at("2026-02-26", 8)).digests.refused == 0


def test_server_down_the_digest_stays_pending(remind_app, world, caplog):
    remind_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    with caplog.at_level(logging.WARNING, logger="aksi.mail"):
        outcome = remind(at("2026-02-26"))
    assert (outcome.queued, outcome.digests.failed, outcome.digests.sent) == (1, 1, 0)
    assert "stay pending" in caplog.text
    reminder = db.session.scalar(select(Reminder))
    assert (reminder.sent_at, reminder.digest_day) == (None, None)
    assert count(Notification) == 0
    server = SmtpServer()
    server.start()
    try:
        remind_app.config.update(server.config())
        outcome = remind(at("2026-02-26", 7, 5))  # the same day: no digest went out yet
        assert (outcome.queued, outcome.digests.sent) == (0, 1)
        assert [m["To"] for m in server.messages] == [world.trainee.email]
    finally:
        server.stop()


def test_a_deferred_recipient_gets_it_on_a_later_run(remind_app, smtp_server, world):
    second_case(world)
    smtp_server.handler.defer.add(world.mentor.email)
    outcome = remind(at("2026-03-03"))
    assert (outcome.digests.sent, outcome.digests.failed) == (3, 1)
    smtp_server.handler.defer.clear()
    assert remind(at("2026-03-03", 7, 1)).digests.sent == 1
    assert len(smtp_server.to(world.mentor.email)) == 1
    assert remind(at("2026-03-03", 7, 2)).digests.sent == 0


def test_without_mail_server_the_digest_is_logged(app, world, caplog):
    assert app.config["MAIL_SERVER"] == ""
    with caplog.at_level(logging.INFO, logger="aksi.mail"):
        outcome = remind(at("2026-02-26"))
    assert (outcome.digests.logged, outcome.digests.sent) == (1, 0)
    logged = [r.getMessage() for r in caplog.records if r.name == "aksi.mail"]
    assert len(logged) == 1 and f"To: {world.trainee.email}" in logged[0]
    assert db.session.scalar(select(Reminder.digest_day)) == date(2026, 2, 26)


def test_someone_without_an_address_has_it_in_the_inbox(remind_app, smtp_server, world):
    world.trainee.email = None
    db.session.commit()
    outcome = remind(at("2026-02-26"))
    assert (outcome.digests.in_app, outcome.digests.sent) == (1, 0)
    assert smtp_server.messages == []
    assert db.session.scalar(select(Notification.user_id)) == world.trainee.id


# ---------------------------------------------------------------- scale and concurrency


def add_cases(world, n: int) -> None:
    """n drafts past their deadline and n cases in implementation with two milestones due
    soon, all of world.mentor."""
    for i in range(n):
        for implementing in (False, True):
            case = second_case(world, title=f"Aksi {i} {implementing}")
            if implementing:
                case.state, case.due_date = "implementation", date(2026, 6, 5)
                for position, target in enumerate((date(2026, 3, 4), date(2026, 3, 5))):
                    case.milestones.append(
                        Milestone(
                            position=position, activity=f"Tahap {position}", target_date=target
                        )
                    )
    db.session.commit()


def test_queries_do_not_grow_with_cases(remind_app, smtp_server, world):
    db.session.add(
        InstitutionHoliday(institution=world.cohort.program.institution, day=date(2026, 3, 6))
    )
    add_cases(world, 1)
    with time_machine.travel(at("2026-03-03"), tick=False):
        with counting_statements() as few_collect:
            small = reminders.collect()
        with counting_statements() as few_send:
            reminders.send_digests()
    # A second cohort, many more cases and people: the same statements.
    bigger = factories.World()
    add_cases(bigger, 10)
    with time_machine.travel(at("2026-03-03", 8), tick=False):
        with counting_statements() as many_collect:
            large = reminders.collect()
        with counting_statements() as many_send:
            outcome = reminders.send_digests()
    assert large > 5 * small
    assert outcome.items == large
    assert len(many_collect) == len(few_collect), many_collect
    assert len(many_send) == len(few_send), "\n".join(s[:150] for s in many_send)
    assert len(few_collect) <= 10 and len(few_send) <= 10


def test_batches_cover_every_case(remind_app, world):
    add_cases(world, 3)  # 7 cases: 4 batches of 2
    with time_machine.travel(at("2026-03-03"), tick=False):
        queued = reminders.collect(batch_size=2)
    in_batches = reminder_rows()
    db.session.execute(Reminder.__table__.delete())
    db.session.commit()
    with time_machine.travel(at("2026-03-03"), tick=False):
        assert reminders.collect(batch_size=500) == queued == len(in_batches)
    assert reminder_rows() == in_batches


def test_two_runs_at_once_send_each_person_one_digest(remind_app, smtp_server, world):
    """Both runs read before either writes (forced): the unique key and the claim decide."""
    second_case(world)
    app = remind_app
    gates = {
        "SELECT reminders.user_id, reminders.subject": threading.Barrier(2, timeout=20),
        "FROM reminders JOIN users": threading.Barrier(2, timeout=20),
    }
    results: list = [None, None]
    met: list[tuple[str, str]] = []

    def after(conn, cursor, statement, parameters, context, executemany):
        # Each run waits for the other after its first read of each kind.
        me = threading.current_thread().name
        for marker, gate in gates.items():
            if marker in statement and me.startswith("remind") and (me, marker) not in met:
                met.append((me, marker))
                gate.wait()

    def run(i: int) -> None:
        with app.app_context():
            try:
                results[i] = reminders.run()
            except Exception as exc:  # the test looks at what each run got
                results[i] = exc
            finally:
                db.session.remove()

    event.listen(db.engine, "after_cursor_execute", after)
    try:
        with time_machine.travel(at("2026-03-03"), tick=False):
            threads = [
                threading.Thread(target=run, args=(i,), name=f"remind-{i}") for i in range(2)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    finally:
        event.remove(db.engine, "after_cursor_execute", after)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(met) == 4  # both runs read before either wrote, twice
    assert sum(r.queued for r in results) == 6
    assert sum(r.digests.sent for r in results) == 4
    assert count(Reminder) == 6
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        {m["To"] for m in smtp_server.messages}
    )
    assert len(smtp_server.messages) == 4


def test_holders_agree_with_the_notifications(remind_app, world):
    """The batch loader's holders() is notifications.holders() without the queries."""
    db.session.add(CohortMember(cohort=world.cohort, user=world.stranger, role="coach"))
    db.session.commit()
    context = reminders._Context(datetime(2026, 3, 3), 2)
    context.load([world.case])
    for role in ("trainee", "mentor", "executive", "coach", "examiner", "organizer"):
        assert context.holders(world.case, role) == notifications.holders(world.case, role), role


# ---------------------------------------------------------------- the command


def test_remind_command(remind_app, smtp_server, world, runner):
    with time_machine.travel(at("2026-02-26"), tick=False):
        result = runner.invoke(args=["aksi", "remind"])
        assert result.exit_code == 0, result.output
        assert "reminders queued 1, digests sent 1" in result.output
        again = runner.invoke(args=["aksi", "remind"])
    assert again.exit_code == 0 and "reminders queued 0, digests sent 0" in again.output
    assert len(smtp_server.messages) == 1


def test_remind_dry_run_writes_nothing(remind_app, smtp_server, world, runner):
    with time_machine.travel(at("2026-03-03"), tick=False):
        result = runner.invoke(args=["aksi", "remind", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"overdue  case:{world.case.id}" in result.output
    assert f"to {world.organizer.username} (organizer)" in result.output
    assert "3 reminder(s) would be queued" in result.output
    assert (count(Reminder), count(Notification), smtp_server.messages) == (0, 0, [])


def test_remind_command_fails_when_the_server_is_down(remind_app, world, runner):
    remind_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    with time_machine.travel(at("2026-02-26"), tick=False):
        result = runner.invoke(args=["aksi", "remind"])
    assert result.exit_code == 1
    assert "still pending after failure 1" in result.output


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        (["--batch-size", "0"], {}, "Invalid value for '--batch-size'"),
        (["--batch-size", "many"], {}, "Invalid value for '--batch-size'"),
        (["--now"], {}, "No such option '--now'"),
        ([], {"REMIND_DAYS_BEFORE": -1}, "REMIND_DAYS_BEFORE must be a whole number from 0 to 60"),
        ([], {"REMIND_DAYS_BEFORE": "2"}, "REMIND_DAYS_BEFORE must be a whole number"),
        ([], {"REMIND_HOUR": 24}, "REMIND_HOUR must be a whole number from 0 to 23"),
    ],
)
def test_remind_command_refuses_bad_options(remind_app, world, runner, args, settings, message):
    remind_app.config.update(settings)
    with time_machine.travel(at("2026-03-03"), tick=False):
        result = runner.invoke(args=["aksi", "remind", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert (count(Reminder), count(Notification)) == (0, 0)


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AKSI_REMIND_DAYS_BEFORE", "3")
    monkeypatch.setenv("AKSI_REMIND_HOUR", "6")
    loaded = app_config.load(str(tmp_path))
    assert (loaded["REMIND_DAYS_BEFORE"], loaded["REMIND_HOUR"]) == (3, 6)
    monkeypatch.delenv("AKSI_REMIND_DAYS_BEFORE")
    assert app_config.load(str(tmp_path))["REMIND_DAYS_BEFORE"] == 2
    monkeypatch.setenv("AKSI_REMIND_HOUR", "seven")
    with pytest.raises(ValueError, match="AKSI_REMIND_HOUR must be a whole number, not 'seven'"):
        app_config.load(str(tmp_path))
