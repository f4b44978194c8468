"""API v1: the assessment of a case (rubric, score sheets, drafts, submission) and its
result.

Routes attach to blueprints.api.bp and are described by PATHS/SCHEMAS below. Drafts are
saved by workflow.services.evaluation (a private workspace, not audited); submission goes
through perform() (activity `submit_scores`). Who sees which sheet is the service's one
rule (visible_sheets), the same as on the web.
"""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from workflow.engine.rubrics import SCORING_ROLES
from workflow.extensions import db
from workflow.models import Case, Milestone, ScoreSheet
from workflow.services import WorkflowError, definition_of, perform
from workflow.services import evaluation as E
from workflow.services.milestones import STATUS_LABELS, progress_text

from . import openapi
from .api import CASE_ID, ApiError, _case_or_404, _has_bad_number, _person, bp, iso_utc
from .api import json_object as _json_object
from .api_implementation import _refusal, _version

ROLE_PATH = f"/cases/{CASE_ID}/evaluation/<role>"
BODY_KEYS = {"scores", "ratings", "note", "version"}


# ---------------------------------------------------------------- loading


def _load(case_id: int) -> Case:
    """The case (scoped to the caller) with its milestones and their covered units."""
    case = _case_or_404(case_id)
    if definition_of(case).scoring is None:
        raise ApiError(404, _l("This workflow has no scoring."))
    db.session.scalars(
        select(Case)
        .where(Case.id == case.id)
        .options(selectinload(Case.milestones).selectinload(Milestone.coverages))
        .execution_options(populate_existing=True)
    ).all()
    return case


def _role(role: str) -> str:
    if role not in SCORING_ROLES:
        raise ApiError(404, _l("No such evaluator role: use examiner, coach, mentor or organizer."))
    return role


# ---------------------------------------------------------------- serialisation


def _labels(labels) -> str | None:
    return labels.get(g.api_lang) if labels is not None else None


def rubric_json(rubric) -> dict:
    return {
        "key": rubric.key,
        "label": _labels(rubric.labels),
        "scale": {"min": rubric.scale.min, "max": rubric.scale.max},
        "pass_mark": rubric.pass_mark,
        "weights": rubric.weights,
        "components": [
            {
                "key": c.key,
                "label": _labels(c.labels),
                "weight": c.weight,
                "roles": list(rubric.roles_of(c)),
                "aspects": [a.key for a in c.aspects],
                "states": list(c.states) if c.states is not None else None,
                "rates_milestones": c.rates_milestones,
            }
            for c in rubric.components
        ],
        "aspects": [
            {
                "key": a.key,
                "label": _labels(a.labels),
                "description": _labels(a.description),
                "role": a.role,
                "weight": a.weight,
                "component": rubric.component_of(a.role).key,
            }
            for a in rubric.aspects
        ],
        "ratings": [{"key": r.key, "label": _labels(r.labels)} for r in rubric.milestone_ratings],
        "bands": [
            {"above": b.above, "passed": b.passed, "label": _labels(b.labels)} for b in rubric.bands
        ],
    }


def sheet_json(case: Case, sheet: ScoreSheet) -> dict:
    rubric = E.rubric_of(case)
    scores = {s.aspect: s for s in sheet.scores}
    ratings = {r.milestone_id: r for r in sheet.ratings}
    return {
        "role": sheet.role,
        "status": E.status_of(sheet),
        "version": E.version_of(sheet),
        "evaluator": _person(sheet.evaluator) if sheet.id is not None else None,
        "on_behalf_of": _person(sheet.on_behalf_of) if sheet.id is not None else None,
        "submitted_at": iso_utc(sheet.submitted_at),
        "updated_at": iso_utc(sheet.updated_at) if sheet.id is not None else None,
        "subtotal": sheet.subtotal,
        "note": sheet.note or "",
        "scores": [
            {
                "aspect": a.key,
                "value": scores[a.key].value if a.key in scores else None,
                "note": (scores[a.key].note or "") if a.key in scores else "",
            }
            for a in rubric.aspects_for(sheet.role)
        ],
        "ratings": [
            {
                "milestone_id": m.id,
                "rating": ratings[m.id].rating if m.id in ratings else None,
                "note": (ratings[m.id].note or "") if m.id in ratings else "",
            }
            for m in (E.short_term(case) if rubric.rates_milestones(sheet.role) else [])
        ],
    }


