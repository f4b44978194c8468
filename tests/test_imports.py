"""Participant import: a bad file is refused whole and stores nothing; bad rows are kept
with a message per cell and import nothing unless skipped; confirming imports exactly the
good rows, once, in one transaction, and invites the new accounts."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from tests import factories
from workflow.extensions import db
from workflow.models import Agency, Case, ImportBatch, OneTimeToken, User
from workflow.services import Blocked, imports, people, start_case
from workflow.services.imports import KEYS, ImportRefused

MENTOR_NIP = "197805122005011003"
EXEC_NIP = "196903151994031006"
TRAINEE_NIP = "198506202010012015"
AGENCY = "DPMD Kutai Kartanegara"


def row(role="peserta", nip=TRAINEE_NIP, name="Rina Wulandari", email=None, **extra):
    """A row of the list, its keys in the template's column order."""
    values = {
        "peran": role,
        "ndh": "",
        "nip": nip,
        "nama": name,
        "email": email or f"{nip[-10:]}@example.go.id",
        "pangkat_golongan": "Penata, III/c",
        "jabatan": "Kepala Seksi",
        "instansi": AGENCY,
        "nip_mentor": MENTOR_NIP if role == "peserta" else "",
        "nip_pimpinan": EXEC_NIP if role == "peserta" else "",
    }
    values.update(extra)
    assert list(values) == list(KEYS)
    return values


def base_rows() -> list[dict]:
    return [
        row("mentor", MENTOR_NIP, "Budi Santoso"),
        row("pimpinan", EXEC_NIP, "Siti Rahmah"),
        row("peserta", TRAINEE_NIP, "Rina Wulandari"),
    ]


def trainee(i: int, **extra) -> dict:
    # A plausible NIP per i: born 1 Jan 1990, appointed January 2010 + i // 1000, male.
    return row("peserta", f"19900101{2010 + i // 1000}011{i % 1000:03d}", f"Peserta {i}", **extra)


def csv_of(rows, header=KEYS, delimiter=",", bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_of(rows, header=KEYS) -> bytes:
    """A workbook as people make them: typed cells, possibly numbers and formulas."""
    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append([r.get(h, "") for h in header] if isinstance(r, dict) else list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(data: bytes, name: str = "peserta.csv") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Case, ImportBatch)
    )


def fragment(message) -> str:
    """The fixed start of a message (before its first placeholder), as shown now."""
    return str(message).split("%(")[0]


@pytest.fixture
def setup(world):
    db.session.add(Agency(name="Badan Kepegawaian dan Pengembangan SDM", short_name="BKPSDM"))
    db.session.commit()
    return world


def batch_of(world, rows, maker=csv_of, name="peserta.csv") -> ImportBatch:
    return imports.create_batch(world.cohort, world.organizer, upload(maker(rows), name))


def errors_by_nip(batch) -> dict[str, dict]:
    return {r["values"]["nip"]: r["errors"] for r in batch.rows}


# ---------------------------------------------------------------- files refused whole


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def _macro_workbook() -> bytes:
    """An .xlsm renamed .xlsx: a workbook with a VBA project."""
    with zipfile.ZipFile(io.BytesIO(xlsx_of(base_rows()))) as src:
        parts = {n: src.read(n) for n in src.namelist()}
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro"
    return _zip(parts)


TOO_MANY_ROWS = csv_of([trainee(i) for i in range(10_000)])

