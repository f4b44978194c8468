"""Acting officials (Plt./Plh.): the rules of a delegation, and what a delegate may see and do
within its dates (and not outside them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests import factories
from tests.factories import create_user
from workflow.extensions import db
from workflow.models import AuditEvent, CohortMember, Delegation
from workflow.models._base import utcnow
from workflow.permissions import cases_awaiting, cases_visible_to, get_case_for, roles_on_case
from workflow.services import Blocked, Forbidden, NotAvailable, perform
from workflow.services.audit import verify_case
from workflow.services.calendar import local_date
from workflow.services.delegations import (
    active_delegations,
    create_delegation,
    delegations_visible_to,
    revoke_delegation,
)

ENDORSE = {"letter_number": "800/123/DPMD/2026", "letter_date": "2026-11-20"}


def today(world=None):
    """Today in the world's institution (Asia/Makassar)."""
    return local_date(utcnow(), "Asia/Makassar")


def delegate_for(world, principal_role="executive", kind="plt", start=0, end=5, by=None):
    principal = world.by_role(principal_role)
    deputy = create_user(name="Ir. Wakil Pejabat", nip="198001012005011001")
    d = create_delegation(
        principal,
        deputy,
        principal_role,
        kind,
        today() + timedelta(days=start),
        today() + timedelta(days=end),
        "SK Plt. 821/45/2026",
        by or principal,
    )
    return d, deputy


def to_endorsement(world):
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)


def delegation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Delegation))


# ---------------------------------------------------------------- the rules


def _bad(world, **change):
    """Arguments of create_delegation with one thing wrong."""
    args = {
        "principal": world.executive,
        "delegate": world.stranger,
        "role": "executive",
        "kind": "plt",
        "starts_on": today(),
        "ends_on": today() + timedelta(days=3),
        "reason": "",
        "created_by": world.executive,
    }
    for key, value in change.items():
        args[key] = value(world) if callable(value) else value
    return args


def _inactive(world):
    user = create_user()
    user.active = False
    db.session.flush()
    return user


REFUSALS = [
    ("unknown role", {"role": "coach"}, Blocked, "role"),
    ("unknown kind", {"kind": "pj"}, Blocked, "kind"),
    ("no delegate", {"delegate": None}, Blocked, "delegate"),
    ("inactive delegate", {"delegate": _inactive}, Blocked, "delegate"),
    ("to oneself", {"delegate": lambda w: w.executive}, Blocked, "delegate"),
    ("not a date", {"starts_on": "23/11/2026"}, Blocked, "starts_on"),
    ("missing end", {"ends_on": ""}, Blocked, "ends_on"),
    ("end before start", {"ends_on": lambda w: today() - timedelta(days=1)}, Blocked, "ends_on"),
    (
        "wholly in the past",
        {
            "starts_on": lambda w: today() - timedelta(days=9),
            "ends_on": lambda w: today() - timedelta(days=2),
        },
        Blocked,
        "ends_on",
    ),
    ("over a year", {"ends_on": lambda w: today() + timedelta(days=400)}, Blocked, "ends_on"),
    ("reason too long", {"reason": "x" * 1001}, Blocked, "reason"),
    (
        "a role the principal does not hold",
        {"principal": lambda w: w.coach, "created_by": lambda w: w.coach},
        Blocked,
        "role",
    ),
    ("someone else's authority", {"created_by": lambda w: w.stranger}, Forbidden, None),
    ("the mentor for the executive", {"created_by": lambda w: w.mentor}, Forbidden, None),
]


