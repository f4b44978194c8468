"""Notification mail through a real local SMTP server (aiosmtpd): who gets mail, once,
in their language; failures never fail the action and leave the mail pending."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from tests.smtp import free_port
from workflow.extensions import db
from workflow.models import AuditEvent, Notification
from workflow.services import Blocked, Forbidden, perform
from workflow.services.mail import deliver_pending

ENDORSEMENT = {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}


@pytest.fixture
def mail_app(app, smtp_server):
    app.config.update(smtp_server.config(), BASE_URL="https://aksi.example.test")
    return app


def pending() -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.emailed_at.is_(None))
    )


def to_endorsement(world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)


def test_submit_mails_mentor_and_coach_once_each_not_the_trainee(mail_app, smtp_server, world):
    perform(world.case, "submit", world.trainee)
    assert len(smtp_server.to(world.mentor.email)) == 1
    assert len(smtp_server.to(world.coach.email)) == 1
    assert smtp_server.to(world.trainee.email) == []
    assert len(smtp_server.messages) == 2
    # Each mail goes to its one recipient (envelope too), never a shared To/Cc list.
    assert sorted(rcpts[0] for _f, rcpts in smtp_server.handler.envelopes) == sorted(
        [world.mentor.email, world.coach.email]
    )
    assert pending() == 0


def test_endorse_mails_trainee_mentor_and_coach(mail_app, smtp_server, world):
    to_endorsement(world)
    before = len(smtp_server.messages)
    perform(world.case, "endorse", world.executive, data=ENDORSEMENT)
    new = smtp_server.messages[before:]
    assert sorted(m["To"] for m in new) == sorted(
        [world.trainee.email, world.mentor.email, world.coach.email]
    )
    assert smtp_server.to(world.executive.email) != []  # from approve, not from endorse
    assert all(m["To"] != world.executive.email for m in new)


def test_delivering_again_sends_nothing_twice(mail_app, smtp_server, world):
    mail_app.config["MAIL_SEND_IMMEDIATELY"] = False
    perform(world.case, "submit", world.trainee)
    assert smtp_server.messages == [] and pending() == 2
    first = deliver_pending()
    assert first.sent == 2 and len(smtp_server.messages) == 2
    again = deliver_pending()
    assert (again.sent, again.logged, again.failed) == (0, 0, 0)
    assert len(smtp_server.messages) == 2
    # The immediate delivery after an action does not resend older mail either.
    mail_app.config["MAIL_SEND_IMMEDIATELY"] = True
    perform(world.case, "approve", world.mentor)
    assert sorted(m["To"] for m in smtp_server.messages[2:]) == sorted(
        [world.executive.email, world.trainee.email]
    )


def test_refused_action_sends_and_queues_nothing(mail_app, smtp_server, world):
    with pytest.raises(Forbidden):
        perform(world.case, "submit", world.mentor)
    world.case.title = ""
    db.session.commit()
    with pytest.raises(Blocked):
        perform(world.case, "submit", world.trainee)
    assert db.session.scalar(select(func.count(Notification.id))) == 0
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 0
    assert deliver_pending().sent == 0
    assert smtp_server.messages == []


def test_smtp_down_the_action_succeeds_and_mail_stays_pending(app, world, caplog):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    with caplog.at_level(logging.WARNING, logger="aksi.mail"):
        event = perform(world.case, "submit", world.trainee)
    db.session.expire_all()
    assert world.case.state == "mentor_review" and event.id
    assert pending() == 2
    assert "stay pending" in caplog.text
    # A later run, with the server back, sends them.
    from tests.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    try:
        app.config.update(server.config())
        outcome = deliver_pending()
        assert outcome.sent == 2 and pending() == 0
        assert sorted(m["To"] for m in server.messages) == sorted(
            [world.mentor.email, world.coach.email]
        )
    finally:
        server.stop()


def test_a_refused_recipient_is_not_retried_and_the_others_go(mail_app, smtp_server, world):
    """550 no such user is final: retrying it every run would only hold up the queue."""
    mail_app.config["MAIL_SEND_IMMEDIATELY"] = False
    smtp_server.handler.refuse.add(world.coach.email)
    perform(world.case, "submit", world.trainee)
    outcome = deliver_pending()
    assert (outcome.sent, outcome.refused, outcome.failed) == (1, 1, 0)
    assert [m["To"] for m in smtp_server.messages] == [world.mentor.email]
    assert pending() == 0
    assert deliver_pending().refused == 0  # not tried again


def test_a_deferred_recipient_stays_pending(mail_app, smtp_server, world):
    mail_app.config["MAIL_SEND_IMMEDIATELY"] = False
    smtp_server.handler.defer.add(world.coach.email)
    perform(world.case, "submit", world.trainee)
    outcome = deliver_pending()
    assert (outcome.sent, outcome.failed) == (1, 1)
    left = db.session.scalars(select(Notification).where(Notification.emailed_at.is_(None))).all()
    assert [n.user_id for n in left] == [world.coach.id]
    smtp_server.handler.defer.clear()
    assert deliver_pending().sent == 1
    assert len(smtp_server.to(world.coach.email)) == 1


def test_an_unusable_address_does_not_stop_the_others(mail_app, smtp_server, world):
    world.coach.email = "not an address@"
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    assert [m["To"] for m in smtp_server.messages] == [world.mentor.email]
    assert pending() == 0  # dropped for good; the inbox still has it


def test_development_logs_the_mail_and_marks_it(app, world, caplog):
    assert app.config["MAIL_SERVER"] == ""
    with caplog.at_level(logging.INFO, logger="aksi.mail"):
        perform(world.case, "submit", world.trainee)
    logged = [r.getMessage() for r in caplog.records if r.name == "aksi.mail"]
    assert len(logged) == 2
    assert any(f"To: {world.mentor.email}" in text for text in logged)
    assert all(world.case.title.split()[0] in text for text in logged)
    assert pending() == 0


def test_mail_is_in_the_recipients_language_and_links_the_case(mail_app, smtp_server, world):
    world.mentor.locale = "en"
    world.coach.locale = None  # default: Indonesian
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    english = smtp_server.to(world.mentor.email)[0]
    indonesian = smtp_server.to(world.coach.email)[0]
    link = f"https://aksi.example.test/cases/{world.case.id}"
    for mail in (english, indonesian):
        body = mail.get_content()
        assert link in body
        assert world.trainee.name in mail["Subject"] and world.case.title[:20] in mail["Subject"]
        assert mail.get_content_type() == "text/plain"
        assert mail["From"] == mail_app.config["MAIL_FROM"]
    assert "Awaiting mentor approval" in english.get_content()
    assert "Hello" in english.get_content()
    assert "Menunggu persetujuan mentor" in indonesian.get_content()
    assert english["Content-Language"] == "en" and indonesian["Content-Language"] == "id"


def test_the_comment_travels_with_the_mail(mail_app, smtp_server, world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "request_revision", world.mentor, comment="Perjelas tonggak jangka pendek.")
    (mail,) = smtp_server.to(world.trainee.email)
    assert "Perjelas tonggak jangka pendek." in mail.get_content()
    assert "Perlu revisi" in mail.get_content()


def test_no_mail_for_people_without_an_address(mail_app, smtp_server, world):
    world.coach.email = None
    db.session.commit()
    perform(world.case, "submit", world.trainee)
    assert [m["To"] for m in smtp_server.messages] == [world.mentor.email]
    # The coach still has the notification in the inbox.
    assert (
        db.session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == world.coach.id)
        )
        == 1
    )


def test_send_mail_command(mail_app, smtp_server, world, runner):
    mail_app.config["MAIL_SEND_IMMEDIATELY"] = False
    perform(world.case, "submit", world.trainee)
    result = runner.invoke(args=["aksi", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert len(smtp_server.messages) == 2
    result = runner.invoke(args=["aksi", "send-mail"])
    assert "sent 0" in result.output and len(smtp_server.messages) == 2


def test_send_mail_command_fails_when_the_server_is_down(app, world, runner):
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2, MAIL_SEND_IMMEDIATELY=False
    )
    perform(world.case, "submit", world.trainee)
    result = runner.invoke(args=["aksi", "send-mail"])
    assert result.exit_code == 1
    assert "pending after failure 2" in result.output
    assert pending() == 2


def test_a_batch_of_actions_mails_once_at_the_end(mail_app, smtp_server, world):
    """Bulk actions (remind 500 trainees) must not open an SMTP session per case inside the
    request: within batched_delivery() nothing leaves; at its end every mail does."""
    from workflow.services.mail import batched_delivery

    perform(world.case, "submit", world.trainee)
    sent = len(smtp_server.messages)
    with batched_delivery():
        perform(world.case, "remind", world.organizer, comment="Mohon segera ditinjau.")
        assert len(smtp_server.messages) == sent
        assert pending() == 1
    assert pending() == 0
    assert len(smtp_server.to(world.mentor.email)) == 2  # the submit, then the reminder
