"""Uploads that cost more to open than they weigh (archive and image bombs) are refused from
their declarations, before anything is inflated or decoded; `flask aksi sweep-uploads`
removes files an interrupted upload left behind. Every bomb is built here, small."""

from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zipfile
import zlib
from datetime import date
from html import unescape

import pytest
import time_machine
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

import workflow.cli_uploads  # noqa: F401  (registers `flask aksi sweep-uploads`)
from tests.factories import to_implementation
from tests.test_http_helpers import english, login
from tests.test_implementation_http import REPORT, TODAY, counts, files_in, post
from workflow.extensions import db
from workflow.models import Document
from workflow.services import documents

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ODT = b"application/vnd.oasis.opendocument.text"
MB = 1024 * 1024


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app(make_app, upload_dir):
    app = make_app(UPLOAD_DIR=str(upload_dir))
    with app.app_context():
        yield app


# ---------------------------------------------------------------- building files


def zip_of(*members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of (name, content[, method]) members; content may be an int: that many zeros,
    streamed so the test never holds them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content, *method in members:
            kind = method[0] if method else compression
            if isinstance(content, int):
                info = zipfile.ZipInfo(name)
                info.compress_type = kind
                with archive.open(info, "w") as fh:
                    for _ in range(content // MB):
                        fh.write(bytes(MB))
            else:
                archive.writestr(name, content, compress_type=kind)
    return out.getvalue()


def odt(*extra, content: bytes = b"<office:document/>") -> bytes:
    return zip_of(("mimetype", ODT, zipfile.ZIP_STORED), ("content.xml", content), *extra)


def patch_directory(data: bytes, member: str, **fields: int) -> bytes:
    """The zip with fields of `member`'s central directory entry replaced: size
    (uncompressed), method, flags."""
    at = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == member.encode():
            break
        at = data.index(b"PK\x01\x02", at + 4)
    out = bytearray(data)
    for field, value in fields.items():
        offset, fmt = {"size": (24, "<L"), "method": (10, "<H"), "flags": (8, "<H")}[field]
        struct.pack_into(fmt, out, at + offset, value)
    return bytes(out)


def lying_count(data: bytes, entries: int) -> bytes:
    """The zip with the member count in its end record set to `entries`."""
    at = data.rindex(b"PK\x05\x06")
    return data[: at + 8] + struct.pack("<HH", entries, entries) + data[at + 12 :]


def many_members(n: int) -> bytes:
    return zip_of(*[(f"p/{i}", b"", zipfile.ZIP_STORED) for i in range(n)])


def png(width: int, height: int, *, pixels: bool = True) -> bytes:
    """A 1-bit greyscale PNG: a valid picture whose rows of zeros deflate to ~1/1000, so
    13000x13000 (169 MP, 507 MB as RGB) is ~20 KB; without pixels, the header alone."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">L", len(body)) + kind + body + struct.pack(">L", zlib.crc32(kind + body))
        )

    header = struct.pack(">LLBBBBB", width, height, 1, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    idat = b"".join(packer.compress(row) for _ in range(height if pixels else 0))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", idat + packer.flush())
        + chunk(b"IEND", b"")
    )


def jpeg(size=(1200, 800), exif=None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) declares another size."""
    data = jpeg((16, 16))
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def docx() -> bytes:
    return zip_of(
        ("[Content_Types].xml", b"<Types/>"),
        (
            "word/document.xml",
            b"<w:document>" + b"<w:p>Laporan kegiatan</w:p>" * 2000 + b"</w:document>",
        ),
    )


# A real document's XML: 1.1 MB that deflates about 11 times.
WELL_PACKED = b"".join(
    b"<text:p>Kegiatan %d: sosialisasi di desa %d</text:p>\n" % (i, i * 7919 % 1000)
    for i in range(20000)
)

# Each bomb, the message it is refused with, and what it would have cost.
BOMBS = [
    pytest.param(
        lambda: patch_directory(odt(), "mimetype", size=1024 * MB),
        "“bom.odt” would unpack to more than 200 MB.",
        id="mimetype-declared-1GB",
    ),
    pytest.param(
        lambda: odt(("Pictures/blank.bmp", 50 * MB)),
        "“bom.odt” is packed far more tightly than a real document (a part unpacks to over "
        "100 times its size).",
        id="50MB-of-zeros-deflated",
    ),
    pytest.param(
        lambda: odt(("content2.xml", b"<x/>" * 1000, zipfile.ZIP_BZIP2)),
        "“bom.odt” is packed in a way we do not accept (bzip2).",
        id="bzip2-member",
    ),
    pytest.param(
        lambda: odt(("content2.xml", b"<x/>" * 1000, zipfile.ZIP_LZMA)),
        "“bom.odt” is packed in a way we do not accept (lzma).",
        id="lzma-member",
    ),
    pytest.param(
        lambda: patch_directory(odt(), "content.xml", method=93),
        "“bom.odt” is packed in a way we do not accept (zstandard).",
        id="zstandard-member",
    ),
    pytest.param(
        lambda: patch_directory(odt(), "content.xml", flags=0x1),
        "“bom.odt” is packed in a way we do not accept (ZipCrypto).",
        id="encrypted-member",
    ),
    pytest.param(
        lambda: many_members(2001),
        "“bom.odt” has too many parts (at most 2000).",
        id="2001-members",
    ),
    pytest.param(
        lambda: lying_count(many_members(2001), 3),
        "“bom.odt” has too many parts (at most 2000).",
        id="2001-members-end-record-says-3",
    ),
    pytest.param(
        # Declares 39 bytes, holds 20 MB: only the declared bytes (+1) are ever inflated.
        lambda: patch_directory(zip_of(("mimetype", ODT + bytes(20 * MB))), "mimetype", size=39),
        "“bom.odt” is not a PDF, JPEG/PNG photo or Office document",
        id="mimetype-lies-about-its-size",
    ),
    pytest.param(
        lambda: png(13000, 13000),
        "“bom.odt” has too many pixels (at most 50 megapixels).",
        id="png-13000x13000",
    ),
    pytest.param(
        lambda: png(9000, 9000),  # 81 MP: under Pillow's own warning, over ours
        "“bom.odt” has too many pixels (at most 50 megapixels).",
        id="png-9000x9000",
    ),
    pytest.param(
        lambda: png(60000, 60000, pixels=False),  # Pillow's own guard refuses this one
        "“bom.odt” has too many pixels (at most 50 megapixels).",
        id="png-header-60000x60000",
    ),
    pytest.param(
        lambda: jpeg_declaring(13000, 13000),
        "“bom.odt” has too many pixels (at most 50 megapixels).",
        id="jpeg-header-13000x13000",
    ),
]


def storage(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


# ---------------------------------------------------------------- service


@pytest.mark.parametrize(("build", "message"), BOMBS)
def test_bombs_are_refused_from_their_declarations_within_bounded_memory(app, build, message):
    data = build()
    assert len(data) < 400 * 1024  # small on disk, as an attacker's would be
    tracemalloc.start()
    try:
        with pytest.raises(documents.UploadRejected) as refused:
            documents.read_evidence(storage(data, "bom.odt"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with force_locale("en"):
        assert message in str(refused.value.message)
    # Inflating any of them would take 20 MB to 1 GB; the checks take a copy or two of
    # the upload and the directory.
    assert peak < 4 * MB + 3 * len(data), peak


def test_thumbnail_never_decodes_an_image_over_the_limit(app):
    with pytest.raises(documents.UploadRejected, match="too many pixels|terlalu banyak piksel"):
        documents.thumbnail(png(9000, 9000), "besar.png")


@pytest.mark.parametrize(
    ("data", "ext"),
    [
        (PDF, "pdf"),
        (jpeg(), "jpg"),
        (png(1000, 1000), "png"),
        (docx(), "docx"),
        (odt(("Pictures/photo.jpg", jpeg())), "odt"),
        # XML that packs well, within the ratio: a real document's content.
        (odt(content=WELL_PACKED), "odt"),
    ],
    ids=["pdf", "jpeg", "png-1MP", "docx", "odt-with-photo", "odt-well-packed-xml"],
)
def test_ordinary_files_are_still_accepted(app, data, ext):
    _data, _name, ftype = documents.read_evidence(storage(data, f"bukti.{ext}"))
    assert ftype.ext == ext


def test_the_pixel_limit_is_configurable(app):
    app.config["MAX_IMAGE_PIXELS"] = 1_000_000
    assert documents.read_evidence(storage(png(1000, 1000), "a.png"))[2].ext == "png"
    for data in (png(1001, 1000), jpeg((1200, 900))):
        with pytest.raises(documents.UploadRejected) as refused:
            documents.read_evidence(storage(data, "b.png"))
        with force_locale("en"):
            message = str(refused.value.message)
        assert "“b.png” has too many pixels (at most 1 megapixels)." in message


def test_thumbnail_is_small_and_upright(app):
    exif = Image.Exif()
    exif[0x0112] = 6  # the phone was held upright: rotate 90° clockwise to show
    small = documents.thumbnail(jpeg((1200, 800), exif=exif))
    with Image.open(io.BytesIO(small)) as img:
        assert img.size == (213, 320)
        assert 0x0112 not in img.getexif()


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def started(world):
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
    return world


@pytest.mark.parametrize(("build", "message"), BOMBS)
def test_a_bomb_as_evidence_is_a_422_beside_the_field_and_writes_nothing(
    client, started, app, build, message
):
    case, m = started.case, started.case.milestones[0]
    with time_machine.travel(TODAY):
        english(client)
        login(client, started.trainee)
        before, version, on_disk = counts(), case.version, files_in(app)
        response = post(
            client, case, m, "report", REPORT, files=[(PDF, "a.pdf"), (build(), "bom.odt")]
        )
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert message in html and 'class="field-error"' in html
    db.session.refresh(case)
    assert counts() == before and case.version == version and files_in(app) == on_disk


# ---------------------------------------------------------------- sweep-uploads


HOUR = 3600


def aged(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def uploads(world, upload_dir):
    """Two documents (a letter; a photo with its thumbnail), a row whose file is lost, and
    three orphans: an old file, an old temporary part, and one still being uploaded."""
    letter = documents.store_bytes(world.case, world.trainee, PDF, "surat.pdf", "letter")
    upload = (jpeg(), "foto.jpg", documents.TYPES["jpg"])
    photo = documents.stage_evidence(world.case, world.trainee, upload, [])
    db.session.commit()
    lost = Document(
        case_id=world.case.id,
        kind="letter",
        original_name="hilang.pdf",
        stored_name="0" * 32 + ".pdf",
        content_type=documents.PDF,
        size=len(PDF),
        sha256="0" * 64,
        uploaded_by_id=world.trainee.id,
    )
    db.session.add(lost)
    db.session.commit()
    kept = [letter.stored_name, photo.stored_name, photo.thumb_name]
    for name in kept:
        aged(upload_dir / name, 3 * HOUR)
    for name, age in [("a" * 32 + ".jpg", 2 * HOUR), ("b" * 32 + ".pdf.part", 90 * 60)]:
        (upload_dir / name).write_bytes(b"x" * 2048)
        aged(upload_dir / name, age)
    (upload_dir / ("c" * 32 + ".png")).write_bytes(b"in flight")
    return {"kept": kept, "old": ["a" * 32 + ".jpg", "b" * 32 + ".pdf.part"], "lost": lost}


def on_disk(upload_dir) -> list:
    return sorted(p.name for p in upload_dir.iterdir())


def document_rows() -> int:
    return db.session.scalar(select(func.count(Document.id)))


def test_dry_run_lists_and_writes_nothing(runner, uploads, upload_dir):
    before, rows = on_disk(upload_dir), document_rows()
    result = runner.invoke(args=["aksi", "sweep-uploads", "--dry-run"])
    assert on_disk(upload_dir) == before and document_rows() == rows
    for name in uploads["old"]:
        assert f"would remove  {name}" in result.output
    assert f"kept (younger than 60 min)  {'c' * 32}.png" in result.output
    lost = uploads["lost"]
    assert f"missing file: document {lost.id} of case {lost.case_id}: {'0' * 32}.pdf" in (
        result.output
    )
    assert "6 files in" in result.output and "3 without a document: would remove 2" in (
        result.output
    )
    for name in uploads["kept"]:
        assert name not in result.output
    assert result.exit_code == 1  # a document's file is missing


def test_sweep_removes_old_orphans_only_and_keeps_rows(runner, uploads, upload_dir):
    rows = document_rows()
    result = runner.invoke(args=["aksi", "sweep-uploads"])
    assert result.exit_code == 1, result.output
    assert on_disk(upload_dir) == sorted([*uploads["kept"], "c" * 32 + ".png"])
    assert document_rows() == rows  # the lost file's row is reported, never deleted
    assert "removed 2, kept 1 younger than 60 min; 1 document files missing." in result.output


def test_grace_period_is_an_option_and_a_clean_folder_exits_0(runner, uploads, upload_dir):
    db.session.delete(uploads["lost"])
    db.session.commit()
    aged(upload_dir / ("c" * 32 + ".png"), 10 * 60)
    result = runner.invoke(args=["aksi", "sweep-uploads", "--older-than", "5"])
    assert result.exit_code == 0, result.output
    assert on_disk(upload_dir) == sorted(uploads["kept"])
    again = runner.invoke(args=["aksi", "sweep-uploads"])
    assert again.exit_code == 0 and "0 without a document: removed 0" in again.output


def test_no_rows_at_all_removes_nothing(runner, world, upload_dir):
    # Files but an empty documents table: the wrong database, not a folder of orphans.
    upload_dir.mkdir()
    orphan = upload_dir / ("d" * 32 + ".pdf")
    orphan.write_bytes(PDF)
    aged(orphan, 5 * HOUR)
    result = runner.invoke(args=["aksi", "sweep-uploads"])
    assert result.exit_code == 2 and "check DATABASE_URL" in result.output
    assert orphan.exists()
