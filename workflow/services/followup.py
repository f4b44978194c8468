"""Follow-up after graduation: a case closed as passed stays `completed` (its result is
final), and its medium- and long-term milestones are followed up there, as activities of
the definition (`follow_up:` section; report_follow_up, confirm_follow_up,
return_follow_up), so each step passes through perform(): roles, audit event,
notifications, one commit; a refusal writes nothing.

Rounds. At each horizon (6, 12 and 24 months after the case entered `completed`, per
definition) the alumnus reports: is the change action still running, where each followed
milestone stands (running, achieved, stopped; quantity against its target), a narrative,
evidence. A round is `upcoming` before its horizon, then `due` (the alumnus has
`report_within` working days), `reported` (the confirmer has `confirm_within`), `returned`
(the alumnus has `fix_within`), `confirmed`. A round never reported by the time the next
horizon opens is `missed`; after a confirmed "stopped", later rounds are `closed` (not
asked any more; the change action counts as stopped at every later horizon).

Who confirms. The mentor — the alumnus's direct superior — while their account is active
and they work in the alumnus's agency (either without an agency recorded counts as the
same). Once the mentor has moved (deactivated, or in another agency than the alumnus,
whoever of the two moved), the case's executive, the head of the unit that endorsed the
change action, confirms if their account is active; failing both, the cohort's organizers.

Contract used by the repository and the showcase (helper B): sustainability_of().
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..engine import registry
from ..engine.activities import ActivityContext, ActivityResult, activity
from ..engine.definitions import Definition, FollowUpRules
from ..extensions import db
from ..models import Case, Cohort, CohortMember, Milestone, Program, User
from ..models._base import MAX_ID, utcnow
from ..models.followup import FollowUpEvidence, FollowUpReport, FollowUpResult, FollowUpRound
from ..permissions import ROLE_LABELS
from . import documents
from .calendar import add_working_days, local_date
from .errors import Blocked, Forbidden, NotAvailable
from .milestones import checked_uploads
from .workflow import definition_of, zone_and_days_off

RUNNING, STOPPED = "running", "stopped"

NARRATIVE_MAX = 5000
NOTE_MAX = 2000
RESULT_STATUSES = FollowUpResult.STATUSES
INVALID = _l("Some fields need your attention.")
NOT_FOLLOWED = _l("This change action is not followed up: only a case closed as passed is.")

ROUND_LABELS = {
    "upcoming": _l("Not open yet"),
    "due": _l("Report due"),
    "reported": _l("Awaiting confirmation"),
    "returned": _l("Returned for correction"),
    "confirmed": _l("Confirmed"),
    "missed": _l("Not reported"),
    "closed": _l("Not asked: the change action stopped"),
}
RESULT_LABELS = {
    "running": _l("Still running"),
    "achieved": _l("Target reached"),
    "stopped": _l("Stopped"),
}
TERM_LABELS = {"short": _l("Short term"), "medium": _l("Medium term"), "long": _l("Long term")}
OPEN_FOR_ALUMNUS = ("due", "returned")
YES = ("yes", "true", "1", "on")
NO = ("no", "false", "0", "off")


# ---------------------------------------------------------------- calendar


def add_months(day: date, months: int) -> date:
    """The same day `months` later, the month's last day when it has no such day
    (31 August + 6 months = 28 or 29 February)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - February always has a 28th


def rules_of(case: Case, definition: Definition | None = None) -> FollowUpRules | None:
    """The case's follow-up rules when the case is followed up now (closed as passed on a
    definition with a `follow_up:` section), else None."""
    definition = definition or definition_of(case)
    rules = definition.follow_up
    if rules is None or case.state != rules.state:
        return None
    return rules


def completed_on(case: Case, zone: str) -> date:
    """The day the case closed as passed, in its institution's zone."""
    return local_date(case.state_entered_at, zone)


# ---------------------------------------------------------------- who confirms


