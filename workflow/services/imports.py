"""Participant lists from CSV or XLSX: read, check every row, keep the checked rows as an
ImportBatch for the organizer to preview, and import them on confirmation.

A file that cannot be a participant list (wrong type, empty, unknown or missing columns,
too many rows, too big) is refused whole and nothing is stored. Otherwise each row is
kept with its values and a message per bad cell; nothing becomes an account or a case
until the organizer confirms, in one transaction, exactly the rows they saw.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .. import jobs, tasks
from ..extensions import db
from ..models import Agency, Case, Cohort, ImportBatch, Program, User
from ..models._base import utcnow
from . import people, spreadsheets
from .documents import clean_name, max_upload_bytes
from .errors import Blocked, Conflict, WorkflowError
from .workflow import start_case

log = logging.getLogger(__name__)

MAX_ROWS = 2000
# Rows per preview page: a 2,000-row list stays readable and light.
PAGE_SIZE = 100
# SQL IN lists are sent in chunks this long (old SQLite builds allow 999 parameters).
CHUNK = 500
NDH_MAX = 9999
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
TEXT_MAX = 200
# A workbook is a zip: a few KB can unpack to gigabytes or declare a million empty rows,
# so its unpacked size and its sheet's declared size are checked before reading it.
XLSX_UNPACKED_MAX = 50 * 1024 * 1024
XLSX_PART_MAX = 20 * 1024 * 1024
XLSX_MAX_COLUMNS = 64
# Numbers this large lost digits in a spreadsheet (a double keeps 15-16 digits).
PRECISE_MAX = 10**15


class ImportRefused(WorkflowError):
    """The whole file is refused; nothing was stored."""

    status = 422


@dataclass(frozen=True)
class Column:
    key: str  # the template's header (Indonesian), also the key in stored rows
    label: object  # lazy text for the preview's header
    aliases: tuple[str, ...]
    required: bool = True
    nip: bool = False
    help: object = ""  # lazy text: what goes in the column (the upload page lists them)


COLUMNS = (
    Column("peran", _l("Role"), ("role",), help=_l("peserta, mentor or pimpinan (executive).")),
    Column(
        "ndh",
        _l("NDH"),
        ("no_absen", "nomor_absen", "nomor_daftar_hadir", "no_daftar_hadir"),
        required=False,
        help=_l(
            "Optional, for peserta rows: the attendance number (nomor daftar hadir), a whole "
            "number used once in the cohort."
        ),
    ),
    Column(
        "nip",
        _l("NIP"),
        (),
        required=False,
        nip=True,
        help=_l(
            "Optional (leave empty for non-ASN people such as a kepala daerah): 18 digits; "
            "spaces are ignored. Format the column as text in Excel."
        ),
    ),
    Column(
        "nama", _l("Name"), ("name", "nama_lengkap", "full_name"), help=_l("Full name with titles.")
    ),
    Column(
        "email",
        _l("E-mail"),
        ("e_mail", "surel", "alamat_email", "email_address"),
        help=_l("The invitation to set a password is sent here."),
    ),
    Column(
        "pangkat_golongan",
        _l("Rank/grade"),
        ("pangkat", "golongan", "pangkat_gol", "rank", "grade"),
        required=False,
        help=_l("Optional: as “Penata Muda, III/a”, or only the golongan (I/a to IV/e)."),
    ),
    Column(
        "jabatan",
        _l("Position"),
        ("position", "job_title"),
        required=False,
        help=_l("Optional."),
    ),
    Column(
        "instansi",
        _l("Agency"),
        ("agency", "opd", "unit_kerja", "organization"),
        help=_l("The agency's name or short name as registered."),
    ),
    Column(
        "nip_mentor",
        _l("Mentor's NIP"),
        ("mentor_nip", "nip_atasan", "mentor"),
        nip=True,
        help=_l(
            "For peserta rows: the mentor's NIP, or e-mail address when they have no NIP "
            "(a row of the file or an account)."
        ),
    ),
    Column(
        "nip_pimpinan",
        _l("Executive's NIP"),
        ("executive_nip", "nip_sponsor", "sponsor_nip", "pimpinan", "executive"),
        nip=True,
        help=_l(
            "For peserta rows: the executive's NIP, or e-mail address when they have no NIP "
            "(a kepala daerah; a row of the file or an account)."
        ),
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
KEYS = tuple(c.key for c in COLUMNS)
REF_COLUMNS = {"nip_mentor": "mentor", "nip_pimpinan": "executive"}

# The role a row gives its person; Indonesian first, English accepted.
ROLES = {
    "peserta": "trainee",
    "trainee": "trainee",
    "participant": "trainee",
    "mentor": "mentor",
    "pimpinan": "executive",
    "executive": "executive",
    "sponsor": "executive",
}
ROLE_WORDS = "peserta, mentor, pimpinan"

# Refusals of a whole file.
NOT_A_TABLE = _l(
    "“%(name)s” is not a CSV or XLSX file. Its content decides, not its name: save the "
    "list from the template as .xlsx or .csv and upload it again."
)
MACROS = _l(
    "“%(name)s” contains macros, which are not accepted. Save it as a plain Excel "
    "workbook (.xlsx) or as CSV."
)
OLD_EXCEL = _l("Old Excel files (.xls) are not accepted. Save the list as .xlsx or as CSV.")
NOT_UTF8 = _l("The CSV file is not UTF-8 text. In Excel choose “CSV UTF-8” when saving.")
UNREADABLE = _l("The file could not be read as a table. Save it again from the template.")
TOO_BIG_UNPACKED = _l(
    "The workbook is too large once unpacked. Keep only the participant list in the first "
    "sheet, or save it as CSV."
)
EMPTY = _l("The file is empty.")
NO_ROWS = _l("The file has a header but no participant rows.")
TOO_MANY = _l("The file has more than %(n)s rows. Split the list into files of at most %(n)s rows.")
TOO_LARGE = _l("The file is too large (at most %(mb)s MB).")
NO_FILE = _l("Choose a file to upload.")
BAD_NAME = _l("The file name is not acceptable. Rename the file and try again.")
UNKNOWN_COLUMNS = _l("Unknown columns: %(names)s. Use the template's columns: %(known)s.")
MISSING_COLUMNS = _l("Missing columns: %(names)s. Use the template's columns: %(known)s.")
DUPLICATE_COLUMNS = _l("Columns that appear twice: %(names)s.")

# Problems of a row, shown beside the cell.
REQUIRED = _l("Required.")
TOO_LONG = _l("Too long (at most %(n)d characters).")
FORMULA = _l("Formulas are not allowed.")
BAD_ROLE = _l("Unknown role; use one of: %(roles)s.")
BAD_NIP = people.NIP_LENGTH
BAD_REF = _l("Write the NIP or the e-mail address of this person.")
BAD_NDH = _l("NDH is a whole number from 1 to %(max)d.")
DUPLICATE_NDH = _l("This NDH is also on line %(line)d.")
NDH_TAKEN = _l("Another trainee of this cohort already has this NDH.")
NUMERIC_NIP = _l(
    "The NIP was stored as a number and lost its last digits. Format the column as text "
    "and type the NIP again."
)
BAD_EMAIL = _l("Not an e-mail address.")
UNKNOWN_AGENCY = _l("Unknown agency. Use its name or short name as registered.")
AMBIGUOUS_AGENCY = _l("Several agencies have this short name; use the full name.")
DUPLICATE_NIP = _l("This NIP is also on line %(line)d.")
DUPLICATE_EMAIL = _l("This e-mail address is also on line %(line)d.")
NIP_TAKEN = _l("This NIP belongs to an existing account with another e-mail address.")
EMAIL_TAKEN = _l("This e-mail address belongs to an existing account with another NIP.")
ALREADY_IN_COHORT = _l("This trainee already has a case in this cohort.")
SELF_REFERENCE = _l("A trainee cannot be their own mentor or executive.")
UNKNOWN_MENTOR = _l("No one with this NIP or e-mail address in the file or among the accounts.")
BAD_REF_ROW = _l("The row of this person (line %(line)d) has errors, so this row is skipped too.")
EXTRA_CELLS = _l("This row has more cells than the header has columns.")

# Confirmation.
HAS_ERRORS = _l(
    "Some rows have errors, so nothing was imported. Fix the file and upload it again, "
    "or tick “Skip the rows with errors” to import only the good rows."
)
CHANGED = _l(
    "Accounts or cases changed since the preview, so nothing was imported. The preview "
    "below is up to date: check it and confirm again."
)
NOTHING_GOOD = _l("No row can be imported.")
RACE = _l("Someone imported or changed these accounts at the same time. Upload the file again.")


# ---------------------------------------------------------------- reading a file


def _fmt(message, **params) -> str:
    """A lazy message translated now, with its placeholders filled."""
    return str(message) % params


def read_upload(file_storage) -> tuple[bytes, str]:
    """The bytes of an uploaded list within the size limit and its clean name, or
    ImportRefused. Checking the type is parse()'s job."""
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise ImportRefused(NO_FILE)
    raw_name = file_storage.filename
    if (
        "/" in raw_name
        or "\\" in raw_name
        or any(unicodedata.category(c) == "Cc" for c in raw_name)
    ):
        raise ImportRefused(BAD_NAME)
    limit = max_upload_bytes()
    data = file_storage.stream.read(limit + 1)
    if len(data) > limit:
        mb = current_app.config.get("MAX_UPLOAD_MB", 10)
        raise ImportRefused(_fmt(TOO_LARGE, mb=f"{mb:g}"))
    if not data:
        raise ImportRefused(EMPTY)
    return data, clean_name(raw_name, fallback="peserta.csv", ext=None)


