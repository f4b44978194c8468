"""API v1 of the implementation phase: milestones, progress reports with evidence, covered
units, verification, documents, the final report and the organizer's deadline extension."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import date

import pytest
import schemathesis
import time_machine
from flask_babel import force_locale, gettext
from hypothesis import HealthCheck, given, settings
from hypothesis import event as outcome
from hypothesis import strategies as st
from PIL import Image
from schemathesis.config import SchemathesisConfig
from sqlalchemy import event

from blueprints import openapi
from tests import factories
from tests.factories import add_coverage_milestone, to_implementation
from tests.test_api import bearer
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Case,
    Document,
    FinalReport,
    Milestone,
    MilestoneReport,
    UnitCoverage,
)
from workflow.models.people import hash_token
from workflow.services import milestones as ms
from workflow.services import perform

# Wednesday 15 April 2026, inside the implementation window.
TODAY = "2026-04-15 03:00"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCRIPT = b"#!/bin/sh\nrm -rf /\n"


def jpeg_bytes(size=(1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def noisy_jpeg(size=(600, 600)) -> bytes:
    """A photo that does not compress: ~0.5 MB."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG")
    return out.getvalue()


JPEG = jpeg_bytes()
BIG_JPEG = noisy_jpeg()


@pytest.fixture
def started(world, tmp_path, app):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    return world


def counts() -> tuple:
    """Rows an activity may write, the case versions, and the files on disk."""
    db.session.expire_all()
    return (
        db.session.scalar(db.select(db.func.count(AuditEvent.id))),
        db.session.scalar(db.select(db.func.count(MilestoneReport.id))),
        db.session.scalar(db.select(db.func.count(UnitCoverage.id))),
        db.session.scalar(db.select(db.func.count(Document.id))),
        db.session.scalar(db.select(db.func.count(FinalReport.id))),
        tuple(db.session.scalars(db.select(Case.version).order_by(Case.id))),
        tuple(db.session.scalars(db.select(Milestone.status).order_by(Milestone.id))),
        files_on_disk(),
    )


def files_on_disk() -> tuple:
    from flask import current_app

    folder = current_app.config["UPLOAD_DIR"]
    return tuple(sorted(os.listdir(folder))) if os.path.isdir(folder) else ()


def url(case, m=None, tail="") -> str:
    base = f"/api/v1/cases/{case.id}/milestones"
    return base + (f"/{m.id}" if m is not None else "") + tail


def multipart(fields: dict, files=()) -> dict:
    data = dict(fields)
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return {"data": data, "content_type": "multipart/form-data"}


def fresh(kwargs: dict) -> dict:
    """The request arguments of a table row with new file streams: each run reads them."""
    kwargs = dict(kwargs)
    data = kwargs.get("data")
    if isinstance(data, dict) and "files" in data:
        files = [(io.BytesIO(stream.getvalue()), name) for stream, name in data["files"]]
        kwargs["data"] = {**data, "files": files}
    return kwargs


def report(started, m, **fields):
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "reported", "narrative": "Selesai.", **fields},
    )


# ---------------------------------------------------------------- reading


