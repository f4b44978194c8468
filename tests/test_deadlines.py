"""The organizer extends one case's deadline with a reason: through perform() and over HTTP,
audited; anyone else, no reason, a date not later, a finished case: refused, nothing written.
(A state's working-day due date on entering it is tested in test_perform.py.)"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.test_http_helpers import act, english, login, page_token
from workflow.extensions import db
from workflow.models import AuditEvent, Notification
from workflow.services import Blocked, Forbidden, NotAvailable, perform
from workflow.services.audit import verify_case

WITA = ZoneInfo("Asia/Makassar")
# The world's case is a draft due Monday 2 March 2026 (the cohort's proposal deadline).
BEFORE = datetime(2026, 2, 20, 10, tzinfo=WITA)  # 10 days before it
AFTER = datetime(2026, 3, 3, 10, tzinfo=WITA)  # the day after: overdue
REASON = "Peserta sakit; surat keterangan dokter terlampir."


def written(case) -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).where(AuditEvent.case_id == case.id)),
        db.session.scalar(select(func.count(Notification.id))),
        case.due_date,
        case.version,
    )


@pytest.mark.parametrize("moment", [BEFORE, AFTER])
def test_the_organizer_extends_the_deadline_with_a_reason(world, moment):
    with time_machine.travel(moment, tick=False):
        event = perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment=REASON,
            data={"due_date": "2026-03-09"},
        )
    db.session.expire_all()
    assert world.case.due_date == date(2026, 3, 9)
    assert world.case.state == "draft"
    assert (event.trigger, event.from_state, event.to_state) == (
        "extend_deadline",
        "draft",
        "draft",
    )
    assert event.actor_id == world.organizer.id and event.comment == REASON
    assert event.data == {"due_date": "2026-03-09", "previous_due_date": "2026-03-02"}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == world.case.id).order_by(AuditEvent.seq)
    ).all()
    assert verify_case(world.case, events) is None  # the hash chain holds
    told = set(
        db.session.scalars(select(Notification.user_id).where(Notification.event_id == event.id))
    )
    assert told == {world.trainee.id, world.mentor.id}


def test_an_extended_deadline_can_be_extended_again(world):
    with time_machine.travel(AFTER, tick=False):
        perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment=REASON,
            data={"due_date": "2026-03-09"},
        )
        event = perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment="Lagi.",
            data={"due_date": "2026-03-16"},
        )
    assert event.data["previous_due_date"] == "2026-03-09"
    assert world.case.due_date == date(2026, 3, 16)


@pytest.mark.parametrize("role", ["trainee", "mentor", "executive", "coach", "examiner"])
def test_nobody_but_the_organizer_may_extend(world, role):
    before = written(world.case)
    with time_machine.travel(BEFORE, tick=False), pytest.raises(Forbidden):
        perform(
            world.case,
            "extend_deadline",
            world.by_role(role),
            comment=REASON,
            data={"due_date": "2026-03-09"},
        )
    assert written(world.case) == before


@pytest.mark.parametrize(
    ("moment", "comment", "due", "fields"),
    [
        (BEFORE, "", "2026-03-09", {"comment"}),  # no reason
        (BEFORE, "   ", "2026-03-09", {"comment"}),
        (BEFORE, REASON, "", {"due_date"}),  # no date
        (BEFORE, REASON, "9 Maret", {"due_date"}),  # not a date
        (BEFORE, "", "", {"comment", "due_date"}),
        (BEFORE, REASON, "2026-03-02", {"due_date"}),  # the current due date
        (BEFORE, REASON, "2026-02-27", {"due_date"}),  # earlier than the current one
        (BEFORE, REASON, "2026-02-10", {"due_date"}),  # in the past
        (AFTER, REASON, "2026-03-03", {"due_date"}),  # overdue: not after today
        (AFTER, REASON, "2026-03-02", {"due_date"}),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(world, moment, comment, due, fields):
    before = written(world.case)
    with time_machine.travel(moment, tick=False), pytest.raises(Blocked) as refused:
        perform(
            world.case, "extend_deadline", world.organizer, comment=comment, data={"due_date": due}
        )
    assert set(refused.value.fields) == fields
    assert written(world.case) == before


def test_a_date_not_later_names_the_earliest_allowed(world):
    with time_machine.travel(AFTER, tick=False), pytest.raises(Blocked) as refused:
        perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment=REASON,
            data={"due_date": "2026-03-03"},
        )
    assert "2026-03-03" in str(refused.value.fields["due_date"])


def test_a_finished_case_has_no_deadline_to_extend(world):
    perform(world.case, "withdraw", world.trainee, comment="Mutasi jabatan.")
    before = written(world.case)
    with time_machine.travel(AFTER, tick=False), pytest.raises(NotAvailable):
        perform(
            world.case,
            "extend_deadline",
            world.organizer,
            comment=REASON,
            data={"due_date": "2026-03-09"},
        )
    assert written(world.case) == before


# ---------------------------------------------------------------- over HTTP


FORM = {"comment": REASON, "due_date": "2026-03-09"}


@pytest.fixture
def overdue_day():
    """The whole test on 3 March, the day after the deadline (a session signed "later" than
    the test's clock would not be valid)."""
    with time_machine.travel(AFTER):
        yield


def test_the_organizer_extends_over_http(client, world, overdue_day):
    english(client)
    login(client, world.organizer)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert 'data-trigger="extend_deadline"' in page and 'name="due_date"' in page
    response = act(client, world.case, "extend_deadline", FORM)
    assert response.status_code == 302
    db.session.expire_all()
    assert world.case.due_date == date(2026, 3, 9)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.trigger == "extend_deadline"))
    assert event.actor_id == world.organizer.id and event.comment == REASON
    assert event.data == {"due_date": "2026-03-09", "previous_due_date": "2026-03-02"}
    shown = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert "Previous due date" in shown and REASON in shown


