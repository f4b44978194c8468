"""`flask aksi sweep-uploads`: files in UPLOAD_DIR that no document row names.

An upload writes its file first and commits its row after; a worker killed in between leaves
a file without a row. Such files are removed once older than a grace period, so an upload
still in flight is never touched. Rows whose file is missing are reported, never deleted:
they are evidence in an audited trail, and the operator decides (restore from backup).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from .cli import aksi
from .extensions import db


@dataclass(frozen=True)
class Orphan:
    path: Path
    size: int
    age_minutes: float


def _referenced() -> tuple[set[str], list[tuple[int, int, str]]]:
    """Every stored and thumbnail name in use, and the rows, for the missing-file check."""
    from .models import Document

    names: set[str] = set()
    rows = []
    query = db.select(Document.id, Document.case_id, Document.stored_name, Document.thumb_name)
    for doc_id, case_id, stored, thumb in db.session.execute(query.order_by(Document.id)):
        names.add(stored)
        rows.append((doc_id, case_id, stored))
        if thumb:
            names.add(thumb)
            rows.append((doc_id, case_id, thumb))
    return names, rows


def _still_unreferenced(names: list[str]) -> set[str]:
    """Of `names`, those no row names now (a row committed since the first look keeps its
    file)."""
    from .models import Document

    taken: set[str] = set()
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        query = db.select(Document.stored_name, Document.thumb_name).where(
            db.or_(Document.stored_name.in_(chunk), Document.thumb_name.in_(chunk))
        )
        for stored, thumb in db.session.execute(query):
            taken.update(n for n in (stored, thumb) if n)
    return set(names) - taken


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"


@aksi.command("sweep-uploads")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Only remove files unchanged for this many minutes (uploads in flight are younger).",
)
def sweep_uploads(dry_run: bool, older_than: int) -> None:
    """Remove files in UPLOAD_DIR that no document names (left by an interrupted upload), and
    report documents whose file is missing. Exits 1 when a document's file is missing."""
    from .services.documents import upload_dir

    folder = upload_dir()
    names, rows = _referenced()
    now = time.time()
    files = (
        sorted(
            (p for p in folder.iterdir() if p.is_file() and not p.is_symlink()),
            key=lambda p: p.name,
        )
        if folder.is_dir()
        else []
    )
    orphans = []
    for path in files:
        if path.name in names:
            continue
        stat = path.stat()
        orphans.append(Orphan(path, stat.st_size, (now - stat.st_mtime) / 60))
    present = {p.name for p in files}
    missing = [(doc_id, case_id, name) for doc_id, case_id, name in rows if name not in present]

    old = [o for o in orphans if o.age_minutes >= older_than]
    young = [o for o in orphans if o.age_minutes < older_than]
    if old and not rows and not dry_run:
        # No document at all but files on disk: most likely the wrong DATABASE_URL, where
        # every upload would look orphaned. Refuse rather than empty the folder.
        click.echo(
            f"error: no document rows in the database, yet {len(files)} files in {folder}; "
            "check DATABASE_URL and UPLOAD_DIR. Nothing removed.",
            err=True,
        )
        sys.exit(2)

    removable = _still_unreferenced([o.path.name for o in old]) if old else set()
    removed = 0
    for o in old:
        if o.path.name not in removable:
            continue
        age = f"{o.age_minutes / 60:.1f} h old"
        if dry_run:
            click.echo(f"would remove  {o.path.name}  ({_size(o.size)}, {age})")
            continue
        try:
            o.path.unlink()
        except FileNotFoundError:
            continue  # gone meanwhile (another sweep)
        removed += 1
        click.echo(f"removed  {o.path.name}  ({_size(o.size)}, {age})")
    for o in young:
        click.echo(f"kept (younger than {older_than} min)  {o.path.name}")
    for doc_id, case_id, name in missing:
        click.echo(f"missing file: document {doc_id} of case {case_id}: {name}")

    verb = "would remove" if dry_run else "removed"
    count = len(removable) if dry_run else removed
    click.echo(
        f"{len(files)} files in {folder}, {len(orphans)} without a document: {verb} {count}, "
        f"kept {len(young)} younger than {older_than} min; "
        f"{len(missing)} document files missing."
    )
    if missing:
        sys.exit(1)
