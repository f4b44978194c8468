"""API v1: the oversight dashboards — counts for everything the caller oversees, one
cohort's funnel and time in state, and its trainee table with the web page's filters, sort
and pages. Read-only; routes attach to blueprints.api.bp, described by PATHS/SCHEMAS below.

Who oversees nothing gets empty counts; a cohort the caller does not oversee is a 404; a
parameter that is not valid is a 400 naming it in `fields`.
"""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l

from workflow.services import dashboards as dash

from . import openapi
from .api import MAX_ID, MAX_PAGE, ApiError, _int_arg, bp, id_in_path

COHORT_ID = id_in_path("cohort_id")
COHORT_SORTS = tuple(s for s in dash.SORTS if s != "cohort")
MAX_COHORTS_PER_PAGE = 100


# ---------------------------------------------------------------- serialisation


def _label(state: dash.StateInfo) -> str:
    return state.labels.get(g.api_lang)


def _state(state: dash.StateInfo) -> dict:
    return {
        "key": state.key,
        "label": _label(state),
        "terminal": state.terminal,
        "passed": state.passed,
    }


def _totals(counts: dash.Counts) -> dict:
    return {
        "total": counts.total,
        "overdue": counts.overdue,
        "finished": counts.finished,
        "passed": counts.passed,
    }


def _funnel(counts: dash.Counts) -> dict:
    return {
        **_totals(counts),
        "states": [
            {
                "state": s.state.key,
                "label": _label(s.state),
                "count": s.count,
                "overdue": s.overdue,
            }
            for s in counts.funnel
        ],
    }


def _row(counts: dash.Counts, with_year: bool) -> dict:
    body = {
        "id": counts.id,
        "name": counts.name,
        **_totals(counts),
        "states": {s.key: counts.count(s.key) for s in counts.states},
    }
    if with_year:
        body["year"] = counts.year
    return body


def _named(key, name) -> dict | None:
    return None if key is None else {"id": key, "name": name or ""}


def _trainee(r: dash.TableRow) -> dict:
    return {
        "case_id": r.case_id,
        "version": r.version,
        "title": r.title,
        "trainee": {"id": r.trainee_id, "name": r.name},
        "agency": _named(r.agency_id, r.agency),
        "region": _named(r.region_id, r.region),
        "province": _named(r.province_id, r.province),
        "group": _named(r.group_id, r.group),
        "cohort": {"id": r.cohort_id, "name": r.cohort},
        "state": r.state.key,
        "state_label": _label(r.state),
        "terminal": r.state.terminal,
        "days_in_state": r.days_in_state,
        "due_date": r.due_date.isoformat() if r.due_date else None,
        "overdue": r.overdue,
        "milestones": {"closed": r.closed, "total": r.milestones},
        "final_score": r.final_score,
        "predicate": r.predicate,
    }


def _cohort_or_404(cohort_id: int):
    cohort = dash.cohort_for(g.api_user, cohort_id)
    if cohort is None:
        raise ApiError(404, _l("No such cohort, or you do not oversee it."))
    return cohort


# ---------------------------------------------------------------- routes


@bp.get("/dashboard")
def dashboard_overview():
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg("per_page", dash.COHORTS_PER_PAGE, 1, MAX_COHORTS_PER_PAGE)
    overview = dash.overview(g.api_user, page, per_page)
    return jsonify(
        {
            "states": [_state(s) for s in overview.states],
            "funnel": _funnel(overview.funnel),
            "cohorts": {
                "items": [_row(c, with_year=True) for c in overview.cohorts],
                "page": overview.cohort_page,
                "per_page": per_page,
                "total": overview.cohort_total,
                "pages": overview.cohort_pages,
            },
            "provinces": [_row(p, with_year=False) for p in overview.provinces],
        }
    )


