"""Cohort set-up services: creating a cohort (who may, every field checked), groups, and
assigning trainees to groups by hand or evenly, each move through perform()."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Cohort, CohortMember, Group, Program
from workflow.services import Blocked, Forbidden, Missing, perform, start_case
from workflow.services import cohorts as service

GOOD = {
    "name": "PKA Angkatan III",
    "year": "2026",
    "quota": "40",
    "start_date": "2026-07-06",
    "proposal_deadline": "2026-07-24",
    "implementation_start": "2026-07-27",
    "implementation_end": "2026-10-16",
    "evaluation_date": "2026-10-26",
    "end_date": "2026-10-30",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def inst(world):
    """The world's institution with an admin and two staff members."""
    institution = world.cohort.program.institution
    ns = SimpleNamespace(
        world=world,
        institution=institution,
        program=world.cohort.program,
        admin=factories.create_user(is_admin=True, institution_id=institution.id),
        staff=[
            factories.create_user(institution_id=institution.id, name=f"Widyaiswara {i}")
            for i in range(3)
        ],
    )
    other = factories.create_cohort()
    ns.foreign_program = other.program
    ns.outsider = factories.create_user(institution_id=other.program.institution_id)
    db.session.commit()
    # Messages are asserted in English, whatever the catalogue says.
    with force_locale("en"):
        yield ns


def form(inst, **changes) -> dict:
    return {"program_id": str(inst.program.id), **GOOD, **changes}


# ---------------------------------------------------------------- creating a cohort


def test_an_admin_creates_a_cohort_and_names_its_organizers(inst):
    cohort = service.create_cohort(
        inst.admin, form(inst), [str(inst.staff[0].id), str(inst.staff[1].id)]
    )
    assert cohort.definition_key == inst.program.definition_key
    assert cohort.quota == 40 and cohort.year == 2026
    assert cohort.implementation_end.isoformat() == "2026-10-16"
    members = db.session.scalars(
        select(CohortMember.user_id).where(CohortMember.cohort_id == cohort.id)
    ).all()
    assert sorted(members) == sorted([inst.staff[0].id, inst.staff[1].id])
    assert inst.admin.id not in members
    assert service.cohort_for(inst.admin, cohort.id) is cohort
    assert service.cohort_for(inst.staff[0], cohort.id) is cohort
    assert service.cohort_for(inst.staff[2], cohort.id) is None


def test_an_organizer_creates_a_cohort_and_organizes_it(inst):
    organizer = inst.world.organizer
    cohort = service.create_cohort(organizer, form(inst), [str(inst.staff[2].id)])
    members = set(
        db.session.scalars(
            select(CohortMember.user_id).where(
                CohortMember.cohort_id == cohort.id, CohortMember.role == "organizer"
            )
        )
    )
    assert members == {organizer.id, inst.staff[2].id}


def test_others_may_not_create_cohorts(inst):
    outsider_admin = factories.create_user(is_admin=True, institution_id=None)
    people = [inst.world.by_role(r) for r in ("stranger", "trainee", "coach", "examiner")]
    for user in [*people, outsider_admin]:
        before = count(Cohort)
        assert not service.can_create(user)
        with pytest.raises(Forbidden):
            service.create_cohort(user, form(inst), [])
        assert count(Cohort) == before