BAD_FILES = [
    ("pdf named csv", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "a.csv", imports.NOT_A_TABLE),
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a.xlsx", imports.NOT_A_TABLE),
    (
        "docx",
        _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"}),
        "a.xlsx",
        imports.NOT_A_TABLE,
    ),
    (
        "ods",
        _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
        "a.xlsx",
        imports.NOT_A_TABLE,
    ),
    ("broken zip", b"PK\x03\x04 not really", "a.xlsx", imports.NOT_A_TABLE),
    ("macro workbook", _macro_workbook(), "a.xlsx", imports.MACROS),
    ("old excel", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "a.xls", imports.OLD_EXCEL),
    ("no bytes", b"", "a.csv", imports.EMPTY),
    ("blank lines", b"\r\n  \r\n,,,\r\n", "a.csv", imports.EMPTY),
    ("header only", csv_of([]), "a.csv", imports.NO_ROWS),
    ("empty workbook", xlsx_of([], header=()), "a.xlsx", imports.EMPTY),
    ("cp1252", "peran,nip,nama\npeserta,1,José".encode("cp1252"), "a.csv", imports.NOT_UTF8),
    ("utf-16", "peran,nip\n".encode("utf-16"), "a.csv", imports.NOT_UTF8),
    (
        "unknown columns",
        csv_of([["x"] * 12], header=(*KEYS, "umur", "Hobi")),
        "a.csv",
        imports.UNKNOWN_COLUMNS,
    ),
    (
        "missing columns",
        csv_of([["peserta", TRAINEE_NIP, "A"]], header=("peran", "nip", "nama")),
        "a.csv",
        imports.MISSING_COLUMNS,
    ),
    (
        "column twice",
        csv_of([["x"] * 11], header=(*KEYS, "Nama")),
        "a.csv",
        imports.DUPLICATE_COLUMNS,
    ),
    ("10,000 rows", TOO_MANY_ROWS, "a.csv", imports.TOO_MANY),
    ("2,001 rows xlsx", xlsx_of([trainee(i) for i in range(2001)]), "a.xlsx", imports.TOO_MANY),
]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_a_bad_file_is_refused_whole(data, name, message):
    """Pure: the parser alone decides (no database)."""
    with pytest.raises(ImportRefused) as refused:
        imports.parse(data, name)
    assert fragment(message) in str(refused.value.message)
    assert refused.value.status == 422


def test_every_refused_file_stores_nothing(setup):
    for label, data, name, message in BAD_FILES:
        before = counts()
        with pytest.raises(ImportRefused) as refused:
            imports.create_batch(setup.cohort, setup.organizer, upload(data, name))
        assert fragment(message) in str(refused.value.message), label
        db.session.rollback()
        assert counts() == before, label


def test_unknown_and_missing_columns_are_named(setup):
    with pytest.raises(ImportRefused) as refused:
        imports.parse(csv_of([["x"] * 12], header=(*KEYS, "umur", "Hobi")))
    assert "umur, Hobi" in str(refused.value.message)
    with pytest.raises(ImportRefused) as refused:
        imports.parse(csv_of([["peserta", "1", "A"]], header=("peran", "nip", "nama")))
    assert "email, instansi, nip_mentor, nip_pimpinan" in str(refused.value.message)
    first = str(refused.value.message).split(".")[0]
    for optional in ("jabatan", "ndh", "pangkat_golongan"):
        assert optional not in first


def test_a_file_above_the_upload_limit_is_refused(setup, app):
    app.config["MAX_UPLOAD_MB"] = 0.001  # about 1 KB
    data = csv_of([trainee(i) for i in range(40)])
    before = counts()
    with pytest.raises(ImportRefused) as refused:
        imports.create_batch(setup.cohort, setup.organizer, upload(data))
    assert fragment(imports.TOO_LARGE) in str(refused.value.message)
    assert counts() == before


def test_a_crafted_or_missing_file_name_is_refused(setup):
    for name in ("../etc/peserta.csv", "a\\b.csv", "a\x07.csv", ""):
        before = counts()
        with pytest.raises(ImportRefused):
            imports.create_batch(setup.cohort, setup.organizer, upload(csv_of(base_rows()), name))
        assert counts() == before, name


# ---------------------------------------------------------------- rows with errors


def _existing(nip, email, **attrs):
    return factories.create_user(nip=nip, email=email, **attrs)


def _nip_taken(world, r):
    _existing(r["nip"], f"lain{r['nip']}@example.test")


def _email_taken(world, r):
    _existing("199901012020011001", r["email"].upper())


def _in_cohort(world, r):
    start_case(world.cohort, _existing(r["nip"], r["email"]))


def _ndh_7_taken(world, r):
    world.case.ndh = 7