@bp.get(f"/cohorts/{COHORT_ID}/dashboard")
def cohort_dashboard(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    funnel = dash.funnel(g.api_user, cohort)
    times = dash.time_in_state(g.api_user, cohort, funnel.states)
    return jsonify(
        {
            "cohort": {"id": cohort.id, "name": cohort.name, "year": cohort.year},
            "states": [_state(s) for s in funnel.states],
            "funnel": _funnel(funnel),
            "time_in_state": [
                {
                    "state": t.state.key,
                    "label": _label(t.state),
                    "visits": t.visits,
                    "median": t.median,
                    "p90": t.p90,
                }
                for t in times
            ],
        }
    )


@bp.get(f"/cohorts/{COHORT_ID}/trainees")
def cohort_trainees(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    # One cohort's table: a cohort filter would mean nothing here.
    args = {k: v for k, v in request.args.items() if k not in ("lang", "cohort")}
    query, problems = dash.parse_table_query(args, COHORT_SORTS)
    if problems:
        raise ApiError(400, _l("Some parameters are not valid."), fields=problems)
    page = dash.table_page(g.api_user, query, cohort)
    return jsonify(
        {
            "items": [_trainee(r) for r in page.rows],
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
            "pages": page.pages,
            "sort": page.query.sort,
            "dir": page.query.dir,
        }
    )


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_INT = {"type": "integer"}
_STRING = {"type": "string"}
_COHORT = {
    "name": "cohort_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "example": 1,
}
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 999999999}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


_NAMED = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": _INT, "name": _STRING},
}
_TOTALS = {
    "total": {**_INT, "description": "Cases."},
    "overdue": {**_INT, "description": "Past their due date in a state that is not terminal."},
    "finished": {**_INT, "description": "In a terminal state."},
    "passed": {**_INT, "description": "Finished with a result at the pass mark."},
}
_STATE_COUNTS = {
    "type": "object",
    "additionalProperties": _INT,
    "description": "Cases per state key.",
}

SCHEMAS: dict = {
    "DashboardState": {
        "type": "object",
        "required": ["key", "label", "terminal", "passed"],
        "properties": {
            "key": _STRING,
            "label": _STRING,
            "terminal": {"type": "boolean"},
            "passed": {"type": "boolean"},
        },
    },
    "DashboardFunnel": {
        "type": "object",
        "required": [*_TOTALS, "states"],
        "properties": {
            **_TOTALS,
            "states": {
                "type": "array",
                "description": "Every state, in the definition's order (zeros included).",
                "items": {
                    "type": "object",
                    "required": ["state", "label", "count", "overdue"],
                    "properties": {
                        "state": _STRING,
                        "label": _STRING,
                        "count": _INT,
                        "overdue": _INT,
                    },
                },
            },
        },
    },
    "DashboardCohortCounts": {
        "type": "object",
        "required": ["id", "name", "year", *_TOTALS, "states"],
        "properties": {
            "id": _INT,
            "name": _STRING,
            "year": _INT,
            **_TOTALS,
            "states": _STATE_COUNTS,
        },
    },
    "DashboardProvinceCounts": {
        "type": "object",
        "required": ["id", "name", *_TOTALS, "states"],
        "properties": {
            "id": _nullable({**_INT, "description": "Null: trainees whose province is not known."}),
            "name": _STRING,
            **_TOTALS,
            "states": _STATE_COUNTS,
        },
    },
    "Dashboard": {
        "type": "object",
        "required": ["states", "funnel", "cohorts", "provinces"],
        "properties": {
            "states": {"type": "array", "items": _ref("DashboardState")},
            "funnel": _ref("DashboardFunnel"),
            "cohorts": {
                "type": "object",
                "required": ["items", "page", "per_page", "total", "pages"],
                "properties": {
                    "items": {"type": "array", "items": _ref("DashboardCohortCounts")},
                    "page": _INT,
                    "per_page": _INT,
                    "total": _INT,
                    "pages": _INT,
                },
            },
            "provinces": {"type": "array", "items": _ref("DashboardProvinceCounts")},
        },
    },
    "CohortDashboard": {
        "type": "object",
        "required": ["cohort", "states", "funnel", "time_in_state"],
        "properties": {
            "cohort": {
                "type": "object",
                "required": ["id", "name", "year"],
                "properties": {"id": _INT, "name": _STRING, "year": _INT},
            },
            "states": {"type": "array", "items": _ref("DashboardState")},
            "funnel": _ref("DashboardFunnel"),
            "time_in_state": {
                "type": "array",
                "description": "Working days of finished stays per state (states without any "
                "are left out).",
                "items": {
                    "type": "object",
                    "required": ["state", "label", "visits", "median", "p90"],
                    "properties": {
                        "state": _STRING,
                        "label": _STRING,
                        "visits": _INT,
                        "median": {"type": "number"},
                        "p90": {"type": "number"},
                    },
                },
            },
        },
    },
    "TraineeRow": {
        "type": "object",
        "required": [
            "case_id",
            "version",
            "title",
            "trainee",
            "agency",
            "region",
            "province",
            "group",
            "cohort",
            "state",
            "state_label",
            "terminal",
            "days_in_state",
            "due_date",
            "overdue",
            "milestones",
            "final_score",
            "predicate",
        ],
        "properties": {
            "case_id": _INT,
            "version": _INT,
            "title": _STRING,
            "trainee": _NAMED,
            "agency": _nullable(_NAMED),
            "region": _nullable({**_NAMED, "description": "The regency or city."}),
            "province": _nullable(_NAMED),
            "group": _nullable(_NAMED),
            "cohort": _NAMED,
            "state": _STRING,
            "state_label": _STRING,
            "terminal": {"type": "boolean"},
            "days_in_state": _nullable(
                {**_INT, "description": "Working days since entering the state (null if final)."}
            ),
            "due_date": _nullable({"type": "string", "format": "date"}),
            "overdue": {"type": "boolean"},
            "milestones": {
                "type": "object",
                "required": ["closed", "total"],
                "properties": {"closed": _INT, "total": _INT},
                "description": "Short-term milestones: closed (verified, or not achieved with "
                "an explanation) of all.",
            },
            "final_score": _nullable({"type": "number"}),
            "predicate": _nullable(_STRING),
        },
    },
    "TraineeTable": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages", "sort", "dir"],
        "properties": {
            "items": {"type": "array", "items": _ref("TraineeRow")},
            "page": {**_INT, "description": "A page past the end answers the last one."},
            "per_page": _INT,
            "total": _INT,
            "pages": _INT,
            "sort": _STRING,
            "dir": {"type": "string", "enum": list(dash.DIRECTIONS)},
        },
    },
}

