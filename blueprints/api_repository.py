"""API v1 (issue 12): the repository of change actions (search with facets, sort and
pages; one change action's summary; the result as CSV/XLSX), and the showcase consent of
a case (read, give, withdraw; the trainee's photos). Routes attach to blueprints.api.bp
(bearer token). The public showcase JSON (no token) is served by blueprints/showcase.py
and described here too, with `security: []`.

A parameter that is not valid is a 400 naming it in `fields` (the web page ignores it with
a message instead).
"""

from __future__ import annotations

import io

from flask import g, jsonify, request, send_file, url_for
from flask_babel import lazy_gettext as _l

from workflow.extensions import db
from workflow.services import exports
from workflow.services import repository as repo
from workflow.services import showcase as sc

from .api import MAX_ID, ApiError, _case_or_404, bp, id_in_path, iso_utc, json_object

CASE_ID = id_in_path("case_id")


# ---------------------------------------------------------------- serialisation


def _row(r: repo.Row) -> dict:
    return {
        "case_id": r.case_id,
        "title": r.title,
        "institution": r.institution,
        "program": r.program,
        "cohort": r.cohort,
        "year": r.year,
        "agency": r.agency or None,
        "region": r.region or None,
        "region_code": r.region_code or None,
        "province": r.province or None,
        "state": r.state,
        "state_label": r.state_labels.get(g.api_lang) if r.state_labels is not None else r.state,
        "result": r.result,
        "predicate": r.predicate or None,
        "sustainability": r.sustainability or None,
        "url": url_for("repository.show", case_id=r.case_id),
    }


# The page's form sends an empty value for "all"; an API client sending one meant a number.
_INTEGER_ARGS = ("institution", "agency", "year", "page", "per_page")


def _query() -> repo.SearchQuery:
    sq, problems = repo.parse_query(request.args)
    for name in _INTEGER_ARGS:
        if name in request.args and not request.args[name].strip():
            problems[name] = str(repo.PROBLEMS["filter"])
    if problems:
        raise ApiError(400, _l("Some parameters are not valid."), fields=problems)
    return sq


def _consent(c) -> dict | None:
    if c is None:
        return None
    return {
        "given_by": {"id": c.given_by.id, "name": c.given_by.name},
        "given_at": iso_utc(c.given_at),
    }


def _showcase_state(case) -> dict:
    consents = sc.open_consents([case.id])[case.id]
    is_trainee = case.trainee_id == g.api_user.id
    return {
        "case_id": case.id,
        "passed": sc.is_passed(case),
        "public": sc.is_public(case),
        "may_consent_for": sc.parties_for(g.api_user, case),
        "consents": {p: _consent(consents.get(p)) for p in sc.PARTIES},
        "photos": sc.chosen_photo_ids(case.id),
        "photo_candidates": [d.id for d in sc.photo_candidates(case)] if is_trainee else [],
        "public_url": url_for("showcase.show", case_id=case.id) if sc.is_public(case) else None,
    }


def _refused(exc: sc.ShowcaseRefused):
    db.session.rollback()
    extra = {"fields": {exc.field: str(exc.message)}} if exc.field else {}
    raise ApiError(exc.status, exc.message, **extra)


# ---------------------------------------------------------------- routes


@bp.get("/repository")
def repository_search():
    sq = _query()
    page = repo.search(g.api_user, sq)
    return jsonify(
        {
            "items": [_row(r) for r in page.rows],
            "facets": {
                name: [{"value": v.value, "label": v.label, "count": v.count} for v in values]
                for name, values in page.facets.items()
            },
            "sort": page.query.effective_sort,
            "page": page.query.page,
            "per_page": page.query.per_page,
            "total": page.total,
            "pages": page.pages,
            "fulltext": page.mode != "plain",
        }
    )