def in_place(person: User | None, alumnus: User) -> bool:
    """Still the alumnus's superior: active, and in the alumnus's agency (when both have one)."""
    if person is None or not person.active:
        return False
    return (
        person.agency_id is None
        or alumnus.agency_id is None
        or (person.agency_id == alumnus.agency_id)
    )


def confirmer_role(case: Case) -> str:
    """mentor; the executive once the mentor has moved; the organizers if both are gone."""
    if in_place(case.mentor, case.trainee):
        return "mentor"
    if case.executive is not None and case.executive.active:
        return "executive"
    return "organizer"


# ---------------------------------------------------------------- rounds


@dataclass(frozen=True)
class Round:
    horizon: int
    opens_on: date
    status: str
    # The deadline in force: the alumnus's (upcoming/due/returned) or the confirmer's.
    due: date | None
    row: FollowUpRound | None

    @property
    def turn(self) -> str | None:
        """ "trainee", "confirmer" or None (nothing to do)."""
        if self.status in OPEN_FOR_ALUMNUS:
            return "trainee"
        if self.status == "reported":
            return "confirmer"
        return None

    @property
    def latest(self) -> FollowUpReport | None:
        return self.row.latest if self.row is not None else None

    def is_overdue(self, today: date) -> bool:
        return self.turn is not None and self.due is not None and self.due < today


def plan_rounds(
    rules: FollowUpRules,
    completed: date,
    rows: dict[int, FollowUpRound],
    today: date,
    days_off: frozenset[date] = frozenset(),
) -> list[Round]:
    """Every horizon's round, from the completion date and the rows reported so far. Pure:
    no query, so lists of many cases compute it from rows loaded together."""
    out: list[Round] = []
    stopped = False
    horizons = rules.horizons
    for i, horizon in enumerate(horizons):
        opens = add_months(completed, horizon)
        following = add_months(completed, horizons[i + 1]) if i + 1 < len(horizons) else None
        row = rows.get(horizon)
        if row is not None:
            status = row.status
            due = None if status == "confirmed" else row.due_date
        elif stopped:
            status, due = "closed", None
        elif today < opens:
            status, due = "upcoming", add_working_days(opens, rules.report_within, days_off)
        elif following is not None and today >= following:
            status, due = "missed", None
        else:
            status, due = "due", add_working_days(opens, rules.report_within, days_off)
        if row is not None and row.status == "confirmed" and not row.running:
            stopped = True
        out.append(Round(horizon, opens, status, due, row))
    return out


def rows_of(case_ids: Iterable[int]) -> dict[int, dict[int, FollowUpRound]]:
    """{case id: {horizon: round}} with reports, results and evidence: a fixed number of
    queries whatever the number of cases."""
    ids = sorted(set(case_ids))
    out: dict[int, dict[int, FollowUpRound]] = {i: {} for i in ids}
    if not ids:
        return out
    rows = db.session.scalars(
        select(FollowUpRound)
        .where(FollowUpRound.case_id.in_(ids))
        .options(
            selectinload(FollowUpRound.reports).options(
                selectinload(FollowUpReport.results),
                selectinload(FollowUpReport.documents),
                joinedload(FollowUpReport.author),
                joinedload(FollowUpReport.decided_by),
            )
        )
    )
    for row in rows:
        out[row.case_id][row.horizon] = row
    return out


@dataclass
class FollowUp:
    """A followed case as its pages show it."""

    case: Case
    rules: FollowUpRules
    completed: date
    today: date
    rounds: list[Round]
    confirmer: str
    milestones: list[Milestone]

    @property
    def current(self) -> Round | None:
        """The round someone must act on now (the earliest), else None."""
        return next((r for r in self.rounds if r.turn is not None), None)

    def round(self, horizon: int) -> Round | None:
        return next((r for r in self.rounds if r.horizon == horizon), None)


