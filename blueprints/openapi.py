"""The OpenAPI 3.0.3 document of API v1. Kept beside the routes it describes; a test
compares its paths with the app's URL map so neither drifts."""

from __future__ import annotations

from copy import deepcopy

from workflow.models import Case
from workflow.models._base import MAX_ID


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def response(schema_name: str, description: str) -> dict:
    """A JSON response of a named component schema (for the api_* modules)."""
    return _json(_ref(schema_name), description)


error_response = _error


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}

PERSON = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": INTEGER, "name": STRING},
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string", "description": "What went wrong, in words a user reads."},
            "reasons": {
                "type": "array",
                "items": STRING,
                "description": "Why a guard blocks the action (422 only).",
            },
            "fields": {
                "type": "object",
                "additionalProperties": STRING,
                "description": "A message per input field that needs attention (422 only).",
            },
        },
    },
    "Person": PERSON,
    "CaseSummary": {
        "type": "object",
        "required": [
            "id",
            "title",
            "state",
            "state_label",
            "phase",
            "phase_label",
            "due_date",
            "overdue",
            "version",
            "trainee",
            "cohort",
            "subject",
        ],
        "properties": {
            "id": INTEGER,
            "title": STRING,
            "state": STRING,
            "state_label": STRING,
            "phase": STRING,
            "phase_label": STRING,
            "due_date": _nullable({"type": "string", "format": "date"}),
            "overdue": {"type": "boolean"},
            "version": {
                "type": "integer",
                "description": "Optimistic-lock version; send it back in If-Match.",
            },
            "trainee": _nullable(_ref("Person")),
            "cohort": _nullable(_ref("Person")),
            "subject": _ref("CaseSubject"),
        },
    },
    "CaseSubject": {
        "type": "object",
        "description": "What the case is about: a participant (trainee and cohort) or a "
        "region unit (its region and campaign).",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["participant", "region_unit"]},
            "trainee": _nullable(_ref("Person")),
            "cohort": _nullable(_ref("Person")),
            "region": _nullable(
                {
                    "type": "object",
                    "required": ["code", "name", "level", "label"],
                    "properties": {
                        "code": _nullable(STRING),
                        "name": STRING,
                        "level": {
                            "type": "string",
                            "enum": ["province", "regency", "district", "village"],
                        },
                        "label": {"type": "string", "description": "e.g. Pekon Tanjung Raya"},
                    },
                }
            ),
            "campaign": _nullable(
                {
                    "type": "object",
                    "required": ["id", "name", "deadline"],
                    "properties": {
                        "id": INTEGER,
                        "name": STRING,
                        "deadline": {"type": "string", "format": "date"},
                    },
                }
            ),
        },
    },
    "CaseList": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": _ref("CaseSummary")},
            "page": INTEGER,
            "per_page": INTEGER,
            "total": INTEGER,
            "pages": INTEGER,
        },
    },
    "Milestone": {
        "type": "object",
        "required": [
            "id",
            "position",
            "term",
            "activity",
            "output",
            "target_date",
            "target_quantity",
            "target_unit",
            "units",
            "status",
            "achieved_quantity",
            "closing_note",
        ],
        "properties": {
            "id": INTEGER,
            "position": INTEGER,
            "term": {"type": "string", "enum": ["short", "medium", "long"]},
            "activity": STRING,
            "output": STRING,
            "target_date": _nullable({"type": "string", "format": "date"}),
            "target_quantity": _nullable({"type": "number"}),
            "target_unit": STRING,
            "units": {"type": "array", "items": {}},
            "status": STRING,
            "achieved_quantity": _nullable({"type": "number"}),
            "closing_note": STRING,
        },
    },
    "ActionField": {
        "type": "object",
        "required": ["name", "type", "label", "required", "max_length", "choices"],
        "properties": {
            "name": STRING,
            "type": {"type": "string", "enum": ["text", "date", "choice", "number"]},
            "label": STRING,
            "required": {"type": "boolean"},
            "max_length": INTEGER,
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["value", "label"],
                    "properties": {"value": STRING, "label": STRING},
                },
            },
        },
    },
    "Action": {
        "type": "object",
        "required": [
            "trigger",
            "label",
            "style",
            "comment",
            "comment_required",
            "fields",
            "blocked",
            "blocked_reasons",
            "reasons",
        ],
        "properties": {
            "trigger": STRING,
            "label": STRING,
            "style": {"type": "string", "enum": ["primary", "secondary", "danger"]},
            "comment": {"type": "string", "enum": ["none", "optional", "required"]},
            "comment_required": {"type": "boolean"},
            "fields": {"type": "array", "items": _ref("ActionField")},
            "blocked": {"type": "boolean"},
            "blocked_reasons": {
                "type": "array",
                "items": STRING,
                "description": "Why the action would be refused now (empty: it would go through).",
            },
            "reasons": _nullable(
                {
                    "type": "object",
                    "description": "The action returns a data form with a reason per field: "
                    "send data.reasons = {field: reason}, at least one.",
                    "required": ["form", "fields"],
                    "properties": {
                        "form": STRING,
                        "fields": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "label"],
                                "properties": {"name": STRING, "label": STRING},
                            },
                        },
                    },
                }
            ),
        },
    },
    "Case": {
        "allOf": [
            _ref("CaseSummary"),
            {
                "type": "object",
                "required": [
                    "definition",
                    "state_entered_at",
                    "mentor",
                    "executive",
                    "group",
                    "proposal",
                    "milestones",
                    "final_score",
                    "predicate",
                    "actions",
                ],
                "properties": {
                    "definition": {
                        "type": "object",
                        "required": ["key", "version", "label"],
                        "properties": {"key": STRING, "version": INTEGER, "label": STRING},
                    },
                    "state_entered_at": {"type": "string", "format": "date-time"},
                    "mentor": _nullable(_ref("Person")),
                    "executive": _nullable(_ref("Person")),
                    "group": _nullable(_ref("Person")),
                    "proposal": {
                        "type": "object",
                        "required": [
                            *Case.PROPOSAL_TEXT_FIELDS,
                            *Case.PROPOSAL_LIST_FIELDS,
                        ],
                        "properties": {
                            **dict.fromkeys(Case.PROPOSAL_TEXT_FIELDS, STRING),
                            **dict.fromkeys(
                                Case.PROPOSAL_LIST_FIELDS,
                                {"type": "array", "items": {"type": "object"}},
                            ),
                        },
                    },
                    "milestones": {"type": "array", "items": _ref("Milestone")},
                    "final_score": _nullable({"type": "number"}),
                    "predicate": _nullable(STRING),
                    "actions": {"type": "array", "items": _ref("Action")},
                },
            },
        ]
    },
    "ActionRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "comment": _nullable({"type": "string", "maxLength": 5000}),
            "data": _nullable(
                {
                    "type": "object",
                    "description": "Values of the fields the action collects, by name; "
                    "for an action with `reasons`, `reasons`: {field: reason}.",
                    "additionalProperties": True,
                }
            ),
        },
    },
    "Event": {
        "type": "object",
        "required": [
            "seq",
            "trigger",
            "from",
            "to",
            "actor",
            "on_behalf_of",
            "comment",
            "data",
            "created_at",
            "hash",
            "prev_hash",
        ],
        "properties": {
            "seq": INTEGER,
            "trigger": STRING,
            "from": _nullable(STRING),
            "to": STRING,
            "actor": _nullable(_ref("Person")),
            "on_behalf_of": _nullable(_ref("Person")),
            "comment": STRING,
            "data": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
            "hash": STRING,
            "prev_hash": {
                "type": "string",
                "description": "Hash of the previous event of this case (empty for the first).",
            },
        },
    },
    "EventList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("Event")}},
    },
}