@time_machine.travel(TODAY)
def test_list_shows_progress_deadlines_reports_coverage_and_evidence(client, started):
    case, trainee = started.case, started.trainee
    first = case.milestones[0]
    cov = add_coverage_milestone(case)
    auth = bearer(trainee)
    response = client.post(
        url(case, first, "/reports"),
        headers=auth,
        **multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "Pedoman selesai."},
            [(JPEG, "foto rapat.jpg"), (PDF, "pedoman.pdf")],
        ),
    )
    assert response.status_code == 201, response.json
    response = client.post(
        url(case, cov, "/coverage"),
        headers=auth,
        **multipart(
            {"unit": "Sukau", "covered_on": "2026-04-14", "note": "Rapat camat."},
            [(PDF, "berita acara.pdf")],
        ),
    )
    assert response.status_code == 201, response.json

    for user in (trainee, started.mentor, started.coach, started.organizer):
        response = client.get(url(case) + "?lang=en", headers=bearer(user))
        assert response.status_code == 200
        body = response.json
        assert body["version"] == stored_version(case.id)
        assert response.headers["ETag"] == f'"{body["version"]}"'
        assert [m["id"] for m in body["items"]] == [first.id, cov.id]

    one, two = body["items"]
    assert one["status"] == "reported"
    assert one["status_label"] == "Reported, awaiting verification"
    assert one["achieved_quantity"] == 1 and one["progress"] == "1 of 1 dokumen"
    assert (one["due_date"], one["due_role"], one["overdue"]) == ("2026-04-20", "mentor", False)
    assert one["target_date"] == "2026-04-01" and one["term"] == "short"
    (rep,) = one["reports"]
    assert rep["number"] == 1 and rep["narrative"] == "Pedoman selesai."
    assert rep["author"] == {"id": trainee.id, "name": trainee.name}
    assert rep["report_date"] == "2026-04-15" and rep["decision"] is None
    photo, pdf = one["documents"]
    assert rep["documents"] == one["documents"]
    assert (photo["name"], photo["content_type"], photo["is_image"]) == (
        "foto rapat.jpg",
        "image/jpeg",
        True,
    )
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest() and photo["size"] == len(JPEG)
    assert photo["url"] == f"/api/v1/documents/{photo['id']}"
    assert photo["thumbnail_url"] == f"/api/v1/documents/{photo['id']}/thumbnail"
    assert pdf["thumbnail_url"] is None and pdf["report_number"] == 1

    assert two["status"] == "in_progress"
    assert two["progress"] == "1 of 4 kecamatan — remaining: Balik Bukit, Lumbok Seminung, Suoh"
    assert two["remaining_units"] == ["Balik Bukit", "Lumbok Seminung", "Suoh"]
    (covered,) = two["covered_units"]
    (evidence,) = two["documents"]
    assert covered == {
        "unit": "Sukau",
        "covered_on": "2026-04-14",
        "note": "Rapat camat.",
        "document_id": evidence["id"],
    }
    assert evidence["report_number"] is None
    assert (two["due_date"], two["due_role"]) == ("2026-05-04", "trainee")

    # Labels in the request's language (Indonesian by default).
    with force_locale("id"):
        indonesian = str(ms.STATUS_LABELS["reported"])
    default = client.get(url(case, first), headers=bearer(trainee)).json
    assert default["status_label"] == indonesian


@time_machine.travel(TODAY)
def test_overdue_milestone_says_so(client, started):
    m = started.case.milestones[0]  # target 1 April, nothing reported
    body = client.get(url(started.case, m), headers=bearer(started.trainee)).json
    assert (body["due_date"], body["due_role"], body["overdue"]) == ("2026-04-01", "trainee", True)
    assert body["reports"] == [] and body["documents"] == []


def _count_statements(fn) -> int:
    statements = []

    def record(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


@time_machine.travel(TODAY)
def test_list_has_no_query_per_milestone(client, started):
    case = started.case
    auth = bearer(started.organizer)

    def add(n: int) -> None:
        for _ in range(n):
            m = add_coverage_milestone(case, units=("A", "B"))
            perform(
                case,
                "cover_unit",
                started.trainee,
                data={"milestone_id": m.id, "unit": "A", "covered_on": "2026-04-14"},
                files=[_upload(PDF, "ba.pdf")],
            )
            perform(
                case,
                "report_progress",
                started.trainee,
                data={"milestone_id": m.id, "status": "reported", "narrative": "x"},
                files=[_upload(PDF, "laporan.pdf")],
            )
            perform(
                case,
                "return_milestone",
                started.mentor,
                comment="Lengkapi.",
                data={"milestone_id": m.id},
            )

    def run(expected: int):
        db.session.expire_all()
        response = client.get(url(case), headers=auth)
        assert response.status_code == 200
        items = response.json["items"]
        assert len(items) == expected
        assert all(m["reports"] for m in items[1:]) and all(m["documents"] for m in items[1:])

    add(1)
    client.get(url(case), headers=auth)  # the first use stamps the token's last_used_at once
    few = _count_statements(lambda: run(2))
    add(9)
    many = _count_statements(lambda: run(11))
    assert few == many


def _upload(data: bytes, name: str):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(data), filename=name)


def stored_version(case_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Case, case_id).version


# ---------------------------------------------------------------- changes: happy paths


def _reported(started, m):
    report(started, m, achieved_quantity=1)


def _covered(started, m):
    perform(
        started.case,
        "cover_unit",
        started.trainee,
        data={"milestone_id": m.id, "unit": "Suoh", "covered_on": "2026-04-14"},
    )


