"""Who may be made an acting official (Plt./Plh./Pj.): one who may hold the principal's office
over these cases, never a trainee under it. A refusal names the delegate beside the field and
writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.factories import create_user
from tests.test_http_helpers import english, login, page_token
from workflow.extensions import db
from workflow.models import CohortMember, Delegation, Group
from workflow.models._base import utcnow
from workflow.services import Blocked, perform, start_case
from workflow.services.calendar import local_date
from workflow.services.delegations import create_delegation

ROLES = ("mentor", "executive", "coach", "examiner", "organizer")


def today():
    return local_date(utcnow(), "Asia/Makassar")


def delegation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Delegation))


def delegate(principal, person, role, by=None):
    return create_delegation(
        principal,
        person,
        role,
        "plh",
        today(),
        today() + timedelta(days=3),
        "Dinas luar",
        by or principal,
    )


def classmate(world, *, other_group=False, withdrawn=False):
    """Another trainee of the world's cohort: their own mentor and executive, in the world's
    group or in a second group with its own coach and examiner."""
    group = world.group
    if other_group:
        group = Group(
            cohort=world.cohort, name="Kelompok 2", coach=create_user(), examiner=create_user()
        )
        db.session.add(group)
    person = create_user(name="Peserta Sekelas")
    case = start_case(
        world.cohort, person, group=group, mentor=create_user(), executive=create_user()
    )
    db.session.commit()
    if withdrawn:
        perform(case, "withdraw", person, comment="Pindah tugas")
    return person


@pytest.mark.parametrize("role", ROLES)
def test_no_principal_may_make_their_own_trainee_their_acting_official(world, role):
    principal = world.by_role(role)
    with pytest.raises(Blocked) as caught:
        delegate(principal, world.trainee, role)
    db.session.rollback()
    assert set(caught.value.fields) == {"delegate"}
    assert world.trainee.name in caught.value.fields["delegate"]
    assert delegation_count() == 0


# (role of the principal, the classmate is in another group): a classmate of the principal's
# trainees would approve or score them. Mentor and executive reach only their own trainees'
# cases, but the classmate is still a trainee of that cohort.
CLASSMATES = [
    ("mentor", False),
    ("executive", False),
    ("coach", True),
    ("examiner", True),
    ("organizer", True),
]


@pytest.mark.parametrize("role, other_group", CLASSMATES)
def test_a_trainee_of_the_principals_cohort_cannot_act_for_them(world, role, other_group):
    principal = world.by_role(role)
    person = classmate(world, other_group=other_group)
    with pytest.raises(Blocked) as caught:
        delegate(principal, person, role)
    db.session.rollback()
    message = caught.value.fields["delegate"]
    assert set(caught.value.fields) == {"delegate"}
    assert person.name in message and principal.name in message
    assert delegation_count() == 0


def test_a_cohort_wide_examiner_may_not_take_a_trainee_of_that_cohort(world):
    examiner = create_user()
    db.session.add(CohortMember(cohort=world.cohort, user=examiner, role="examiner"))
    person = classmate(world, other_group=True)
    with pytest.raises(Blocked):
        delegate(examiner, person, "examiner")
    db.session.rollback()
    assert delegation_count() == 0


def test_a_classmate_whose_case_is_finished_may_act_for_another_trainees_mentor(world):
    person = classmate(world, withdrawn=True)
    d = delegate(world.mentor, person, "mentor")
    assert d.delegate_id == person.id and delegation_count() == 1
    # Their case is under the organizer's office: never for the organizer.
    with pytest.raises(Blocked):
        delegate(world.organizer, person, "organizer")
    db.session.rollback()
    assert delegation_count() == 1


def test_a_trainee_of_another_cohort_and_an_official_may_act(world):
    other = factories.World()
    delegate(world.coach, other.trainee, "coach")
    delegate(world.mentor, create_user(), "mentor")
    assert delegation_count() == 2


def test_an_organizer_setting_it_for_a_mentor_is_refused_the_same(world):
    person = classmate(world)
    with pytest.raises(Blocked) as caught:
        delegate(world.mentor, person, "mentor", by=world.organizer)
    db.session.rollback()
    assert set(caught.value.fields) == {"delegate"}
    assert delegation_count() == 0


def test_the_form_shows_the_refusal_beside_the_field_and_keeps_what_was_typed(client, world):
    person = classmate(world)
    english(client)
    login(client, world.mentor)
    response = client.post(
        "/delegations",
        data={
            "csrf_token": page_token(client, "/delegations"),
            "role": "mentor",
            "kind": "plh",
            "delegate": person.username,
            "starts_on": today().isoformat(),
            "ends_on": (today() + timedelta(days=2)).isoformat(),
            "reason": "Dinas luar kota",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "is a trainee in a cohort where" in html and person.name in html
    assert f'value="{person.username}"' in html and "Dinas luar kota" in html
    assert delegation_count() == 0