BAD_FORMS = [
    # (id, changes, organizers ("staff" = a staff member), field, message start)
    ("no program", {"program_id": ""}, "staff", "program_id", "Choose a program"),
    ("foreign program", {"program_id": "FOREIGN"}, "staff", "program_id", "Choose a program"),
    ("program not a number", {"program_id": "1 OR 1=1"}, "staff", "program_id", "Choose"),
    ("no name", {"name": "   "}, "staff", "name", "Required"),
    ("long name", {"name": "A" * 201}, "staff", "name", "Too long"),
    ("duplicate name", {"name": "angkatan DUP"}, "staff", "name", "This program already"),
    ("year letters", {"year": "dua ribu"}, "staff", "year", "Enter a year"),
    ("year too old", {"year": "1999"}, "staff", "year", "Enter a year"),
    ("quota zero", {"quota": "0"}, "staff", "quota", "Enter a whole number"),
    ("quota negative", {"quota": "-5"}, "staff", "quota", "Enter a whole number"),
    ("quota huge", {"quota": "100000"}, "staff", "quota", "Enter a whole number"),
    ("no start", {"start_date": ""}, "staff", "start_date", "Required"),
    (
        "not a day",
        {"proposal_deadline": "2026-02-30"},
        "staff",
        "proposal_deadline",
        "Enter a date",
    ),
    ("words", {"evaluation_date": "besok"}, "staff", "evaluation_date", "Enter a date"),
    (
        "deadline before start",
        {"proposal_deadline": "2026-07-01"},
        "staff",
        "proposal_deadline",
        "Must not be before",
    ),
    (
        "implementation ends when it starts",
        {"implementation_end": "2026-07-27"},
        "staff",
        "implementation_end",
        "Must be after",
    ),
    ("end before evaluation", {"end_date": "2026-10-25"}, "staff", "end_date", "Must not be"),
    ("admin names nobody", {}, "none", "organizers", "Name at least one organizer"),
    ("organizer of another institution", {}, "outsider", "organizers", "Choose organizers"),
    ("organizer id junk", {}, "junk", "organizers", "Choose organizers"),
]


def test_each_bad_cohort_form_is_refused_field_by_field_and_writes_nothing(inst):
    db.session.add(
        Cohort(
            program=inst.program,
            name="Angkatan Dup",
            year=2026,
            definition_key=inst.program.definition_key,
            **{k: service.parse_day(GOOD[k]) for k in Cohort.PHASE_DATES},
        )
    )
    db.session.commit()
    ids = {
        "staff": [str(inst.staff[0].id)],
        "none": [],
        "outsider": [str(inst.outsider.id)],
        "junk": ["x"],
    }
    for label, changes, organizers, field, message in BAD_FORMS:
        if changes.get("program_id") == "FOREIGN":
            changes = {"program_id": str(inst.foreign_program.id)}
        before = (count(Cohort), count(CohortMember))
        with pytest.raises(Blocked) as refused:
            service.create_cohort(inst.admin, form(inst, **changes), ids[organizers])
        assert set(refused.value.fields) == {field}, (label, refused.value.fields)
        assert refused.value.fields[field].startswith(message), (label, refused.value.fields)
        db.session.rollback()
        assert (count(Cohort), count(CohortMember)) == before, label


def test_a_wrong_date_does_not_hide_the_order_of_the_others(inst):
    changes = {"proposal_deadline": "x", "implementation_start": "2026-07-01"}
    with pytest.raises(Blocked) as refused:
        service.create_cohort(inst.admin, form(inst, **changes), [str(inst.staff[0].id)])
    # Compared with the last good date before it (the start).
    assert set(refused.value.fields) == {"proposal_deadline", "implementation_start"}
    assert "2026-07-06" in refused.value.fields["implementation_start"]


def test_every_field_wrong_at_once_gets_every_message(inst):
    bad = {k: "" for k in GOOD} | {"program_id": ""}
    with pytest.raises(Blocked) as refused:
        service.create_cohort(inst.admin, bad, [])
    assert set(refused.value.fields) == {"program_id", "name", "year", "quota", *GOOD} - {
        "organizers"
    }


# ---------------------------------------------------------------- groups


def test_groups_are_created_and_renamed_with_coach_and_examiner(inst):
    cohort = inst.world.cohort
    coach, examiner = inst.staff[0], inst.staff[1]
    group = service.save_group(cohort, "Kelompok 2", str(coach.id), str(examiner.id))
    assert (group.coach_id, group.examiner_id) == (coach.id, examiner.id)
    renamed = service.save_group(cohort, " Kelompok  Dua ", "", str(examiner.id), group)
    assert renamed.id == group.id and renamed.name == "Kelompok Dua"
    assert renamed.coach_id is None


def test_a_group_keeps_its_current_coach_even_from_outside_the_staff(inst):
    group = inst.world.group  # its coach has no institution
    saved = service.save_group(
        inst.world.cohort, "Kelompok 1", str(group.coach_id), str(group.examiner_id), group
    )
    assert saved.coach_id == inst.world.coach.id


