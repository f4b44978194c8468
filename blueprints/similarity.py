"""(issue 12) Near-duplicate detection pages: the similar earlier change actions of a case
(the trainee's editor panel, the review page, a page of its own) and the organizer's clusters
of near-duplicates in a cohort. The work is in workflow.services.similarity."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from workflow.permissions import get_case_for
from workflow.services import cohorts as cohort_service
from workflow.services import proposals as P
from workflow.services import similarity as S

from ._web import page_or_fragment

bp = Blueprint("similarity", __name__)

REASONS = {
    "off": _l("turned off by the setting AKSI_EMBEDDING_MODEL=off"),
    "missing": _l("the model file was not found"),
    "corrupt": _l("the model file is damaged or not the expected model"),
    "unavailable": _l("the model package is not installed"),
    "broken": _l("the model could not be loaded"),
}


def similar_link(case_id: int) -> str:
    """The repository's page of a change action; the case page until that page exists."""
    try:
        return url_for("repository.show", case_id=case_id)
    except BuildError:
        return url_for("cases.show", case_id=case_id)


@bp.app_template_global("similar_for")
def similar_for(case, draft: bool = False) -> S.Similar:
    """For the review page's partial: the case's similar earlier change actions."""
    return S.similar_to(case, draft=draft)


@bp.app_template_global("similarity_notice")
def similarity_notice() -> dict | None:
    """For the admin's home page: why the lexical fallback answers, if it does."""
    if not getattr(current_user, "is_authenticated", False) or not current_user.is_admin:
        return None
    status = S.engine_status()
    if not status.degraded:
        return None
    return {"status": status, "reason": REASONS.get(status.reason, status.reason)}


@bp.app_context_processor
def _helpers() -> dict:
    return {"similar_link": similar_link, "duplicate_threshold": S.DUPLICATE.get}


@bp.get("/cases/<int:case_id>/similar")
@login_required
def case_similar(case_id: int):
    """The panel (htmx) or page: the trainee editing their draft compares what they type;
    everyone else who may see the case compares its last submission."""
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    draft = P.can_edit(case, current_user)
    similar = S.similar_to(case, draft=draft)
    return page_or_fragment(
        "similarity/case.html", "similarity/_panel.html", case=case, similar=similar
    )


@bp.get("/cohorts/<int:cohort_id>/similar")
@login_required
def cohort_similar(cohort_id: int):
    """The organizer's (and institution admin's) clusters of near-duplicates in a cohort."""
    cohort = cohort_service.cohort_for(current_user, cohort_id)
    if cohort is None:
        abort(404)
    result = S.cohort_clusters(cohort)
    return render_template(
        "similarity/cohort.html",
        cohort=cohort,
        result=result,
        threshold=S.DUPLICATE[result.model],
    )
