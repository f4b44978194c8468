"""`flask aksi backup` / `flask aksi restore`: a round trip into a fresh database on both
engines, and the archives and targets a restore refuses without writing anything."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask_migrate import upgrade
from werkzeug.datastructures import FileStorage

import workflow.cli_backup  # noqa: F401  (registers backup/restore until cli.register() does)
from tests.factories import create_user, to_implementation
from tests.test_milestones import PDF, TODAY, jpeg_bytes
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Document
from workflow.services import perform

PDF_TYPE = "application/pdf"


@pytest.fixture
def uploads(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app(make_app, uploads):
    app = make_app(UPLOAD_DIR=str(uploads))
    with app.app_context():
        yield app


@pytest.fixture
def started(world):
    """A case moved to implementation, with a progress report carrying a photo (and its
    thumbnail) and a PDF."""
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    m = world.case.milestones[0]
    files = [
        FileStorage(io.BytesIO(jpeg_bytes()), "foto.jpg"),
        FileStorage(io.BytesIO(PDF), "pedoman.pdf"),
    ]
    data = {"milestone_id": m.id, "status": "reported", "achieved_quantity": "1", "narrative": "."}
    with time_machine.travel(TODAY):
        perform(world.case, "report_progress", world.trainee, data=data, files=files)
    return world


@pytest.fixture
def empty_url(backend, database_url, tmp_path):
    """A database nothing was ever written to (a fresh server, before `flask db upgrade`)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"aksi_fresh_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield sa.make_url(database_url).set(database=name).render_as_string(False)
    with server.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    server.dispose()


