"""The trainee's proposal editor (autosave, inline rows) and the read-only diff page."""

from __future__ import annotations

import json
from itertools import groupby

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
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from workflow.extensions import db
from workflow.models import AuditEvent, Case, Comment
from workflow.models._base import utcnow
from workflow.permissions import get_case_for, roles_on_case
from workflow.services import Blocked, Conflict, WorkflowError
from workflow.services import proposals as P
from workflow.services.actions import available_actions

from ._web import is_htmx, localtime

bp = Blueprint("proposal", __name__, url_prefix="/cases/<int:case_id>/proposal")

DIFF_ROLES = {"trainee", "mentor", "coach", "executive"}
ROW_FORM_FIELDS = {
    "stakeholders": ("name", "kind", "role", "influence", "interest", "strategy"),
    "team": ("name", "role"),
    "risks": ("risk", "mitigation"),
    "milestones": P.MILESTONE_COLUMNS,
}
REQUIRED_COLUMNS = {
    **{kind: {c[0] for c in cols if c[2]} for kind, cols in P.ROW_COLUMNS.items()},
    "milestones": {"term", "activity", "target_date"},
}
# Which text fields each section of the editor groups, in order.
TEXT_SECTIONS = (
    ("title", ("title",)),
    ("background", ("background_current", "background_ideal")),
    ("core_issue", ("core_issue",)),
    ("objectives", ("objective_short", "objective_medium", "objective_long")),
    ("benefits", ("benefits",)),
    ("scope", ("scope",)),
    ("innovation", ("innovation",)),
)


@bp.app_template_global("diff_row_text")
def diff_row_text(row, field):
    return P.row_text(row, field)


@bp.app_template_global("diff_value")
def diff_value(column, value):
    return P.display_value(column, value)


@bp.app_template_global("diff_column")
def diff_column(column):
    return str(P.COLUMN_LABELS.get(column, column))


@bp.app_template_global("proposal_links")
def proposal_links(case) -> dict:
    """For the case page: may the user edit the proposal now, or read its changes?"""
    return {
        "edit": P.can_edit(case, current_user),
        "diff": bool(case.snapshots) and bool(roles_on_case(current_user, case) & DIFF_ROLES),
    }


def load_case(case_id: int) -> Case:
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def load_editable(case_id: int) -> Case:
    """The case if the user may edit its proposal now; otherwise back to the case page."""
    case = load_case(case_id)
    if not P.can_edit(case, current_user):
        abort(403)
    return case


def _version() -> int | None:
    return request.form.get("version", type=int)


def comments_by_section(case: Case) -> dict[str, list[Comment]]:
    rows = db.session.scalars(
        select(Comment)
        .where(Comment.case_id == case.id)
        .options(selectinload(Comment.author))
        .order_by(Comment.section, Comment.created_at, Comment.id)
    ).all()
    return {section: list(items) for section, items in groupby(rows, key=lambda c: c.section)}


def notes_for(comments: dict, sections) -> list[Comment]:
    """The comments on any of `sections`, oldest first."""
    found = [c for key in sections for c in comments.get(key, [])]
    return sorted(found, key=lambda c: (c.created_at, c.id))


def latest_feedback(case: Case) -> AuditEvent | None:
    """The comment of the event that put the case where it is (e.g. a revision request)."""
    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if event is None or not (event.comment or "").strip() or event.to_state != case.state:
        return None
    return event


def submit_action(case: Case):
    return next((a for a in available_actions(case, current_user) if a.trigger == "submit"), None)


def row_values(case: Case, kind: str) -> list[dict]:
    """Rows as the form shows them (milestone dates as text, units one per line)."""
    if kind != "milestones":
        return [dict(r) for r in (getattr(case, kind) or [])]
    rows = []
    for m in case.milestones:
        quantity = m.target_quantity
        rows.append(
            {
                "term": m.term,
                "activity": m.activity,
                "output": m.output,
                "target_date": m.target_date.isoformat() if m.target_date else "",
                "target_quantity": "" if quantity is None else P.display_value("q", quantity),
                "target_unit": m.target_unit,
                "units": "\n".join(m.units or []),
            }
        )
    return rows