def result_json(case: Case) -> dict:
    result = E.result_of(case)
    return {
        "finalized": E.is_finalized(case),
        "final_score": case.final_score,
        "total": result.total,
        "so_far": result.so_far,
        "predicate": _labels(result.predicate),
        "predicate_id": result.predicate.id if result.predicate else None,
        "passed": result.passed,
        "pass_mark": result.pass_mark,
        "weights": result.weights,
        "by_role": result.by_role,
        "missing": list(result.missing),
        "missing_reasons": [str(E.ROLE_MISSING.get(r, r)) for r in result.missing],
        "components": [
            {
                "key": c.key,
                "label": _labels(c.labels),
                "weight": c.weight,
                "points": c.points,
                "so_far": c.so_far,
                "by_role": c.by_role,
                "missing": list(c.missing),
            }
            for c in result.components
        ],
    }


def evaluation_json(case: Case) -> dict:
    user = g.api_user
    rubric = E.rubric_of(case)
    visible = E.visible_sheets(case, user)
    held = E.evaluator_roles(case, user)
    open_now = E.is_open(case)
    mine = []
    for role, principal in held.items():
        sheet = next((s for s in visible if s.role == role), None) or E.sheet_for(case, user, role)
        mine.append(
            {
                "role": role,
                "acting_for": principal,
                "can_edit": E.is_open(case, role) and not sheet.is_submitted,
                "sheet": sheet_json(case, sheet),
            }
        )
    body = {
        "case_id": case.id,
        "state": case.state,
        "open": open_now,
        "rubric": rubric_json(rubric),
        "milestones": [
            {
                "id": m.id,
                "activity": m.activity,
                "output": m.output,
                "target_date": m.target_date.isoformat() if m.target_date else None,
                "target_quantity": m.target_quantity,
                "target_unit": m.target_unit,
                "achieved_quantity": m.achieved_quantity,
                "status": m.status,
                "status_label": str(STATUS_LABELS.get(m.status, m.status)),
                "progress": progress_text(m),
            }
            for m in E.short_term(case)
        ],
        "my_roles": mine,
        "sheets": [sheet_json(case, s) for s in visible],
    }
    if E.result_visible(case, user):
        body["result"] = result_json(case)
    return body


def _own_sheet(case: Case, role: str, status: int = 200):
    sheet = E.sheet_for(case, g.api_user, role)
    response = jsonify(sheet_json(case, sheet))
    response.status_code = status
    response.set_etag(str(E.version_of(sheet)))
    return response


# ---------------------------------------------------------------- input


def _body(required: bool) -> dict:
    if not required and not request.get_data(cache=True).strip():
        return {}
    body = _json_object(BODY_KEYS)
    if _has_bad_number(body):
        raise ApiError(400, _l("Numbers must be finite."))
    for name in ("scores", "ratings"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise ApiError(400, _l("%(name)s must be a JSON object.", name=name))
    if body.get("note") is not None and not isinstance(body["note"], str):
        raise ApiError(400, _l("%(name)s must be a string.", name="note"))
    return body


# ---------------------------------------------------------------- routes


@bp.get(f"/cases/{CASE_ID}/evaluation")
def get_evaluation(case_id: int):
    case = _load(case_id)
    return jsonify(evaluation_json(case))


# One rule for both methods: with two rules, an out-of-range id would answer 405, not 404.
@bp.route(ROLE_PATH, methods=["PUT", "PATCH"])
def save_evaluation_draft(case_id: int, role: str):
    case = _load(case_id)
    role = _role(role)
    body = _body(required=True)
    version = _version(body.pop("version", None))
    if version is None:
        # Saving must never overwrite newer work: the caller says which version it edits.
        raise ApiError(
            400, _l('Send the sheet version you edited, as `version` or in If-Match, e.g. "3".')
        )
    try:
        E.save_draft(
            case,
            g.api_user,
            role,
            scores=body.get("scores"),
            ratings=body.get("ratings"),
            note=body.get("note"),
            expected_version=version,
        )
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    return _own_sheet(case, role)


@bp.post(f"{ROLE_PATH}/submit")
def submit_evaluation(case_id: int, role: str):
    case = _load(case_id)
    role = _role(role)
    body = _body(required=False)
    version = _version(body.pop("version", None))
    data = {"role": role, "expected_sheet_version": version}
    data.update({k: body[k] for k in ("scores", "ratings", "note") if body.get(k) is not None})
    try:
        perform(case, "submit_scores", g.api_user, data=data)
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    return _own_sheet(case, role)


@bp.get(f"/cases/{CASE_ID}/result")
def get_result(case_id: int):
    case = _load(case_id)
    if not E.result_visible(case, g.api_user):
        raise ApiError(
            403, _l("The result is shown to the trainee and the evaluators once it is finalized.")
        )
    return jsonify(result_json(case))


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NUMBER = {"type": "number"}
_PERSON = {"$ref": "#/components/schemas/Person"}
_ROLES = list(SCORING_ROLES)
_ROLE = {
    "name": "role",
    "in": "path",
    "required": True,
    "description": "The evaluator role whose sheet this is.",
    "schema": {"type": "string", "enum": _ROLES},
    "example": "examiner",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The sheet version the caller edited: 3, "3" or W/"3" (or `version` in the '
    "body; 0 while no sheet is stored). A stale version answers 409.",
    "schema": {"type": "string", "pattern": '^(\\*|(W/)?"?[0-9]{1,18}"?)?$'},
}
_ETAG = {"ETag": {"description": "The sheet version.", "schema": _STRING}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


_DRAFT_PROPS = {
    "scores": {
        "type": "object",
        "description": "Aspect key → its score and note; aspects not sent stay as they were, "
        "a null value clears one. Only the aspects of the path's role.",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "value": {
                    **_nullable(_NUMBER),
                    "description": "On the rubric's scale (0–100).",
                },
                "note": {**_nullable(_STRING), "maxLength": E.ITEM_NOTE_MAX},
            },
        },
    },
    "ratings": {
        "type": "object",
        "description": "Short-term milestone id → its rating (a key of the rubric's ratings: "
        "kurang, sesuai, melampaui) and note.",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "rating": _nullable(_STRING),
                "note": {**_nullable(_STRING), "maxLength": E.ITEM_NOTE_MAX},
            },
        },
    },
    "note": {**_nullable(_STRING), "maxLength": E.NOTE_MAX, "description": "General note."},
}