@bp.get("/repository/export")
def repository_export():
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise ApiError(400, _l("format is csv or xlsx."), fields={"format": "csv, xlsx"})
    args = {k: v for k, v in request.args.items() if k != "format"}
    sq, problems = repo.parse_query(args)
    if problems:
        raise ApiError(400, _l("Some parameters are not valid."), fields=problems)
    content = repo.export_file(g.api_user, sq, fmt, g.api_lang)
    response = send_file(
        io.BytesIO(content),
        mimetype=exports.FORMATS[fmt],
        as_attachment=True,
        download_name=f"repository.{fmt}",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get(f"/repository/{CASE_ID}")
def repository_item(case_id: int):
    s = repo.summary(g.api_user, case_id)
    if s is None:
        raise ApiError(404, _l("No such change action in your repository."))
    c = s.case
    return jsonify(
        {
            "case_id": c.id,
            "title": c.title,
            "institution": s.institution,
            "program": s.program,
            "cohort": s.cohort,
            "year": s.entry.year,
            "trainee": s.trainee,
            "agency": s.agency or None,
            "region": s.region or None,
            "region_code": s.region_code or None,
            "province": s.province or None,
            "state": c.state,
            "result": s.entry.result,
            "predicate": s.entry.predicate or None,
            "sustainability": s.entry.sustainability or None,
            "problem": {
                "core_issue": c.core_issue,
                "current": c.background_current,
                "ideal": c.background_ideal,
                "innovation": c.innovation,
            },
            "objectives": {
                "short": c.objective_short,
                "medium": c.objective_medium,
                "long": c.objective_long,
            },
            "milestones": [
                {
                    "term": m.term,
                    "activity": m.activity,
                    "output": m.output,
                    "target_quantity": m.target_quantity,
                    "target_unit": m.target_unit,
                    "achieved_quantity": m.achieved_quantity,
                    "status": m.status,
                }
                for m in s.milestones
            ],
            "final_report": None
            if s.report is None
            else {
                "executive_summary": s.report.executive_summary,
                "lessons_learned": s.report.lessons_learned,
                "continuation_medium": s.report.continuation_medium,
                "continuation_long": s.report.continuation_long,
            },
        }
    )


@bp.get(f"/cases/{CASE_ID}/showcase")
def showcase_state(case_id: int):
    return jsonify(_showcase_state(_case_or_404(case_id)))


@bp.post(f"/cases/{CASE_ID}/showcase/consent")
def showcase_give(case_id: int):
    case = _case_or_404(case_id)
    body = json_object({"party"})
    party = body.get("party")
    if not isinstance(party, str) or party not in sc.PARTIES:
        raise ApiError(400, sc.UNKNOWN_PARTY, fields={"party": "trainee, institution"})
    try:
        sc.give_consent(case, g.api_user, party)
    except sc.ShowcaseRefused as exc:
        _refused(exc)
    return jsonify(_showcase_state(case))


@bp.delete(f"/cases/{CASE_ID}/showcase/consent/<any(trainee, institution):party>")
def showcase_withdraw(case_id: int, party: str):
    case = _case_or_404(case_id)
    try:
        sc.withdraw_consent(case, g.api_user, party)
    except sc.ShowcaseRefused as exc:
        _refused(exc)
    return jsonify(_showcase_state(case))


@bp.put(f"/cases/{CASE_ID}/showcase/photos")
def showcase_photos(case_id: int):
    case = _case_or_404(case_id)
    body = json_object({"document_ids"})
    ids = body.get("document_ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids
    ):
        raise ApiError(
            400, _l("document_ids must be a list of document ids."), fields={"document_ids": ""}
        )
    try:
        sc.choose_photos(case, g.api_user, ids)
    except sc.ShowcaseRefused as exc:
        _refused(exc)
    return jsonify(_showcase_state(case))


# ---------------------------------------------------------------- OpenAPI

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _err(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _ok(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _param(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_401 = _err("Missing or invalid bearer token.")
_CASE = {"$ref": "#/components/parameters/case_id"}
_LANG = {"$ref": "#/components/parameters/lang"}
_PAGE = _param(
    "page", {"type": "integer", "minimum": 1, "maximum": repo.MAX_PAGE, "default": 1}, "Page."
)
_Q = _param(
    "q",
    {"type": "string", "maxLength": repo.SEARCH_MAX},
    "Words in the title, problem or results (every word, or its beginning, must appear); "
    "anything but letters and digits separates words.",
)
_SEARCH_PARAMS = [
    _Q,
    _param("institution", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Institution id."),
    _param("program", {"type": "string", "maxLength": 20}, "Programme code (PKA, PKP, PKN II)."),
    _param("year", {"type": "integer", "minimum": 1, "maximum": 9999}, "Cohort year."),
    _param("province", {"type": "string", "maxLength": 20}, "Province: region code, or id."),
    _param("region", {"type": "string", "maxLength": 20}, "Regency/city: region code, or id."),
    _param("agency", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Agency id."),
    _param("result", {"type": "string", "enum": list(repo.RESULTS)}, "Result."),
    _param("predicate", {"type": "string", "maxLength": 40}, "Predicate."),
    _param(
        "sustainability",
        {"type": "string", "enum": list(repo.SUSTAINABILITY)},
        "Sustainability from the follow-up (none: not reported yet).",
    ),
    _param(
        "sort",
        {"type": "string", "enum": list(repo.SORTS)},
        "Order (default: relevance with words, newest otherwise).",
    ),
    _PAGE,
    _param(
        "per_page",
        {"type": "integer", "enum": list(repo.PER_PAGE_CHOICES), "default": repo.DEFAULT_PER_PAGE},
        "Results per page.",
    ),
    _LANG,
]
_ROW_PROPS = {
    "case_id": _INT,
    "title": _STRING,
    "institution": _STRING,
    "program": _STRING,
    "cohort": _STRING,
    "year": _INT,
    "agency": _nullable(_STRING),
    "region": _nullable(_STRING),
    "region_code": _nullable(_STRING),
    "province": _nullable(_STRING),
    "sustainability": _nullable({"type": "string", "enum": ["running", "stopped"]}),
    "url": _STRING,
}
_MILESTONE = {
    "type": "object",
    "properties": {
        "term": _STRING,
        "activity": _STRING,
        "output": _STRING,
        "target_quantity": _nullable(_NUM),
        "target_unit": _STRING,
        "achieved_quantity": _nullable(_NUM),
        "status": _STRING,
        "result": _STRING,
    },
}
_CONSENT = _nullable(
    {
        "type": "object",
        "required": ["given_by", "given_at"],
        "properties": {
            "given_by": {
                "type": "object",
                "properties": {"id": _INT, "name": _STRING},
            },
            "given_at": {"type": "string", "format": "date-time"},
        },
    }
)
_PAGED = {"page": _INT, "per_page": _INT, "total": _INT, "pages": _INT}

SCHEMAS: dict = {
    "RepositoryRow": {
        "type": "object",
        "required": [*_ROW_PROPS, "state", "state_label", "result", "predicate"],
        "properties": {
            **_ROW_PROPS,
            "state": _STRING,
            "state_label": _STRING,
            "result": {"type": "string", "enum": list(repo.RESULTS)},
            "predicate": _nullable(_STRING),
        },
    },
    "RepositoryPage": {
        "type": "object",
        "required": ["items", "facets", "sort", *_PAGED, "fulltext"],
        "properties": {
            "items": {"type": "array", "items": _ref("RepositoryRow")},
            "facets": {
                "type": "object",
                "description": "Per facet, the counts per value under the other filters.",
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["value", "label", "count"],
                        "properties": {"value": _STRING, "label": _STRING, "count": _INT},
                    },
                },
            },
            "sort": {"type": "string", "enum": list(repo.SORTS)},
            **_PAGED,
            "fulltext": {"type": "boolean", "description": "False: the plain search answered."},
        },
    },
    "RepositoryItem": {
        "type": "object",
        "required": ["case_id", "title", "result", "milestones"],
        "properties": {
            "case_id": _INT,
            "title": _STRING,
            "institution": _STRING,
            "program": _STRING,
            "cohort": _STRING,
            "year": _INT,
            "trainee": _STRING,
            "agency": _nullable(_STRING),
            "region": _nullable(_STRING),
            "region_code": _nullable(_STRING),
            "province": _nullable(_STRING),
            "state": _STRING,
            "result": {"type": "string", "enum": list(repo.RESULTS)},
            "predicate": _nullable(_STRING),
            "sustainability": _nullable(_STRING),
            "problem": {"type": "object", "additionalProperties": _STRING},
            "objectives": {"type": "object", "additionalProperties": _STRING},
            "milestones": {"type": "array", "items": _MILESTONE},
            "final_report": _nullable({"type": "object", "additionalProperties": _STRING}),
        },
    },
    "ShowcaseState": {
        "type": "object",
        "required": ["case_id", "passed", "public", "may_consent_for", "consents", "photos"],
        "properties": {
            "case_id": _INT,
            "passed": {"type": "boolean"},
            "public": {"type": "boolean"},
            "may_consent_for": {
                "type": "array",
                "items": {"type": "string", "enum": list(sc.PARTIES)},
            },
            "consents": {
                "type": "object",
                "properties": {"trainee": _CONSENT, "institution": _CONSENT},
            },
            "photos": {"type": "array", "items": _INT},
            "photo_candidates": {"type": "array", "items": _INT},
            "public_url": _nullable(_STRING),
        },
    },
    "ShowcaseList": {
        "type": "object",
        "required": ["items", *_PAGED],
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "required": list(_ROW_PROPS), "properties": _ROW_PROPS},
            },
            **_PAGED,
        },
    },
    "ShowcaseItem": {
        "type": "object",
        "required": ["case_id", "title", "milestones", "photos", "url"],
        "properties": {
            "case_id": _INT,
            "title": _STRING,
            "institution": {"type": "object", "properties": {"code": _STRING, "name": _STRING}},
            "program": _STRING,
            "cohort": {
                "type": "object",
                "properties": {"id": _INT, "name": _STRING, "year": _INT},
            },
            "agency": _STRING,
            "region": {
                "type": "object",
                "properties": {"name": _STRING, "code": _STRING, "province": _STRING},
            },
            "problem": _STRING,
            "current_condition": _STRING,
            "milestones": {"type": "array", "items": _MILESTONE},
            "photos": {"type": "array", "items": _STRING},
            "sustainability": _nullable({"type": "string", "enum": ["running", "stopped"]}),
            "url": _STRING,
        },
    },
}

_PUBLIC_ERRORS = {
    "400": _err("A parameter is not valid."),
    "404": _err("Not shown publicly (never shown, consent withdrawn, or no such item)."),
}

PATHS: dict = {
    "/api/v1/repository": {
        "get": {
            "operationId": "searchRepository",
            "summary": "Search the change actions the caller may see (their institutions; "
            "every institution for a national administrator), with facets, sort and pages.",
            "parameters": _SEARCH_PARAMS,
            "responses": {
                "200": _ok("RepositoryPage", "One page, with facet counts."),
                "400": _err("A parameter is not valid: see `fields`."),
                "401": _401,
            },
        }
    },
    "/api/v1/repository/export": {
        "get": {
            "operationId": "exportRepository",
            "summary": "The current result (filters and sort, every page) as CSV or XLSX.",
            "parameters": [
                _param("format", {"type": "string", "enum": ["csv", "xlsx"]}, "File format."),
                *[p for p in _SEARCH_PARAMS if p.get("name") not in ("page", "per_page")],
            ],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        exports.FORMATS["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "400": _err("A parameter is not valid: see `fields`."),
                "401": _401,
            },
        }
    },
    "/api/v1/repository/{case_id}": {
        "get": {
            "operationId": "getRepositoryItem",
            "summary": "One change action's read-only summary (no scores, comments or documents).",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": _ok("RepositoryItem", "The summary."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("Not in the caller's repository."),
            },
        }
    },
    "/api/v1/cases/{case_id}/showcase": {
        "get": {
            "operationId": "getShowcaseConsent",
            "summary": "The showcase consents of a case (who gave them, when), its chosen "
            "photos and whether it is public.",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": _ok("ShowcaseState", "The consent state."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/showcase/consent": {
        "post": {
            "operationId": "giveShowcaseConsent",
            "summary": "Give consent as the trainee, or for the institution (an organizer of "
            "the cohort or an admin of the institution). The case must have passed.",
            "parameters": [_CASE, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["party"],
                            "additionalProperties": False,
                            "properties": {"party": {"type": "string", "enum": list(sc.PARTIES)}},
                        }
                    }
                },
            },
            "responses": {
                "200": _ok("ShowcaseState", "Consent in force."),
                "400": _err("The body is not valid."),
                "401": _401,
                "403": _err("The caller may not consent for this party."),
                "404": _err("No such case, or not the caller's to see."),
                "409": _err("The case has not passed."),
                "422": _err("Refused."),
            },
        }
    },
    "/api/v1/cases/{case_id}/showcase/consent/{party}": {
        "delete": {
            "operationId": "withdrawShowcaseConsent",
            "summary": "Withdraw a consent: the public page is gone at once.",
            "parameters": [
                _CASE,
                {
                    "name": "party",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(sc.PARTIES)},
                },
                _LANG,
            ],
            "responses": {
                "200": _ok("ShowcaseState", "Consent withdrawn (or none was in force)."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "403": _err("The caller may not withdraw for this party."),
                "404": _err("No such case, or not the caller's to see."),
                "422": _err("Refused."),
            },
        }
    },
    "/api/v1/cases/{case_id}/showcase/photos": {
        "put": {
            "operationId": "chooseShowcasePhotos",
            "summary": "The trainee chooses the photos of the public page among their "
            "evidence images (replaces the previous choice).",
            "parameters": [_CASE, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["document_ids"],
                            "additionalProperties": False,
                            "properties": {
                                "document_ids": {
                                    "type": "array",
                                    "maxItems": sc.MAX_PHOTOS,
                                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _ok("ShowcaseState", "The choice is saved."),
                "400": _err("The body is not valid."),
                "401": _401,
                "403": _err("Only the trainee chooses."),
                "404": _err("No such case, or not the caller's to see."),
                "422": _err("Not among the case's evidence images, or too many."),
            },
        }
    },
    "/api/v1/showcase": {
        "get": {
            "operationId": "listShowcase",
            "summary": "Public (no token): the change actions on show, per institution (its "
            "code) or cohort, with search.",
            "security": [],
            "parameters": [
                _param("institution", {"type": "string", "maxLength": 40}, "Institution code."),
                _param("cohort", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Cohort."),
                _Q,
                _PAGE,
                _LANG,
            ],
            "responses": {"200": _ok("ShowcaseList", "One page."), **_PUBLIC_ERRORS},
        }
    },
    "/api/v1/showcase/{case_id}": {
        "get": {
            "operationId": "getShowcaseItem",
            "summary": "Public (no token): one change action on show — only its public fields.",
            "security": [],
            "parameters": [_CASE, _LANG],
            "responses": {"200": _ok("ShowcaseItem", "The public fields."), **_PUBLIC_ERRORS},
        }
    },
}
