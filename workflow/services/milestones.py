"""Implementation: progress reports per milestone, covered units, evidence, and the mentor's
verification. Each is an activity of the definition, so it runs inside perform(): role
check, input check, audit event, notifications and one commit; a refusal writes nothing.

The handlers below validate what perform() cannot know (which milestone, which unit, the
files) and apply the change without committing.
"""

from __future__ import annotations

import math
from datetime import date

from flask_babel import lazy_gettext as _l

from ..engine.activities import ActivityContext, ActivityResult, activity
from ..models import Case, Milestone, MilestoneReport, UnitCoverage
from ..models._base import utcnow
from . import documents
from .calendar import add_working_days, local_date
from .errors import Blocked, Missing, NotAvailable
from .workflow import zone_and_days_off

NARRATIVE_MAX = 5000
NOTE_MAX = 2000
MAX_FILES = 10
REPORT_STATUSES = MilestoneReport.STATUSES
OPEN = ("planned", "in_progress", "returned")  # the trainee still has to report
INVALID = _l("Some fields need your attention.")

STATUS_LABELS = {
    "planned": _l("Planned"),
    "in_progress": _l("In progress"),
    "reported": _l("Reported, awaiting verification"),
    "verified": _l("Verified"),
    "returned": _l("Returned for correction"),
    "not_achieved": _l("Not achieved"),
}


# ---------------------------------------------------------------- reading


def today_for(case: Case) -> date:
    zone, _days_off = zone_and_days_off(case.cohort)
    return local_date(utcnow(), zone)


def next_due(m: Milestone) -> date | None:
    """The milestone's current deadline: none once closed; the target date until a report
    or a return set another."""
    if m.status in ("verified", "not_achieved"):
        return None
    return m.due_date or m.target_date


def due_role(m: Milestone) -> str | None:
    """Whose deadline it is: the mentor's while a report awaits verification."""
    if m.status in ("verified", "not_achieved"):
        return None
    return "mentor" if m.status == "reported" else "trainee"


def is_overdue(m: Milestone, today: date) -> bool:
    due = next_due(m)
    return due is not None and due < today


def progress_text(m: Milestone) -> str:
    """“14 of 15 kecamatan — remaining: Sukau” for coverage; “3 of 5 desa” otherwise."""
    if m.units:
        covered, total = len(m.coverages), len(m.units)
        unit = m.target_unit or _l("units")
        text = str(_l("%(done)d of %(total)d %(unit)s", done=covered, total=total, unit=unit))
        remaining = m.remaining_units
        if remaining:
            text += " — " + str(_l("remaining: %(units)s", units=", ".join(remaining)))
        return text
    if m.target_quantity is not None:
        done = m.achieved_quantity or 0
        text = str(
            _l(
                "%(done)s of %(total)s %(unit)s",
                done=f"{done:g}",
                total=f"{m.target_quantity:g}",
                unit=m.target_unit,
            )
        ).strip()
        if m.achieved_quantity is not None and m.achieved_quantity > m.target_quantity:
            text += " (" + str(_l("above target")) + ")"
        return text
    return ""


def returned_milestones(case: Case) -> list[Milestone]:
    """What the mentor sent back: shown on top of the trainee's page until reported again."""
    return [m for m in case.milestones if m.status == "returned"]


def awaiting_verification(case: Case) -> list[Milestone]:
    return [m for m in case.milestones if m.status == "reported"]


# ---------------------------------------------------------------- input


def _milestone(ctx: ActivityContext) -> Milestone:
    raw = ctx.raw.get("milestone_id")
    try:
        wanted = int(raw)
    except (TypeError, ValueError):
        raise Missing(_l("No such milestone in this case.")) from None
    for m in ctx.case.milestones:
        if m.id == wanted:
            return m
    raise Missing(_l("No such milestone in this case."))


def _refuse(errors: dict):
    raise Blocked(INVALID, list(errors.values()), errors)


def _text(raw, limit: int, name: str, errors: dict) -> str:
    if raw is not None and not isinstance(raw, str):
        errors[name] = _l("Must be text.")
        return ""
    value = (raw or "").replace("\x00", "").strip()
    if len(value) > limit:
        errors[name] = _l("Too long: at most %(n)d characters.", n=limit)
    return value


