"""API v1: seminars. A cohort's schedule (its organizers and the institution's admin), one
seminar (whoever sees its case), scheduling and rescheduling (the cohort's organizer) and
the attendance (the panel, the organizer) — each change through perform(), like the web
pages. Routes attach to blueprints.api.bp, described by PATHS/SCHEMAS below.
"""

from __future__ import annotations

from flask import g, jsonify
from flask_babel import lazy_gettext as _l

from workflow.extensions import db
from workflow.models.seminars import Seminar
from workflow.permissions import get_case_for
from workflow.services import Blocked, WorkflowError, perform
from workflow.services import seminars as svc
from workflow.services.cohorts import cohort_for

from . import openapi
from .api import (
    CASE_ID,
    MAX_ID,
    ApiError,
    _case_or_404,
    _expected_version,
    _person,
    bp,
    id_in_path,
    iso_utc,
    json_object,
)

COHORT_ID = id_in_path("cohort_id")
SEMINAR_ID = id_in_path("seminar_id")
SCHEDULE_KEYS = {"date", "start", "end", "room", "online_link", *svc.PANEL_FIELDS.values()}
ATTENDANCE_KEYS = {"panel", "trainee_attended", "notes"}


# ---------------------------------------------------------------- serialisation


def seminar_json(seminar: Seminar, zone: str, clashes: list[str]) -> dict:
    case = seminar.case
    start, end = svc.to_local(seminar.starts_at, zone), svc.to_local(seminar.ends_at, zone)
    doc = seminar.presentation
    return {
        "id": seminar.id,
        "case_id": seminar.case_id,
        "cohort_id": seminar.cohort_id,
        "kind": seminar.kind,
        "kind_label": svc.kind_label(seminar.kind, g.api_lang),
        "status": seminar.status,
        "status_label": svc.status_label(seminar),
        "outcome": seminar.outcome,
        "outcome_label": svc.outcome_label(seminar) or None,
        "starts_at": iso_utc(seminar.starts_at),
        "ends_at": iso_utc(seminar.ends_at),
        "local": {
            "date": start.date().isoformat(),
            "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}",
            "zone": zone,
            "zone_label": svc._zone_label(zone),
        },
        "room": seminar.room,
        "online_link": seminar.online_link,
        "sequence": seminar.sequence,
        "uid": seminar.uid,
        "trainee": _person(case.trainee),
        "ndh": case.ndh,
        "title": case.title or "",
        "trainee_attended": seminar.trainee_attended,
        "notes": seminar.notes or "",
        "panel": [
            {"role": p.role, "user": _person(p.user), "attended": p.attended} for p in seminar.panel
        ],
        "presentation": None
        if doc is None
        else {
            "id": doc.id,
            "name": doc.original_name,
            "size": doc.size,
            "content_type": doc.content_type,
        },
        "clashes": clashes,
    }


def _one(seminar: Seminar) -> dict:
    zone = svc.zone_of(seminar.cohort)
    mine = svc.Booking.of(seminar)
    clashes = []
    # Clashes name other seminars (anywhere): only for who sets up this cohort.
    if seminar.status != "cancelled" and cohort_for(g.api_user, seminar.cohort_id) is not None:
        for other in svc.overlapping(seminar.starts_at, seminar.ends_at, seminar.id):
            clashes += [c.message for c in svc.clashes_between(mine, svc.Booking.of(other), zone)]
    return seminar_json(seminar, zone, clashes)


def _seminar_or_404(seminar_id: int) -> Seminar:
    seminar = db.session.get(Seminar, seminar_id)
    if seminar is None or get_case_for(g.api_user, seminar.case_id) is None:
        raise ApiError(404, _l("No such seminar, or it is not yours to see."))
    return seminar


def _refused(exc: WorkflowError) -> ApiError:
    extra = {}
    if isinstance(exc, Blocked):
        extra = {
            "reasons": [str(r) for r in exc.reasons],
            "fields": {k: str(v) for k, v in exc.fields.items()},
        }
    return ApiError(exc.status, exc.message, **extra)


# ---------------------------------------------------------------- routes


