"""API v1: a case's data forms (the profil pekon) — read one with its completeness, save
fields (checked by the same code as the HTML form), read its history. Routes attach to
blueprints.api.bp; PATHS/SCHEMAS below go into the OpenAPI document."""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from workflow.engine.forms import FormField, FormSpec
from workflow.extensions import db
from workflow.models import User
from workflow.services import WorkflowError, definition_of
from workflow.services import forms as F

from . import openapi
from .api import CASE_ID, ApiError, _case_or_404, _has_bad_number, bp, iso_utc, json_object
from .api_implementation import _refusal, _version

KEY_MAX = 40
FORM_KEY = f"<string(maxlength={KEY_MAX}):form_key>"
BASE = f"/cases/{CASE_ID}/forms/{FORM_KEY}"


# ---------------------------------------------------------------- serialisation


def _labels(labels) -> str | None:
    return labels.get(g.api_lang) if labels is not None else None


def _field(f: FormField) -> dict:
    out = {
        "name": f.name,
        "type": f.type,
        "label": _labels(f.labels),
        "help": _labels(f.help),
        "required": f.required,
    }
    if f.type in ("text", "textarea"):
        out["max_length"] = f.max_length
    if f.type == "number":
        out.update(unit=_labels(f.unit), min=f.min, max=f.max, integer=f.integer)
    if f.type == "choice":
        out["choices"] = [{"value": c.value, "label": _labels(c.labels)} for c in f.choices]
    if f.type == "rows":
        out.update(min_rows=f.min_rows, max_rows=f.max_rows, fields=[_field(c) for c in f.fields])
    return out


def _spec(form: FormSpec) -> dict:
    return {
        "key": form.key,
        "label": _labels(form.labels),
        "editors": list(form.editors),
        "editable_in": list(form.editable_in),
        "sections": [
            {
                "key": s.key,
                "label": _labels(s.labels),
                "help": _labels(s.help),
                "fields": [_field(f) for f in s.fields],
            }
            for s in form.sections
        ],
        "checks": [{"key": c.key, "message": _labels(c.message)} for c in form.checks],
    }


def form_json(case, form: FormSpec) -> dict:
    entry = F.entry_of(case, form.key)
    data = dict(entry.data or {}) if entry is not None else {}
    notes = {k: v for k, v in ((entry.notes or {}) if entry else {}).items() if isinstance(v, dict)}
    problems = F.complete(form, data, g.api_lang)
    filled, required = F.required_counts(form, data)
    return {
        "case_id": case.id,
        "form": _spec(form),
        "data": data,
        "notes": {
            k: {"reason": v.get("reason", ""), "by": v.get("by"), "at": v.get("at")}
            for k, v in notes.items()
        },
        "version": F.version_of(entry),
        "editable": F.can_edit(case, form, g.api_user),
        "updated_at": iso_utc(entry.updated_at) if entry is not None else None,
        "completeness": {
            "complete": not problems,
            "filled": filled,
            "required": required,
            "problems": problems,
        },
    }


def _respond(case, form: FormSpec):
    body = form_json(case, form)
    response = jsonify(body)
    response.set_etag(str(body["version"]))
    return response


def _form_or_404(case, form_key: str) -> FormSpec:
    form = definition_of(case).form(form_key)
    if form is None:
        raise ApiError(404, _l("No such form in this case."))
    return form


# ---------------------------------------------------------------- routes


# One rule for both methods: with two rules, an out-of-range id would answer 405, not 404.
@bp.route(BASE, methods=["GET", "PUT"])
def case_form(case_id: int, form_key: str):
    case = _case_or_404(case_id)
    form = _form_or_404(case, form_key)
    if request.method == "GET":
        return _respond(case, form)
    body = json_object({"data", "version"})
    if _has_bad_number(body):
        raise ApiError(400, _l("Numbers must be finite."))
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, _l("%(name)s must be a JSON object.", name="data"))
    version = _version(body.get("version"))
    if version is None:
        # Saving must never overwrite newer work: the caller says which version it edits.
        raise ApiError(
            400, _l('Send the form version you edited, as `version` or in If-Match, e.g. "3".')
        )
    try:
        F.save(case, form.key, data, g.api_user, version, lang=g.api_lang, atomic=True)
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    return _respond(case, form)


@bp.get(f"{BASE}/history")
def case_form_history(case_id: int, form_key: str):
    case = _case_or_404(case_id)
    form = _form_or_404(case, form_key)
    items = F.history(F.entry_of(case, form.key))
    ids = {i["revision"].created_by_id for i in items if i["revision"].created_by_id}
    names = {}
    if ids:
        names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    return jsonify(
        {
            "items": [
                {
                    "number": i["revision"].number,
                    "created_at": iso_utc(i["revision"].created_at),
                    "created_by": (
                        {
                            "id": i["revision"].created_by_id,
                            "name": names[i["revision"].created_by_id],
                        }
                        if i["revision"].created_by_id in names
                        else None
                    ),
                    "changed": i["changed"],
                    "data": i["revision"].data or {},
                }
                for i in items
            ]
        }
    )


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_400 = openapi.BAD_REQUEST
_404 = openapi.NOT_FOUND
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_N_STRING = {"type": "string", "nullable": True}
_FORM_KEY = {
    "name": "form_key",
    "in": "path",
    "required": True,
    "description": "The form's key in the case's definition (e.g. `profil`).",
    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": KEY_MAX},
    "example": "profil",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The form version the caller edited (0 while nothing is stored): 3, "3" '
    'or W/"3"; or send `version` in the body. A stale version answers 409.',
    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,18}"?$'},
}
_ETAG = {"ETag": {"description": "The form version.", "schema": _STRING}}
_FIELD_PROPS = {
    "name": _STRING,
    "type": {
        "type": "string",
        "enum": ["text", "textarea", "number", "choice", "date", "boolean", "rows"],
    },
    "label": _STRING,
    "help": _N_STRING,
    "required": {"type": "boolean"},
    "max_length": {"type": "integer"},
    "unit": _N_STRING,
    "min": {"type": "number", "nullable": True},
    "max": {"type": "number", "nullable": True},
    "integer": {"type": "boolean"},
    "choices": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["value", "label"],
            "properties": {"value": _STRING, "label": _STRING},
        },
    },
    "min_rows": {"type": "integer"},
    "max_rows": {"type": "integer"},
}