BAD_ROWS = [
    # (id, change to a trainee row (from the row), setup before upload, column, message)
    ("name missing", lambda r: {"nama": ""}, None, "nama", imports.REQUIRED),
    ("role missing", lambda r: {"peran": ""}, None, "peran", imports.REQUIRED),
    ("unknown role", lambda r: {"peran": "guru"}, None, "peran", imports.BAD_ROLE),
    (
        "unknown agency",
        lambda r: {"instansi": "Dinas Antah"},
        None,
        "instansi",
        imports.UNKNOWN_AGENCY,
    ),
    ("agency missing", lambda r: {"instansi": ""}, None, "instansi", imports.REQUIRED),
    ("NIP 17 digits", lambda r: {"nip": r["nip"][:-1]}, None, "nip", imports.BAD_NIP),
    (
        "NIP with letters",
        lambda r: {"nip": r["nip"][:-1] + "X"},
        None,
        "nip",
        people.NIP_CHARACTERS,
    ),
    (
        "NIP bad birth date",
        lambda r: {"nip": "19900231" + r["nip"][8:]},
        None,
        "nip",
        people.NIP_BIRTH,
    ),
    (
        "NIP bad month",
        lambda r: {"nip": r["nip"][:12] + "13" + r["nip"][14:]},
        None,
        "nip",
        people.NIP_APPOINTMENT,
    ),
    (
        "NIP sex digit",
        lambda r: {"nip": r["nip"][:14] + "3" + r["nip"][15:]},
        None,
        "nip",
        people.NIP_SEX,
    ),
    ("NDH zero", lambda r: {"ndh": "0"}, None, "ndh", imports.BAD_NDH),
    ("NDH not a number", lambda r: {"ndh": "3a"}, None, "ndh", imports.BAD_NDH),
    ("NDH taken in the cohort", lambda r: {"ndh": "7"}, _ndh_7_taken, "ndh", imports.NDH_TAKEN),
    (
        "rank free text",
        lambda r: {"pangkat_golongan": "golongan tiga"},
        None,
        "pangkat_golongan",
        people.RANK_UNKNOWN,
    ),
    (
        "rank and grade disagree",
        lambda r: {"pangkat_golongan": "Pembina, III/a"},
        None,
        "pangkat_golongan",
        people.RANK_MISMATCH,
    ),
    (
        "mentor by an unknown e-mail",
        lambda r: {"nip_mentor": "tidak.ada@example.go.id"},
        None,
        "nip_mentor",
        imports.UNKNOWN_MENTOR,
    ),
    (
        "mentor neither NIP nor e-mail",
        lambda r: {"nip_mentor": "Pak Budi"},
        None,
        "nip_mentor",
        imports.BAD_REF,
    ),
    ("e-mail malformed", lambda r: {"email": "rina@"}, None, "email", imports.BAD_EMAIL),
    ("e-mail missing", lambda r: {"email": ""}, None, "email", imports.REQUIRED),
    (
        "formula =",
        lambda r: {"nama": '=HYPERLINK("http://x","klik")'},
        None,
        "nama",
        imports.FORMULA,
    ),
    ("formula +", lambda r: {"jabatan": "+62 811"}, None, "jabatan", imports.FORMULA),
    ("formula -", lambda r: {"jabatan": "-2+3"}, None, "jabatan", imports.FORMULA),
    ("formula @", lambda r: {"instansi": "@SUM(A1)"}, None, "instansi", imports.FORMULA),
    ("too long", lambda r: {"nama": "A" * 201}, None, "nama", imports.TOO_LONG),
    (
        "mentor unknown",
        lambda r: {"nip_mentor": "197001012000011001"},
        None,
        "nip_mentor",
        imports.UNKNOWN_MENTOR,
    ),
    ("executive missing", lambda r: {"nip_pimpinan": ""}, None, "nip_pimpinan", imports.REQUIRED),
    ("mentor NIP malformed", lambda r: {"nip_mentor": "123"}, None, "nip_mentor", imports.BAD_NIP),
    ("own mentor", lambda r: {"nip_mentor": r["nip"]}, None, "nip_mentor", imports.SELF_REFERENCE),
    ("NIP taken", lambda r: {}, _nip_taken, "nip", imports.NIP_TAKEN),
    ("e-mail taken", lambda r: {}, _email_taken, "email", imports.EMAIL_TAKEN),
    ("already in cohort", lambda r: {}, _in_cohort, "nip", imports.ALREADY_IN_COHORT),
]


