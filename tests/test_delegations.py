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
        "Cuti besar",
        by or principal,
        sk_number="821/45/BKD/2026",
        sk_date=today(),
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
        "sk_number": "800.1.3.3/45/BKPSDM/2026",
        "sk_date": today(),
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
    ("unknown role", {"role": "trainee"}, Blocked, "role"),
    ("unknown kind", {"kind": "pjs"}, Blocked, "kind"),
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
        world.executive,
        world.mentor,
        "executive",
        "plt",
        today(),
        today(),
        "",
        world.executive,
        sk_number="821/45",
        sk_date=today(),
    )
    assert perform(world.case, "approve", world.mentor).on_behalf_of_id is None
    endorse = perform(world.case, "endorse", world.mentor, data=ENDORSE)
    assert endorse.on_behalf_of_id == world.executive.id


def test_a_trainee_never_acts_on_their_own_case_through_a_delegation(world):
    perform(world.case, "submit", world.trainee)
    # The service refuses it (the mentor's own trainee); written directly, it still gives
    # the trainee nothing on their own case.
    with pytest.raises(Blocked) as refused:
        create_delegation(
            world.mentor, world.trainee, "mentor", "plh", today(), today(), "", world.mentor
        )
    db.session.rollback()
    assert set(refused.value.fields) == {"delegate"}
    assert delegation_count() == 0
    db.session.add(
        Delegation(
            principal_id=world.mentor.id,
            delegate_id=world.trainee.id,
            role="mentor",
            kind="plh",
            starts_on=today(),
            ends_on=today(),
            created_by_id=world.mentor.id,
        )
    )
    db.session.commit()
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


# ---------------------------------------------------------------- the decree (SK)


SK_CASES = [
    # (id, change, field refused or None when accepted)
    ("Plt. with its SK", {}, None),
    ("Pj. with its SK", {"kind": "pj"}, None),
    ("Plh. without an SK", {"kind": "plh", "sk_number": "", "sk_date": None}, None),
    ("Plh. with an SK", {"kind": "plh"}, None),
    ("SK dated before the period", {"sk_date": lambda w: today() - timedelta(days=20)}, None),
    ("SK dated on the last day", {"sk_date": lambda w: today() + timedelta(days=3)}, None),
    ("SK after the period", {"sk_date": lambda w: today() + timedelta(days=4)}, "sk_date"),
    (
        "SK in the far future",
        {
            "ends_on": lambda w: today() + timedelta(days=300),
            "sk_date": lambda w: today() + timedelta(days=200),
        },
        "sk_date",
    ),
    ("Plt. without an SK number", {"sk_number": ""}, "sk_number"),
    ("Plt. without an SK date", {"sk_date": None}, "sk_date"),
    ("Pj. without an SK number", {"kind": "pj", "sk_number": "  "}, "sk_number"),
    ("Pj. without an SK date", {"kind": "pj", "sk_date": ""}, "sk_date"),
    ("SK date not a date", {"kind": "plh", "sk_date": "1/12/2026"}, "sk_date"),
    ("SK number too long", {"sk_number": "8" * 101}, "sk_number"),
    ("SK number with a NUL", {"sk_number": "800\x00/1"}, "sk_number"),
]


@pytest.mark.parametrize("change, field", [c[1:] for c in SK_CASES], ids=[c[0] for c in SK_CASES])
def test_the_decree_of_a_delegation(world, change, field):
    before = delegation_count()
    if field is None:
        d = create_delegation(**_bad(world, **change))
        assert delegation_count() == before + 1
        assert d.kind == change.get("kind", "plt")
        return
    with pytest.raises(Blocked) as caught:
        create_delegation(**_bad(world, **change))
    db.session.rollback()
    assert delegation_count() == before
    assert set(caught.value.fields) == {field}, caught.value.fields


def test_the_sk_is_stored_as_given(world):
    d = create_delegation(
        **_bad(world, kind="pj", sk_number=" 100.2.1.3/ 45 /2026 ", sk_date=today().isoformat())
    )
    assert (d.kind, d.sk_number, d.sk_date) == ("pj", "100.2.1.3/ 45 /2026", today())


# ---------------------------------------------------------------- who may act for whom


