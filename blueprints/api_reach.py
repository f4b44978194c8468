"""API route of the regency reach of aksi perubahan (GET /api/v1/reach/<code>): per
kecamatan, how many change actions reach it, with their trainees, cohorts and villages.
It attaches to blueprints.api.bp and is described by PATHS/SCHEMAS below."""

from __future__ import annotations

from flask import g, jsonify
from flask_babel import lazy_gettext as _l

from workflow.services import dashboards as dash
from workflow.services import reach as service

from .api import ApiError, bp
from .openapi import BAD_REQUEST, UNAUTHORIZED, _error, _json, _p, _ref


def reach_json(report: service.Reach) -> dict:
    return {
        "regency": {"code": report.regency.code, "name": report.regency.name},
        "districts": [
            {
                "code": d.region.code,
                "name": d.region.name,
                "reached": d.reached,
                "cases": len(d.cases),
                "planned": len(d.planned),
                "trainees": len(d.trainees),
                "cohorts": len(d.cohorts),
                "villages_reached": len(d.villages),
                "villages_total": d.villages_total,
            }
            for d in report.districts
        ],
        "unreached": [d.region.code for d in report.unreached],
        "villages_reached": report.villages_reached,
        "villages_total": report.villages_total,
        "cases": len(report.cases),
        "trainees": len(report.trainees),
        "cohorts": len(report.cohorts),
        "regency_wide": len(report.regency_wide),
        "unmatched": report.unmatched,
    }


@bp.get("/reach/<code>")
def get_reach(code: str):
    user = g.api_user
    regency = service.regency(code)
    if regency is None or not dash.oversees_anything(user):
        raise ApiError(404, _l("No such regency, or nothing of yours to oversee."))
    return jsonify(reach_json(service.reach_for(user, regency)))


_INT = {"type": "integer", "minimum": 0}
_STRING = {"type": "string"}

SCHEMAS: dict = {
    "ReachDistrict": {
        "type": "object",
        "required": [
            "code",
            "name",
            "reached",
            "cases",
            "planned",
            "trainees",
            "cohorts",
            "villages_reached",
            "villages_total",
        ],
        "properties": {
            "code": _STRING,
            "name": _STRING,
            "reached": {"type": "boolean"},
            "cases": {**_INT, "description": "Change actions reaching the kecamatan."},
            "planned": {**_INT, "description": "Change actions planning to, not there yet."},
            "trainees": _INT,
            "cohorts": _INT,
            "villages_reached": _INT,
            "villages_total": _INT,
        },
    },
    "Reach": {
        "type": "object",
        "required": [
            "regency",
            "districts",
            "unreached",
            "villages_reached",
            "villages_total",
            "cases",
            "trainees",
            "cohorts",
            "regency_wide",
            "unmatched",
        ],
        "properties": {
            "regency": {
                "type": "object",
                "required": ["code", "name"],
                "properties": {"code": _STRING, "name": _STRING},
            },
            "districts": {"type": "array", "items": _ref("ReachDistrict")},
            "unreached": {
                "type": "array",
                "items": _STRING,
                "description": "Codes of the kecamatan no change action reaches yet.",
            },
            "villages_reached": _INT,
            "villages_total": _INT,
            "cases": _INT,
            "trainees": _INT,
            "cohorts": _INT,
            "regency_wide": {
                **_INT,
                "description": "Change actions of offices serving the whole regency.",
            },
            "unmatched": {
                "type": "array",
                "items": _STRING,
                "description": "Typed units that name no kecamatan or village of the regency.",
            },
        },
    },
}

PATHS: dict = {
    "/api/v1/reach/{code}": {
        "get": {
            "operationId": "getReach",
            "summary": "Which kecamatan and villages of a regency the change actions the "
            "caller oversees reach, summed across trainees and cohorts.",
            "parameters": [
                {
                    "name": "code",
                    "in": "path",
                    "required": True,
                    "description": "The regency's Kemendagri code, e.g. 18.04.",
                    "schema": {"type": "string", "maxLength": 20},
                    "example": "18.04",
                },
                _p("lang"),
            ],
            "responses": {
                "200": _json(_ref("Reach"), "The reach."),
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": _error("No such regency, or the caller oversees no cohort."),
            },
        }
    },
}
