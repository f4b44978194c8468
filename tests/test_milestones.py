"""Progress reports, coverage, evidence and verification: activities through perform()."""

from __future__ import annotations

import io
from datetime import date

import pytest
import time_machine
from PIL import Image
from werkzeug.datastructures import FileStorage

from tests.factories import add_coverage_milestone, to_implementation
from workflow.extensions import db
from workflow.models import AuditEvent, Document, MilestoneReport, UnitCoverage
from workflow.services import Blocked, Forbidden, Missing, NotAvailable, perform
from workflow.services import milestones as ms

# Wednesday 15 April 2026, inside the implementation window.
TODAY = "2026-04-15 03:00"


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def started(world, tmp_path, app):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    return world


def counts() -> tuple:
    return (
        db.session.scalar(db.select(db.func.count(AuditEvent.id))),
        db.session.scalar(db.select(db.func.count(MilestoneReport.id))),
        db.session.scalar(db.select(db.func.count(UnitCoverage.id))),
        db.session.scalar(db.select(db.func.count(Document.id))),
    )


def files_in(app) -> list:
    import os

    folder = app.config["UPLOAD_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@time_machine.travel(TODAY)
def test_report_then_verify(started, app):
    m = started.case.milestones[0]
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={
            "milestone_id": m.id,
            "status": "reported",
            "achieved_quantity": "1",
            "narrative": "Pedoman selesai disusun.",
        },
        files=[upload(jpeg_bytes(), "foto.jpg"), upload(PDF, "pedoman.pdf")],
    )
    assert m.status == "reported"
    assert m.due_date == date(2026, 4, 20)  # 3 working days after Wed 15 April
    report = m.reports[-1]
    assert [d.content_type for d in report.documents] == ["image/jpeg", "application/pdf"]
    assert report.documents[0].thumb_name
    assert len(files_in(app)) == 3  # two files and a thumbnail
    perform(started.case, "verify_milestone", started.mentor, data={"milestone_id": m.id})
    assert m.status == "verified" and m.due_date is None
    assert m.reports[-1].decision == "verified"
    assert m.reports[-1].decision_event_id is not None


@time_machine.travel(TODAY)
def test_coverage_reads_remaining(started):
    m = add_coverage_milestone(started.case)
    for unit in ("Balik Bukit", "Lumbok Seminung", "Suoh"):
        perform(
            started.case,
            "cover_unit",
            started.trainee,
            data={"milestone_id": m.id, "unit": unit, "covered_on": "2026-04-14"},
        )
    assert m.achieved_quantity == 3
    assert ms.progress_text(
        m
    ) == "3 dari 4 kecamatan — tersisa: Sukau" or "Sukau" in ms.progress_text(m)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"status": "reported", "achieved_quantity": "-1", "narrative": "x"}, "achieved_quantity"),
        ({"status": "reported", "achieved_quantity": "1", "narrative": ""}, "narrative"),
        ({"status": "done"}, "status"),
        ({"status": "not_achieved", "narrative": ""}, "narrative"),
        (
            {
                "status": "reported",
                "achieved_quantity": "1",
                "narrative": "x",
                "report_date": "2026-05-01",
            },
            "report_date",
        ),
    ],
)
@time_machine.travel(TODAY)
def test_bad_report_writes_nothing(started, app, data, field):
    m = started.case.milestones[0]
    before, version = counts(), started.case.version
    with pytest.raises(Blocked) as err:
        perform(
            started.case, "report_progress", started.trainee, data={"milestone_id": m.id, **data}
        )
    assert field in err.value.fields
    db.session.rollback()
    assert counts() == before and started.case.version == version
    assert m.status == "planned"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"#!/bin/sh\nrm -rf /\n", "skrip.pdf"),
        (b"", "kosong.pdf"),
        (PDF, "../../etc/passwd.pdf"),
        (PDF, "bad\x07name.pdf"),
    ],
)
@time_machine.travel(TODAY)
def test_bad_upload_stores_nothing(started, app, data, name):
    m = started.case.milestones[0]
    before = counts()
    with pytest.raises(Blocked) as err:
        perform(
            started.case,
            "report_progress",
            started.trainee,
            data={
                "milestone_id": m.id,
                "status": "reported",
                "achieved_quantity": 1,
                "narrative": "x",
            },
            files=[upload(PDF, "ok.pdf"), upload(data, name)],
        )
    assert "files" in err.value.fields
    db.session.rollback()
    assert counts() == before and files_in(app) == []


@time_machine.travel(TODAY)
def test_refusals(started, world):
    m = started.case.milestones[0]
    with pytest.raises(Forbidden):
        perform(started.case, "verify_milestone", started.coach, data={"milestone_id": m.id})
    with pytest.raises(NotAvailable):
        perform(started.case, "verify_milestone", started.mentor, data={"milestone_id": m.id})
    with pytest.raises(Missing):
        perform(started.case, "report_progress", started.trainee, data={"milestone_id": 99999})
    with pytest.raises(Blocked):
        perform(started.case, "return_milestone", started.mentor, data={"milestone_id": m.id})