_TABLE_PARAMS = [
    _query(
        "state",
        {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 40},
        "Only cases in this state (a state key of the definition).",
    ),
    _query(
        "group",
        {"type": "string", "pattern": "^([1-9][0-9]{0,8}|none)$"},
        "A group id, or `none` for the cases without a group.",
    ),
    _query("agency", _ID_SCHEMA, "The trainee's agency."),
    _query("region", _ID_SCHEMA, "The regency or city of the trainee's agency."),
    _query("province", _ID_SCHEMA, "The province of the trainee's agency."),
    _query("overdue", {"type": "string", "enum": ["yes", "no"]}, "Only late, or only not late."),
    _query("q", {"type": "string", "maxLength": dash.SEARCH_MAX}, "Search the name or title."),
    _query(
        "sort",
        {"type": "string", "enum": list(COHORT_SORTS), "default": "name"},
        "The column to sort by; empty values come last; equal ones by case id.",
    ),
    _query("dir", {"type": "string", "enum": list(dash.DIRECTIONS), "default": "asc"}, "Order."),
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "Page."),
    _query(
        "per_page",
        {"type": "integer", "enum": list(dash.PER_PAGE_CHOICES), "default": dash.DEFAULT_PER_PAGE},
        "Rows per page.",
    ),
    _LANG,
]

PATHS: dict = {
    "/api/v1/dashboard": {
        "get": {
            "operationId": "getDashboard",
            "summary": "Counts for everything the caller oversees (organizer: their cohorts; "
            "coach: their groups; institution admin: every cohort of the institution): cases "
            "per state, per cohort (a page of cohorts) and per province.",
            "parameters": [
                _query(
                    "page",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                    "Page of cohorts.",
                ),
                _query(
                    "per_page",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_COHORTS_PER_PAGE,
                        "default": dash.COHORTS_PER_PAGE,
                    },
                    "Cohorts per page.",
                ),
                _LANG,
            ],
            "responses": {
                "200": _ok("Dashboard", "The counts (empty for who oversees nothing)."),
                "400": _err("Invalid parameters."),
                "401": _401,
            },
        }
    },
    "/api/v1/cohorts/{cohort_id}/dashboard": {
        "get": {
            "operationId": "getCohortDashboard",
            "summary": "One cohort: cases per state and the working days spent in each state "
            "(median and 90th percentile of finished stays).",
            "parameters": [_COHORT, _LANG],
            "responses": {
                "200": _ok("CohortDashboard", "The cohort's counts."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such cohort, or the caller does not oversee it."),
            },
        }
    },
    "/api/v1/cohorts/{cohort_id}/trainees": {
        "get": {
            "operationId": "listCohortTrainees",
            "summary": "The cohort's trainee table, as on the dashboard: filters, search, sort "
            "by any column, pages.",
            "parameters": [_COHORT, *_TABLE_PARAMS],
            "responses": {
                "200": _ok("TraineeTable", "One page of trainees."),
                "400": _err("A parameter is not valid: see `fields`."),
                "401": _401,
                "404": _err("No such cohort, or the caller does not oversee it."),
            },
        }
    },
}