def test_each_bad_row_is_marked_beside_its_cell_and_imports_nothing(setup):
    """One file, one bad trainee row per case of the table after three good rows."""
    rows = base_rows()
    for i, (_label, change, prepare, _column, _message) in enumerate(BAD_ROWS):
        r = trainee(i)
        if prepare:
            prepare(setup, r)
        r.update(change(r))
        rows.append(r)
    db.session.commit()
    before = counts()
    batch = batch_of(setup, rows)
    assert [bool(r["errors"]) for r in batch.rows[:3]] == [False, False, False]
    for (label, _change, _prepare, column, message), bad in zip(
        BAD_ROWS, batch.rows[3:], strict=True
    ):
        # Only that cell of that row.
        assert set(bad["errors"]) == {column}, (label, bad["errors"])
        assert fragment(message) in bad["errors"][column], label
    n = len(BAD_ROWS)
    assert imports.counts(batch.rows) == {"total": 3 + n, "ok": 3, "errors": n}
    users, cases, batches = counts()
    assert (users, cases, batches) == (before[0], before[1], before[2] + 1)
    # Without "skip the rows with errors" the confirmation imports nothing.
    with pytest.raises(Blocked) as refused:
        imports.confirm(batch, setup.organizer)
    assert str(refused.value.message) == str(imports.HAS_ERRORS)
    db.session.rollback()
    assert counts() == (users, cases, batches)
    assert db.session.get(ImportBatch, batch.id).imported_at is None
    # With it, exactly the three good rows.
    summary = imports.confirm(batch, setup.organizer, skip_errors=True)
    assert (summary["created"], summary["cases"], summary["skipped"]) == (3, 1, n)
    assert counts()[:2] == (users + 3, cases + 1)


def test_duplicates_within_the_file_are_marked_on_both_rows(setup):
    rows = base_rows() + [
        trainee(1, email="sama@example.go.id"),
        trainee(2, email="SAMA@example.go.id"),
        row("peserta", TRAINEE_NIP, "Rina lagi", email="lain@example.go.id"),
    ]
    batch = batch_of(setup, rows)
    by_line = {r["line"]: r["errors"] for r in batch.rows}
    assert by_line[5]["email"] == str(imports.DUPLICATE_EMAIL) % {"line": 6}
    assert by_line[6]["email"] == str(imports.DUPLICATE_EMAIL) % {"line": 5}
    assert by_line[4]["nip"] == str(imports.DUPLICATE_NIP) % {"line": 7}
    assert by_line[7]["nip"] == str(imports.DUPLICATE_NIP) % {"line": 4}


def test_a_trainee_whose_mentor_row_is_bad_is_skipped_with_a_reason(setup):
    rows = base_rows()
    rows[0]["email"] = "not-an-address"
    batch = batch_of(setup, rows)
    assert set(batch.rows[0]["errors"]) == {"email"}
    assert batch.rows[1]["errors"] == {}
    assert batch.rows[2]["errors"] == {
        "nip_mentor": str(imports.BAD_REF_ROW) % {"line": 2},
    }
    before = counts()
    summary = imports.confirm(batch, setup.organizer, skip_errors=True)
    assert summary["skipped"] == 2 and summary["cases"] == 0 and summary["created"] == 1
    assert counts()[:2] == (before[0] + 1, before[1])
    assert db.session.scalar(select(User).where(User.nip == EXEC_NIP)).name == "Siti Rahmah"


def test_mentor_and_executive_columns_of_other_roles_are_ignored(setup):
    rows = base_rows()
    rows[0]["nip_mentor"] = "whatever"
    batch = batch_of(setup, rows)
    assert imports.counts(batch.rows)["errors"] == 0


# ---------------------------------------------------------------- confirming


def test_confirm_imports_accounts_and_cases_in_one_go(setup):
    before = counts()
    batch = batch_of(setup, base_rows())
    assert [r["account"] for r in batch.rows] == ["new", "new", "new"]
    summary = imports.confirm(batch, setup.organizer)
    assert summary["created"] == 3 and summary["cases"] == 1 and summary["skipped"] == 0
    assert summary["reused"] == 0
    assert counts() == (before[0] + 3, before[1] + 1, before[2] + 1)
    people = {u.nip: u for u in db.session.scalars(select(User).where(User.nip.is_not(None)))}
    rina = people[TRAINEE_NIP]
    assert rina.username == TRAINEE_NIP
    assert rina.password_hash == "" and not rina.check_password("")
    assert rina.institution_id == setup.cohort.program.institution_id
    assert rina.agency.name == AGENCY and rina.position == "Kepala Seksi"
    case = db.session.scalar(select(Case).where(Case.trainee_id == rina.id))
    assert case.cohort_id == setup.cohort.id and case.state == "draft"
    assert case.mentor_id == people[MENTOR_NIP].id
    assert case.executive_id == people[EXEC_NIP].id
    stored = db.session.get(ImportBatch, batch.id)
    assert stored.imported_at is not None
    assert stored.summary["cases"] == 1


