"""Uploaded files (the signed endorsement letter): checked by content, stored whole or not at all.

A file is written under a temporary name, its row committed, then renamed into place; any
failure removes what was written, so there is never a row without a file nor a stray file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import AuditEvent, Case, Document, User
from ..permissions import roles_on_case
from .errors import Forbidden, WorkflowError

PDF = "application/pdf"
NAME_MAX = 200


class UploadRejected(WorkflowError):
    status = 422


def max_upload_bytes() -> int:
    return int(float(current_app.config.get("MAX_UPLOAD_MB", 10)) * 1024 * 1024)


def upload_dir() -> Path:
    folder = current_app.config.get("UPLOAD_DIR") or os.path.join(
        current_app.instance_path, "uploads"
    )
    return Path(folder)


def clean_name(raw: str | None, fallback: str = "document.pdf") -> str:
    """The user's file name without any path, control or format characters; ends in .pdf."""
    name = (raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if not name:
        name = fallback
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    if len(name) > NAME_MAX:
        name = name[: NAME_MAX - 4].rstrip() + ".pdf"
    return name


def looks_like_pdf(data: bytes) -> bool:
    # A PDF starts with its header and ends (give or take trailing bytes) with %%EOF.
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]


def read_upload(file_storage) -> tuple[bytes, str]:
    """Read and check an uploaded PDF: (content, clean original name), or UploadRejected."""
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise UploadRejected(_l("Choose a file to upload."))
    raw_name = file_storage.filename
    # Browsers send a bare name; a path or control character means a crafted request.
    if (
        "/" in raw_name
        or "\\" in raw_name
        or any(unicodedata.category(ch) == "Cc" for ch in raw_name)
    ):
        raise UploadRejected(_l("The file name is not acceptable. Rename the file and try again."))
    limit = max_upload_bytes()
    data = file_storage.stream.read(limit + 1)
    if len(data) > limit:
        mb = current_app.config.get("MAX_UPLOAD_MB", 10)
        raise UploadRejected(_l("The file is too large (at most %(mb)s MB).", mb=f"{mb:g}"))
    if not data:
        raise UploadRejected(_l("The file is empty."))
    if not looks_like_pdf(data):
        raise UploadRejected(_l("The file is not a PDF. Upload the signed letter as a PDF."))
    return data, clean_name(file_storage.filename)


def store_bytes(
    case: Case,
    user: User,
    data: bytes,
    original_name: str,
    kind: str,
    event: AuditEvent | None = None,
) -> Document:
    """Store checked content and commit its row; on any failure nothing remains."""
    if not roles_on_case(user, case):
        raise Forbidden(_l("You may not upload files to this case."))
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16) + ".pdf"
    final = folder / stored
    temp = folder / (stored + ".part")
    document = None
    try:
        with open(temp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        document = Document(
            case_id=case.id,
            event_id=event.id if event is not None else None,
            kind=kind,
            original_name=clean_name(original_name),
            stored_name=stored,
            content_type=PDF,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by_id=user.id,
        )
        db.session.add(document)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        temp.unlink(missing_ok=True)
        raise
    try:
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        db.session.delete(document)
        db.session.commit()
        raise
    return document


def store_upload(
    case: Case, user: User, file_storage, kind: str, event: AuditEvent | None = None
) -> Document:
    data, name = read_upload(file_storage)
    return store_bytes(case, user, data, name, kind, event)


def path_of(document: Document) -> Path:
    return upload_dir() / document.stored_name


def documents_of(case: Case, kind: str | None = None) -> list[Document]:
    query = db.select(Document).where(Document.case_id == case.id)
    if kind:
        query = query.where(Document.kind == kind)
    return list(db.session.scalars(query.order_by(Document.created_at, Document.id)))
