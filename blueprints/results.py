"""Result and official documents: a trainee's assessment sheet, a cohort's recap of
scores, and the official documents of a case (halaman persetujuan, lembar pengesahan,
berita acara seminar)."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, url_for
from flask_login import current_user, login_required

from workflow.extensions import db
from workflow.models import Case, Cohort, Seminar
from workflow.permissions import get_case_for
from workflow.services import NotAvailable, cohorts, printing, results

from .errors import error_response

bp = Blueprint("results", __name__)

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, content_type: str, filename: str):
    response = make_response(body)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _cohort_or_404(cohort_id: int) -> Cohort:
    """The cohort, for those who set it up (its organizers, its institution's admin): the
    recap holds every evaluator's points, which coaches and examiners read only case by
    case after their own. Anyone else learns nothing (404)."""
    cohort = cohorts.cohort_for(current_user, cohort_id)
    if cohort is None:
        abort(404)
    return cohort


@bp.get("/cases/<int:case_id>/assessment.pdf")
@login_required
def assessment_sheet(case_id: int):
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    try:
        body = results.assessment_sheet_pdf(case)
    except NotAvailable as exc:
        return error_response(409, exc.message)
    return _download(body, PDF, results.assessment_filename(case))


@bp.get("/cohorts/<int:cohort_id>/recap.pdf")
@login_required
def cohort_recap(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    return _download(results.recap_pdf(cohort), PDF, results.recap_filename(cohort, "pdf"))


@bp.get("/cohorts/<int:cohort_id>/recap.xlsx")
@login_required
def cohort_recap_xlsx(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    return _download(results.recap_xlsx(cohort), XLSX, results.recap_filename(cohort, "xlsx"))


# ---------------------------------------------------------------- official documents


def _case_or_404(case_id: int) -> Case:
    """The case for its people, its cohort's organizers and its institution's admin."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def _official(build, case_or_seminar, filename: str):
    try:
        body = build(case_or_seminar)
    except NotAvailable as exc:
        return error_response(409, exc.message)
    return _download(body, PDF, filename)


@bp.get("/cases/<int:case_id>/approval-page.pdf")
@login_required
def approval_page(case_id: int):
    case = _case_or_404(case_id)
    return _official(printing.approval_page_pdf, case, printing.approval_page_filename(case))


@bp.get("/cases/<int:case_id>/ratification.pdf")
@login_required
def ratification(case_id: int):
    case = _case_or_404(case_id)
    return _official(printing.ratification_pdf, case, printing.ratification_filename(case))


@bp.get("/seminars/<int:seminar_id>/minutes.pdf")
@login_required
def seminar_minutes(seminar_id: int):
    seminar = db.session.get(Seminar, seminar_id)
    # Scoped through its case: a seminar of a case one may not see does not exist.
    if seminar is None or get_case_for(current_user, seminar.case_id) is None:
        abort(404)
    return _official(printing.minutes_pdf, seminar, printing.minutes_filename(seminar))


URLS = {
    "approval_page": lambda case, doc: url_for("results.approval_page", case_id=case.id),
    "ratification": lambda case, doc: url_for("results.ratification", case_id=case.id),
    "minutes": lambda case, doc: url_for("results.seminar_minutes", seminar_id=doc.seminar_id),
}


@bp.app_template_global()
def official_documents(case: Case) -> list[dict]:
    """For templates/documents/_links.html: each official document of the case with its
    link when it can be printed, else why not yet."""
    return [
        {
            "label": doc.label,
            "available": doc.available,
            "reason": doc.reason,
            "url": URLS[doc.kind](case, doc) if doc.available else None,
        }
        for doc in printing.official_documents(case)
    ]
