"""Evaluation: each evaluator's score sheet on the definition's rubric (aspect scores 0–100
and, where the role's component says so, a rating per short-term milestone), saved as a
private draft, then submitted through perform() (activity `submit_scores`, audited); who
may see which sheet; the result the finalize guards and the pages read (with each rubric
component's points); and the cases whose result awaits finalizing.

Components: one sheet per role; a role scores in one component (e.g. the organizer's
sikap perilaku, written in any open state, or the panel's aksi perubahan, only in
evaluation: the rubric component's `states`).

Versions: a ScoreSheet carries its own optimistic lock, so an evaluator typing does not
disturb the case (nor the other evaluators). A save names the sheet version it was based
on (0 while no sheet is stored; None: unchecked); a mismatch is a Conflict and writes
nothing. A submitted sheet is read-only until the report is returned (`return_report`
reopens the sheets of the components `reopened_on_return` as drafts, values kept).

Visibility (visible_sheets, one rule for web and API):
- an evaluator sees their own sheet(s), drafts included; once all of their own are
  submitted, also the others' SUBMITTED sheets (never a draft);
- the organizer of the cohort and the institution's admin see the submitted sheets;
- everyone else on the case (the trainee first) sees the submitted sheets once the result
  is finalized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..engine import registry
from ..engine.activities import ActivityContext, ActivityResult, activity
from ..engine.definitions import Definition, Labels
from ..engine.rubrics import SCORING_ROLES, Component, Rubric
from ..extensions import db
from ..models import Case, Milestone, MilestoneRating, Score, ScoreSheet, User
from ..models._base import utcnow
from ..permissions import _role_clause, roles_and_principals
from .errors import Blocked, Conflict, Forbidden, NotAvailable
from .workflow import definition_of, versioned_write

NOTE_MAX = 5000  # the sheet's general note
ITEM_NOTE_MAX = 2000  # the note beside one score or rating
# Keys of the audit data of `submit_scores` that only readers of the sheet may see.
SCORE_EVENT_KEYS = ("subtotal", "scores", "ratings")

NO_RUBRIC = _l("This workflow has no scoring.")
NOT_EVALUATOR = _l("You do not assess this case in this role.")
NOT_OPEN = _l("The assessment is open only while the case is in evaluation.")
SUBMITTED = _l("This assessment has been submitted; it can no longer be changed.")
STALE = _l("This assessment was changed in another tab or window; reload to see the latest.")
INVALID = _l("Some fields need your attention.")
INCOMPLETE = _l("The assessment is not complete yet.")
NOT_YOURS = _l("This aspect is not yours to score.")
NO_ASPECT = _l("There is no such aspect in the rubric.")
BAD_RATING = _l("Choose one of the ratings.")
NOT_MILESTONE = _l("This is not a short-term milestone of this case.")
NO_MILESTONE_RATING = _l("This assessment does not rate the milestones.")
NEED_SCORE = _l("Give a score.")
NEED_RATING = _l("Choose a rating.")
NOT_TEXT = _l("Must be text.")
BAD_SHAPE = _l("Send an object.")

ROLE_MISSING = {
    "examiner": _l("The examiner has not submitted the assessment."),
    "coach": _l("The coach has not submitted the assessment."),
    "mentor": _l("The mentor has not submitted the assessment."),
    "organizer": _l("The organizer has not submitted the sikap perilaku assessment."),
}
STATUS_LABELS = {
    "not_started": _l("Not started"),
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
}


def _lang() -> str:
    return str(get_locale() or "id")


def _too_long(n: int):
    return _l("Too long: at most %(n)d characters.", n=n)


def bad_score(rubric: Rubric):
    return _l(
        "The score must be a number from %(low)s to %(high)s.",
        low=f"{rubric.scale.min:g}",
        high=f"{rubric.scale.max:g}",
    )


# ---------------------------------------------------------------- reading


def rubric_of(case: Case) -> Rubric:
    rubric = definition_of(case).scoring
    if rubric is None:
        raise NotAvailable(NO_RUBRIC)
    return rubric


def is_open(case: Case, role: str | None = None) -> bool:
    """Sheets can be written now: the case is where submit_scores is available and, for
    `role`, where the rubric opens the role's component (any component without a role)."""
    definition = definition_of(case)
    spec = definition.activity("submit_scores")
    if spec is None or case.state not in spec.states or definition.scoring is None:
        return False
    rubric = definition.scoring
    roles = [role] if role is not None else rubric.roles
    return any(rubric.open_for(r, case.state) for r in roles)


