"""Official regions: `flask aksi regions load` (checked completely before writing, one
transaction, idempotent, renames keep the code) and the region service (search, tree)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from workflow.extensions import db
from workflow.models import Region
from workflow.services import regions as svc

DATA = Path(__file__).parent / "data" / "regions"
PACKAGE = Path(__file__).resolve().parent.parent / "node_modules" / "idn-area-data" / "data"


def load(runner, source=DATA, *extra):
    return runner.invoke(args=["aksi", "regions", "load", "--source", str(source), *extra])


def rows() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(
        select(Region.code, Region.level, Region.name, Region.kind, Region.parent_id).order_by(
            Region.id
        )
    ).all()


def by_code(code: str) -> Region:
    db.session.expire_all()
    return db.session.scalar(select(Region).where(Region.code == code))


@pytest.fixture
def loaded(runner):
    result = load(runner)
    assert result.exit_code == 0, result.output
    return result


# ---------------------------------------------------------------- loading


def test_load_builds_the_tree_with_levels_kinds_and_counts(loaded):
    out = loaded.output
    assert "provinces: 2 inserted, 0 updated, 0 unchanged" in out
    assert "regencies/cities: 3 inserted" in out
    assert "districts: 4 inserted" in out
    assert "villages: 7 inserted" in out
    lambar = by_code("18.04")
    assert (lambar.level, lambar.name, lambar.kind) == (
        "regency",
        "Kabupaten Lampung Barat",
        "kabupaten",
    )
    assert lambar.parent.code == "18" and lambar.updated_at is not None
    assert by_code("18.71").kind == "kota"
    sukau = by_code("18.04.11")
    assert (sukau.level, sukau.kind, sukau.parent_id) == ("district", None, lambar.id)
    assert by_code("18.04.11.2001").kind == "desa"
    kedaton = by_code("18.71.01.1003")
    assert (kedaton.level, kedaton.kind, kedaton.parent.code) == (
        "village",
        "kelurahan",
        "18.71.01",
    )


def test_second_load_changes_nothing_and_a_rename_keeps_the_code(runner, loaded, tmp_path):
    before = rows()
    again = load(runner)
    assert again.exit_code == 0, again.output
    assert "Done" in again.output and "0 inserted, 0 updated, 16 unchanged" in again.output
    assert rows() == before
    sukau_id = by_code("18.04.11").id
    source = tmp_path / "renamed"
    shutil.copytree(DATA, source)
    districts = source / "districts.csv"
    districts.write_text(districts.read_text().replace(",Sukau", ",Sukau Baru"))
    renamed = load(runner, source)
    assert renamed.exit_code == 0, renamed.output
    assert "districts: 0 inserted, 1 updated, 3 unchanged" in renamed.output
    sukau = by_code("18.04.11")
    assert (sukau.id, sukau.name) == (sukau_id, "Sukau Baru")


def test_rows_without_a_code_and_other_codes_are_left_alone(runner, app):
    # The demo and older data: hand-made rows, codes like "P1", an official code renamed.
    lampung = Region(level="province", name="Provinsi Lampung", code="18")
    Region(level="district", name="Kecamatan Sukau", parent=lampung)
    other = Region(level="province", name="Provinsi 1", code="P1")
    db.session.add_all([lampung, other])
    db.session.commit()
    result = load(runner)
    assert result.exit_code == 0, result.output
    assert "provinces: 1 inserted, 1 updated, 0 unchanged" in result.output
    assert by_code("18").id == lampung.id and by_code("18").name == "Lampung"
    assert by_code("P1").name == "Provinsi 1"
    hand = db.session.scalar(select(Region).where(Region.name == "Kecamatan Sukau"))
    assert (hand.code, hand.parent_id) == (None, lampung.id)


def test_province_option_loads_only_that_tree(runner, app):
    result = load(runner, DATA, "--province", "64")
    assert result.exit_code == 0, result.output
    assert {code for code, *_ in rows()} == {"64", "64.02", "64.02.01", "64.02.01.2001"}
    unknown = load(runner, DATA, "--province", "99")
    assert unknown.exit_code != 0 and "no province 99" in unknown.output
    assert len(rows()) == 4


def _replace(name: str, old: str, new: str):
    def change(source: Path) -> None:
        path = source / name
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1))

    return change


def _truncate(source: Path) -> None:
    path = source / "villages.csv"
    text = path.read_text()
    path.write_text(text[: text.rindex(",")])  # cut inside the last line: its name is gone


def _cut_between_lines(source: Path) -> None:
    # Cut right after a complete name: every line parses, only the line end is missing.
    path = source / "villages.csv"
    text = path.read_text()
    path.write_text(text.rstrip("\n"))


BAD = [
    ("bad header", _replace("regencies.csv", "province_code", "prov"), "regencies.csv, line 1",
     "expected the header"),
    ("bad code", _replace("districts.csv", "18.04.11,", "18.4.11,"), "districts.csv, line 3",
     "not a district code"),
    ("unknown parent", _replace("villages.csv", "18.04.06.2001,18.04.06", "18.04.07.2001,18.04.07"),
     "villages.csv, line 2", "unknown district_code 18.04.07"),
    ("parent mismatch", _replace("villages.csv", "2001,18.04.06", "2001,18.04.11"),
     "villages.csv, line 2", "does not match"),
    ("duplicate code", _replace("villages.csv", "18.04.11.2002,", "18.04.11.2001,"),
     "villages.csv, line 4", "duplicate code 18.04.11.2001 (first on line 3)"),
    ("empty name", _replace("provinces.csv", "64,Kalimantan Timur", "64, "),
     "provinces.csv, line 3", "empty name"),
    ("truncated last line", _truncate, "villages.csv, line 8", "truncated"),
    ("cut at a line's end", _cut_between_lines, "villages.csv, line 8", "no line end"),
    ("unterminated quote", _replace("villages.csv", ",Perian", ',"Perian'), "villages.csv, line 8",
     "not valid CSV"),
    ("missing file", lambda s: (s / "districts.csv").unlink(), "districts.csv", "file not found"),
    ("not utf-8", lambda s: (s / "regencies.csv").write_bytes(b"code,province_code,name\n\xff\n"),
     "regencies.csv", "not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "where", "what"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_file_is_named_with_its_line_and_nothing_is_written(
    runner, loaded, tmp_path, change, where, what
):
    # A rename in the same source proves that nothing at all was written.
    before = rows()
    source = tmp_path / "bad"
    shutil.copytree(DATA, source)
    _replace("provinces.csv", "18,Lampung", "18,Lampung Raya")(source)
    change(source)
    result = load(runner, source)
    assert result.exit_code != 0
    assert where in result.output and what in result.output, result.output
    assert "Nothing was written." in result.output
    assert rows() == before


def test_the_default_source_is_the_npm_package(app, make_app):
    with app.test_request_context():
        assert svc.default_directory() == PACKAGE
    assert svc.package_of(PACKAGE).startswith("idn-area-data ")
    other = make_app(REGIONS_DIR=str(DATA))
    with other.test_request_context():
        assert svc.default_directory() == DATA


def test_lampung_from_the_real_package(runner, app):
    result = runner.invoke(args=["aksi", "regions", "load", "--province", "18"])
    assert result.exit_code == 0, result.output
    assert "idn-area-data" in result.output
    lambar = svc.get_by_code("18.04")
    districts = svc.descendants_at_level(lambar, "district")
    assert len(districts) == 15
    assert "Sukau" in [d.name for d in districts]
    assert svc.get_by_code("18.04.11").name == "Sukau"
    assert len(svc.descendants_at_level(lambar, "village")) == 136
    assert db.session.scalar(select(func.count(Region.id)).where(Region.code.like("11%"))) == 0


# ---------------------------------------------------------------- reading the table


def count_statements():
    statements = []

    def record(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", record)


def test_search_labels_and_tree(loaded):
    sukau = svc.get_by_code("18.04.11")
    assert svc.label(sukau) == "Sukau — Kabupaten Lampung Barat, Lampung"
    assert [r.name for r in svc.ancestors(sukau)] == ["Kabupaten Lampung Barat", "Lampung"]
    found = svc.search("SUK")
    assert [r.code for r in found] == ["18.04.11"]
    assert [r.code for r in svc.search("kedaton")] == ["18.71.01", "18.71.01.1003"]
    assert [r.code for r in svc.search("kedaton", level="village")] == ["18.71.01.1003"]
    # Prefix matches before matches inside a word; by code too; `within` narrows.
    assert [r.name for r in svc.search("ra", level="village")] == ["Tanjung Raya", "Surabaya"]
    assert [r.code for r in svc.search("18.04.1")] == [
        "18.04.11",
        *[f"18.04.11.200{n}" for n in (1, 2, 3)],
    ]
    assert [r.code for r in svc.search("a", level="village", within="18.04.11")] == [
        "18.04.11.2003", "18.04.11.2002", "18.04.11.2001"
    ]  # fmt: skip
    assert svc.search("%") == [] and svc.search("a", level="town") == []
    assert svc.search("a", within="99") == []
    assert [r.code for r in svc.children("18.04")] == ["18.04.06", "18.04.11"]
    assert svc.children(svc.get_by_code("18.04").id) == svc.children("18.04")
    assert svc.children("99") == [] and svc.get_by_code("99") is None
    lambar = svc.get_by_code("18.04")
    assert [r.code for r in svc.descendants_at_level(lambar, "village")] == [
        "18.04.06.2001", "18.04.11.2001", "18.04.11.2002", "18.04.11.2003"
    ]  # fmt: skip
    assert svc.descendants_at_level(lambar, "province") == []
    assert svc.child_counts(svc.children("18")) == {lambar.id: 2, svc.get_by_code("18.71").id: 1}


def test_descendants_of_a_region_without_a_code_walk_the_parents(app):
    regency = Region(level="regency", name="Kabupaten Contoh")
    district = Region(level="district", name="Kecamatan Satu", parent=regency)
    Region(level="village", name="Desa Satu", parent=district)
    Region(level="village", name="Desa Dua", parent=district)
    db.session.add(regency)
    db.session.commit()
    assert [r.name for r in svc.descendants_at_level(regency, "village")] == [
        "Desa Dua",
        "Desa Satu",
    ]
    assert svc.label(district) == "Kecamatan Satu — Kabupaten Contoh"


def test_queries_do_not_grow_with_the_rows(loaded):
    lambar = svc.get_by_code("18.04")
    statements, stop = count_statements()
    try:
        svc.labels(svc.search("a", limit=3))
        small = len(statements)
        statements.clear()
        svc.labels(svc.search("a", limit=50))
        large = len(statements)
        statements.clear()
        svc.descendants_at_level(lambar, "village")
        descend = len(statements)
    finally:
        stop()
    assert small == large <= 4
    assert descend == 1