def sniff(data: bytes) -> str | None:
    """'xlsx', 'csv', or None; refuses macro workbooks and old Excel files by name."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_kind(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .xls, .doc
        return "xls"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text ("Unicode text" in Excel)
        return "csv"
    binary_magic = (b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z")
    if data.startswith(binary_magic) or b"\x00" in data[:8192]:
        return None
    return "csv"


def _xlsx_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                return None
            infos = archive.infolist()
            if (
                sum(i.file_size for i in infos) > XLSX_UNPACKED_MAX
                or max(i.file_size for i in infos) > XLSX_PART_MAX
            ):
                return "too_big"
            types = archive.read("[Content_Types].xml")
            if any(n.lower().endswith("vbaproject.bin") for n in names) or b"macroEnabled" in types:
                return "macro"
            return "xlsx"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None


@dataclass
class RawTable:
    header: list[str]
    rows: list[tuple[int, list]]  # (line number, cells)


def cell_text(value) -> tuple[str, bool]:
    """(text, lost_digits): a spreadsheet cell as the text a person typed."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value)), abs(value) >= PRECISE_MAX
        return repr(value), False
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(
            value
        ), False
    if isinstance(value, date):
        return value.isoformat(), False
    return str(value), False


def read_csv(data: bytes) -> RawTable:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(NOT_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportRefused(NOT_UTF8) from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    # Excel in an Indonesian locale writes ';' (the decimal comma takes ',').
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise ImportRefused(UNREADABLE) from None
    return _table(enumerate(lines, start=1))


def read_xlsx(data: bytes) -> RawTable:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a broken workbook
        raise ImportRefused(UNREADABLE) from None
    try:
        if not workbook.worksheets:
            raise ImportRefused(EMPTY)
        sheet = workbook.worksheets[0]
        # The declared size (a forged <dimension> pads every row out to it).
        if (sheet.max_row or 0) > MAX_ROWS * 2 + 100:
            raise ImportRefused(_fmt(TOO_MANY, n=format_decimal(MAX_ROWS)))
        if (sheet.max_column or 0) > XLSX_MAX_COLUMNS:
            raise ImportRefused(TOO_BIG_UNPACKED)
        rows = sheet.iter_rows(max_col=XLSX_MAX_COLUMNS, values_only=True)
        return _table(enumerate(rows, start=1))
    except ImportRefused:
        raise
    except Exception:
        raise ImportRefused(UNREADABLE) from None
    finally:
        workbook.close()


def _table(lines) -> RawTable:
    """Header (first non-empty row) and the non-empty rows after it, at most MAX_ROWS."""
    header = None
    rows: list[tuple[int, list]] = []
    for number, cells in lines:
        # Empty lines count too: a file of a million blank rows is refused, not walked.
        if number > MAX_ROWS * 2 + 100:
            raise ImportRefused(_fmt(TOO_MANY, n=format_decimal(MAX_ROWS)))
        cells = list(cells or ())
        if not any(cell_text(c)[0].strip() for c in cells):
            continue
        if header is None:
            header = [cell_text(c)[0] for c in cells]
            continue
        rows.append((number, cells))
        if len(rows) > MAX_ROWS:
            raise ImportRefused(_fmt(TOO_MANY, n=format_decimal(MAX_ROWS)))
    if header is None:
        raise ImportRefused(EMPTY)
    return RawTable(header, rows)


def normal_header(text: str) -> str:
    text = text.replace("\ufeff", "").strip().lower().rstrip("*").strip()
    return re.sub(r"[\s\-./]+", "_", text)


def parse(
    data: bytes, name: str = "", columns: tuple[Column, ...] = COLUMNS, no_rows=NO_ROWS
) -> list[dict]:
    """Rows of a list of people (by default the participant list: `columns` names another,
    such as a campaign's people) as {"line", "values", "numeric"}, or ImportRefused."""
    kind = sniff(data)
    if kind == "macro":
        raise ImportRefused(_fmt(MACROS, name=name))
    if kind == "xls":
        raise ImportRefused(OLD_EXCEL)
    if kind == "too_big":
        raise ImportRefused(TOO_BIG_UNPACKED)
    if kind is None:
        raise ImportRefused(_fmt(NOT_A_TABLE, name=name))
    table = read_xlsx(data) if kind == "xlsx" else read_csv(data)
    keys = tuple(c.key for c in columns)
    by_cell = _columns(table.header, columns)
    if not table.rows:
        raise ImportRefused(no_rows)
    parsed = []
    for number, cells in table.rows:
        values = dict.fromkeys(keys, "")
        numeric = []
        extra = False
        for index, cell in enumerate(cells):
            text, lost = cell_text(cell)
            key = by_cell[index] if index < len(by_cell) else None
            if key is None:
                extra = extra or bool(text.strip())
                continue
            # Kept one character past the limit: enough for "too long" in the preview,
            # never megabytes of one repeated string in the stored batch.
            values[key] = text.strip()[: TEXT_MAX + 1]
            if lost:
                numeric.append(key)
        row = {"line": number, "values": values, "numeric": numeric}
        if extra:
            row["extra"] = True
        parsed.append(row)
    return parsed


def _columns(header: list[str], columns: tuple[Column, ...]) -> list[str | None]:
    """The column key of each header cell (None for an empty trailing one), or refuse."""
    headers = {alias: c.key for c in columns for alias in (c.key, *c.aliases)}
    keys: list[str | None] = []
    unknown, seen, twice = [], set(), []
    for text in header:
        normal = normal_header(text)
        if not normal:
            keys.append(None)
            continue
        key = headers.get(normal)
        if key is None:
            unknown.append(text.strip())
        elif key in seen:
            twice.append(text.strip())
        if key is not None:
            seen.add(key)
        keys.append(key)
    known = ", ".join(c.key for c in columns)
    if unknown:
        raise ImportRefused(_fmt(UNKNOWN_COLUMNS, names=", ".join(unknown), known=known))
    if twice:
        raise ImportRefused(_fmt(DUPLICATE_COLUMNS, names=", ".join(twice)))
    missing = [c.key for c in columns if c.required and c.key not in seen]
    if missing:
        raise ImportRefused(_fmt(MISSING_COLUMNS, names=", ".join(missing), known=known))
    return keys


# ---------------------------------------------------------------- checking rows


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _users_where(column, values: set[str]) -> list[User]:
    found: list[User] = []
    for part in _chunks(sorted(values)):
        found.extend(db.session.scalars(select(User).where(column.in_(part))))
    return found


def agency_index() -> dict[str, Agency | None]:
    """Lower-cased name and short name → agency; None where a short name is ambiguous."""
    index: dict[str, Agency | None] = {}
    agencies = db.session.scalars(select(Agency)).all()
    for agency in agencies:
        if agency.short_name.strip():
            key = agency.short_name.strip().lower()
            index[key] = None if key in index and index[key] is not agency else agency
    for agency in agencies:  # a full name wins over someone's short name
        index[agency.name.strip().lower()] = agency
    return index


def normal_nip(text: str) -> str:
    # NIPs are often written in groups: "19780512 200501 1 003".
    return re.sub(r"\s+", "", text or "")


def ref_key(text: str) -> str | None:
    """How a row or a reference names a person: "nip:<18 digits>" or "email:<lower>"."""
    text = (text or "").strip()
    if not text:
        return None
    return f"email:{text.lower()}" if "@" in text else f"nip:{normal_nip(text)}"


def identity(row: dict) -> str:
    """A row's person: by NIP when the row has one, else by e-mail address."""
    values = row["values"]
    return ref_key(values["nip"]) or ref_key(values["email"]) or f"line:{row['line']}"


def _own_keys(row: dict) -> set[str]:
    values = row["values"]
    return {k for k in (ref_key(values["nip"]), ref_key(values["email"])) if k}


def _nip_error(row: dict, key: str) -> str | None:
    if key in row.get("numeric", ()):
        return str(NUMERIC_NIP)
    return people.check_nip(row["values"][key]).error


def _static_errors(row: dict) -> dict[str, str]:
    """What is wrong with a row on its own (no database, no other rows)."""
    values, errors = row["values"], {}
    role = ROLES.get(values["peran"].lower())
    for column in COLUMNS:
        text = values[column.key]
        if column.nip:
            continue
        if spreadsheets.looks_like_formula(text):
            errors[column.key] = str(FORMULA)
        elif len(text) > TEXT_MAX:
            errors[column.key] = _fmt(TOO_LONG, n=TEXT_MAX)
    for key in ("peran", "nama", "email", "instansi"):
        if not values[key] and key not in errors:
            errors[key] = str(REQUIRED)
    if values["peran"] and role is None and "peran" not in errors:
        errors["peran"] = _fmt(BAD_ROLE, roles=ROLE_WORDS)
    if values["email"] and "email" not in errors and not EMAIL_RE.match(values["email"]):
        errors["email"] = str(BAD_EMAIL)
    # The NIP is optional: a kepala daerah or a non-ASN participant has none.
    if values["nip"]:
        problem = _nip_error(row, "nip")
        if problem:
            errors["nip"] = problem
    if values["pangkat_golongan"] and "pangkat_golongan" not in errors:
        problem = people.check_rank(values["pangkat_golongan"]).error
        if problem:
            errors["pangkat_golongan"] = problem
    if role == "trainee":
        _trainee_errors(row, errors)
    if row.get("extra"):
        errors["_row"] = str(EXTRA_CELLS)
    return errors


def _trainee_errors(row: dict, errors: dict[str, str]) -> None:
    """The columns only a trainee row uses: NDH, and whom it names as mentor and executive
    (by NIP, or by e-mail address for someone without one)."""
    values = row["values"]
    ndh = values["ndh"]
    if ndh and "ndh" not in errors:
        if not (ndh.isascii() and ndh.isdigit()) or not 1 <= int(ndh) <= NDH_MAX:
            errors["ndh"] = _fmt(BAD_NDH, max=NDH_MAX)
    for key in REF_COLUMNS:
        text = values[key]
        if not text:
            errors[key] = str(REQUIRED)
        elif "@" in text:
            if not EMAIL_RE.match(text):
                errors[key] = str(BAD_EMAIL)
        elif not normal_nip(text).isdigit():
            errors[key] = str(BAD_REF)
        else:
            problem = _nip_error(row, key)
            if problem:
                errors[key] = problem
    own = _own_keys(row)
    for key in REF_COLUMNS:
        if key not in errors and ref_key(values[key]) in own:
            errors[key] = str(SELF_REFERENCE)


def check_rows(cohort: Cohort, parsed: list[dict]) -> list[dict]:
    """Each parsed row with its errors ({column: message}) and, when it is valid so far,
    whether it makes a new account or reuses one ("account": "new" | "existing", "user_id").
    A constant number of queries, whatever the number of rows."""
    rows = []
    for item in parsed:
        # A batch stored before a column existed reads it as empty.
        values = {key: item["values"].get(key, "") for key in KEYS}
        for key in ("nip", *REF_COLUMNS):
            if "@" not in values[key]:
                values[key] = normal_nip(values[key])
        values["email"] = values["email"].lower()
        for key in REF_COLUMNS:
            if "@" in values[key]:
                values[key] = values[key].strip().lower()
        row = {"line": item["line"], "values": values, "errors": {}}
        if item.get("numeric"):
            row["numeric"] = list(item["numeric"])
        if item.get("extra"):
            row["extra"] = True
        row["errors"] = _static_errors(row)
        # What will be stored, shown in the preview: "III/a" becomes "Penata Muda, III/a".
        if values["pangkat_golongan"] and "pangkat_golongan" not in row["errors"]:
            values["pangkat_golongan"] = people.check_rank(values["pangkat_golongan"]).value
        if values["ndh"] and "ndh" not in row["errors"] and role_of(row) == "trainee":
            values["ndh"] = str(int(values["ndh"]))
        rows.append(row)

    agencies = agency_index()
    for row in rows:
        name = row["values"]["instansi"]
        if name and "instansi" not in row["errors"]:
            key = name.lower()
            if key not in agencies:
                row["errors"]["instansi"] = str(UNKNOWN_AGENCY)
            elif agencies[key] is None:
                row["errors"]["instansi"] = str(AMBIGUOUS_AGENCY)

    _mark_duplicates(rows, "nip", DUPLICATE_NIP)
    _mark_duplicates(rows, "email", DUPLICATE_EMAIL)
    trainees = [r for r in rows if role_of(r) == "trainee"]
    _mark_duplicates(trainees, "ndh", DUPLICATE_NDH)
    _ndh_taken(cohort, trainees)
    _match_accounts(cohort, rows)
    _check_references(rows)
    return rows


def _mark_duplicates(rows: list[dict], key: str, message) -> None:
    first: dict[str, dict] = {}
    for row in rows:
        value = row["values"][key]
        if not value or key in row["errors"]:
            continue
        if value in first:
            other = first[value]
            row["errors"][key] = _fmt(message, line=other["line"])
            other["errors"].setdefault(key, _fmt(message, line=row["line"]))
        else:
            first[value] = row


def _ndh_taken(cohort: Cohort, trainees: list[dict]) -> None:
    """An NDH already given to a case of the cohort (one query)."""
    wanted = [r for r in trainees if r["values"]["ndh"] and "ndh" not in r["errors"]]
    if not wanted:
        return
    taken = {
        str(n)
        for n in db.session.scalars(
            select(Case.ndh).where(Case.cohort_id == cohort.id, Case.ndh.is_not(None))
        )
    }
    for row in wanted:
        if row["values"]["ndh"] in taken:
            row["errors"]["ndh"] = str(NDH_TAKEN)


def _match_accounts(cohort: Cohort, rows: list[dict]) -> None:
    nips = {r["values"]["nip"] for r in rows if r["values"]["nip"]}
    emails = {r["values"]["email"] for r in rows if r["values"]["email"]}
    by_nip = {u.nip: u for u in _users_where(User.nip, nips)}
    by_email = {u.email.lower(): u for u in _users_where(func.lower(User.email), emails)}
    in_cohort = set(db.session.scalars(select(Case.trainee_id).where(Case.cohort_id == cohort.id)))
    for row in rows:
        values, errors = row["values"], row["errors"]
        has_nip = bool(values["nip"])
        owner_nip = by_nip.get(values["nip"]) if has_nip and "nip" not in errors else None
        owner_email = by_email.get(values["email"]) if "email" not in errors else None
        # Without a NIP the e-mail address names the person; an account without a NIP is
        # the same person as a row giving one with its address (the NIP is filled in).
        same = owner_email is not None and (
            (owner_nip is not None and owner_nip.id == owner_email.id)
            or (owner_nip is None and (not has_nip or owner_email.nip is None))
        )
        if same and "nip" not in errors:
            row["account"], row["user_id"] = "existing", owner_email.id
            if role_of(row) == "trainee" and owner_email.id in in_cohort:
                errors["nip" if has_nip else "email"] = str(ALREADY_IN_COHORT)
            continue
        if owner_nip is not None:
            errors["nip"] = str(NIP_TAKEN)
        if owner_email is not None:
            errors["email"] = str(EMAIL_TAKEN)
        row["account"] = "new"
    # The people referred to who are not rows of this file.
    in_file = set().union(*(_own_keys(r) for r in rows)) if rows else set()
    referred = {
        ref_key(r["values"][key])
        for r in rows
        if role_of(r) == "trainee"
        for key in REF_COLUMNS
        if r["values"][key] and key not in r["errors"]
    } - in_file
    known = _known_keys(referred)
    for row in rows:
        if role_of(row) != "trainee":
            continue
        for key in REF_COLUMNS:
            ref = ref_key(row["values"][key])
            if key not in row["errors"] and ref not in in_file and ref not in known:
                row["errors"][key] = str(UNKNOWN_MENTOR)


def _known_keys(keys: set[str]) -> set[str]:
    """Which of these "nip:…"/"email:…" keys name an account (two queries at most)."""
    nips = {k[4:] for k in keys if k.startswith("nip:")}
    emails = {k[6:] for k in keys if k.startswith("email:")}
    found = {f"nip:{u.nip}" for u in _users_where(User.nip, nips)} if nips else set()
    if emails:
        found |= {f"email:{u.email.lower()}" for u in _users_where(func.lower(User.email), emails)}
    return found


def _users_by_keys(keys: set[str]) -> dict[str, User]:
    nips = {k[4:] for k in keys if k.startswith("nip:")}
    emails = {k[6:] for k in keys if k.startswith("email:")}
    found: dict[str, User] = {}
    for user in _users_where(User.nip, nips) if nips else []:
        found[f"nip:{user.nip}"] = user
    for user in _users_where(func.lower(User.email), emails) if emails else []:
        found[f"email:{user.email.lower()}"] = user
    return found


def _check_references(rows: list[dict]) -> None:
    """A trainee whose mentor's or executive's row is bad cannot be imported either; until
    nothing changes, as a trainee may mentor another."""
    by_key: dict[str, dict] = {}
    for row in rows:
        for key in _own_keys(row):
            by_key.setdefault(key, row)
    changed = True
    while changed:
        changed = False
        for row in rows:
            if role_of(row) != "trainee":
                continue
            for key in REF_COLUMNS:
                other = by_key.get(ref_key(row["values"][key]))
                if other is not None and other["errors"] and key not in row["errors"]:
                    row["errors"][key] = _fmt(BAD_REF_ROW, line=other["line"])
                    changed = True
    for row in rows:
        if row["errors"]:
            row.pop("account", None)
            row.pop("user_id", None)


def counts(rows: list[dict]) -> dict[str, int]:
    bad = sum(1 for r in rows if r["errors"])
    return {"total": len(rows), "ok": len(rows) - bad, "errors": bad}


# ---------------------------------------------------------------- the batch


def create_batch(cohort: Cohort, organizer: User, file_storage) -> ImportBatch:
    """Read, parse and check an uploaded list and keep it for the preview (committed), or
    ImportRefused having stored nothing."""
    data, name = read_upload(file_storage)
    return store_batch(cohort, organizer, data, name)


def store_batch(cohort: Cohort, organizer: User, data: bytes, name: str) -> ImportBatch:
    rows = check_rows(cohort, parse(data, name))
    batch = ImportBatch(
        cohort_id=cohort.id, organizer_id=organizer.id, filename=name[:255], rows=rows
    )
    db.session.add(batch)
    db.session.commit()
    return batch


def _signature(rows: list[dict]) -> list:
    """What a confirmation relies on: which cells are bad and which accounts are reused
    (not the messages, which follow the reader's language)."""
    return [(r["line"], sorted(r["errors"]), r.get("account"), r.get("user_id")) for r in rows]


def role_of(row: dict) -> str | None:
    return ROLES.get(row["values"]["peran"].lower())


# A job's refusal, kept in the batch's summary for the organizer's next look.
FAILURES = {"changed": CHANGED, "has_errors": HAS_ERRORS, "nothing_good": NOTHING_GOOD}


def confirm(batch: ImportBatch, actor: User, skip_errors: bool = False) -> dict:
    """Check a batch again and hand its import to a job (AKSI_JOBS=inline: done before this
    returns). A refusal is raised here and writes nothing but the rows as they are now.
    Returns the summary: {"queued": True} while the job has not run, the import's counts
    once it has; a second confirmation changes nothing and returns the first one's."""
    if batch.imported_at is not None:
        return dict(batch.summary, again=True)
    _checked(batch, skip_errors)
    batch.summary = {"queued": True}  # the preview says so until the job is done
    jobs.after_commit(tasks.run_import, batch.id, actor.id, skip_errors)
    db.session.commit()
    db.session.refresh(batch)
    failed = batch.summary.get("failed")
    if failed == "race":
        raise Conflict(RACE)
    if failed:
        raise Blocked(FAILURES[failed])
    return dict(batch.summary)


def _checked(batch: ImportBatch, skip_errors: bool) -> tuple[Cohort, list[dict], list[dict]]:
    """The batch's rows checked again: (cohort, all rows, good rows), or Blocked."""
    cohort = db.session.get(Cohort, batch.cohort_id)
    fresh = check_rows(cohort, batch.rows)
    if _signature(fresh) != _signature(batch.rows):
        # Show the organizer the rows as they are now; still no account, no case.
        batch.rows = fresh
        batch.summary = {}
        db.session.commit()
        raise Blocked(CHANGED)
    good = [r for r in fresh if not r["errors"]]
    bad = len(fresh) - len(good)
    if bad and not skip_errors:
        raise Blocked(HAS_ERRORS)
    if not good:
        raise Blocked(NOTHING_GOOD)
    return cohort, fresh, good


def failure_of(batch: ImportBatch) -> str | None:
    """Why the import job of a batch refused it, in the reader's language."""
    failed = (batch.summary or {}).get("failed")
    if not failed:
        return None
    return str(RACE if failed == "race" else FAILURES.get(failed, CHANGED))


def running(batch: ImportBatch) -> bool:
    return batch.imported_at is None and bool((batch.summary or {}).get("queued"))


def run_queued(batch_id: int, actor_id: int, skip_errors: bool) -> dict | None:
    """The import job: a refusal is kept in the batch's summary instead of raised."""
    batch = db.session.get(ImportBatch, batch_id)
    actor = db.session.get(User, actor_id)
    if batch is None or actor is None:
        return None
    if batch.imported_at is not None:
        return dict(batch.summary, again=True)
    try:
        return _apply(batch, actor, skip_errors)
    except (Blocked, Conflict) as exc:
        db.session.rollback()
        code = (
            "race"
            if exc.message is RACE
            else next((k for k, v in FAILURES.items() if v is exc.message), "changed")
        )
        batch = db.session.get(ImportBatch, batch_id)
        if batch.imported_at is None:
            batch.summary = {"failed": code}
            db.session.commit()
        return None


def _apply(batch: ImportBatch, actor: User, skip_errors: bool) -> dict:
    """Import the good rows of a checked batch in one transaction: new accounts (without a
    password) and one case per trainee; then invite the new accounts (another job)."""
    cohort, fresh, good = _checked(batch, skip_errors)
    bad = len(fresh) - len(good)
    now = utcnow()
    try:
        # Claim the batch: of two confirmations at once, only one finds it unimported.
        claimed = db.session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch.id, ImportBatch.imported_at.is_(None))
            .values(imported_at=now)
        ).rowcount
        if not claimed:
            db.session.rollback()
            db.session.refresh(batch)
            return dict(batch.summary, again=True)
        known, created = _accounts_for(cohort, good)
        cases = 0
        for row in good:
            if role_of(row) != "trainee":
                continue
            values = row["values"]
            start_case(
                cohort,
                known[identity(row)],
                mentor=known[ref_key(values["nip_mentor"])],
                executive=known[ref_key(values["nip_pimpinan"])],
                ndh=int(values["ndh"]) if values["ndh"] else None,
            )
            cases += 1
        summary = {
            "created": len(created),
            "reused": sum(1 for r in good if r.get("account") == "existing"),
            "cases": cases,
            "skipped": bad,
        }
        batch.rows = fresh
        batch.imported_at = now
        batch.summary = summary
        new_ids = [u.id for u in created]  # known since the flush; read before commit expires
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(RACE) from None
    except BaseException:
        db.session.rollback()
        raise
    summary = dict(summary, invited=_invite(new_ids, actor))
    batch.summary = summary
    db.session.commit()  # the invitations' job starts after this commit
    return summary


