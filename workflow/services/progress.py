"""Read-only views of the implementation phase: the milestone cards of one case, the mentor's
verification queue, the trainee's returned and due milestones.

Each function runs a fixed number of queries, whatever the number of cases, milestones,
reports or files: rows are eager-loaded, and "today" comes from the institution row loaded
with them (never one holiday query per case). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..engine import registry
from ..extensions import db
from ..models import Case, Cohort, Document, Milestone, MilestoneReport, Program, UnitCoverage
from ..models._base import utcnow
from ..permissions import _role_clause
from .calendar import local_date, working_days_between
from .milestones import OPEN, STATUS_LABELS, due_role, is_overdue, next_due, progress_text

TERM_ORDER = {"short": 0, "medium": 1, "long": 2}
# A milestone due within this many working days shows on the trainee's home.
DUE_SOON_WORKING_DAYS = 5
# Calendar days that surely contain DUE_SOON_WORKING_DAYS working days (weekends, Lebaran).
_DUE_SOON_CALENDAR_BOUND = 21


def ordered(milestones) -> list[Milestone]:
    """Short term first, then medium and long; the proposal's order within a term."""
    return sorted(milestones, key=lambda m: (TERM_ORDER.get(m.term, 9), m.position, m.id))


def today_in(zone: str) -> date:
    return local_date(utcnow(), zone)


def days_left(due: date | None, today: date, days_off=frozenset()) -> int | None:
    """Working days from today to the due date; negative once late."""
    if due is None:
        return None
    return working_days_between(today, due, days_off)


# ---------------------------------------------------------------- one case


@dataclass
class Card:
    """What one milestone card shows, computed once."""

    milestone: Milestone
    status_label: str
    progress: str
    above_target: bool
    due: date | None
    due_role: str | None
    overdue: bool
    days_left: int | None
    latest: MilestoneReport | None
    # Evidence of the milestone that no report or covered unit holds any more (a unit
    # marked covered by mistake and undone keeps its file).
    loose: list[Document] = field(default_factory=list)


def load_milestones(case: Case) -> list[Milestone]:
    """The case's milestones with their reports (authors, deciders, files) and covered units
    (files), in a fixed number of queries."""
    return list(
        db.session.scalars(
            select(Milestone)
            .where(Milestone.case_id == case.id)
            .options(
                selectinload(Milestone.reports).options(
                    selectinload(MilestoneReport.documents),
                    joinedload(MilestoneReport.author),
                    joinedload(MilestoneReport.decided_by),
                ),
                selectinload(Milestone.coverages).joinedload(UnitCoverage.document),
            )
            .order_by(Milestone.position, Milestone.id)
        )
    )


def _loose_evidence(case: Case, milestones: list[Milestone]) -> dict[int, list[Document]]:
    held = {c.document_id for m in milestones for c in m.coverages if c.document_id}
    docs = db.session.scalars(
        select(Document)
        .where(
            Document.case_id == case.id,
            Document.kind == "evidence",
            Document.report_id.is_(None),
            Document.milestone_id.is_not(None),
        )
        .order_by(Document.id)
    )
    loose: dict[int, list[Document]] = {}
    for d in docs:
        if d.id not in held:
            loose.setdefault(d.milestone_id, []).append(d)
    return loose


def above_target(m: Milestone) -> bool:
    return (
        not m.units
        and m.target_quantity is not None
        and m.achieved_quantity is not None
        and m.achieved_quantity > m.target_quantity
    )


def cards_of(case: Case, today: date, days_off=frozenset()) -> list[Card]:
    milestones = load_milestones(case)
    loose = _loose_evidence(case, milestones)
    cards = []
    for m in ordered(milestones):
        due = next_due(m)
        cards.append(
            Card(
                milestone=m,
                status_label=str(STATUS_LABELS.get(m.status, m.status)),
                progress=progress_text(m),
                above_target=above_target(m),
                due=due,
                due_role=due_role(m),
                overdue=is_overdue(m, today),
                days_left=days_left(due, today, days_off),
                latest=m.reports[-1] if m.reports else None,
                loose=loose.get(m.id, []),
            )
        )
    return cards