HAPPY = [
    # (name, setup, coverage milestone?, role, method, tail, request kwargs, status, check)
    (
        "report as json",
        None,
        False,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "reported", "achieved_quantity": 2, "narrative": "Selesai."}},
        201,
        lambda b: b["status"] == "reported" and b["achieved_quantity"] == 2,
    ),
    (
        "in progress as json, with version",
        None,
        False,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "achieved_quantity": 0.5, "version": 4}},
        201,
        lambda b: b["status"] == "in_progress" and b["reports"][0]["narrative"] == "",
    ),
    (
        "report as multipart with a photo and a pdf",
        None,
        False,
        "trainee",
        "post",
        "/reports",
        multipart(
            {"status": "reported", "achieved_quantity": "1,5", "narrative": "Selesai."},
            [(JPEG, "foto.jpg"), (PDF, "pedoman.pdf")],
        ),
        201,
        lambda b: (
            [d["content_type"] for d in b["documents"]] == ["image/jpeg", "application/pdf"]
            and b["achieved_quantity"] == 1.5
        ),
    ),
    (
        "not achieved closes it",
        None,
        False,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "not_achieved", "narrative": "Anggaran ditunda."}},
        201,
        lambda b: (
            b["closed"] and b["closing_note"] == "Anggaran ditunda." and b["due_date"] is None
        ),
    ),
    (
        "cover a unit as json",
        None,
        True,
        "trainee",
        "post",
        "/coverage",
        {"json": {"unit": "Sukau", "covered_on": "2026-04-14", "note": None}},
        201,
        lambda b: b["covered_units"][0]["unit"] == "Sukau" and b["achieved_quantity"] == 1,
    ),
    (
        "cover a unit with evidence",
        None,
        True,
        "trainee",
        "post",
        "/coverage",
        multipart({"unit": "Sukau", "covered_on": "2026-04-14"}, [(JPEG, "camat.jpg")]),
        201,
        lambda b: (
            b["covered_units"][0]["document_id"] == b["documents"][0]["id"]
            and b["documents"][0]["thumbnail_url"]
        ),
    ),
    (
        "uncover a unit",
        _covered,
        True,
        "trainee",
        "delete",
        "/coverage/Suoh",
        {},
        200,
        lambda b: b["covered_units"] == [] and b["achieved_quantity"] == 0,
    ),
    (
        "verify with a comment",
        _reported,
        False,
        "mentor",
        "post",
        "/verify",
        {"json": {"comment": "Bagus."}},
        200,
        lambda b: b["status"] == "verified" and b["reports"][-1]["decision_comment"] == "Bagus.",
    ),
    (
        "verify without a body",
        _reported,
        False,
        "mentor",
        "post",
        "/verify",
        {},
        200,
        lambda b: b["status"] == "verified" and b["due_date"] is None,
    ),
    (
        "return with a comment",
        _reported,
        False,
        "mentor",
        "post",
        "/return",
        {"json": {"comment": "Lampirkan berita acara."}},
        200,
        lambda b: (
            b["status"] == "returned"
            and b["return_comment"] == "Lampirkan berita acara."
            and b["due_date"] == "2026-04-22"
        ),
    ),
]


@pytest.mark.parametrize(
    ("setup", "coverage", "role", "method", "tail", "kwargs", "status", "check"),
    [h[1:] for h in HAPPY],
    ids=[h[0] for h in HAPPY],
)
@time_machine.travel(TODAY)
def test_change_happy_paths(
    client, started, setup, coverage, role, method, tail, kwargs, status, check
):
    case = started.case
    m = add_coverage_milestone(case) if coverage else case.milestones[0]
    if setup:
        setup(started, m)
    before = counts()
    response = getattr(client, method)(
        url(case, m, tail), headers=bearer(started.by_role(role)), **fresh(kwargs)
    )
    assert response.status_code == status, response.json
    body = response.json
    assert check(body), body
    after = counts()
    assert after[0] == before[0] + 1  # one audit event
    version = stored_version(case.id)
    assert response.headers["ETag"] == f'"{version}"' and version > before[5][0]
    events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert events.actor_id == started.by_role(role).id
    assert events.from_state == events.to_state == "implementation"


@time_machine.travel(TODAY)
def test_report_return_fix_verify_keeps_the_history(client, started):
    case, m = started.case, started.case.milestones[0]
    trainee, mentor = bearer(started.trainee), bearer(started.mentor)
    sent = {"status": "reported", "achieved_quantity": 1, "narrative": "Draf pedoman."}
    assert client.post(url(case, m, "/reports"), json=sent, headers=trainee).status_code == 201
    back = client.post(url(case, m, "/return"), json={"comment": "Tanda tangan?"}, headers=mentor)
    assert back.status_code == 200 and back.json["due_role"] == "trainee"
    fixed = client.post(
        url(case, m, "/reports"),
        headers=trainee,
        **multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "Sudah ditandatangani."},
            [(PDF, "pedoman-ttd.pdf")],
        ),
    )
    assert fixed.status_code == 201 and fixed.json["return_comment"] == ""
    done = client.post(url(case, m, "/verify"), headers=mentor)
    assert done.status_code == 200
    body = done.json
    assert body["status"] == "verified" and body["closed"] is True
    assert [(r["number"], r["decision"]) for r in body["reports"]] == [
        (1, "returned"),
        (2, "verified"),
    ]
    first, second = body["reports"]
    assert first["decision_comment"] == "Tanda tangan?"
    assert first["decided_by"] == {"id": started.mentor.id, "name": started.mentor.name}
    assert second["documents"][0]["name"] == "pedoman-ttd.pdf" and first["documents"] == []
    # A verified milestone takes no more reports.
    again = client.post(url(case, m, "/reports"), json=sent, headers=trainee)
    assert again.status_code == 409 and again.json["message"]


