"""(issue 12) API v1 of near-duplicate detection: the similar earlier change actions of a
case (whoever may see the case; the trainee editing their draft compares the draft), and the
clusters of near-duplicates in a cohort (its organizers and the institution's admin).
Read-only; routes attach to blueprints.api.bp, described by PATHS/SCHEMAS below."""

from __future__ import annotations

from flask import g, jsonify
from flask_babel import lazy_gettext as _l

from workflow.services import cohorts as cohort_service
from workflow.services import proposals as P
from workflow.services import similarity as S

from . import openapi
from .api import ApiError, _case_or_404, _int_arg, bp, id_in_path
from .similarity import similar_link

CASE_ID = id_in_path("case_id")
COHORT_ID = id_in_path("cohort_id")


def _engine(model: str) -> dict:
    status = S.engine_status()
    return {
        "engine": status.mode,
        "reason": status.reason,
        "compared_by": "meaning" if model == S.MODEL_ID else "wording",
        "model": model,
        "duplicate_threshold": S.DUPLICATE[model],
    }


@bp.get(f"/cases/{CASE_ID}/similar")
def case_similar(case_id: int):
    case = _case_or_404(case_id)
    limit = _int_arg("limit", S.TOP_K, 1, S.MAX_TOP_K)
    similar = S.similar_to(case, draft=P.can_edit(case, g.api_user), limit=limit)
    return jsonify(
        {
            "case_id": case.id,
            "basis": similar.basis,
            "pending": similar.pending,
            **_engine(similar.model),
            "items": [
                {
                    "case_id": m.case_id,
                    "title": m.title,
                    "cohort": {"id": m.cohort_id, "name": m.cohort},
                    "year": m.year,
                    "agency": m.agency,
                    "score": m.score,
                    "duplicate": m.duplicate,
                    "url": similar_link(m.case_id),
                }
                for m in similar.matches
            ],
        }
    )


@bp.get(f"/cohorts/{COHORT_ID}/similar")
def cohort_similar(cohort_id: int):
    cohort = cohort_service.cohort_for(g.api_user, cohort_id)
    if cohort is None:
        raise ApiError(404, _l("No such cohort, or you do not organize it."))
    result = S.cohort_clusters(cohort)
    return jsonify(
        {
            "cohort": {"id": cohort.id, "name": cohort.name},
            **_engine(result.model),
            "compared": result.compared,
            "submitted": result.submitted,
            "clusters": [
                {
                    "members": [
                        {
                            "case_id": m.case_id,
                            "title": m.title,
                            "trainee": m.trainee,
                            "agency": m.agency,
                            "state": m.state,
                        }
                        for m in c.members
                    ],
                    "pairs": [{"a": a, "b": b, "score": score} for a, b, score in c.pairs],
                }
                for c in result.clusters
            ],
        }
    )


# ---------------------------------------------------------------- OpenAPI

_INT = {"type": "integer"}
_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_ref = openapi._ref

_ENGINE_PROPS = {
    "engine": {
        "type": "string",
        "enum": ["model", "lexical"],
        "description": "What answers this server's lookups: the embedding model, or the "
        "lexical fallback (model turned off, missing or corrupt).",
    },
    "reason": {
        "type": "string",
        "enum": ["ok", "off", "missing", "corrupt", "unavailable", "broken"],
        "description": "Why the fallback answers (`ok` when the model does).",
    },
    "compared_by": {
        "type": "string",
        "enum": ["meaning", "wording"],
        "description": "How these results were compared (`wording` also while the model's "
        "vector of this text is still being computed).",
    },
    "model": _STRING,
    "duplicate_threshold": {
        **_NUMBER,
        "description": "From this score on, a pair is likely a near-duplicate.",
    },
}
_ENGINE_REQUIRED = list(_ENGINE_PROPS)

SCHEMAS: dict = {
    "SimilarCase": {
        "type": "object",
        "required": ["case_id", "title", "cohort", "year", "agency", "score", "duplicate", "url"],
        "properties": {
            "case_id": _INT,
            "title": _STRING,
            "cohort": openapi.PERSON,
            "year": _INT,
            "agency": _STRING,
            "score": {
                **_NUMBER,
                "description": "Cosine similarity. The model's scores run from about 0.8 "
                "(unrelated) to 1.0 (the same text); the lexical ones from 0 to 1.",
            },
            "duplicate": {"type": "boolean"},
            "url": {**_STRING, "description": "The change action's page in the repository."},
        },
    },
    "SimilarCases": {
        "type": "object",
        "required": ["case_id", "basis", "pending", *_ENGINE_REQUIRED, "items"],
        "properties": {
            "case_id": _INT,
            "basis": {
                "type": "string",
                "enum": ["submitted", "draft", "none"],
                "description": "What was compared: the last submission; the draft (its "
                "trainee, while it can be edited, or a case never submitted); none (no text).",
            },
            "pending": {"type": "boolean"},
            **_ENGINE_PROPS,
            "items": {"type": "array", "items": _ref("SimilarCase")},
        },
    },
    "SimilarCluster": {
        "type": "object",
        "required": ["members", "pairs"],
        "properties": {
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["case_id", "title", "trainee", "agency", "state"],
                    "properties": {
                        "case_id": _INT,
                        "title": _STRING,
                        "trainee": _STRING,
                        "agency": _STRING,
                        "state": _STRING,
                    },
                },
            },
            "pairs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["a", "b", "score"],
                    "properties": {"a": _INT, "b": _INT, "score": _NUMBER},
                },
            },
        },
    },
    "CohortSimilarity": {
        "type": "object",
        "required": ["cohort", *_ENGINE_REQUIRED, "compared", "submitted", "clusters"],
        "properties": {
            "cohort": openapi.PERSON,
            **_ENGINE_PROPS,
            "compared": _INT,
            "submitted": _INT,
            "clusters": {"type": "array", "items": _ref("SimilarCluster")},
        },
    },
}

_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_COHORT = {
    "name": "cohort_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": openapi.MAX_ID},
    "example": 1,
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/similar": {
        "get": {
            "operationId": "getSimilarCases",
            "summary": "The most similar submitted change actions of the case's institution "
            "(other cases; never another trainee's draft), best first, with a score.",
            "parameters": [
                _CASE,
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": S.MAX_TOP_K},
                    "description": "At most this many (default 5).",
                },
                _LANG,
            ],
            "responses": {
                "200": openapi.response("SimilarCases", "The similar change actions."),
                "400": openapi.error_response("Invalid parameters."),
                "401": openapi.UNAUTHORIZED,
                "404": openapi.NOT_FOUND,
            },
        }
    },
    "/api/v1/cohorts/{cohort_id}/similar": {
        "get": {
            "operationId": "getCohortNearDuplicates",
            "summary": "Groups of the cohort's submitted change actions that are likely "
            "near-duplicates of one another (for its organizers and the institution admin).",
            "parameters": [_COHORT, _LANG],
            "responses": {
                "200": openapi.response("CohortSimilarity", "The cohort's clusters."),
                "400": openapi.error_response("Invalid parameters."),
                "401": openapi.UNAUTHORIZED,
                "404": openapi.error_response(
                    "No such cohort, or the caller does not organize it."
                ),
            },
        }
    },
}