def _keys_of(user: User) -> list[str]:
    keys = [f"email:{user.email.lower()}"] if user.email else []
    return keys + ([f"nip:{user.nip}"] if user.nip else [])


def _accounts_for(cohort: Cohort, good: list[dict]) -> tuple[dict[str, User], list[User]]:
    """ "nip:…"/"email:…" → account for every good row and every person a trainee row
    refers to; the accounts it had to create (uncommitted). An existing account gets what
    it lacks from its row (NIP, pangkat/golongan, jabatan); nothing it has is overwritten."""
    institution_id = db.session.scalar(
        select(Program.institution_id).where(Program.id == cohort.program_id)
    )
    agencies = agency_index()
    existing = {r["user_id"]: r for r in good if r.get("account") == "existing"}
    known: dict[str, User] = {}
    for part in _chunks(list(existing)):
        for user in db.session.scalars(select(User).where(User.id.in_(part))):
            values = existing[user.id]["values"]
            if not user.nip and values["nip"]:
                user.nip = values["nip"]
            if not user.rank and values["pangkat_golongan"]:
                user.rank = values["pangkat_golongan"]
            if not user.position and values["jabatan"]:
                user.position = values["jabatan"]
            for key in _keys_of(user):
                known[key] = user
    new_rows = [r for r in good if r.get("account") == "new"]
    usernames = free_usernames([username_base(r["values"]) for r in new_rows])
    created = []
    for row, username in zip(new_rows, usernames, strict=True):
        values = row["values"]
        user = User(
            username=username,
            name=values["nama"],
            email=values["email"],
            nip=values["nip"] or None,
            rank=values["pangkat_golongan"],
            position=values["jabatan"],
            password_hash="",
            institution_id=institution_id,
            agency=agencies[values["instansi"].lower()],
        )
        for key in _keys_of(user):
            known[key] = user
        created.append(user)
    db.session.add_all(created)
    referred = {
        ref_key(r["values"][key]) for r in good if role_of(r) == "trainee" for key in REF_COLUMNS
    } - set(known)
    known.update(_users_by_keys(referred))
    db.session.flush()
    return known, created


