"""API v1: follow-up after graduation — a case's rounds, the alumnus's report, and the
confirmer's confirm/return.

Routes attach to blueprints.api.bp and are described by PATHS/SCHEMAS below. Every change
goes through perform() (activities report_follow_up, confirm_follow_up, return_follow_up).
"""

from __future__ import annotations

import json

from flask import g, jsonify, url_for
from flask_babel import lazy_gettext as _l

from workflow.extensions import db
from workflow.services import WorkflowError, perform
from workflow.services import followup as fu

from . import openapi
from .api import (
    CASE_ID,
    ApiError,
    _case_or_404,
    _has_bad_number,
    _person,
    bp,
    iso_utc,
    json_object,
)
from .api_implementation import (
    _FILES,
    _IF_MATCH,
    _VERSION,
    _form,
    _is_multipart,
    _json_fields,
    _refusal,
    _version,
)

HORIZON = "<int(min=1, max=120):horizon>"
BASE = f"/cases/{CASE_ID}/follow-up"
REPORT_FIELDS = {"running", "narrative", "report_date", "results"}
DECISION_FIELDS = {"comment"}


# ---------------------------------------------------------------- serialisation


def _date(value) -> str | None:
    return value.isoformat() if value is not None else None


def _report(r) -> dict:
    return {
        "number": r.number,
        "running": r.running,
        "narrative": r.narrative,
        "report_date": _date(r.report_date),
        "author": _person(r.author),
        "created_at": iso_utc(r.created_at),
        "results": [
            {
                "milestone_id": x.milestone_id,
                "status": x.status,
                "status_label": str(fu.RESULT_LABELS.get(x.status, x.status)),
                "achieved_quantity": x.achieved_quantity,
                "note": x.note,
            }
            for x in r.results
        ],
        "evidence": [
            {
                "id": d.id,
                "name": d.original_name,
                "content_type": d.content_type,
                "size": d.size,
                "url": url_for("api.document", document_id=d.id),
            }
            for d in r.documents
        ],
        "decision": r.decision,
        "decided_as": r.decided_as,
        "decided_by": _person(r.decided_by),
        "decided_at": iso_utc(r.decided_at),
        "decision_comment": r.decision_comment,
    }


def follow_up_json(case) -> dict:
    follow = fu.follow_up_of(case)
    if follow is None:
        return {
            "case_id": case.id,
            "followed": False,
            "completed_on": None,
            "confirmer": None,
            "milestones": [],
            "rounds": [],
        }
    return {
        "case_id": case.id,
        "followed": True,
        "completed_on": _date(follow.completed),
        "confirmer": follow.confirmer,
        "milestones": [
            {
                "id": m.id,
                "term": m.term,
                "activity": m.activity,
                "target_quantity": m.target_quantity,
                "target_unit": m.target_unit,
            }
            for m in follow.milestones
        ],
        "rounds": [
            {
                "horizon": r.horizon,
                "opens_on": _date(r.opens_on),
                "status": r.status,
                "status_label": str(fu.ROUND_LABELS[r.status]),
                "due_date": _date(r.due),
                "overdue": r.is_overdue(follow.today),
                "turn": r.turn,
                "reports": [_report(x) for x in (r.row.reports if r.row else [])],
            }
            for r in follow.rounds
        ],
    }


def _respond(case, status: int = 200):
    response = jsonify(follow_up_json(case))
    response.status_code = status
    response.set_etag(str(case.version))
    return response


def _act(case, trigger: str, *, data: dict, comment=None, files=(), version=None):
    try:
        perform(
            case,
            trigger,
            g.api_user,
            comment=comment,
            data=data,
            expected_version=version,
            files=list(files),
        )
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None


# ---------------------------------------------------------------- routes


@bp.get(BASE)
def list_follow_up(case_id: int):
    return _respond(_case_or_404(case_id))


