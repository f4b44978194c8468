"""Evaluation pages: the evaluator's assessment form (autosaved draft, confirm, submit), the
panel on the case page (components and their subtotals, what still blocks the result), the
finalize confirm step, and the evaluator's queue ("Penilaian saya"). Thin routes: load the
case scoped to the user, call workflow.services.evaluation or perform(), render."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from workflow.engine import registry
from workflow.engine.rubrics import SCORING_ROLES
from workflow.extensions import db
from workflow.models import Case, Cohort, Milestone, ScoreSheet
from workflow.models._base import utcnow
from workflow.permissions import _role_clause, get_case_for, roles_on_case
from workflow.services import Conflict, WorkflowError, definition_of, perform
from workflow.services import evaluation as E
from workflow.services.milestones import STATUS_LABELS, progress_text
from workflow.services.workflow import choose

from ._web import localtime

bp = Blueprint("evaluation", __name__)


# ---------------------------------------------------------------- loading


def load_case(case_id: int) -> Case:
    """Scoped to the user (another's case is a 404), with its milestones and their covered
    units in one query, so the ratings cost the same for any number of milestones."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    db.session.scalars(
        select(Case)
        .where(Case.id == case.id)
        .options(selectinload(Case.milestones).selectinload(Milestone.coverages))
        .execution_options(populate_existing=True)
    ).all()
    return case


def choose_role(held: dict, asked: str | None) -> str | None:
    """The role the page is for: the one asked for (it must be held), else the first held."""
    if asked:
        if asked not in held:
            abort(404)
        return asked
    return next(iter(held), None)


# ---------------------------------------------------------------- view data


def predicate_labels(rubric, predicate_id: str | None):
    """The stored predicate (its Indonesian label) as the rubric's Labels, for either
    language."""
    return next((b.labels for b in rubric.bands if b.labels.id == predicate_id), None)


def milestone_rows(case: Case, sheet: ScoreSheet | None, role: str | None = None) -> list[dict]:
    """The short-term milestones the role's sheet rates (none where its component does not
    rate milestones, e.g. sikap perilaku)."""
    if role is not None and not E.rubric_of(case).rates_milestones(role):
        return []
    ratings = {r.milestone_id: r for r in (sheet.ratings if sheet else [])}
    return [
        {
            "milestone": m,
            "progress": progress_text(m),
            "status": STATUS_LABELS.get(m.status, m.status),
            "rating": ratings.get(m.id),
        }
        for m in E.short_term(case)
    ]


def field_keys(rubric, role: str, case: Case) -> list[str]:
    """Every field of the role's form that can carry a message (the autosave's slots)."""
    keys = ["note"]
    for a in rubric.aspects_for(role):
        keys += [f"score-{a.key}", f"note-{a.key}"]
    for m in E.short_term(case) if rubric.rates_milestones(role) else ():
        keys += [f"rating-{m.id}", f"rating-note-{m.id}"]
    return keys


def form_context(case: Case, role: str | None, **extra) -> dict:
    rubric = E.rubric_of(case)
    held = E.evaluator_roles(case, current_user)
    visible = E.visible_sheets(case, current_user)
    sheet = None
    if role is not None:
        sheet = next((s for s in visible if s.role == role), None) or E.sheet_for(
            case, current_user, role
        )
    context = {
        "case": case,
        "rubric": rubric,
        "role": role,
        "held": held,
        "sheet": sheet,
        "status": E.status_of(sheet),
        "version": E.version_of(sheet),
        "open": E.is_open(case, role) if role else E.is_open(case),
        "editable": role is not None and E.is_open(case, role) and not sheet.is_submitted,
        "component": rubric.component_of(role) if role else None,
        "aspects": rubric.aspects_for(role) if role else [],
        "milestones": milestone_rows(case, sheet, role),
        "others": [s for s in visible if s.role != role],
        "result": E.result_of(case) if E.result_visible(case, current_user) else None,
        "finalized": E.is_finalized(case),
        "institution": case.cohort.program.institution,
        "typed": {},
        "errors": {},
        "message": None,
        "reasons": [],
        "confirm": False,
    }
    context.update(extra)
    return context


def render_form(case: Case, role: str | None, status: int = 200, **extra):
    response = make_response(
        render_template("evaluation/form.html", **form_context(case, role, **extra)), status
    )
    response.vary.add("HX-Request")
    return response