@pytest.mark.parametrize(
    "change, error, field", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refused_delegation_writes_nothing(world, change, error, field):
    before = delegation_count()
    with pytest.raises(error) as caught:
        create_delegation(**_bad(world, **change))
    db.session.rollback()
    assert delegation_count() == before
    assert str(caught.value.message)
    if field:
        assert set(caught.value.fields) == {field}, caught.value.fields
        assert caught.value.fields[field]


def test_overlapping_delegation_of_the_same_role_is_refused(world):
    delegate_for(world, start=0, end=5)
    other = create_user()
    db.session.commit()
    with pytest.raises(Blocked) as caught:
        create_delegation(
            world.executive,
            other,
            "executive",
            "plh",
            today() + timedelta(days=5),
            today() + timedelta(days=9),
            "",
            world.executive,
        )
    db.session.rollback()
    assert "starts_on" in caught.value.fields
    assert "Ir. Wakil Pejabat" in caught.value.fields["starts_on"]
    assert delegation_count() == 1
    # The day after the first one ends is free; so is the other role.
    create_delegation(
        world.executive,
        other,
        "executive",
        "plh",
        today() + timedelta(days=6),
        today() + timedelta(days=9),
        "",
        world.executive,
    )
    create_delegation(world.mentor, other, "mentor", "plh", today(), today(), "", world.mentor)
    assert delegation_count() == 3


def test_organizer_sets_a_delegation_for_a_principal_in_their_cohort(world):
    d, deputy = delegate_for(world, "mentor", kind="plh", by=world.organizer)
    assert (d.principal_id, d.delegate_id, d.created_by_id) == (
        world.mentor.id,
        deputy.id,
        world.organizer.id,
    )
    other = factories.World()
    with pytest.raises(Forbidden):
        create_delegation(
            world.mentor, deputy, "mentor", "plh", today(), today(), "", other.organizer
        )


# ---------------------------------------------------------------- acting within the dates


def test_delegate_sees_the_queue_and_endorses_on_behalf_of_the_executive(world):
    to_endorsement(world)
    d, deputy = delegate_for(world)
    assert get_case_for(deputy, world.case.id) is world.case
    assert list(db.session.scalars(cases_awaiting(deputy))) == [world.case]
    assert roles_on_case(deputy, world.case) == {"executive"}
    event = perform(world.case, "endorse", deputy, data=ENDORSE)
    assert world.case.state == "implementation"
    assert event.actor_id == deputy.id
    assert event.on_behalf_of_id == world.executive.id
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == world.case.id).order_by(AuditEvent.seq)
    ).all()
    assert verify_case(world.case, events) is None
    # The deputy has no institution (Jakarta time); the delegation runs in Makassar days.
    assert active_delegations(deputy, on=today()) == [d]


def test_delegate_approves_on_behalf_of_the_mentor(world):
    perform(world.case, "submit", world.trainee)
    d, deputy = delegate_for(world, "mentor", kind="plh")
    assert list(db.session.scalars(cases_awaiting(deputy))) == [world.case]
    event = perform(world.case, "approve", deputy, comment="Disetujui.")
    assert event.on_behalf_of_id == world.mentor.id
    assert world.case.state == "endorsement_pending"


def test_principal_still_acts_in_their_own_right(world):
    to_endorsement(world)
    delegate_for(world)
    event = perform(world.case, "endorse", world.executive, data=ENDORSE)
    assert event.on_behalf_of_id is None


def test_holding_the_role_oneself_records_no_on_behalf_of(world):
    """The mentor is also the executive's Plt.: approving is their own role, endorsing isn't."""
    perform(world.case, "submit", world.trainee)
    create_delegation(
        world.executive, world.mentor, "executive", "plt", today(), today(), "", world.executive
    )
    assert perform(world.case, "approve", world.mentor).on_behalf_of_id is None
    endorse = perform(world.case, "endorse", world.mentor, data=ENDORSE)
    assert endorse.on_behalf_of_id == world.executive.id


def test_a_trainee_never_acts_on_their_own_case_through_a_delegation(world):
    perform(world.case, "submit", world.trainee)
    create_delegation(
        world.mentor, world.trainee, "mentor", "plh", today(), today(), "", world.mentor
    )
    assert roles_on_case(world.trainee, world.case) == {"trainee"}
    assert world.case not in list(db.session.scalars(cases_awaiting(world.trainee)))
    with pytest.raises(Forbidden):
        perform(world.case, "approve", world.trainee)