def in_evaluation(case: Case) -> bool:
    """The case is where every component can be scored (the seminar laporan / evaluation):
    the assessment panel belongs on the case page then."""
    definition = definition_of(case)
    rubric = definition.scoring
    return (
        rubric is not None
        and is_open(case)
        and all(rubric.open_for(r, case.state) for r in rubric.roles)
    )


def is_finalized(case: Case) -> bool:
    """The result is recorded and the case closed (completed / not passed)."""
    return case.final_score is not None and definition_of(case).state(case.state).terminal


def short_term(case: Case) -> list[Milestone]:
    return [m for m in case.milestones if m.term == "short"]


def evaluator_roles(case: Case, user: User | None) -> dict[str, int | None]:
    """{role: principal id when acting as Plt./Plh., else None} for each rubric role the
    user holds on this case, in the rubric's order."""
    rubric = definition_of(case).scoring
    if rubric is None or user is None or not getattr(user, "id", None):
        return {}
    own, acting = roles_and_principals(user, case, among=set(rubric.roles))
    return {r: (None if r in own else acting[r]) for r in rubric.roles if r in own or r in acting}


def is_overseer(case: Case, user: User | None, roles: set[str] | None = None) -> bool:
    """The cohort's organizer, or an admin of the case's institution."""
    if user is None or not getattr(user, "id", None):
        return False
    if roles is None:
        own, acting = roles_and_principals(user, case, among={"organizer"})
        roles = own | set(acting)
    if "organizer" in roles:
        return True
    program = case.cohort.program
    return bool(
        user.is_admin
        and user.institution_id is not None
        and program is not None
        and program.institution_id == user.institution_id
    )


def sheets_of(case: Case, *, submitted_only: bool = False, people: bool = True) -> list[ScoreSheet]:
    """The case's sheets in the rubric's role order, their scores and ratings loaded (and
    their evaluators, unless `people` is False), a fixed number of queries."""
    loads = [selectinload(ScoreSheet.scores), selectinload(ScoreSheet.ratings)]
    if people:
        loads += [selectinload(ScoreSheet.evaluator), selectinload(ScoreSheet.on_behalf_of)]
    query = select(ScoreSheet).where(ScoreSheet.case_id == case.id).options(*loads)
    if submitted_only:
        query = query.where(ScoreSheet.submitted_at.is_not(None))
    order = {r: i for i, r in enumerate(SCORING_ROLES)}
    return sorted(db.session.scalars(query), key=lambda s: (order.get(s.role, 99), s.id))


def stored_sheet(case: Case, role: str) -> ScoreSheet | None:
    return next((s for s in sheets_of(case) if s.role == role), None)


def version_of(sheet: ScoreSheet | None) -> int:
    """The sheet version a save must name: 0 while nothing is stored."""
    return sheet.version if sheet is not None and sheet.id is not None else 0


def status_of(sheet: ScoreSheet | None) -> str:
    if sheet is None or sheet.id is None:
        return "not_started"
    return "submitted" if sheet.is_submitted else "draft"


def values_of(sheet: ScoreSheet | None) -> dict[str, float]:
    """The aspect scores given so far (aspects without a value left out)."""
    if sheet is None:
        return {}
    return {s.aspect: s.value for s in sheet.scores if s.value is not None}