def _day(raw, name: str, errors: dict, today: date, default: date | None = None) -> date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is None:
            errors[name] = _l("Give the date.")
        return default
    try:
        value = date.fromisoformat(str(raw).strip())
    except ValueError:
        errors[name] = _l("Must be a date (YYYY-MM-DD).")
        return None
    if value > today:
        errors[name] = _l("The date cannot be in the future.")
    return value


def _quantity(raw, errors: dict) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        errors["achieved_quantity"] = _l("Must be a number.")
        return None
    try:
        value = float(str(raw).replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError, OverflowError):
        errors["achieved_quantity"] = _l("Must be a number.")
        return None
    if not math.isfinite(value):
        errors["achieved_quantity"] = _l("Must be a number.")
        return None
    if value < 0:
        errors["achieved_quantity"] = _l("Cannot be negative.")
        return None
    return value


def checked_uploads(ctx: ActivityContext, errors: dict) -> list:
    """Every file read and checked before anything is written; one bad file refuses all
    (milestone reports and follow-up reports alike)."""
    files = [f for f in ctx.files if f is not None and getattr(f, "filename", "")]
    if len(files) > MAX_FILES:
        errors["files"] = _l("At most %(n)d files at once.", n=MAX_FILES)
        return []
    checked = []
    for f in files:
        try:
            checked.append(documents.read_evidence(f))
        except documents.UploadRejected as exc:
            errors["files"] = exc.message
            return []
    return checked


def _stage(ctx: ActivityContext, uploads: list, **links) -> list:
    try:
        return [
            documents.stage_evidence(ctx.case, ctx.actor, upload, ctx.written, **links)
            for upload in uploads
        ]
    except documents.UploadRejected as exc:
        _refuse({"files": exc.message})


def _working_days_from(case: Case, today: date, days: int) -> date:
    _zone, days_off = zone_and_days_off(case.cohort)
    return add_working_days(today, days, days_off)


def _open_for_trainee(m: Milestone) -> None:
    if m.status == "verified":
        raise NotAvailable(_l("This milestone is verified already."))


# ---------------------------------------------------------------- handlers


@activity("report_progress")
def report_progress(ctx: ActivityContext) -> ActivityResult:
    """The trainee reports on a milestone: in progress, done (for verification) or not
    achieved (closed with an explanation). Files become evidence of this report."""
    m = _milestone(ctx)
    _open_for_trainee(m)
    case, raw, errors = ctx.case, ctx.raw, {}
    today = today_for(case)
    status = str(raw.get("status") or "").strip()
    if status not in REPORT_STATUSES:
        errors["status"] = _l("Choose a status.")
    narrative = _text(raw.get("narrative"), NARRATIVE_MAX, "narrative", errors)
    report_date = _day(raw.get("report_date"), "report_date", errors, today, default=today)
    quantity = _quantity(raw.get("achieved_quantity"), errors)
    if m.units:
        quantity = float(len(m.coverages))  # coverage counts the units marked covered
    if status in ("reported", "not_achieved") and not narrative:
        errors["narrative"] = (
            _l("Explain why the milestone was not achieved.")
            if status == "not_achieved"
            else _l("Describe what was done.")
        )
    missing_quantity = m.target_quantity is not None and not m.units and quantity is None
    if status == "reported" and missing_quantity and "achieved_quantity" not in errors:
        errors["achieved_quantity"] = _l("Give the quantity achieved.")
    uploads = checked_uploads(ctx, errors)
    if errors:
        _refuse(errors)

    report = MilestoneReport(
        case_id=case.id,
        number=len(m.reports) + 1,
        author_id=ctx.actor.id,
        status=status,
        achieved_quantity=quantity,
        narrative=narrative,
        report_date=report_date,
    )
    m.reports.append(report)
    docs = _stage(ctx, uploads, milestone_id=m.id, report=report)
    m.status = status
    if quantity is not None:
        m.achieved_quantity = quantity
    m.return_comment = ""
    m.closing_note = narrative if status == "not_achieved" else ""
    if status == "reported":
        m.due_date = _working_days_from(case, today, ctx.definition.milestones.verify_within)
    else:
        m.due_date = None  # in progress: the target date again; not achieved: closed
    m.updated_at = utcnow()
    return ActivityResult(
        data={
            "milestone_id": m.id,
            "milestone": m.activity,
            "status": status,
            "achieved_quantity": quantity,
            "report_date": report_date.isoformat(),
            "files": [d.original_name for d in docs],
        },
        link=[(report, "event_id")],
        notify=status != "in_progress",
    )