# ---------------------------------------------------------------- refusals write nothing


def _many_files(n):
    return [(PDF, f"f{i}.pdf") for i in range(n)]


REFUSALS = [
    # (name, coverage milestone?, setup, role, method, tail, kwargs, status, field)
    (
        "negative quantity",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "reported", "achieved_quantity": -1, "narrative": "x"}},
        422,
        "achieved_quantity",
    ),
    (
        "negative quantity in a form",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart({"status": "reported", "achieved_quantity": "-2", "narrative": "x"}),
        422,
        "achieved_quantity",
    ),
    (
        "quantity not a number in a form",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart({"status": "reported", "achieved_quantity": "banyak", "narrative": "x"}),
        422,
        "achieved_quantity",
    ),
    (
        "no narrative",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "reported", "achieved_quantity": 1}},
        422,
        "narrative",
    ),
    (
        "unknown status",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "done"}},
        422,
        "status",
    ),
    (
        "report dated in the future",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {
            "json": {
                "status": "reported",
                "achieved_quantity": 1,
                "narrative": "x",
                "report_date": "2026-05-01",
            }
        },
        422,
        "report_date",
    ),
    (
        "script renamed .pdf",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"},
            [(PDF, "ok.pdf"), (SCRIPT, "laporan.pdf")],
        ),
        422,
        "files",
    ),
    (
        "empty file",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"},
            [(b"", "kosong.pdf")],
        ),
        422,
        "files",
    ),
    (
        "file above the upload limit",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"},
            [(BIG_JPEG, "besar.jpg")],
        ),
        422,
        "files",
    ),
    (
        "eleven files",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"}, _many_files(11)
        ),
        422,
        "files",
    ),
    (
        "unit not in the list",
        True,
        None,
        "trainee",
        "post",
        "/coverage",
        {"json": {"unit": "Kota Bumi", "covered_on": "2026-04-14"}},
        422,
        "unit",
    ),
    (
        "unit covered already",
        True,
        _covered,
        "trainee",
        "post",
        "/coverage",
        {"json": {"unit": "Suoh", "covered_on": "2026-04-14"}},
        422,
        "unit",
    ),
    (
        "covered in the future",
        True,
        None,
        "trainee",
        "post",
        "/coverage",
        {"json": {"unit": "Sukau", "covered_on": "2026-04-16"}},
        422,
        "covered_on",
    ),
    (
        "two files for one unit",
        True,
        None,
        "trainee",
        "post",
        "/coverage",
        multipart({"unit": "Sukau", "covered_on": "2026-04-14"}, _many_files(2)),
        422,
        "files",
    ),
    (
        "uncover a unit not covered",
        True,
        None,
        "trainee",
        "delete",
        "/coverage/Sukau",
        {},
        422,
        "unit",
    ),
    (
        "cover a unit of a milestone without units",
        False,
        None,
        "trainee",
        "post",
        "/coverage",
        {"json": {"unit": "Sukau", "covered_on": "2026-04-14"}},
        409,
        None,
    ),
    ("return without a comment", False, _reported, "mentor", "post", "/return", {}, 422, "comment"),
    ("verify what is not reported", False, None, "mentor", "post", "/verify", {}, 409, None),
    (
        "the mentor reports",
        False,
        None,
        "mentor",
        "post",
        "/reports",
        {"json": {"status": "in_progress"}},
        403,
        None,
    ),
    ("the trainee verifies", False, _reported, "trainee", "post", "/verify", {}, 403, None),
    (
        "the coach returns",
        False,
        _reported,
        "coach",
        "post",
        "/return",
        {"json": {"comment": "x"}},
        403,
        None,
    ),
    (
        "the organizer covers",
        True,
        None,
        "organizer",
        "post",
        "/coverage",
        {"json": {"unit": "Sukau", "covered_on": "2026-04-14"}},
        403,
        None,
    ),
    (
        "a stranger reports",
        False,
        None,
        "stranger",
        "post",
        "/reports",
        {"json": {"status": "in_progress"}},
        404,
        None,
    ),
    (
        "stale version in the body",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "version": 1}},
        409,
        None,
    ),
    (
        "stale version in If-Match",
        False,
        _reported,
        "mentor",
        "post",
        "/verify",
        {"headers": {"If-Match": '"4"'}},
        409,
        None,
    ),
    (
        "versions that differ",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "version": 4}, "headers": {"If-Match": "5"}},
        400,
        None,
    ),
    (
        "not json",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"data": "status=reported", "content_type": "application/json"},
        400,
        None,
    ),
    ("empty body", False, None, "trainee", "post", "/reports", {}, 400, None),
    ("a list", False, None, "trainee", "post", "/reports", {"json": [1]}, 400, None),
    (
        "unknown key",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "mood": "good"}},
        400,
        None,
    ),
    (
        "status not a string",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": 1}},
        400,
        None,
    ),
    (
        "quantity as a boolean",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "achieved_quantity": True}},
        400,
        None,
    ),
    (
        "quantity beyond any float",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "achieved_quantity": 10**400}},
        400,
        None,
    ),
    (
        "version not a number",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "version": "4a"}},
        400,
        None,
    ),
    (
        "NUL in a narrative",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        {"json": {"status": "in_progress", "narrative": "a\u0000b"}},
        400,
        None,
    ),
    (
        "NUL in a form field",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart({"status": "in_progress", "narrative": "a\u0000b"}),
        400,
        None,
    ),
    (
        "unknown form field",
        False,
        None,
        "trainee",
        "post",
        "/reports",
        multipart({"status": "in_progress", "mood": "good"}),
        400,
        None,
    ),
    (
        "NUL in a comment",
        False,
        _reported,
        "mentor",
        "post",
        "/return",
        {"json": {"comment": "a\u0000b"}},
        400,
        None,
    ),
    (
        "comment not a string",
        False,
        _reported,
        "mentor",
        "post",
        "/verify",
        {"json": {"comment": 5}},
        400,
        None,
    ),
]