def typed_row(kind: str) -> dict:
    return {name: request.form.get(name, "") for name in ROW_FORM_FIELDS[kind]}


def editor_context(case: Case, **extra) -> dict:
    context = {
        "case": case,
        "version": case.version,
        "institution": case.cohort.program.institution,
        "text_sections": TEXT_SECTIONS,
        "labels": P.SECTION_LABELS,
        "columns": P.COLUMN_LABELS,
        "choices": P.CHOICES,
        "limits": {name: P.TITLE_MAX if name == "title" else P.TEXT_MAX for name in P.TEXT_FIELDS},
        "row_kinds": ("stakeholders", "team", "milestones", "risks"),
        "rows": {kind: row_values(case, kind) for kind in P.ROW_KINDS},
        "comments": comments_by_section(case),
        "notes_for": notes_for,
        "feedback": latest_feedback(case),
        "submit": submit_action(case),
        "typed": {},
        "errors": {},
        "message": None,
        "row_state": {},
        "fields_of": ROW_FORM_FIELDS,
        "required_cols": REQUIRED_COLUMNS,
        "add_labels": {
            "stakeholders": _("Add a stakeholder"),
            "team": _("Add a team member"),
            "milestones": _("Add a milestone"),
            "risks": _("Add a risk"),
        },
    }
    context.update(extra)
    return context


def _with_version(response, case: Case):
    # editor.js sets every hidden `version` input of the page from this event, so a later
    # save or Submit does not meet a false conflict.
    response.headers["HX-Trigger"] = json.dumps({"aksiVersion": {"value": case.version}})
    response.vary.add("HX-Request")
    return response


# ---------------------------------------------------------------- the editor page


@bp.get("/edit")
@login_required
def edit(case_id: int):
    case = load_case(case_id)
    if not P.can_edit(case, current_user):
        flash(_("The proposal cannot be edited now."), "info")
        return redirect(url_for("cases.show", case_id=case.id))
    return render_template("proposal/edit.html", **editor_context(case))


@bp.post("/edit")
@login_required
def save_all(case_id: int):
    """Without JavaScript: the whole text form at once, then back to the editor (PRG)."""
    case = load_editable(case_id)
    typed = {name: request.form.get(name, "") for name in P.TEXT_FIELDS if name in request.form}
    try:
        P.save_fields(case, current_user, typed, _version())
    except WorkflowError as exc:
        db.session.rollback()
        message = str(exc.message)
        return make_response(
            render_template(
                "proposal/edit.html",
                **editor_context(
                    case,
                    typed=typed,
                    errors={k: str(v) for k, v in exc.fields.items()},
                    message=message,
                    version=_version() if isinstance(exc, Conflict) else case.version,
                ),
            ),
            exc.status,
        )
    flash(_("Saved."), "success")
    return redirect(url_for("proposal.edit", case_id=case.id))


@bp.post("/fields/<name>")
@login_required
def save_field(case_id: int, name: str):
    """Autosave of one text field: answers its save-state fragment (and the submit panel)."""
    if name not in P.TEXT_FIELDS:
        abort(404)
    case = load_editable(case_id)
    value = request.form.get(name, "")
    try:
        P.save_fields(case, current_user, {name: value}, _version())
    except WorkflowError as exc:
        db.session.rollback()
        state = "conflict" if isinstance(exc, Conflict) else "error"
        message = str(exc.fields.get(name) or exc.message)
        response = make_response(
            render_template(
                "proposal/_field_state.html", name=name, state=state, message=message, case=case
            ),
            exc.status,
        )
        response.vary.add("HX-Request")
        return response
    saved_at = localtime(utcnow(), case.cohort.program.institution)
    response = make_response(
        render_template(
            "proposal/_field_state.html",
            name=name,
            state="saved",
            saved_at=saved_at.split(" ", 3)[-1] if saved_at else "",
            oob=True,
            **{k: v for k, v in editor_context(case).items() if k in ("case", "submit")},
        )
    )
    return _with_version(response, case)


# ---------------------------------------------------------------- rows


