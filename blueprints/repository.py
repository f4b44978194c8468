"""The repository of change actions (issue 12): search with facets, sort and pages, a
read-only summary per change action, and the current result as CSV/XLSX.

Who sees what is decided in services.repository (the institutions one belongs to; every
institution for a national administrator); another's entry is a 404.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, make_response, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from workflow.models._base import utcnow
from workflow.permissions import get_case_for
from workflow.services import exports
from workflow.services import repository as repo
from workflow.services.calendar import local_date

from ._web import is_htmx, lang

bp = Blueprint("repository", __name__)


def _links(sq: repo.SearchQuery):
    def link(**changes) -> str:
        if not {"page"} & set(changes):
            changes["page"] = 1
        return url_for("repository.index", **sq.args(**changes))

    def export_link(fmt: str) -> str:
        return url_for("repository.export", fmt=fmt, **sq.args(page=1))

    return {"link": link, "export_link": export_link}


@bp.get("/repository")
@login_required
def index():
    sq, problems = repo.parse_query(request.args)
    page = repo.search(current_user, sq)
    context = {
        "page": page,
        "sq": page.query,
        "problems": problems,
        "facet_labels": repo.FACET_LABELS,
        "sort_labels": repo.SORT_LABELS,
        "result_labels": repo.RESULT_LABELS,
        "sustainability_labels": repo.SUSTAINABILITY_LABELS,
        "per_page_choices": repo.PER_PAGE_CHOICES,
        **_links(page.query),
    }
    partial = is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"
    template = "repository/_results.html" if partial else "repository/index.html"
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


@bp.get("/repository/<int:case_id>")
@login_required
def show(case_id: int):
    found = repo.summary(current_user, case_id)
    if found is None:
        abort(404)
    # Staff already on the case get a way to its workflow page; nobody else learns of it.
    case_url = (
        url_for("cases.show", case_id=case_id) if get_case_for(current_user, case_id) else None
    )
    return render_template(
        "repository/show.html",
        s=found,
        case_url=case_url,
        result_labels=repo.RESULT_LABELS,
        sustainability_labels=repo.SUSTAINABILITY_LABELS,
    )


@bp.get("/repository/export.<any(csv, xlsx):fmt>")
@login_required
def export(fmt: str):
    sq, _problems = repo.parse_query(request.args)
    content = repo.export_file(current_user, sq, fmt, lang())
    zone = current_user.institution.timezone if current_user.institution else "Asia/Jakarta"
    day = local_date(utcnow(), zone)
    response = send_file(
        io.BytesIO(content),
        mimetype=exports.FORMATS[fmt],
        as_attachment=True,
        download_name=f"repositori-aksi-perubahan-{day.isoformat()}.{fmt}",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