@pytest.mark.parametrize(
    ("coverage", "setup", "role", "method", "tail", "kwargs", "status", "field"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
@time_machine.travel(TODAY)
def test_refusals_write_nothing(
    app, client, started, coverage, setup, role, method, tail, kwargs, status, field
):
    app.config["MAX_UPLOAD_MB"] = 0.05  # 51 kB: BIG_JPEG is above it
    case = started.case
    m = add_coverage_milestone(case) if coverage else case.milestones[0]
    if setup:
        setup(started, m)
    kwargs = fresh(kwargs)
    headers = {**bearer(started.by_role(role)), **kwargs.pop("headers", {})}
    before = counts()
    response = getattr(client, method)(url(case, m, tail) + "?lang=en", headers=headers, **kwargs)
    assert response.status_code == status, response.json
    body = response.json
    assert body["message"]
    if field is not None:
        assert field in body["fields"], body
        assert body["fields"][field] in body["reasons"]
    assert counts() == before


def test_refusal_messages_follow_the_language(client, started):
    m = started.case.milestones[0]
    sent = {"status": "in_progress", "achieved_quantity": -1}
    english = client.post(
        url(started.case, m, "/reports"),
        json=sent,
        headers={**bearer(started.trainee), "Accept-Language": "en"},
    ).json
    assert english["fields"]["achieved_quantity"] == "Cannot be negative."
    indonesian = client.post(
        url(started.case, m, "/reports"), json=sent, headers=bearer(started.trainee)
    ).json
    with force_locale("id"):
        assert indonesian["fields"]["achieved_quantity"] == gettext("Cannot be negative.")
        assert indonesian["message"] == str(ms.INVALID)


@time_machine.travel(TODAY)
def test_request_above_the_size_limit_is_413_and_writes_nothing(app, client, started):
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    m = started.case.milestones[0]
    before = counts()
    response = client.post(
        url(started.case, m, "/reports"),
        headers=bearer(started.trainee),
        **multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"},
            [(BIG_JPEG, "besar.jpg")],
        ),
    )
    assert response.status_code == 413 and response.json["message"]
    assert counts() == before


@pytest.mark.parametrize(
    ("method", "tail", "kwargs"),
    [
        ("get", "", {}),
        ("post", "/reports", {"json": {"status": "in_progress"}}),
        ("post", "/coverage", {"json": {"unit": "Sukau", "covered_on": "2026-04-14"}}),
        ("delete", "/coverage/Sukau", {}),
        ("post", "/verify", {}),
        ("post", "/return", {"json": {"comment": "x"}}),
    ],
)
@time_machine.travel(TODAY)
def test_another_case_or_its_milestone_is_404(client, started, method, tail, kwargs):
    other = factories.World()
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(other)
    theirs = add_coverage_milestone(other.case)
    mine = started.case
    before = counts()
    attempts = [
        # Their milestone under my case; my case id with an unknown milestone; their case.
        (started.trainee, f"/api/v1/cases/{mine.id}/milestones/{theirs.id}{tail}"),
        (started.trainee, f"/api/v1/cases/{mine.id}/milestones/999999{tail}"),
        (started.trainee, f"/api/v1/cases/{other.case.id}/milestones/{theirs.id}{tail}"),
        (started.stranger, f"/api/v1/cases/{mine.id}/milestones/{mine.milestones[0].id}{tail}"),
    ]
    for user, path in attempts:
        response = getattr(client, method)(path, headers=bearer(user), **kwargs)
        assert response.status_code == 404, (path, response.json)
        assert response.json["message"]
    assert counts() == before
    listing = client.get(
        f"/api/v1/cases/{other.case.id}/milestones", headers=bearer(started.mentor)
    )
    assert listing.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/{case}/milestones",
        "/api/v1/cases/{case}/milestones/{m}",
        "/api/v1/cases/{case}/final-report",
    ],
)
def test_reads_need_a_token(client, started, path):
    response = client.get(path.format(case=started.case.id, m=started.case.milestones[0].id))
    assert response.status_code == 401 and response.json["message"]


