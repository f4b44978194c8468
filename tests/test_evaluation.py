"""The evaluation service: score sheets on the rubric (drafts, validation, submission through
perform()), who sees which sheet, the result the finalize guards read, and the return of the
report reopening the sheets. Every refusal writes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import time_machine
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from tests.factories import fill_final_report, score_case, to_implementation
from workflow.engine.rubrics import load_rubric
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Case,
    Delegation,
    Milestone,
    MilestoneRating,
    Score,
    ScoreSheet,
)
from workflow.services import Blocked, Conflict, Forbidden, NotAvailable, perform
from workflow.services import evaluation as E

RUBRICS = Path(__file__).resolve().parent.parent / "state_machines" / "rubrics"
EXAMINER = ("substance", "results", "presentation")
COACH = ("process", "collaboration")
MENTOR = ("performance", "sustainability")


# ---------------------------------------------------------------- helpers


def to_evaluation(world) -> None:
    """Implementation, every milestone verified, a complete report, then submit_report."""
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    for m in world.case.milestones:
        m.status = "verified"
    db.session.commit()
    fill_final_report(world.case)
    perform(world.case, "submit_report", world.trainee)


@pytest.fixture
def evaluating(world):
    to_evaluation(world)
    return world


def counts() -> tuple:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (ScoreSheet, Score, MilestoneRating, AuditEvent)
    )


def scores(role_aspects, value) -> dict:
    return {k: {"value": value, "note": f"catatan {k}"} for k in role_aspects}


def rated(world, rating="sesuai") -> dict:
    return {m.id: {"rating": rating} for m in world.case.milestones if m.term == "short"}


def submit(world, role, aspects, value, **extra):
    return perform(
        world.case,
        "submit_scores",
        world.by_role(role),
        data={"role": role, "scores": scores(aspects, value), "ratings": rated(world), **extra},
    )


def en(value) -> str:
    with force_locale("en"):
        return str(value)


# ---------------------------------------------------------------- the math (no database)


PKA = load_rubric(RUBRICS / "pka.yaml")


def per_role(examiner, coach, mentor) -> dict:
    return {
        **dict.fromkeys(EXAMINER, examiner),
        **dict.fromkeys(COACH, coach),
        **dict.fromkeys(MENTOR, mentor),
    }


@pytest.mark.parametrize(
    ("values", "total", "predicate", "passed"),
    [
        (per_role(0, 0, 0), 0, "Tidak Memuaskan", False),
        (per_role(60, 60, 60), 60, "Tidak Memuaskan", False),  # a band edge: not above 60
        (per_role(60.5, 60.5, 60.5), 60.5, "Kurang Memuaskan", False),
        (per_role(69.99, 69.99, 69.99), 69.99, "Kurang Memuaskan", False),
        # At 70 the band is Kurang Memuaskan, and the pass is the band's: not passed.
        (per_role(70, 70, 70), 70, "Kurang Memuaskan", False),
        (per_role(70.01, 70.01, 70.01), 70.01, "Cukup Memuaskan", True),
        (per_role(80, 80, 80), 80, "Cukup Memuaskan", True),
        (per_role(80.5, 80.5, 80.5), 80.5, "Memuaskan", True),
        (per_role(90, 90, 90), 90, "Memuaskan", True),
        (per_role(90.01, 90.01, 90.01), 90.01, "Sangat Memuaskan", True),
        (per_role(100, 100, 100), 100, "Sangat Memuaskan", True),
        # 0.5 × 90 + 0.3 × 85 + 0.2 × 80
        (per_role(90, 85, 80), 86.5, "Memuaskan", True),
        # the examiner alone cannot carry it: 0.5 × 100 + 0.3 × 50 + 0.2 × 20 = 69
        (per_role(100, 50, 20), 69, "Kurang Memuaskan", False),
        # aspects weighed apart: 20·90 + 15·86 + 15·84 + 15·80 + 15·88 + 10·92.5 + 10·70
        (
            {
                "substance": 90,
                "results": 86,
                "presentation": 84,
                "process": 80,
                "collaboration": 88,
                "performance": 92.5,
                "sustainability": 70,
            },
            84.95,
            "Memuaskan",
            True,
        ),
    ],
)
def test_weighted_total_bands_and_pass_mark(values, total, predicate, passed):
    assert PKA.total(values) == total
    assert PKA.predicate(total).id == predicate
    assert PKA.passed(total) is passed
    by_role = {
        role: round(PKA.contribution({a.key: values[a.key] for a in PKA.aspects_for(role)}), 2)
        for role in PKA.roles
    }
    # Each role's points, rounded, add up to the total within a rounding step.
    assert sum(by_role.values()) == pytest.approx(total, abs=0.011)


# ---------------------------------------------------------------- drafts


def test_partial_drafts_then_submit(evaluating):
    world = evaluating
    m = world.case.milestones[0]
    events = counts()[3]
    v1 = E.save_draft(
        world.case, world.examiner, "examiner", scores={"substance": {"value": "85,5"}}
    )
    sheet = E.stored_sheet(world.case, "examiner")
    assert (v1, E.status_of(sheet), E.values_of(sheet)) == (1, "draft", {"substance": 85.5})
    v2 = E.save_draft(
        world.case,
        world.examiner,
        "examiner",
        scores={"results": {"value": 80, "note": "Bukti lengkap."}, "substance": {"value": ""}},
        ratings={str(m.id): {"rating": "melampaui", "note": "Di atas target."}},
        note="Catatan umum.",
        expected_version=v1,
    )
    assert v2 == v1 + 1
    sheet = E.stored_sheet(world.case, "examiner")
    assert E.values_of(sheet) == {"results": 80}  # an empty value clears one
    assert E.ratings_of(sheet) == {m.id: "melampaui"}
    assert sheet.note == "Catatan umum." and sheet.evaluator_id == world.examiner.id
    # Saving the same again changes nothing, not even the version.
    same = E.save_draft(world.case, world.examiner, "examiner", scores={"results": {"value": 80}})
    assert same == v2
    assert counts()[3] == events  # drafts are a private workspace: not audited
    # Submitting what is missing along with the click.
    event = perform(
        world.case,
        "submit_scores",
        world.examiner,
        data={
            "role": "examiner",
            "expected_sheet_version": v2,
            "scores": {"substance": {"value": 90}, "presentation": {"value": 84}},
        },
    )
    sheet = E.stored_sheet(world.case, "examiner")
    assert sheet.is_submitted and sheet.subtotal == 42.6  # (20·90 + 15·80 + 15·84) / 100
    assert (event.trigger, event.from_state, event.to_state) == (
        "submit_scores",
        "evaluation",
        "evaluation",
    )
    assert event.data == {
        "role": "examiner",
        "subtotal": 42.6,
        "scores": {"substance": 90.0, "results": 80.0, "presentation": 84.0},
        "ratings": {str(m.id): "melampaui"},
    }
    assert counts()[3] == events + 1


def _other_case_milestone(world):
    other = factories.World()
    return other.case.milestones[0].id


def _medium_milestone(world):
    m = Milestone(position=5, term="medium", activity="Replikasi", output="Perbup")
    world.case.milestones.append(m)
    db.session.commit()
    return m.id


BAD_DRAFTS = [
    # (id, input builder(world) -> kwargs, field key builder(world) -> key, message)
    ("negative", lambda w: {"scores": {"substance": {"value": -1}}}, "score-substance", "0 to 100"),
    (
        "above-100",
        lambda w: {"scores": {"substance": {"value": 100.5}}},
        "score-substance",
        "0 to 100",
    ),
    ("text", lambda w: {"scores": {"substance": {"value": "abc"}}}, "score-substance", "0 to 100"),
    (
        "not-finite",
        lambda w: {"scores": {"substance": {"value": "inf"}}},
        "score-substance",
        "0 to 100",
    ),
    (
        "boolean",
        lambda w: {"scores": {"substance": {"value": True}}},
        "score-substance",
        "0 to 100",
    ),
    ("other-role", lambda w: {"scores": {"process": {"value": 80}}}, "score-process", "not yours"),
    (
        "unknown",
        lambda w: {"scores": {"charisma": {"value": 80}}},
        "score-charisma",
        "no such aspect",
    ),
    (
        "bad-rating",
        lambda w: {"ratings": {w.case.milestones[0].id: {"rating": "bagus"}}},
        lambda w: f"rating-{w.case.milestones[0].id}",
        "Choose one of the ratings",
    ),
    (
        "other-case",
        lambda w: {"ratings": {_other_case_milestone(w): {"rating": "sesuai"}}},
        None,
        "not a short-term milestone of this case",
    ),
    (
        "medium-term",
        lambda w: {"ratings": {_medium_milestone(w): {"rating": "sesuai"}}},
        None,
        "not a short-term milestone of this case",
    ),
    (
        "note-too-long",
        lambda w: {"scores": {"substance": {"value": 80, "note": "x" * 2001}}},
        "note-substance",
        "Too long",
    ),
    ("scores-not-object", lambda w: {"scores": [80, 90]}, "scores", "Send an object"),
    ("note-not-text", lambda w: {"note": 12}, "note", "Must be text"),
]


@pytest.mark.parametrize(
    ("make", "key", "message"), [pytest.param(*r[1:], id=r[0]) for r in BAD_DRAFTS]
)
def test_bad_draft_input_writes_nothing(evaluating, make, key, message):
    world = evaluating
    # A good value sent along is not saved either: all or nothing.
    E.save_draft(world.case, world.examiner, "examiner", scores={"results": {"value": 70}})
    kwargs = make(world)
    if "scores" in kwargs and isinstance(kwargs["scores"], dict):
        kwargs["scores"] = {"presentation": {"value": 77}, **kwargs["scores"]}
    before, version = counts(), E.stored_sheet(world.case, "examiner").version
    with pytest.raises(Blocked) as err:
        E.save_draft(world.case, world.examiner, "examiner", **kwargs)
    db.session.rollback()
    if key is None:
        (key,) = err.value.fields
        assert key.startswith("rating-")
    elif callable(key):
        key = key(world)
    assert set(err.value.fields) == {key}
    assert message.lower() in en(err.value.fields[key]).lower()
    assert counts() == before
    sheet = E.stored_sheet(world.case, "examiner")
    assert sheet.version == version and E.values_of(sheet) == {"results": 70}


def test_the_score_message(evaluating):
    with pytest.raises(Blocked) as err:
        E.save_draft(
            evaluating.case,
            evaluating.examiner,
            "examiner",
            scores={"substance": {"value": "150"}},
        )
    assert en(err.value.fields["score-substance"]) == "The score must be a number from 0 to 100."
    assert en(E.NOT_YOURS) == "This aspect is not yours to score."


REFUSED = [
    # (id, who, role, setup, error of the draft save, error of the submission)
    ("stranger", "stranger", "examiner", None, Forbidden, Forbidden),
    ("trainee", "trainee", "examiner", None, Forbidden, Forbidden),
    ("organizer", "organizer", "examiner", None, Forbidden, Forbidden),
    ("coach-as-examiner", "coach", "examiner", None, Forbidden, Forbidden),
    ("unknown-role", "examiner", "organizer", None, Forbidden, Forbidden),
    ("submitted", "examiner", "examiner", "submit", NotAvailable, NotAvailable),
    ("stale-version", "examiner", "examiner", "draft", Conflict, Blocked),
    ("not-in-evaluation", "examiner", "examiner", "return", NotAvailable, NotAvailable),
]


@pytest.mark.parametrize(
    ("who", "role", "setup", "error", "submit_error"),
    [pytest.param(*r[1:], id=r[0]) for r in REFUSED],
)
def test_refused_saves_write_nothing(evaluating, who, role, setup, error, submit_error):
    world = evaluating
    expected = None
    if setup == "submit":
        submit(world, "examiner", EXAMINER, 80)
    elif setup == "draft":
        E.save_draft(world.case, world.examiner, "examiner", scores={"substance": {"value": 1}})
        expected = 0  # saved before the first save: stale now
    elif setup == "return":
        perform(world.case, "return_report", world.coach, comment="Lengkapi bukti.")
    before = counts()
    with pytest.raises(error):
        E.save_draft(
            world.case,
            world.by_role(who),
            role,
            scores={"substance": {"value": 80}},
            expected_version=expected,
        )
    db.session.rollback()
    assert counts() == before
    # Submitting is refused alike, through perform().
    with pytest.raises(submit_error):
        perform(world.case, "submit_scores", world.by_role(who), data={"role": role})
    db.session.rollback()
    assert counts() == before


def test_an_incomplete_submission_lists_what_is_missing(evaluating):
    world = evaluating
    m = world.case.milestones[0]
    E.save_draft(world.case, world.examiner, "examiner", scores={"substance": {"value": 88}})
    before = counts()
    with pytest.raises(Blocked) as err, force_locale("en"):
        perform(world.case, "submit_scores", world.examiner, data={"role": "examiner"})
    with force_locale("en"):
        assert [str(r) for r in err.value.reasons] == [
            "“Short-term results” has no score yet.",
            "“Presentation and command” has no score yet.",
            "Milestone “Menyusun pedoman” has no rating yet.",
        ]
    assert set(err.value.fields) == {"score-results", "score-presentation", f"rating-{m.id}"}
    db.session.rollback()
    assert counts() == before
    assert not E.stored_sheet(world.case, "examiner").is_submitted
    # Values sent with an incomplete submission are not kept either.
    with pytest.raises(Blocked):
        perform(
            world.case,
            "submit_scores",
            world.examiner,
            data={"role": "examiner", "scores": {"results": {"value": 70}}},
        )
    db.session.rollback()
    assert counts() == before
    assert E.values_of(E.stored_sheet(world.case, "examiner")) == {"substance": 88}


def test_submission_needs_the_role_when_several_are_held(evaluating):
    world = evaluating
    world.group.coach = world.examiner  # one person coaches and examines this group
    db.session.commit()
    before = counts()
    with pytest.raises(Blocked) as err:
        perform(world.case, "submit_scores", world.examiner, data={})
    assert "role" in err.value.fields
    db.session.rollback()
    assert counts() == before
    assert list(E.evaluator_roles(world.case, world.examiner)) == ["examiner", "coach"]


def test_a_stale_sheet_version_on_submit_is_a_conflict(evaluating):
    world = evaluating
    version = E.save_draft(
        world.case, world.coach, "coach", scores=scores(COACH, 80), ratings=rated(world)
    )
    E.save_draft(world.case, world.coach, "coach", note="Diubah di tab lain.")
    before = counts()
    with pytest.raises(Conflict):
        perform(
            world.case,
            "submit_scores",
            world.coach,
            data={"role": "coach", "expected_sheet_version": version},
        )
    db.session.rollback()
    assert counts() == before


# ---------------------------------------------------------------- visibility


def _admin(world):
    admin = factories.create_user(is_admin=True, institution_id=world.cohort.program.institution_id)
    db.session.commit()
    return admin


def _other_admin(world):
    admin = factories.create_user(is_admin=True)
    db.session.commit()
    return admin


VIEWERS = {
    "examiner": lambda w: w.examiner,
    "coach": lambda w: w.coach,
    "mentor": lambda w: w.mentor,
    "organizer": lambda w: w.organizer,
    "admin": _admin,
    "other-admin": _other_admin,
    "trainee": lambda w: w.trainee,
    "executive": lambda w: w.executive,
    "stranger": lambda w: w.stranger,
}

# The examiner submitted, the coach keeps a draft, the mentor has not started.
BEFORE = {
    "examiner": ["examiner"],  # own submitted; the coach's is a draft: never shown
    "coach": ["coach"],  # own draft only until it is submitted
    "mentor": [],
    "organizer": ["examiner"],
    "admin": ["examiner"],
    "other-admin": [],
    "trainee": [],
    "executive": [],
    "stranger": [],
}
# Then the coach submits: the coach now reads the examiner's; the mentor still nothing.
AFTER_COACH = {**BEFORE, "examiner": ["examiner", "coach"], "coach": ["examiner", "coach"]}
AFTER_COACH.update(organizer=["examiner", "coach"], admin=["examiner", "coach"])
# Finalized: everyone on the case reads every sheet.
EVERYONE = ["examiner", "coach", "mentor"]
FINALIZED = dict.fromkeys(VIEWERS, EVERYONE) | {"stranger": [], "other-admin": []}


def test_who_sees_which_sheet(evaluating):
    world = evaluating
    viewers = {name: make(world) for name, make in VIEWERS.items()}

    def seen() -> dict:
        return {
            name: [s.role for s in E.visible_sheets(world.case, user)]
            for name, user in viewers.items()
        }

    submit(world, "examiner", EXAMINER, 90)
    E.save_draft(world.case, world.coach, "coach", scores=scores(COACH, 85))
    assert seen() == BEFORE

    # The audit event of a submission carries the values: hidden where the sheet is.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.trigger == "submit_scores"))
    for name, user in viewers.items():
        data = E.score_event_filter(world.case, user)(event)
        assert ("scores" in data) == ("examiner" in BEFORE[name]), name
        assert data["role"] == "examiner"

    perform(
        world.case,
        "submit_scores",
        world.coach,
        data={"role": "coach", "ratings": rated(world)},
    )
    assert seen() == AFTER_COACH

    submit(world, "mentor", MENTOR, 80)
    perform(world.case, "finalize", world.organizer)
    assert world.case.state == "completed"
    assert seen() == FINALIZED
    assert E.result_visible(world.case, world.trainee)


def test_the_running_result_is_the_organizers_until_finalized(evaluating):
    world = evaluating
    submit(world, "examiner", EXAMINER, 90)
    for user in (world.trainee, world.examiner, world.mentor, world.stranger):
        assert not E.result_visible(world.case, user)
    assert E.result_visible(world.case, world.organizer)
    result = E.result_of(world.case)
    assert (result.by_role, result.missing, result.total, result.so_far) == (
        {"examiner": 45.0},
        ("coach", "mentor"),
        None,
        45.0,
    )


# ---------------------------------------------------------------- finalize


def test_finalize_names_the_roles_missing_and_writes_nothing(evaluating):
    world = evaluating
    submit(world, "coach", COACH, 85)
    E.save_draft(world.case, world.mentor, "mentor", scores=scores(MENTOR, 80))  # a draft
    before = counts()
    with pytest.raises(Blocked) as err, force_locale("en"):
        perform(world.case, "finalize", world.organizer)
    with force_locale("en"):
        assert [str(r) for r in err.value.reasons] == [
            "The examiner has not submitted the assessment.",
            "The mentor has not submitted the assessment.",
        ]
    db.session.rollback()
    assert counts() == before
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.final_score, case.predicate) == ("evaluation", None, None)


@pytest.mark.parametrize(
    ("values", "state", "score", "predicate"),
    [
        ((90, 85, 80), "completed", 86.5, "Memuaskan"),
        ((70, 70, 70), "not_passed", 70.0, "Kurang Memuaskan"),  # never "Lulus" beside it
        ((70.01, 70.01, 70.01), "completed", 70.01, "Cukup Memuaskan"),
        ((69.99, 69.99, 69.99), "not_passed", 69.99, "Kurang Memuaskan"),
        ((60, 65, 70), "not_passed", 63.5, "Kurang Memuaskan"),
        ((95, 92, 90), "completed", 93.1, "Sangat Memuaskan"),
    ],
)
def test_finalize_records_the_result(evaluating, values, state, score, predicate):
    world = evaluating
    score_case(world, values)
    result = E.result_of(world.case)
    assert (result.total, result.predicate.id, result.passed) == (
        score,
        predicate,
        state == "completed",
    )
    perform(world.case, "finalize", world.organizer)
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert (case.state, case.final_score, case.predicate) == (state, score, predicate)
    assert E.is_finalized(case)


# ---------------------------------------------------------------- return and delegation


def test_returning_the_report_reopens_the_sheets_with_their_values(evaluating):
    world = evaluating
    score_case(world, (90, 85, 80), roles=("examiner", "coach"), drafts=("mentor",))
    perform(world.case, "return_report", world.examiner, comment="Lengkapi bukti dukung.")
    sheets = {s.role: s for s in E.sheets_of(world.case)}
    assert {r: E.status_of(s) for r, s in sheets.items()} == dict.fromkeys(EVERYONE, "draft")
    assert all(s.subtotal is None for s in sheets.values())
    assert E.values_of(sheets["examiner"]) == dict.fromkeys(EXAMINER, 90)
    assert E.result_of(world.case).missing == ("examiner", "coach", "mentor")
    # While the trainee revises, nothing can be scored.
    with pytest.raises(NotAvailable):
        E.save_draft(world.case, world.examiner, "examiner", scores={"substance": {"value": 1}})
    db.session.rollback()
    perform(world.case, "submit_report", world.trainee)
    # Rescored from the kept values: one click each.
    for role in EVERYONE:
        perform(world.case, "submit_scores", world.by_role(role), data={"role": role})
    perform(world.case, "finalize", world.organizer)
    assert (world.case.state, world.case.final_score) == ("completed", 86.5)


@time_machine.travel("2026-06-10 03:00")
def test_an_acting_mentor_continues_and_submits_the_mentors_sheet(evaluating):
    world = evaluating
    plt = world.stranger
    E.save_draft(world.case, world.mentor, "mentor", scores={"performance": {"value": 88}})
    db.session.add(
        Delegation(
            principal_id=world.mentor.id,
            delegate_id=plt.id,
            role="mentor",
            kind="plt",
            starts_on=date(2026, 6, 1),
            ends_on=date(2026, 6, 30),
            created_by_id=world.mentor.id,
        )
    )
    db.session.commit()
    assert E.evaluator_roles(world.case, plt) == {"mentor": world.mentor.id}
    # The same sheet (one per role), with what the mentor typed.
    assert [s.role for s in E.visible_sheets(world.case, plt)] == ["mentor"]
    sheet = E.sheet_for(world.case, plt, "mentor")
    assert E.values_of(sheet) == {"performance": 88}
    E.save_draft(
        world.case,
        plt,
        "mentor",
        scores={"sustainability": {"value": 80}},
        ratings=rated(world),
        expected_version=sheet.version,
    )
    event = perform(world.case, "submit_scores", plt, data={"role": "mentor"})
    sheet = E.stored_sheet(world.case, "mentor")
    assert (sheet.evaluator_id, sheet.on_behalf_of_id) == (plt.id, world.mentor.id)
    assert event.on_behalf_of_id == world.mentor.id and event.actor_id == plt.id
    assert sheet.subtotal == 16.8  # (10·88 + 10·80) / 100
    assert db.session.scalar(select(func.count(ScoreSheet.id))) == 1
