"""Reviewers' pages: the mentor's queue, the coach's group, the executive's endorsement queue,
the review page with diff and section comments, and uploaded documents.

State changes go through perform() (cases.act for the buttons, services.reviews.bulk_endorse
for the bulk form); comments through services.reviews.add_comment.
"""

from __future__ import annotations

import io
import os

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2 import TemplateNotFound

from workflow.extensions import db
from workflow.models import Case, Document
from workflow.permissions import get_case_for, roles_on_case
from workflow.services import Conflict, WorkflowError, definition_of, perform, progress, reviews
from workflow.services import documents as docs
from workflow.services.actions import is_overdue

from ._web import is_htmx, label, page_or_fragment
from .cases import status_context

bp = Blueprint("review", __name__)

LETTER_KIND = "signed_letter"


def _row(case: Case) -> dict:
    definition = definition_of(case)
    return {"case": case, "state": definition.state(case.state), "overdue": is_overdue(case)}


def load_reviewable(case_id: int) -> tuple[Case, set[str]]:
    """The case if the user may see it (else 404) and reviews it (else 403)."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    roles = roles_on_case(current_user, case) & reviews.REVIEW_ROLES
    if not roles:
        abort(403)
    return case, roles


# ---------------------------------------------------------------- queues


@bp.get("/mentor")
@login_required
def mentor():
    rows = [_row(c) for c in reviews.mentor_queue(current_user)]
    milestones = progress.awaiting_verification_for(current_user)
    return render_template("review/mentor.html", rows=rows, milestones=milestones)


@bp.get("/coach")
@login_required
def coach():
    rows = [_row(c) for c in reviews.coach_cases(current_user)]
    return render_template("review/coach.html", rows=rows)


def _endorse_fields(cases: list[Case]):
    """The fields the bulk form collects: those of the first queued case's endorse."""
    for case in cases:
        endorse, _decline = reviews.executive_transitions(case)
        if endorse is not None:
            return endorse.fields
    return ()


def _executive_page(results=None, typed=None, status: int = 200, problem: str | None = None):
    cases = reviews.endorsement_queue(current_user)
    context = {
        "rows": [_row(c) for c in cases],
        "fields": _endorse_fields(cases),
        "results": results,
        "typed": typed or {},
        "problem": problem,
    }
    return page_or_fragment("review/executive.html", "review/_queue.html", status, **context)


@bp.get("/pimpinan")
@login_required
def executive():
    return _executive_page()


@bp.post("/pimpinan/endorse")
@login_required
def bulk_endorse():
    ids, versions = [], {}
    for raw in request.form.getlist("case_id"):
        if raw.isascii() and raw.isdigit() and len(raw) < 10:
            ids.append(int(raw))
    for case_id in ids:
        version = request.form.get(f"version-{case_id}", type=int)
        if version is not None:
            versions[case_id] = version
    typed = {k: request.form.get(k, "") for k in ("letter_number", "letter_date")}
    if not ids:
        return _executive_page(
            typed=typed, status=422, problem=_("Select at least one proposal to endorse.")
        )
    data = {k: v for k, v in request.form.items() if k not in ("csrf_token", "case_id")}
    data = {k: v for k, v in data.items() if not k.startswith("version-")}
    results = reviews.bulk_endorse(current_user, ids, data, versions)
    done = sum(1 for r in results if r.ok)
    status = 200 if done else 422
    return _executive_page(results=results, typed={} if done else typed, status=status)


# ---------------------------------------------------------------- review page


def _diff_context(case: Case) -> dict:
    """The proposal helper's diff when it is there; a field-by-field comparison otherwise."""
    previous, current = reviews.snapshot_pair(case)
    context = {
        "has_previous": previous is not None,
        "has_current": current is not None,
        "previous_number": previous.number if previous else None,
        "current_number": current.number if current else None,
    }
    try:
        from flask import current_app

        from workflow.services import proposals  # the proposal editor's diff service

        current_app.jinja_env.get_template("proposal/_diff.html")
        old, new = proposals.previous_and_current(case)
        context.update(diff=proposals.diff_snapshots(old, new), diff_partial="proposal/_diff.html")
    except (ImportError, AttributeError, TemplateNotFound):
        context.update(
            diff=reviews.field_changes(
                previous.content if previous else None, current.content if current else None
            ),
            diff_partial="review/_diff.html",
        )
    return context


def review_context(case: Case, roles: set[str], **extra) -> dict:
    context = status_context(case, error=extra.pop("error", None), notice=extra.pop("notice", None))
    endorse, _decline = reviews.executive_transitions(case)
    offered = {a.trigger for a in context["actions"]}
    # The endorse form of this page also takes the signed letter: show that one only.
    letter_action = endorse if endorse is not None and endorse.trigger in offered else None
    if letter_action is not None:
        context["actions"] = [a for a in context["actions"] if a.trigger != endorse.trigger]
    context.update(
        {
            "roles": roles,
            "comments": reviews.comments_by_section(case),
            "sections": reviews.SECTIONS,
            "section_label": reviews.section_label,
            "can_comment": bool(roles & set(reviews.COMMENT_ROLES)),
            "letter_action": letter_action,
            "letters": docs.documents_of(case, LETTER_KIND),
            "upload_mb": docs.max_upload_bytes() // (1024 * 1024),
            "comment_errors": {},
            "comment_typed": {},
            **_diff_context(case),
        }
    )
    context.update(extra)
    return context