@pytest.fixture
def fresh(make_app, empty_url, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_url, UPLOAD_DIR=str(tmp_path / "fresh-uploads"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def invoke(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=["aksi", *args])


def back_up(runner, folder: Path) -> Path:
    result = runner.invoke(args=["aksi", "backup", str(folder)])
    assert result.exit_code == 0, result.output
    (archive,) = folder.glob("aksi-backup-*.tar.gz")
    return archive


def snapshot() -> dict:
    """What a restore must bring back, read fresh from the database."""
    db.session.expire_all()
    events = db.session.execute(
        sa.select(AuditEvent.case_id, AuditEvent.seq, AuditEvent.trigger, AuditEvent.hash)
    )
    documents = db.session.execute(
        sa.select(Document.stored_name, Document.thumb_name, Document.sha256).order_by(Document.id)
    )
    return {
        "cases": db.session.execute(sa.select(Case.id, Case.state, Case.audit_head)).all(),
        "events": sorted(events.all()),
        "documents": documents.all(),
    }


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_round_trip_into_a_fresh_database(app, runner, started, uploads, tmp_path, fresh):
    (uploads / "orphan.pdf").write_bytes(PDF)  # no row names it: not backed up
    archive = back_up(runner, tmp_path)
    assert archive.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    before = snapshot()
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    stored = [n for d in before["documents"] for n in d[:2] if n]
    assert len(stored) == 3  # a photo, its thumbnail, a PDF
    assert sorted(f["name"] for f in manifest["files"]) == sorted(stored)
    assert manifest["tables"]["cases"] == 1 and manifest["problems"] == []
    assert manifest["audit_events"] == len(before["events"]) > 3

    result = invoke(fresh, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "0 broken audit chains, 0 other problems" in result.output
    restored = Path(fresh.config["UPLOAD_DIR"])
    assert names(restored) == sorted(stored)
    for name in stored:
        assert (restored / name).read_bytes() == (uploads / name).read_bytes()
    with fresh.app_context():
        assert snapshot() == before
    result = invoke(fresh, "verify-audit")
    assert result.exit_code == 0 and "All 1 audit chains are intact." in result.output


def test_restore_refuses_a_database_with_data_unless_forced(app, runner, started, tmp_path):
    archive = back_up(runner, tmp_path)
    before = snapshot()
    create_user("after-the-backup")
    db.session.commit()
    result = runner.invoke(args=["aksi", "restore", str(archive)])
    assert result.exit_code == 2
    assert "the target already holds 8 users, 1 cases" in result.output
    assert "nothing restored" in result.output
    assert db.session.scalar(
        sa.text("SELECT count(*) FROM users WHERE username = 'after-the-backup'")
    )

    result = runner.invoke(args=["aksi", "restore", str(archive), "--force"])
    assert result.exit_code == 0, result.output
    assert snapshot() == before
    assert not db.session.scalar(
        sa.text("SELECT count(*) FROM users WHERE username = 'after-the-backup'")
    )
    assert runner.invoke(args=["aksi", "verify-audit"]).exit_code == 0


# ---------------------------------------------------------------- archives refused


def read(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else b"") for m in tar]


def write(members, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return archive


def member(name: str, data: bytes = b"", **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def edit_manifest(members, change, resign: bool = True):
    """Apply `change` to the manifest; with `resign` its checksums match the members again,
    as a forger who knows the format would make them."""
    manifest = json.loads(dict((i.name, d) for i, d in members)["manifest.json"])
    change(manifest, members)
    data = {i.name: d for i, d in members}
    if resign:
        for entry, name in [(manifest["database"], manifest["database"]["name"])] + [
            (f, "uploads/" + f["name"]) for f in manifest["files"]
        ]:
            entry.update(size=len(data[name]), sha256=hashlib.sha256(data[name]).hexdigest())
    body = json.dumps(manifest).encode()
    return [m for m in members if m[0].name != "manifest.json"] + [member("manifest.json", body)]


def other_engine(manifest, members):
    other = "postgresql" if manifest["dialect"] == "sqlite" else "sqlite"
    dump = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}[other]
    for info, _ in members:
        if info.name == manifest["database"]["name"]:
            info.name = dump
    manifest["dialect"], manifest["database"]["name"] = other, dump


def altered_upload(members):
    for i, (info, data) in enumerate(members):
        if info.name.startswith("uploads/"):
            members[i] = (info, data + b"x")
            return members


REFUSED = {
    "an upload altered": (altered_upload, "differs from the manifest"),
    "a ../ member": (lambda ms: ms + [member("../evil.pdf", PDF)], "unexpected member"),
    "an absolute member": (lambda ms: ms + [member("/tmp/evil.pdf", PDF)], "unexpected member"),
    "a nested ../": (
        lambda ms: ms + [member("uploads/../../evil.pdf", PDF)],
        "unexpected member",
    ),
    "a symlink": (
        lambda ms: ms + [member("uploads/evil.pdf", type=tarfile.SYMTYPE, linkname="/etc")],
        "not a regular file",
    ),
    "a hard link": (
        lambda ms: ms + [member("uploads/evil.pdf", type=tarfile.LNKTYPE, linkname="x")],
        "not a regular file",
    ),
    "an upload not in the manifest": (
        lambda ms: ms + [member("uploads/evil.pdf", PDF)],
        "in the archive but not in the manifest",
    ),
    "a manifest twice": (lambda ms: ms + ms[-1:], "appears twice"),
    "no manifest": (lambda ms: ms[:-1], "manifest.json is missing"),
    "a newer format": (
        lambda ms: edit_manifest(ms, lambda m, _: m.update(version=2)),
        "not a manifest of an Aksi backup",
    ),
    "a newer schema": (
        lambda ms: edit_manifest(ms, lambda m, _: m.update(alembic_revision="ffffffffffff")),
        "made by a newer Aksi",
    ),
    "another engine": (lambda ms: edit_manifest(ms, other_engine), "into the same engine"),
    "not an archive": (None, "as a .tar.gz archive"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_archive_writes_nothing_even_forced(case, app, runner, started, tmp_path):
    change, message = REFUSED[case]
    archive = back_up(runner, tmp_path)
    bad = tmp_path / "bad.tar.gz"
    if change is None:
        bad.write_bytes(b"not an archive at all")
    else:
        write(change(read(archive)), bad)
    create_user("after-the-backup")
    db.session.commit()
    before, files = snapshot(), names(Path(app.config["UPLOAD_DIR"]))

    result = runner.invoke(args=["aksi", "restore", str(bad), "--force"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "nothing restored" in result.output
    assert snapshot() == before and names(Path(app.config["UPLOAD_DIR"])) == files
    assert db.session.scalar(
        sa.text("SELECT count(*) FROM users WHERE username = 'after-the-backup'")
    )
    assert not Path("/tmp/evil.pdf").exists() and not list(tmp_path.rglob("evil.pdf"))


# ---------------------------------------------------------------- what a restore reports


def tamper_the_dump(members, tmp_path):
    """Edit an audit event inside the archive's SQLite dump and re-sign the manifest."""
    copy = tmp_path / "dump.sqlite3"
    for i, (info, data) in enumerate(members):
        if info.name == "database.sqlite3":
            copy.write_bytes(data)
            with sqlite3.connect(copy) as conn:
                conn.execute("UPDATE audit_events SET comment = 'edited' WHERE seq = 1")
            conn.close()
            members[i] = (info, copy.read_bytes())
    return edit_manifest(members, lambda m, _: None)


def test_a_broken_audit_chain_is_restored_and_reported(app, runner, backend, started, tmp_path):
    """An event edited in the database before the backup, or (SQLite: a dump a test can edit)
    in the archive's dump by someone who also re-signed the manifest: the restore writes it,
    names the case and exits 1."""
    case_id = started.case.id
    (tmp_path / "clean").mkdir()
    (tmp_path / "edited").mkdir()
    archives = []
    if backend == "sqlite":
        clean = back_up(runner, tmp_path / "clean")
        archives.append(write(tamper_the_dump(read(clean), tmp_path), tmp_path / "forged.tar.gz"))
    db.session.execute(sa.text("UPDATE audit_events SET comment = 'edited' WHERE seq = 1"))
    db.session.commit()
    archives.append(back_up(runner, tmp_path / "edited"))
    for archive in archives:
        result = runner.invoke(args=["aksi", "restore", str(archive), "--force"])
        assert result.exit_code == 1, result.output
        assert f"case {case_id}: broken audit chain: event #1 was altered" in result.output
        assert "1 broken audit chains, 0 other problems" in result.output


def test_a_missing_file_is_reported_by_backup_and_restore(app, runner, started, uploads, tmp_path):
    document = db.session.scalar(sa.select(Document).where(Document.content_type == PDF_TYPE))
    (uploads / document.stored_name).unlink()
    where = f"missing file: document {document.id} of case {document.case_id}"
    result = runner.invoke(args=["aksi", "backup", str(tmp_path)])
    assert result.exit_code == 1 and where in result.output
    assert "2 files, verified; 1 document files missing or altered." in result.output
    (archive,) = tmp_path.glob("aksi-backup-*.tar.gz")
    result = runner.invoke(args=["aksi", "restore", str(archive), "--force"])
    assert result.exit_code == 1 and where in result.output


def test_an_older_schema_is_restored_and_upgraded(app, runner, make_app, empty_url, tmp_path):
    old = make_app(SQLALCHEMY_DATABASE_URI=empty_url, UPLOAD_DIR=str(tmp_path / "old"))
    with old.app_context():
        head = workflow.cli_backup._migrations().get_current_head()
        previous = workflow.cli_backup._migrations().get_revision(head).down_revision
        upgrade(revision=previous)
        result = old.test_cli_runner().invoke(args=["aksi", "backup", str(tmp_path)])
        db.session.remove()
        db.engine.dispose()
    assert result.exit_code == 0, result.output
    (archive,) = tmp_path.glob("aksi-backup-*.tar.gz")
    result = runner.invoke(args=["aksi", "restore", str(archive), "--force"])
    assert result.exit_code == 0, result.output
    assert f"from schema revision {previous} to {head}" in result.output
    assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == head
    assert db.session.scalar(sa.text("SELECT count(*) FROM users")) == 0


DESTINATIONS = {
    "a folder": (lambda tmp: tmp, 0, "aksi-backup-"),
    "a file name": (lambda tmp: tmp / "nightly.tar.gz", 0, "nightly.tar.gz"),
    "an existing file": (lambda tmp: tmp / "taken.tar.gz", 2, "exists already"),
    "a missing folder": (lambda tmp: tmp / "nowhere" / "x.tar.gz", 2, "no folder"),
}


@pytest.mark.parametrize("case", DESTINATIONS)
def test_backup_destination(case, app, runner, tmp_path):
    where, code, message = DESTINATIONS[case]
    (tmp_path / "taken.tar.gz").write_bytes(b"an older backup")
    result = runner.invoke(args=["aksi", "backup", str(where(tmp_path)), "--no-verify"])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert (tmp_path / "taken.tar.gz").read_bytes() == b"an older backup"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