GROUP_REFUSALS = [
    ("no name", {"name": ""}, "name", "Required"),
    ("long name", {"name": "K" * 81}, "name", "Too long"),
    ("name taken", {"name": "kelompok 1"}, "name", "This cohort already has"),
    ("coach outsider", {"coach": "outsider"}, "coach_id", "Choose a person"),
    ("coach is a trainee", {"coach": "trainee"}, "coach_id", "Choose a person"),
    ("examiner junk", {"examiner": "junk"}, "examiner_id", "Choose a person"),
    ("same person", {"examiner": "staff0"}, "examiner_id", "The coach and the examiner"),
]


def test_each_bad_group_is_refused_and_writes_nothing(inst):
    inst.world.trainee.institution_id = inst.institution.id
    db.session.commit()
    people = {
        "staff0": str(inst.staff[0].id),
        "staff1": str(inst.staff[1].id),
        "outsider": str(inst.outsider.id),
        "trainee": str(inst.world.trainee.id),
        "junk": "abc",
    }
    for label, changes, field, message in GROUP_REFUSALS:
        name = changes.get("name", "Kelompok 2")
        coach = people[changes.get("coach", "staff0")]
        examiner = people[changes.get("examiner", "staff1")]
        before = count(Group)
        with pytest.raises(Blocked) as refused:
            service.save_group(inst.world.cohort, name, coach, examiner)
        assert set(refused.value.fields) == {field}, label
        assert refused.value.fields[field].startswith(message), label
        db.session.rollback()
        assert count(Group) == before, label


# ---------------------------------------------------------------- assigning


def add_trainees(world, n: int, group=None) -> list[Case]:
    cases = []
    for _ in range(n):
        cases.append(
            start_case(
                world.cohort,
                factories.create_user(),
                group=group,
                mentor=world.mentor,
                executive=world.executive,
            )
        )
    db.session.commit()
    return cases


def assign_events() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.trigger == "assign_group")
    )


def test_assign_by_hand_goes_through_perform(inst):
    world = inst.world
    (case,) = add_trainees(world, 1)
    event = service.assign(world.cohort, world.organizer, str(case.id), str(world.group.id))
    assert event.trigger == "assign_group" and event.data["group"] == "Kelompok 1"
    assert case.group_id == world.group.id


def test_assign_refusals_write_nothing(inst):
    world = inst.world
    (case,) = add_trainees(world, 1)
    other = factories.World()
    before = (assign_events(), case.version)
    with pytest.raises(Blocked) as refused:  # another cohort's group
        service.assign(world.cohort, world.organizer, case.id, other.group.id)
    assert "group_id" in refused.value.fields
    with pytest.raises(Missing):  # another cohort's case
        service.assign(world.cohort, world.organizer, other.case.id, world.group.id)
    with pytest.raises(Forbidden):  # an admin who does not organize the cohort
        service.assign(world.cohort, inst.admin, case.id, world.group.id)
    with pytest.raises(Blocked):  # already there
        service.assign(world.cohort, world.organizer, world.case.id, world.group.id)
    db.session.rollback()
    db.session.refresh(case)
    assert (assign_events(), case.version) == before
    assert case.group_id is None


@pytest.mark.parametrize(
    ("sizes", "loose", "include_assigned", "expected"),
    [
        ((0, 0, 0), 10, False, (4, 3, 3)),
        ((1, 0, 0), 10, False, (4, 4, 3)),
        ((5, 0, 0), 4, False, (5, 2, 2)),  # only the loose ones move
        ((5, 0, 0), 4, True, (3, 3, 3)),
        ((6, 0, 1), 0, True, (3, 2, 2)),
        ((2, 2, 2), 0, True, (2, 2, 2)),
        ((0, 0), 1, False, (1, 0)),
        ((0,), 0, False, (0,)),
    ],
)
def test_plan_even_balances_the_groups(sizes, loose, include_assigned, expected):
    cases, n = [], 0
    for gid, size in enumerate(sizes):
        for _ in range(size):
            n += 1
            cases.append(SimpleNamespace(id=n, group_id=gid))
    for _ in range(loose):
        n += 1
        cases.append(SimpleNamespace(id=n, group_id=None))
    plan = service.plan_even(list(range(len(sizes))), cases, include_assigned)
    after = {c.id: c.group_id for c in cases}
    after.update({c.id: gid for c, gid in plan})
    result = tuple(sum(1 for g in after.values() if g == gid) for gid in range(len(sizes)))
    assert result == expected
    # Nobody is moved into the group they are already in; with "all", as few as possible.
    assert all(c.group_id != gid for c, gid in plan)
    if include_assigned:
        assert len(plan) == sum(max(0, e - s) for s, e in zip(sizes, expected, strict=True))


