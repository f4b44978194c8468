"""The public showcase (issue 12): pages anyone may open without login — the institutions
with change actions on show, each institution's and each cohort's list with search, one
change action, its chosen photos — and, behind login, the consent card (trainee and
organizer/admin) and the organizer's cohort list.

Public responses are `Cache-Control: no-cache`: a browser or proxy must ask again each
time, and every request checks consent and state anew, so a withdrawn consent takes the
page down at once (404). The public JSON lives here too (/api/v1/showcase…): the API
blueprint requires a token for everything it serves.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from workflow.extensions import db
from workflow.models import Cohort
from workflow.permissions import get_case_for
from workflow.services import documents as docs
from workflow.services import repository as repo
from workflow.services import showcase as sc

from ._web import is_htmx

bp = Blueprint("showcase", __name__)

PUBLIC_CACHE = "no-cache"
PER_PAGE = 20
MAX_PAGE = repo.MAX_PAGE


def _public(response):
    response = make_response(response)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


def _page_arg() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) else 1


def _q_arg() -> tuple[str, str | None]:
    q = (request.args.get("q") or "").strip()
    if len(q) > repo.SEARCH_MAX:
        return "", str(repo.PROBLEMS["q"])
    if q and not repo.terms_of(q):
        return "", str(repo.PROBLEMS["q_words"])
    return q, None


# ---------------------------------------------------------------- public pages


@bp.get("/showcase")
def index():
    return _public(render_template("showcase/index.html", institutions=sc.public_institutions()))


@bp.get("/showcase/institutions/<code>")
def institution(code: str):
    found = sc.institution_by_code(code)
    if found is None:
        abort(404)
    q, problem = _q_arg()
    page = sc.public_search(q, _page_arg(), PER_PAGE, institution_id=found.id)
    return _public(
        render_template(
            "showcase/list.html",
            institution=found,
            cohort=None,
            cohorts=sc.public_cohorts(found.id),
            page=page,
            q=request.args.get("q", ""),
            problem=problem,
            here=url_for("showcase.institution", code=found.code),
        )
    )


@bp.get("/showcase/cohorts/<int(max=2147483647):cohort_id>")
def cohort(cohort_id: int):
    found = sc.public_cohort(cohort_id)
    if found is None:
        abort(404)
    q, problem = _q_arg()
    page = sc.public_search(q, _page_arg(), PER_PAGE, cohort_id=found.id)
    if not page.total and not q:
        abort(404)  # a cohort with nothing on show is not announced
    return _public(
        render_template(
            "showcase/list.html",
            institution=found.program.institution,
            cohort=found,
            cohorts=[],
            page=page,
            q=request.args.get("q", ""),
            problem=problem,
            here=url_for("showcase.cohort", cohort_id=found.id),
        )
    )


@bp.get("/showcase/actions/<int(max=2147483647):case_id>")
def show(case_id: int):
    item = sc.public_item(case_id)
    if item is None:
        abort(404)
    return _public(
        render_template(
            "showcase/show.html",
            item=item,
            sustainability_labels=repo.SUSTAINABILITY_LABELS,
        )
    )


@bp.get(
    "/showcase/actions/<int(max=2147483647):case_id>/photos/<int(max=2147483647):document_id>.jpg"
)
def photo(case_id: int, document_id: int):
    """Our re-encoded copy (no camera metadata), only while shown and chosen."""
    document = sc.public_photo(case_id, document_id)
    if document is None:
        abort(404)
    path = docs.thumb_path_of(document)
    if path is None or not path.is_file():
        abort(404)
    response = make_response(path.read_bytes())
    response.mimetype = "image/jpeg"
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


# ---------------------------------------------------------------- public JSON


def _api_lang() -> bool:
    """The language of the answer; False when `lang` is given but not id or en."""
    from flask import g

    asked = request.args.get("lang")
    g.api_lang = (
        asked
        if asked in ("id", "en")
        else (request.accept_languages.best_match(("id", "en"), default="id") or "id")
    )
    refresh()
    return asked is None or asked in ("id", "en")


def _json(body, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


def _json_error(status: int, message: str):
    return _json({"message": message}, status)


def public_item_json(item: sc.PublicItem) -> dict:
    return {
        "case_id": item.case_id,
        "title": item.title,
        "institution": {"code": item.institution_code, "name": item.institution},
        "program": item.program,
        "cohort": {"id": item.cohort_id, "name": item.cohort, "year": item.year},
        "agency": item.agency,
        "region": {"name": item.region, "code": item.region_code, "province": item.province},
        "problem": item.problem,
        "current_condition": item.current,
        "milestones": [
            {
                "term": m.term,
                "activity": m.activity,
                "output": m.output,
                "target_quantity": m.target_quantity,
                "target_unit": m.target_unit,
                "achieved_quantity": m.achieved_quantity,
                "status": m.status,
                "result": m.result,
            }
            for m in item.milestones
        ],
        "photos": [
            url_for("showcase.photo", case_id=item.case_id, document_id=d) for d in item.photos
        ],
        "sustainability": item.sustainability or None,
        "url": url_for("showcase.show", case_id=item.case_id),
    }


def _list_row(r: repo.Row) -> dict:
    return {
        "case_id": r.case_id,
        "title": r.title,
        "institution": r.institution,
        "program": r.program,
        "cohort": r.cohort,
        "year": r.year,
        "agency": r.agency,
        "region": r.region,
        "region_code": r.region_code,
        "province": r.province,
        "sustainability": r.sustainability or None,
        "url": url_for("showcase.show", case_id=r.case_id),
    }


@bp.get("/api/v1/showcase")
def api_list():
    if not _api_lang():
        return _json_error(400, _("Unknown language; use one of: id, en."))
    institution_id = cohort_id = None
    code = request.args.get("institution")
    if code is not None:
        found = sc.institution_by_code(code.strip())
        if found is None:
            return _json_error(404, _("No such institution."))
        institution_id = found.id
    raw = request.args.get("cohort")
    if raw is not None:
        if not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 11 and 1 <= int(raw) < 2**31):
            return _json_error(400, _("cohort must be a cohort id."))
        cohort_id = int(raw)
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and 1 <= int(raw) <= MAX_PAGE):
        return _json_error(400, _("page must be a whole number from 1."))
    q, problem = _q_arg()
    if problem:
        return _json_error(400, problem)
    page = sc.public_search(q, int(raw), PER_PAGE, institution_id, cohort_id)
    return _json(
        {
            "items": [_list_row(r) for r in page.rows],
            "page": page.query.page,
            "per_page": page.query.per_page,
            "total": page.total,
            "pages": page.pages,
        }
    )


@bp.get("/api/v1/showcase/<int(min=1, max=2147483647):case_id>")
def api_show(case_id: int):
    if not _api_lang():
        return _json_error(400, _("Unknown language; use one of: id, en."))
    item = sc.public_item(case_id)
    if item is None:
        return _json_error(404, _("Not found, or not shown publicly."))
    return _json(public_item_json(item))


# ---------------------------------------------------------------- consent (signed in)


def card_for(case) -> dict | None:
    """What the consent card shows this user on a case page (None: nothing to show).
    A Jinja global, so the case page needs one include line."""
    if not getattr(current_user, "is_authenticated", False) or case is None:
        return None
    parties = sc.parties_for(current_user, case)
    if not parties or not sc.is_passed(case):
        return None
    consents = sc.open_consents([case.id])[case.id]
    is_trainee = "trainee" in parties
    return {
        "case": case,
        "parties": parties,
        "consents": consents,
        "public": all(p in consents for p in sc.PARTIES),
        "candidates": sc.photo_candidates(case) if is_trainee else [],
        "chosen": set(sc.chosen_photo_ids(case.id)) if is_trainee else set(),
        "max_photos": sc.MAX_PHOTOS,
    }


def _case_or_404(case_id: int):
    case = get_case_for(current_user, case_id)
    if case is None:
        abort(404)
    return case


def _card_response(case, status: int = 200, error: str | None = None, notice: str | None = None):
    card = card_for(case)
    if card is None:
        abort(404)
    template = "showcase/_case_card.html" if is_htmx() else "showcase/manage_case.html"
    return make_response(
        render_template(template, card=card, card_error=error, card_notice=notice), status
    )


@bp.get("/showcase/manage/cases/<int(max=2147483647):case_id>")
@login_required
def manage_case(case_id: int):
    return _card_response(_case_or_404(case_id))


@bp.post("/showcase/manage/cases/<int(max=2147483647):case_id>/consent")
@login_required
def consent(case_id: int):
    case = _case_or_404(case_id)
    party = request.form.get("party", "")
    action = request.form.get("action", "")
    try:
        if action == "give":
            sc.give_consent(case, current_user, party)
            notice = _("Consent given.")
        elif action == "withdraw":
            sc.withdraw_consent(case, current_user, party)
            notice = _("Consent withdrawn: the public page is gone.")
        else:
            return _card_response(case, 422, error=_("Choose to give or to withdraw consent."))
    except sc.ShowcaseRefused as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _card_response(case, exc.status, error=str(exc.message))
    back = request.form.get("back")
    if back == "cohort" and not is_htmx():
        flash(notice, "success")
        return redirect(url_for("showcase.manage_cohort", cohort_id=case.cohort_id))
    return _card_response(case, notice=notice)


@bp.post("/showcase/manage/cases/<int(max=2147483647):case_id>/photos")
@login_required
def photos(case_id: int):
    case = _case_or_404(case_id)
    ids = []
    for raw in request.form.getlist("document_id"):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 10):
            return _card_response(case, 422, error=_("Choose among the photos shown."))
        ids.append(int(raw))
    try:
        sc.choose_photos(case, current_user, ids)
    except sc.ShowcaseRefused as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        return _card_response(case, exc.status, error=str(exc.message))
    return _card_response(case, notice=_("Photos saved."))


@bp.get("/showcase/manage/cohorts/<int(max=2147483647):cohort_id>")
@login_required
def manage_cohort(cohort_id: int):
    found = db.session.get(Cohort, cohort_id)
    if found is None or not sc.may_manage_cohort(current_user, found):
        abort(404)
    return render_template(
        "showcase/manage_cohort.html", cohort=found, rows=sc.cohort_consents(found.id)
    )


def init_app(app) -> None:
    app.jinja_env.globals.update(showcase_card=card_for)