SCHEMAS: dict = {
    "FormField": {
        "type": "object",
        "required": ["name", "type", "label", "help", "required"],
        "properties": {
            **_FIELD_PROPS,
            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FormField"}},
        },
    },
    "FormSpec": {
        "type": "object",
        "required": ["key", "label", "editors", "editable_in", "sections", "checks"],
        "properties": {
            "key": _STRING,
            "label": _STRING,
            "editors": {"type": "array", "items": _STRING},
            "editable_in": {"type": "array", "items": _STRING},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "label", "help", "fields"],
                    "properties": {
                        "key": _STRING,
                        "label": _STRING,
                        "help": _N_STRING,
                        "fields": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/FormField"},
                        },
                    },
                },
            },
            "checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "message"],
                    "properties": {"key": _STRING, "message": _STRING},
                },
            },
        },
    },
    "CaseForm": {
        "type": "object",
        "required": [
            "case_id",
            "form",
            "data",
            "notes",
            "version",
            "editable",
            "updated_at",
            "completeness",
        ],
        "properties": {
            "case_id": {"type": "integer"},
            "form": {"$ref": "#/components/schemas/FormSpec"},
            "data": {
                "type": "object",
                "additionalProperties": True,
                "description": "What is stored: {field: value}; a rows field is a list of "
                "{field: value}. Numbers are JSON numbers, dates YYYY-MM-DD, yes/no booleans.",
            },
            "notes": {
                "type": "object",
                "description": "The reasons of the last return, per field; a field's goes "
                "once the field is changed.",
                "additionalProperties": {
                    "type": "object",
                    "required": ["reason", "by", "at"],
                    "properties": {
                        "reason": _STRING,
                        "by": {"type": "integer", "nullable": True},
                        "at": _N_STRING,
                    },
                },
            },
            "version": {
                "type": "integer",
                "description": "Send it back (If-Match or `version`); 0 while nothing is stored.",
            },
            "editable": {"type": "boolean", "description": "May the caller save it now?"},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
            "completeness": {
                "type": "object",
                "required": ["complete", "filled", "required", "problems"],
                "properties": {
                    "complete": {"type": "boolean"},
                    "filled": {"type": "integer"},
                    "required": {"type": "integer"},
                    "problems": {
                        "type": "object",
                        "additionalProperties": _STRING,
                        "description": "What a submission still lacks, per path "
                        "(`population`, `facilities[2].name`).",
                    },
                },
            },
        },
    },
    "CaseFormPut": {
        "type": "object",
        "additionalProperties": False,
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "additionalProperties": True,
                "description": "The fields to save (others stay as stored); null or an empty "
                'string empties a field. Numbers may be JSON numbers or text ("1.234,5").',
            },
            "version": {"type": "integer", "minimum": 0},
        },
    },
    "CaseFormHistory": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "created_at", "created_by", "changed", "data"],
                    "properties": {
                        "number": {"type": "integer"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "created_by": {
                            "allOf": [{"$ref": "#/components/schemas/Person"}],
                            "nullable": True,
                        },
                        "changed": {"type": "array", "items": _STRING},
                        "data": {"type": "object", "additionalProperties": True},
                    },
                },
            }
        },
    },
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/forms/{form_key}": {
        "get": {
            "operationId": "getCaseForm",
            "summary": "A data form of the case: its fields, what is stored, the reasons of "
            "the last return, its version and what a submission still lacks.",
            "parameters": [_CASE, _FORM_KEY, _LANG],
            "responses": {
                "200": {**_ok("CaseForm", "The form."), "headers": _ETAG},
                "400": _400,
                "401": _401,
                "404": _404,
            },
        },
        "put": {
            "operationId": "putCaseForm",
            "summary": "Save fields of the form (an editor role, in a state where it is "
            "editable). Every field is checked; any invalid one refuses the whole save (422).",
            "parameters": [_CASE, _FORM_KEY, _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CaseFormPut"}}
                },
            },
            "responses": {
                "200": {
                    **_ok("CaseForm", "Saved: the form with its new version."),
                    "headers": _ETAG,
                },
                "400": _400,
                "401": _401,
                "403": _err("The caller may not edit this form."),
                "404": _404,
                "409": _err("The version is stale, or the form is not editable in this state."),
                "422": _err("Invalid values: see `fields` (per path)."),
            },
        },
    },
    "/api/v1/cases/{case_id}/forms/{form_key}/history": {
        "get": {
            "operationId": "getCaseFormHistory",
            "summary": "The form's revisions, newest first (saves by one person within ten "
            "minutes are one revision).",
            "parameters": [_CASE, _FORM_KEY, _LANG],
            "responses": {
                "200": _ok("CaseFormHistory", "The revisions."),
                "400": _400,
                "401": _401,
                "404": _404,
            },
        }
    },
}