def ratings_of(sheet: ScoreSheet | None) -> dict[int, str]:
    if sheet is None:
        return {}
    return {r.milestone_id: r.rating for r in sheet.ratings if r.rating}


def _sheet_and_holder(case: Case, actor: User, role: str) -> tuple[ScoreSheet, int | None]:
    rubric = rubric_of(case)
    held = evaluator_roles(case, actor) if role in rubric.roles else {}
    if role not in held:
        raise Forbidden(NOT_EVALUATOR)
    sheet = stored_sheet(case, role)
    if sheet is None:
        sheet = ScoreSheet(
            case_id=case.id,
            role=role,
            evaluator_id=actor.id,
            on_behalf_of_id=held[role],
            rubric_key=rubric.key,
            note="",
        )
    return sheet, held[role]


def sheet_for(case: Case, actor: User, role: str) -> ScoreSheet:
    """The sheet `actor` writes for `role` on this case: the stored one (whoever started it:
    the mentor and their Plt. continue the same sheet) or a new one, not yet added to the
    session (it is stored on the first save). Forbidden unless the actor holds the role
    (own or acting) and the rubric has aspects for it."""
    return _sheet_and_holder(case, actor, role)[0]


def visible_sheets(case: Case, user: User | None) -> list[ScoreSheet]:
    """The sheets `user` may read on this case (see the module's visibility rule), in the
    rubric's role order, with their scores and ratings loaded."""
    if user is None or not getattr(user, "id", None) or definition_of(case).scoring is None:
        return []
    own, acting = roles_and_principals(user, case)
    roles = own | set(acting)
    rubric = definition_of(case).scoring
    mine = {r for r in rubric.roles if r in roles}
    sheets = sheets_of(case)
    by_role = {s.role: s for s in sheets}
    submitted = {r for r, s in by_role.items() if s.is_submitted}
    others_ok = _reads_others(case, user, roles, mine, submitted)
    return [s for s in sheets if s.role in mine or (s.is_submitted and others_ok)]


def _reads_others(case: Case, user: User, roles: set, mine: set, submitted: set) -> bool:
    """May `user` read the others' submitted sheets: their own all submitted, or the
    organizer (admin), or anyone on the case once the result is finalized."""
    return (
        (bool(mine) and mine <= submitted)
        or is_overseer(case, user, roles)
        or (is_finalized(case) and bool(roles))
    )


def score_event_filter(case: Case, user: User | None) -> Callable[[object], dict]:
    """For the case timeline and the events API: an audit event's data as `user` may read
    it. A submitted assessment's values (subtotal, scores, ratings) show only to readers of
    that role's submitted sheet; the rest of the data shows as recorded."""
    readable = None

    def data_of(event) -> dict:
        nonlocal readable
        data = dict(event.data or {})
        if event.trigger != "submit_scores":
            return data
        if readable is None:
            rubric = definition_of(case).scoring
            readable = set()
            if rubric is not None and user is not None:
                own, acting = roles_and_principals(user, case)
                roles = own | set(acting)
                mine = {r for r in rubric.roles if r in roles}
                submitted = {s.role for s in sheets_of(case, submitted_only=True, people=False)}
                if _reads_others(case, user, roles, mine, submitted):
                    readable = set(rubric.roles)
                else:
                    readable = mine
        if data.get("role") not in readable:
            for key in SCORE_EVENT_KEYS:
                data.pop(key, None)
        return data

    return data_of


@dataclass(frozen=True)
class ComponentResult:
    """One rubric component's points from the submitted sheets of its roles."""

    key: str
    labels: Labels
    weight: float
    roles: tuple[str, ...]
    by_role: dict[str, float]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def points(self) -> float | None:
        """The component's subtotal once every role of it is in, else None."""
        return self.so_far if self.complete else None

    @property
    def so_far(self) -> float:
        return round(sum(self.by_role.values()), 2)


