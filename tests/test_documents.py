"""The signed letter: endorse with an uploaded PDF, upload rules, download authorisation."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from tests.test_http_helpers import english, login, page_token
from tests.test_review import APPROVED, LETTER, events_of, new_case
from workflow.extensions import db
from workflow.models import AuditEvent, Document
from workflow.services import documents

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app(make_app, upload_dir):
    # Uploads of each test go to its own folder. A quarter MB limit keeps the oversized
    # body under the size at which Werkzeug's test client spools it to an unclosed temp file.
    app = make_app(UPLOAD_DIR=str(upload_dir), MAX_UPLOAD_MB=0.25)
    with app.app_context():
        yield app


def stored_files(upload_dir) -> list:
    return sorted(p.name for p in upload_dir.iterdir()) if upload_dir.exists() else []


def documents_count() -> int:
    return db.session.scalar(select(func.count(Document.id)))


def endorse(client, case, content: bytes | None, name="surat.pdf", data=None):
    token = page_token(client, f"/cases/{case.id}/review")
    form = {"csrf_token": token, "version": str(case.version), **(data or LETTER)}
    if content is not None:
        form["letter_file"] = (io.BytesIO(content), name, "application/pdf")
    return client.post(f"/cases/{case.id}/endorse", data=form, content_type="multipart/form-data")


def test_endorse_with_signed_letter_links_it_to_the_event(client, world, upload_dir):
    english(client)
    case = new_case(world, APPROVED)
    login(client, world.executive)
    response = endorse(client, case, PDF, name="Surat Dukungan.pdf")
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.state == "implementation"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.trigger == "endorse"))
    assert event.data == LETTER
    document = db.session.scalar(select(Document))
    assert document.event_id == event.id and document.case_id == case.id
    assert document.kind == "signed_letter"
    assert document.original_name == "Surat Dukungan.pdf"
    assert document.size == len(PDF) and document.content_type == "application/pdf"
    import hashlib

    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored_files(upload_dir) == [document.stored_name]
    assert (upload_dir / document.stored_name).read_bytes() == PDF
    page = client.get(f"/cases/{case.id}/review").get_data(as_text=True)
    assert f"/documents/{document.id}" in page


def test_endorse_without_a_letter_file_is_fine(client, world, upload_dir):
    case = new_case(world, APPROVED)
    login(client, world.executive)
    assert endorse(client, case, None).status_code == 302
    db.session.refresh(case)
    assert case.state == "implementation"
    assert documents_count() == 0 and stored_files(upload_dir) == []


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"Surat dukungan, bukan PDF.", "surat.pdf", "not a PDF"),
        (b"<script>alert(1)</script>", "surat.pdf", "not a PDF"),
        (b"<!doctype html><html><body>%PDF-1.4</body></html>", "letter.pdf", "not a PDF"),
        (b"#!/bin/sh\nrm -rf /\n", "run.sh.pdf", "not a PDF"),
        (b"%PDF-1.4 truncated without its end", "surat.pdf", "not a PDF"),
        (b"", "surat.pdf", "empty"),
        (b"%PDF-1.4\n" + b"0" * (300 * 1024) + b"\n%%EOF\n", "big.pdf", "too large"),
        (PDF, "../../etc/passwd.pdf", "file name"),
        (PDF, "sur\x07at.pdf", "file name"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(
    client, world, upload_dir, content, name, message
):
    english(client)
    case = new_case(world, APPROVED)
    version = case.version
    login(client, world.executive)
    response = endorse(client, case, content, name=name)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'aria-invalid="true" aria-describedby="letter-file-error"' in html
    assert LETTER["letter_number"] in html  # what was typed is kept
    db.session.refresh(case)
    assert case.state == "endorsement_pending" and case.version == version
    assert events_of(case) == events_of(case, "submit") + events_of(case, "approve")
    assert documents_count() == 0
    assert stored_files(upload_dir) == []


def test_refused_endorsement_stores_no_file(client, world, upload_dir):
    english(client)
    case = new_case(world, APPROVED)
    login(client, world.executive)
    response = endorse(client, case, PDF, data={"letter_number": "", "letter_date": "x"})
    assert response.status_code == 422
    assert "Letter number is required." in response.get_data(as_text=True)
    assert documents_count() == 0 and stored_files(upload_dir) == []


def test_stale_endorsement_stores_no_file(client, world, upload_dir):
    english(client)
    case = new_case(world, APPROVED)
    login(client, world.executive)
    token = page_token(client, f"/cases/{case.id}/review")
    form = {
        "csrf_token": token,
        "version": str(case.version - 1),
        **LETTER,
        "letter_file": (io.BytesIO(PDF), "surat.pdf"),
    }
    response = client.post(f"/cases/{case.id}/endorse", data=form)
    assert response.status_code == 409
    assert "changed this case meanwhile" in response.get_data(as_text=True)
    assert documents_count() == 0 and stored_files(upload_dir) == []


@pytest.mark.parametrize("role", ["mentor", "coach", "trainee"])
def test_only_the_executive_can_endorse_with_a_letter(client, world, upload_dir, role):
    case = new_case(world, APPROVED)
    login(client, world.by_role(role) if role != "trainee" else case.trainee)
    response = endorse(client, case, PDF)
    assert response.status_code in (403, 409)
    db.session.refresh(case)
    assert case.state == "endorsement_pending"
    assert documents_count() == 0 and stored_files(upload_dir) == []


# ---------------------------------------------------------------- service


def storage(content: bytes, name: str = "surat.pdf") -> FileStorage:
    return FileStorage(stream=io.BytesIO(content), filename=name, content_type="application/pdf")


def test_store_upload_writes_file_and_row(world, upload_dir):
    document = documents.store_upload(world.case, world.trainee, storage(PDF), "evidence")
    assert stored_files(upload_dir) == [document.stored_name]
    assert document.stored_name.endswith(".pdf") and "surat" not in document.stored_name
    assert documents_count() == 1


def test_a_failed_row_leaves_no_file(world, upload_dir):
    ghost = AuditEvent(id=987654)  # no such event: the row's foreign key fails
    with pytest.raises(Exception):  # noqa: B017 - the database's own integrity error
        documents.store_upload(world.case, world.executive, storage(PDF), "signed_letter", ghost)
    db.session.rollback()
    assert documents_count() == 0
    assert stored_files(upload_dir) == []


def test_strangers_cannot_store(world, upload_dir):
    with pytest.raises(documents.Forbidden):
        documents.store_upload(world.case, world.stranger, storage(PDF), "evidence")
    assert documents_count() == 0 and stored_files(upload_dir) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.pdf", "..\\..\\boot.pdf", "/abs/x.pdf", "a\x00b.pdf", "a\nb.pdf"]
)
def test_store_upload_refuses_names_with_paths_or_control_characters(world, upload_dir, name):
    with pytest.raises(documents.UploadRejected):
        documents.store_upload(world.case, world.trainee, storage(PDF, name), "evidence")
    assert documents_count() == 0 and stored_files(upload_dir) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Surat Dukungan.pdf", "Surat Dukungan.pdf"),
        ("surat", "surat.pdf"),
        ("  .hidden.PDF ", "hidden.PDF"),
        ("", "document.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
        ("nama\u202eexe.pdf", "namaexe.pdf"),
    ],
)
def test_clean_name(raw, clean):
    assert documents.clean_name(raw) == clean


# ---------------------------------------------------------------- download


@pytest.fixture
def letter(client, world):
    case = new_case(world, APPROVED)
    login(client, world.executive)
    assert endorse(client, case, PDF, name='Surat "1"; <b>x.pdf').status_code == 302
    return case, db.session.scalar(select(Document))


@pytest.mark.parametrize("role", ["executive", "mentor", "coach", "organizer", "trainee"])
def test_download_is_an_attachment_for_people_of_the_case(client, world, letter, role):
    case, document = letter
    login(client, case.trainee if role == "trainee" else world.by_role(role))
    response = client.get(f"/documents/{document.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "Surat" in disposition


def test_download_is_404_for_a_stranger_and_for_no_such_document(client, world, letter):
    _case, document = letter
    login(client, world.stranger)
    assert client.get(f"/documents/{document.id}").status_code == 404
    login(client, world.executive)
    assert client.get("/documents/999999").status_code == 404


def test_download_needs_login(client, world, letter):
    _case, document = letter
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    response = client.get(f"/documents/{document.id}")
    assert response.status_code == 302


def test_a_request_over_the_limit_is_413_with_a_message(app, client, world, upload_dir):
    english(client)
    case = new_case(world, APPROVED)
    login(client, world.executive)
    app.config["MAX_CONTENT_LENGTH"] = 2048  # read on each request
    response = endorse(client, case, b"%PDF-1.4\n" + b"0" * 4096 + b"\n%%EOF\n")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.state == "endorsement_pending"
    assert documents_count() == 0 and stored_files(upload_dir) == []
