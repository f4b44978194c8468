"""Guards and effects, registered by name so definitions can refer to them.

A guard returns the reasons it blocks, in words the user understands (empty: passes).
An effect changes the case as part of a transition; it never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

if TYPE_CHECKING:
    from ..models import Case
    from .definitions import Definition

Guard = Callable[["Case", "Definition"], list]
GUARDS: dict[str, Guard] = {}
EFFECTS: dict[str, Callable[[Case, Definition], None]] = {}


def guard(name: str):
    def register(fn: Guard) -> Guard:
        GUARDS[name] = fn
        return fn

    return register


def effect(name: str):
    def register(fn):
        EFFECTS[name] = fn
        return fn

    return register


@guard("proposal_complete")
def proposal_complete(case: Case, definition: Definition) -> list:
    reasons = []
    required = [
        ("title", _l("The title is empty.")),
        ("background_current", _l("The current condition is not described.")),
        ("background_ideal", _l("The ideal condition is not described.")),
        ("core_issue", _l("The core issue is empty.")),
        ("objective_short", _l("The short-term objective is empty.")),
        ("innovation", _l("The innovation (breakthrough) is not described.")),
    ]
    for attr, reason in required:
        if not (getattr(case, attr) or "").strip():
            reasons.append(reason)
    short = [m for m in case.milestones if m.term == "short"]
    if not short:
        reasons.append(_l("There is no short-term milestone."))
    window = (case.cohort.implementation_start, case.cohort.implementation_end)
    for m in short:
        if m.target_date is None:
            reasons.append(_l("Milestone “%(activity)s” has no target date.", activity=m.activity))
        elif not window[0] <= m.target_date <= window[1]:
            reasons.append(
                _l(
                    "Milestone “%(activity)s” is due outside the implementation window "
                    "(%(start)s – %(end)s).",
                    activity=m.activity,
                    start=window[0].isoformat(),
                    end=window[1].isoformat(),
                )
            )
    return reasons


@guard("short_term_milestones_closed")
def short_term_milestones_closed(case: Case, definition: Definition) -> list:
    return [
        _l(
            "Milestone “%(activity)s” is neither verified nor closed with an explanation.",
            activity=m.activity,
        )
        for m in case.milestones
        if m.term == "short" and not m.is_closed
    ]


@guard("final_report_complete")
def final_report_complete(case: Case, definition: Definition) -> list:
    """Everything submit_report still needs, at once: the short-term milestones not closed
    and the report sections not written, so the trainee sees the whole list."""
    # The report's sections and their wording belong to its service; imported here, at call
    # time, so the engine stays importable on its own.
    from ..services.final_report import missing_sections

    return [*short_term_milestones_closed(case, definition), *missing_sections(case)]


# Scoring: the evaluation service computes the result from the SUBMITTED score sheets;
# imported at call time, so the engine stays importable on its own.


def weighted_result(case: Case, definition: Definition) -> float | None:
    """The total once every role has submitted, else None."""
    if definition.scoring is None:
        return None
    from ..services.evaluation import result_of

    return result_of(case).total


@guard("all_scores_in")
def all_scores_in(case: Case, definition: Definition) -> list:
    if definition.scoring is None:
        return [_l("This workflow has no scoring.")]
    from ..services.evaluation import ROLE_MISSING, result_of

    return [ROLE_MISSING[role] for role in result_of(case).missing]


@guard("result_passed")
def result_passed(case: Case, definition: Definition) -> list:
    result = weighted_result(case, definition)
    if result is None or not definition.scoring.passed(result):
        return [_l("The result is below the pass mark.")]
    return []


@guard("result_failed")
def result_failed(case: Case, definition: Definition) -> list:
    result = weighted_result(case, definition)
    if result is None or definition.scoring.passed(result):
        return [_l("The result reaches the pass mark.")]
    return []


@effect("record_result")
def record_result(case: Case, definition: Definition) -> None:
    result = weighted_result(case, definition)
    case.final_score = result
    case.predicate = definition.scoring.predicate(result).id if result is not None else None


@effect("reopen_score_sheets")
def reopen_score_sheets(case: Case, definition: Definition) -> None:
    """The report goes back to the trainee: submitted sheets become drafts (values kept),
    so the evaluators rescore the report handed in again."""
    from ..services.evaluation import reopen_sheets

    reopen_sheets(case)


@effect("snapshot_proposal")
def snapshot_proposal(case: Case, definition: Definition) -> None:
    """Keep the proposal as submitted, so reviewers can diff against the previous one."""
    from .. import jobs, tasks
    from ..extensions import db
    from ..models import ProposalSnapshot

    # Numbered from 1; (case, number) is unique. Linking through `case` (not the
    # collection) leaves earlier snapshots unloaded and orders the versioned case UPDATE
    # before this INSERT, so a lost race fails as a version conflict.
    last = db.session.scalar(
        db.select(db.func.max(ProposalSnapshot.number)).where(ProposalSnapshot.case_id == case.id)
    )
    db.session.add(
        ProposalSnapshot(case=case, number=(last or 0) + 1, content=case.proposal_content())
    )
    jobs.after_commit(tasks.embed_case, case.id)  # issue 12: its similarity vectors


@effect("stamp_final_report")
def stamp_final_report(case: Case, definition: Definition) -> None:
    """Record when the final report was handed in (the row's version moves with it)."""
    from ..models._base import utcnow
    from ..services.final_report import stamp_submitted

    stamp_submitted(case, utcnow())


# Seminars: the state that holds one names its kind in the definition (`seminar:`).


def _open_seminar(case: Case, definition: Definition):
    """The latest seminar of the current state's kind still without an outcome."""
    from ..extensions import db
    from ..models import Seminar

    kind = definition.state(case.state).seminar
    if kind is None:
        return None
    return db.session.scalar(
        db.select(Seminar)
        .where(
            Seminar.case_id == case.id,
            Seminar.kind == kind,
            Seminar.status != "cancelled",
            Seminar.outcome.is_(None),
            # Of this stay: after a returned report the seminar held before does not count.
            Seminar.created_at >= case.state_entered_at,
        )
        .order_by(Seminar.starts_at.desc(), Seminar.id.desc())
        .limit(1)
    )


@guard("seminar_held")
def seminar_held(case: Case, definition: Definition) -> list:
    seminar = _open_seminar(case, definition)
    if seminar is None:
        return [_l("No seminar is scheduled yet.")]
    if seminar.status != "held":
        return [_l("The seminar has not been held yet: record the attendance first.")]
    return []


def _set_outcome(outcome: str):
    def apply(case: Case, definition: Definition) -> None:
        from ..models._base import utcnow

        seminar = _open_seminar(case, definition)
        if seminar is not None:
            seminar.outcome = outcome
            seminar.updated_at = utcnow()

    return apply


EFFECTS["seminar_outcome_passed"] = _set_outcome("passed")
EFFECTS["seminar_outcome_fixes"] = _set_outcome("passed_with_fixes")
EFFECTS["seminar_outcome_failed"] = _set_outcome("failed")


@guard("no_scores_submitted")
def no_scores_submitted(case: Case, definition: Definition) -> list:
    """Sheets submitted on one rubric cannot be carried to another version's rubric."""
    if any(sheet.submitted_at is not None for sheet in case.score_sheets):
        return [
            _l(
                "Assessments were already submitted on this version's rubric: "
                "finalize the result on this version."
            )
        ]
    return []
