"""API v1: milestones, progress reports, evidence, verification and the final report.

Routes attach to blueprints.api.bp and are described by PATHS/SCHEMAS below. Every change
goes through perform() (the activities of the definition); these routes only read the
request, load what the caller may see, and describe the result.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict

from flask import g, jsonify, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from workflow.extensions import db
from workflow.models import Document, FinalReport, Milestone, MilestoneReport
from workflow.permissions import get_case_for
from workflow.services import Blocked, WorkflowError, perform
from workflow.services import documents as docs
from workflow.services import final_report as fr
from workflow.services import milestones as ms

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

MILESTONE_ID = id_in_path("milestone_id")
DOCUMENT_ID = id_in_path("document_id")
MILESTONE_PATH = f"/cases/{CASE_ID}/milestones/{MILESTONE_ID}"

REPORT_FIELDS = {"status", "achieved_quantity", "narrative", "report_date"}
COVER_FIELDS = {"unit", "covered_on", "note"}
DECISION_FIELDS = {"comment"}


# ---------------------------------------------------------------- loading


def _milestones_of(case, milestone_id: int | None = None) -> tuple[list[Milestone], dict]:
    """The case's milestones with their reports, authors and coverages, and their evidence
    grouped by milestone: a fixed number of queries however many milestones there are."""
    query = (
        select(Milestone)
        .where(Milestone.case_id == case.id)
        .options(
            selectinload(Milestone.reports).options(
                joinedload(MilestoneReport.author), joinedload(MilestoneReport.decided_by)
            ),
            selectinload(Milestone.coverages),
        )
        .order_by(Milestone.position, Milestone.id)
    )
    if milestone_id is not None:
        query = query.where(Milestone.id == milestone_id)
    rows = list(db.session.scalars(query))
    evidence: dict[int, list[Document]] = defaultdict(list)
    if rows:
        found = db.session.scalars(
            select(Document)
            .where(
                Document.milestone_id.in_([m.id for m in rows]),
                Document.kind == "evidence",
            )
            .order_by(Document.id)
        )
        for d in found:
            evidence[d.milestone_id].append(d)
    return rows, evidence


def _milestone_or_404(case, milestone_id: int) -> tuple[Milestone, list[Document]]:
    rows, evidence = _milestones_of(case, milestone_id)
    if not rows:
        raise ApiError(404, _l("No such milestone in this case."))
    return rows[0], evidence[rows[0].id]


# ---------------------------------------------------------------- serialisation


def _date(value) -> str | None:
    return value.isoformat() if value is not None else None


def _label(status: str | None) -> str | None:
    return None if status is None else str(ms.STATUS_LABELS.get(status, status))


def _document(d: Document, report_numbers: dict[int, int]) -> dict:
    return {
        "id": d.id,
        "name": d.original_name,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "is_image": d.is_image,
        "report_number": report_numbers.get(d.report_id) if d.report_id else None,
        "created_at": iso_utc(d.created_at),
        "url": url_for("api.document", document_id=d.id),
        "thumbnail_url": (
            url_for("api.document_thumbnail", document_id=d.id) if d.thumb_name else None
        ),
    }


def milestone_json(m: Milestone, evidence: list[Document], today) -> dict:
    numbers = {r.id: r.number for r in m.reports}
    documents = [_document(d, numbers) for d in evidence]
    by_report: dict[int, list[dict]] = defaultdict(list)
    for d, shown in zip(evidence, documents, strict=True):
        if d.report_id is not None:
            by_report[d.report_id].append(shown)
    due = ms.next_due(m)
    return {
        "id": m.id,
        "case_id": m.case_id,
        "position": m.position,
        "term": m.term,
        "activity": m.activity,
        "output": m.output,
        "target_date": _date(m.target_date),
        "target_quantity": m.target_quantity,
        "target_unit": m.target_unit,
        "status": m.status,
        "status_label": _label(m.status),
        "achieved_quantity": m.achieved_quantity,
        "progress": ms.progress_text(m),
        "units": list(m.units or []),
        "covered_units": [
            {
                "unit": c.unit,
                "covered_on": _date(c.covered_on),
                "note": c.note or "",
                "document_id": c.document_id,
            }
            for c in m.coverages
        ],
        "remaining_units": m.remaining_units,
        "due_date": _date(due),
        "due_role": ms.due_role(m),
        "overdue": ms.is_overdue(m, today),
        "return_comment": m.return_comment or "",
        "closing_note": m.closing_note or "",
        "closed": m.is_closed,
        "updated_at": iso_utc(m.updated_at),
        "reports": [
            {
                "number": r.number,
                "status": r.status,
                "status_label": _label(r.status),
                "achieved_quantity": r.achieved_quantity,
                "narrative": r.narrative or "",
                "report_date": _date(r.report_date),
                "author": _person(r.author),
                "created_at": iso_utc(r.created_at),
                "decision": r.decision,
                "decision_label": _label(r.decision),
                "decided_by": _person(r.decided_by),
                "decided_at": iso_utc(r.decided_at),
                "decision_comment": r.decision_comment or "",
                "documents": by_report.get(r.id, []),
            }
            for r in m.reports
        ],
        "documents": documents,
    }


def _respond(payload: dict, version: int, status: int = 200):
    response = jsonify(payload)
    response.status_code = status
    response.set_etag(str(version))
    return response


def _one(case, milestone_id: int, status: int = 200):
    m, evidence = _milestone_or_404(case, milestone_id)
    return _respond(milestone_json(m, evidence, ms.today_for(case)), case.version, status)


# ---------------------------------------------------------------- input


def _refusal(exc: WorkflowError) -> ApiError:
    extra = {}
    if isinstance(exc, Blocked):
        extra = {
            "reasons": [str(r) for r in exc.reasons],
            "fields": {k: str(v) for k, v in exc.fields.items()},
        }
    return ApiError(exc.status, exc.message, **extra)


def _version(raw) -> int | None:
    """The version the caller edits (the case's; the final report's own on its route):
    `version` in the body, else If-Match."""
    header = _expected_version()
    if raw is None or raw == "":
        return header
    if isinstance(raw, str):
        value = raw.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise ApiError(400, _l("%(name)s must be a whole number.", name="version"))
        raw = int(value)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ApiError(400, _l("%(name)s must be a whole number.", name="version"))
    if header is not None and header != raw:
        raise ApiError(400, _l("The version in the body and in If-Match differ."))
    return raw


def _is_multipart() -> bool:
    return request.mimetype == "multipart/form-data"


def _form(allowed: set[str]) -> tuple[dict, list]:
    """Fields and `files` of a multipart request; each field once, no NUL characters."""
    form, files = request.form, request.files
    unknown = sorted((set(form) | set(files)) - allowed - {"version", "files"})
    if unknown:
        raise ApiError(
            400, _l("Unknown keys in the request body: %(keys)s.", keys=", ".join(unknown))
        )
    if "files" in form or any(key != "files" for key in files):
        raise ApiError(400, _l("Send evidence as files in the `files` part only."))
    data = {}
    for key in form:
        values = form.getlist(key)
        if len(values) != 1:
            raise ApiError(400, _l("%(name)s must be sent once.", name=key))
        if "\x00" in values[0]:
            raise ApiError(400, _l("The request body must not contain NUL characters."))
        data[key] = values[0]
    return data, files.getlist("files")


def _huge(value) -> bool:
    """An integer no float can hold (JSON allows 1 followed by 400 zeros)."""
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _json_fields(allowed: set[str], numbers: set[str] = frozenset(), required=True) -> dict:
    if not required and not request.get_data(cache=True).strip():
        return {}
    body = json_object(allowed | {"version"})
    for name in allowed:
        value = body.get(name)
        if value is None:
            continue
        if name in numbers:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or _huge(value):
                raise ApiError(400, _l("%(name)s must be a number.", name=name))
        elif not isinstance(value, str):
            raise ApiError(400, _l("%(name)s must be a string.", name=name))
    return body


def _input(allowed: set[str], numbers: set[str] = frozenset()) -> tuple[dict, list, int | None]:
    """(fields, files, expected version) from a JSON or multipart/form-data body."""
    if _is_multipart():
        data, files = _form(allowed)
    else:
        data, files = _json_fields(allowed, numbers), []
    version = _version(data.pop("version", None))
    return data, files, version


def _act(case, trigger: str, milestone_id: int, *, data=None, comment=None, files=(), version):
    try:
        perform(
            case,
            trigger,
            g.api_user,
            comment=comment,
            data={**(data or {}), "milestone_id": milestone_id},
            expected_version=version,
            files=list(files),
        )
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None


# ---------------------------------------------------------------- routes


@bp.get(f"/cases/{CASE_ID}/milestones")
def list_milestones(case_id: int):
    case = _case_or_404(case_id)
    rows, evidence = _milestones_of(case)
    today = ms.today_for(case)
    payload = {
        "case_id": case.id,
        "version": case.version,
        "items": [milestone_json(m, evidence[m.id], today) for m in rows],
    }
    return _respond(payload, case.version)


@bp.get(MILESTONE_PATH)
def get_milestone(case_id: int, milestone_id: int):
    case = _case_or_404(case_id)
    return _one(case, milestone_id)


@bp.post(f"{MILESTONE_PATH}/reports")
def report_progress(case_id: int, milestone_id: int):
    case = _case_or_404(case_id)
    _milestone_or_404(case, milestone_id)
    data, files, version = _input(REPORT_FIELDS, numbers={"achieved_quantity"})
    _act(case, "report_progress", milestone_id, data=data, files=files, version=version)
    return _one(case, milestone_id, 201)


@bp.post(f"{MILESTONE_PATH}/coverage")
def cover_unit(case_id: int, milestone_id: int):
    case = _case_or_404(case_id)
    _milestone_or_404(case, milestone_id)
    data, files, version = _input(COVER_FIELDS)
    _act(case, "cover_unit", milestone_id, data=data, files=files, version=version)
    return _one(case, milestone_id, 201)


# The unit is a name (a kecamatan, a desa) and may hold a slash once URL-decoded.
@bp.delete(f"{MILESTONE_PATH}/coverage/<path:unit>")
def uncover_unit(case_id: int, milestone_id: int, unit: str):
    case = _case_or_404(case_id)
    _milestone_or_404(case, milestone_id)
    if "\x00" in unit:
        raise ApiError(400, _l("The unit name must not contain NUL characters."))
    version = _version(None)
    _act(case, "uncover_unit", milestone_id, data={"unit": unit}, version=version)
    return _one(case, milestone_id)


def _decide(case_id: int, milestone_id: int, trigger: str):
    case = _case_or_404(case_id)
    _milestone_or_404(case, milestone_id)
    body = _json_fields(DECISION_FIELDS, required=False)
    version = _version(body.get("version"))
    _act(case, trigger, milestone_id, comment=body.get("comment"), version=version)
    return _one(case, milestone_id)


@bp.post(f"{MILESTONE_PATH}/verify")
def verify_milestone(case_id: int, milestone_id: int):
    return _decide(case_id, milestone_id, "verify_milestone")


@bp.post(f"{MILESTONE_PATH}/return")
def return_milestone(case_id: int, milestone_id: int):
    return _decide(case_id, milestone_id, "return_milestone")


def _document_or_404(document_id: int) -> Document:
    d = db.session.get(Document, document_id)
    if d is None or get_case_for(g.api_user, d.case_id) is None:
        raise ApiError(404, _l("No such document, or it is not yours to see."))
    return d


def _send(path, mimetype: str, name: str):
    if path is None or not os.path.isfile(path):
        raise ApiError(404, _l("No such document, or it is not yours to see."))
    # Read whole (at most MAX_UPLOAD_MB): no file handle outlives the request.
    with open(path, "rb") as fh:
        content = io.BytesIO(fh.read())
    response = send_file(
        content, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get(f"/documents/{DOCUMENT_ID}")
def document(document_id: int):
    d = _document_or_404(document_id)
    return _send(docs.path_of(d), d.content_type, d.original_name)


@bp.get(f"/documents/{DOCUMENT_ID}/thumbnail")
def document_thumbnail(document_id: int):
    d = _document_or_404(document_id)
    stem = os.path.splitext(d.original_name)[0] or "bukti"
    return _send(docs.thumb_path_of(d), "image/jpeg", f"{stem}.thumb.jpg")


def _final_report(case):
    # The results show each short-term milestone's progress: its coverages in one query.
    db.session.scalars(
        select(Milestone)
        .where(Milestone.case_id == case.id)
        .options(selectinload(Milestone.coverages))
    ).all()
    content = fr.report_content(case)
    content["case_id"] = case.id
    content["can_edit"] = fr.can_edit(case, g.api_user)
    content["section_labels"] = {k: str(v) for k, v in fr.SECTION_LABELS.items()}
    return _respond(content, content["version"])


# One rule for both methods: with two rules, an out-of-range id would answer 405, not 404.
@bp.route(f"/cases/{CASE_ID}/final-report", methods=["GET", "PATCH"])
def final_report(case_id: int):
    case = _case_or_404(case_id)
    if request.method == "GET":
        return _final_report(case)
    # NUL characters are stripped by the service (databases refuse them), not refused here.
    body = json_object(set(fr.FIELDS) | {"version"}, reject_nul=False)
    version = _version(body.pop("version", None))
    if version is None:
        # Saving must never overwrite newer work: the caller says which version it edits.
        raise ApiError(
            400, _l('Send the report version you edited, as `version` or in If-Match, e.g. "3".')
        )
    try:
        fr.save_report(case, g.api_user, body, version)
    except WorkflowError as exc:
        db.session.rollback()
        raise _refusal(exc) from None
    return _final_report(case)


# ---------------------------------------------------------------- OpenAPI

_err = openapi.error_response
_ok = openapi.response
_401 = openapi.UNAUTHORIZED
_LANG = {"$ref": "#/components/parameters/lang"}
_CASE = {"$ref": "#/components/parameters/case_id"}
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_DATE = {"type": "string", "format": "date"}
_PERSON = {"$ref": "#/components/schemas/Person"}
_ETAG = {"ETag": {"description": "The case version.", "schema": _STRING}}
_MILESTONE = {
    "name": "milestone_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "example": 1,
}
_DOCUMENT = {
    "name": "document_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "example": 1,
}
_UNIT = {
    "name": "unit",
    "in": "path",
    "required": True,
    "description": "The unit's name, URL-encoded.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 300},
    "example": "Sukau",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The case version the caller saw: 3, "3" or W/"3" (or `version` in the '
    "body). A stale version answers 409; empty or * means any.",
    "schema": {"type": "string", "pattern": '^(\\*|(W/)?"?[0-9]{1,18}"?)?$'},
}
_VERSION = {
    "type": "integer",
    "minimum": 0,
    "description": "The case version the caller saw; a stale one answers 409.",
}
_FILES = {
    "type": "array",
    "maxItems": ms.MAX_FILES,
    "items": {"type": "string", "format": "binary"},
    "description": "Evidence: PDF, JPEG/PNG photos or Office documents; the content decides "
    "the type, not the name.",
}
_STATUSES = list(MilestoneReport.STATUSES)
_REPORT_PROPS = {
    "status": {"type": "string", "enum": _STATUSES},
    "achieved_quantity": {
        "type": "number",
        "nullable": True,
        "minimum": 0,
        "description": "Above the target is allowed (melampaui). Ignored for coverage "
        "milestones: the covered units count.",
    },
    "narrative": {
        "type": "string",
        "nullable": True,
        "maxLength": ms.NARRATIVE_MAX,
        "description": "Required for reported and not_achieved.",
    },
    "report_date": {**_DATE, "nullable": True, "description": "Default today; not future."},
}
_COVER_PROPS = {
    "unit": {"type": "string", "maxLength": 300, "description": "One of the milestone's units."},
    "covered_on": {**_DATE, "description": "Not in the future."},
    "note": {"type": "string", "nullable": True, "maxLength": ms.NOTE_MAX},
}


def _multipart(props: dict, max_files: int) -> dict:
    fields = {
        name: {k: v for k, v in schema.items() if k != "nullable"} for name, schema in props.items()
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **fields,
            "version": _VERSION,
            "files": {**_FILES, "maxItems": max_files},
        },
    }


_DOC_TYPES = sorted({t.content_type for t in docs.TYPES.values()})
_BINARY = {"type": "string", "format": "binary"}
_DOWNLOAD_HEADERS = {
    "Content-Disposition": {"description": "attachment; filename=…", "schema": _STRING},
    "X-Content-Type-Options": {"schema": {"type": "string", "enum": ["nosniff"]}},
}

SCHEMAS: dict = {
    "Evidence": {
        "type": "object",
        "required": [
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "is_image",
            "report_number",
            "created_at",
            "url",
            "thumbnail_url",
        ],
        "properties": {
            "id": _INT,
            "name": _STRING,
            "content_type": {"type": "string", "enum": _DOC_TYPES},
            "size": _INT,
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "is_image": {"type": "boolean"},
            "report_number": {
                "type": "integer",
                "nullable": True,
                "description": "The report it came with; null for a covered unit's evidence.",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "url": {"type": "string", "description": "Download (GET, bearer token)."},
            "thumbnail_url": {"type": "string", "nullable": True},
        },
    },
    "MilestoneReportEntry": {
        "type": "object",
        "required": [
            "number",
            "status",
            "status_label",
            "achieved_quantity",
            "narrative",
            "report_date",
            "author",
            "created_at",
            "decision",
            "decision_label",
            "decided_by",
            "decided_at",
            "decision_comment",
            "documents",
        ],
        "properties": {
            "number": _INT,
            "status": {"type": "string", "enum": _STATUSES},
            "status_label": _STRING,
            "achieved_quantity": {"type": "number", "nullable": True},
            "narrative": _STRING,
            "report_date": _DATE,
            "author": _PERSON,
            "created_at": {"type": "string", "format": "date-time"},
            "decision": {
                "type": "string",
                "nullable": True,
                "enum": [*MilestoneReport.DECISIONS, None],
            },
            "decision_label": {"type": "string", "nullable": True},
            "decided_by": {**_PERSON, "nullable": True},
            "decided_at": {"type": "string", "format": "date-time", "nullable": True},
            "decision_comment": _STRING,
            "documents": {"type": "array", "items": {"$ref": "#/components/schemas/Evidence"}},
        },
    },
    "MilestoneDetail": {
        "type": "object",
        "required": [
            "id",
            "case_id",
            "position",
            "term",
            "activity",
            "output",
            "target_date",
            "target_quantity",
            "target_unit",
            "status",
            "status_label",
            "achieved_quantity",
            "progress",
            "units",
            "covered_units",
            "remaining_units",
            "due_date",
            "due_role",
            "overdue",
            "return_comment",
            "closing_note",
            "closed",
            "updated_at",
            "reports",
            "documents",
        ],
        "properties": {
            "id": _INT,
            "case_id": _INT,
            "position": _INT,
            "term": {"type": "string", "enum": list(Milestone.TERMS)},
            "activity": _STRING,
            "output": _STRING,
            "target_date": {**_DATE, "nullable": True},
            "target_quantity": {"type": "number", "nullable": True},
            "target_unit": _STRING,
            "status": {"type": "string", "enum": list(Milestone.STATUSES)},
            "status_label": _STRING,
            "achieved_quantity": {"type": "number", "nullable": True},
            "progress": {
                "type": "string",
                "description": "E.g. “14 of 15 kecamatan — remaining: Sukau”.",
            },
            "units": {"type": "array", "items": _STRING},
            "covered_units": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["unit", "covered_on", "note", "document_id"],
                    "properties": {
                        "unit": _STRING,
                        "covered_on": _DATE,
                        "note": _STRING,
                        "document_id": {
                            "type": "integer",
                            "nullable": True,
                            "description": "Its evidence, one of `documents`.",
                        },
                    },
                },
            },
            "remaining_units": {"type": "array", "items": _STRING},
            "due_date": {
                **_DATE,
                "nullable": True,
                "description": "The current deadline; null once closed.",
            },
            "due_role": {
                "type": "string",
                "nullable": True,
                "enum": ["trainee", "mentor", None],
                "description": "Whose deadline it is.",
            },
            "overdue": {"type": "boolean"},
            "return_comment": _STRING,
            "closing_note": _STRING,
            "closed": {"type": "boolean"},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
            "reports": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/MilestoneReportEntry"},
                "description": "Every report, oldest first, with the mentor's decision.",
            },
            "documents": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Evidence"},
                "description": "All evidence of the milestone (reports and covered units).",
            },
        },
    },
    "MilestoneList": {
        "type": "object",
        "required": ["case_id", "version", "items"],
        "properties": {
            "case_id": _INT,
            "version": {"type": "integer", "description": "The case version."},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/MilestoneDetail"}},
        },
    },
    "ProgressReportRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {**_REPORT_PROPS, "version": _VERSION},
    },
    "ProgressReportForm": {**_multipart(_REPORT_PROPS, ms.MAX_FILES), "required": ["status"]},
    "CoverageRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["unit", "covered_on"],
        "properties": {**_COVER_PROPS, "version": _VERSION},
    },
    "CoverageForm": {**_multipart(_COVER_PROPS, 1), "required": ["unit", "covered_on"]},
    "FinalReport": {
        "type": "object",
        "required": [
            *FinalReport.TEXT_FIELDS,
            "results",
            "version",
            "status",
            "editable",
            "updated_at",
            "submitted_at",
            "missing",
            "case_id",
            "can_edit",
            "section_labels",
        ],
        "properties": {
            **dict.fromkeys(FinalReport.TEXT_FIELDS, _STRING),
            "results": {
                "type": "array",
                "description": "One item per short-term milestone, in order.",
                "items": {
                    "type": "object",
                    "required": [
                        "milestone_id",
                        "activity",
                        "output",
                        "target_date",
                        "target_quantity",
                        "target_unit",
                        "achieved_quantity",
                        "status",
                        "status_label",
                        "progress",
                        "closing_note",
                        "text",
                    ],
                    "properties": {
                        "milestone_id": _INT,
                        "activity": _STRING,
                        "output": _STRING,
                        "target_date": {**_DATE, "nullable": True},
                        "target_quantity": {"type": "number", "nullable": True},
                        "target_unit": _STRING,
                        "achieved_quantity": {"type": "number", "nullable": True},
                        "status": {"type": "string", "enum": list(Milestone.STATUSES)},
                        "status_label": _STRING,
                        "progress": _STRING,
                        "closing_note": _STRING,
                        "text": {"type": "string", "description": "The result written."},
                    },
                },
            },
            "version": {
                "type": "integer",
                "description": "The report's own version (0 while nothing is stored); send "
                "it back with a PATCH.",
            },
            "status": {"type": "string", "enum": ["empty", "draft", "returned", "submitted"]},
            "editable": {"type": "boolean", "description": "Editable in the case's state?"},
            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
            "submitted_at": {"type": "string", "format": "date-time", "nullable": True},
            "missing": {
                "type": "array",
                "items": _STRING,
                "description": "What must be written before the report can be submitted.",
            },
            "case_id": _INT,
            "can_edit": {"type": "boolean", "description": "May the caller edit it now?"},
            "section_labels": {"type": "object", "additionalProperties": _STRING},
        },
    },
    "FinalReportPatch": {
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": {
            **{
                name: {
                    "type": "string",
                    "nullable": True,
                    "maxLength": fr.VIDEO_MAX if name == "video_link" else fr.TEXT_MAX,
                    "description": "null or empty clears it.",
                }
                for name in FinalReport.TEXT_FIELDS
            },
            "results": {
                "type": "object",
                "description": "Milestone id → result text; merged into the stored results "
                "(an empty text removes one).",
                "additionalProperties": {
                    "type": "string",
                    "nullable": True,
                    "maxLength": fr.RESULT_MAX,
                },
            },
            "version": {
                "type": "integer",
                "minimum": 0,
                "description": "The report version edited (0 for the first save).",
            },
        },
    },
    "DecisionRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "comment": {"type": "string", "nullable": True, "maxLength": 5000},
            "version": _VERSION,
        },
    },
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _changed(description: str, status: str = "200") -> dict:
    return {status: {**_ok("MilestoneDetail", description), "headers": _ETAG}}


_REFUSALS = {
    "400": _err("Invalid parameters or body (not JSON, unknown keys, wrong types, NUL)."),
    "401": _401,
    "403": _err("The caller may not do this on this case (e.g. not its trainee or mentor)."),
    "404": _err("No such case or milestone, or not the caller's to see."),
    "409": _err("Not available now (state, milestone status), or the version is stale."),
    "413": _err("The request is too large."),
    "422": _err("Invalid input: see `fields` (and `reasons`)."),
}

PATHS: dict = {
    "/api/v1/cases/{case_id}/milestones": {
        "get": {
            "operationId": "listMilestones",
            "summary": "Every milestone of the case with its progress, deadline, reports, "
            "covered units and evidence.",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": {**_ok("MilestoneList", "The milestones, in order."), "headers": _ETAG},
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}": {
        "get": {
            "operationId": "getMilestone",
            "summary": "One milestone with its progress, deadline, reports and evidence.",
            "parameters": [_CASE, _MILESTONE, _LANG],
            "responses": {
                **_changed("The milestone."),
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case or milestone, or not the caller's to see."),
            },
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}/reports": {
        "post": {
            "operationId": "reportProgress",
            "summary": "Report progress on a milestone (trainee): in progress, done (the "
            "mentor verifies it) or not achieved (closed with an explanation); files "
            "become its evidence.",
            "parameters": [_CASE, _MILESTONE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("ProgressReportRequest")},
                    "multipart/form-data": {"schema": _ref("ProgressReportForm")},
                },
            },
            "responses": {**_changed("Reported: the milestone.", "201"), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}/coverage": {
        "post": {
            "operationId": "coverUnit",
            "summary": "Mark one unit of the milestone covered (trainee), with an optional "
            "evidence file.",
            "parameters": [_CASE, _MILESTONE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("CoverageRequest")},
                    "multipart/form-data": {"schema": _ref("CoverageForm")},
                },
            },
            "responses": {**_changed("Covered: the milestone.", "201"), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}/coverage/{unit}": {
        "delete": {
            "operationId": "uncoverUnit",
            "summary": "Undo a unit marked covered by mistake (trainee); its evidence stays.",
            "parameters": [_CASE, _MILESTONE, _UNIT, _IF_MATCH, _LANG],
            "responses": {**_changed("Unmarked: the milestone."), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}/verify": {
        "post": {
            "operationId": "verifyMilestone",
            "summary": "Verify a reported milestone (mentor), with an optional comment.",
            "parameters": [_CASE, _MILESTONE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("DecisionRequest")}},
            },
            "responses": {**_changed("Verified: the milestone."), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/milestones/{milestone_id}/return": {
        "post": {
            "operationId": "returnMilestone",
            "summary": "Return a reported or closed milestone for correction (mentor); the "
            "comment is required.",
            "parameters": [_CASE, _MILESTONE, _IF_MATCH, _LANG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("DecisionRequest")}},
            },
            "responses": {**_changed("Returned: the milestone."), **_REFUSALS},
        }
    },
    "/api/v1/cases/{case_id}/final-report": {
        "get": {
            "operationId": "getFinalReport",
            "summary": "The final report (laporan aksi perubahan): its sections, the result "
            "against each short-term milestone, its version and what is still missing.",
            "parameters": [_CASE, _LANG],
            "responses": {
                "200": {
                    **_ok("FinalReport", "The report."),
                    "headers": {"ETag": {"description": "The report version.", "schema": _STRING}},
                },
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such case, or not the caller's to see."),
            },
        },
        "patch": {
            "operationId": "patchFinalReport",
            "summary": "Save sections and/or results (trainee, while the report is editable).",
            "parameters": [
                _CASE,
                {
                    **_IF_MATCH,
                    "description": "The report version edited (or `version` in the body).",
                },
                _LANG,
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("FinalReportPatch")}},
            },
            "responses": {
                "200": {
                    **_ok("FinalReport", "Saved: the report with its new version."),
                    "headers": {
                        "ETag": {"description": "The new report version.", "schema": _STRING}
                    },
                },
                "400": _err("Invalid body, or no version given."),
                "401": _401,
                "403": _err("Not the trainee of this case."),
                "404": _err("No such case, or not the caller's to see."),
                "409": _err("Not editable in the current state, or the version is stale."),
                "422": _err("Invalid input: see `fields` (results as `results.<milestone id>`)."),
            },
        },
    },
    "/api/v1/documents/{document_id}": {
        "get": {
            "operationId": "getDocument",
            "summary": "Download an uploaded file (evidence, signed letter) of a case the "
            "caller may see, as an attachment.",
            "parameters": [_DOCUMENT, _LANG],
            "responses": {
                "200": {
                    "description": "The file, as uploaded.",
                    "headers": _DOWNLOAD_HEADERS,
                    "content": {ct: {"schema": _BINARY} for ct in _DOC_TYPES},
                },
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such document, or not the caller's to see."),
            },
        }
    },
    "/api/v1/documents/{document_id}/thumbnail": {
        "get": {
            "operationId": "getDocumentThumbnail",
            "summary": "A small JPEG of an image document (rendered here, without metadata).",
            "parameters": [_DOCUMENT, _LANG],
            "responses": {
                "200": {
                    "description": "The thumbnail.",
                    "headers": _DOWNLOAD_HEADERS,
                    "content": {"image/jpeg": {"schema": _BINARY}},
                },
                "400": _err("Invalid parameters."),
                "401": _401,
                "404": _err("No such document or no thumbnail, or not the caller's to see."),
            },
        }
    },
}