@bp.app_template_global("evaluation_sheet")
def sheet_data(case: Case, sheet: ScoreSheet) -> dict:
    """A sheet as its read-only view shows it: every aspect of its role (scored or not),
    every short-term milestone's rating, in the rubric's and the proposal's order."""
    rubric = E.rubric_of(case)
    scores = {s.aspect: s for s in sheet.scores}
    ratings = {r.milestone_id: r for r in sheet.ratings}
    values = E.values_of(sheet)
    rated = E.short_term(case) if rubric.rates_milestones(sheet.role) else []
    component = rubric.component_of(sheet.role)
    return {
        "sheet": sheet,
        "status": E.status_of(sheet),
        "component": component if rubric.has_components else None,
        "weight": rubric.weights.get(sheet.role, 0),
        "points": sheet.subtotal
        if sheet.subtotal is not None
        else round(rubric.contribution(values), 2),
        "scores": [
            {
                "aspect": a,
                "value": scores[a.key].value if a.key in scores else None,
                "note": scores[a.key].note if a.key in scores else "",
            }
            for a in rubric.aspects_for(sheet.role)
        ],
        "ratings": [
            {
                "milestone": m,
                "rating": rubric.rating_labels(ratings[m.id].rating)
                if m.id in ratings and ratings[m.id].rating
                else None,
                "note": ratings[m.id].note if m.id in ratings else "",
            }
            for m in rated
        ],
    }


@bp.app_template_global("evaluation_missing")
def missing_text(role: str) -> str:
    """ "The examiner has not submitted the assessment." (as the finalize guard says)."""
    return str(E.ROLE_MISSING.get(role, role))


def evaluation_phases(case: Case) -> set[str]:
    """The phases of the states where every component can be scored (the evaluation): the
    panel shows there (deferred included), and on finalized cases."""
    definition = definition_of(case)
    spec = definition.activity("submit_scores")
    rubric = definition.scoring
    if spec is None or rubric is None:
        return set()
    return {
        definition.state(s).phase
        for s in spec.states
        if all(rubric.open_for(r, s) for r in rubric.roles)
    }


def finalize_step(case: Case) -> dict | None:
    """The finalize transition as the user may take it here: its trigger and label, the
    transition the guards would choose now and the reasons that block it (e.g. the report
    seminar not held yet). None when the user cannot finalize this case now."""
    definition = definition_of(case)
    candidates = [t for t in E.finalizing_transitions(definition) if case.state in t.sources]
    if not candidates or current_user is None or not getattr(current_user, "id", None):
        return None
    roles = roles_on_case(current_user, case, among={r for t in candidates for r in t.roles})
    mine = [t for t in candidates if roles & set(t.roles)]
    if not mine:
        return None
    chosen, reasons = choose(case, definition, mine)
    return {
        "trigger": mine[0].trigger,
        "labels": mine[0].labels,
        "chosen": chosen,
        "dest": definition.state(chosen.dest) if chosen is not None else None,
        "reasons": [str(r) for r in reasons],
    }


@bp.app_template_global("evaluation_action_page")
def action_page(case: Case, trigger: str) -> str | None:
    """The page an action of the case page goes through instead of a direct POST: the
    finalize confirm step. None for the others."""
    definition = definition_of(case)
    if any(t.trigger == trigger for t in E.finalizing_transitions(definition)):
        return url_for("evaluation.finalize", case_id=case.id)
    return None


@bp.app_template_global("evaluation_panel")
def evaluation_panel(case: Case) -> dict | None:
    """For the case page: who has submitted (by component), the user's own sheets (the
    organizer's sikap perilaku also before the evaluation), the running result for the
    organizer, what still blocks finalizing, the recorded result once finalized. None when
    there is nothing to show."""
    definition = definition_of(case)
    rubric = definition.scoring
    if rubric is None:
        return None
    finalized = E.is_finalized(case)
    held = E.evaluator_roles(case, current_user)
    in_phase = definition.state(case.state).phase in evaluation_phases(case)
    early = [r for r in held if E.is_open(case, r)] if not (finalized or in_phase) else []
    if not finalized and not in_phase and not early:
        return None
    sheets = {s.role: s for s in E.sheets_of(case)}
    overseer = E.is_overseer(case, current_user)
    recorded = None
    if finalized:
        recorded = {
            "score": case.final_score,
            "predicate": predicate_labels(rubric, case.predicate),
            "passed": rubric.passed(case.final_score),
        }
    rows = [
        {
            "role": r,
            "component": rubric.component_of(r),
            "submitted": r in sheets and sheets[r].is_submitted,
            "submitted_at": sheets[r].submitted_at if r in sheets else None,
        }
        for r in rubric.roles
    ]
    result = E.result_of(case) if overseer and not finalized else None
    step = finalize_step(case) if in_phase and not finalized else None
    return {
        "open": E.is_open(case),
        "finalized": finalized,
        "early": not finalized and not in_phase,
        "components": rubric.has_components,
        "rows": rows,
        "mine": [
            {"role": r, "status": E.status_of(sheets.get(r)), "open": E.is_open(case, r)}
            for r in (early or held)
        ],
        "overseer": overseer,
        "result": result,
        "finalize": step,
        "recorded": recorded,
        "institution": case.cohort.program.institution,
    }


