"""API routes of reviewing: section comments and the executive's endorsements.
They attach to blueprints.api.bp and are described by PATHS/SCHEMAS below."""

from __future__ import annotations

from datetime import date

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l

from workflow.services import WorkflowError, reviews

from . import openapi
from .api import (
    CASE_ID,
    MAX_ID,
    ApiError,
    _case_or_404,
    bp,
    case_summary,
    iso_utc,
    json_object,
)

MAX_BULK = 100
LETTER_NUMBER_MAX = 100


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _comment(c) -> dict:
    return {
        "id": c.id,
        "section": c.section or "",
        "section_label": reviews.section_label(c.section or ""),
        "body": c.body,
        "role": c.role,
        "author": {"id": c.author.id, "name": c.author.name},
        "snapshot_number": c.snapshot_number,
        "created_at": iso_utc(c.created_at),
    }


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


# One rule per path (GET and POST together): with two rules, Werkzeug answers a path whose
# id is out of range with 405 for POST instead of 404.
@bp.route(f"/cases/{CASE_ID}/comments", methods=["GET", "POST"])
def comments(case_id: int):
    case = _case_or_404(case_id)
    if request.method == "GET":
        return jsonify({"items": [_comment(c) for c in reviews.comments_of(case)]})
    body = json_object({"body", "section"})
    text, section = body.get("body"), body.get("section", "")
    if not isinstance(text, str):
        raise ApiError(400, _l("body must be a string."))
    if not isinstance(section, str):
        raise ApiError(400, _l("section must be a string."))
    try:
        comment = reviews.add_comment(case, g.api_user, text, section)
    except WorkflowError as exc:
        extra = {}
        if exc.status == 422:
            extra = {
                "reasons": [str(r) for r in exc.reasons],
                "fields": {k: str(v) for k, v in exc.fields.items()},
            }
        raise ApiError(exc.status, exc.message, **extra) from None
    response = jsonify(_comment(comment))
    response.status_code = 201
    return response


@bp.route("/endorsements", methods=["GET", "POST"])
def endorsements():
    if request.method == "GET":
        queue = reviews.endorsement_queue(g.api_user)
        return jsonify({"items": [case_summary(c) for c in queue]})
    body = json_object({"case_ids", "letter_number", "letter_date", "versions"})
    ids = body.get("case_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK or not all(map(_is_id, ids)):
        raise ApiError(
            400,
            _l("case_ids must be a list of 1 to %(n)d case ids.", n=MAX_BULK),
        )
    number, day = body.get("letter_number"), body.get("letter_date")
    if not isinstance(number, str) or len(number) > LETTER_NUMBER_MAX:
        raise ApiError(
            400, _l("letter_number must be a string of at most %(n)d characters.", n=100)
        )
    if not isinstance(day, str) or not _is_date(day):
        raise ApiError(400, _l("letter_date must be a date (YYYY-MM-DD)."))
    data = {"letter_number": number, "letter_date": day}
    versions_raw = body.get("versions", {})
    if not isinstance(versions_raw, dict):
        raise ApiError(400, _l("versions must be an object of case id to version."))
    versions = {}
    for key, value in versions_raw.items():
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID):
            raise ApiError(400, _l("versions must be an object of case id to version."))
        if key.isascii() and key.isdigit() and len(key) < 11:
            versions[int(key)] = value
    results = reviews.bulk_endorse(g.api_user, ids, data, versions)
    return jsonify(
        {
            "results": [
                {
                    "case_id": r.case_id,
                    "ok": r.ok,
                    "status": r.status,
                    "message": r.message,
                    "reasons": r.reasons,
                    "fields": r.fields,
                    "version": r.version,
                }
                for r in results
            ]
        }
    )


# ---------------------------------------------------------------- OpenAPI

_PARAMS = [{"$ref": "#/components/parameters/case_id"}, {"$ref": "#/components/parameters/lang"}]


_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_SECTIONS = ["", *reviews.SECTIONS]

SCHEMAS = {
    "Comment": {
        "type": "object",
        "required": [
            "id",
            "section",
            "section_label",
            "body",
            "role",
            "author",
            "snapshot_number",
            "created_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "section": {"type": "string", "enum": _SECTIONS},
            "section_label": {"type": "string"},
            "body": {"type": "string"},
            "role": {"type": "string"},
            "author": {"$ref": "#/components/schemas/Person"},
            "snapshot_number": {"type": "integer", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "CommentList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}}
        },
    },
    "CommentRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["body"],
        "properties": {
            "body": {"type": "string", "maxLength": 5000, "description": "Stored as text."},
            "section": {
                "type": "string",
                "enum": _SECTIONS,
                "description": 'The proposal section commented on; "" for a general comment.',
            },
        },
    },
    "EndorsementQueue": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/CaseSummary"}}
        },
    },
    "EndorsementRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case_ids", "letter_number", "letter_date"],
        "properties": {
            "case_ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BULK,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            },
            "letter_number": {"type": "string", "maxLength": 100},
            "letter_date": {"type": "string", "format": "date"},
            "versions": {
                "type": "object",
                "description": "Optional: the version seen of each case, by case id; a "
                "case that moved on since is refused with 409 in its result.",
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            },
        },
    },
    "EndorsementResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "case_id",
                        "ok",
                        "status",
                        "message",
                        "reasons",
                        "fields",
                        "version",
                    ],
                    "properties": {
                        "case_id": {"type": "integer"},
                        "ok": {"type": "boolean"},
                        "status": {
                            "type": "integer",
                            "description": "200 when endorsed, else the status the refusal "
                            "would have alone (403, 404, 409, 422).",
                        },
                        "message": {"type": "string"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                        "version": {"type": "integer", "nullable": True},
                    },
                },
            }
        },
    },
}

PATHS = {
    "/api/v1/cases/{case_id}/comments": {
        "get": {
            "operationId": "listComments",
            "summary": "Reviewers' comments on the case's proposal, oldest first.",
            "parameters": _PARAMS,
            "responses": {
                "200": _ok("CommentList", "The comments."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        },
        "post": {
            "operationId": "createComment",
            "summary": "Comment on the proposal or one section of it (mentor, coach, "
            "executive or organizer of the case).",
            "parameters": _PARAMS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CommentRequest"}}
                },
            },
            "responses": {
                "201": _ok("Comment", "The comment, recorded."),
                "400": _err("Invalid parameters or body."),
                "401": _401,
                "403": _err("The caller may not comment on this case."),
                "404": _err("No such case, or not the caller's to see."),
                "422": _err("Empty or too long, or an unknown section: see `fields`."),
            },
        },
    },
    "/api/v1/endorsements": {
        "get": {
            "operationId": "listEndorsements",
            "summary": "The caller's endorsement queue, oldest due first.",
            "parameters": [{"$ref": "#/components/parameters/lang"}],
            "responses": {
                "200": _ok("EndorsementQueue", "Cases awaiting the caller's endorsement."),
                "400": _err("Invalid parameters."),
                "401": _401,
            },
        },
        "post": {
            "operationId": "endorseCases",
            "summary": "Endorse several cases with one letter. Each goes through the workflow "
            "on its own and is audited as its own event; a refusal on one leaves the others.",
            "parameters": [{"$ref": "#/components/parameters/lang"}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/EndorsementRequest"}
                    }
                },
            },
            "responses": {
                "200": _ok("EndorsementResults", "What happened to each case."),
                "400": _err("Invalid parameters or body."),
                "401": _401,
            },
        },
    },
}