def follow_up_of(case: Case, rows: dict[int, FollowUpRound] | None = None) -> FollowUp | None:
    """The case's follow-up, or None when it is not followed up."""
    rules = rules_of(case)
    if rules is None:
        return None
    zone, days_off = zone_and_days_off(case.cohort)
    today = local_date(utcnow(), zone)
    completed = completed_on(case, zone)
    if rows is None:
        rows = rows_of([case.id])[case.id]
    return FollowUp(
        case=case,
        rules=rules,
        completed=completed,
        today=today,
        rounds=plan_rounds(rules, completed, rows, today, days_off),
        confirmer=confirmer_role(case),
        milestones=[m for m in case.milestones if m.term in rules.terms],
    )


# ---------------------------------------------------------------- input


def _refuse(errors: dict):
    raise Blocked(INVALID, list(errors.values()), errors)


def _horizon(ctx: ActivityContext, rules: FollowUpRules) -> int:
    raw = ctx.raw.get("horizon")
    try:
        horizon = int(str(raw).strip())
    except (TypeError, ValueError):
        horizon = None
    if horizon not in rules.horizons:
        _refuse(
            {
                "horizon": _l(
                    "Choose one of the follow-up horizons: %(list)s months.",
                    list=", ".join(str(h) for h in rules.horizons),
                )
            }
        )
    return horizon


def _text(raw, limit: int, name: str, errors: dict, required=None) -> str:
    if raw is not None and not isinstance(raw, str):
        errors[name] = _l("Must be text.")
        return ""
    value = (raw or "").replace("\x00", "").strip()
    if len(value) > limit:
        errors[name] = _l("Too long: at most %(n)d characters.", n=limit)
    elif required is not None and not value:
        errors[name] = required
    return value


def _yes_no(raw, name: str, errors: dict) -> bool | None:
    if isinstance(raw, bool):
        return raw
    value = str(raw or "").strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    errors[name] = _l("Say whether the change action is still running.")
    return None


def _report_date(raw, errors: dict, today: date, opens: date) -> date:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return today
    try:
        value = date.fromisoformat(str(raw).strip())
    except ValueError:
        errors["report_date"] = _l("Must be a date (YYYY-MM-DD).")
        return today
    if value > today:
        errors["report_date"] = _l("The date cannot be in the future.")
    elif value < opens:
        errors["report_date"] = _l("The date cannot be before the follow-up opened.")
    return value


def _quantity(raw, name: str, errors: dict) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        errors[name] = _l("Must be a number.")
        return None
    try:
        value = float(str(raw).replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError, OverflowError):
        errors[name] = _l("Must be a number.")
        return None
    if not math.isfinite(value):
        errors[name] = _l("Must be a number.")
        return None
    if value < 0:
        errors[name] = _l("Cannot be negative.")
        return None
    return value


def result_field(milestone_id: int, name: str) -> str:
    """The form's (and the error map's) name of one milestone's line of the report."""
    return f"result-{milestone_id}-{name}"


def _results(ctx: ActivityContext, followed: list[Milestone], running, errors: dict) -> list:
    """One line per followed milestone: {"status", "achieved_quantity", "note"} each."""
    raw = ctx.raw.get("results")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors["results"] = _l("Give a result for each milestone followed up.")
        return []
    known = {str(m.id) for m in followed}
    strange = [k for k in raw if str(k) not in known]
    if strange:
        errors["results"] = _l("No such milestone followed up in this case.")
    lines = []
    for m in followed:
        line = raw.get(str(m.id), raw.get(m.id)) or {}
        if not isinstance(line, dict):
            line = {}
        status = str(line.get("status") or "").strip()
        field = result_field(m.id, "status")
        if status not in RESULT_STATUSES:
            errors[field] = _l("Choose where this result stands.")
        elif status == "running" and running is False:
            errors[field] = _l(
                "The change action is reported stopped: this result cannot still be running."
            )
        quantity = _quantity(
            line.get("achieved_quantity"), result_field(m.id, "achieved_quantity"), errors
        )
        note = _text(line.get("note"), NOTE_MAX, result_field(m.id, "note"), errors)
        lines.append((m, status, quantity, note))
    return lines