def _row_kind(kind: str) -> str:
    if kind not in P.ROW_KINDS:
        abort(404)
    return kind


def _rows_response(case: Case, kind: str, **extra):
    context = editor_context(case, **extra)
    if not is_htmx():
        return render_template("proposal/edit.html", **context)
    response = make_response(
        render_template("proposal/_rows_response.html", kind=kind, oob=True, **context)
    )
    return _with_version(response, case)


def _row_failure(case: Case, kind: str, index: int | None, exc: WorkflowError, typed: dict):
    """422: the row's form again, typed values kept, a message beside each field.
    409 and others: a message above the section; what the user typed stays in the page."""
    db.session.rollback()
    errors = {k: str(v) for k, v in exc.fields.items()}
    message = str(exc.message)
    slot = "new" if index is None else index
    if not is_htmx():
        context = editor_context(
            case,
            row_state={kind: {"slot": slot, "typed": typed, "errors": errors, "message": message}},
            version=_version() if isinstance(exc, Conflict) else case.version,
        )
        return make_response(render_template("proposal/edit.html", **context), exc.status)
    if isinstance(exc, Blocked):
        context = editor_context(case, version=_version())
        response = make_response(
            render_template(
                "proposal/_row.html",
                kind=kind,
                index=index,
                row=typed,
                row_errors=errors,
                row_message=message,
                **context,
            ),
            exc.status,
        )
        response.headers["HX-Retarget"] = f"#row-{kind}-{slot}"
        response.headers["HX-Reswap"] = "outerHTML"
    else:
        response = make_response(
            render_template(
                "proposal/_section_message.html", case=case, kind=kind, message=message
            ),
            exc.status,
        )
        response.headers["HX-Retarget"] = f"#msg-{kind}"
        response.headers["HX-Reswap"] = "innerHTML"
    response.vary.add("HX-Request")
    return response


def _done(case: Case, kind: str):
    if is_htmx():
        return _rows_response(case, kind)
    flash(_("Saved."), "success")
    return redirect(url_for("proposal.edit", case_id=case.id, _anchor=f"sec-{kind}"))


@bp.post("/rows/<kind>")
@login_required
def add_row(case_id: int, kind: str):
    kind = _row_kind(kind)
    case = load_editable(case_id)
    typed = typed_row(kind)
    try:
        P.add_row(case, current_user, kind, typed, _version())
    except WorkflowError as exc:
        return _row_failure(case, kind, None, exc, typed)
    return _done(case, kind)


@bp.post("/rows/<kind>/<int:index>")
@login_required
def update_row(case_id: int, kind: str, index: int):
    kind = _row_kind(kind)
    case = load_editable(case_id)
    typed = typed_row(kind)
    try:
        P.update_row(case, current_user, kind, index, typed, _version())
    except WorkflowError as exc:
        return _row_failure(case, kind, index, exc, typed)
    return _done(case, kind)


@bp.post("/rows/<kind>/<int:index>/move/<direction>")
@login_required
def move_row(case_id: int, kind: str, index: int, direction: str):
    kind = _row_kind(kind)
    case = load_editable(case_id)
    try:
        P.move_row(case, current_user, kind, index, direction, _version())
    except WorkflowError as exc:
        return _row_failure(case, kind, index, exc, typed_row(kind))
    return _done(case, kind)


@bp.post("/rows/<kind>/<int:index>/remove")
@login_required
def remove_row(case_id: int, kind: str, index: int):
    kind = _row_kind(kind)
    case = load_editable(case_id)
    try:
        P.remove_row(case, current_user, kind, index, _version())
    except WorkflowError as exc:
        return _row_failure(case, kind, index, exc, typed_row(kind))
    return _done(case, kind)


# ---------------------------------------------------------------- diff (read-only)


@bp.get("/diff")
@login_required
def diff(case_id: int):
    case = load_case(case_id)
    if not roles_on_case(current_user, case) & DIFF_ROLES:
        abort(404)
    previous, current = P.previous_and_current(case)
    return render_template(
        "proposal/diff.html",
        case=case,
        diff=P.diff_snapshots(previous, current),
        first=previous is None,
        submissions=len(case.snapshots),
    )
