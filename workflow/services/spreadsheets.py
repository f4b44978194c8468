"""CSV and XLSX files people open in Excel or LibreOffice.

Text that starts like a formula (=, +, -, @, tab, CR) is made inert: in XLSX it is
stored as a string cell, so the text stays exactly as typed; in CSV, which has no types,
it gets a leading apostrophe (the OWASP advice), which spreadsheets hide.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel's own limit per cell; longer text would make the file unreadable.
CELL_MAX = 32767


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    if looks_like_formula(value):
        return "'" + value
    return value


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads the Indonesian names right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(str(h)) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(ws, value: object, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        # Control characters (a stray \x0b pasted into a title) are not allowed in XLSX:
        # dropped, so one trainee's text cannot break the whole cohort's export.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:CELL_MAX]
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        # openpyxl turns text starting with "=" into a formula; a string cell never is.
        cell.data_type = "s"
    elif isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    if bold:
        cell.font = Font(bold=True)
    return cell


def xlsx_bytes(
    sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]],
    widths: dict[str, Sequence[int]] | None = None,
) -> bytes:
    """One workbook; each sheet is (title, headers, rows). Written streaming, so a long
    table does not build a whole workbook in memory."""
    wb = Workbook(write_only=True)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title=title[:31])
        for i, width in enumerate((widths or {}).get(title, ())):
            ws.column_dimensions[_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        ws.append([_cell(ws, str(h), bold=True) for h in headers])
        for row in rows:
            ws.append([_cell(ws, v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