def test_new_accounts_get_an_invitation_and_reused_ones_do_not(setup):
    mentor = _existing(MENTOR_NIP, "budi@example.test")
    db.session.commit()
    rows = base_rows()
    rows[0]["email"] = "BUDI@example.test"
    batch = batch_of(setup, rows)
    assert batch.rows[0]["account"] == "existing" and batch.rows[0]["user_id"] == mentor.id
    summary = imports.confirm(batch, setup.organizer)
    assert summary["created"] == 2 and summary["reused"] == 1 and summary["invited"] == 2
    invited = set(
        db.session.scalars(select(OneTimeToken.user_id).where(OneTimeToken.purpose == "invite"))
    )
    new = set(db.session.scalars(select(User.id).where(User.nip.in_([EXEC_NIP, TRAINEE_NIP]))))
    assert invited == new
    case = db.session.scalar(
        select(Case).where(Case.cohort_id == setup.cohort.id).order_by(Case.id.desc())
    )
    assert case.mentor_id == mentor.id


def test_a_mentor_may_be_an_existing_account_not_in_the_file(setup):
    mentor = _existing(MENTOR_NIP, "budi@example.test")
    db.session.commit()
    batch = batch_of(setup, base_rows()[1:])
    assert imports.counts(batch.rows)["errors"] == 0
    imports.confirm(batch, setup.organizer)
    case = db.session.scalar(
        select(Case).join(User, User.id == Case.trainee_id).where(User.nip == TRAINEE_NIP)
    )
    assert case.mentor_id == mentor.id


def test_skip_bad_rows_imports_exactly_the_good_rows(setup):
    rows = base_rows() + [
        trainee(1),
        trainee(2, instansi="Tidak Ada"),
        trainee(3, nama=""),
        trainee(4, instansi="bkpsdm"),  # by short name, any case
    ]
    batch = batch_of(setup, rows)
    assert imports.counts(batch.rows) == {"total": 7, "ok": 5, "errors": 2}
    before = counts()
    summary = imports.confirm(batch, setup.organizer, skip_errors=True)
    assert summary == {
        "created": 5,
        "reused": 0,
        "cases": 3,
        "skipped": 2,
        "invited": 5,
    }
    assert counts()[:2] == (before[0] + 5, before[1] + 3)
    names = set(
        db.session.scalars(
            select(User.name)
            .join(Case, Case.trainee_id == User.id)
            .where(Case.cohort_id == setup.cohort.id)
        )
    )
    assert names == {setup.trainee.name, "Rina Wulandari", "Peserta 1", "Peserta 4"}
    bk = db.session.scalar(select(User).where(User.name == "Peserta 4"))
    assert bk.agency.short_name == "BKPSDM"


def test_confirming_twice_imports_once(setup):
    batch = batch_of(setup, base_rows())
    first = imports.confirm(batch, setup.organizer)
    after = counts()
    tokens = db.session.scalar(select(func.count()).select_from(OneTimeToken))
    again = imports.confirm(db.session.get(ImportBatch, batch.id), setup.organizer)
    assert again["again"] is True and again["cases"] == first["cases"]
    assert counts() == after
    assert db.session.scalar(select(func.count()).select_from(OneTimeToken)) == tokens


def test_a_change_since_the_preview_refuses_and_refreshes_the_preview(setup):
    batch = batch_of(setup, base_rows())
    # Meanwhile someone creates an account with the trainee's NIP.
    _existing(TRAINEE_NIP, "other@example.test")
    db.session.commit()
    before = counts()
    with pytest.raises(Blocked) as refused:
        imports.confirm(batch, setup.organizer)
    assert str(refused.value.message) == str(imports.CHANGED)
    assert counts() == before
    stored = db.session.get(ImportBatch, batch.id)
    assert stored.imported_at is None
    assert stored.rows[2]["errors"] == {"nip": str(imports.NIP_TAKEN)}


def test_a_file_with_no_good_row_cannot_be_confirmed(setup):
    batch = batch_of(setup, [trainee(1, nama="")])
    before = counts()
    with pytest.raises(Blocked):
        imports.confirm(batch, setup.organizer, skip_errors=True)
    assert counts() == before