def _report_body() -> tuple[dict, list, int | None]:
    """(fields, files, expected version) from a JSON or multipart/form-data body."""
    if _is_multipart():
        data, files = _form(REPORT_FIELDS)
        if "results" in data:  # the results as JSON text
            try:
                data["results"] = json.loads(data["results"])
            except ValueError:
                raise ApiError(400, _l("%(name)s must be a JSON object.", name="results")) from None
    else:
        data, files = json_object(REPORT_FIELDS | {"version"}), []
        if _has_bad_number(data):
            raise ApiError(400, _l("Numbers must be finite."))
        for name in ("narrative", "report_date"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ApiError(400, _l("%(name)s must be a string.", name=name))
    running = data.get("running")
    if isinstance(running, str):
        value = running.strip().lower()
        if value not in fu.YES + fu.NO:
            raise ApiError(400, _l("%(name)s must be true or false.", name="running"))
        data["running"] = value in fu.YES
    elif running is not None and not isinstance(running, bool):
        raise ApiError(400, _l("%(name)s must be true or false.", name="running"))
    if data.get("results") is not None and not isinstance(data["results"], dict):
        raise ApiError(400, _l("%(name)s must be a JSON object.", name="results"))
    version = _version(data.pop("version", None))
    return data, files, version


@bp.post(f"{BASE}/{HORIZON}/reports")
def report_follow_up(case_id: int, horizon: int):
    case = _case_or_404(case_id)
    data, files, version = _report_body()
    _act(case, "report_follow_up", data={**data, "horizon": horizon}, files=files, version=version)
    return _respond(case, 201)


def _decide(case_id: int, horizon: int, trigger: str):
    case = _case_or_404(case_id)
    body = _json_fields(DECISION_FIELDS, required=False)
    version = _version(body.get("version"))
    _act(case, trigger, data={"horizon": horizon}, comment=body.get("comment"), version=version)
    return _respond(case)


@bp.post(f"{BASE}/{HORIZON}/confirm")
def confirm_follow_up(case_id: int, horizon: int):
    return _decide(case_id, horizon, "confirm_follow_up")


@bp.post(f"{BASE}/{HORIZON}/return")
def return_follow_up(case_id: int, horizon: int):
    return _decide(case_id, horizon, "return_follow_up")


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_DATE = {"type": "string", "format": "date"}
_N_DATE = {**_DATE, "nullable": True}
_N_PERSON = {"allOf": [{"$ref": "#/components/schemas/Person"}], "nullable": True}
_ETAG = {"ETag": {"description": "The case version.", "schema": _STRING}}
_HORIZON = {
    "name": "horizon",
    "in": "path",
    "required": True,
    "description": "Months after the case closed as passed (one of the definition's horizons).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 120},
    "example": 12,
}
_RESULT_LINE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": list(fu.RESULT_STATUSES)},
        "achieved_quantity": {"type": "number", "nullable": True, "minimum": 0},
        "note": {"type": "string", "nullable": True, "maxLength": fu.NOTE_MAX},
    },
}
_REPORT_PROPS = {
    "running": {"type": "boolean", "description": "Is the change action still running?"},
    "narrative": {"type": "string", "maxLength": fu.NARRATIVE_MAX},
    "report_date": {**_N_DATE, "description": "Default today; not before the horizon, not future."},
    "results": {
        "type": "object",
        "description": "Per followed milestone (its id as the key): where it stands.",
        "additionalProperties": _RESULT_LINE,
    },
}

