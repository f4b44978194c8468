"""Data forms (workflow/services/forms.py): checking every type, saving with history and
refusals that write nothing, the submit guard, and the reasons of a return.

The forms tests run on tests/data/forms/survey.yaml (a small region-unit definition) loaded
beside the shipped definitions; `survey_world()` builds a campaign over two villages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import BASE_CONFIG
from tests.factories import create_user
from workflow import create_app
from workflow.engine import registry
from workflow.extensions import db
from workflow.models import (
    Campaign,
    CampaignMember,
    Case,
    CaseAssignment,
    FormEntry,
    FormRevision,
    Institution,
    Region,
)
from workflow.models._base import clock_at, utcnow
from workflow.services import Blocked, Conflict, Forbidden, NotAvailable, perform
from workflow.services import forms as F

ROOT = Path(__file__).resolve().parent.parent
DIRS = os.pathsep.join([str(ROOT / "state_machines"), str(ROOT / "tests/data/forms")])
KEY = "forms_survey"


# ---------------------------------------------------------------- building


@pytest.fixture
def app(make_app):
    app = make_app(DEFINITIONS_DIR=DIRS)
    with app.app_context():
        yield app


@dataclass
class SurveyWorld:
    campaign: Campaign
    case: Case
    other: Case
    enumerator: object
    other_enumerator: object
    supervisor: object
    village: Region
    other_village: Region


def survey_world(state: str = "filling", villages: int = 2) -> SurveyWorld:
    """A campaign over `villages` villages of one kecamatan: an enumerator per village (by
    region), one supervisor assigned to every case."""
    province = Region(level="province", name="Lampung", code="18")
    regency = Region(level="regency", name="Kabupaten Lampung Barat", code="18.04", parent=province)
    district = Region(level="district", name="Sukau", code="18.04.11", parent=regency)
    institution = Institution(code="dpmp-lb", name="DPMP Lampung Barat", region=regency)
    campaign = Campaign(
        institution=institution,
        name="Survei 2026",
        definition_key=KEY,
        definition_version=1,
        region=regency,
        deadline=date(2026, 12, 31),
    )
    db.session.add_all([province, regency, district, institution, campaign])
    supervisor = create_user(name="Pengawas Satu")
    cases, enumerators, units = [], [], []
    for i in range(villages):
        village = Region(
            level="village", name=f"Pekon {i + 1}", code=f"18.04.11.{2001 + i}", parent=district
        )
        db.session.add(village)
        enumerator = create_user(name=f"Pencacah {i + 1}")
        campaign.members.append(
            CampaignMember(
                role="survey_enumerator", user=enumerator, region=village, region_code=village.code
            )
        )
        case = Case(
            campaign=campaign,
            region=village,
            region_code=village.code,
            definition_key=KEY,
            definition_version=1,
            state=state,
            state_entered_at=utcnow(),
        )
        db.session.add(case)
        db.session.flush()
        db.session.add(CaseAssignment(case_id=case.id, role="survey_supervisor", user=supervisor))
        cases.append(case)
        enumerators.append(enumerator)
        units.append(village)
    db.session.commit()
    return SurveyWorld(
        campaign,
        cases[0],
        cases[1] if villages > 1 else None,
        enumerators[0],
        enumerators[1] if villages > 1 else None,
        supervisor,
        units[0],
        units[1] if villages > 1 else None,
    )


COMPLETE = {
    "population": "1.250",
    "households": "300",
    "men": "600",
    "women": "650",
    "head_name": "Budi Santoso",
    "kind": "desa",
    "has_office": "ya",
    "facilities": [{"name": "SDN 1 Sukau", "kind": "school", "built": "1985", "working": "yes"}],
}


def revisions(entry_id: int) -> list[tuple]:
    return db.session.execute(
        select(FormRevision.number, FormRevision.data, FormRevision.created_by_id)
        .where(FormRevision.entry_id == entry_id)
        .order_by(FormRevision.number)
    ).all()


def stored(case: Case) -> tuple | None:
    """The entry as the database holds it (data, notes, version) and its revisions."""
    db.session.expire_all()
    entry = F.entry_of(case, "survey")
    if entry is None:
        return None
    return (entry.data, entry.notes, entry.version, revisions(entry.id))


# ---------------------------------------------------------------- checking (no database)


@pytest.fixture(scope="module")
def spec():
    """The survey form in an app context (messages need Babel); no database is touched."""
    app = create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "DEFINITIONS_DIR": DIRS}
    )
    with app.app_context():
        yield registry.get(KEY, 1).form("survey")


CHECKS = [
    # (field, raw, clean value, message in English or None)
    ("population", "1234", 1234, None),
    ("population", "1.234", 1234, None),
    ("population", "1.000.000", 1000000, None),
    ("population", " 2 500 ", 2500, None),
    ("population", 250, 250, None),
    ("population", "", None, None),
    ("population", None, None, None),
    ("population", "1.000.001", None, "Population must be between 0 and 1,000,000 people."),
    ("population", "-1", None, "Population must be between 0 and 1,000,000 people."),
    ("population", "12,5", None, "Population must be a whole number."),
    ("population", "abc", None, "Population must be a number."),
    ("population", "1,234.5", None, "Population must be a number."),
    ("population", True, None, "Population must be a number."),
    ("population", "1e400", None, "Population must be a number."),
    ("households", "-3", None, "Households must be at least 0 households."),
    ("area", "2,5", 2.5, None),
    ("area", "0.75", 0.75, None),
    ("area", "1.234,5", 1234.5, None),
    ("area", "10001", None, "Area must be between 0 and 10,000 ha."),
    ("head_name", "  Budi  ", "Budi", None),
    ("head_name", "x" * 21, None, "Village head is too long: at most 20 characters."),
    ("head_name", 5, None, "Village head must be text."),
    ("remarks", "a\x00b", "ab", None),
    ("kind", "desa", "desa", None),
    ("kind", "kota", None, "Kind: choose one of the options."),
    ("founded", "2020-02-29", "2020-02-29", None),
    ("founded", "2021-02-29", None, "Founded on must be a date (YYYY-MM-DD)."),
    ("founded", "29/02/2020", None, "Founded on must be a date (YYYY-MM-DD)."),
    ("has_office", "yes", True, None),
    ("has_office", "ya", True, None),
    ("has_office", "tidak", False, None),
    ("has_office", False, False, None),
    ("has_office", "maybe", None, "Has an office: answer yes or no."),
    ("bogus", "1", None, "Unknown field."),
]


@pytest.mark.parametrize(("name", "raw", "value", "message"), CHECKS)
def test_check_each_type(spec, name, raw, value, message):
    clean, errors = F.check(spec, {name: raw}, "en")
    if message is None:
        assert errors == {}
        assert clean == {name: value}
        assert type(clean[name]) is type(value)
    else:
        assert errors == {name: message}
        assert name not in clean


def test_range_message_in_indonesian_names_the_label_and_unit(spec):
    _, errors = F.check(spec, {"population": "2.000.000"}, "id")
    assert "Jumlah penduduk" in errors["population"]
    assert "0" in errors["population"] and "1.000.000 jiwa" in errors["population"]


ROWS = [
    # (raw rows, clean rows or None, errors)
    (
        [{"name": "SD", "kind": "school", "built": "1.985", "working": "no"}, {"name": ""}],
        [{"name": "SD", "kind": "school", "built": 1985, "working": False}],
        {},
    ),
    ([], None, {}),
    (
        [{"name": "SD"}, {"name": "Pustu", "built": "1850"}],
        None,
        {
            "facilities[1].built": (
                "Public facilities, row 2: Year built must be between 1900 and 2100."
            )
        },
    ),
    (
        [{"name": "SD", "kind": "bank"}],
        None,
        {"facilities[0].kind": "Public facilities, row 1: Kind: choose one of the options."},
    ),
    ([{"name": "SD", "colour": "red"}], None, {"facilities[0].colour": "Unknown field."}),
    (["SD"], None, {"facilities[0]": "Public facilities: each row must be an object."}),
    ("SD", None, {"facilities": "Public facilities must be a list of rows."}),
    (
        [{"name": str(i)} for i in range(4)],
        None,
        {"facilities": "Public facilities: at most 3 rows."},
    ),
]


@pytest.mark.parametrize(("raw", "rows", "errors"), ROWS)
def test_check_rows(spec, raw, rows, errors):
    clean, found = F.check(spec, {"facilities": raw}, "en")
    assert found == errors
    if not errors:
        assert clean == {"facilities": rows}


RULES = [
    (
        {"households": "200", "population": "100"},
        {},
        {"households": "Households cannot exceed the population."},
    ),
    ({"households": "100", "population": "100"}, {}, {}),
    ({"households": "200"}, {}, {}),  # population unknown: not checked yet
    (
        {"households": "200"},
        {"population": 150},
        {"households": "Households cannot exceed the population."},
    ),
    ({"men": "10", "women": "5"}, {"population": 15}, {}),
    (
        {"men": "10", "women": "6"},
        {"population": 15},
        {"men": "Men + women must equal the population."},
    ),
]


@pytest.mark.parametrize(("raw", "base", "errors"), RULES)
def test_cross_field_checks(spec, raw, base, errors):
    _, found = F.check(spec, raw, "en", base=base)
    assert found == errors


def test_complete_lists_what_a_submission_lacks(spec):
    assert F.complete(spec, {}, "en") == {
        "population": "Population is not filled in yet.",
        "households": "Households is not filled in yet.",
        "head_name": "Village head is not filled in yet.",
        "kind": "Kind is not filled in yet.",
        "has_office": "Has an office is not filled in yet.",
        "facilities": "Public facilities is not filled in yet.",
    }
    clean, errors = F.check(spec, COMPLETE, "en")
    assert errors == {}
    assert F.complete(spec, clean, "en") == {}
    assert F.required_counts(spec, clean) == (6, 6)
    broken = {
        **clean,
        "population": 2_000_000,  # stored before the range tightened
        "households": 10,
        "men": 1,
        "facilities": [{"kind": "clinic"}],
    }
    assert F.complete(spec, broken, "en") == {
        "population": "Population must be between 0 and 1,000,000 people.",
        "facilities[0].name": "Public facilities, row 1: Name is not filled in yet.",
    }
    fixed_population = {**broken, "population": 1250}
    assert F.complete(spec, fixed_population, "en")["men"] == (
        "Men + women must equal the population."
    )


def test_number_boxes_show_what_reads_back_the_same(spec):
    for value in (0, 7, 1234, 1234.5, 0.25, 1_000_000):
        for lang in ("id", "en"):
            assert F.parse_number(F.number_text(value, lang)) == value
    assert F.number_text(1234.5, "id") == "1.234,5"
    assert F.number_text(1234.5, "en") == "1234.5"


# ---------------------------------------------------------------- saving


def test_save_stores_valid_fields_and_reports_the_others(app):
    w = survey_world()
    result = F.save(
        w.case, "survey", {"population": "1.250", "head_name": "Budi"}, w.enumerator, 0, lang="en"
    )
    assert result.errors == {} and result.version == 1
    result = F.save(
        w.case,
        "survey",
        {"population": "banyak", "households": "300", "founded": "kemarin"},
        w.enumerator,
        1,
        lang="en",
    )
    assert result.errors == {
        "population": "Population must be a number.",
        "founded": "Founded on must be a date (YYYY-MM-DD).",
    }
    assert result.version == 2 and result.changed == ["households"]
    data, notes, version, revs = stored(w.case)
    assert data == {"population": 1250, "head_name": "Budi", "households": 300}
    assert version == 2
    # One sitting of one person: one revision holding the latest data.
    assert revs == [(1, data, w.enumerator.id)]


def test_check_failure_is_stored_and_reported(app):
    w = survey_world()
    result = F.save(
        w.case, "survey", {"population": "100", "households": "200"}, w.enumerator, 0, lang="en"
    )
    assert result.errors == {}
    assert result.warnings == {"households": "Households cannot exceed the population."}
    assert stored(w.case)[0] == {"population": 100, "households": 200}


def test_emptying_a_field_removes_it_and_nothing_changed_writes_nothing(app):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100", "remarks": "x"}, w.enumerator, 0)
    result = F.save(w.case, "survey", {"population": "100"}, w.enumerator, 1)
    assert result.version == 1 and result.changed == []
    result = F.save(w.case, "survey", {"remarks": ""}, w.enumerator, 1)
    assert result.version == 2
    assert stored(w.case)[0] == {"population": 100}


def test_revisions_coalesce_per_person_within_ten_minutes(app):
    w = survey_world()
    start = datetime(2026, 5, 4, 1, 0)
    with clock_at(start):
        F.save(w.case, "survey", {"population": "100"}, w.enumerator, 0)
    with clock_at(start + timedelta(minutes=9)):
        F.save(w.case, "survey", {"population": "110"}, w.enumerator, 1)
    with clock_at(start + timedelta(minutes=18)):  # 9 minutes after the last save
        F.save(w.case, "survey", {"population": "120"}, w.enumerator, 2)
    with clock_at(start + timedelta(minutes=29)):
        F.save(w.case, "survey", {"population": "130"}, w.enumerator, 3)
    # Another person (an acting enumerator) starts a revision of their own.
    db.session.add(
        CampaignMember(
            campaign=w.campaign,
            role="survey_enumerator",
            user=w.other_enumerator,
            region=w.village,
            region_code=w.village.code,
        )
    )
    db.session.commit()
    with clock_at(start + timedelta(minutes=30)):
        F.save(w.case, "survey", {"households": "20"}, w.other_enumerator, 4)
    revs = stored(w.case)[3]
    assert [(n, d, by) for n, d, by in revs] == [
        (1, {"population": 120}, w.enumerator.id),
        (2, {"population": 130}, w.enumerator.id),
        (3, {"population": 130, "households": 20}, w.other_enumerator.id),
    ]
    entry = F.entry_of(w.case, "survey")
    history = F.history(entry)
    assert [h["revision"].number for h in history] == [3, 2, 1]
    assert [h["changed"] for h in history] == [["households"], ["population"], ["population"]]


def test_changing_a_returned_field_clears_its_reason(app):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100", "households": "20"}, w.enumerator, 0)
    entry = F.entry_of(w.case, "survey")
    F.record_reasons(
        w.case,
        F.form_of(w.case, "survey"),
        {"population": "Tidak sesuai data BPS", "households": "Cek lagi"},
        w.supervisor,
        utcnow(),
    )
    db.session.commit()
    version = entry.version
    # Saving households unchanged keeps its reason; changing population clears population's.
    F.save(w.case, "survey", {"population": "120", "households": "20"}, w.enumerator, version)
    _, notes, _, _ = stored(w.case)
    assert set(notes) == {"households"}


REFUSALS = [
    # (who, state, expected version, exception)
    ("supervisor", "filling", 1, Forbidden),
    ("other_enumerator", "filling", 1, Forbidden),
    ("enumerator", "review", 1, NotAvailable),
    ("enumerator", "filling", 0, Conflict),
    ("enumerator", "filling", None, Conflict),
    ("enumerator", "filling", 7, Conflict),
]


@pytest.mark.parametrize(("who", "state", "version", "error"), REFUSALS)
def test_refusals_write_nothing(app, who, state, version, error):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100"}, w.enumerator, 0)
    w.case.state = state
    db.session.commit()
    before = stored(w.case)
    with pytest.raises(error):
        F.save(w.case, "survey", {"population": "200"}, getattr(w, who), version)
    db.session.rollback()
    assert stored(w.case) == before


def test_first_save_refused_for_a_stranger_creates_no_entry(app):
    w = survey_world()
    with pytest.raises(Forbidden):
        F.save(w.case, "survey", {"population": "100"}, w.supervisor, 0)
    db.session.rollback()
    assert db.session.scalar(select(func.count(FormEntry.id))) == 0


def test_atomic_save_refuses_everything_when_one_field_is_bad(app):
    w = survey_world()
    with pytest.raises(Blocked) as caught:
        F.save(
            w.case,
            "survey",
            {"population": "100", "kind": "kota"},
            w.enumerator,
            0,
            lang="en",
            atomic=True,
        )
    assert caught.value.fields == {"kind": "Kind: choose one of the options."}
    db.session.rollback()
    assert stored(w.case) is None


def test_a_lost_race_is_a_conflict(app):
    w = survey_world()
    F.save(w.case, "survey", {"population": "100"}, w.enumerator, 0)
    entry = F.entry_of(w.case, "survey")
    # Someone else's save lands between this save's check and its write.
    db.session.execute(
        FormEntry.__table__.update()
        .where(FormEntry.id == entry.id)
        .values(version=entry.version + 1)
    )
    db.session.commit()
    db.session.expire_all()
    stale = F.entry_of(w.case, "survey")
    stale.version  # noqa: B018  (loaded with the new version; the check passes)
    with pytest.raises(Conflict):
        F.save(w.case, "survey", {"population": "110"}, w.enumerator, 1)


# ---------------------------------------------------------------- the guard and the return


def test_forms_complete_guard_names_section_and_field(app):
    w = survey_world()
    definition = registry.get(KEY, 1)
    with app.test_request_context(), _english():
        reasons = [str(r) for r in F.forms_complete(w.case, definition)]
    assert reasons[0] == "Section Population: Population is not filled in yet."
    assert "Section Facilities: Public facilities is not filled in yet." in reasons
    with pytest.raises(Blocked):
        perform(w.case, "submit", w.enumerator, expected_version=w.case.version)
    db.session.rollback()
    F.save(w.case, "survey", COMPLETE, w.enumerator, 0)
    assert F.forms_complete(w.case, definition) == []
    perform(w.case, "submit", w.enumerator, expected_version=w.case.version)
    assert w.case.state == "review"
    # Not editable in review: the guard of another state has nothing to say of it.
    assert F.forms_complete(w.case, definition) == []


class _english:
    def __enter__(self):
        from flask import g
        from flask_babel import refresh

        g.api_lang = "en"
        refresh()

    def __exit__(self, *exc):
        return False


REASONS = [
    # (data, reasons or the Blocked fields)
    ({"reasons": {"population": "  Tidak sesuai BPS "}}, {"population": "Tidak sesuai BPS"}),
    (
        {"reasons": {"kind": "Salah", "population": "Cek", "households": " "}},
        {"population": "Cek", "kind": "Salah"},
    ),
    ({}, {"reasons": "Give the reason beside at least one field that needs fixing."}),
    (
        {"reasons": {"population": "   "}},
        {"reasons": "Give the reason beside at least one field that needs fixing."},
    ),
    ({"reasons": {"colour": "x"}}, {"reasons.colour": "Unknown field."}),
    (
        {"reasons": {"population": "x" * 501}},
        {"reasons.population": "The reason is too long (at most 500 characters)."},
    ),
    ({"reasons": {"population": 5}}, {"reasons.population": "A reason must be text."}),
    ({"reasons": "semua salah"}, {"reasons": "Give the reasons as an object of field → text."}),
]


@pytest.mark.parametrize(("data", "expected"), REASONS)
def test_clean_reasons(app, data, expected):
    form = registry.get(KEY, 1).form("survey")
    with app.test_request_context(), _english():
        if all(k.startswith("reasons") for k in expected) and any(
            k == "reasons" or "." in k for k in expected
        ):
            with pytest.raises(Blocked) as caught:
                F.clean_reasons(form, data)
            assert {k: str(v) for k, v in caught.value.fields.items()} == expected
        else:
            reasons = F.clean_reasons(form, data)
            assert reasons == expected
            assert list(reasons) == list(expected)


def test_a_return_records_reasons_beside_fields_and_replaces_the_last(app):
    w = survey_world()
    F.save(w.case, "survey", COMPLETE, w.enumerator, 0)
    perform(w.case, "submit", w.enumerator, expected_version=w.case.version)
    with clock_at(datetime(2026, 5, 4, 2, 0)):
        event = perform(
            w.case,
            "return_survey",
            w.supervisor,
            data={"reasons": {"population": "Tidak sesuai data BPS"}},
            expected_version=w.case.version,
        )
    assert w.case.state == "returned"
    assert event.data["reasons"] == {"population": "Tidak sesuai data BPS"}
    _, notes, _, _ = stored(w.case)
    assert notes == {
        "population": {
            "reason": "Tidak sesuai data BPS",
            "by": w.supervisor.id,
            "at": "2026-05-04T02:00:00Z",
        }
    }
    # Refused without a reason: nothing moves, nothing is written.
    F.save(
        w.case,
        "survey",
        {"population": "1.260", "men": "610"},
        w.enumerator,
        F.entry_of(w.case, "survey").version,
    )
    perform(w.case, "submit", w.enumerator, expected_version=w.case.version)
    before = stored(w.case)
    with pytest.raises(Blocked):
        perform(
            w.case,
            "return_survey",
            w.supervisor,
            data={"reasons": {}},
            expected_version=w.case.version,
        )
    db.session.rollback()
    assert stored(w.case) == before and w.case.state == "review"
    perform(
        w.case,
        "return_survey",
        w.supervisor,
        data={"reasons": {"kind": "Ini kelurahan"}},
        expected_version=w.case.version,
    )
    assert set(stored(w.case)[1]) == {"kind"}