@dataclass(frozen=True)
class Result:
    """The result from the SUBMITTED sheets: each role's weighted points, each component's
    subtotal, the total once every role is in, its predicate and whether it passes (both
    from the total's band). A total passes when above `pass_mark`."""

    pass_mark: float
    weights: dict[str, float]
    by_role: dict[str, float] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    total: float | None = None
    predicate: Labels | None = None
    passed: bool | None = None
    components: tuple[ComponentResult, ...] = ()
    # The label of the lowest band that passes ("Cukup Memuaskan"), for the pass rule.
    passing_from: Labels | None = None

    @property
    def complete(self) -> bool:
        return self.total is not None

    @property
    def so_far(self) -> float:
        """The points of the roles in (what the total is while some are missing)."""
        return round(sum(self.by_role.values()), 2)


def result_of(case: Case) -> Result:
    rubric = rubric_of(case)
    values: dict[str, float] = {}
    by_role: dict[str, float] = {}
    for sheet in sheets_of(case, submitted_only=True, people=False):
        if sheet.role not in rubric.roles:
            continue
        mine = values_of(sheet)
        wanted = [a.key for a in rubric.aspects_for(sheet.role)]
        if any(k not in mine for k in wanted):
            continue  # not complete (the rubric changed?): as good as not submitted
        role_values = {k: mine[k] for k in wanted}
        values.update(role_values)
        by_role[sheet.role] = round(rubric.contribution(role_values), 2)
    missing = tuple(r for r in rubric.roles if r not in by_role)
    total = rubric.total(values) if not missing else None
    return Result(
        pass_mark=rubric.pass_mark,
        weights=rubric.weights,
        by_role=by_role,
        missing=missing,
        total=total,
        predicate=rubric.predicate(total) if total is not None else None,
        passed=rubric.passed(total) if total is not None else None,
        components=tuple(_component_result(rubric, c, by_role) for c in rubric.components),
        passing_from=rubric.lowest_passing_band.labels,
    )


def _component_result(rubric: Rubric, component: Component, by_role: dict) -> ComponentResult:
    roles = rubric.roles_of(component)
    return ComponentResult(
        key=component.key,
        labels=component.labels,
        weight=component.weight,
        roles=roles,
        by_role={r: by_role[r] for r in roles if r in by_role},
        missing=tuple(r for r in roles if r not in by_role),
    )


def result_visible(case: Case, user: User | None) -> bool:
    """The running result is the organizer's (and admin's); once finalized, everyone's on
    the case."""
    if user is None or not getattr(user, "id", None):
        return False
    own, acting = roles_and_principals(user, case)
    roles = own | set(acting)
    if is_overseer(case, user, roles):
        return True
    return is_finalized(case) and bool(roles)


# ---------------------------------------------------------------- input