def test_assign_evenly_moves_each_case_through_perform(inst):
    world = inst.world
    cohort = world.cohort
    g2 = service.save_group(cohort, "Kelompok 2", "", "")
    g3 = service.save_group(cohort, "Kelompok 3", "", "")
    loose = add_trainees(world, 9)
    done = add_trainees(world, 1)[0]
    perform(done, "withdraw", world.organizer, comment="Mengundurkan diri")
    before = assign_events()
    result = service.assign_evenly(cohort, world.organizer)
    assert result.moved == 9 and result.failed == []
    assert assign_events() == before + 9
    sizes = dict(
        db.session.execute(
            select(Case.group_id, func.count())
            .where(Case.cohort_id == cohort.id, Case.state != "withdrawn")
            .group_by(Case.group_id)
        ).all()
    )
    assert sizes == {world.group.id: 4, g2.id: 3, g3.id: 3}
    assert db.session.get(Case, done.id).group_id is None  # a finished case stays put
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.trigger == "assign_group")
    ).all()
    assert {e.case_id for e in events} <= {c.id for c in loose}
    assert all(e.actor_id == world.organizer.id for e in events)
    # Again: nothing left to move.
    assert service.assign_evenly(cohort, world.organizer).moved == 0
    assert assign_events() == before + 9


def test_assign_evenly_all_rebalances_moving_as_few_as_possible(inst):
    world = inst.world
    cohort = world.cohort
    add_trainees(world, 5, group=world.group)  # 6 in group 1
    g2 = service.save_group(cohort, "Kelompok 2", "", "")
    before = assign_events()
    result = service.assign_evenly(cohort, world.organizer, include_assigned=True)
    assert result.moved == 3
    assert assign_events() == before + 3
    sizes = dict(
        db.session.execute(
            select(Case.group_id, func.count())
            .where(Case.cohort_id == cohort.id)
            .group_by(Case.group_id)
        ).all()
    )
    assert sizes == {world.group.id: 3, g2.id: 3}


def test_assign_evenly_refusals_write_nothing(inst):
    world = inst.world
    add_trainees(world, 3)
    before = (assign_events(), count(Group))
    with pytest.raises(Forbidden):
        service.assign_evenly(world.cohort, inst.admin)
    with pytest.raises(Forbidden):
        service.assign_evenly(world.cohort, world.coach)
    empty = service.create_cohort(world.organizer, form(inst), [])
    with pytest.raises(Blocked):  # no groups yet
        service.assign_evenly(empty, world.organizer)
    assert (assign_events(), count(Group)) == before
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.cohort_id == world.cohort.id, Case.group_id.is_(None))
        )
        == 3
    )


def test_add_organizer(inst):
    cohort = inst.world.cohort
    person = service.add_organizer(cohort, inst.admin, str(inst.staff[0].id))
    assert service.is_organizer(person, cohort)
    before = count(CohortMember)
    for bad in (str(inst.staff[0].id), str(inst.outsider.id), "x"):
        with pytest.raises(Blocked):
            service.add_organizer(cohort, inst.admin, bad)
    assert count(CohortMember) == before


def test_cohorts_for_scopes_by_role(inst):
    world = inst.world
    other = factories.create_cohort()
    db.session.commit()
    ids = lambda user: set(db.session.scalars(service.cohorts_for(user)).unique())  # noqa: E731
    assert ids(world.organizer) == {world.cohort}
    assert ids(inst.admin) == {world.cohort}
    assert ids(world.coach) == set() and ids(world.trainee) == set()
    assert other not in ids(inst.admin)
    assert service.sets_up_cohorts(world.organizer) and service.sets_up_cohorts(inst.admin)
    assert not service.sets_up_cohorts(world.trainee)
    assert {p.id for p in service.programs_for(world.organizer)} == {world.cohort.program_id}
    assert db.session.get(Program, other.program_id) not in service.programs_for(inst.admin)
