"""API routes of the proposal: read and patch the draft, list submissions and their diffs.
They attach to blueprints.api.bp."""

from __future__ import annotations

import json

from flask import g, request
from flask_babel import lazy_gettext as _l

from workflow.services import Blocked, Conflict, WorkflowError
from workflow.services import proposals as P

from .api import (
    CASE_ID,
    MAX_ID,
    ApiError,
    _case_or_404,
    _expected_version,
    _with_etag,
    bp,
    id_in_path,
    iso_utc,
)
from .openapi import BAD_REQUEST, NOT_FOUND, UNAUTHORIZED, _error, _json, _p, _ref

PATCH_KEYS = set(P.TEXT_FIELDS) | set(P.ROW_KINDS)


def _proposal(case) -> dict:
    return {
        "case_id": case.id,
        "version": case.version,
        "editable": P.can_edit(case, g.api_user),
        "content": case.proposal_content(),
    }


# One rule for both methods: with two rules on one path, werkzeug answers an out-of-range
# id with 405 instead of 404.
@bp.route(f"/cases/{CASE_ID}/proposal", methods=["GET", "PATCH"])
def proposal(case_id: int):
    case = _case_or_404(case_id)
    if request.method == "GET":
        return _with_etag(_proposal(case), case.version)
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise ApiError(400, _l("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, _l("The request body must be a JSON object."))
    unknown = sorted(set(body) - PATCH_KEYS)
    if unknown:
        raise ApiError(
            400, _l("Unknown keys in the request body: %(keys)s.", keys=", ".join(unknown))
        )
    # NUL characters are stripped by the service (databases refuse them), not refused here.
    expected = _expected_version()
    if expected is None:
        # Saving must never overwrite newer work: the caller says which version it edits.
        raise ApiError(400, _l('Send If-Match with the version you edited, e.g. "3".'))
    try:
        P.save_fields(case, g.api_user, body, expected)
    except WorkflowError as exc:
        extra = {}
        if isinstance(exc, Blocked):
            extra = {
                "reasons": [str(r) for r in exc.reasons],
                "fields": {k: str(v) for k, v in exc.fields.items()},
            }
        status = 403 if exc.status in (403, 409) and not isinstance(exc, Conflict) else exc.status
        raise ApiError(status, exc.message, **extra) from None
    return _with_etag(_proposal(case), case.version)


def _snapshot(s) -> dict:
    return {"number": s.number, "created_at": iso_utc(s.created_at), "content": s.content}


@bp.get(f"/cases/{CASE_ID}/submissions")
def list_submissions(case_id: int):
    case = _case_or_404(case_id)
    return {"items": [_snapshot(s) for s in case.snapshots]}


@bp.get(f"/cases/{CASE_ID}/submissions/{id_in_path('number')}/diff")
def submission_diff(case_id: int, number: int):
    case = _case_or_404(case_id)
    pair = P.snapshot_pair(case, number)
    if pair is None:
        raise ApiError(404, _l("No such submission."))
    previous, current = pair
    sections = P.diff_snapshots(previous, current)
    for s in sections:
        s["label"] = str(s["label"])
    return {
        "number": number,
        "previous": number - 1 if previous is not None else None,
        "sections": sections,
    }


# ---------------------------------------------------------------- OpenAPI

_ROW = {"type": "object", "additionalProperties": True}
_CONTENT = {
    "type": "object",
    "properties": {
        **{name: {"type": "string"} for name in P.TEXT_FIELDS},
        **{kind: {"type": "array", "items": _ROW} for kind in P.ROW_KINDS},
    },
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'The version the caller saw: 3, "3" or W/"3". A stale version answers 409.',
    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,18}"?$'},
}
_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "example": 1,
}

SCHEMAS: dict = {
    "Proposal": {
        "type": "object",
        "required": ["case_id", "version", "editable", "content"],
        "properties": {
            "case_id": {"type": "integer"},
            "version": {"type": "integer", "description": "Send it back in If-Match."},
            "editable": {"type": "boolean", "description": "May the caller edit it now?"},
            "content": _CONTENT,
        },
    },
    "ProposalPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "Text fields and/or whole lists (each list replaces the stored one).",
        "properties": {
            **{
                name: {
                    "type": "string",
                    "maxLength": P.TITLE_MAX if name == "title" else P.TEXT_MAX,
                }
                for name in P.TEXT_FIELDS
            },
            **{kind: {"type": "array", "items": _ROW} for kind in P.ROW_KINDS},
        },
    },
    "Submission": {
        "type": "object",
        "required": ["number", "created_at", "content"],
        "properties": {
            "number": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "content": _CONTENT,
        },
    },
    "SubmissionList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("Submission")}},
    },
    "SubmissionDiff": {
        "type": "object",
        "required": ["number", "previous", "sections"],
        "properties": {
            "number": {"type": "integer"},
            "previous": {"type": "integer", "nullable": True},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "label", "kind", "changed"],
                    "properties": {
                        "field": {"type": "string"},
                        "label": {"type": "string"},
                        "kind": {"type": "string", "enum": ["text", "rows"]},
                        "changed": {"type": "boolean"},
                        "spans": {"type": "array", "items": {"type": "object"}},
                        "rows": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/proposal": {
        "get": {
            "operationId": "getProposal",
            "summary": "The proposal, its version, and whether the caller may edit it.",
            "parameters": [_p("case_id"), _p("lang")],
            "responses": {
                "200": {
                    **_json(_ref("Proposal"), "The proposal."),
                    "headers": {
                        "ETag": {"description": "The version.", "schema": {"type": "string"}}
                    },
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        },
        "patch": {
            "operationId": "patchProposal",
            "summary": "Save text fields and/or whole lists (trainee, while editable).",
            "parameters": [_p("case_id"), _IF_MATCH, _p("lang")],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ProposalPatch")}},
            },
            "responses": {
                "200": {
                    **_json(_ref("Proposal"), "Saved: the proposal with its new version."),
                    "headers": {
                        "ETag": {"description": "The new version.", "schema": {"type": "string"}}
                    },
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "403": _error("Not the trainee of this case, or the proposal is not editable now."),
                "404": NOT_FOUND,
                "409": _error("The version is stale: the draft changed meanwhile."),
                "422": _error("Invalid input: see `fields`."),
            },
        },
    },
    "/api/v1/cases/{case_id}/submissions": {
        "get": {
            "operationId": "listSubmissions",
            "summary": "Each submission of the proposal (snapshot), oldest first.",
            "parameters": [_p("case_id"), _p("lang")],
            "responses": {
                "200": _json(_ref("SubmissionList"), "The submissions."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/cases/{case_id}/submissions/{number}/diff": {
        "get": {
            "operationId": "getSubmissionDiff",
            "summary": "What changed in a submission compared with the one before it.",
            "parameters": [_p("case_id"), _NUMBER, _p("lang")],
            "responses": {
                "200": _json(_ref("SubmissionDiff"), "The changes, section by section."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
}
