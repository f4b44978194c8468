"""CSV and XLSX writing: formula-looking text stays inert text, control characters that
XLSX forbids are dropped, numbers and dates keep their types."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from workflow.services.spreadsheets import csv_bytes, looks_like_formula, xlsx_bytes

NASTY = ['=HYPERLINK("http://x","klik")', "+62 812", "-1+1", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("text", NASTY)
def test_formula_text_is_inert_in_both_formats(text):
    assert looks_like_formula(text)
    text_out = csv_bytes(["Judul"], [[text]]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text_out, newline="")))
    assert rows[1] == ["'" + text]
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([("Peserta", ["Judul"], [[text]])])))[
        "Peserta"
    ]
    cell = ws["A2"]
    assert cell.data_type == "s"
    # XML reads a carriage return back as a line feed; the text is otherwise as typed.
    assert cell.value == text.replace("\r", "\n")


def test_plain_values_keep_their_types():
    data = xlsx_bytes(
        [("Rekap", ["Nama", "Nilai", "Tanggal", "Kosong"], [["Ani", 83.5, date(2026, 6, 5), None]])]
    )
    ws = openpyxl.load_workbook(io.BytesIO(data))["Rekap"]
    assert [c.value for c in ws[2]][:2] == ["Ani", 83.5]
    assert ws["C2"].value.date() == date(2026, 6, 5)
    assert ws["D2"].value is None
    assert csv_bytes(["a", "b"], [["Ani", None]]).decode("utf-8-sig") == "a,b\r\nAni,\r\n"


def test_control_characters_are_dropped_not_an_error():
    data = xlsx_bytes([("Peserta", ["Judul"], [["Aksi\x0bbaru\x01"]])])
    ws = openpyxl.load_workbook(io.BytesIO(data))["Peserta"]
    assert ws["A2"].value == "Aksibaru"