# ---------------------------------------------------------------- input


def posted_values(case: Case, rubric, role: str) -> tuple[dict, dict, str | None, dict]:
    """(scores, ratings, note, typed) from the form: only the fields sent; `typed` keeps
    what was typed, by field name, to show it again beside a message."""
    form = request.form
    scores: dict = {}
    typed: dict = {}
    for a in rubric.aspects_for(role):
        item = {}
        if f"score-{a.key}" in form:
            item["value"] = form.get(f"score-{a.key}", "")
        if f"note-{a.key}" in form:
            item["note"] = form.get(f"note-{a.key}", "")
        if item:
            scores[a.key] = item
    ratings: dict = {}
    for m in E.short_term(case) if rubric.rates_milestones(role) else ():
        item = {}
        if f"rating-{m.id}" in form:
            item["rating"] = form.get(f"rating-{m.id}", "")
        if f"rating-note-{m.id}" in form:
            item["note"] = form.get(f"rating-note-{m.id}", "")
        if item:
            ratings[m.id] = item
    note = form.get("note") if "note" in form else None
    for key in field_keys(rubric, role, case):
        if key in form:
            typed[key] = form.get(key, "")
    return scores, ratings, note, typed


def posted_role(case: Case) -> str:
    role = request.form.get("role", "")
    if role not in E.evaluator_roles(case, current_user):
        abort(404)
    return role


# ---------------------------------------------------------------- pages


@bp.get("/cases/<int:case_id>/evaluation")
@login_required
def form(case_id: int):
    """The assessment form of the user's role (?role= when they hold several); read-only
    once submitted or outside evaluation. Others on the case see what they may read."""
    case = load_case(case_id)
    if definition_of(case).scoring is None:
        abort(404)
    role = choose_role(E.evaluator_roles(case, current_user), request.args.get("role"))
    return render_form(case, role)


@bp.post("/cases/<int:case_id>/evaluation")
@login_required
def save(case_id: int):
    """Without JavaScript, and the two buttons: save the draft (then back to the form),
    check it for submission (the confirm step), or submit (after the confirm step)."""
    case = load_case(case_id)
    role = posted_role(case)
    rubric = E.rubric_of(case)
    action = request.form.get("action", "draft")
    if action == "submit":
        version = request.form.get("version", type=int)
        try:
            perform(
                case,
                "submit_scores",
                current_user,
                data={"role": role, "expected_sheet_version": version},
            )
        except WorkflowError as exc:
            db.session.rollback()
            return render_form(
                case,
                role,
                exc.status,
                message=str(exc.message),
                reasons=[str(r) for r in exc.reasons],
                errors={k: str(v) for k, v in exc.fields.items()},
            )
        flash(_("Your assessment is submitted."), "success")
        return redirect(url_for("evaluation.form", case_id=case.id, role=role))
    scores, ratings, note, typed = posted_values(case, rubric, role)
    try:
        # The whole form is this user's sheet as they see it: saved whatever the autosave
        # (racing this click) did just before.
        E.save_draft(case, current_user, role, scores=scores, ratings=ratings, note=note)
    except WorkflowError as exc:
        db.session.rollback()
        return render_form(
            case,
            role,
            exc.status,
            typed=typed,
            errors={k: str(v) for k, v in exc.fields.items()},
            message=str(exc.message),
        )
    if action == "confirm":
        sheet = E.sheet_for(case, current_user, role)
        reasons, fields = E.missing_items(case, rubric, sheet)
        if reasons:
            return render_form(
                case,
                role,
                422,
                errors={k: str(v) for k, v in fields.items()},
                message=str(E.INCOMPLETE),
                reasons=[str(r) for r in reasons],
            )
        subtotal = rubric.contribution(E.values_of(sheet))
        return render_form(case, role, confirm=True, subtotal=round(subtotal, 2))
    flash(_("Draft saved."), "success")
    return redirect(url_for("evaluation.form", case_id=case.id, role=role))