def test_htmx_extension_answers_the_status_fragment(client, world, overdue_day):
    english(client)
    login(client, world.organizer)
    response = act(client, world.case, "extend_deadline", FORM, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<section") and "Done: Extend deadline." in html
    assert "9 Mar 2026" in html  # the new due date, no longer flagged overdue
    assert "Overdue" not in html


@pytest.mark.parametrize("role", ["trainee", "mentor", "coach"])
def test_http_refuses_anyone_else_with_403(client, world, overdue_day, role):
    login(client, world.by_role(role))
    before = written(world.case)
    response = act(client, world.case, "extend_deadline", FORM, token=page_token(client))
    assert response.status_code == 403
    assert written(world.case) == before


def test_http_a_stranger_gets_404(client, world, overdue_day):
    login(client, world.stranger)
    before = written(world.case)
    response = act(client, world.case, "extend_deadline", FORM, token=page_token(client))
    assert response.status_code == 404
    assert written(world.case) == before


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"comment": "", "due_date": "2026-03-09"}, "comment", "A comment is required"),
        ({"comment": REASON, "due_date": "2026-03-03"}, "due_date", "must be after 2026-03-03"),
        ({"comment": REASON, "due_date": "2026-02-01"}, "due_date", "must be after 2026-03-03"),
        ({"comment": REASON, "due_date": "besok"}, "due_date", "must be a date"),
    ],
)
def test_http_bad_input_is_422_next_to_the_field_keeping_the_input(
    client, world, overdue_day, form, field, message
):
    english(client)
    login(client, world.organizer)
    before = written(world.case)
    response = act(client, world.case, "extend_deadline", form, htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-extend_deadline-{field}-error"' in html and message in html
    assert f'value="{form["due_date"]}"' in html  # what the organizer typed stays
    if form["comment"]:
        assert form["comment"] in html
    assert written(world.case) == before


def test_http_a_finished_case_is_409(client, world, overdue_day):
    perform(world.case, "withdraw", world.trainee, comment="Mutasi jabatan.")
    login(client, world.organizer)
    before = written(world.case)
    response = act(client, world.case, "extend_deadline", FORM)
    assert response.status_code == 409
    assert written(world.case) == before


def test_http_a_stale_version_is_409(client, world, overdue_day):
    login(client, world.organizer)
    token = page_token(client, f"/cases/{world.case.id}")
    stale = world.case.version
    perform(world.case, "submit", world.trainee)
    before = written(world.case)
    response = act(client, world.case, "extend_deadline", FORM, version=stale, token=token)
    assert response.status_code == 409
    assert written(world.case) == before