def short_term_summary(milestones) -> tuple[int, int]:
    """(closed, total) of the short-term milestones: what submit_report waits for."""
    short = [m for m in milestones if m.term == "short"]
    return sum(1 for m in short if m.is_closed), len(short)


# ---------------------------------------------------------------- across cases


def _states_admitting(activity_key: str):
    """SQL condition: the case's own definition admits `activity_key` in its state."""
    clauses = []
    for d in registry.all():
        act = d.activity(activity_key)
        if act is not None:
            clauses.append(
                and_(
                    Case.definition_key == d.key,
                    Case.definition_version == d.version,
                    Case.state.in_(act.states),
                )
            )
    return or_(*clauses) if clauses else false()


def _with_case(query):
    return query.options(
        contains_eager(Milestone.case).joinedload(Case.trainee),
        contains_eager(Milestone.case)
        .joinedload(Case.cohort)
        .joinedload(Cohort.program)
        .joinedload(Program.institution),
        selectinload(Milestone.reports).joinedload(MilestoneReport.decided_by),
    )


def _next_due_sql():
    return func.coalesce(Milestone.due_date, Milestone.target_date)


@dataclass
class Row:
    """One milestone in a list across cases (home, mentor queue)."""

    milestone: Milestone
    case: Case
    due: date | None
    overdue: bool
    days_left: int | None
    latest: MilestoneReport | None


def _row(m: Milestone, zone_today: dict[str, date]) -> Row:
    zone = m.case.cohort.program.institution.timezone
    today = zone_today.setdefault(zone, today_in(zone))
    due = next_due(m)
    return Row(
        milestone=m,
        case=m.case,
        due=due,
        overdue=is_overdue(m, today),
        # National holidays only: an institution's own days off would cost a query a case.
        days_left=days_left(due, today),
        latest=m.reports[-1] if m.reports else None,
    )


def awaiting_verification_for(user) -> list[Row]:
    """Reported milestones the user verifies as mentor (or as the mentor's Plt./Plh.
    today), in cases whose state admits verification; oldest deadline first. Two queries."""
    query = _with_case(
        select(Milestone)
        .join(Milestone.case)
        .where(
            Milestone.status == "reported",
            _role_clause(user, "mentor"),
            _states_admitting("verify_milestone"),
        )
        .order_by(_next_due_sql().is_(None), _next_due_sql(), Milestone.id)
    )
    zone_today: dict[str, date] = {}
    return [_row(m, zone_today) for m in db.session.scalars(query).unique()]


@dataclass
class TraineeMilestones:
    returned: list[Row]
    due: list[Row]


def trainee_milestones(user) -> TraineeMilestones:
    """The trainee's milestones returned by the mentor, and those still open that are late
    or due within DUE_SOON_WORKING_DAYS, in cases where they can still report. Two queries."""
    # Generous in SQL (any zone's today), exact in Python below.
    horizon = utcnow().date() + timedelta(days=_DUE_SOON_CALENDAR_BOUND)
    query = _with_case(
        select(Milestone)
        .join(Milestone.case)
        .where(
            Case.trainee_id == user.id,
            _states_admitting("report_progress"),
            Milestone.status.in_(OPEN),
            or_(Milestone.status == "returned", _next_due_sql() <= horizon),
        )
        .order_by(_next_due_sql(), Milestone.id)
    )
    zone_today: dict[str, date] = {}
    returned, due = [], []
    for m in db.session.scalars(query).unique():
        row = _row(m, zone_today)
        if m.status == "returned":
            returned.append(row)
        elif row.overdue or (row.days_left is not None and row.days_left <= DUE_SOON_WORKING_DAYS):
            due.append(row)
    return TraineeMilestones(returned=returned, due=due)
