"""Steps that need several roles (approval: all): coach AND mentor approve the proposal,
every panel member signs the ratification. The state moves when the last one lands."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from tests.factories import World, create_user
from workflow.engine import load_definition, registry
from workflow.engine.machine import approval_step
from workflow.extensions import db
from workflow.models import (
    Approval,
    AuditEvent,
    Delegation,
    Notification,
    Seminar,
    SeminarPanelist,
)
from workflow.models._base import utcnow
from workflow.permissions import cases_awaiting
from workflow.services import Forbidden, NotAvailable, perform
from workflow.services.actions import available_actions
from workflow.services.workflow import approval_status

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
CURRENT = ("aksi_perubahan_pka", "aksi_perubahan_pkn2", "aksi_perubahan_pkp")

# ------------------------------------------------------------------ pure: no database

# (already approved, actor's roles) -> (approved now, still awaited), for coach + mentor.
TWO = [
    (set(), {"coach"}, {"coach"}, {"mentor"}),
    (set(), {"mentor"}, {"mentor"}, {"coach"}),
    ({"coach"}, {"mentor"}, {"mentor"}, set()),
    ({"mentor"}, {"coach"}, {"coach"}, set()),
    ({"coach"}, {"coach"}, set(), {"mentor"}),  # twice: nothing left to approve
    (set(), {"coach", "mentor"}, {"coach", "mentor"}, set()),  # one person holding both
    (set(), {"trainee"}, set(), {"coach", "mentor"}),
    ({"coach", "mentor"}, {"coach"}, set(), set()),
]


@pytest.mark.parametrize(("already", "roles", "now", "awaited"), TWO)
def test_approval_step_coach_and_mentor(already, roles, now, awaited):
    approve = load_definition(ROOT / "state_machines" / "aksi_perubahan_pka.yaml").candidates(
        "proposal_review", "approve"
    )[0]
    assert approval_step(approve, already, roles) == (now, awaited)


# Where each current definition asks several roles to act, and who.
ALL_STEPS = {
    (key, state, trigger): roles
    for key in CURRENT
    for state, trigger, roles in (
        ("proposal_review", "approve", ("coach", "mentor")),
        ("ratification", "ratify", ("examiner", "coach", "mentor")),
    )
}


@pytest.mark.parametrize(("where", "roles"), ALL_STEPS.items(), ids=lambda v: str(v))
def test_current_definitions_declare_the_two_signature_steps(where, roles):
    key, state, trigger = where
    d = load_definition(ROOT / "state_machines" / f"{key}.yaml")
    (t,) = d.candidates(state, trigger)
    assert t.approval == "all" and t.roles == roles
    # Either of them may send it back instead.
    if trigger == "approve":
        (back,) = d.candidates(state, "request_revision")
        assert set(back.roles) == {"coach", "mentor"} and back.comment == "required"


def test_pkp_has_no_executive_endorsement_and_the_others_do():
    flows = {k: load_definition(ROOT / "state_machines" / f"{k}.yaml") for k in CURRENT}
    assert not flows["aksi_perubahan_pkp"].has_state("endorsement_pending")
    assert flows["aksi_perubahan_pkp"].candidates("ratification", "ratify")[0].dest == (
        "implementation"
    )
    for key in ("aksi_perubahan_pka", "aksi_perubahan_pkn2"):
        assert flows[key].candidates("ratification", "ratify")[0].dest == "endorsement_pending"
    assert flows["aksi_perubahan_pkn2"].role_label("executive", "id") == "Sponsor"


# ------------------------------------------------------------------ through perform()


def _submitted(key: str = "aksi_perubahan_pka") -> World:
    world = World(key, version=None)
    perform(world.case, "submit", world.trainee)
    assert world.case.state == "proposal_review"
    return world


def _writes(case) -> tuple:
    db.session.expire_all()
    events = db.session.scalar(
        db.select(db.func.count(AuditEvent.id)).where(AuditEvent.case_id == case.id)
    )
    notes = db.session.scalar(db.select(db.func.count(Notification.id)))
    return events, notes, case.version, case.state


@pytest.mark.parametrize("key", CURRENT)
@pytest.mark.parametrize("order", [("coach", "mentor"), ("mentor", "coach")])
def test_the_case_moves_on_the_second_signature_in_either_order(app, key, order):
    world = _submitted(key)
    first, second = (world.by_role(r) for r in order)
    notes_before = db.session.scalar(db.select(db.func.count(Notification.id)))

    event = perform(world.case, "approve", first, comment="Layak diseminarkan.")
    assert world.case.state == "proposal_review"
    assert event.from_state == event.to_state == "proposal_review"
    assert event.data == {"approved_as": [order[0]], "awaiting": [order[1]]}
    # Nobody is told yet; the one who signed no longer sees the button, the other does.
    assert db.session.scalar(db.select(db.func.count(Notification.id))) == notes_before
    assert "approve" not in {a.trigger for a in available_actions(world.case, first)}
    assert "approve" in {a.trigger for a in available_actions(world.case, second)}
    (status,) = approval_status(world.case)
    assert set(status.approved) == {order[0]} and status.waiting == (order[1],)

    final = perform(world.case, "approve", second)
    assert world.case.state == "seminar_proposal"
    # Both signatures are kept, each with its event, for the halaman persetujuan.
    signed = db.session.execute(
        db.select(Approval.role, Approval.event_id, Approval.state).where(
            Approval.case_id == world.case.id
        )
    ).all()
    assert sorted(signed) == sorted(
        [(order[0], event.id, "proposal_review"), (order[1], final.id, "proposal_review")]
    )
    assert (final.from_state, final.to_state) == ("proposal_review", "seminar_proposal")
    told = set(
        db.session.scalars(db.select(Notification.user_id).where(Notification.event_id == final.id))
    )
    assert {world.trainee.id, world.organizer.id} <= told


@pytest.mark.parametrize("sender", ["coach", "mentor"])
def test_either_may_send_it_back_and_approvals_start_again(app, sender):
    world = _submitted()
    other = "mentor" if sender == "coach" else "coach"
    perform(world.case, "approve", world.by_role(other))
    perform(world.case, "request_revision", world.by_role(sender), comment="Perjelas isu.")
    assert world.case.state == "revision_requested"
    perform(world.case, "submit", world.trainee)
    # The earlier signature belonged to the earlier submission.
    (status,) = approval_status(world.case)
    assert status.approved == {} and status.waiting == ("coach", "mentor")
    perform(world.case, "approve", world.by_role(other))
    assert world.case.state == "proposal_review"


@pytest.mark.parametrize(
    ("who", "error"),
    [("coach", NotAvailable), ("trainee", Forbidden), ("stranger", Forbidden)],
)
def test_a_refused_signature_writes_nothing(app, who, error):
    world = _submitted()
    perform(world.case, "approve", world.coach)
    before = _writes(world.case)
    with pytest.raises(error):
        perform(world.case, "approve", world.by_role(who))
    assert _writes(world.case) == before


def test_a_plh_mentor_signs_on_behalf_of_the_mentor(app):
    world = _submitted()
    deputy = create_user()
    db.session.add(
        Delegation(
            principal_id=world.mentor.id,
            delegate_id=deputy.id,
            role="mentor",
            kind="plh",
            starts_on=date.today() - timedelta(days=1),
            ends_on=date.today() + timedelta(days=5),
            created_by_id=world.mentor.id,
        )
    )
    db.session.commit()
    perform(world.case, "approve", world.coach)
    event = perform(world.case, "approve", deputy)
    assert world.case.state == "seminar_proposal"
    assert event.on_behalf_of_id == world.mentor.id


def _to_ratification(world: World) -> None:
    perform(world.case, "approve", world.coach)
    perform(world.case, "approve", world.mentor)
    start = utcnow() - timedelta(hours=2)
    seminar = Seminar(
        cohort_id=world.case.cohort_id,
        case_id=world.case.id,
        kind="proposal",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        room="Ruang Mahakam 1",
        status="held",
        uid="test-seminar-ratification",
    )
    seminar.panel = [
        SeminarPanelist(user_id=world.examiner.id, role="examiner", attended=True),
        SeminarPanelist(user_id=world.coach.id, role="coach", attended=True),
        SeminarPanelist(user_id=world.mentor.id, role="mentor", attended=True),
    ]
    db.session.add(seminar)
    db.session.commit()
    perform(world.case, "seminar_passed", world.examiner, comment="Layak.")
    assert world.case.state == "ratification"
    assert seminar.outcome == "passed"


def test_every_panel_member_signs_the_ratification(app):
    world = _submitted()
    _to_ratification(world)
    for n, role in enumerate(("mentor", "examiner")):
        perform(world.case, "ratify", world.by_role(role))
        assert world.case.state == "ratification", n
    perform(world.case, "ratify", world.coach)
    assert world.case.state == "endorsement_pending"


def test_the_seminar_outcome_needs_a_held_seminar(app):
    world = _submitted()
    perform(world.case, "approve", world.coach)
    perform(world.case, "approve", world.mentor)
    before = _writes(world.case)
    from workflow.services import Blocked

    with pytest.raises(Blocked) as refused:
        perform(world.case, "seminar_passed", world.examiner)
    assert "Seminar belum dijadwalkan." in [str(r) for r in refused.value.reasons]
    assert _writes(world.case) == before


def test_registry_holds_the_current_and_the_earlier_versions(app):
    assert registry.versions("aksi_perubahan_pka") == [1, 2]
    assert registry.versions("aksi_perubahan_pkn2") == [1, 2]
    assert registry.versions("aksi_perubahan_pkp") == [1]


def test_a_role_cannot_sign_twice_in_one_stay_even_in_a_race(app):
    world = _submitted()
    perform(world.case, "approve", world.coach)
    first = db.session.scalars(db.select(Approval)).one()
    db.session.add(
        Approval(
            case_id=first.case_id,
            trigger=first.trigger,
            state=first.state,
            entered_at=first.entered_at,
            role="coach",
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_who_is_awaited_leaves_out_a_given_signature(app):
    from workflow.services.workflow import awaited_roles

    world = _submitted()
    assert awaited_roles(world.case) == ("coach", "mentor")
    perform(world.case, "approve", world.mentor)
    assert awaited_roles(world.case) == ("coach",)
    # A reminder now goes to the coach alone.
    event = perform(world.case, "remind", world.organizer)
    assert event.data["reminded"] == ["coach"]
    told = set(
        db.session.scalars(db.select(Notification.user_id).where(Notification.event_id == event.id))
    )
    assert told == {world.coach.id}


def test_the_queues_leave_out_who_has_signed_until_the_next_stay(app):
    """Home and review queues (cases_awaiting): the coach who approved is not asked again;
    the mentor still is. A send-back and a new submission ask both again."""
    world = World(version=None)
    perform(world.case, "submit", world.trainee)

    def awaits(user) -> bool:
        return world.case in db.session.scalars(cases_awaiting(user)).unique().all()

    assert awaits(world.coach) and awaits(world.mentor)
    perform(world.case, "approve", world.coach)
    assert not awaits(world.coach) and awaits(world.mentor)
    perform(world.case, "request_revision", world.mentor, comment="Perjelas tujuan.")
    assert not awaits(world.coach) and not awaits(world.mentor)
    perform(world.case, "submit", world.trainee)
    assert awaits(world.coach) and awaits(world.mentor)