def _number(raw, rubric: Rubric) -> tuple[float | None, bool]:
    """(value, ok): None for empty input (a draft may leave it open)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, True
    if isinstance(raw, bool):
        return None, False
    if isinstance(raw, str):
        text = raw.strip().replace(",", ".")
        if len(text) > 20:
            return None, False
        try:
            value = float(text)
        except ValueError:
            return None, False
    elif isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:
            return None, False
    else:
        return None, False
    if not math.isfinite(value) or not rubric.on_scale(value):
        return None, False
    return value, True


def _note(raw, limit: int, key: str, errors: dict) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors[key] = NOT_TEXT
        return None
    value = raw.replace("\x00", "").strip()
    if len(value) > limit:
        errors[key] = _too_long(limit)
    return value


def _entry(raw, value_key: str) -> dict:
    """An item as {value_key: …, "note": …}; a bare value stands for its value."""
    if isinstance(raw, dict):
        return raw
    return {value_key: raw}


def _safe_key(raw) -> str:
    return "".join(ch for ch in str(raw)[:40] if ch.isalnum() or ch in "_-")


@dataclass
class Cleaned:
    scores: dict[str, dict] = field(default_factory=dict)  # aspect -> {"value"?, "note"?}
    ratings: dict[int, dict] = field(default_factory=dict)  # milestone id -> {"rating"?, ...}
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not self.scores and not self.ratings and self.note is None


def clean_input(case: Case, rubric: Rubric, role: str, scores, ratings, note) -> Cleaned:
    """Every value checked before anything is written; Blocked names each bad field:
    `score-<aspect>`, `note-<aspect>`, `rating-<milestone id>`, `rating-note-<milestone
    id>`, `note`, or `scores` / `ratings` for a body of the wrong shape."""
    errors: dict[str, object] = {}
    cleaned = Cleaned()
    if scores is not None and not isinstance(scores, dict):
        errors["scores"] = BAD_SHAPE
        scores = None
    if ratings is not None and not isinstance(ratings, dict):
        errors["ratings"] = BAD_SHAPE
        ratings = None
    for raw_key, raw in (scores or {}).items():
        key = str(raw_key)
        aspect = rubric.aspect(key)
        field_key = f"score-{_safe_key(key)}"
        if aspect is None:
            errors[field_key] = NO_ASPECT
            continue
        if aspect.role != role:
            errors[field_key] = NOT_YOURS
            continue
        item = _entry(raw, "value")
        clean: dict = {}
        if "value" in item:
            value, ok = _number(item["value"], rubric)
            if not ok:
                errors[field_key] = bad_score(rubric)
            clean["value"] = value
        if "note" in item:
            text = _note(item["note"], ITEM_NOTE_MAX, f"note-{key}", errors)
            clean["note"] = text or ""
        cleaned.scores[key] = clean
    milestones = {m.id: m for m in short_term(case)} if rubric.rates_milestones(role) else {}
    allowed = rubric.rating_keys()
    for raw_key, raw in (ratings or {}).items():
        field_key = f"rating-{_safe_key(raw_key)}"
        if not rubric.rates_milestones(role):
            errors[field_key] = NO_MILESTONE_RATING
            continue
        try:
            mid = int(str(raw_key).strip())
        except ValueError:
            mid = None
        if mid is None or mid not in milestones:
            errors[field_key] = NOT_MILESTONE
            continue
        item = _entry(raw, "rating")
        clean = {}
        if "rating" in item:
            rating = item["rating"]
            if rating is None or (isinstance(rating, str) and not rating.strip()):
                clean["rating"] = None
            elif isinstance(rating, str) and rating.strip() in allowed:
                clean["rating"] = rating.strip()
            else:
                errors[field_key] = BAD_RATING
        if "note" in item:
            text = _note(item["note"], ITEM_NOTE_MAX, f"rating-note-{mid}", errors)
            clean["note"] = text or ""
        cleaned.ratings[mid] = clean
    cleaned.note = _note(note, NOTE_MAX, "note", errors)
    if errors:
        raise Blocked(INVALID, list(errors.values()), errors)
    return cleaned


def _merge(rows: dict, items: dict, make, field: str) -> bool:
    """Write each item's `field` and note into its row (made when something is given);
    True when anything changed."""
    changed = False
    for key, item in items.items():
        row = rows.get(key)
        if row is None:
            if item.get(field) is None and not item.get("note"):
                continue
            row = make(key)
            changed = True
        if field in item and getattr(row, field) != item[field]:
            setattr(row, field, item[field])
            changed = True
        if "note" in item and (row.note or "") != item["note"]:
            row.note = item["note"]
            changed = True
    return changed


def _apply(sheet: ScoreSheet, cleaned: Cleaned) -> bool:
    """Merge the cleaned input into the sheet; True when anything changed."""

    def new_score(aspect: str) -> Score:
        row = Score(aspect=aspect, value=None, note="")
        sheet.scores.append(row)
        return row

    def new_rating(mid: int) -> MilestoneRating:
        row = MilestoneRating(milestone_id=mid, rating=None, note="")
        sheet.ratings.append(row)
        return row

    changed = _merge({s.aspect: s for s in sheet.scores}, cleaned.scores, new_score, "value")
    ratings = {r.milestone_id: r for r in sheet.ratings}
    changed = _merge(ratings, cleaned.ratings, new_rating, "rating") or changed
    if cleaned.note is not None and (sheet.note or "") != cleaned.note:
        sheet.note = cleaned.note
        changed = True
    return changed


def _writable(
    case: Case, actor: User, role: str, expected_version: int | None
) -> tuple[ScoreSheet, int | None]:
    sheet, on_behalf = _sheet_and_holder(case, actor, role)
    if not is_open(case, role):
        raise NotAvailable(NOT_OPEN)
    if sheet.is_submitted:
        raise NotAvailable(SUBMITTED)
    if expected_version is not None and expected_version != version_of(sheet):
        raise Conflict(STALE)
    return sheet, on_behalf


def _stamp_writer(sheet: ScoreSheet, actor: User, on_behalf: int | None) -> None:
    """The last writer is the sheet's evaluator (a Plt. continuing the mentor's sheet)."""
    sheet.evaluator_id = actor.id
    sheet.on_behalf_of_id = on_behalf
    sheet.updated_at = utcnow()  # also makes the versioned UPDATE of the sheet row


# ---------------------------------------------------------------- writing


def save_draft(
    case: Case,
    actor: User,
    role: str,
    scores: dict | None = None,
    ratings: dict | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> int:
    """Save any part of the actor's sheet for `role` as a draft (not audited: a private
    workspace). scores {aspect: {"value": number|text|None, "note": text}}, ratings
    {milestone id: {"rating": key|None, "note": text}}; what is not sent stays as it was,
    an empty value clears one. Returns the sheet's version (unchanged when nothing
    changed). Raises Forbidden, NotAvailable (not in evaluation, or submitted), Conflict
    (stale version) or Blocked (.fields), having written nothing."""
    rubric = rubric_of(case)
    sheet, on_behalf = _writable(case, actor, role, expected_version)
    cleaned = clean_input(case, rubric, role, scores, ratings, note)
    if cleaned.empty:
        return version_of(sheet)
    try:
        with versioned_write(STALE):
            with db.session.no_autoflush:
                if sheet.id is None:
                    db.session.add(sheet)
                changed = _apply(sheet, cleaned)
                if not changed and sheet.id is not None:
                    return sheet.version  # e.g. the `change` after a value typed back
                _stamp_writer(sheet, actor, on_behalf)
            db.session.flush()
    except IntegrityError:
        # Two first saves raced: the other one created the sheet.
        raise Conflict(STALE) from None
    return sheet.version


def missing_items(case: Case, rubric: Rubric, sheet: ScoreSheet) -> tuple[list, dict]:
    """(reasons, fields) of what the sheet still lacks before it can be submitted."""
    lang = _lang()
    reasons: list = []
    fields: dict = {}
    values = values_of(sheet)
    for aspect in rubric.aspects_for(sheet.role):
        if aspect.key not in values:
            reasons.append(_l("“%(aspect)s” has no score yet.", aspect=aspect.labels.get(lang)))
            fields[f"score-{aspect.key}"] = NEED_SCORE
    ratings = ratings_of(sheet)
    for m in short_term(case) if rubric.rates_milestones(sheet.role) else ():
        if m.id not in ratings:
            reasons.append(_l("Milestone “%(activity)s” has no rating yet.", activity=m.activity))
            fields[f"rating-{m.id}"] = NEED_RATING
    return reasons, fields


def _version_arg(raw) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Conflict(STALE) from None


@activity("submit_scores")
def submit_scores(ctx: ActivityContext) -> ActivityResult:
    """Submit the actor's sheet for data["role"] (the only evaluator role they hold when
    not given). Draft values may come along (scores, ratings, note), so one click saves and
    submits. The sheet must be complete: every aspect of the role scored, every short-term
    milestone rated."""
    case, actor, raw = ctx.case, ctx.actor, ctx.raw
    rubric = rubric_of(case)
    role = raw.get("role")
    if role in (None, ""):
        held = list(evaluator_roles(case, actor))
        role = held[0] if len(held) == 1 else None
        if role is None:
            raise Blocked(INVALID, [NOT_EVALUATOR], {"role": NOT_EVALUATOR})
    if not isinstance(role, str):
        raise Forbidden(NOT_EVALUATOR)
    sheet, on_behalf = _writable(case, actor, role, _version_arg(raw.get("expected_sheet_version")))
    cleaned = clean_input(
        case, rubric, role, raw.get("scores"), raw.get("ratings"), raw.get("note")
    )
    if sheet.id is None:
        db.session.add(sheet)
    _apply(sheet, cleaned)
    reasons, fields = missing_items(case, rubric, sheet)
    if reasons:
        raise Blocked(INCOMPLETE, reasons, fields)
    values = {a.key: values_of(sheet)[a.key] for a in rubric.aspects_for(role)}
    _stamp_writer(sheet, actor, on_behalf)
    sheet.submitted_at = utcnow()
    sheet.subtotal = round(rubric.contribution(values), 2)
    ratings = ratings_of(sheet)
    rated = short_term(case) if rubric.rates_milestones(role) else ()
    return ActivityResult(
        data={
            "role": role,
            "subtotal": sheet.subtotal,
            "scores": values,
            "ratings": {str(m.id): ratings[m.id] for m in rated},
        }
    )


def reopen_sheets(case: Case) -> None:
    """Effect of return_report: the submitted sheets of the components that assess the
    report (`reopened_on_return`) become drafts again, values kept, so the evaluators
    rescore the report the trainee hands in again; the organizer's sikap perilaku stays.
    The caller commits."""
    rubric = definition_of(case).scoring
    for sheet in db.session.scalars(
        select(ScoreSheet).where(
            ScoreSheet.case_id == case.id, ScoreSheet.submitted_at.is_not(None)
        )
    ):
        component = rubric.component_of(sheet.role) if rubric is not None else None
        if component is not None and not component.reopened_on_return:
            continue
        sheet.submitted_at = None
        sheet.subtotal = None
        sheet.updated_at = utcnow()


# ---------------------------------------------------------------- awaiting the finalize


def finalizing_transitions(definition: Definition) -> list:
    """The transitions that record the result: those guarded by all_scores_in."""
    return [t for t in definition.transitions if "all_scores_in" in t.guards]


def finalizer_roles() -> set[str]:
    """Roles that finalize without owning the state the result waits in (the organizer):
    the evaluators already see those cases as theirs to act on."""
    roles: set[str] = set()
    for definition in registry.all():
        for t in finalizing_transitions(definition):
            for source in t.sources:
                roles |= set(t.roles) - set(definition.state(source).owners)
    return roles


def awaiting_finalize(user: User):
    """Select of the cases whose every sheet is submitted and whose result `user` may
    finalize (in a role that does not own the state: see finalizer_roles). One query, its
    cost the same for any number of cases; the caller adds ordering and loading."""
    clauses = []
    for definition in registry.all():
        rubric = definition.scoring
        if rubric is None:
            continue
        submitted = (
            select(func.count(func.distinct(ScoreSheet.role)))
            .where(
                ScoreSheet.case_id == Case.id,
                ScoreSheet.submitted_at.is_not(None),
                ScoreSheet.role.in_(rubric.roles),
            )
            .scalar_subquery()
        )
        for t in finalizing_transitions(definition):
            for source in t.sources:
                roles = set(t.roles) - set(definition.state(source).owners)
                if not roles:
                    continue
                clauses.append(
                    and_(
                        Case.definition_key == definition.key,
                        Case.definition_version == definition.version,
                        Case.state == source,
                        or_(*[_role_clause(user, r) for r in sorted(roles)]),
                        submitted == len(rubric.roles),
                    )
                )
    return select(Case).where(or_(*clauses) if clauses else false())
