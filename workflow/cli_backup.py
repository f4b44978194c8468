"""`flask aksi backup` and `flask aksi restore`: the database and its uploads in one archive.

The database is dumped first (SQLite's online backup API, or pg_dump in a snapshot exported
by the transaction that also reads the document rows), then the files those rows name are
copied: every row in the dump has its file, and a file uploaded meanwhile has no row in it.
The manifest records each member's size and SHA-256. A restore checks the whole archive
before writing anything, replaces the database in one transaction, then checks the audit
chains and every document's file as `verify-audit` and `sweep-uploads` would.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa

from .cli import aksi
from .cli_uploads import _size
from .extensions import db

FORMAT, VERSION = "aksi-backup", 1
MANIFEST = "manifest.json"
DUMPS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Stored names are generated (a hex token and an extension); nothing else is taken from an
# archive, so no member can name a path outside the upload folder.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
MANIFEST_MAX = 64 * 1024 * 1024
CHUNK = 1024 * 1024


class Refused(Exception):
    """The command cannot go on; nothing has been written."""


def _pg_bin(name: str) -> str:
    # The newest installed version: pg_dump must not be older than the server.
    versions = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    newest = sorted(versions, key=lambda p: [int(x) for x in re.findall(r"\d+", p)])[-1:]
    found = shutil.which(name) or next(iter(newest), None)
    if not found:
        raise Refused(f"PostgreSQL's {name} was not found (apt-get install postgresql-client)")
    return found


def _pg_target() -> tuple[str, dict]:
    """libpq's URL of the app's database, its password in the environment (not in `ps`)."""
    url = db.engine.url
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    return url.set(drivername="postgresql", password=None).render_as_string(False), env


def _run(cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise Refused(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _facts(conn) -> dict:
    """Schema revision, rows per table and the document rows, as `conn` sees them."""
    inspector = sa.inspect(conn)
    names = sorted(inspector.get_table_names())
    count = sa.select(sa.func.count())
    tables = {n: conn.execute(count.select_from(sa.table(n))).scalar_one() for n in names}
    revision = None
    if "alembic_version" in names:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    documents = []
    if "documents" in names:
        columns = {c["name"] for c in inspector.get_columns("documents")}
        thumb = "thumb_name" if "thumb_name" in columns else "NULL"
        query = f"SELECT id, case_id, stored_name, size, sha256, {thumb} FROM documents"
        documents = [tuple(r) for r in conn.execute(sa.text(query + " ORDER BY id"))]
    return {"revision": revision, "tables": tables, "documents": documents}


def _sqlite_path() -> str:
    path = db.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise Refused("backup and restore need a SQLite database file")
    return path


def _dump(dialect: str, out: Path) -> dict:
    """Write the database to `out`; the facts of exactly that copy."""
    if dialect == "sqlite":
        path = _sqlite_path()
        if not os.path.isfile(path):
            raise Refused(f"no SQLite database at {path}")
        with contextlib.closing(sqlite3.connect(path)) as src:
            with contextlib.closing(sqlite3.connect(out)) as dst:
                src.backup(dst)  # one step: a consistent copy while the app runs
        engine = sa.create_engine(f"sqlite:///{out}")
        try:
            with engine.connect() as conn:
                return _facts(conn)
        finally:
            engine.dispose()
    options = {"isolation_level": "REPEATABLE READ"}
    with db.engine.connect().execution_options(**options) as conn, conn.begin():
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        facts = _facts(conn)
        url, env = _pg_target()
        dump = [_pg_bin("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={out}"]
        _run([*dump, url], env)
        return facts


class _Hashing:
    def __init__(self, fh) -> None:
        self.fh, self.hash = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.hash.update(data)
        return data


def _add(tar: tarfile.TarFile, name: str, fh, size: int) -> dict:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    reader = _Hashing(fh)
    tar.addfile(info, reader)
    return {"size": size, "sha256": reader.hash.hexdigest()}


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict:
    with open(path, "rb") as fh:
        return _add(tar, name, fh, os.fstat(fh.fileno()).st_size)


def _copy(src, dest: Path | None = None) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(dest, "xb") if dest else contextlib.nullcontext() as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if out:
                out.write(chunk)
    return size, digest.hexdigest()


def _fail(message: str, code: int = 2):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@aksi.command("backup")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--no-verify", is_flag=True, help="Do not re-read the archive after writing it.")
def backup(path: Path | None, no_verify: bool) -> None:
    """Write the database and the uploaded files its documents name to one .tar.gz archive
    (PATH: a directory, default the current one, or a file name). Exits 1 when a document's
    file is missing or altered (the archive is still written), 2 when nothing was written."""
    from .services.documents import upload_dir

    target = path or Path(".")
    if target.is_dir():
        target = target / f"aksi-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz"
    if target.exists() or not target.parent.is_dir():
        _fail(f"{target} exists already" if target.exists() else f"no folder {target.parent}")
    dialect, folder = db.engine.dialect.name, upload_dir()
    problems, files, seen, part = [], [], set(), None
    try:
        # Only readable by its owner: it holds password hashes and personal data.
        fd, part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        with (
            os.fdopen(fd, "wb") as fh,
            tempfile.TemporaryDirectory(prefix=".aksi-backup-", dir=target.parent) as work,
        ):
            facts = _dump(dialect, Path(work) / DUMPS[dialect])
            if facts["revision"] is None:
                raise Refused("the database has no Aksi schema (no alembic_version): DATABASE_URL?")
            with tarfile.open(fileobj=fh, mode="w:gz", compresslevel=6) as tar:
                database = _add_file(tar, DUMPS[dialect], Path(work) / DUMPS[dialect])
                for doc_id, case_id, stored, size, sha256, thumb in facts["documents"]:
                    for name, want in ((stored, {"size": size, "sha256": sha256}), (thumb, None)):
                        if not name or name in seen:
                            continue
                        where = f"document {doc_id} of case {case_id}: {name}"
                        src = folder / name
                        if not SAFE_NAME.fullmatch(name) or src.is_symlink() or not src.is_file():
                            problems.append(f"missing file: {where}")
                            continue
                        seen.add(name)
                        files.append({"name": name, **_add_file(tar, f"uploads/{name}", src)})
                        if want and {k: files[-1][k] for k in want} != want:
                            problems.append(f"altered file (size or SHA-256 differs): {where}")
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "dialect": dialect,
                    "alembic_revision": facts["revision"],
                    "tables": facts["tables"],
                    "audit_events": facts["tables"].get("audit_events", 0),
                    "database": {"name": DUMPS[dialect], **database},
                    "files": files,
                    "problems": problems,
                }
                data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
                _add(tar, MANIFEST, io.BytesIO(data), len(data))
            fh.flush()
            os.fsync(fh.fileno())
        if not no_verify:
            _scan(Path(part))
        os.replace(part, target)  # a killed backup leaves a .part file, never a half archive
    except (Refused, OSError) as exc:
        _fail(f"{exc}; nothing written")
    finally:
        if part:
            Path(part).unlink(missing_ok=True)
    for problem in problems:
        click.echo(problem)
    rows = sum(facts["tables"].values())
    click.echo(
        f"{target}: {_size(target.stat().st_size)}, {len(facts['tables'])} tables "
        f"({rows} rows, {manifest['audit_events']} audit events), {len(files)} files"
        f"{'' if no_verify else ', verified'}; {len(problems)} document files missing or altered."
    )
    if problems:
        sys.exit(1)


def _manifest(raw: bytes) -> dict:
    def entry(e) -> bool:
        return isinstance(e.get("size"), int) and isinstance(e.get("sha256"), str)

    try:
        m = json.loads(raw)
        ok = m["format"] == FORMAT and m["version"] == VERSION and m["dialect"] in DUMPS
        ok = ok and m["database"]["name"] == DUMPS[m["dialect"]] and entry(m["database"])
        ok = ok and isinstance(m["tables"], dict) and isinstance(m["alembic_revision"], str)
        ok = ok and all(entry(f) and SAFE_NAME.fullmatch(f["name"]) for f in m["files"])
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise Refused(f"{MANIFEST} is not a manifest of an Aksi backup (format {VERSION})")
    return m


def _scan(archive: Path, into: Path | None = None) -> dict:
    """The archive's manifest once every member is checked against it; with `into`, the
    members are also written there. Members are read as streams and written under names
    checked here (tarfile never extracts), so links, devices and paths cannot apply."""
    seen: dict[str, tuple[int, str]] = {}
    raw = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                folder, _, base = name.rpartition("/")
                if name not in (MANIFEST, *DUMPS.values()) and not (
                    folder == "uploads" and SAFE_NAME.fullmatch(base)
                ):
                    raise Refused(f"unexpected member {name!r} (only generated names are taken)")
                if not member.isreg():
                    raise Refused(f"member {name!r} is not a regular file (a link or a device)")
                if name in seen or (name == MANIFEST and raw is not None):
                    raise Refused(f"member {name!r} appears twice")
                if name == MANIFEST:
                    if member.size > MANIFEST_MAX:
                        raise Refused(f"{MANIFEST} is too large")
                    raw = tar.extractfile(member).read()
                else:
                    seen[name] = _copy(tar.extractfile(member), into / name if into else None)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if getattr(exc, "errno", None):  # the disk, not the format (e.g. no space left)
            raise Refused(str(exc)) from None
        raise Refused(f"cannot read {archive} as a .tar.gz archive: {exc}") from None
    if raw is None:
        raise Refused(f"{MANIFEST} is missing: {archive} is not an Aksi backup")
    manifest = _manifest(raw)
    listed = [(manifest["database"]["name"], manifest["database"])]
    listed += [(f"uploads/{f['name']}", f) for f in manifest["files"]]
    for name, entry in listed:
        if name not in seen:
            raise Refused(f"{name} is in the manifest but not in the archive")
        if seen.pop(name) != (entry["size"], entry["sha256"]):
            raise Refused(f"{name}: size or SHA-256 differs from the manifest (damaged or altered)")
    if seen:
        raise Refused(f"{min(seen)} is in the archive but not in the manifest")
    return manifest


def _migrations():
    from alembic.script import ScriptDirectory
    from flask import current_app

    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _held(folder: Path) -> list[str]:
    """What the target already holds: people, cases, files."""
    held = []
    if db.engine.dialect.name != "sqlite" or os.path.isfile(_sqlite_path()):
        with db.engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            for t in sorted(names & {"users", "cases"}, reverse=True):
                n = conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar()
                if n:
                    held.append(f"{n} {t}")
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return held + ([f"{len(files)} files in {folder}"] if files else [])


def _restore_database(dialect: str, dump: Path) -> None:
    db.session.remove()
    db.engine.dispose()
    if dialect == "sqlite":
        # Through SQLite's backup API rather than a file swap: one locked transaction that a
        # WAL file or another open connection cannot get out of step with.
        with contextlib.closing(sqlite3.connect(dump)) as src:
            with contextlib.closing(sqlite3.connect(_sqlite_path())) as dst:
                src.backup(dst)
        return
    url, env = _pg_target()
    work = dump.parent
    # Drop every table and function first (a newer schema's too; a full-text trigger's
    # function), then load, all in one transaction: a failure leaves the database as it was.
    (work / "drop.sql").write_text(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE "
        "schemaname = current_schema() LOOP EXECUTE format('DROP TABLE %I CASCADE', t); "
        "END LOOP; FOR t IN SELECT p.oid::regprocedure::text FROM pg_proc p JOIN "
        "pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() AND "
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
        "LOOP EXECUTE 'DROP FUNCTION ' || t || ' CASCADE'; END LOOP; END $$;\n"
    )
    script = ["--no-owner", "--no-privileges", f"--file={work / 'load.sql'}", str(dump)]
    _run([_pg_bin("pg_restore"), *script])
    load = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", url]
    _run([_pg_bin("psql"), *load, "-f", str(work / "drop.sql"), "-f", str(work / "load.sql")], env)


def _file_problems(documents: list, folder: Path) -> list[str]:
    problems = []
    for doc_id, case_id, stored, size, sha256, thumb in documents:
        path = folder / stored
        where = f"document {doc_id} of case {case_id}: {stored}"
        if not path.is_file():
            problems.append(f"missing file: {where}")
        else:
            with open(path, "rb") as fh:
                if _copy(fh) != (size, sha256):
                    problems.append(f"altered file (size or SHA-256 differs): {where}")
        if thumb and not (folder / thumb).is_file():
            problems.append(f"missing thumbnail: document {doc_id} of case {case_id}: {thumb}")
    return problems


@aksi.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database (and uploads) holding data.")
def restore(archive: Path, force: bool) -> None:
    """Restore a `flask aksi backup` ARCHIVE into the configured database and UPLOAD_DIR,
    then check the audit chains and every document's file. Exits 2 when refused (nothing
    written), 1 when the restored data fails a check."""
    from flask_migrate import upgrade

    from .services.audit import verify_all
    from .services.documents import upload_dir

    dialect, folder = db.engine.dialect.name, upload_dir()
    scripts = _migrations()
    head = scripts.get_current_head()
    try:
        manifest = _scan(archive)
        revision = manifest["alembic_revision"]
        if manifest["dialect"] != dialect:
            raise Refused(
                f"the archive holds a {manifest['dialect']} database and this one is "
                f"{dialect}: a backup restores into the same engine (moving between engines "
                "is not this command's job)"
            )
        if revision not in {s.revision for s in scripts.walk_revisions()}:
            raise Refused(
                f"the archive's schema revision {revision} is unknown to this code (head "
                f"{head}): it was made by a newer Aksi; deploy that version first"
            )
        held = [] if force else _held(folder)
        if held:
            raise Refused(f"the target already holds {', '.join(held)}; --force replaces them")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=folder) as stage:
            (Path(stage) / "uploads").mkdir()
            _scan(archive, into=Path(stage))  # checked again as it is written
            _restore_database(dialect, Path(stage) / DUMPS[dialect])
            for f in manifest["files"]:
                os.replace(Path(stage) / "uploads" / f["name"], folder / f["name"])
    except Refused as exc:
        _fail(f"{exc}; nothing restored")
    db.engine.dispose()
    with db.engine.connect() as conn:
        tables = _facts(conn)["tables"]
    problems = [
        f"table {t}: {tables.get(t)} rows restored, {n} in the archive"
        for t, n in manifest["tables"].items()
        if tables.get(t) != n
    ]
    if revision != head:
        upgrade()
        click.echo(f"upgraded the database from schema revision {revision} to {head}")
    with db.engine.connect() as conn:
        documents = _facts(conn)["documents"]
    breaks = verify_all()
    problems += [f"case {b.case_id}: broken audit chain: {b.reason}" for b in breaks]
    problems += _file_problems(documents, folder)
    for problem in problems:
        click.echo(problem)
    click.echo(
        f"restored {archive} (made {manifest['created_at']}): {sum(tables.values())} rows in "
        f"{len(tables)} tables, {len(manifest['files'])} files; {len(breaks)} broken audit "
        f"chains, {len(problems) - len(breaks)} other problems."
    )
    if problems:
        sys.exit(1)
