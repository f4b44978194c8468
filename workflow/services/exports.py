"""The trainee table as a file: the dashboard's rows (with its filters and sort, all pages)
as CSV or XLSX through services.spreadsheets, which keeps formula-looking text inert."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l

from .dashboards import TableRow
from .spreadsheets import csv_bytes, xlsx_bytes

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

COLUMNS = (
    ("name", _l("Trainee")),
    ("title", _l("Title")),
    ("agency", _l("Agency")),
    ("region", _l("Regency/city")),
    ("province", _l("Province")),
    ("cohort", _l("Cohort")),
    ("group", _l("Group")),
    ("state", _l("State")),
    ("days", _l("Working days in state")),
    ("due", _l("Due date")),
    ("overdue", _l("Overdue")),
    ("closed", _l("Milestones closed")),
    ("milestones", _l("Short-term milestones")),
    ("score", _l("Score")),
    ("predicate", _l("Predicate")),
)
WIDTHS = (28, 40, 28, 22, 22, 20, 14, 26, 10, 12, 10, 10, 10, 8, 18)
SHEET = _l("Trainees")


def _value(row: TableRow, key: str, lang: str, as_text: bool):
    if key == "state":
        return row.state.labels.get(lang)
    if key == "days":
        return row.days_in_state
    if key == "due":
        if row.due_date is None:
            return None
        return row.due_date.isoformat() if as_text else row.due_date
    if key == "overdue":
        return str(_l("Yes")) if row.overdue else str(_l("No"))
    if key == "score":
        return row.final_score
    return getattr(row, key)


def table(rows: list[TableRow], lang: str, as_text: bool) -> tuple[list[str], list[list]]:
    headers = [str(label) for _key, label in COLUMNS]
    body = [[_value(r, key, lang, as_text) for key, _label in COLUMNS] for r in rows]
    return headers, body


def trainees_file(rows: list[TableRow], fmt: str, lang: str) -> bytes:
    """The rows as `fmt` (csv or xlsx)."""
    if fmt == "csv":
        return csv_bytes(*table(rows, lang, as_text=True))
    headers, body = table(rows, lang, as_text=False)
    title = str(SHEET)
    return xlsx_bytes([(title, headers, body)], widths={title: WIDTHS})


def slug(text: str) -> str:
    """ASCII, lower case, words joined by dashes: 'Angkatan II (2026)' -> 'angkatan-ii-2026'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].strip("-")


def filename(name: str | None, day: date, fmt: str) -> str:
    """peserta-<cohort>-<date>.<fmt>, or peserta-<date>.<fmt> for every cohort overseen."""
    parts = ["peserta"]
    if name and slug(name):
        parts.append(slug(name))
    parts.append(day.isoformat())
    return "-".join(parts) + "." + fmt