SCHEMAS: dict = {
    "ScoreSheet": {
        "type": "object",
        "required": [
            "role",
            "status",
            "version",
            "evaluator",
            "on_behalf_of",
            "submitted_at",
            "updated_at",
            "subtotal",
            "note",
            "scores",
            "ratings",
        ],
        "properties": {
            "role": {"type": "string", "enum": _ROLES},
            "status": {"type": "string", "enum": ["not_started", "draft", "submitted"]},
            "version": {
                "type": "integer",
                "description": "The sheet's own version (0 while nothing is stored); send it "
                "back to save or submit.",
            },
            "evaluator": _nullable(_PERSON),
            "on_behalf_of": {
                **_nullable(_PERSON),
                "description": "The principal, when an acting official (Plt./Plh.) wrote it.",
            },
            "submitted_at": {"type": "string", "format": "date-time", "nullable": True},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
            "subtotal": {
                **_nullable(_NUMBER),
                "description": "Weighted points of this sheet, set on submission.",
            },
            "note": _STRING,
            "scores": {
                "type": "array",
                "description": "Every aspect of the role, in the rubric's order.",
                "items": {
                    "type": "object",
                    "required": ["aspect", "value", "note"],
                    "properties": {
                        "aspect": _STRING,
                        "value": _nullable(_NUMBER),
                        "note": _STRING,
                    },
                },
            },
            "ratings": {
                "type": "array",
                "description": "Every short-term milestone, in the proposal's order.",
                "items": {
                    "type": "object",
                    "required": ["milestone_id", "rating", "note"],
                    "properties": {
                        "milestone_id": _INT,
                        "rating": _nullable(_STRING),
                        "note": _STRING,
                    },
                },
            },
        },
    },
    "EvaluationResult": {
        "type": "object",
        "required": [
            "finalized",
            "final_score",
            "total",
            "so_far",
            "predicate",
            "predicate_id",
            "passed",
            "pass_mark",
            "weights",
            "by_role",
            "missing",
            "missing_reasons",
        ],
        "properties": {
            "finalized": {"type": "boolean"},
            "final_score": {**_nullable(_NUMBER), "description": "As recorded on finalize."},
            "total": {
                **_nullable(_NUMBER),
                "description": "From the submitted sheets; null while a role is missing.",
            },
            "so_far": {"type": "number", "description": "The points of the roles in."},
            "predicate": _nullable(_STRING),
            "predicate_id": {
                **_nullable(_STRING),
                "description": "The predicate's Indonesian label, as stored on the case.",
            },
            "passed": {
                "type": "boolean",
                "nullable": True,
                "description": "From the total's band (the predicate's), never apart from it.",
            },
            "pass_mark": {
                **_NUMBER,
                "description": "A total passes when ABOVE this: the lower bound of the "
                "lowest passing band.",
            },
            "weights": {"type": "object", "additionalProperties": _NUMBER},
            "by_role": {
                "type": "object",
                "additionalProperties": _NUMBER,
                "description": "Weighted points of each submitted role.",
            },
            "missing": {"type": "array", "items": {"type": "string", "enum": _ROLES}},
            "missing_reasons": {"type": "array", "items": _STRING},
            "components": {
                "type": "array",
                "description": "Each rubric component's subtotal (points of the total).",
                "items": {
                    "type": "object",
                    "required": [
                        "key",
                        "label",
                        "weight",
                        "points",
                        "so_far",
                        "by_role",
                        "missing",
                    ],
                    "properties": {
                        "key": _STRING,
                        "label": _STRING,
                        "weight": _NUMBER,
                        "points": {
                            **_nullable(_NUMBER),
                            "description": "Null while a role of the component is missing.",
                        },
                        "so_far": _NUMBER,
                        "by_role": {"type": "object", "additionalProperties": _NUMBER},
                        "missing": {"type": "array", "items": {"type": "string", "enum": _ROLES}},
                    },
                },
            },
        },
    },
    "Evaluation": {
        "type": "object",
        "required": ["case_id", "state", "open", "rubric", "milestones", "my_roles", "sheets"],
        "properties": {
            "case_id": _INT,
            "state": _STRING,
            "open": {"type": "boolean", "description": "Can sheets be written now?"},
            "rubric": {
                "type": "object",
                "required": [
                    "key",
                    "label",
                    "scale",
                    "pass_mark",
                    "weights",
                    "components",
                    "aspects",
                    "ratings",
                    "bands",
                ],
                "properties": {
                    "key": _STRING,
                    "label": _STRING,
                    "scale": {
                        "type": "object",
                        "required": ["min", "max"],
                        "properties": {"min": _NUMBER, "max": _NUMBER},
                    },
                    "pass_mark": {
                        **_NUMBER,
                        "description": "A total passes when ABOVE this.",
                    },
                    "weights": {"type": "object", "additionalProperties": _NUMBER},
                    "components": {
                        "type": "array",
                        "description": "Weights are points of the total: the components "
                        "sum to 100, a component's aspects to its weight.",
                        "items": {
                            "type": "object",
                            "required": [
                                "key",
                                "label",
                                "weight",
                                "roles",
                                "aspects",
                                "states",
                                "rates_milestones",
                            ],
                            "properties": {
                                "key": _STRING,
                                "label": _STRING,
                                "weight": _NUMBER,
                                "roles": {
                                    "type": "array",
                                    "items": {"type": "string", "enum": _ROLES},
                                },
                                "aspects": {"type": "array", "items": _STRING},
                                "states": {
                                    "type": "array",
                                    "items": _STRING,
                                    "nullable": True,
                                    "description": "The case states its sheets can be "
                                    "written in; null: wherever submit_scores is available.",
                                },
                                "rates_milestones": {"type": "boolean"},
                            },
                        },
                    },
                    "aspects": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "key",
                                "label",
                                "description",
                                "role",
                                "weight",
                                "component",
                            ],
                            "properties": {
                                "key": _STRING,
                                "label": _STRING,
                                "description": _STRING,
                                "role": {"type": "string", "enum": _ROLES},
                                "weight": _NUMBER,
                                "component": _STRING,
                            },
                        },
                    },
                    "ratings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "label"],
                            "properties": {"key": _STRING, "label": _STRING},
                        },
                    },
                    "bands": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["above", "passed", "label"],
                            "properties": {
                                "above": _nullable(_NUMBER),
                                "passed": {"type": "boolean"},
                                "label": _STRING,
                            },
                        },
                    },
                },
            },
            "milestones": {
                "type": "array",
                "description": "The short-term milestones to rate.",
                "items": {
                    "type": "object",
                    "required": [
                        "id",
                        "activity",
                        "output",
                        "target_date",
                        "target_quantity",
                        "target_unit",
                        "achieved_quantity",
                        "status",
                        "status_label",
                        "progress",
                    ],
                    "properties": {
                        "id": _INT,
                        "activity": _STRING,
                        "output": _STRING,
                        "target_date": {"type": "string", "format": "date", "nullable": True},
                        "target_quantity": _nullable(_NUMBER),
                        "target_unit": _STRING,
                        "achieved_quantity": _nullable(_NUMBER),
                        "status": _STRING,
                        "status_label": _STRING,
                        "progress": _STRING,
                    },
                },
            },
            "my_roles": {
                "type": "array",
                "description": "The caller's evaluator roles on this case, each with their "
                "own sheet (drafts included).",
                "items": {
                    "type": "object",
                    "required": ["role", "acting_for", "can_edit", "sheet"],
                    "properties": {
                        "role": {"type": "string", "enum": _ROLES},
                        "acting_for": {
                            **_nullable(_INT),
                            "description": "The principal's user id when acting as Plt./Plh.",
                        },
                        "can_edit": {"type": "boolean"},
                        "sheet": _ref("ScoreSheet"),
                    },
                },
            },
            "sheets": {
                "type": "array",
                "description": "The sheets the caller may read: their own, and others' "
                "submitted ones once theirs are submitted (organizer: every submitted one; "
                "the trainee: after the result is finalized).",
                "items": _ref("ScoreSheet"),
            },
            # Present for the organizer, and for everyone on the case once finalized.
            "result": _ref("EvaluationResult"),
        },
    },
    "ScoreSheetDraft": {
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": {
            **_DRAFT_PROPS,
            "version": {
                "type": "integer",
                "minimum": 0,
                "description": "The sheet version edited (0 for the first save).",
            },
        },
    },
    "ScoreSheetSubmit": {
        "type": "object",
        "additionalProperties": False,
        "description": "Optionally the last draft values, saved and submitted at once.",
        "properties": {
            **_DRAFT_PROPS,
            "version": {
                "type": "integer",
                "minimum": 0,
                "description": "The sheet version the caller saw; a stale one answers 409.",
            },
        },
    },
}

