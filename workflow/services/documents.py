"""Uploaded files (signed endorsement letters, milestone evidence): the type is decided by
the content, never the name; stored under generated names with a checksum, whole or not at all.

A file is written under a temporary name, its row committed, then renamed into place; any
failure removes what was written, so there is never a row without a file nor a stray file.

Nothing an upload declares is trusted with memory: an archive's directory (member count,
methods, declared sizes, ratios) is checked before any member is read, and members are read
with a bounded read; an image's pixel count is checked from its header before any decoding.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from .. import jobs, tasks
from ..extensions import db
from ..models import AuditEvent, Case, Document, User
from ..permissions import roles_on_case
from .errors import Forbidden, WorkflowError

log = logging.getLogger(__name__)

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


def clean_name(raw: str | None, fallback: str = "document.pdf", ext: str | None = ".pdf") -> str:
    """The user's file name without any path, control or format characters; ends in `ext`."""
    name = (raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if not name:
        name = fallback
    if ext and not name.lower().endswith(ext):
        name += ext
    if len(name) > NAME_MAX:
        keep = NAME_MAX - len(ext or "")
        name = name[:keep].rstrip() + (ext or "")
    return name


@dataclass(frozen=True)
class FileType:
    ext: str
    content_type: str

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


TYPES = {
    "pdf": FileType("pdf", PDF),
    "jpg": FileType("jpg", "image/jpeg"),
    "png": FileType("png", "image/png"),
    "docx": FileType(
        "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
    "xlsx": FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": FileType(
        "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
    "odt": FileType("odt", "application/vnd.oasis.opendocument.text"),
    "ods": FileType("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    "odp": FileType("odp", "application/vnd.oasis.opendocument.presentation"),
}
EVIDENCE_TYPES = tuple(TYPES)
# What the file picker offers (phones open the camera or gallery for image/*).
EVIDENCE_ACCEPT = (
    "image/jpeg,image/png,application/pdf,.pdf,.jpg,.jpeg,.png,.docx,.xlsx,.pptx,.odt,.ods,.odp"
)
OOXML_PARTS = {
    "word/document.xml": "docx",
    "xl/workbook.xml": "xlsx",
    "ppt/presentation.xml": "pptx",
}
THUMB_SIZE = (320, 320)

# A phone's full-resolution photo is at most ~50 MP (8160x6120 = 49.9 MP on 50 MP sensors;
# 48 MP ones are 8064x6048); decoded as RGBA that is 200 MB at worst, and JPEGs are decoded
# reduced for thumbnails. Pillow's own guard (89 MP warns, 179 MP fails) is far above it.
MAX_IMAGE_PIXELS = 50_000_000

# Archives (docx/xlsx/pptx, OpenDocument). Limits in the spirit of Apache POI's
# ZipSecureFile, which opens Office files every day: a part may unpack to at most 100 times
# its packed size once it is over 100 KB (XML packs 5-20 times); 200 MB unpacked in all (a
# 10 MB workbook of plain data XML is ~150 MB); 2000 parts (a 300-slide deck with notes is
# ~1300). Office programs write parts stored or deflated, nothing else.
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_UNPACKED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_RATIO_GRACE = 100 * 1024
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
ZIP_METHOD_NAMES = {9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 99: "AES"}
# Directory bytes per member we accept before zipfile parses the directory into objects.
ZIP_DIRECTORY_PER_MEMBER = 1024
# OpenDocument's `mimetype` member is a short media type (ODF 1.2, part 3, 3.3).
MIMETYPE_MAX = 100
# What a broken or hostile archive raises while its directory or a member is read.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    zlib.error,
)
_END_OF_DIRECTORY = b"PK\x05\x06"


def max_image_pixels() -> int:
    return int(current_app.config.get("MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS))


def _too_many_pixels(name: str, limit: int) -> UploadRejected:
    return UploadRejected(
        _l(
            "“%(name)s” has too many pixels (at most %(limit)s megapixels). Take the photo "
            "at a lower resolution or make it smaller, then upload it again.",
            name=name,
            limit=f"{limit / 1_000_000:g}",
        )
    )


def _open_image(data: bytes, name: str):
    """The image, lazily opened, its size checked from the header before any pixel is
    decoded; UploadRejected when it has too many pixels."""
    from PIL import Image

    limit = max_image_pixels()
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fired first (its warning is an error where warnings are).
        raise _too_many_pixels(name, limit) from None
    width, height = img.size
    if width * height > limit:
        img.close()
        raise _too_many_pixels(name, limit)
    return img


def _image_ok(data: bytes, fmt: str, name: str) -> bool:
    try:
        img = _open_image(data, name)
    except UploadRejected:
        raise
    except Exception:  # Pillow raises many kinds for a broken file
        return False
    try:
        with img:
            if img.format != fmt:
                return False
            img.verify()  # checks structure and checksums; decodes no pixels
        return True
    except Exception:
        return False


def _archive_refused(name: str, info: zipfile.ZipInfo, total: int) -> UploadRejected | None:
    """Why one member (seen from the directory only) makes the archive unacceptable."""
    if info.compress_type not in ZIP_METHODS or info.flag_bits & 0x1:
        # Technical names, the same in every language.
        method = (
            "ZipCrypto"
            if info.flag_bits & 0x1
            else ZIP_METHOD_NAMES.get(info.compress_type, f"zip #{info.compress_type}")
        )
        return UploadRejected(
            _l(
                "“%(name)s” is packed in a way we do not accept (%(method)s). Save it again "
                "from your office program, or as a PDF, and upload that.",
                name=name,
                method=method,
            )
        )
    if total > ZIP_MAX_UNPACKED:
        return UploadRejected(
            _l(
                "“%(name)s” would unpack to more than %(mb)d MB. Save it as a PDF and upload that.",
                name=name,
                mb=ZIP_MAX_UNPACKED // (1024 * 1024),
            )
        )
    if info.file_size > ZIP_RATIO_GRACE and info.file_size > ZIP_MAX_RATIO * info.compress_size:
        return UploadRejected(
            _l(
                "“%(name)s” is packed far more tightly than a real document (a part unpacks "
                "to over %(ratio)d times its size). Save it again from your office program, "
                "or as a PDF, and upload that.",
                name=name,
                ratio=ZIP_MAX_RATIO,
            )
        )
    return None


def _too_many_members(name: str) -> UploadRejected:
    return UploadRejected(
        _l(
            "“%(name)s” has too many parts (at most %(limit)d). Save it as a PDF and upload that.",
            name=name,
            limit=ZIP_MAX_MEMBERS,
        )
    )


def _check_directory_size(data: bytes, name: str) -> None:
    """Member count and directory size from the end record, before zipfile turns the
    directory into one object per member (which is what a million-member zip would cost)."""
    at = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or len(data) - at < 22:
        return  # not an archive zipfile can read either
    entries, directory_size = struct.unpack_from("<HL", data, at + 10)
    if entries > ZIP_MAX_MEMBERS or directory_size > ZIP_MAX_MEMBERS * ZIP_DIRECTORY_PER_MEMBER:
        raise _too_many_members(name)


def check_archive(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse (UploadRejected) an archive whose directory declares what no document needs:
    too many members, a method other than stored/deflated, too much unpacked in all, or a
    member unpacking to too many times its packed size. Reads no member."""
    infos = archive.infolist()
    if len(infos) > ZIP_MAX_MEMBERS:
        raise _too_many_members(name)
    total = 0
    for info in infos:
        total += info.file_size
        refused = _archive_refused(name, info, total)
        if refused is not None:
            raise refused


def open_archive(data: bytes, name: str) -> zipfile.ZipFile | None:
    """The archive with its directory checked (UploadRejected when unsafe), or None when the
    bytes are not a readable zip. Read members with `read_member` (bounded)."""
    _check_directory_size(data, name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        return None
    try:
        check_archive(archive, name)
    except BaseException:
        archive.close()
        raise
    return archive


def read_member(archive: zipfile.ZipFile, member: str, limit: int) -> bytes | None:
    """At most `limit` bytes of a member, or None when it holds more: the declared size is
    not trusted, so at most limit + 1 bytes are ever inflated."""
    with archive.open(member) as fh:
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def _office_type(data: bytes, name: str) -> str | None:
    """docx/xlsx/pptx or OpenDocument, by the archive's parts; macro-enabled ones are refused."""
    archive = open_archive(data, name)
    if archive is None:
        return None
    try:
        with archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                raw = read_member(archive, "mimetype", MIMETYPE_MAX)
                if raw is None:
                    return None
                mimetype = raw.decode("ascii", "replace").strip()
                for ext in ("odt", "ods", "odp"):
                    if mimetype == TYPES[ext].content_type:
                        return ext
                return None
            if "[Content_Types].xml" not in names or any(
                n.lower().endswith("vbaproject.bin") for n in names
            ):
                return None
            for part, ext in OOXML_PARTS.items():
                if part in names:
                    return ext
    except ZIP_ERRORS:
        return None
    return None


def sniff(data: bytes, name: str = "") -> FileType | None:
    """The type of an upload from its bytes: one of TYPES, or None; UploadRejected when it
    is of a known type but unsafe to open (an archive or image bomb)."""
    if looks_like_pdf(data):
        return TYPES["pdf"]
    if data.startswith(b"\xff\xd8\xff") and _image_ok(data, "JPEG", name):
        return TYPES["jpg"]
    if data.startswith(b"\x89PNG\r\n\x1a\n") and _image_ok(data, "PNG", name):
        return TYPES["png"]
    if data.startswith(b"PK\x03\x04"):
        ext = _office_type(data, name)
        return TYPES[ext] if ext else None
    return None


def thumbnail(data: bytes, name: str = "") -> bytes:
    """A small JPEG of an image, upright as the phone held it, without its metadata. Never
    decodes an image over the pixel limit (UploadRejected)."""
    from PIL import ImageOps

    with _open_image(data, name) as img:
        # Shrink first: for a JPEG this decodes at 1/2..1/8 scale (draft), and the full-size
        # picture is never held; then turn the small one upright.
        img.thumbnail(THUMB_SIZE)
        small = ImageOps.exif_transpose(img)
        if small.mode not in ("RGB", "L"):
            small = small.convert("RGB")
        out = io.BytesIO()
        small.save(out, "JPEG", quality=80)
        return out.getvalue()


def evidence_name(raw: str | None, ftype: FileType) -> str:
    """The user's name, cleaned, ending in the extension of what the file really is."""
    name = clean_name(raw, fallback="bukti", ext=None)
    known = {"jpg": (".jpg", ".jpeg"), "pdf": (".pdf",)}.get(ftype.ext, (f".{ftype.ext}",))
    if not name.lower().endswith(known):
        name = name[: NAME_MAX - len(ftype.ext) - 1] + "." + ftype.ext
    return name


def looks_like_pdf(data: bytes) -> bool:
    # A PDF starts with its header and ends (give or take trailing bytes) with %%EOF.
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]


def _read_checked(file_storage) -> bytes:
    """The bytes of an upload within the size limit, with a harmless name, or UploadRejected."""
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
    return data


def read_upload(file_storage) -> tuple[bytes, str]:
    """Read and check an uploaded PDF: (content, clean original name), or UploadRejected."""
    data = _read_checked(file_storage)
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


def read_evidence(file_storage) -> tuple[bytes, str, FileType]:
    """Read and check one evidence file: (content, clean name, type), or UploadRejected."""
    data = _read_checked(file_storage)
    ftype = sniff(data, clean_name(file_storage.filename, ext=None))
    if ftype is None:
        raise UploadRejected(
            _l(
                "“%(name)s” is not a PDF, JPEG/PNG photo or Office document (docx, xlsx, "
                "pptx, odt, ods, odp). Its content decides, not its name.",
                name=clean_name(file_storage.filename, ext=None),
            )
        )
    return data, evidence_name(file_storage.filename, ftype), ftype


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def stage_evidence(
    case: Case, user: User, upload: tuple[bytes, str, FileType], written: list[Path], **links
) -> Document:
    """Write a checked evidence file (and its thumbnail) under generated names and add its
    row to the session, uncommitted. The caller commits, or removes `written` on failure,
    so a file is recorded completely or not at all."""
    data, name, ftype = upload
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    stored = f"{token}.{ftype.ext}"
    path = folder / stored
    _write_synced(path, data)
    written.append(path)
    if ftype.is_image:
        # Decoding a photo costs a worker seconds and memory: the thumbnail is a job, once
        # the row is committed (the picture's header and size were checked already).
        jobs.after_commit(tasks.make_thumbnail, stored)
    document = Document(
        case_id=case.id,
        kind="evidence",
        original_name=name,
        stored_name=stored,
        content_type=ftype.content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=user.id,
        **links,
    )
    db.session.add(document)
    return document


# thumb_name "" : no thumbnail can be made (the picture does not render); NULL: not yet.
NO_THUMBNAIL = ""


def make_thumbnail(stored_name: str) -> bool:
    """Write the thumbnail of an uploaded picture and record it (the job after an upload);
    False when there is nothing to do or it cannot be made."""
    document = db.session.scalar(
        select(Document).where(Document.stored_name == stored_name, Document.thumb_name.is_(None))
    )
    if document is None or not document.content_type.startswith("image/"):
        return False
    folder = upload_dir()
    try:
        small = thumbnail((folder / stored_name).read_bytes(), document.original_name)
    except FileNotFoundError:
        log.warning("no thumbnail for %s: the file is missing", stored_name)
        thumb = NO_THUMBNAIL
    except Exception:  # noqa: BLE001 - Pillow read the header but cannot render the picture
        log.warning("no thumbnail for %s: the picture cannot be rendered", stored_name)
        thumb = NO_THUMBNAIL
    else:
        thumb = stored_name.rpartition(".")[0] + ".thumb.jpg"
        # Replaced whole, never opened exclusively: a run cut off before its row update, or
        # a second job for the same picture, leaves or meets a file of the same bytes.
        part = folder / f"{thumb}.{secrets.token_hex(4)}.part"
        _write_synced(part, small)
        os.replace(part, folder / thumb)
    # Only if still missing: two jobs for one picture write the same bytes, one row update.
    db.session.execute(
        update(Document)
        .where(Document.id == document.id, Document.thumb_name.is_(None))
        .values(thumb_name=thumb)
    )
    db.session.commit()
    return bool(thumb)


def make_missing_thumbnails(limit: int = 200) -> int:
    """Thumbnails whose job was lost (a worker killed mid-job): the catch-up job's part."""
    names = db.session.scalars(
        select(Document.stored_name)
        .where(Document.thumb_name.is_(None), Document.content_type.like("image/%"))
        .order_by(Document.id)
        .limit(limit)
    ).all()
    made = 0
    for name in names:
        try:
            made += make_thumbnail(name)
        except Exception:  # noqa: BLE001 - one picture must not hold up the others
            db.session.rollback()
            log.exception("thumbnail of %s failed", name)
    return made


def thumb_path_of(document: Document) -> Path | None:
    return upload_dir() / document.thumb_name if document.thumb_name else None