@bp.get("/cases/<int:case_id>/review")
@login_required
def review(case_id: int):
    case, roles = load_reviewable(case_id)
    return render_template("review/review.html", **review_context(case, roles))


@bp.post("/cases/<int:case_id>/comments")
@login_required
def comment(case_id: int):
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    section = request.form.get("section", "")
    body = request.form.get("body", "")
    status, errors = 200, {}
    try:
        reviews.add_comment(case, current_user, body, section)
    except WorkflowError as exc:
        status = exc.status
        errors = dict(exc.fields) or {"body": str(exc.message)}
    if not is_htmx():
        if errors:
            roles = roles_on_case(current_user, case) & reviews.REVIEW_ROLES
            if not roles:
                abort(403)
            key = section if section in reviews.SECTIONS else ""
            context = review_context(
                case, roles, comment_errors={key: errors}, comment_typed={key: body}
            )
            return render_template("review/review.html", **context), status
        flash(_("Comment saved."), "success")
        anchor = f"comments-{section or 'general'}"
        return redirect(url_for("review.review", case_id=case.id, _anchor=anchor))
    key = section if section in reviews.SECTIONS else ""
    response = page_or_fragment(
        "review/_comments.html",
        "review/_comments.html",
        status,
        case=case,
        section=key,
        items=reviews.comments_by_section(case).get(key, []),
        section_label=reviews.section_label,
        can_comment=reviews.can_comment(current_user, case),
        errors=errors,
        typed=body if errors else "",
        saved=not errors,
    )
    return response


@bp.post("/cases/<int:case_id>/endorse")
@login_required
def endorse(case_id: int):
    """Endorse with the letter's number and date, and optionally the signed letter (PDF).
    The file is checked before the endorsement so a bad file changes nothing."""
    case, roles = load_reviewable(case_id)
    endorse_t, _decline = reviews.executive_transitions(case)
    version = request.form.get("version", type=int)
    if version is None:
        abort(400)
    typed = {f.name: request.form.get(f.name, "") for f in (endorse_t.fields if endorse_t else ())}
    upload = request.files.get("letter_file")
    content = None

    def failed(message, status, fields=None, reasons=None):
        error = {
            "trigger": "letter",
            "message": message,
            "reasons": reasons or [],
            "field_errors": fields or {},
            "typed": typed,
        }
        return render_template(
            "review/review.html", **review_context(case, roles, letter_error=error)
        ), status

    if endorse_t is None:
        return failed(_("This action is not available in the current state."), 409)
    if upload is not None and upload.filename:
        try:
            content = docs.read_upload(upload)
        except docs.UploadRejected as exc:
            return failed(str(exc.message), exc.status, {"letter_file": str(exc.message)})
    try:
        event = perform(case, endorse_t.trigger, current_user, data=typed, expected_version=version)
    except WorkflowError as exc:
        message = str(exc.message)
        if isinstance(exc, Conflict):
            message = _("Someone else changed this case meanwhile. Here is its current state.")
        reasons = [str(r) for r in exc.reasons if str(r) not in exc.fields.values()]
        return failed(message, exc.status, exc.fields, reasons)
    notice = _("Done: %(action)s.", action=label(endorse_t.labels))
    if content is not None:
        data, name = content
        try:
            docs.store_bytes(case, current_user, data, name, LETTER_KIND, event)
        except OSError:
            flash(
                _(
                    "The endorsement is recorded, but the letter could not be stored. "
                    "Please upload it again later."
                ),
                "error",
            )
            return redirect(url_for("review.review", case_id=case.id))
    flash(notice, "success")
    return redirect(url_for("review.review", case_id=case.id))


# ---------------------------------------------------------------- documents


@bp.get("/documents/<int:document_id>")
@login_required
def document(document_id: int):
    doc = db.session.get(Document, document_id)
    if doc is None or get_case_for(current_user, doc.case_id) is None:
        abort(404)
    path = docs.path_of(doc)
    if not os.path.isfile(path):
        abort(404)
    # Read whole (at most MAX_UPLOAD_MB): no file handle outlives the request.
    with open(path, "rb") as fh:
        content = io.BytesIO(fh.read())
    response = send_file(
        content,
        mimetype=doc.content_type,
        as_attachment=True,
        download_name=doc.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    # The trainee's case page lists reviewers' comments through this (one include).
    app.jinja_env.globals.update(
        proposal_comments=reviews.comments_by_section,
        section_label=reviews.section_label,
    )
