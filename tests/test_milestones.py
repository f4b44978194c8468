"""Progress reports, coverage, evidence and verification: activities through perform()."""

from __future__ import annotations

import io
from datetime import date

import pytest
import time_machine
from flask_babel import force_locale
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
    assert m.achieved_quantity == 3 and m.status == "in_progress"
    with force_locale("en"):
        assert ms.progress_text(m) == "3 of 4 kecamatan — remaining: Sukau"
    # A unit not in the list, or one covered already: refused, nothing written.
    before = counts()
    for unit, message in (("Kota Bumi", "not one of"), ("Suoh", "covered already")):
        with pytest.raises(Blocked) as err, force_locale("en"):
            perform(
                started.case,
                "cover_unit",
                started.trainee,
                data={"milestone_id": m.id, "unit": unit, "covered_on": "2026-04-14"},
            )
        with force_locale("en"):
            assert message in str(err.value.fields["unit"])
        db.session.rollback()
    assert counts() == before
    perform(
        started.case, "uncover_unit", started.trainee, data={"milestone_id": m.id, "unit": "Suoh"}
    )
    assert sorted(m.remaining_units) == ["Sukau", "Suoh"] and m.achieved_quantity == 2
    # Reporting counts the covered units, whatever quantity was typed.
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={
            "milestone_id": m.id,
            "status": "reported",
            "achieved_quantity": "40",
            "narrative": "x",
        },
    )
    assert m.reports[-1].achieved_quantity == 2


@time_machine.travel(TODAY)
def test_return_then_fix_then_close_as_not_achieved(started):
    m = started.case.milestones[0]
    report = {
        "milestone_id": m.id,
        "status": "reported",
        "achieved_quantity": "2",
        "narrative": "x",
    }
    perform(started.case, "report_progress", started.trainee, data=report)
    with force_locale("en"):
        assert "above target" in ms.progress_text(m)  # 2 of 1: "melampaui", allowed
    event = perform(
        started.case,
        "return_milestone",
        started.mentor,
        comment="Lampirkan berita acara.",
        data={"milestone_id": m.id},
    )
    assert (event.from_state, event.to_state) == ("implementation", "implementation")
    assert m.status == "returned" and m.return_comment == "Lampirkan berita acara."
    assert ms.returned_milestones(started.case) == [m]
    assert m.due_date == date(2026, 4, 22)  # 5 working days to fix
    assert m.reports[-1].decision == "returned"
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "not_achieved", "narrative": "Anggaran ditunda."},
    )
    assert m.is_closed and m.return_comment == "" and ms.next_due(m) is None
    assert [r.number for r in m.reports] == [1, 2]  # the history stays
    # A verified milestone takes no more reports.
    m.status = "verified"
    db.session.commit()
    with pytest.raises(NotAvailable):
        perform(started.case, "report_progress", started.trainee, data=report)


@time_machine.travel(TODAY)
def test_the_mentor_is_notified_of_a_report_but_not_of_progress(started):
    from workflow.models import Notification

    m = started.case.milestones[0]

    def notes():
        return db.session.scalar(
            db.select(db.func.count(Notification.id)).where(
                Notification.user_id == started.mentor.id
            )
        )

    before = notes()
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "in_progress", "narrative": ""},
    )
    assert notes() == before
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "reported", "achieved_quantity": 1, "narrative": "x"},
    )
    assert notes() == before + 1


@time_machine.travel(TODAY)
def test_an_acting_mentor_verifies_on_behalf(started):
    from workflow.models import Delegation

    m = started.case.milestones[0]
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "reported", "achieved_quantity": 1, "narrative": "x"},
    )
    db.session.add(
        Delegation(
            principal_id=started.mentor.id,
            delegate_id=started.stranger.id,
            role="mentor",
            kind="plh",
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 4, 30),
            created_by_id=started.mentor.id,
        )
    )
    db.session.commit()
    event = perform(started.case, "verify_milestone", started.stranger, data={"milestone_id": m.id})
    assert event.on_behalf_of_id == started.mentor.id and m.status == "verified"


@time_machine.travel(TODAY)
def test_a_stale_version_is_a_conflict_and_writes_nothing(started):
    from workflow.services import Conflict

    m = started.case.milestones[0]
    version = started.case.version
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "in_progress"},
        expected_version=version,
    )
    before = counts()
    with pytest.raises(Conflict):
        perform(
            started.case,
            "report_progress",
            started.trainee,
            data={"milestone_id": m.id, "status": "in_progress"},
            expected_version=version,
        )
    assert counts() == before


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