@bp.get(f"/cohorts/{COHORT_ID}/seminars")
def cohort_seminars(cohort_id: int):
    cohort = cohort_for(g.api_user, cohort_id)
    if cohort is None:
        raise ApiError(404, _l("No such cohort, or you do not organize it."))
    plan = svc.schedule(cohort)
    return jsonify(
        {
            "cohort": {"id": cohort.id, "name": cohort.name},
            "zone": plan.zone,
            "items": [seminar_json(r.seminar, plan.zone, r.clashes) for r in plan.rows],
            "waiting": [
                {"case_id": c.id, "trainee": _person(c.trainee), "ndh": c.ndh} for c in plan.waiting
            ],
        }
    )


@bp.get(f"/seminars/{SEMINAR_ID}")
def get_seminar(seminar_id: int):
    return jsonify(_one(_seminar_or_404(seminar_id)))


@bp.post(f"/cases/{CASE_ID}/seminars")
def schedule_seminar(case_id: int):
    body = json_object(SCHEDULE_KEYS)
    case = _case_or_404(case_id)
    expected = _expected_version()
    try:
        event = perform(case, "schedule_seminar", g.api_user, data=body, expected_version=expected)
    except WorkflowError as exc:
        raise _refused(exc) from None
    seminar = db.session.get(Seminar, event.data["seminar_id"])
    response = jsonify(_one(seminar))
    response.status_code = 200 if event.data.get("rescheduled") else 201
    return response


@bp.post(f"/seminars/{SEMINAR_ID}/attendance")
def record_attendance(seminar_id: int):
    body = json_object(ATTENDANCE_KEYS)
    seminar = _seminar_or_404(seminar_id)
    expected = _expected_version()
    try:
        perform(
            seminar.case,
            "record_attendance",
            g.api_user,
            data={**body, "seminar_id": seminar.id},
            expected_version=expected,
        )
    except WorkflowError as exc:
        raise _refused(exc) from None
    return jsonify(_one(seminar))


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_PERSON = {"$ref": "#/components/schemas/Person"}


def _id_param(name: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "example": 1,
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The case version the caller saw: 3, "3" or W/"3". A stale version '
    "answers 409; empty or * means any.",
    "schema": {"type": "string", "pattern": '^(\\*|(W/)?"?[0-9]{1,18}"?)?$'},
}
_TIME = {"type": "string", "pattern": "^[0-9]{1,2}[:.][0-9]{2}$", "example": "09:00"}
_PANEL_ID = _nullable(
    {
        "type": "integer",
        "minimum": 1,
        "description": "Null or absent: the trainee's group examiner/coach, the case's mentor.",
    }
)