def _not_open(rnd: Round) -> NotAvailable:
    if rnd.status == "upcoming":
        return NotAvailable(
            _l(
                "The %(n)d-month follow-up opens on %(day)s.",
                n=rnd.horizon,
                day=rnd.opens_on.isoformat(),
            )
        )
    if rnd.status == "reported":
        return NotAvailable(_l("This follow-up report awaits confirmation."))
    if rnd.status == "confirmed":
        return NotAvailable(_l("This follow-up is confirmed already."))
    if rnd.status == "missed":
        return NotAvailable(_l("This follow-up is closed: the next one is open."))
    return NotAvailable(_l("The change action was reported stopped: no more follow-up is asked."))


def _context(ctx: ActivityContext) -> tuple[FollowUp, Round]:
    case = ctx.case
    rules = rules_of(case, ctx.definition)
    if rules is None:
        raise NotAvailable(NOT_FOLLOWED)
    horizon = _horizon(ctx, rules)
    follow = follow_up_of(case)
    return follow, follow.round(horizon)


# ---------------------------------------------------------------- handlers


@activity("report_follow_up")
def report_follow_up(ctx: ActivityContext) -> ActivityResult:
    """The alumnus reports at one horizon; files become the report's evidence."""
    follow, rnd = _context(ctx)
    if rnd.status not in OPEN_FOR_ALUMNUS:
        raise _not_open(rnd)
    case, raw, errors = ctx.case, ctx.raw, {}
    running = _yes_no(raw.get("running"), "running", errors)
    narrative = _text(
        raw.get("narrative"),
        NARRATIVE_MAX,
        "narrative",
        errors,
        required=_l("Describe how the change action has gone since the last report."),
    )
    report_date = _report_date(raw.get("report_date"), errors, follow.today, rnd.opens_on)
    lines = _results(ctx, follow.milestones, running, errors)
    uploads = checked_uploads(ctx, errors)
    if errors:
        _refuse(errors)

    now = utcnow()
    row = rnd.row
    if row is None:
        row = FollowUpRound(case_id=case.id, horizon=rnd.horizon, running=bool(running))
        db.session.add(row)
    report = FollowUpReport(
        case_id=case.id,
        number=len(row.reports) + 1,
        author_id=ctx.actor.id,
        running=bool(running),
        narrative=narrative,
        report_date=report_date,
        created_at=now,
    )
    row.reports.append(report)
    for m, status, quantity, note in lines:
        report.results.append(
            FollowUpResult(milestone_id=m.id, status=status, achieved_quantity=quantity, note=note)
        )
    try:
        docs = [
            documents.stage_evidence(case, ctx.actor, upload, ctx.written) for upload in uploads
        ]
    except documents.UploadRejected as exc:
        _refuse({"files": exc.message})
    for doc in docs:
        db.session.add(FollowUpEvidence(report=report, document=doc))
    _zone, days_off = zone_and_days_off(case.cohort)
    row.status = "reported"
    row.running = bool(running)
    row.due_date = add_working_days(follow.today, follow.rules.confirm_within, days_off)
    row.updated_at = now
    return ActivityResult(
        data={
            "horizon": rnd.horizon,
            "running": bool(running),
            "report_date": report_date.isoformat(),
            "results": {str(m.id): status for m, status, _q, _n in lines},
            "files": [d.original_name for d in docs],
        },
        link=[(report, "event_id")],
        notify_roles=(follow.confirmer,),
    )