@pytest.mark.parametrize(
    "start, end", [(1, 5), (-5, -1)], ids=["starts tomorrow", "ended yesterday"]
)
def test_outside_the_dates_the_delegate_can_neither_see_nor_act(world, start, end):
    to_endorsement(world)
    deputy = create_user()
    # Written directly: a range wholly in the past cannot be created through the service.
    db.session.add(
        Delegation(
            principal_id=world.executive.id,
            delegate_id=deputy.id,
            role="executive",
            kind="plt",
            starts_on=today() + timedelta(days=start),
            ends_on=today() + timedelta(days=end),
            created_by_id=world.executive.id,
        )
    )
    db.session.commit()
    assert get_case_for(deputy, world.case.id) is None
    assert list(db.session.scalars(cases_awaiting(deputy))) == []
    assert roles_on_case(deputy, world.case) == set()
    with pytest.raises(Forbidden):
        perform(world.case, "endorse", deputy, data=ENDORSE)
    assert world.case.state == "endorsement_pending"


def test_the_range_is_inclusive_on_both_ends(world):
    to_endorsement(world)
    d, deputy = delegate_for(world, start=0, end=0)
    assert get_case_for(deputy, world.case.id) is world.case
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=False):
        assert get_case_for(deputy, world.case.id) is None
        assert roles_on_case(deputy, world.case) == set()


def test_revoking_ends_the_delegation_at_once(world):
    to_endorsement(world)
    d, deputy = delegate_for(world)
    revoke_delegation(d, world.executive)
    assert d.revoked_at is not None
    assert get_case_for(deputy, world.case.id) is None
    with pytest.raises(Forbidden):
        perform(world.case, "endorse", deputy, data=ENDORSE)
    with pytest.raises(NotAvailable):
        revoke_delegation(d, world.executive)


def test_only_those_with_a_say_may_revoke(world):
    d, deputy = delegate_for(world, "mentor")
    for outsider in (deputy, world.stranger, world.trainee):
        with pytest.raises(Forbidden):
            revoke_delegation(d, outsider)
    assert d.revoked_at is None
    revoke_delegation(d, world.organizer)
    assert d.revoked_at is not None


def test_who_sees_which_delegation(world):
    d, deputy = delegate_for(world, "mentor")

    def seen(user):
        return list(db.session.scalars(delegations_visible_to(user)))

    assert seen(world.mentor) == [d]
    assert seen(deputy) == [d]
    assert seen(world.organizer) == [d]
    assert seen(world.stranger) == []
    assert seen(world.trainee) == []


def test_today_is_the_local_date_of_the_case_institution(world):
    """At 16:30 UTC it is already tomorrow in WITA (Makassar) but still today in WIB."""
    to_endorsement(world)
    jakarta = factories.World()
    jakarta.cohort.program.institution.timezone = "Asia/Jakarta"
    perform(jakarta.case, "submit", jakarta.trainee)
    perform(jakarta.case, "approve", jakarta.mentor)
    # One executive for both cases, one deputy; the delegation starts on the WITA date.
    jakarta.case.executive_id = world.executive.id
    db.session.commit()
    moment = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    deputy = create_user()
    db.session.add(
        Delegation(
            principal_id=world.executive.id,
            delegate_id=deputy.id,
            role="executive",
            kind="plh",
            starts_on=datetime(2026, 11, 24).date(),
            ends_on=datetime(2026, 11, 30).date(),
            created_by_id=world.executive.id,
        )
    )
    db.session.commit()
    with time_machine.travel(moment, tick=False):
        visible = set(db.session.scalars(cases_visible_to(deputy)))
        assert visible == {world.case}
        assert set(db.session.scalars(cases_awaiting(deputy))) == {world.case}
        assert roles_on_case(deputy, world.case) == {"executive"}
        assert roles_on_case(deputy, jakarta.case) == set()
    with time_machine.travel(moment + timedelta(hours=1), tick=False):  # 00:30 WIB
        assert set(db.session.scalars(cases_visible_to(deputy))) == {world.case, jakarta.case}


def test_organizer_membership_alone_gives_no_authority_over_other_cohorts(world):
    other = factories.World()
    db.session.add(CohortMember(cohort=other.cohort, user=world.organizer, role="coach"))
    db.session.commit()
    with pytest.raises(Forbidden):
        create_delegation(
            other.mentor, world.stranger, "mentor", "plh", today(), today(), "", world.organizer
        )