def test_a_draft_case_takes_no_reports(client, world):
    m = world.case.milestones[0]
    before_version = world.case.version
    response = client.post(
        url(world.case, m, "/reports"),
        json={"status": "in_progress"},
        headers=bearer(world.trainee),
    )
    assert response.status_code == 409
    assert stored_version(world.case.id) == before_version


# ---------------------------------------------------------------- documents


@time_machine.travel(TODAY)
def test_documents_download_as_attachments_to_those_who_see_the_case(client, started):
    m = started.case.milestones[0]
    body = client.post(
        url(started.case, m, "/reports"),
        headers=bearer(started.trainee),
        **multipart(
            {"status": "reported", "achieved_quantity": "1", "narrative": "x"},
            [(JPEG, "foto.jpg"), (PDF, "pedoman.pdf")],
        ),
    ).json
    photo, pdf = body["documents"]
    for user in (started.trainee, started.mentor, started.coach, started.organizer):
        response = client.get(pdf["url"], headers=bearer(user))
        assert response.status_code == 200
        assert response.data == PDF
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert "pedoman.pdf" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
    auth = bearer(started.trainee)
    image = client.get(photo["url"], headers=auth)
    assert image.data == JPEG and image.mimetype == "image/jpeg"
    thumb = client.get(photo["thumbnail_url"], headers=auth)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(thumb.data)) as small:
        assert max(small.size) <= 320
    # No thumbnail of a PDF; nothing for a stranger, another case's trainee, or no token.
    assert client.get(f"{pdf['url']}/thumbnail", headers=auth).status_code == 404
    other = factories.World()
    for user in (started.stranger, other.trainee):
        for path in (pdf["url"], photo["thumbnail_url"]):
            response = client.get(path, headers=bearer(user))
            assert response.status_code == 404 and response.json["message"]
    assert client.get(pdf["url"]).status_code == 401
    assert client.get("/api/v1/documents/999999", headers=auth).status_code == 404


@time_machine.travel(TODAY)
def test_a_document_whose_file_is_gone_is_404(client, started):
    m = started.case.milestones[0]
    body = client.post(
        url(started.case, m, "/reports"),
        headers=bearer(started.trainee),
        **multipart({"status": "in_progress"}, [(PDF, "a.pdf")]),
    ).json
    (doc,) = body["documents"]
    from workflow.services import documents

    os.remove(documents.path_of(db.session.get(Document, doc["id"])))
    assert client.get(doc["url"], headers=bearer(started.trainee)).status_code == 404


# ---------------------------------------------------------------- final report


def fr_url(case) -> str:
    return f"/api/v1/cases/{case.id}/final-report"


