"""Result documents: a trainee's assessment sheet and a cohort's recap of scores."""

from __future__ import annotations

from flask import Blueprint, abort, make_response
from flask_login import current_user, login_required

from workflow.models import Cohort
from workflow.permissions import get_case_for
from workflow.services import NotAvailable, cohorts, results

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
