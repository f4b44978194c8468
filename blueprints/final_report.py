"""The final report (laporan aksi perubahan): the trainee's autosaving editor, the read view
for everyone else on the case, and its PDF."""

from __future__ import annotations

import json

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
from workflow.models import Case, FinalReport, Milestone
from workflow.models._base import utcnow
from workflow.permissions import get_case_for
from workflow.services import Conflict, WorkflowError
from workflow.services import final_report as R
from workflow.services.actions import available_actions
from workflow.services.milestones import STATUS_LABELS, progress_text

from ._web import localtime

bp = Blueprint("final_report", __name__, url_prefix="/cases/<int:case_id>/report")

TEXT_FIELDS = FinalReport.TEXT_FIELDS
RESULT_PREFIX = "result-"


def load_case(case_id: int) -> Case:
    """Scoped to the user: another person's case is a 404. Its milestones come with their
    covered units in one query, so the results section costs the same for any number."""
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


def load_editable(case_id: int) -> Case:
    case = load_case(case_id)
    if not R.can_edit(case, current_user):
        abort(403)
    return case


@bp.app_template_global("final_report_summary")
def final_report_summary(case: Case) -> dict:
    """For the case page's card: is there a report to show, may the user edit it now."""
    status = R.status_of(case)
    report = R.existing_report(case)
    return {
        # Before implementation there is nothing to write or read yet.
        "visible": R.is_editable(case) or status != "empty",
        "status": status,
        "can_edit": R.can_edit(case, current_user),
        "updated_at": report.updated_at if status != "empty" else None,
        "submitted_at": report.submitted_at if status != "empty" else None,
        "missing": len(R.missing_sections(case)) if R.is_editable(case) else 0,
    }


def _version() -> int | None:
    return request.form.get("version", type=int)


def _result_key(milestone_id) -> str:
    return f"{RESULT_PREFIX}{milestone_id}"


def _form_field(error_key: str) -> str:
    """The form's name for an error of the service ("results.12" → "result-12")."""
    if error_key.startswith("results."):
        return _result_key(error_key.split(".", 1)[1])
    return error_key


def _milestone_rows(case: Case) -> list[dict]:
    return [
        {
            "milestone": m,
            "key": _result_key(m.id),
            "progress": progress_text(m),
            "status": STATUS_LABELS.get(m.status, m.status),
            "text": R.result_of(case, m),
        }
        for m in R.short_term(case)
    ]


def submit_action(case: Case):
    return next(
        (a for a in available_actions(case, current_user) if a.trigger == "submit_report"), None
    )


def editor_context(case: Case, **extra) -> dict:
    context = {
        "case": case,
        "report": R.existing_report(case),
        "version": R.version_of(case),
        "institution": case.cohort.program.institution,
        "labels": R.SECTION_LABELS,
        "status": R.status_of(case),
        "results": _milestone_rows(case),
        "submit": submit_action(case),
        "typed": {},
        "errors": {},
        "message": None,
    }
    context.update(extra)
    return context


def _with_version(response, case: Case):
    # editor.js sets the report form's hidden `version` from this event, so the next save
    # does not meet a false conflict. (The submit form carries the case version, untouched.)
    response.headers["HX-Trigger"] = json.dumps(
        {"aksiReportVersion": {"value": R.version_of(case)}}
    )
    response.vary.add("HX-Request")
    return response


# ---------------------------------------------------------------- pages


@bp.get("")
@login_required
def show(case_id: int):
    """The editor for the trainee while the report is editable; the read view otherwise."""
    case = load_case(case_id)
    if R.can_edit(case, current_user):
        return render_template("final_report/edit.html", **editor_context(case))
    return render_template(
        "final_report/view.html",
        case=case,
        report=R.existing_report(case),
        institution=case.cohort.program.institution,
        labels=R.SECTION_LABELS,
        status=R.status_of(case),
        results=_milestone_rows(case),
    )


@bp.post("")
@login_required
def save_all(case_id: int):
    """Without JavaScript: the whole form at once, then back to the editor (PRG)."""
    case = load_editable(case_id)
    typed = {name: request.form.get(name, "") for name in TEXT_FIELDS if name in request.form}
    results = {
        m.id: request.form.get(_result_key(m.id), "")
        for m in R.short_term(case)
        if _result_key(m.id) in request.form
    }
    changes = {**typed, "results": results} if results else typed
    try:
        R.save_report(case, current_user, changes, _version())
    except WorkflowError as exc:
        db.session.rollback()
        typed.update({_result_key(k): v for k, v in results.items()})
        return make_response(
            render_template(
                "final_report/edit.html",
                **editor_context(
                    case,
                    typed=typed,
                    errors={_form_field(k): str(v) for k, v in exc.fields.items()},
                    message=str(exc.message),
                    version=_version() if isinstance(exc, Conflict) else R.version_of(case),
                ),
            ),
            exc.status,
        )
    flash(_("Saved."), "success")
    return redirect(url_for("final_report.show", case_id=case.id))


@bp.post("/fields/<name>")
@login_required
def save_field(case_id: int, name: str):
    """Autosave of one field: answers its save-state fragment and the submit panel."""
    if name in TEXT_FIELDS:
        case = load_editable(case_id)
        changes = {name: request.form.get(name, "")}
    elif name.startswith(RESULT_PREFIX):
        case = load_editable(case_id)
        milestone_id = name[len(RESULT_PREFIX) :]
        if milestone_id not in {str(m.id) for m in R.short_term(case)}:
            abort(404)
        changes = {"results": {milestone_id: request.form.get(name, "")}}
    else:
        abort(404)
    try:
        R.save_report(case, current_user, changes, _version())
    except WorkflowError as exc:
        db.session.rollback()
        state = "conflict" if isinstance(exc, Conflict) else "error"
        message = next(iter(exc.fields.values()), None) or exc.message
        response = make_response(
            render_template(
                "final_report/_field_state.html",
                name=name,
                state=state,
                message=str(message),
                case=case,
            ),
            exc.status,
        )
        response.vary.add("HX-Request")
        return response
    saved_at = localtime(utcnow(), case.cohort.program.institution)
    response = make_response(
        render_template(
            "final_report/_field_state.html",
            name=name,
            state="saved",
            saved_at=saved_at.split(" ", 3)[-1] if saved_at else "",
            oob=True,
            case=case,
            submit=submit_action(case),
        )
    )
    return _with_version(response, case)


@bp.get("/pdf")
@login_required
def pdf(case_id: int):
    from workflow.services import printing

    case = load_case(case_id)
    response = make_response(printing.final_report_pdf(case))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{printing.report_pdf_filename(case)}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