def _decide(ctx: ActivityContext, decision: str) -> tuple[FollowUp, Round, FollowUpReport]:
    follow, rnd = _context(ctx)
    if rnd.status != "reported" or rnd.latest is None:
        raise NotAvailable(_l("Only a follow-up report awaiting confirmation can be decided."))
    if follow.confirmer not in ctx.roles:
        raise Forbidden(
            _l(
                "This follow-up is confirmed by the %(role)s.",
                role=str(ROLE_LABELS.get(follow.confirmer, follow.confirmer)).lower(),
            )
        )
    report = rnd.latest
    report.decision = decision
    report.decided_as = follow.confirmer
    report.decided_by_id = ctx.actor.id
    report.decided_at = utcnow()
    report.decision_comment = ctx.comment
    return follow, rnd, report


@activity("confirm_follow_up")
def confirm_follow_up(ctx: ActivityContext) -> ActivityResult:
    follow, rnd, report = _decide(ctx, "confirmed")
    row = rnd.row
    row.status = "confirmed"
    row.confirmed_at = report.decided_at
    row.due_date = None
    row.updated_at = report.decided_at
    return ActivityResult(
        data={
            "horizon": rnd.horizon,
            "running": report.running,
            "status": "confirmed",
            "role": follow.confirmer,
        },
        link=[(report, "decision_event_id")],
    )


@activity("return_follow_up")
def return_follow_up(ctx: ActivityContext) -> ActivityResult:
    follow, rnd, report = _decide(ctx, "returned")
    _zone, days_off = zone_and_days_off(ctx.case.cohort)
    row = rnd.row
    row.status = "returned"
    row.due_date = add_working_days(follow.today, follow.rules.fix_within, days_off)
    row.updated_at = report.decided_at
    return ActivityResult(
        data={"horizon": rnd.horizon, "status": "returned", "role": follow.confirmer},
        link=[(report, "decision_event_id")],
    )


# ---------------------------------------------------------------- lists


def _followed_states() -> list:
    """SQL condition on Case: in the follow-up state of a definition that follows up."""
    clauses = [
        and_(
            Case.definition_key == d.key,
            Case.definition_version == d.version,
            Case.state == d.follow_up.state,
        )
        for d in registry.all()
        if d.follow_up is not None
    ]
    return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class Todo:
    case: Case
    round: Round
    overdue: bool


def _eager(query):
    return query.options(
        joinedload(Case.trainee),
        joinedload(Case.mentor),
        joinedload(Case.executive),
        joinedload(Case.cohort).joinedload(Cohort.program).joinedload(Program.institution),
        selectinload(Case.milestones),
    )


def todos_for(user: User) -> tuple[list[Todo], list[Todo]]:
    """(rounds the user must report on as alumnus, rounds the user must confirm): a fixed
    number of queries whatever the number of cases. An upcoming round shows from the day
    it opens."""
    if user is None or not getattr(user, "id", None):
        return [], []
    uid = user.id
    mine = list(
        db.session.scalars(_eager(select(Case).where(Case.trainee_id == uid, _followed_states())))
        .unique()
        .all()
    )
    organizing = set(
        db.session.scalars(
            select(CohortMember.cohort_id).where(
                CohortMember.user_id == uid, CohortMember.role == "organizer"
            )
        )
    )
    reported = select(FollowUpRound.case_id).where(FollowUpRound.status == "reported")
    confirming = list(
        db.session.scalars(
            _eager(
                select(Case).where(
                    Case.id.in_(reported),
                    _followed_states(),
                    (Case.mentor_id == uid)
                    | (Case.executive_id == uid)
                    | Case.cohort_id.in_(sorted(organizing) or [0]),
                )
            )
        )
        .unique()
        .all()
    )
    rows = rows_of([c.id for c in mine] + [c.id for c in confirming])
    calendars: dict[int, tuple[str, frozenset]] = {}
    report, confirm = [], []
    for case in mine:
        follow = _follow_with(case, rows[case.id], calendars)
        for rnd in follow.rounds if follow else ():
            if rnd.turn == "trainee":
                report.append(Todo(case, rnd, rnd.is_overdue(follow.today)))
    for case in confirming:
        follow = _follow_with(case, rows[case.id], calendars)
        if follow is None:
            continue
        role_held = {
            "mentor": case.mentor_id == uid,
            "executive": case.executive_id == uid,
            "organizer": case.cohort_id in organizing,
        }
        if not role_held[follow.confirmer]:
            continue
        for rnd in follow.rounds:
            if rnd.turn == "confirmer":
                confirm.append(Todo(case, rnd, rnd.is_overdue(follow.today)))
    key = lambda t: (t.round.due or date.max, t.case.id)  # noqa: E731
    return sorted(report, key=key), sorted(confirm, key=key)