def test_a_taken_username_gets_a_suffix(setup):
    factories.create_user(username=TRAINEE_NIP, nip=None, email="x@example.test")
    factories.create_user(username=f"{TRAINEE_NIP}-2", nip=None, email="y@example.test")
    db.session.commit()
    imports.confirm(batch_of(setup, base_rows()), setup.organizer)
    rina = db.session.scalar(select(User).where(User.nip == TRAINEE_NIP))
    assert rina.username == f"{TRAINEE_NIP}-3"


# ---------------------------------------------------------------- formats


def test_csv_with_semicolons_bom_aliases_and_spaced_nips(setup):
    header = (
        "Role",
        "No. Absen",
        "NIP",
        "Nama Lengkap",
        "E-mail",
        "Pangkat / Golongan",
        "Jabatan",
        "Instansi",
        "NIP Mentor",
        "Nip_Pimpinan",
    )
    rows = [[r[k] for k in KEYS] for r in base_rows()]
    rows[2][2] = "19850620 201001 2 015"  # how NIPs are often written
    data = csv_of(rows, header=header, delimiter=";", bom=True)
    batch = imports.create_batch(setup.cohort, setup.organizer, upload(data, "daftar.csv"))
    assert imports.counts(batch.rows) == {"total": 3, "ok": 3, "errors": 0}
    assert batch.rows[2]["values"]["nip"] == TRAINEE_NIP
    assert batch.rows[0]["line"] == 2


def test_csv_keeps_quoted_commas_and_newlines(setup):
    rows = base_rows()
    rows[2]["nama"] = "Rina Wulandari, S.E., M.Si."
    batch = batch_of(setup, rows)
    assert batch.rows[2]["values"]["nama"] == "Rina Wulandari, S.E., M.Si."
    assert imports.counts(batch.rows)["errors"] == 0


def test_xlsx_first_sheet_with_numbers_and_a_formula(setup):
    rows = base_rows() + [trainee(1), trainee(2)]
    wb = Workbook()
    ws = wb.active
    ws.append(list(KEYS))
    for r in rows:
        ws.append([r[k] for k in KEYS])
    ws.append([""] * len(KEYS))  # trailing empty row: ignored
    ws["D5"] = '=CONCAT("A","B")'  # a real formula in the name of trainee 1
    ws["C6"] = 199001012010011002  # typed as a number: a spreadsheet keeps 15 digits
    other = wb.create_sheet("lain")
    other.append(["not", "read"])
    out = io.BytesIO()
    wb.save(out)
    batch = imports.create_batch(setup.cohort, setup.organizer, upload(out.getvalue(), "x.xlsx"))
    assert len(batch.rows) == 5
    assert batch.rows[3]["errors"] == {"nama": str(imports.FORMULA)}
    assert batch.rows[4]["errors"] == {"nip": str(imports.NUMERIC_NIP)}
    assert batch.rows[2]["values"]["nip"] == TRAINEE_NIP  # text cells stay exact


def test_xlsx_nip_stored_as_a_float_lost_its_digits(setup):
    rows = base_rows()
    rows[2]["nip"] = 1.98506202010012e17
    batch = batch_of(setup, rows, maker=xlsx_of, name="x.xlsx")
    assert batch.rows[2]["errors"] == {"nip": str(imports.NUMERIC_NIP)}


def test_the_templates_parse_as_they_are(setup):
    for data in (imports.template_xlsx(), imports.template_csv()):
        rows = imports.check_rows(setup.cohort, imports.parse(data))
        assert [r["values"]["peran"] for r in rows] == ["mentor", "pimpinan", "peserta"]
        assert all(not r["errors"] for r in rows), rows


def test_extra_cells_beyond_the_header_are_a_row_error(setup):
    data = csv_of([[*base_rows()[0].values(), "lebih"]])
    rows = imports.check_rows(setup.cohort, imports.parse(data))
    assert rows[0]["errors"] == {"_row": str(imports.EXTRA_CELLS)}


def test_two_thousand_rows_are_checked_in_a_few_queries(setup):
    from tests.test_http_home import counting_statements

    rows = base_rows() + [trainee(i) for i in range(1997)]
    parsed = imports.parse(csv_of(rows))
    with counting_statements() as statements:
        checked = imports.check_rows(setup.cohort, parsed)
    assert len(checked) == 2000 and imports.counts(checked)["errors"] == 0
    assert len(statements) <= 20, len(statements)


# ---------------------------------------------------------------- hostile workbooks