SCHEMAS: dict = {
    "FollowUpReport": {
        "type": "object",
        "required": [
            "number",
            "running",
            "narrative",
            "report_date",
            "author",
            "created_at",
            "results",
            "evidence",
            "decision",
            "decided_as",
            "decided_by",
            "decided_at",
            "decision_comment",
        ],
        "properties": {
            "number": _INT,
            "running": {"type": "boolean"},
            "narrative": _STRING,
            "report_date": _DATE,
            "author": _N_PERSON,
            "created_at": {"type": "string", "format": "date-time"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "milestone_id",
                        "status",
                        "status_label",
                        "achieved_quantity",
                        "note",
                    ],
                    "properties": {
                        "milestone_id": _INT,
                        "status": {"type": "string", "enum": list(fu.RESULT_STATUSES)},
                        "status_label": _STRING,
                        "achieved_quantity": {"type": "number", "nullable": True},
                        "note": _STRING,
                    },
                },
            },
            "evidence": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "content_type", "size", "url"],
                    "properties": {
                        "id": _INT,
                        "name": _STRING,
                        "content_type": _STRING,
                        "size": _INT,
                        "url": _STRING,
                    },
                },
            },
            "decision": {"type": "string", "enum": ["confirmed", "returned"], "nullable": True},
            "decided_as": {"type": "string", "nullable": True},
            "decided_by": _N_PERSON,
            "decided_at": {"type": "string", "format": "date-time", "nullable": True},
            "decision_comment": _STRING,
        },
    },
    "FollowUp": {
        "type": "object",
        "required": ["case_id", "followed", "completed_on", "confirmer", "milestones", "rounds"],
        "properties": {
            "case_id": _INT,
            "followed": {
                "type": "boolean",
                "description": "False unless the case closed as passed on a flow that follows up.",
            },
            "completed_on": _N_DATE,
            "confirmer": {
                "type": "string",
                "enum": ["mentor", "executive", "organizer"],
                "nullable": True,
                "description": "Who confirms: the mentor; the executive once the mentor has "
                "moved (inactive, or not in the alumnus's agency); else the organizers.",
            },
            "milestones": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "term", "activity", "target_quantity", "target_unit"],
                    "properties": {
                        "id": _INT,
                        "term": _STRING,
                        "activity": _STRING,
                        "target_quantity": {"type": "number", "nullable": True},
                        "target_unit": _STRING,
                    },
                },
            },
            "rounds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "horizon",
                        "opens_on",
                        "status",
                        "status_label",
                        "due_date",
                        "overdue",
                        "turn",
                        "reports",
                    ],
                    "properties": {
                        "horizon": _INT,
                        "opens_on": _DATE,
                        "status": {"type": "string", "enum": list(fu.ROUND_LABELS)},
                        "status_label": _STRING,
                        "due_date": _N_DATE,
                        "overdue": {"type": "boolean"},
                        "turn": {
                            "type": "string",
                            "enum": ["trainee", "confirmer"],
                            "nullable": True,
                        },
                        "reports": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/FollowUpReport"},
                        },
                    },
                },
            },
        },
    },
    "FollowUpReportRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_REPORT_PROPS, "version": _VERSION},
    },
    "FollowUpReportForm": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "running": {"type": "string", "enum": ["true", "false", "yes", "no"]},
            "narrative": _REPORT_PROPS["narrative"],
            "report_date": _DATE,
            "results": {"type": "string", "description": "The `results` object as JSON text."},
            "version": _VERSION,
            "files": _FILES,
        },
    },
    "FollowUpDecisionRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "comment": {
                "type": "string",
                "nullable": True,
                "maxLength": 5000,
                "description": "Required to return.",
            },
            "version": _VERSION,
        },
    },
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _changed(description: str, status: str = "200") -> dict:
    return {status: {**_ok("FollowUp", description), "headers": _ETAG}}


_REFUSALS = {
    "400": _err("Invalid parameters or body (not JSON, unknown keys, wrong types, NUL)."),
    "401": _401,
    "403": _err("The caller may not do this (not the alumnus, or not the one who confirms)."),
    "404": _err("No such case, or not the caller's to see."),
    "409": _err("Not available now (not followed up, round not open or decided), or stale."),
    "413": _err("The request is too large."),
    "422": _err("Invalid input: see `fields` (and `reasons`)."),
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/follow-up": {
        "get": {
            "operationId": "getFollowUp",
            "summary": "The case's follow-up after graduation: each horizon's round, whose "
            "turn it is, the reports with their results, evidence and decisions.",
            "parameters": [_CASE, _LANG],
            "responses": {
                **_changed("The follow-up (followed: false when the case is not followed up)."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/follow-up/{horizon}/reports": {
        "post": {
            "operationId": "reportFollowUp",
            "summary": "The alumnus reports at one horizon: still running, each followed "
            "milestone's result, a narrative; files become its evidence.",
            "parameters": [_CASE, _HORIZON, _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("FollowUpReportRequest")},
                    "multipart/form-data": {"schema": _ref("FollowUpReportForm")},
                },
            },
            "responses": {**_changed("Reported: the follow-up.", "201"), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/follow-up/{horizon}/confirm": {
        "post": {
            "operationId": "confirmFollowUp",
            "summary": "Confirm the report awaiting confirmation (the mentor, or who stands "
            "in once the mentor has moved), with an optional comment.",
            "parameters": [_CASE, _HORIZON, _IF_MATCH, _LANG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("FollowUpDecisionRequest")}},
            },
            "responses": {**_changed("Confirmed: the follow-up."), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/follow-up/{horizon}/return": {
        "post": {
            "operationId": "returnFollowUp",
            "summary": "Return the report to the alumnus for correction; the comment is required.",
            "parameters": [_CASE, _HORIZON, _IF_MATCH, _LANG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("FollowUpDecisionRequest")}},
            },
            "responses": {**_changed("Returned: the follow-up."), **_REFUSALS},
        }
    },
}
