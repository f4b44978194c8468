"""Mentor transfer: the organizer of the cohort hands a trainee to a new mentor through the
one door; the open work (queue, draft assessment) follows; refusals write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests import factories
from tests.factories import create_user
from tests.test_http_helpers import check_markup, english, login, page_token
from workflow.extensions import db
from workflow.models import AuditEvent, Notification
from workflow.models._base import utcnow
from workflow.models.seminars import Seminar
from workflow.services import Blocked, Forbidden, NotAvailable, evaluation, perform
from workflow.services.calendar import local_date
from workflow.services.delegations import create_delegation
from workflow.services.progress import awaiting_verification_for

REASON = "Mentor lama dimutasi ke Dinas Kesehatan."


@pytest.fixture
def v2(app):
    """A PKA case on the current flow (version 2), and the new mentor-to-be."""
    world = factories.World(version=None)
    world.new_mentor = create_user(
        name="Dr. Mentor Baru", position="Kepala Bidang", agency=world.trainee.agency
    )
    db.session.commit()
    return world


def written() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
        db.session.scalar(select(func.count()).select_from(Notification)),
    )


def transfer(world, to, by=None, comment=REASON):
    return perform(
        world.case,
        "transfer_mentor",
        by or world.organizer,
        comment=comment,
        data={"mentor_id": to if isinstance(to, (int, str, type(None))) else to.id},
    )


def test_the_organizer_hands_the_trainee_to_a_new_mentor(v2):
    old = v2.mentor
    event = transfer(v2, v2.new_mentor)
    assert v2.case.mentor_id == v2.new_mentor.id
    assert event.trigger == "transfer_mentor" and event.comment == REASON
    assert event.from_state == event.to_state == "draft"
    assert event.data == {
        "from_mentor_id": old.id,
        "to_mentor_id": v2.new_mentor.id,
        "from_mentor": old.name,
        "to_mentor": v2.new_mentor.name,
    }
    told = set(
        db.session.scalars(select(Notification.user_id).where(Notification.event_id == event.id))
    )
    # The trainee and both mentors hear of it, once each; the organizer acted.
    assert told == {v2.trainee.id, old.id, v2.new_mentor.id}
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.event_id == event.id)
        )
        == 3
    )


def _inactive(world):
    user = create_user()
    user.active = False
    db.session.commit()
    return user.id


def _outsider(world):
    user = create_user()  # no institution, no agency: not offered, so not accepted either
    db.session.commit()
    return user.id


REFUSALS = [
    # (id, mentor_id from the world, by (role), comment, error)
    ("the same mentor", lambda w: w.mentor.id, "organizer", REASON, Blocked),
    ("an unknown user", lambda w: 10**9, "organizer", REASON, Blocked),
    ("no one", lambda w: None, "organizer", REASON, Blocked),
    ("not a number", lambda w: "budi", "organizer", REASON, Blocked),
    ("an inactive user", _inactive, "organizer", REASON, Blocked),
    ("the trainee themself", lambda w: w.trainee.id, "organizer", REASON, Blocked),
    ("the trainee's coach", lambda w: w.coach.id, "organizer", REASON, Blocked),
    ("the trainee's examiner", lambda w: w.examiner.id, "organizer", REASON, Blocked),
    ("someone outside the institution and agency", _outsider, "organizer", REASON, Blocked),
    ("no reason", lambda w: w.new_mentor.id, "organizer", "  ", Blocked),
    ("by the mentor", lambda w: w.new_mentor.id, "mentor", REASON, Forbidden),
    ("by the coach", lambda w: w.new_mentor.id, "coach", REASON, Forbidden),
    ("by the trainee", lambda w: w.new_mentor.id, "trainee", REASON, Forbidden),
]


@pytest.mark.parametrize(
    ("mentor", "by", "comment", "error"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_refused_transfer_writes_nothing(v2, mentor, by, comment, error):
    target = mentor(v2)
    before, version = written(), v2.case.version
    with pytest.raises(error) as refused:
        transfer(v2, target, by=v2.by_role(by), comment=comment)
    db.session.rollback()
    assert written() == before
    assert v2.case.mentor_id == v2.mentor.id and v2.case.version == version
    if error is Blocked:
        assert set(refused.value.fields) <= {"mentor_id", "comment"} and refused.value.fields


def test_not_in_a_closed_case_nor_in_a_flow_that_does_not_declare_it(v2, world):
    v2.case.state = "completed"
    db.session.commit()
    before = written()
    with pytest.raises(NotAvailable):
        transfer(v2, v2.new_mentor)
    # Version 1 of PKA has no transfer: the action does not exist there.
    with pytest.raises(NotAvailable):
        transfer(world, create_user())
    db.session.rollback()
    assert written() == before


def test_an_acting_organizer_transfers_on_behalf_of_the_organizer(v2):
    deputy = create_user()
    today = local_date(utcnow(), "Asia/Makassar")
    create_delegation(
        v2.organizer,
        deputy,
        "organizer",
        "plh",
        today,
        today + timedelta(days=2),
        "",
        v2.organizer,
    )
    event = transfer(v2, v2.new_mentor, by=deputy)
    assert event.on_behalf_of_id == v2.organizer.id
    assert v2.case.mentor_id == v2.new_mentor.id


# ---------------------------------------------------------------- the open work


@time_machine.travel("2026-04-15 03:00")
def test_reported_milestones_move_to_the_new_mentors_queue(v2):
    v2.case.state = "implementation"  # set directly: only the state matters here
    db.session.commit()
    m = v2.case.milestones[0]
    perform(
        v2.case,
        "report_progress",
        v2.trainee,
        data={
            "milestone_id": m.id,
            "status": "reported",
            "achieved_quantity": "1",
            "narrative": "Pedoman selesai.",
        },
    )
    assert [r.milestone.id for r in awaiting_verification_for(v2.mentor)] == [m.id]
    assert awaiting_verification_for(v2.new_mentor) == []
    transfer(v2, v2.new_mentor)
    assert awaiting_verification_for(v2.mentor) == []
    assert [r.milestone.id for r in awaiting_verification_for(v2.new_mentor)] == [m.id]
    with pytest.raises(Forbidden):
        perform(v2.case, "verify_milestone", v2.mentor, data={"milestone_id": m.id})
    db.session.rollback()
    perform(v2.case, "verify_milestone", v2.new_mentor, data={"milestone_id": m.id})
    assert m.status == "verified"


def test_the_draft_assessment_stays_with_the_role(v2):
    v2.case.state = "evaluation"
    db.session.commit()
    rubric = evaluation.rubric_of(v2.case)
    aspect = rubric.aspects_for("mentor")[0]
    evaluation.save_draft(v2.case, v2.mentor, "mentor", scores={aspect.key: {"value": 77}})
    sheet = evaluation.stored_sheet(v2.case, "mentor")
    assert sheet is not None and not sheet.is_submitted
    transfer(v2, v2.new_mentor)
    continued = evaluation.sheet_for(v2.case, v2.new_mentor, "mentor")
    assert continued.id == sheet.id
    assert evaluation.values_of(continued)[aspect.key] == 77
    with pytest.raises(Forbidden):
        evaluation.sheet_for(v2.case, v2.mentor, "mentor")


def test_an_approval_the_old_mentor_gave_stands(v2):
    perform(v2.case, "submit", v2.trainee)
    first = perform(v2.case, "approve", v2.mentor)
    assert first.data["approved_as"] == ["mentor"] and first.data["awaiting"] == ["coach"]
    transfer(v2, v2.new_mentor)
    assert v2.case.state == "proposal_review"
    # The mentor's signature is given: the new mentor is not asked again.
    with pytest.raises(NotAvailable):
        perform(v2.case, "approve", v2.new_mentor)
    db.session.rollback()
    perform(v2.case, "approve", v2.coach)
    assert v2.case.state == "seminar_proposal"


# ---------------------------------------------------------------- the form on the case page


def test_the_form_is_the_organizers_and_keeps_what_was_typed(client, v2):
    v2.new_mentor.institution_id = v2.cohort.program.institution_id
    db.session.commit()
    url = f"/cases/{v2.case.id}"
    english(client)
    login(client, v2.mentor)
    assert 'id="transfer-panel"' not in client.get(url).get_data(as_text=True)
    login(client, v2.organizer)
    html = client.get(url).get_data(as_text=True)
    check_markup(html)
    assert 'id="transfer-panel"' in html
    assert f'<option value="{v2.new_mentor.username}">' in html  # a suggestion
    assert f'<option value="{v2.trainee.username}">' not in html

    before = written()
    token = page_token(client, url)
    form = {
        "csrf_token": token,
        "version": v2.case.version,
        "mentor": "nobody",
        "comment": "Mutasi",
    }
    response = client.post(f"{url}/transfer-mentor", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'id="transfer-mentor_id-error"' in html and "Choose the new mentor" in html
    assert 'value="nobody"' in html and ">Mutasi</textarea>" in html
    assert written() == before

    # With htmx: only the panel comes back, with the message beside the field.
    form["mentor"] = v2.new_mentor.username
    form["comment"] = ""
    response = client.post(f"{url}/transfer-mentor", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<section") or 'id="transfer-panel"' in html
    assert "<html" not in html and 'id="transfer-comment-error"' in html
    assert f'value="{v2.new_mentor.username}"' in html
    assert written() == before

    form["comment"] = REASON
    response = client.post(f"{url}/transfer-mentor", data=form)
    assert response.status_code == 302
    db.session.refresh(v2.case)
    assert v2.case.mentor_id == v2.new_mentor.id
    html = client.get(url).get_data(as_text=True)
    assert "Mentor changed; open work handed to the new mentor." in html
    assert "Dr. Mentor Baru" in html


def test_a_seminar_still_to_be_held_gets_the_new_mentor_on_its_panel(app):
    from tests.test_seminars import schedule, seminar_world

    world = seminar_world()
    world.new_mentor = create_user(name="Dr. Mentor Baru", agency=world.trainee.agency)
    db.session.commit()
    seminar = db.session.get(Seminar, schedule(world).data["seminar_id"])
    transfer(world, world.new_mentor)
    db.session.expire_all()
    panel = {p.role: p.user_id for p in seminar.panel}
    assert panel["mentor"] == world.new_mentor.id
