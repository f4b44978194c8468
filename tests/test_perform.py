"""perform(): the one door. A success writes one chained event; a refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.factories import fill_final_report, fill_proposal, score_case
from workflow.extensions import db
from workflow.models import AuditEvent, Case, InstitutionHoliday, Notification
from workflow.services import Blocked, Conflict, Forbidden, NotAvailable, perform
from workflow.services.audit import event_hash, verify_case

ENDORSE_DATA = {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events_of(case: Case) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        )
    )


def notified(event: AuditEvent) -> set[int]:
    return set(
        db.session.scalars(select(Notification.user_id).where(Notification.event_id == event.id))
    )


def step(world, trigger: str, role: str, **kwargs) -> AuditEvent:
    return perform(world.case, trigger, world.by_role(role), **kwargs)


def verify_milestones(world) -> None:
    """What submit_report needs: every milestone verified and a complete final report."""
    for m in world.case.milestones:
        m.status = "verified"
    db.session.commit()
    fill_final_report(world.case)


# Paths from draft, as (trigger, role, kwargs) steps.
TO_MENTOR_REVIEW = [("submit", "trainee", {})]
TO_ENDORSEMENT = [*TO_MENTOR_REVIEW, ("approve", "mentor", {})]
TO_IMPLEMENTATION = [*TO_ENDORSEMENT, ("endorse", "executive", {"data": ENDORSE_DATA})]
TO_EVALUATION = [*TO_IMPLEMENTATION, ("submit_report", "trainee", {})]
TO_DEFERRED = [*TO_EVALUATION, ("defer", "organizer", {"comment": "Menunggu jadwal."})]


def walk(world, steps) -> None:
    for trigger, role, kwargs in steps:
        if trigger == "submit_report":
            verify_milestones(world)
        step(world, trigger, role, **kwargs)


# --- success ---------------------------------------------------------------------------


def test_success_writes_one_chained_event(world):
    case = world.case
    assert (case.state, case.version, case.event_count, case.audit_head) == ("draft", 1, 0, "")
    events_before, notes_before = count(AuditEvent), count(Notification)

    first = perform(case, "submit", world.trainee, comment="ignored: submit takes none")
    assert count(AuditEvent) == events_before + 1
    assert (first.seq, first.prev_hash, first.actor_id) == (1, "", world.trainee.id)
    assert (first.trigger, first.from_state, first.to_state) == ("submit", "draft", "mentor_review")
    assert first.comment == ""
    assert first.data == {}
    assert first.on_behalf_of_id is None

    second = perform(
        case, "approve", world.mentor, comment="  Lanjutkan.  ", expected_version=case.version
    )
    assert count(AuditEvent) == events_before + 2
    db.session.expire_all()
    first, second = events_of(case)
    assert second.seq == 2
    assert second.prev_hash == first.hash
    assert second.hash == event_hash(second)
    assert first.hash == event_hash(first)
    assert (second.actor_id, second.comment) == (world.mentor.id, "Lanjutkan.")
    assert (second.from_state, second.to_state) == ("mentor_review", "endorsement_pending")
    case = db.session.get(Case, case.id)
    assert (case.state, case.version, case.event_count, case.audit_head) == (
        "endorsement_pending",
        3,
        2,
        second.hash,
    )
    assert verify_case(case, events_of(case)) is None
    assert count(Notification) > notes_before


def test_collected_data_is_stored_cleaned(world):
    walk(world, TO_ENDORSEMENT)
    event = step(
        world,
        "endorse",
        "executive",
        data={"letter_number": "  800/123/DPMD ", "letter_date": "2026-03-05", "extra": "x"},
    )
    db.session.expire_all()
    event = db.session.get(AuditEvent, event.id)
    assert event.data == ENDORSE_DATA  # trimmed, and unknown keys are not kept
    assert event.hash == event_hash(event)


def test_stamps_entered_at_and_working_day_due_date(world):
    # Tue 17 March 2026, 17:30 UTC is already Wed 18 March, 01:30 in WITA (the cohort's zone).
    # 3 working days after Wed 18: Thu 19 is Nyepi, Fri 20 cuti bersama, (weekend + Eid),
    # Mon 23 and Tue 24 cuti bersama: Wed 25, Thu 26, Fri 27.
    moment = datetime(2026, 3, 17, 17, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        perform(world.case, "submit", world.trainee)
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert case.state_entered_at == moment.replace(tzinfo=None)
    assert case.due_date == date(2026, 3, 27)


def test_due_date_skips_the_institutions_extra_day_off(world):
    db.session.add(
        InstitutionHoliday(
            institution=world.cohort.program.institution, day=date(2026, 8, 7), name="Cuti"
        )
    )
    db.session.commit()
    # Wed 5 August in WITA; Thu 6, (Fri 7 off), Mon 10, Tue 11.
    with time_machine.travel(datetime(2026, 8, 4, 17, 30, tzinfo=UTC), tick=False):
        perform(world.case, "submit", world.trainee)
    assert world.case.due_date == date(2026, 8, 11)


@pytest.mark.parametrize(
    ("steps", "state", "due"),
    [
        (TO_IMPLEMENTATION, "implementation", date(2026, 6, 5)),  # implementation_end
        (TO_EVALUATION, "evaluation", date(2026, 6, 15)),  # evaluation_date
        (TO_DEFERRED, "deferred", None),  # no SLA
    ],
)
def test_until_states_take_the_cohort_date(world, steps, state, due):
    walk(world, steps)
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.due_date) == (state, due)


def test_start_case_is_due_on_the_proposal_deadline(world):
    assert world.case.due_date == date(2026, 3, 2)
    assert (world.case.definition_key, world.case.definition_version) == ("aksi_perubahan_pka", 1)


@pytest.mark.parametrize(
    ("steps", "trigger", "role", "kwargs", "recipients"),
    [
        ([], "submit", "trainee", {}, {"mentor", "coach"}),
        (TO_MENTOR_REVIEW, "approve", "mentor", {}, {"executive", "trainee"}),
        (
            TO_ENDORSEMENT,
            "endorse",
            "executive",
            {"data": ENDORSE_DATA},
            {"trainee", "mentor", "coach"},
        ),
        (
            TO_IMPLEMENTATION,
            "submit_report",
            "trainee",
            {},
            {"examiner", "coach", "mentor"},
        ),
        (TO_EVALUATION, "defer", "organizer", {"comment": "Tunda."}, {"trainee"}),
        (TO_DEFERRED, "resume", "organizer", {}, {"examiner", "coach", "mentor", "trainee"}),
    ],
)
def test_notifies_whom_the_transition_names_not_the_actor(
    world, steps, trigger, role, kwargs, recipients
):
    walk(world, steps)
    if trigger == "submit_report":
        verify_milestones(world)
    before = count(Notification)
    event = step(world, trigger, role, **kwargs)
    assert notified(event) == {world.by_role(r).id for r in recipients}
    assert count(Notification) == before + len(recipients)
    kinds = set(
        db.session.scalars(select(Notification.kind).where(Notification.event_id == event.id))
    )
    assert kinds == {trigger}


# --- refusals write nothing ------------------------------------------------------------


def _blank_title(world):
    world.case.title = ""
    db.session.commit()


def _unscored(world):
    pass


def _unsubmitted_scores(world):
    # The coach's sheet is only a draft: drafts never count.
    score_case(world, roles=("examiner", "mentor"), drafts=("coach",))


REFUSALS = [
    # (id, steps, setup, trigger, role, kwargs, error, message parts)
    ("wrong-role", [], None, "submit", "mentor", {}, Forbidden, []),
    ("stranger", [], None, "submit", "stranger", {}, Forbidden, []),
    ("executive-approves", TO_MENTOR_REVIEW, None, "approve", "executive", {}, Forbidden, []),
    ("coach-finalizes", TO_EVALUATION, None, "finalize", "coach", {}, Forbidden, []),
    ("mentor-withdraws", [], None, "withdraw", "mentor", {"comment": "x"}, Forbidden, []),
    ("not-from-state", [], None, "approve", "mentor", {}, NotAvailable, []),
    ("not-from-state-2", TO_MENTOR_REVIEW, None, "submit", "trainee", {}, NotAvailable, []),
    ("unknown-trigger", [], None, "teleport", "trainee", {}, NotAvailable, []),
    ("to_state-trigger", [], None, "to_completed", "organizer", {}, NotAvailable, []),
    (
        "incomplete-proposal",
        [],
        _blank_title,
        "submit",
        "trainee",
        {},
        Blocked,
        ["The title is empty."],
    ),
    (
        "comment-missing",
        TO_MENTOR_REVIEW,
        None,
        "request_revision",
        "mentor",
        {"comment": "   "},
        Blocked,
        ["A comment is required for this action."],
    ),
    (
        "comment-too-long",
        TO_MENTOR_REVIEW,
        None,
        "request_revision",
        "mentor",
        {"comment": "x" * 5001},
        Blocked,
        ["The comment is too long (at most 5000 characters)."],
    ),
    (
        "field-missing",
        TO_ENDORSEMENT,
        None,
        "endorse",
        "executive",
        {"data": {"letter_date": "2026-03-05"}},
        Blocked,
        ["Letter number is required."],
    ),
    (
        "bad-date",
        TO_ENDORSEMENT,
        None,
        "endorse",
        "executive",
        {"data": {"letter_number": "800/1", "letter_date": "5 Maret 2026"}},
        Blocked,
        ["Letter date must be a date (YYYY-MM-DD)."],
    ),
    (
        "data-not-a-dict",
        TO_ENDORSEMENT,
        None,
        "endorse",
        "executive",
        {"data": ["800/1", "2026-03-05"]},
        Blocked,
        ["Letter number is required.", "Letter date is required."],
    ),
    (
        "milestone-open",
        TO_IMPLEMENTATION,
        None,
        "submit_report",
        "trainee",
        {},
        Blocked,
        ["is neither verified nor closed with an explanation."],
    ),
    (
        "no-scores",
        TO_EVALUATION,
        _unscored,
        "finalize",
        "organizer",
        {},
        Blocked,
        ["The examiner has not submitted the assessment."],
    ),
    (
        "unsubmitted-score",
        TO_EVALUATION,
        _unsubmitted_scores,
        "finalize",
        "examiner",
        {},
        Blocked,
        ["The coach has not submitted the assessment."],
    ),
    ("stale-version", [], None, "submit", "trainee", {"expected_version": 0}, Conflict, []),
    (
        "stale-version-later",
        TO_MENTOR_REVIEW,
        None,
        "approve",
        "mentor",
        {"expected_version": 1},
        Conflict,
        [],
    ),
]


def _snapshot(case_id: int):
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    return (
        case.state,
        case.version,
        case.due_date,
        case.state_entered_at,
        case.event_count,
        case.audit_head,
        case.final_score,
        count(AuditEvent),
        count(Notification),
    )


@pytest.mark.parametrize(
    ("steps", "setup", "trigger", "role", "kwargs", "error", "parts"),
    [pytest.param(*r[1:], id=r[0]) for r in REFUSALS],
)
def test_refusal_raises_and_writes_nothing(
    world, steps, setup, trigger, role, kwargs, error, parts
):
    walk(world, steps)
    if setup:
        setup(world)
    before = _snapshot(world.case.id)
    # Messages are checked in English, whatever the default catalogue says.
    with force_locale("en"), pytest.raises(error) as info:
        step(world, trigger, role, **kwargs)
    assert type(info.value) is error
    with force_locale("en"):
        texts = [str(r) for r in info.value.reasons]
    for part in parts:
        assert any(part in t for t in texts), texts
    assert _snapshot(world.case.id) == before
    assert (
        info.value.status == {Forbidden: 403, NotAvailable: 409, Blocked: 422, Conflict: 409}[error]
    )


def test_missing_scores_are_the_only_reason_given(world):
    walk(world, TO_EVALUATION)
    score_case(world, (95, 0, 0), roles=("examiner",))
    with force_locale("en"), pytest.raises(Blocked) as info:
        step(world, "finalize", "organizer")
    with force_locale("en"):
        texts = [str(r) for r in info.value.reasons]
    # Guards run in order: no verdict on the result while scores are missing.
    assert texts == [
        "The coach has not submitted the assessment.",
        "The mentor has not submitted the assessment.",
    ]


def test_blocked_fields_name_each_field(world):
    walk(world, TO_ENDORSEMENT)
    with pytest.raises(Blocked) as info:
        step(world, "endorse", "executive", data={"letter_date": "kemarin"})
    assert set(info.value.fields) == {"letter_number", "letter_date"}


def test_refused_call_leaves_the_session_usable(world):
    with pytest.raises(Forbidden):
        step(world, "submit", "stranger")
    with pytest.raises(Conflict):
        step(world, "submit", "trainee", expected_version=7)
    step(world, "submit", "trainee", expected_version=1)
    assert world.case.state == "mentor_review"


# --- whole flows -----------------------------------------------------------------------


def _assert_trail(world, expected: list[tuple[str, str, str]], versions: int | None = None) -> None:
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    events = events_of(case)
    assert [(e.trigger, e.from_state, e.to_state) for e in events] == expected
    assert verify_case(case, events) is None
    assert case.event_count == len(expected)
    assert case.version == 1 + (len(expected) if versions is None else versions)


def test_walk_every_state_of_the_pka_flow(world):
    steps = [
        ("submit", "trainee", {}, "mentor_review"),
        ("request_revision", "mentor", {"comment": "Perjelas tujuan."}, "revision_requested"),
        ("submit", "trainee", {}, "mentor_review"),
        ("approve", "mentor", {"comment": "Setuju."}, "endorsement_pending"),
        ("decline_endorsement", "executive", {"comment": "Lokus?"}, "revision_requested"),
        ("submit", "trainee", {}, "mentor_review"),
        ("approve", "mentor", {}, "endorsement_pending"),
        ("endorse", "executive", {"data": ENDORSE_DATA}, "implementation"),
        ("submit_report", "trainee", {}, "evaluation"),
        ("return_report", "coach", {"comment": "Lengkapi bukti."}, "implementation"),
        ("submit_report", "trainee", {}, "evaluation"),
        ("defer", "organizer", {"comment": "Penguji berhalangan."}, "deferred"),
        ("resume", "organizer", {}, "evaluation"),
        ("finalize", "organizer", {}, "completed"),
    ]
    trail = []
    for trigger, role, kwargs, dest in steps:
        if trigger == "submit_report":
            verify_milestones(world)
        if trigger == "finalize":
            score_case(world, (90, 85, 80))  # 0.5*90 + 0.3*85 + 0.2*80 = 86.5
            # Each submitted assessment is an audited activity of the evaluation state.
            trail += [("submit_scores", "evaluation", "evaluation")] * 3
        source = world.case.state
        event = step(world, trigger, role, expected_version=world.case.version, **kwargs)
        assert world.case.state == dest
        trail.append((trigger, source, dest))
        assert event.to_state == dest
    # An activity (each submitted assessment) moves the case version twice: once to claim
    # the case, once with its audit head.
    _assert_trail(world, trail, versions=len(trail) + 3)
    case = db.session.get(Case, world.case.id)
    assert (case.final_score, case.predicate, case.due_date) == (86.5, "Memuaskan", None)
    endorse = next(e for e in events_of(case) if e.trigger == "endorse")
    assert endorse.data == ENDORSE_DATA
    # Nothing more can happen to a closed case.
    with pytest.raises(NotAvailable):
        step(world, "withdraw", "trainee", comment="x")


@pytest.mark.parametrize(
    ("values", "state", "score", "predicate"),
    [
        ((60, 65, 70), "not_passed", 63.5, "Kurang Memuaskan"),
        ((40, 50, 60), "not_passed", 47.0, "Tidak Memuaskan"),
        ((95, 92, 90), "completed", 93.1, "Sangat Memuaskan"),
        # Exactly 70 is Kurang Memuaskan, so it does not pass: the bands decide both.
        ((70, 70, 70), "not_passed", 70.0, "Kurang Memuaskan"),
    ],
)
def test_finalize_by_computed_score(world, values, state, score, predicate):
    walk(world, TO_EVALUATION)
    score_case(world, values)
    event = step(world, "finalize", "examiner")
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.final_score, case.predicate) == (state, score, predicate)
    assert event.to_state == state


@pytest.mark.parametrize(
    ("steps", "role"),
    [
        ([], "trainee"),
        (TO_MENTOR_REVIEW, "organizer"),
        (TO_IMPLEMENTATION, "trainee"),
        (TO_DEFERRED, "organizer"),
    ],
)
def test_withdraw(world, steps, role):
    walk(world, steps)
    source = world.case.state
    with pytest.raises(Blocked):
        step(world, "withdraw", role)
    event = step(world, "withdraw", role, comment="Mutasi jabatan.")
    assert (event.from_state, event.to_state, event.comment) == (
        source,
        "withdrawn",
        "Mutasi jabatan.",
    )
    assert world.case.due_date is None


def test_pkn2_walk_through_the_proposal_seminar(world_pkn2):
    world = world_pkn2
    assert world.case.definition_key == "aksi_perubahan_pkn2"
    step(world, "submit", "trainee")
    assert world.case.state == "proposal_seminar"
    with pytest.raises(Forbidden):
        step(world, "record_seminar", "mentor", data={"seminar_date": "2026-03-10"})
    with pytest.raises(NotAvailable):
        step(world, "approve", "mentor")
    with pytest.raises(Blocked) as info:
        step(
            world,
            "record_seminar",
            "examiner",
            data={"seminar_date": "2026-03-10", "seminar_outcome": "rejected"},
        )
    assert set(info.value.fields) == {"seminar_outcome"}
    step(world, "seminar_revision", "examiner", comment="Perbaiki peta stakeholder.")
    assert world.case.state == "revision_requested"
    step(world, "submit", "trainee")
    seminar = step(
        world,
        "record_seminar",
        "examiner",
        comment="Diterima.",
        data={"seminar_date": "2026-03-10", "seminar_outcome": "accepted_with_notes"},
    )
    # The examiner owned the seminar; the mentor acts next.
    assert notified(seminar) == {world.mentor.id, world.trainee.id}
    step(world, "approve", "mentor")
    step(world, "endorse", "executive", data=ENDORSE_DATA)
    _assert_trail(
        world,
        [
            ("submit", "draft", "proposal_seminar"),
            ("seminar_revision", "proposal_seminar", "revision_requested"),
            ("submit", "revision_requested", "proposal_seminar"),
            ("record_seminar", "proposal_seminar", "mentor_review"),
            ("approve", "mentor_review", "endorsement_pending"),
            ("endorse", "endorsement_pending", "implementation"),
        ],
    )
    event = next(e for e in events_of(world.case) if e.trigger == "record_seminar")
    assert event.data == {"seminar_date": "2026-03-10", "seminar_outcome": "accepted_with_notes"}


def test_withdraw_from_the_proposal_seminar(world_pkn2):
    step(world_pkn2, "submit", "trainee")
    step(world_pkn2, "withdraw", "organizer", comment="Tidak hadir.")
    assert world_pkn2.case.state == "withdrawn"


def test_an_incomplete_proposal_can_be_completed_and_submitted(app):
    from tests.factories import World

    world = World(complete=False)
    with pytest.raises(Blocked) as info:
        step(world, "submit", "trainee")
    with force_locale("en"):
        assert "There is no short-term milestone." in [str(r) for r in info.value.reasons]
    fill_proposal(world.case)
    db.session.commit()
    step(world, "submit", "trainee")
    assert world.case.state == "mentor_review"
