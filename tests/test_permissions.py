"""Who sees which cases, who must act on which, and the roles a user holds on a case."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.factories import World, create_user, fill_proposal
from workflow.extensions import db
from workflow.models import CohortMember, Group
from workflow.permissions import cases_awaiting, cases_visible_to, get_case_for, roles_on_case
from workflow.services import perform, start_case


@pytest.fixture
def town(world):
    """Cohort A (the world's): case 1 (group 1), case 2 (group 2, same mentor as case 1),
    case 3 (no group, another mentor). Cohort B (another institution): case 4."""
    w = world
    p = SimpleNamespace(
        **{
            r: w.by_role(r)
            for r in (
                "trainee",
                "mentor",
                "executive",
                "coach",
                "examiner",
                "organizer",
                "stranger",
            )
        }
    )
    p.trainee2, p.trainee3, p.executive2, p.mentor2 = (create_user() for _ in range(4))
    p.coach2, p.examiner2, p.cohort_coach = (create_user() for _ in range(3))
    group2 = Group(cohort=w.cohort, name="Kelompok 2", coach=p.coach2, examiner=p.examiner2)
    db.session.add(group2)
    db.session.add(CohortMember(cohort=w.cohort, user=p.cohort_coach, role="coach"))
    case2 = start_case(w.cohort, p.trainee2, group=group2, mentor=p.mentor, executive=p.executive2)
    fill_proposal(case2)
    case3 = start_case(w.cohort, p.trainee3, mentor=p.mentor2)
    p.admin = create_user(is_admin=True, institution_id=w.cohort.program.institution_id)
    p.admin_nowhere = create_user(is_admin=True)
    db.session.commit()
    other = World()
    p.b_trainee, p.b_organizer, p.b_mentor = other.trainee, other.organizer, other.mentor

    perform(case2, "submit", p.trainee2)  # mentor_review: the mentor's turn
    case3.state = "evaluation"  # set directly: only the state matters to these queries
    other.case.state = "deferred"
    db.session.commit()
    cases = {1: w.case, 2: case2, 3: case3, 4: other.case}
    return p, cases


def _ids(select, cases) -> set[int]:
    found = set(db.session.scalars(select))
    by_id = {c.id: n for n, c in cases.items()}
    return {by_id[c.id] for c in found}


VISIBLE = {
    "trainee": {1},
    "trainee2": {2},
    "mentor": {1, 2},
    "mentor2": {3},
    "executive": {1},
    "executive2": {2},
    "coach": {1},
    "examiner": {1},
    "coach2": {2},
    "examiner2": {2},
    "cohort_coach": {1, 2, 3},
    "organizer": {1, 2, 3},
    "admin": {1, 2, 3},
    "admin_nowhere": set(),
    "stranger": set(),
    "b_trainee": {4},
    "b_organizer": {4},
}

AWAITING = {
    "trainee": {1},  # draft
    "trainee2": set(),  # mentor_review
    "mentor": {2},
    "mentor2": {3},  # evaluation: the mentor scores too
    "executive": set(),
    "coach": set(),
    "examiner": set(),
    "coach2": set(),
    "examiner2": set(),
    "cohort_coach": {3},
    "organizer": set(),
    "admin": set(),
    "stranger": set(),
    "b_trainee": set(),
    "b_organizer": {4},  # deferred
}


@pytest.mark.parametrize(("who", "expected"), VISIBLE.items(), ids=list(VISIBLE))
def test_cases_visible_to(town, who, expected):
    people, cases = town
    assert _ids(cases_visible_to(getattr(people, who)), cases) == expected


@pytest.mark.parametrize(("who", "expected"), AWAITING.items(), ids=list(AWAITING))
def test_cases_awaiting(town, who, expected):
    people, cases = town
    assert _ids(cases_awaiting(getattr(people, who)), cases) == expected


def test_awaiting_is_always_visible(town):
    people, cases = town
    for who in AWAITING:
        user = getattr(people, who)
        assert _ids(cases_awaiting(user), cases) <= _ids(cases_visible_to(user), cases)


def test_awaiting_follows_the_cases_definition(world, world_pkn2):
    perform(world_pkn2.case, "submit", world_pkn2.trainee)
    assert world_pkn2.case.state == "proposal_seminar"
    assert list(db.session.scalars(cases_awaiting(world_pkn2.examiner))) == [world_pkn2.case]
    assert list(db.session.scalars(cases_awaiting(world_pkn2.trainee))) == []
    assert list(db.session.scalars(cases_awaiting(world.examiner))) == []


@pytest.mark.parametrize(
    ("who", "case", "roles"),
    [
        ("trainee", 1, {"trainee"}),
        ("mentor", 1, {"mentor"}),
        ("mentor", 2, {"mentor"}),
        ("executive", 1, {"executive"}),
        ("coach", 1, {"coach"}),
        ("coach", 2, set()),
        ("examiner", 1, {"examiner"}),
        ("cohort_coach", 3, {"coach"}),
        ("organizer", 3, {"organizer"}),
        ("stranger", 1, set()),
        ("admin", 1, set()),  # admins see, but hold no role in the flow
        ("b_organizer", 1, set()),
        ("b_organizer", 4, {"organizer"}),
    ],
)
def test_roles_on_case(town, who, case, roles):
    people, cases = town
    assert roles_on_case(getattr(people, who), cases[case]) == roles


def test_roles_on_case_combined_and_anonymous(town):
    people, cases = town
    db.session.add(CohortMember(cohort=cases[1].cohort, user=people.organizer, role="examiner"))
    db.session.commit()
    assert roles_on_case(people.organizer, cases[1]) == {"organizer", "examiner"}
    assert roles_on_case(None, cases[1]) == set()
    assert roles_on_case(SimpleNamespace(id=None), cases[1]) == set()


def test_get_case_for(town):
    people, cases = town
    assert get_case_for(people.trainee, cases[1].id) is cases[1]
    assert get_case_for(people.trainee, cases[2].id) is None
    assert get_case_for(people.stranger, cases[1].id) is None
    assert get_case_for(people.organizer, cases[4].id) is None
    assert get_case_for(people.b_organizer, cases[4].id) is cases[4]
    assert get_case_for(people.admin, 10**9) is None