@activity("cover_unit")
def cover_unit(ctx: ActivityContext) -> ActivityResult:
    """Mark one unit of a coverage milestone covered, with its date and (optional) evidence."""
    m = _milestone(ctx)
    _open_for_trainee(m)
    case, raw, errors = ctx.case, ctx.raw, {}
    today = today_for(case)
    if not m.units:
        raise NotAvailable(_l("This milestone has no units to cover."))
    unit = str(raw.get("unit") or "").strip()
    if unit not in m.units:
        errors["unit"] = _l("“%(unit)s” is not one of this milestone's units.", unit=unit[:100])
    elif unit in m.covered_units:
        errors["unit"] = _l("“%(unit)s” is covered already.", unit=unit)
    covered_on = _day(raw.get("covered_on"), "covered_on", errors, today)
    note = _text(raw.get("note"), NOTE_MAX, "note", errors)
    uploads = checked_uploads(ctx, errors)
    if len(uploads) > 1:
        errors["files"] = _l("One evidence file per unit.")
    if errors:
        _refuse(errors)
    coverage = UnitCoverage(
        case_id=case.id,
        unit=unit,
        covered_on=covered_on,
        note=note,
        created_by_id=ctx.actor.id,
    )
    m.coverages.append(coverage)
    docs = _stage(ctx, uploads, milestone_id=m.id)
    if docs:
        coverage.document = docs[0]
    m.achieved_quantity = float(len(m.coverages))
    if m.status == "planned":
        m.status = "in_progress"
    m.updated_at = utcnow()
    return ActivityResult(
        data={
            "milestone_id": m.id,
            "milestone": m.activity,
            "unit": unit,
            "covered_on": covered_on.isoformat(),
            "files": [d.original_name for d in docs],
        },
        link=[(coverage, "event_id")],
        notify=False,
    )


@activity("uncover_unit")
def uncover_unit(ctx: ActivityContext) -> ActivityResult:
    """Undo a unit marked covered by mistake (its evidence stays with the milestone)."""
    m = _milestone(ctx)
    _open_for_trainee(m)
    unit = str(ctx.raw.get("unit") or "").strip()
    coverage = next((c for c in m.coverages if c.unit == unit), None)
    if coverage is None:
        _refuse({"unit": _l("“%(unit)s” is not marked covered.", unit=unit[:100])})
    m.coverages.remove(coverage)
    m.achieved_quantity = float(len(m.coverages))
    m.updated_at = utcnow()
    return ActivityResult(
        data={"milestone_id": m.id, "milestone": m.activity, "unit": unit}, notify=False
    )


def _latest_report(m: Milestone) -> MilestoneReport | None:
    return m.reports[-1] if m.reports else None


def _decide(ctx: ActivityContext, m: Milestone, decision: str) -> list:
    report = _latest_report(m)
    if report is None:
        return []
    report.decision = decision
    report.decided_by_id = ctx.actor.id
    report.decided_at = utcnow()
    report.decision_comment = ctx.comment
    return [(report, "decision_event_id")]


@activity("verify_milestone")
def verify_milestone(ctx: ActivityContext) -> ActivityResult:
    m = _milestone(ctx)
    if m.status != "reported":
        raise NotAvailable(_l("Only a reported milestone can be verified."))
    link = _decide(ctx, m, "verified")
    m.status = "verified"
    m.due_date = None
    m.return_comment = ""
    m.updated_at = utcnow()
    return ActivityResult(
        data={"milestone_id": m.id, "milestone": m.activity, "status": "verified"}, link=link
    )


@activity("return_milestone")
def return_milestone(ctx: ActivityContext) -> ActivityResult:
    m = _milestone(ctx)
    if m.status not in ("reported", "not_achieved"):
        raise NotAvailable(_l("Only a reported or closed milestone can be returned."))
    link = _decide(ctx, m, "returned")
    m.status = "returned"
    m.closing_note = ""
    m.return_comment = ctx.comment
    m.due_date = _working_days_from(
        ctx.case, today_for(ctx.case), ctx.definition.milestones.fix_within
    )
    m.updated_at = utcnow()
    return ActivityResult(
        data={"milestone_id": m.id, "milestone": m.activity, "status": "returned"}, link=link
    )