PARAMETERS = {
    "lang": {
        "name": "lang",
        "in": "query",
        "required": False,
        "description": "Language of labels and messages; overrides Accept-Language.",
        "schema": {"type": "string", "enum": ["id", "en"], "default": "id"},
    },
    "case_id": {
        "name": "case_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "example": 1,
    },
}

BAD_REQUEST = _error("Invalid parameters or body.")
UNAUTHORIZED = {
    **_error("Missing or invalid bearer token."),
    "headers": {"WWW-Authenticate": {"schema": STRING}},
}
NOT_FOUND = _error("No such case, or not the caller's to see.")


def _p(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


PATHS = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/v1/cases": {
        "get": {
            "operationId": "listCases",
            "summary": "The caller's cases, by id.",
            "parameters": [
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
                },
                {
                    "name": "per_page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                _p("lang"),
            ],
            "responses": {
                "200": _json(_ref("CaseList"), "One page of cases."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
            },
        }
    },
    "/api/v1/cases/{case_id}": {
        "get": {
            "operationId": "getCase",
            "summary": "A case with its state, version and the actions the caller may take.",
            "parameters": [_p("case_id"), _p("lang")],
            "responses": {
                "200": {
                    **_json(_ref("Case"), "The case."),
                    "headers": {"ETag": {"description": "The version.", "schema": STRING}},
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/cases/{case_id}/actions/{trigger}": {
        "post": {
            "operationId": "performAction",
            "summary": "Fire a trigger (e.g. submit, approve) on the case.",
            "parameters": [
                _p("case_id"),
                {
                    "name": "trigger",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "example": "submit",
                },
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": 'The version the caller saw: 3, "3" or W/"3". '
                    "A stale version answers 409.",
                    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,18}"?$'},
                },
                _p("lang"),
            ],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("ActionRequest")}},
            },
            "responses": {
                "200": {
                    **_json(_ref("Case"), "Done: the updated case."),
                    "headers": {"ETag": {"description": "The new version.", "schema": STRING}},
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "403": _error("The caller may not take this action on this case."),
                "404": NOT_FOUND,
                "409": _error(
                    "The action is not available in the current state, or the version is stale."
                ),
                "422": _error("Blocked: see `reasons` and `fields`."),
            },
        }
    },
    "/api/v1/cases/{case_id}/events": {
        "get": {
            "operationId": "listEvents",
            "summary": "The case's audit trail, oldest first, as a hash chain.",
            "parameters": [_p("case_id"), _p("lang")],
            "responses": {
                "200": _json(_ref("EventList"), "The events."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
}

SPEC = {
    "openapi": "3.0.3",
    "info": {
        "title": "Aksi API",
        "version": "1",
        "description": "Cases of aksi perubahan projects: read them, act on them, read their "
        "audit trail. Authenticate with `Authorization: Bearer <token>`; "
        "`flask aksi token USERNAME` issues one. Errors are JSON with a `message`.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "parameters": PARAMETERS,
    },
}


# Route modules that extend the API (blueprints/api_*.py) each declare their own PATHS and
# SCHEMAS; the document is their union, so a route and its description live side by side.
EXTENSIONS = (
    "api_proposals",
    "api_reviews",
    "api_delegations",
    "api_notifications",
    "api_implementation",
    "api_evaluation",
    "api_dashboard",
    "api_seminars",
    "api_followup",
    "api_repository",
    "api_similarity",
    "api_regions",
    "api_forms",
    "api_campaigns",
    "api_reach",
)


def spec() -> dict:
    from importlib import import_module

    document = deepcopy(SPEC)
    for name in EXTENSIONS:
        module = import_module(f"blueprints.{name}")
        document["paths"].update(deepcopy(getattr(module, "PATHS", {})))
        document["components"]["schemas"].update(deepcopy(getattr(module, "SCHEMAS", {})))
    return document