def test_a_principal_cannot_make_their_own_trainee_their_acting_official(world):
    cases = [
        ("mentor", world.mentor),
        ("executive", world.executive),
        ("coach", world.coach),
        ("examiner", world.examiner),
        ("organizer", world.organizer),
    ]
    for role, principal in cases:
        with pytest.raises(Blocked) as caught:
            create_delegation(
                **_bad(
                    world,
                    principal=principal,
                    created_by=principal,
                    role=role,
                    delegate=world.trainee,
                )
            )
        db.session.rollback()
        assert set(caught.value.fields) == {"delegate"}, role
        assert world.trainee.name in caught.value.fields["delegate"]
    assert delegation_count() == 0
    # Another cohort's trainee is not theirs: that one may.
    other = factories.World()
    create_delegation(**_bad(world, delegate=other.trainee))
    assert delegation_count() == 1


def _acting(world, role, kind="plh"):
    principal = world.by_role(role)
    deputy = create_user(name=f"Plh. {role}")
    create_delegation(
        **_bad(
            world,
            principal=principal,
            created_by=principal,
            role=role,
            kind=kind,
            delegate=deputy,
        )
    )
    return deputy


def test_an_acting_coach_approves_a_v2_proposal_on_behalf_of_the_coach(app):
    world = factories.World(version=None)
    perform(world.case, "submit", world.trainee)
    deputy = _acting(world, "coach")
    assert roles_on_case(deputy, world.case) == {"coach"}
    assert get_case_for(deputy, world.case.id) is world.case
    assert list(db.session.scalars(cases_awaiting(deputy))) == [world.case]
    event = perform(world.case, "approve", deputy, comment="Layak diseminarkan.")
    assert event.actor_id == deputy.id and event.on_behalf_of_id == world.coach.id
    assert event.data["approved_as"] == ["coach"]
    assert world.case.state == "proposal_review"
    perform(world.case, "approve", world.mentor)
    assert world.case.state == "seminar_proposal"


def test_an_acting_cohort_coach_acts_on_every_case_of_the_cohort(app):
    world = factories.World(version=None)
    cohort_coach = create_user()
    db.session.add(CohortMember(cohort=world.cohort, user=cohort_coach, role="coach"))
    db.session.commit()
    deputy = create_user()
    create_delegation(
        **_bad(
            world, principal=cohort_coach, created_by=cohort_coach, role="coach", delegate=deputy
        )
    )
    perform(world.case, "submit", world.trainee)
    event = perform(world.case, "approve", deputy)
    assert event.on_behalf_of_id == cohort_coach.id


def test_an_acting_examiner_returns_the_report_on_behalf_of_the_examiner(world):
    world.case.state = "evaluation"  # set directly: only the state matters here
    db.session.commit()
    deputy = _acting(world, "examiner", kind="plt")
    assert list(db.session.scalars(cases_awaiting(deputy))) == [world.case]
    event = perform(world.case, "return_report", deputy, comment="Lengkapi bukti.")
    assert event.on_behalf_of_id == world.examiner.id
    assert world.case.state == "implementation"


def test_an_acting_organizer_defers_on_behalf_of_the_organizer(world):
    world.case.state = "evaluation"
    db.session.commit()
    deputy = _acting(world, "organizer", kind="pj")
    assert roles_on_case(deputy, world.case) == {"organizer"}
    assert set(db.session.scalars(cases_visible_to(deputy))) == {world.case}
    event = perform(world.case, "defer", deputy, comment="Sakit.")
    assert event.on_behalf_of_id == world.organizer.id
    assert world.case.state == "deferred"
    # The coach's deputy is nobody's organizer: a different role, no authority.
    coach_deputy = _acting(world, "coach")
    with pytest.raises(Forbidden):
        perform(world.case, "resume", coach_deputy)


def test_acting_for_any_role_costs_one_query(world):
    """roles_on_case() asks the delegations once, however many roles it looks for."""
    from tests.test_http_home import counting_statements

    deputy = _acting(world, "examiner")
    db.session.expire_all()
    case = db.session.get(type(world.case), world.case.id)
    _ = case.group, case.cohort  # loaded as the case page has them
    for user, expected in ((deputy, {"examiner"}), (world.stranger, set())):
        user = db.session.get(type(user), user.id)
        with counting_statements() as statements:
            assert roles_on_case(user, case) == expected
        delegation_reads = [s for s in statements if "delegations" in s]
        assert len(delegation_reads) == 1, statements