def _follow_with(case: Case, rows, calendars: dict) -> FollowUp | None:
    """follow_up_of() with each institution's calendar looked up once."""
    rules = rules_of(case)
    if rules is None:
        return None
    if case.cohort_id not in calendars:
        calendars[case.cohort_id] = zone_and_days_off(case.cohort)
    zone, days_off = calendars[case.cohort_id]
    today = local_date(utcnow(), zone)
    completed = completed_on(case, zone)
    return FollowUp(
        case=case,
        rules=rules,
        completed=completed,
        today=today,
        rounds=plan_rounds(rules, completed, rows, today, days_off),
        confirmer=confirmer_role(case),
        milestones=[m for m in case.milestones if m.term in rules.terms],
    )


# ---------------------------------------------------------------- sustainability


def sustainability_of(case_ids: Iterable[int]) -> dict[int, str]:
    """{case id: RUNNING | STOPPED} from each case's latest confirmed follow-up report; a
    case without one is absent. One query whatever the number of cases."""
    ids = sorted({int(i) for i in case_ids if i is not None and 0 < int(i) <= MAX_ID})
    if not ids:
        return {}
    later = aliased(FollowUpRound)
    newer = (
        select(later.id)
        .where(
            later.case_id == FollowUpRound.case_id,
            later.status == "confirmed",
            later.horizon > FollowUpRound.horizon,
        )
        .exists()
    )
    rows = db.session.execute(
        select(FollowUpRound.case_id, FollowUpRound.running).where(
            FollowUpRound.case_id.in_(ids), FollowUpRound.status == "confirmed", ~newer
        )
    )
    return {case_id: RUNNING if running else STOPPED for case_id, running in rows}


def confirmed_rows(scope) -> list:
    """(case id, cohort id, horizon, running) of every confirmed round of the cases `scope`
    (an SQL condition on Case) admits, in one query."""
    return db.session.execute(
        select(Case.id, Case.cohort_id, FollowUpRound.horizon, FollowUpRound.running)
        .join(FollowUpRound, FollowUpRound.case_id == Case.id)
        .where(scope, FollowUpRound.status == "confirmed")
    ).all()


def confirmed_results(scope) -> list:
    """(case id, horizon, milestone term, result status) of the confirmed report of every
    confirmed round in `scope`, in one query."""
    return db.session.execute(
        select(Case.id, FollowUpRound.horizon, Milestone.term, FollowUpResult.status)
        .join(FollowUpRound, FollowUpRound.case_id == Case.id)
        .join(
            FollowUpReport,
            and_(
                FollowUpReport.round_id == FollowUpRound.id,
                FollowUpReport.decision == "confirmed",
            ),
        )
        .join(FollowUpResult, FollowUpResult.report_id == FollowUpReport.id)
        .join(Milestone, Milestone.id == FollowUpResult.milestone_id)
        .where(scope, FollowUpRound.status == "confirmed")
    ).all()


def followed_count(scope) -> list:
    """(cohort id, number of cases followed up) in `scope`, in one query."""
    return db.session.execute(
        select(Case.cohort_id, func.count(Case.id))
        .where(scope, _followed_states())
        .group_by(Case.cohort_id)
    ).all()