def _rezip(data: bytes, change) -> bytes:
    """The workbook with its parts passed through change(name, bytes) -> bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(
                info.filename,
                change(info.filename, src.read(info.filename)),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


def _declare(ref: str):
    def change(name: str, body: bytes) -> bytes:
        if name.startswith("xl/worksheets/sheet"):
            start = body.index(b'<dimension ref="') + len(b'<dimension ref="')
            end = body.index(b'"', start)
            return body[:start] + ref.encode() + body[end:]
        return body

    return change


@pytest.mark.parametrize("ref", ["A1:I1048576", "A1:I20000", "A1:XFD3"])
def test_a_workbook_declaring_a_huge_sheet_is_refused_before_reading(ref):
    small = xlsx_of([["peserta", "1" * 18, "Ani", "ani@example.go.id", "", "X", "", ""]])
    with pytest.raises(ImportRefused):
        imports.parse(_rezip(small, _declare(ref)), "besar.xlsx")


def test_a_workbook_that_unpacks_to_too_much_is_refused():
    small = xlsx_of([["peserta", "1" * 18, "Ani", "ani@example.go.id", "", "X", "", ""]])
    padding = b"<si><t>" + b"a" * (30 * 1024 * 1024) + b"</t></si>"

    def change(name: str, body: bytes) -> bytes:
        if name == "xl/sharedStrings.xml" or name.endswith("sheet1.xml"):
            return body.replace(b"</worksheet>", b"<!--" + padding + b"--></worksheet>")
        return body

    bomb = _rezip(small, change)
    assert len(bomb) < 200_000  # a small upload...
    with pytest.raises(ImportRefused) as info:
        imports.parse(bomb, "bom.xlsx")
    assert str(info.value.message) == str(imports.TOO_BIG_UNPACKED)


def test_an_overlong_cell_is_stored_cut_and_flagged():
    long_name = {"peran": "peserta", "nama": "A" * 50_000, "email": "ani@example.go.id"}
    rows = imports.parse(xlsx_of([long_name]), "panjang.xlsx")
    assert len(rows[0]["values"]["nama"]) == imports.TEXT_MAX + 1


# ---------------------------------------------------------------- NDH, pangkat/golongan, no NIP


@pytest.mark.parametrize(
    ("maker", "name"), [(csv_of, "peserta.csv"), (xlsx_of, "peserta.xlsx")], ids=["csv", "xlsx"]
)
def test_ndh_rank_and_position_are_stored(setup, maker, name):
    rows = base_rows()
    rows[2].update(ndh="12", pangkat_golongan="iii/a", jabatan="Kepala Sub Bagian Umum")
    rows[0].update(pangkat_golongan="Pembina Tk. I (IV/b)")
    if maker is xlsx_of:
        rows[2]["ndh"] = 12  # typed as a number in the workbook
    batch = batch_of(setup, rows, maker=maker, name=name)
    assert imports.counts(batch.rows)["errors"] == 0, batch.rows
    # The preview shows what will be stored.
    assert batch.rows[2]["values"]["pangkat_golongan"] == "Penata Muda, III/a"
    assert batch.rows[0]["values"]["pangkat_golongan"] == "Pembina Tingkat I, IV/b"
    imports.confirm(batch, setup.organizer)
    rina = db.session.scalar(select(User).where(User.nip == TRAINEE_NIP))
    assert (rina.rank, rina.position) == ("Penata Muda, III/a", "Kepala Sub Bagian Umum")
    case = db.session.scalar(select(Case).where(Case.trainee_id == rina.id))
    assert case.ndh == 12
    budi = db.session.scalar(select(User).where(User.nip == MENTOR_NIP))
    assert budi.rank == "Pembina Tingkat I, IV/b"


def test_a_duplicate_ndh_is_marked_on_both_rows_and_ignored_for_other_roles(setup):
    rows = base_rows() + [trainee(1, ndh="5"), trainee(2, ndh="05")]
    rows[2]["ndh"] = "5"
    rows[0]["ndh"] = "5"  # a mentor has no NDH: the column is not read for them
    batch = batch_of(setup, rows)
    by_line = {r["line"]: r["errors"] for r in batch.rows}
    assert by_line[2] == {}
    assert by_line[4] == {"ndh": str(imports.DUPLICATE_NDH) % {"line": 5}}
    assert by_line[5] == {"ndh": str(imports.DUPLICATE_NDH) % {"line": 4}}
    assert by_line[6] == {"ndh": str(imports.DUPLICATE_NDH) % {"line": 4}}
    before = counts()
    with pytest.raises(Blocked):
        imports.confirm(batch, setup.organizer)
    db.session.rollback()
    assert counts() == before


def test_rows_without_a_nip_are_people_by_their_e_mail_address(setup):
    """A kepala daerah (no NIP) as executive, named by e-mail; a non-ASN trainee."""
    rows = [
        row("mentor", MENTOR_NIP, "Budi Santoso"),
        row(
            "pimpinan",
            "",
            "Drs. H. Bupati Terpilih",
            email="bupati@kukarkab.go.id",
            pangkat_golongan="",
            jabatan="Bupati Kutai Kartanegara",
        ),
        row(
            "peserta",
            "",
            "Andi Non-ASN",
            email="Andi.Pratama@example.id",
            pangkat_golongan="",
            ndh="3",
            nip_pimpinan="BUPATI@kukarkab.go.id",
        ),
    ]
    batch = batch_of(setup, rows)
    assert imports.counts(batch.rows) == {"total": 3, "ok": 3, "errors": 0}, batch.rows
    summary = imports.confirm(batch, setup.organizer)
    assert (summary["created"], summary["cases"]) == (3, 1)
    andi = db.session.scalar(select(User).where(User.email == "andi.pratama@example.id"))
    bupati = db.session.scalar(select(User).where(User.email == "bupati@kukarkab.go.id"))
    assert andi.nip is None and bupati.nip is None
    assert andi.username == "andi.pratama" and bupati.username == "bupati"
    case = db.session.scalar(select(Case).where(Case.trainee_id == andi.id))
    assert case.executive_id == bupati.id and case.ndh == 3
    assert case.mentor.nip == MENTOR_NIP
    # The same list again: the same people, by e-mail; the trainee is already in.
    again = batch_of(setup, rows)
    assert [r.get("account") for r in again.rows[:2]] == ["existing", "existing"]
    assert again.rows[2]["errors"] == {
        "email": str(imports.ALREADY_IN_COHORT),
        "ndh": str(imports.NDH_TAKEN),
    }


def test_an_account_without_a_nip_is_matched_by_e_mail_and_completed(setup):
    budi = _existing(None, "budi@example.test", position="")
    db.session.commit()
    rows = base_rows()
    rows[0].update(email="Budi@example.test", pangkat_golongan="IV/a", jabatan="Kabid")
    batch = batch_of(setup, rows)
    assert batch.rows[0]["account"] == "existing" and batch.rows[0]["user_id"] == budi.id
    imports.confirm(batch, setup.organizer)
    db.session.refresh(budi)
    assert (budi.nip, budi.rank, budi.position) == (MENTOR_NIP, "Pembina, IV/a", "Kabid")


def test_a_batch_stored_before_the_new_columns_still_imports(setup):
    batch = batch_of(setup, base_rows())
    batch.rows = [
        dict(
            r, values={k: v for k, v in r["values"].items() if k not in ("ndh", "pangkat_golongan")}
        )
        for r in batch.rows
    ]
    db.session.commit()
    summary = imports.confirm(db.session.get(ImportBatch, batch.id), setup.organizer)
    assert summary["cases"] == 1


def test_the_preview_shows_the_new_columns_and_their_errors(client, setup):
    from tests.test_http_helpers import check_markup, english, login, page_token

    rows = base_rows() + [trainee(1, ndh="x", pangkat_golongan="golongan tiga")]
    rows[2].update(ndh="4", pangkat_golongan="III/a")
    english(client)
    login(client, setup.organizer)
    c = setup.cohort.id
    token = page_token(client, f"/cohorts/{c}/import")
    page = client.get(f"/cohorts/{c}/import").get_data(as_text=True)
    assert "<code>ndh</code>" in page and "<code>pangkat_golongan</code>" in page
    assert "Penata Muda, III/a" in page  # the column's help says the form expected
    response = client.post(
        f"/cohorts/{c}/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_of(rows)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    check_markup(html)
    assert ">ndh</th>" in html and ">pangkat_golongan</th>" in html
    assert "Penata Muda, III/a" in html
    assert 'data-error="ndh"' in html and "NDH is a whole number" in html
    assert 'data-error="pangkat_golongan"' in html and "Unknown rank" in html
