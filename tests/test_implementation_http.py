"""The implementation phase over HTTP: milestone cards, reports with evidence, coverage,
the mentor's verification, the returned banner, the mentor's queue, and every refusal
writing nothing (rows counted, upload folder listed)."""

from __future__ import annotations

import io
import os
from datetime import date
from html import unescape

import pytest
import time_machine
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from tests import factories
from tests.factories import add_coverage_milestone, to_implementation
from tests.test_http_helpers import act, check_markup, english, login, page_token, triggers_in
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import AuditEvent, Delegation, Document, MilestoneReport, UnitCoverage
from workflow.services import perform, start_case

# Wednesday 15 April 2026, inside the implementation window (Asia/Makassar).
TODAY = "2026-04-15 03:00"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def jpeg_bytes(size=(1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def started(world, tmp_path, app):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    return world


@pytest.fixture
def traveller():
    with time_machine.travel(TODAY):
        yield


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def counts() -> tuple:
    return tuple(
        db.session.scalar(select(func.count(model.id)))
        for model in (AuditEvent, MilestoneReport, UnitCoverage, Document)
    )


def files_in(app) -> list:
    folder = app.config["UPLOAD_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def url_of(case, m, action: str) -> str:
    return f"/cases/{case.id}/milestones/{m.id}/{action}"


def post(client, case, m, action, data=None, files=(), *, htmx=False, version=None, token=None):
    """POST a card's form as the browser would (multipart), with the page's CSRF token."""
    token = token or page_token(client, f"/cases/{case.id}")
    db.session.refresh(case)
    form = {"version": str(case.version if version is None else version), **(data or {})}
    if files:
        form["files"] = [(io.BytesIO(body), name) for body, name in files]
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    if not htmx:
        form["csrf_token"] = token
    return client.post(
        url_of(case, m, action), data=form, headers=headers, content_type="multipart/form-data"
    )


def raw_post(client, case, m, action, fields: dict, files: list, token: str):
    """A multipart body written by hand, so a file name arrives exactly as given (a browser
    never sends a path or a control character; a crafted request may)."""
    boundary = "----aksi-test-boundary"
    parts = []
    for name, value in {**fields, "csrf_token": token}.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode()
            + b"\r\n"
        )
    for filename, body in files:
        parts.append(
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="'
            + filename
            + b'"\r\nContent-Type: application/pdf\r\n\r\n'
            + body
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        url_of(case, m, action),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


REPORT = {"status": "reported", "achieved_quantity": "1", "narrative": "Pedoman selesai disusun."}


def report(world, m, **data):
    perform(
        world.case, "report_progress", world.trainee, data={"milestone_id": m.id, **REPORT, **data}
    )


# ---------------------------------------------------------------- reporting with evidence


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_trainee_reports_with_an_image_and_a_pdf(client, started, app, traveller, htmx):
    english(client)
    login(client, started.trainee)
    case, m = started.case, started.case.milestones[0]
    response = post(
        client,
        case,
        m,
        "report",
        REPORT,
        files=[(jpeg_bytes(), "foto kegiatan.jpg"), (PDF, "pedoman.pdf")],
        htmx=htmx,
    )
    if htmx:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        check_markup(html)
        assert html.lstrip().startswith(f'<article id="milestone-{m.id}"')
        assert "Report sent. Your mentor has been asked to verify it." in html
        # The parts that sum the milestones up come along, out of band.
        assert (
            'id="case-status" class="status card" aria-labelledby="status-title" hx-swap-oob="true"'
            in html
        )
        assert 'id="milestones-summary"' in html and 'id="returned-banner"' in html
    else:
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/cases/{case.id}#milestone-{m.id}")
        html = client.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "Report sent. Your mentor has been asked to verify it." in html
    assert m.status == "reported"
    docs = m.reports[-1].documents
    assert [d.original_name for d in docs] == ["foto kegiatan.jpg", "pedoman.pdf"]
    image, pdf = docs
    assert f"/cases/{case.id}/evidence/{image.id}/thumbnail" in html
    assert f'href="/documents/{pdf.id}"' in html and "pedoman.pdf" in html

    thumb = client.get(f"/cases/{case.id}/evidence/{image.id}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.mimetype == "image/jpeg"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert thumb.headers["Content-Disposition"] == "inline"
    assert thumb.headers["Cache-Control"].startswith("private")
    small = Image.open(io.BytesIO(thumb.data))
    assert small.format == "JPEG" and max(small.size) <= 320  # ours, not the upload
    # No thumbnail for a PDF; the full files download as attachments.
    assert client.get(f"/cases/{case.id}/evidence/{pdf.id}/thumbnail").status_code == 404
    for doc in docs:
        download = client.get(f"/documents/{doc.id}")
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_case_page_shows_the_card_and_forms_to_the_trainee(client, started, traveller):
    english(client)
    login(client, started.trainee)
    case, m = started.case, started.case.milestones[0]
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    check_markup(html)
    assert f'id="milestone-{m.id}"' in html
    assert "0 of 1 short-term milestones closed" in html
    assert f'action="{url_of(case, m, "report")}"' in html
    assert 'enctype="multipart/form-data"' in html and 'hx-encoding="multipart/form-data"' in html
    assert 'type="file" name="files"' in html and "multiple" in html
    assert 'accept="image/jpeg,image/png,application/pdf' in html
    assert "At most 10 MB per file, 10 files at once." in html
    assert f'value="{date(2026, 4, 15).isoformat()}"' in html  # the report date: today
    assert "1 Apr 2026" in html and "Overdue" in html  # target date passed, the trainee's turn
    assert "Turn of Trainee".lower() in html.lower()
    assert "/static/js/implementation.js" in html
    # "What you can do" points at the late milestone.
    status = html.split('id="case-status"')[1].split("</section>")[0]
    assert f'href="#milestone-{m.id}">Milestones past their due date: 1.' in status
    # Nothing for the mentor to decide yet.
    assert url_of(case, m, "verify") not in html
    login(client, started.mentor)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert url_of(case, m, "report") not in html and url_of(case, m, "verify") not in html


# ---------------------------------------------------------------- coverage


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_coverage_mark_with_evidence_then_undo(client, started, app, traveller, htmx):
    english(client)
    case = started.case
    m = add_coverage_milestone(case)
    login(client, started.trainee)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "0 of 4 kecamatan — remaining: Balik Bukit, Sukau, Lumbok Seminung, Suoh" in html
    assert html.count(f'action="{url_of(case, m, "cover")}"') == 4  # one form per unit

    response = post(
        client,
        case,
        m,
        "cover",
        {"unit": "Sukau", "covered_on": "2026-04-14", "note": "Rapat di aula kecamatan."},
        files=[(jpeg_bytes(), "aula.jpg")],
        htmx=htmx,
    )
    assert response.status_code == (200 if htmx else 302)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    check_markup(html)
    assert "1 of 4 kecamatan — remaining: Balik Bukit, Lumbok Seminung, Suoh" in html
    assert "Rapat di aula kecamatan." in html
    coverage = m.coverages[0]
    assert coverage.unit == "Sukau" and coverage.covered_on == date(2026, 4, 14)
    assert f"/cases/{case.id}/evidence/{coverage.document.id}/thumbnail" in html
    assert html.count(f'action="{url_of(case, m, "cover")}"') == 3
    assert f'action="{url_of(case, m, "uncover")}"' in html
    # The report form counts the units instead of asking for a quantity.
    card = html.split(f'id="milestone-{m.id}"')[1].split("</article>")[0]
    assert 'name="achieved_quantity"' not in card
    assert "counted from the units marked covered: 1 of 4" in card

    response = post(client, case, m, "uncover", {"unit": "Sukau"}, htmx=htmx)
    assert response.status_code == (200 if htmx else 302)
    assert m.coverages == [] and m.achieved_quantity == 0
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "0 of 4 kecamatan" in html
    # The file of an undone unit stays with the milestone, in its history.
    assert "Other evidence of this milestone" in html


# ---------------------------------------------------------------- the mentor decides


def test_mentor_verifies_with_htmx(client, started, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    report(started, m)
    login(client, started.trainee)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "past their due date" not in html  # the mentor's turn now
    login(client, started.mentor)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f'action="{url_of(case, m, "verify")}"' in html
    assert f'action="{url_of(case, m, "return")}"' in html
    assert "Milestones awaiting your verification: 1." in html  # in "What you can do"
    response = post(client, case, m, "verify", {"comment": "Bagus."}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The milestone is verified." in html
    assert "1 of 1 short-term milestones closed" in html
    assert m.status == "verified" and m.reports[-1].decision_comment == "Bagus."
    assert url_of(case, m, "verify") not in html  # nothing left to decide


def test_return_needs_a_comment_and_then_shows_on_top_for_the_trainee(client, started, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    report(started, m)
    login(client, started.mentor)
    before, version = counts(), case.version
    refused = post(client, case, m, "return", {"comment": "  "}, htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "A comment is required for this action." in html
    assert 'aria-invalid="true"' in html
    assert counts() == before and case.version == version and m.status == "reported"
    # Without JavaScript: the whole page, same status, the message beside the field.
    refused = post(client, case, m, "return", {"comment": ""})
    assert refused.status_code == 422
    assert "A comment is required for this action." in refused.get_data(as_text=True)
    assert counts() == before

    done = post(client, case, m, "return", {"comment": "Lampirkan berita acara."})
    assert done.status_code == 302
    assert m.status == "returned" and m.return_comment == "Lampirkan berita acara."

    login(client, started.trainee)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    banner = html.split('id="returned-banner"')[1].split('<header class="case-head">')[0]
    assert "Returned by your mentor" in banner
    assert "Lampirkan berita acara." in banner
    assert f'href="#milestone-{m.id}"' in banner
    assert f"Returned by {started.mentor.name}" in banner
    assert "22 Apr 2026" in banner  # five working days to fix
    # The report form opens by itself, with the last narrative to build on.
    card = html.split(f'id="milestone-{m.id}"')[1].split("</article>")[0]
    assert "Fix and report again" in card and '<details class="ms-form ms-report" open>' in card
    assert "Pedoman selesai disusun.</textarea>" in card

    home = client.get("/").get_data(as_text=True)
    check_markup(home)
    assert "Returned by your mentor" in home and "Lampirkan berita acara." in home
    assert f'href="/cases/{case.id}#milestone-{m.id}"' in home

    # Reported again: the banner is gone.
    post(client, case, m, "report", REPORT, htmx=True)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Returned by your mentor" not in html
    assert "Returned by your mentor" not in client.get("/").get_data(as_text=True)


def test_return_is_offered_on_a_milestone_closed_as_not_achieved(client, started, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    report(started, m, status="not_achieved", narrative="Anggaran ditunda.")
    login(client, started.mentor)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert url_of(case, m, "return") in html and url_of(case, m, "verify") not in html
    assert "Anggaran ditunda." in html


@pytest.mark.parametrize("role", ["coach", "trainee", "organizer", "examiner"])
def test_only_the_mentor_decides(client, started, traveller, role):
    case, m = started.case, started.case.milestones[0]
    report(started, m)
    login(client, started.by_role(role))
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert url_of(case, m, "verify") not in html
    before, version = counts(), case.version
    for action, comment in (("verify", ""), ("return", "Tidak sesuai.")):
        for htmx in (True, False):
            response = post(client, case, m, action, {"comment": comment}, htmx=htmx)
            assert response.status_code == 403, (action, htmx)
    assert counts() == before and case.version == version and m.status == "reported"


def test_acting_mentor_sees_the_queue_and_verifies_on_behalf(client, started, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    report(started, m)
    acting = factories.create_user(name="Plh. Kepala Bidang")
    db.session.add(
        Delegation(
            principal_id=started.mentor.id,
            delegate_id=acting.id,
            role="mentor",
            kind="plh",
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 4, 30),
            created_by_id=started.organizer.id,
        )
    )
    db.session.commit()
    login(client, acting)
    queue = client.get("/mentor").get_data(as_text=True)
    assert f'href="/cases/{case.id}#milestone-{m.id}"' in queue
    assert post(client, case, m, "verify", {}, htmx=True).status_code == 200
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.trigger == "verify_milestone")
    ).one()
    assert event.actor_id == acting.id and event.on_behalf_of_id == started.mentor.id


# ---------------------------------------------------------------- bad input writes nothing

SCRIPT = b"#!/bin/sh\nrm -rf /\n"
NARRATIVE = "Sudah dilaksanakan bersama tim efektif."


@pytest.mark.parametrize(
    ("case_name", "action", "data", "files", "status", "field", "message"),
    [
        (
            "oversized",
            "report",
            {},
            [(PDF + b"x" * 4000, "besar.pdf")],
            422,
            "files",
            "The file is too large (at most 0.001 MB).",
        ),
        (
            "script as pdf",
            "report",
            {},
            [(SCRIPT, "laporan.pdf")],
            422,
            "files",
            "is not a PDF, JPEG/PNG photo or Office document",
        ),
        ("empty file", "report", {}, [(b"", "kosong.pdf")], 422, "files", "The file is empty."),
        (
            "negative quantity",
            "report",
            # (With status "reported" milestones.py overwrites this message; see report.)
            {"status": "in_progress", "achieved_quantity": "-3"},
            [],
            422,
            "achieved_quantity",
            "Cannot be negative.",
        ),
        (
            "no narrative",
            "report",
            {"narrative": ""},
            [],
            422,
            "narrative",
            "Describe what was done.",
        ),
        (
            "future date",
            "report",
            {"report_date": "2026-05-01"},
            [],
            422,
            "report_date",
            "The date cannot be in the future.",
        ),
        ("no status", "report", {"status": ""}, [], 422, "status", "Choose a status."),
        (
            "unit not in the list",
            "cover",
            {"unit": "Kota Bumi", "covered_on": "2026-04-14"},
            [],
            422,
            "unit",
            "“Kota Bumi” is not one of this milestone's units.",
        ),
        (
            "two files for one unit",
            "cover",
            {"unit": "Suoh", "covered_on": "2026-04-14"},
            [(PDF, "a.pdf"), (PDF, "b.pdf")],
            422,
            "files",
            "One evidence file per unit.",
        ),
        (
            "unit not covered",
            "uncover",
            {"unit": "Suoh"},
            [],
            422,
            "unit",
            "“Suoh” is not marked covered.",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_bad_input_is_refused_beside_the_field_and_writes_nothing(
    client, started, app, traveller, htmx, case_name, action, data, files, status, field, message
):
    app.config["MAX_UPLOAD_MB"] = 0.001  # about 1 KB
    english(client)
    case = started.case
    m = add_coverage_milestone(case) if action in ("cover", "uncover") else case.milestones[0]
    login(client, started.trainee)
    before, version, on_disk = counts(), case.version, files_in(app)
    form = {**REPORT, "narrative": NARRATIVE, **data} if action == "report" else data
    response = post(client, case, m, action, form, files=files, htmx=htmx)
    assert response.status_code == status, case_name
    html = response.get_data(as_text=True)
    assert message in unescape(html)
    assert 'class="field-error"' in html
    assert counts() == before and case.version == version and files_in(app) == on_disk
    if action == "report":
        # What was typed stays; files cannot, and the user is told so.
        if field != "narrative":
            assert f"{NARRATIVE}</textarea>" in html
        if files:
            assert "Choose your files again" in html
        # The refused form is open, its fields marked.
        assert f'id="ms{m.id}-report-{field}' in html
        assert f'aria-describedby="ms{m.id}-report-{field}-error"' in html or field == "status"
    if htmx:
        assert html.lstrip().startswith(f'<article id="milestone-{m.id}"')
    else:
        assert html.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize(
    "filename",
    # On the wire a quoted backslash is written twice; it arrives as one.
    [b"../../etc/passwd.pdf", rb"..\\..\\boot.pdf", b"bukti\x07.pdf", b"bukti\x1b[31m.pdf"],
    ids=["dot-dot-slash", "backslash", "bell", "escape"],
)
def test_crafted_file_names_are_refused(client, started, app, traveller, filename):
    english(client)
    case, m = started.case, started.case.milestones[0]
    login(client, started.trainee)
    token = page_token(client, f"/cases/{case.id}")
    before, on_disk = counts(), files_in(app)
    fields = {"version": case.version, **REPORT}
    response = raw_post(
        client, case, m, "report", fields, [(b"ok.pdf", PDF), (filename, PDF)], token
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The file name is not acceptable. Rename the file and try again." in html
    assert counts() == before and files_in(app) == on_disk
    assert m.status == "planned"


def test_messages_are_indonesian_by_default(client, started, app, traveller):
    app.config["MAX_UPLOAD_MB"] = 0.001
    case, m = started.case, started.case.milestones[0]
    login(client, started.trainee)
    response = post(client, case, m, "report", REPORT, files=[(PDF + b"x" * 4000, "besar.pdf")])
    assert response.status_code == 422
    assert "Berkas terlalu besar (paling besar 0.001 MB)." in response.get_data(as_text=True)


def test_a_request_too_large_to_read_is_answered_on_the_card(client, started, app, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    login(client, started.trainee)
    token = page_token(client, f"/cases/{case.id}")
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    before, on_disk = counts(), files_in(app)
    for htmx in (True, False):
        response = post(
            client,
            case,
            m,
            "report",
            REPORT,
            files=[(PDF + b"x" * 30_000, "besar.pdf")],
            htmx=htmx,
            token=token,
        )
        assert response.status_code == 413
        html = response.get_data(as_text=True)
        assert "The files together are too large to send at once" in html
        assert f'id="milestone-{m.id}"' in html
    # Someone who may not see the case learns nothing of it, too large or not.
    login(client, started.stranger)
    token = page_token(client, "/")
    response = post(
        client, case, m, "report", REPORT, files=[(PDF + b"x" * 30_000, "a.pdf")], token=token
    )
    assert response.status_code == 404
    assert counts() == before and files_in(app) == on_disk


def test_a_stale_version_is_a_conflict_showing_the_current_state(client, started, traveller):
    english(client)
    case, m = started.case, started.case.milestones[0]
    login(client, started.trainee)
    stale = case.version
    perform(
        case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, "status": "in_progress"},
    )
    before = counts()
    response = post(client, case, m, "report", REPORT, htmx=True, version=stale)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else changed this case meanwhile." in html
    assert "In progress" in html  # the current state
    assert f'name="version" value="{case.version}"' in html
    assert f"{REPORT['narrative']}</textarea>" in html  # what was typed stays
    assert counts() == before


def test_missing_version_or_unknown_action(client, started, traveller):
    case, m = started.case, started.case.milestones[0]
    login(client, started.trainee)
    token = page_token(client, f"/cases/{case.id}")
    no_version = client.post(url_of(case, m, "report"), data={**REPORT, "csrf_token": token})
    assert no_version.status_code == 400
    unknown = client.post(
        url_of(case, m, "delete"), data={"version": case.version, "csrf_token": token}
    )
    assert unknown.status_code == 404
    without_token = client.post(url_of(case, m, "report"), data={**REPORT, "version": case.version})
    assert without_token.status_code == 400
    assert counts()[1] == 0


# ---------------------------------------------------------------- scope: another's is a 404


def test_another_persons_milestone_or_case_is_404(client, started, app, traveller):
    other = factories.World()
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(other)
    case, m = started.case, started.case.milestones[0]
    foreign = other.case.milestones[0]
    report(other, foreign)
    perform(
        other.case,
        "report_progress",
        other.trainee,
        data={"milestone_id": foreign.id, "status": "in_progress"},
        files=[upload(jpeg_bytes(), "x.jpg")],
    )
    image = foreign.reports[-1].documents[0]
    login(client, started.trainee)
    token = page_token(client, f"/cases/{case.id}")
    before, on_disk = counts(), files_in(app)
    # A milestone of another case through one's own case, and the other case itself.
    for path_case, milestone in ((case, foreign), (other.case, foreign)):
        for htmx in (True, False):
            response = post(client, path_case, milestone, "report", REPORT, htmx=htmx, token=token)
            assert response.status_code == 404
    assert client.get(f"/cases/{other.case.id}").status_code == 404
    assert client.get(f"/cases/{case.id}/evidence/{image.id}/thumbnail").status_code == 404
    assert client.get(f"/cases/{other.case.id}/evidence/{image.id}/thumbnail").status_code == 404
    assert client.get(f"/documents/{image.id}").status_code == 404
    # A stranger sees nothing of the world's case.
    login(client, started.stranger)
    assert client.get(f"/cases/{case.id}").status_code == 404
    token = page_token(client, "/")
    assert post(client, case, m, "report", REPORT, token=token).status_code == 404
    assert counts() == before and files_in(app) == on_disk
    assert foreign.status == "in_progress" and m.status == "planned"


def test_pages_need_login(client, started):
    m = started.case.milestones[0]
    response = client.get(f"/cases/{started.case.id}/evidence/1/thumbnail")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(url_of(started.case, m, "report"), data={})
    assert response.status_code in (302, 400)


# ---------------------------------------------------------------- queues and home


def reported_cases(world, n: int, *, mentor=None) -> list:
    """n more cases in implementation, each with a milestone reported to the mentor."""
    cases = []
    for _ in range(n):
        trainee = factories.create_user()
        case = start_case(
            world.cohort,
            trainee,
            group=world.group,
            mentor=mentor or world.mentor,
            executive=world.executive,
        )
        factories.fill_proposal(case)
        case.title = f"Aksi {trainee.id}"
        db.session.flush()
        with time_machine.travel(date(2026, 3, 10)):
            perform(case, "submit", trainee)
            perform(case, "approve", case.mentor)
            perform(case, "endorse", world.executive, data=dict(factories.ENDORSE_DATA))
        m = case.milestones[0]
        perform(
            case,
            "report_progress",
            trainee,
            data={"milestone_id": m.id, **REPORT},
            files=[upload(PDF, "a.pdf")],
        )
        cases.append(case)
    db.session.commit()
    return cases


def test_mentor_queue_lists_reported_milestones(client, started, traveller):
    english(client)
    mine = reported_cases(started, 2)
    theirs = reported_cases(started, 1, mentor=factories.create_user())
    # A milestone only in progress is not waiting for the mentor.
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": started.case.milestones[0].id, "status": "in_progress"},
    )
    login(client, started.mentor)
    html = client.get("/mentor").get_data(as_text=True)
    check_markup(html)
    section = html.split('id="milestones-title"')[1]
    for case in mine:
        m = case.milestones[0]
        assert f'href="/cases/{case.id}#milestone-{m.id}"' in section
        assert case.trainee.name in section and case.title in section
    assert f"/cases/{theirs[0].id}#" not in section
    assert f"/cases/{started.case.id}#" not in section
    assert "15 Apr 2026" in section  # reported
    assert "20 Apr 2026" in section  # verify by: three working days later
    assert section.count('class="ms-row') == 2 and "Overdue" not in section
    # Days later the mentor is late.
    with time_machine.travel("2026-04-22 03:00"):
        html = client.get("/mentor").get_data(as_text=True)
    section = html.split('id="milestones-title"')[1]
    assert section.count('class="ms-row is-overdue"') == 2
    # Home shows them as the mentor's to-do too.
    home = client.get("/").get_data(as_text=True).split('id="all-title"')[0]
    assert "Milestones awaiting your verification" in home
    assert f'href="/cases/{mine[0].id}#milestone-{mine[0].milestones[0].id}"' in home


def test_mentor_queue_query_count_does_not_grow_with_cases(client, started, traveller):
    login(client, started.mentor)
    reported_cases(started, 2)
    with counting_statements() as few:
        small = client.get("/mentor")
    reported_cases(started, 10)
    with counting_statements() as many:
        big = client.get("/mentor")
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count('class="ms-row') == 12
    assert len(few) == len(many), (len(few), len(many))
    # Home, with the same list, stays flat as well (each count after a commit, as above).
    db.session.commit()
    with counting_statements() as home_many:
        assert client.get("/").status_code == 200
    reported_cases(started, 3)
    with counting_statements() as home_more:
        assert client.get("/").status_code == 200
    assert len(home_many) == len(home_more)


def test_case_page_query_count_does_not_grow_with_milestones_and_reports(
    client, started, app, traveller
):
    case = started.case
    login(client, started.trainee)

    def add_reported(n):
        for _ in range(n):
            m = add_coverage_milestone(case, units=("A", "B"))
            perform(
                case,
                "cover_unit",
                started.trainee,
                data={"milestone_id": m.id, "unit": "A", "covered_on": "2026-04-14"},
                files=[upload(PDF, "a.pdf")],
            )
            perform(
                case,
                "report_progress",
                started.trainee,
                data={"milestone_id": m.id, **REPORT},
                files=[upload(jpeg_bytes((64, 64)), "f.jpg")],
            )
            perform(
                case,
                "return_milestone",
                started.mentor,
                comment="Lagi.",
                data={"milestone_id": m.id},
            )

    add_reported(1)
    with counting_statements() as few:
        small = client.get(f"/cases/{case.id}")
    add_reported(5)
    with counting_statements() as many:
        big = client.get(f"/cases/{case.id}")
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count('class="ms-card') == 7
    assert len(few) == len(many), (len(few), len(many))


def test_trainee_home_lists_milestones_due_soon_or_late(client, started, traveller):
    english(client)
    case = started.case
    late = case.milestones[0]  # target 1 April: late on 15 April
    soon = add_coverage_milestone(case)
    soon.target_date = date(2026, 4, 20)  # three working days ahead
    later = add_coverage_milestone(case)
    later.target_date = date(2026, 6, 1)
    db.session.commit()
    login(client, started.trainee)
    home = client.get("/").get_data(as_text=True)
    todo = home.split('id="all-title"')[0]
    assert "Milestones due soon or late" in todo
    assert f"#milestone-{late.id}" in todo and f"#milestone-{soon.id}" in todo
    assert f"#milestone-{later.id}" not in todo
    assert todo.index(f"#milestone-{late.id}") < todo.index(f"#milestone-{soon.id}")
    # Reported, it is the mentor's turn: no longer on the trainee's list.
    report(started, late)
    todo = client.get("/").get_data(as_text=True).split('id="all-title"')[0]
    assert f"#milestone-{late.id}" not in todo


# ---------------------------------------------------------------- the organizer extends


def test_organizer_extends_the_deadline_from_the_case_page(client, started, traveller):
    english(client)
    case = started.case
    login(client, started.organizer)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "extend_deadline" in triggers_in(html)
    form = html.split('data-trigger="extend_deadline"')[1].split("</details>")[0]
    assert 'type="date"' in form and 'name="due_date"' in form
    assert 'name="comment"' in form and "required" in form
    before = counts()
    refused = act(client, case, "extend_deadline", {"due_date": "2026-06-19", "comment": ""})
    assert refused.status_code == 422
    assert "A comment is required for this action." in refused.get_data(as_text=True)
    too_early = act(client, case, "extend_deadline", {"due_date": "2026-04-10", "comment": "x"})
    assert too_early.status_code == 422
    assert "The new due date must be after 2026-06-05." in too_early.get_data(as_text=True)
    assert counts() == before and case.due_date == date(2026, 6, 5)
    done = act(
        client,
        case,
        "extend_deadline",
        {"due_date": "2026-06-19", "comment": "Sakit, surat dokter."},
    )
    assert done.status_code == 302
    assert case.due_date == date(2026, 6, 19)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Sakit, surat dokter." in html and "19 Jun 2026" in html


def test_no_progress_report_before_implementation(client, world, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    english(client)
    case, m = world.case, world.case.milestones[0]
    login(client, world.trainee)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="implementation"' not in html and url_of(case, m, "report") not in html
    before = counts()
    for htmx in (True, False):
        response = post(client, case, m, "report", REPORT, files=[(PDF, "a.pdf")], htmx=htmx)
        assert response.status_code == 409
        assert "This action is not available in the current state." in response.get_data(
            as_text=True
        )
    assert counts() == before and files_in(app) == [] and m.status == "planned"


def test_history_shows_activity_data_as_a_reader_wants_it(client, started, traveller):
    """Labels, local dates, plain numbers and file names, never raw keys or Python lists."""
    m = started.case.milestones[0]
    perform(
        started.case,
        "report_progress",
        started.trainee,
        data={"milestone_id": m.id, **REPORT},
        files=[upload(PDF, "pedoman.pdf")],
    )
    login(client, started.mentor)
    html = client.get(f"/cases/{started.case.id}").get_data(as_text=True)
    history = html[html.index('id="history') :] if 'id="history' in html else html
    assert "Dilaporkan, menunggu verifikasi" in history
    assert "15 Apr 2026" in history and "pedoman.pdf" in history
    for raw in ("report_date", "['", "<dd>1.0", "<dd>2026-04-15", "milestone_id"):
        assert raw not in history, raw