def username_base(values: dict) -> str:
    """The NIP; without one, the e-mail address's local part (letters, digits, . _ -)."""
    if values["nip"]:
        return values["nip"]
    local = re.sub(r"[^a-z0-9._-]+", "", values["email"].split("@")[0].lower())
    return (local or "peserta")[:60]


def free_usernames(bases: list[str]) -> list[str]:
    """A unique username per new account, in order: its base (the NIP), or the base with a
    suffix if taken (two addresses may share a local part)."""
    taken: set[str] = set()
    for part in _chunks(bases):
        taken.update(db.session.scalars(select(User.username).where(User.username.in_(part))))
    for base in {b for b in bases if b in taken}:  # rare: look for the suffixes in use
        taken.update(
            db.session.scalars(select(User.username).where(User.username.like(f"{base}-%")))
        )
    result = []
    for base in bases:
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        result.append(name)
    return result


def _invite(user_ids: list[int], inviter: User) -> int:
    """Invitations for the new accounts, by a job after the commit: a mail problem never
    undoes an import (the organizer can send invitations again from the accounts pages)."""
    from . import accounts

    return accounts.queue_invitations(user_ids, inviter)


def good_rows(batch: ImportBatch) -> list[dict]:
    return [r for r in batch.rows if not r["errors"]]