_SHEET_200 = {"200": {**_ok("ScoreSheet", "The caller's sheet."), "headers": _ETAG}}
_REFUSALS = {
    "400": _err("Invalid parameters or body (not JSON, unknown keys, wrong types, NUL)."),
    "401": _401,
    "403": _err("The caller does not hold this evaluator role on the case."),
    "404": _err("No such case or role, or not the caller's to see."),
    "409": _err("Not in evaluation, already submitted, or the version is stale."),
    "422": _err(
        "Invalid or incomplete input: see `fields` (score-<aspect>, note-<aspect>, "
        "rating-<milestone id>, rating-note-<milestone id>, note) and `reasons`."
    ),
}
_DRAFT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": _ref("ScoreSheetDraft")}},
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/evaluation": {
        "get": {
            "operationId": "getEvaluation",
            "summary": "The rubric, the short-term milestones to rate, the caller's own sheets "
            "(drafts included) and the sheets the caller may read, with the result when "
            "the caller may see it.",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": _ok("Evaluation", "The assessment of the case."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/evaluation/{role}": {
        "put": {
            "operationId": "putScoreSheetDraft",
            "summary": "Save the caller's sheet for the role as a draft (merged: what is not "
            "sent stays). Drafts are private and not audited.",
            "parameters": [_CASE, _ROLE, _IF_MATCH, _LANG],
            "requestBody": _DRAFT_BODY,
            "responses": {**_SHEET_200, **_REFUSALS},
        },
        "patch": {
            "operationId": "patchScoreSheetDraft",
            "summary": "As PUT: save part of the caller's sheet for the role as a draft.",
            "parameters": [_CASE, _ROLE, _IF_MATCH, _LANG],
            "requestBody": _DRAFT_BODY,
            "responses": {**_SHEET_200, **_REFUSALS},
        },
    },
    "/api/v1/cases/{case_id}/evaluation/{role}/submit": {
        "post": {
            "operationId": "submitScoreSheet",
            "summary": "Submit the caller's sheet for the role (audited; the organizer is "
            "notified). It must be complete: every aspect of the role scored, every "
            "short-term milestone rated. Read-only afterwards.",
            "parameters": [_CASE, _ROLE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("ScoreSheetSubmit")}},
            },
            "responses": {**_SHEET_200, **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/result": {
        "get": {
            "operationId": "getResult",
            "summary": "The result from the submitted sheets: points per role, the total, "
            "predicate and pass/fail once every role is in, and who is missing.",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": _ok("EvaluationResult", "The result."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "403": _err("Not finalized yet, and the caller is not the organizer."),
                "404": _err("No such case, or not the caller's to see."),
            },
        }
    },
}