@bp.post("/cases/<int:case_id>/evaluation/draft")
@login_required
def autosave(case_id: int):
    """Autosave on change (htmx): the save state, each field's message out of band, and
    the sheet's new version for the next save."""
    case = load_case(case_id)
    role = posted_role(case)
    rubric = E.rubric_of(case)
    scores, ratings, note, _typed = posted_values(case, rubric, role)
    version = request.form.get("version", type=int)
    context = {
        "case": case,
        "role": role,
        "keys": field_keys(rubric, role, case),
        "errors": {},
        "state": "saved",
        "message": None,
        "saved_at": "",
        "version": None,
    }
    status = 200
    try:
        context["version"] = E.save_draft(
            case,
            current_user,
            role,
            scores=scores,
            ratings=ratings,
            note=note,
            expected_version=version,
        )
    except WorkflowError as exc:
        db.session.rollback()
        status = exc.status
        context["state"] = "conflict" if isinstance(exc, Conflict) else "error"
        context["message"] = str(exc.message)
        context["errors"] = {k: str(v) for k, v in exc.fields.items()}
    else:
        moment = localtime(utcnow(), case.cohort.program.institution)
        context["saved_at"] = moment.split(" ", 3)[-1] if moment else ""
    response = make_response(render_template("evaluation/_autosave.html", **context), status)
    response.vary.add("HX-Request")
    return response


@bp.get("/evaluation")
@login_required
def queue():
    """ "Penilaian saya": the cases in evaluation the user assesses, with each sheet's status.
    One scoped query for the cases (the roles held come as columns of it) and one for the
    sheets, however many rows."""
    states: set[str] = set()
    for definition in registry.all():
        spec = definition.activity("submit_scores")
        if spec is not None:
            states |= set(spec.states)
    clauses = {r: _role_clause(current_user, r) for r in SCORING_ROLES}
    found = db.session.execute(
        select(Case, *[c.label(f"as_{r}") for r, c in clauses.items()])
        .where(Case.state.in_(states), or_(*clauses.values()))
        .options(
            joinedload(Case.trainee),
            joinedload(Case.group),
            joinedload(Case.cohort).joinedload(Cohort.program),
        )
        .order_by(Case.due_date.is_(None), Case.due_date, Case.id)
    ).all()
    ids = [row[0].id for row in found]
    status: dict[tuple[int, str], str] = {}
    if ids:
        for case_id, role, submitted_at in db.session.execute(
            select(ScoreSheet.case_id, ScoreSheet.role, ScoreSheet.submitted_at).where(
                ScoreSheet.case_id.in_(ids)
            )
        ):
            status[(case_id, role)] = "submitted" if submitted_at else "draft"
    rows = []
    for row in found:
        case = row[0]
        rubric = definition_of(case).scoring
        roles = rubric.roles if rubric else ()
        for i, r in enumerate(SCORING_ROLES):
            # Only the sheets open now: the panel's wait for the evaluation.
            if row[i + 1] and r in roles and rubric.open_for(r, case.state):
                rows.append(
                    {
                        "case": case,
                        "role": r,
                        "status": status.get((case.id, r), "not_started"),
                    }
                )
    return render_template("evaluation/queue.html", rows=rows)


# ---------------------------------------------------------------- finalize


def render_finalize(case: Case, status: int = 200, **extra):
    step = finalize_step(case)
    if step is None:
        abort(404)
    context = {
        "case": case,
        "rubric": E.rubric_of(case),
        "result": E.result_of(case),
        "step": step,
        "institution": case.cohort.program.institution,
        "message": None,
        "reasons": [],
    }
    context.update(extra)
    return make_response(render_template("evaluation/finalize.html", **context), status)


@bp.get("/cases/<int:case_id>/evaluation/finalize")
@login_required
def finalize(case_id: int):
    """The confirm step before the result is recorded: the total, its predicate and the
    result the case closes with, or what still blocks it. Works without JavaScript."""
    return render_finalize(load_case(case_id))


@bp.post("/cases/<int:case_id>/evaluation/finalize")
@login_required
def finalize_confirmed(case_id: int):
    """Record the result (perform() the finalize transition) as confirmed on the page; the
    case version shown there guards against a sheet changed meanwhile."""
    from .cases import done_notice

    case = load_case(case_id)
    step = finalize_step(case)
    if step is None:
        abort(404)
    version = request.form.get("version", type=int)
    if version is None:
        abort(400)
    try:
        event = perform(case, step["trigger"], current_user, expected_version=version)
    except WorkflowError as exc:
        db.session.rollback()
        message = str(exc.message)
        if isinstance(exc, Conflict):
            message = _("Someone else changed this case meanwhile. Check the result again.")
        return render_finalize(
            case, exc.status, message=message, reasons=[str(r) for r in exc.reasons]
        )
    flash(done_notice(definition_of(case), step["trigger"], event), "success")
    return redirect(url_for("cases.show", case_id=case.id))