# ---------------------------------------------------------------- the template

EXAMPLE_ROWS = (
    (
        "mentor",
        "",
        "197805122005011003",
        "Budi Santoso, S.Sos., M.Si.",
        "budi.santoso@example.go.id",
        "Pembina, IV/a",
        "Kepala Bidang Pemerintahan Desa",
        "DPMD Kutai Kartanegara",
        "",
        "",
    ),
    (
        "pimpinan",
        "",
        "196903151994031006",
        "Dr. Hj. Siti Rahmah, M.M.",
        "siti.rahmah@example.go.id",
        "Pembina Utama Muda, IV/c",
        "Kepala Dinas",
        "DPMD Kutai Kartanegara",
        "",
        "",
    ),
    (
        "peserta",
        "1",
        "198506202010012015",
        "Rina Wulandari, S.E.",
        "rina.wulandari@example.go.id",
        "Penata Tingkat I, III/d",
        "Kepala Seksi Perencanaan Desa",
        "DPMD Kutai Kartanegara",
        "197805122005011003",
        "196903151994031006",
    ),
)


def template_xlsx() -> bytes:
    widths = {"peserta": (12, 8, 22, 32, 32, 26, 34, 30, 22, 22)}
    return spreadsheets.xlsx_bytes([("peserta", KEYS, EXAMPLE_ROWS)], widths=widths)


def template_csv() -> bytes:
    return spreadsheets.csv_bytes(KEYS, EXAMPLE_ROWS)


def page_of(rows: list[dict], page: int, only_errors: bool = False) -> tuple[list[dict], int]:
    """One page of the preview and the number of pages."""
    if only_errors:
        rows = [r for r in rows if r["errors"]]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], pages