SCHEMAS: dict = {
    "Seminar": {
        "type": "object",
        "required": [
            "id",
            "case_id",
            "cohort_id",
            "kind",
            "kind_label",
            "status",
            "status_label",
            "outcome",
            "outcome_label",
            "starts_at",
            "ends_at",
            "local",
            "room",
            "online_link",
            "sequence",
            "uid",
            "trainee",
            "ndh",
            "title",
            "trainee_attended",
            "notes",
            "panel",
            "presentation",
            "clashes",
        ],
        "properties": {
            "id": _INT,
            "case_id": _INT,
            "cohort_id": _INT,
            "kind": {"type": "string", "description": "proposal or report (the state's kind)."},
            "kind_label": _STRING,
            "status": {"type": "string", "enum": list(Seminar.STATUSES)},
            "status_label": _STRING,
            "outcome": _nullable({"type": "string", "enum": list(Seminar.OUTCOMES)}),
            "outcome_label": _nullable(_STRING),
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": "string", "format": "date-time"},
            "local": {
                "type": "object",
                "description": "The time in the institution's zone.",
                "required": ["date", "start", "end", "zone", "zone_label"],
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "start": _STRING,
                    "end": _STRING,
                    "zone": _STRING,
                    "zone_label": _STRING,
                },
            },
            "room": _STRING,
            "online_link": _STRING,
            "sequence": {**_INT, "description": "Raised by each reschedule (the .ics SEQUENCE)."},
            "uid": {**_STRING, "description": "The calendar entry's UID."},
            "trainee": _PERSON,
            "ndh": _nullable(_INT),
            "title": _STRING,
            "trainee_attended": _nullable(_BOOL),
            "notes": _STRING,
            "panel": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["role", "user", "attended"],
                    "properties": {
                        "role": {"type": "string", "enum": list(svc.PANEL_ROLES)},
                        "user": _PERSON,
                        "attended": _nullable(_BOOL),
                    },
                },
            },
            "presentation": _nullable(
                {
                    "type": "object",
                    "required": ["id", "name", "size", "content_type"],
                    "properties": {
                        "id": _INT,
                        "name": _STRING,
                        "size": _INT,
                        "content_type": _STRING,
                    },
                }
            ),
            "clashes": {
                "type": "array",
                "items": _STRING,
                "description": "What this seminar shares with an overlapping one (a person, "
                "a room), in words.",
            },
        },
    },
    "CohortSeminars": {
        "type": "object",
        "required": ["cohort", "zone", "items", "waiting"],
        "properties": {
            "cohort": _PERSON,
            "zone": _STRING,
            "items": {"type": "array", "items": _ref("Seminar")},
            "waiting": {
                "type": "array",
                "description": "Cases in a seminar state with no seminar of that kind open.",
                "items": {
                    "type": "object",
                    "required": ["case_id", "trainee", "ndh"],
                    "properties": {"case_id": _INT, "trainee": _PERSON, "ndh": _nullable(_INT)},
                },
            },
        },
    },
    "SeminarScheduleRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "Date and times in the institution's zone; a room, an online link "
        "(http or https) or both. Scheduling again while the seminar is still scheduled "
        "reschedules it (same seminar, sequence + 1, everyone notified again).",
        "properties": {
            "date": {"type": "string", "format": "date", "example": "2026-12-10"},
            "start": _TIME,
            "end": {**_TIME, "example": "11:00"},
            "room": _nullable({"type": "string", "maxLength": svc.ROOM_MAX}),
            "online_link": _nullable({"type": "string", "maxLength": svc.LINK_MAX}),
            **{name: _PANEL_ID for name in svc.PANEL_FIELDS.values()},
        },
    },
    "SeminarAttendanceRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "Marks the seminar held (only once it has started).",
        "properties": {
            "panel": {
                "type": "object",
                "description": "Panel member's user id → attended; a member left out did not.",
                "additionalProperties": _BOOL,
            },
            "trainee_attended": _BOOL,
            "notes": {"type": "string", "maxLength": svc.NOTES_MAX},
        },
    },
}

_REFUSALS = {
    "400": _err("Invalid parameters or body (not JSON, unknown keys, NUL)."),
    "401": _401,
    "403": _err("The caller may not do this (not the cohort's organizer, not on the panel)."),
    "404": _err("No such case or seminar, or not the caller's to see."),
    "409": _err("Not available now (no seminar in this state, closed seminar), or stale."),
    "422": _err("Invalid input, a clash or a seminar not started: see `fields`, `reasons`."),
}

PATHS: dict = {
    "/api/v1/cohorts/{cohort_id}/seminars": {
        "get": {
            "operationId": "listCohortSeminars",
            "summary": "The cohort's seminars in time order, each with its clashes, and the "
            "cases waiting for one (organizers and the institution's admin).",
            "parameters": [_id_param("cohort_id"), _LANG],
            "responses": {
                "200": _ok("CohortSeminars", "The schedule."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such cohort, or the caller does not organize it."),
            },
        }
    },
    "/api/v1/seminars/{seminar_id}": {
        "get": {
            "operationId": "getSeminar",
            "summary": "One seminar: time, place, panel with attendance, presentation, "
            "outcome, clashes.",
            "parameters": [_id_param("seminar_id"), _LANG],
            "responses": {
                "200": _ok("Seminar", "The seminar."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such seminar, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/seminars": {
        "post": {
            "operationId": "scheduleSeminar",
            "summary": "Schedule the seminar of the case's current state, or reschedule it "
            "(the cohort's organizer); the trainee and the panel are invited (inbox, mail "
            "with an .ics).",
            "parameters": [_CASE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("SeminarScheduleRequest")}},
            },
            "responses": {
                "200": _ok("Seminar", "Rescheduled: the seminar."),
                "201": _ok("Seminar", "Scheduled: the new seminar."),
                **_REFUSALS,
            },
        }
    },
    "/api/v1/seminars/{seminar_id}/attendance": {
        "post": {
            "operationId": "recordSeminarAttendance",
            "summary": "Record who attended and mark the seminar held (its panel or the "
            "organizer; once it has started).",
            "parameters": [_id_param("seminar_id"), _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("SeminarAttendanceRequest")}},
            },
            "responses": {"200": _ok("Seminar", "Recorded: the seminar."), **_REFUSALS},
        }
    },
}