@time_machine.travel(TODAY)
def test_final_report_read_and_saved_with_its_version(client, started):
    case, m = started.case, started.case.milestones[0]
    auth = bearer(started.trainee)
    empty = client.get(fr_url(case) + "?lang=en", headers=auth)
    assert empty.status_code == 200
    body = empty.json
    assert (body["version"], body["status"], body["editable"], body["can_edit"]) == (
        0,
        "empty",
        True,
        True,
    )
    assert empty.headers["ETag"] == '"0"'
    assert "The executive summary is empty." in body["missing"]
    assert [r["milestone_id"] for r in body["results"]] == [m.id]
    assert body["section_labels"]["executive_summary"] == "Executive summary"
    assert db.session.scalar(db.select(db.func.count(FinalReport.id))) == 0  # reads create none

    saved = client.patch(
        fr_url(case),
        json={
            "executive_summary": "Ringkasan.",
            "results": {str(m.id): "Pedoman tersusun."},
            "version": 0,
        },
        headers=auth,
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["version"] == 1 and saved.headers["ETag"] == '"1"'
    assert saved.json["executive_summary"] == "Ringkasan."
    assert saved.json["results"][0]["text"] == "Pedoman tersusun."
    assert saved.json["status"] == "draft"
    again = client.patch(
        fr_url(case), json={"lessons_learned": "Koordinasi."}, headers={**auth, "If-Match": '"1"'}
    )
    assert again.status_code == 200 and again.json["version"] == 2
    assert again.json["executive_summary"] == "Ringkasan."  # the rest stays

    mentor = client.get(fr_url(case), headers=bearer(started.mentor)).json
    assert mentor["can_edit"] is False and mentor["lessons_learned"] == "Koordinasi."


FINAL_REFUSALS = [
    # (name, role, body, headers, status, field)
    ("stale version", "trainee", {"executive_summary": "B", "version": 0}, {}, 409, None),
    ("no version", "trainee", {"executive_summary": "B"}, {}, 400, None),
    ("the mentor", "mentor", {"executive_summary": "B", "version": 1}, {}, 403, None),
    ("a stranger", "stranger", {"executive_summary": "B", "version": 1}, {}, 404, None),
    ("unknown key", "trainee", {"title": "B", "version": 1}, {}, 400, None),
    ("not an object", "trainee", [1], {}, 400, None),
    ("text not text", "trainee", {"implementation": 5, "version": 1}, {}, 422, "implementation"),
    (
        "unsafe video link",
        "trainee",
        {"video_link": "javascript:alert(1)", "version": 1},
        {},
        422,
        "video_link",
    ),
    (
        "unknown milestone",
        "trainee",
        {"results": {"999999": "x"}, "version": 1},
        {},
        422,
        "results.999999",
    ),
    ("too long", "trainee", {"executive_summary": "x" * 10001, "version": 1}, {}, 422, None),
    (
        "versions that differ",
        "trainee",
        {"executive_summary": "B", "version": 1},
        {"If-Match": "2"},
        400,
        None,
    ),
]


@pytest.mark.parametrize(
    ("role", "payload", "headers", "status", "field"),
    [r[1:] for r in FINAL_REFUSALS],
    ids=[r[0] for r in FINAL_REFUSALS],
)
@time_machine.travel(TODAY)
def test_final_report_refusals_write_nothing(
    client, started, role, payload, headers, status, field
):
    first = client.patch(
        fr_url(started.case),
        json={"executive_summary": "A", "version": 0},
        headers=bearer(started.trainee),
    )
    assert first.status_code == 200
    before = counts()
    response = client.patch(
        fr_url(started.case), json=payload, headers={**bearer(started.by_role(role)), **headers}
    )
    assert response.status_code == status, response.json
    assert response.json["message"]
    if field:
        assert field in response.json["fields"]
    assert counts() == before
    db.session.expire_all()
    assert started.case.final_report.executive_summary == "A"


def test_final_report_is_not_editable_before_implementation(client, world):
    body = client.get(fr_url(world.case), headers=bearer(world.trainee)).json
    assert body["editable"] is False and body["can_edit"] is False
    response = client.patch(
        fr_url(world.case),
        json={"executive_summary": "A", "version": 0},
        headers=bearer(world.trainee),
    )
    assert response.status_code == 409
    assert db.session.scalar(db.select(db.func.count(FinalReport.id))) == 0


# ---------------------------------------------------------------- the organizer's deadline


@time_machine.travel(TODAY)
def test_organizer_extends_the_deadline_through_the_actions_endpoint(client, started):
    case = started.case
    path = f"/api/v1/cases/{case.id}/actions/extend_deadline"
    detail = client.get(f"/api/v1/cases/{case.id}?lang=en", headers=bearer(started.organizer)).json
    action = next(a for a in detail["actions"] if a["trigger"] == "extend_deadline")
    assert action["comment_required"] is True and action["label"] == "Extend deadline"
    assert [(f["name"], f["type"], f["required"]) for f in action["fields"]] == [
        ("due_date", "date", True)
    ]
    trainee = client.get(f"/api/v1/cases/{case.id}", headers=bearer(started.trainee)).json
    assert "extend_deadline" not in {a["trigger"] for a in trainee["actions"]}

    before = counts()
    refusals = [
        (started.organizer, {"data": {"due_date": "2026-06-19"}}, 422, "comment"),
        (started.organizer, {"comment": "Sakit.", "data": {}}, 422, "due_date"),
        (
            started.organizer,
            {"comment": "Sakit.", "data": {"due_date": "2026-04-01"}},
            422,
            "due_date",
        ),
        (started.trainee, {"comment": "Sakit.", "data": {"due_date": "2026-06-19"}}, 403, None),
    ]
    for user, payload, status, field in refusals:
        response = client.post(path, json=payload, headers=bearer(user))
        assert response.status_code == status, response.json
        if field:
            assert field in response.json["fields"]
    assert counts() == before

    response = client.post(
        path,
        json={"comment": "Peserta sakit.", "data": {"due_date": "2026-06-19"}},
        headers={**bearer(started.organizer), "If-Match": f'"{stored_version(case.id)}"'},
    )
    assert response.status_code == 200, response.json
    assert response.json["due_date"] == "2026-06-19" and response.json["state"] == "implementation"
    last = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.trigger, last.comment) == ("extend_deadline", "Peserta sakit.")
    assert last.data["previous_due_date"] == "2026-06-05"


@time_machine.travel(TODAY)
def test_the_actions_endpoint_refuses_a_number_no_float_holds(client, started):
    m = started.case.milestones[0]
    before = counts()
    response = client.post(
        f"/api/v1/cases/{started.case.id}/actions/report_progress",
        json={
            "data": {"milestone_id": m.id, "status": "in_progress", "achieved_quantity": 10**400}
        },
        headers=bearer(started.trainee),
    )
    assert response.status_code == 400 and response.json["message"]
    assert counts() == before


# ---------------------------------------------------------------- garbage uploads


@given(
    files=st.lists(
        st.tuples(
            st.sampled_from([PDF, JPEG, SCRIPT, b"", b"%PDF-1.4 no end", b"PK\x03\x04junk"])
            | st.binary(max_size=300),
            st.text(max_size=20),
        ),
        max_size=3,
    ),
    # Mostly valid fields, so the files decide more often than the fields do.
    status=st.sampled_from(["in_progress"] * 4 + ["reported", "not_achieved", "", "selesai"]),
    quantity=st.sampled_from(["", "", "1", "1,5", "-1", "1e999", "nan", "x"]),
    narrative=st.text(max_size=30),
)
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_upload_is_stored_whole_or_refused_with_nothing_written(
    client, started, files, status, quantity, narrative
):
    m = started.case.milestones[0]
    if m.status == "verified":
        return
    before = counts()
    fields = {"status": status, "achieved_quantity": quantity, "narrative": narrative}
    response = client.post(
        url(started.case, m, "/reports"),
        headers=bearer(started.trainee),
        **multipart(fields, files),
    )
    assert response.status_code in (201, 400, 409, 422), response.data
    outcome(str(response.status_code))  # --hypothesis-show-statistics shows the spread
    assert response.is_json and (response.status_code == 201 or response.json["message"])
    if response.status_code != 201:
        assert counts() == before
    # Every stored file has its row and every row its file(s): nothing half-written.
    stored = set()
    for d in db.session.scalars(db.select(Document)):
        stored |= {d.stored_name} | ({d.thumb_name} if d.thumb_name else set())
    assert set(files_on_disk()) == stored


# ---------------------------------------------------------------- schemathesis


# The schema tests in test_api_schema.py run against a draft case, where every change is
# refused by state. Here the same generated input meets a case in implementation, with a
# coverage milestone and stored evidence, so it reaches the activities and the uploads.
TOKEN = "schemathesis-implementation-token"
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "413", "422", "429", "5xx"]
implementation_schema = schemathesis.openapi.from_dict(
    openapi.spec(),
    config=SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}}
    ),
).include(path_regex=r"/(milestones|documents|final-report)")


@implementation_schema.auth()
class BearerToken:
    def get(self, case, ctx):
        return TOKEN

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def implementation_user(started):
    # Milestone 1 is the world's; 2 covers units; document 1 is a photo with its thumbnail.
    m = started.case.milestones[0]
    assert (started.case.id, m.id) == (1, 1)
    add_coverage_milestone(started.case)
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "in_progress"},
        files=[_upload(JPEG, "foto.jpg")],
    )
    started.trainee.add_api_token_hash(hash_token(TOKEN))
    db.session.commit()
    return started.trainee


def test_generated_calls_cover_the_implementation_operations():
    ids = {
        op.ok().definition.raw["operationId"] for op in implementation_schema.get_all_operations()
    }
    assert ids == {
        "listMilestones",
        "getMilestone",
        "reportProgress",
        "coverUnit",
        "uncoverUnit",
        "verifyMilestone",
        "returnMilestone",
        "getFinalReport",
        "patchFinalReport",
        "getDocument",
        "getDocumentThumbnail",
    }


@implementation_schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_implementation_api_conforms_under_generated_input(case, app, implementation_user):
    case.operation.schema.app = app
    case.call_and_validate(app=app)
