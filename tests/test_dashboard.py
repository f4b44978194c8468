"""Oversight dashboards (services.dashboards): who sees which cases, the funnel, the counts
per cohort and province, the trainee table's filters, search, sort and pages, time in state,
and bulk actions through perform()."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask_babel import force_locale
from sqlalchemy import func, insert, select, text

from tests import factories
from workflow.extensions import db
from workflow.models import (
    Agency,
    AuditEvent,
    Case,
    CohortMember,
    Group,
    InstitutionHoliday,
    Milestone,
    Notification,
    Region,
    StateVisit,
    User,
)
from workflow.permissions import cases_visible_to
from workflow.services import dashboards as dash
from workflow.services import start_case
from workflow.services.dashboards import TableQuery

# Wednesday 15 April 2026, the same date in WIB, WITA and WIT.
NOW = datetime(2026, 4, 15, 3, 0)
CASE_KEYS = ("eko", "ani", "budi", "citra", "dedi")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class Scene:
    world: factories.World
    cases: dict
    users: dict
    groups: dict
    regions: dict
    agencies: dict
    cohort_b: object
    cohort_c: object

    def ids(self, *keys) -> list[int]:
        return [self.cases[k].id for k in keys]

    def key_of(self, case_id: int) -> str:
        return next(k for k, c in self.cases.items() if c.id == case_id)

    def keys(self, rows) -> list[str]:
        return [self.key_of(r.case_id) for r in rows]


def _case(cohort, name, *, agency=None, group=None, state, due, entered, title, **extra):
    trainee = factories.create_user(name=name, agency=agency)
    case = start_case(cohort, trainee, **extra)
    case.group = group
    case.state = state
    case.due_date = due
    case.state_entered_at = entered
    case.title = title
    return case


def _milestones(case, *specs):
    for i, (term, status, note) in enumerate(specs):
        case.milestones.append(
            Milestone(
                position=i, term=term, activity=f"Tahap {i}", status=status, closing_note=note
            )
        )


def build_scene(world) -> Scene:
    """Cohort A (the world's): five cases in five states over two provinces and groups;
    cohort B of the same institution, cohort C of another one."""
    kaltim = Region(level="province", name="Kalimantan Timur", code="64")
    lampung = Region(level="province", name="Lampung", code="18")
    kukar = Region(level="regency", name="Kutai Kartanegara", code="6402", parent=kaltim)
    lambar = Region(level="regency", name="Lampung Barat", code="1804", parent=lampung)
    dpmd = world.trainee.agency
    dpmd.region = kukar
    bpsdm = Agency(name="BPSDM Kalimantan Timur", region=kaltim)
    dinkes = Agency(name="Dinas Kesehatan Lampung Barat", region=lambar)
    db.session.add_all([kaltim, lampung, kukar, lambar, bpsdm, dinkes])

    cohort = world.cohort
    cohort.name = "Angkatan II PKA 2026"
    institution = cohort.program.institution
    coach2 = factories.create_user(name="Coach Dua")
    coach_all = factories.create_user(name="Coach Angkatan")
    admin = factories.create_user(name="Admin BPSDM", is_admin=True, institution=institution)
    g1 = world.group
    g2 = Group(cohort=cohort, name="Kelompok 2", coach=coach2)
    db.session.add_all([g2, CohortMember(cohort=cohort, user=coach_all, role="coach")])
    people = {"mentor": world.mentor, "executive": world.executive}

    world.trainee.name = "Eko Prasetyo"
    eko = world.case
    eko.state_entered_at = datetime(2026, 2, 2, 2)
    _case_kw = dict(cohort=cohort, **people)
    ani = _case(
        name="Ani Lestari",
        agency=dpmd,
        group=g1,
        state="implementation",
        due=date(2026, 6, 5),
        entered=datetime(2026, 3, 10, 2),
        title="Digitalisasi arsip desa",
        **_case_kw,
    )
    _milestones(
        ani, ("short", "verified", ""), ("short", "reported", ""), ("medium", "planned", "")
    )
    budi = _case(
        name="budi santoso",
        agency=bpsdm,
        group=g2,
        state="mentor_review",
        due=date(2026, 4, 10),
        entered=datetime(2026, 4, 6, 2),
        title="Sistem informasi kepegawaian",
        **_case_kw,
    )
    citra = _case(
        name="Citra Dewi",
        agency=dinkes,
        group=None,
        state="completed",
        due=date(2026, 4, 1),
        entered=datetime(2026, 4, 8, 2),
        title="Layanan kesehatan keliling",
        final_score=85.5,
        predicate="Memuaskan",
        **_case_kw,
    )
    _milestones(citra, ("short", "verified", ""), ("short", "not_achieved", "Anggaran dipotong."))
    dedi = _case(
        name="Dedi Kurniawan",
        group=g1,
        state="revision_requested",
        due=None,
        entered=datetime(2026, 4, 13, 2),
        title="Peningkatan 100% layanan_publik",
        **_case_kw,
    )
    _milestones(dedi, ("short", "not_achieved", ""))
    # A day off of the institution inside budi's and dedi's stays.
    db.session.add(InstitutionHoliday(institution=institution, day=date(2026, 4, 14)))

    # Cohort B: same institution, another organizer.
    cohort_b = factories.create_cohort(name="Angkatan I PKA 2026")
    cohort_b.program = cohort.program
    organizer_b = factories.create_user(name="Penyelenggara B")
    db.session.add(CohortMember(cohort=cohort_b, user=organizer_b, role="organizer"))
    fajar = _case(
        cohort=cohort_b,
        name="Fajar Nugroho",
        state="draft",
        due=date(2026, 3, 2),
        entered=datetime(2026, 2, 2, 2),
        title="Aksi angkatan B",
    )
    # Cohort C: another institution with its own organizer and admin.
    cohort_c = factories.create_cohort(name="Angkatan C")
    organizer_c = factories.create_user(name="Penyelenggara C")
    admin_c = factories.create_user(
        name="Admin C", is_admin=True, institution=cohort_c.program.institution
    )
    db.session.add(CohortMember(cohort=cohort_c, user=organizer_c, role="organizer"))
    gita = _case(
        cohort=cohort_c,
        name="Gita Permata",
        state="draft",
        due=date(2026, 3, 2),
        entered=datetime(2026, 2, 2, 2),
        title="Aksi angkatan C",
    )
    db.session.commit()
    return Scene(
        world=world,
        cases={
            "eko": eko,
            "ani": ani,
            "budi": budi,
            "citra": citra,
            "dedi": dedi,
            "fajar": fajar,
            "gita": gita,
        },
        users={
            "admin": admin,
            "organizer": world.organizer,
            "coach": world.coach,
            "coach2": coach2,
            "coach_all": coach_all,
            "organizer_b": organizer_b,
            "organizer_c": organizer_c,
            "admin_c": admin_c,
            "trainee": world.trainee,
            "mentor": world.mentor,
            "executive": world.executive,
            "examiner": world.examiner,
            "stranger": world.stranger,
        },
        groups={"g1": g1, "g2": g2},
        regions={"kaltim": kaltim, "lampung": lampung, "kukar": kukar, "lambar": lambar},
        agencies={"dpmd": dpmd, "bpsdm": bpsdm, "dinkes": dinkes},
        cohort_b=cohort_b,
        cohort_c=cohort_c,
    )


@pytest.fixture
def scene(world, frozen):
    return build_scene(world)


@pytest.fixture
def ctx(app):
    # Labels and messages come through Flask-Babel: a request context, in English.
    with app.test_request_context(), force_locale("en"):
        yield


# ---------------------------------------------------------------- bulk rows for scale


def bulk_cases(cohort, n: int, *, group=None, agency=None, prefix: str = "bulk") -> list[int]:
    """n trainees with a case each, two short-term milestones and a finished stay, written
    as a handful of multi-row INSERTs (never through perform())."""
    states = ("draft", "mentor_review", "implementation", "evaluation", "completed")
    users = [
        {
            "username": f"{prefix}{cohort.id}-{i}",
            "name": f"Peserta {prefix} {i:05d}",
            "email": f"{prefix}{cohort.id}-{i}@example.test",
            "agency_id": agency.id if agency is not None else None,
            "password_hash": "",
        }
        for i in range(n)
    ]
    user_ids = list(
        db.session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), users)
    )
    cases = [
        {
            "cohort_id": cohort.id,
            "group_id": group.id if group is not None else None,
            "trainee_id": uid,
            "definition_key": cohort.definition_key,
            "definition_version": 1,
            "state": states[i % len(states)],
            "state_entered_at": datetime(2026, 3, 2, 2) + timedelta(days=i % 30),
            "due_date": date(2026, 4, 1) + timedelta(days=i % 40),
            "title": f"Aksi massal {i}",
            "final_score": 70.0 + i % 30 if i % 5 == 4 else None,
        }
        for i, uid in enumerate(user_ids)
    ]
    case_ids = list(
        db.session.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), cases)
    )
    db.session.execute(
        insert(Milestone),
        [
            {"case_id": cid, "position": k, "term": "short", "status": ("verified", "planned")[k]}
            for cid in case_ids
            for k in (0, 1)
        ],
    )
    db.session.execute(
        insert(StateVisit),
        [
            {
                "case_id": cid,
                "cohort_id": cohort.id,
                "state": "draft",
                "entered_at": datetime(2026, 2, 2),
                "left_at": datetime(2026, 3, 2),
                "working_days": 5 + i % 7,
            }
            for i, cid in enumerate(case_ids)
        ],
    )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # As autovacuum would: fresh statistics, so the planner knows the tables grew.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return case_ids


# ---------------------------------------------------------------- scope

VISIBLE = {
    "admin": ["eko", "ani", "budi", "citra", "dedi", "fajar"],
    "organizer": ["eko", "ani", "budi", "citra", "dedi"],
    "coach": ["eko", "ani", "dedi"],
    "coach2": ["budi"],
    "coach_all": ["eko", "ani", "budi", "citra", "dedi"],
    "organizer_b": ["fajar"],
    "organizer_c": ["gita"],
    "admin_c": ["gita"],
    "trainee": [],
    "mentor": [],
    "executive": [],
    "examiner": [],
    "stranger": [],
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_each_user_sees_exactly_the_cases_they_oversee(scene, ctx, who):
    user = scene.users[who]
    rows = dash.table_rows(user, TableQuery(sort="name"))
    assert sorted(scene.keys(rows)) == sorted(VISIBLE[who])
    # Never more than the one scoped query lets the user see.
    visible = set(db.session.scalars(cases_visible_to(user).with_only_columns(Case.id)))
    assert {r.case_id for r in rows} <= visible
    funnel = dash.funnel(user)
    assert funnel.total == len(VISIBLE[who])
    assert dash.oversees_anything(user) == bool(VISIBLE[who])


COHORT_ACCESS = {
    "admin": {"a", "b"},
    "organizer": {"a"},
    "coach": {"a"},
    "coach_all": {"a"},
    "organizer_b": {"b"},
    "admin_c": {"c"},
    "mentor": set(),
    "trainee": set(),
    "stranger": set(),
}


@pytest.mark.parametrize("who", sorted(COHORT_ACCESS))
def test_a_cohort_is_found_only_by_who_oversees_it(scene, ctx, who):
    cohorts = {"a": scene.world.cohort, "b": scene.cohort_b, "c": scene.cohort_c}
    found = {k for k, c in cohorts.items() if dash.cohort_for(scene.users[who], c.id)}
    assert found == COHORT_ACCESS[who]


def test_roles_on_a_cohort_decide_the_bulk_actions(scene, ctx):
    cohort = scene.world.cohort
    definition = dash.registry.latest(cohort.definition_key)
    expected = {
        "organizer": ({"organizer"}, ["remind", "extend_deadline", "assign_group"]),
        "coach": ({"coach"}, ["remind"]),
        "coach_all": ({"coach"}, ["remind"]),
        "admin": ({"admin"}, []),
    }
    for who, (roles, actions) in expected.items():
        held = dash.cohort_roles(scene.users[who], cohort)
        assert held == roles, who
        assert [a.key for a in dash.offered_actions(held, definition)] == actions, who


# ---------------------------------------------------------------- counts


def test_funnel_counts_each_state_in_the_definition_order(scene, ctx):
    counts = dash.funnel(scene.users["organizer"], scene.world.cohort)
    keys = [s.state.key for s in counts.funnel]
    assert keys[:4] == ["draft", "mentor_review", "revision_requested", "endorsement_pending"]
    assert keys == [s.key for s in dash.registry.get("aksi_perubahan_pka", 1).states]
    by_key = {s.state.key: (s.count, s.overdue) for s in counts.funnel}
    assert by_key == {
        "draft": (1, 1),
        "mentor_review": (1, 1),
        "revision_requested": (1, 0),
        "endorsement_pending": (0, 0),
        "implementation": (1, 0),
        "evaluation": (0, 0),
        "deferred": (0, 0),
        "completed": (1, 0),
        "not_passed": (0, 0),
        "withdrawn": (0, 0),
    }
    assert (counts.total, counts.overdue, counts.finished, counts.passed) == (5, 2, 1, 1)
    assert counts.funnel[0].state.labels.en == "Drafting the proposal"


def test_funnel_of_one_group_and_of_no_group(scene, ctx):
    organizer = scene.users["organizer"]
    cohort = scene.world.cohort
    assert dash.funnel(organizer, cohort, scene.groups["g1"].id).total == 3
    alone = dash.funnel(organizer, cohort, dash.NO_GROUP)
    assert alone.total == 1 and alone.count("completed") == 1


def test_funnel_mixes_definitions_by_state_key(scene, ctx, world_pkn2):
    # The admin of the PKN II world's institution also organizes cohort A.
    pkn2 = world_pkn2.cohort
    admin = factories.create_user(is_admin=True, institution=pkn2.program.institution)
    db.session.add(CohortMember(cohort=scene.world.cohort, user=admin, role="organizer"))
    db.session.commit()
    counts = dash.funnel(admin)
    keys = [s.state.key for s in counts.funnel]
    assert keys[:3] == ["draft", "proposal_seminar", "mentor_review"]
    assert counts.count("draft") == 2  # one case of each definition
    assert counts.total == 6


def test_counts_per_cohort_and_per_province(scene, ctx):
    overview = dash.overview(scene.users["admin"])
    assert [c.name for c in overview.cohorts] == ["Angkatan I PKA 2026", "Angkatan II PKA 2026"]
    b, a = overview.cohorts
    assert (a.total, a.overdue, a.finished, a.passed) == (5, 2, 1, 1)
    assert (b.total, b.overdue, b.count("draft")) == (1, 1, 1)
    assert overview.funnel.total == 6 and overview.cohort_total == 2
    provinces = {p.name or None: p for p in overview.provinces}
    assert list(provinces) == ["Kalimantan Timur", "Lampung", None]
    kaltim, lampung, unknown = provinces.values()
    assert (kaltim.total, kaltim.overdue) == (3, 2)
    assert {k: kaltim.count(k) for k in ("draft", "mentor_review", "implementation")} == {
        "draft": 1,
        "mentor_review": 1,
        "implementation": 1,
    }
    assert (lampung.total, lampung.finished, lampung.passed) == (1, 1, 1)
    assert unknown.total == 2 and unknown.id is None  # dedi and fajar: no agency


def test_an_organizer_without_cases_still_sees_the_cohort(scene, ctx):
    empty = factories.create_cohort(name="Angkatan kosong")
    db.session.add(CohortMember(cohort=empty, user=scene.users["organizer"], role="organizer"))
    db.session.commit()
    overview = dash.overview(scene.users["organizer"])
    row = next(c for c in overview.cohorts if c.id == empty.id)
    assert row.total == 0 and overview.cohort_total == 2


def test_cohorts_come_in_pages(scene, ctx):
    admin = scene.users["admin"]
    first = dash.overview(admin, cohort_page=1, per_page=1)
    last = dash.overview(admin, cohort_page=9, per_page=1)
    assert (first.cohort_pages, last.cohort_page) == (2, 2)
    assert [c.id for c in first.cohorts + last.cohorts] == [
        scene.cohort_b.id,
        scene.world.cohort.id,
    ]
    assert first.funnel.total == last.funnel.total == 6


# ---------------------------------------------------------------- the table


def test_table_rows_show_what_the_dashboard_needs(scene, ctx):
    rows = {r.case_id: r for r in dash.table_rows(scene.users["organizer"], TableQuery())}
    ani = rows[scene.cases["ani"].id]
    assert (ani.name, ani.agency, ani.region, ani.province, ani.group) == (
        "Ani Lestari",
        "DPMD Kutai Kartanegara",
        "Kutai Kartanegara",
        "Kalimantan Timur",
        "Kelompok 1",
    )
    assert (ani.closed, ani.milestones, ani.progress) == (1, 2, "1/2 milestones")
    budi = rows[scene.cases["budi"].id]
    # An agency of the province itself: no regency, the province still known.
    assert (budi.region, budi.province, budi.overdue) == (None, "Kalimantan Timur", True)
    # 7–15 April minus the institution's day off on the 14th.
    assert budi.days_in_state == 6
    assert rows[scene.cases["dedi"].id].days_in_state == 1
    citra = rows[scene.cases["citra"].id]
    assert (citra.final_score, citra.predicate, citra.days_in_state) == (85.5, "Memuaskan", None)
    assert (citra.closed, citra.milestones, citra.overdue) == (2, 2, False)  # finished: never late
    assert rows[scene.cases["dedi"].id].progress == "0/1 milestones"
    assert rows[scene.cases["budi"].id].progress == ""


def test_page_rows_match_the_export_rows(scene, ctx):
    organizer = scene.users["organizer"]
    page = dash.table_page(organizer, TableQuery(sort="due"))
    assert page.rows == dash.table_rows(organizer, TableQuery(sort="due"))


FILTERS = [
    ({"state": "draft"}, ["eko"]),
    ({"group": "g1"}, ["eko", "ani", "dedi"]),
    ({"group": dash.NO_GROUP}, ["citra"]),
    ({"agency": "dpmd"}, ["eko", "ani"]),
    ({"region": "kukar"}, ["eko", "ani"]),
    ({"region": "lambar"}, ["citra"]),
    ({"province": "kaltim"}, ["eko", "ani", "budi"]),
    ({"province": "lampung"}, ["citra"]),
    ({"overdue": True}, ["eko", "budi"]),
    ({"overdue": False}, ["ani", "citra", "dedi"]),
    ({"q": "LESTARI"}, ["ani"]),
    ({"q": "arsip"}, ["ani"]),  # the title
    ({"q": "100%"}, ["dedi"]),  # % is a character, not a wildcard
    ({"q": "layanan_"}, ["dedi"]),  # so is _
    ({"q": "tidak ada"}, []),
    ({"province": "kaltim", "overdue": True}, ["eko", "budi"]),
    ({"cohort": "b"}, []),  # not the organizer's cohort: nothing
    ({"cohort": "a", "state": "completed"}, ["citra"]),
]


@pytest.mark.parametrize("filters, expected", FILTERS, ids=[str(f) for f, _e in FILTERS])
def test_filters_and_search(scene, ctx, filters, expected):
    refs = {
        "group": scene.groups,
        "agency": scene.agencies,
        "region": scene.regions,
        "province": scene.regions,
        "cohort": {"a": scene.world.cohort, "b": scene.cohort_b},
    }
    values = {}
    for name, value in filters.items():
        if name in refs and value in refs[name]:
            value = refs[name][value].id
        values[name] = value
    rows = dash.table_rows(scene.users["organizer"], TableQuery(sort="name", **values))
    assert sorted(scene.keys(rows)) == sorted(expected)
    page = dash.table_page(scene.users["organizer"], TableQuery(sort="name", **values))
    assert page.total == len(expected)


# Ascending order by each column; empty values (None) come last in both directions.
SORTED = {
    "name": (["ani", "budi", "citra", "dedi", "eko"], []),
    "title": (["ani", "citra", "eko", "dedi", "budi"], []),
    "agency": (["budi", "citra", "eko", "ani"], ["dedi"]),
    "region": (["eko", "ani", "citra"], ["budi", "dedi"]),
    "province": (["eko", "ani", "budi", "citra"], ["dedi"]),
    "group": (["eko", "ani", "dedi", "budi"], ["citra"]),
    "state": (["eko", "budi", "dedi", "ani", "citra"], []),
    "days": (["dedi", "budi", "ani", "eko"], ["citra"]),
    "due": (["eko", "citra", "budi", "ani"], ["dedi"]),
    "overdue": (["ani", "citra", "dedi", "eko", "budi"], []),
    "progress": (["eko", "dedi", "ani", "citra"], ["budi"]),
    "score": (["citra"], ["eko", "ani", "budi", "dedi"]),
    "cohort": (["eko", "ani", "budi", "citra", "dedi"], []),
}


def test_every_sort_column_is_covered():
    assert set(SORTED) == set(dash.SORTS)


@pytest.mark.parametrize("column", sorted(SORTED))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_each_column(scene, ctx, column, direction):
    values, empty = SORTED[column]
    # Equal values keep the case id's order, in the same direction.
    expected = values + empty if direction == "asc" else values[::-1] + empty[::-1]
    query = TableQuery(sort=column, dir=direction)
    rows = dash.table_rows(scene.users["organizer"], query)
    assert scene.keys(rows) == expected
    assert scene.keys(dash.table_page(scene.users["organizer"], query).rows) == expected


def test_sort_by_cohort_across_cohorts(scene, ctx):
    rows = dash.table_rows(scene.users["admin"], TableQuery(sort="cohort"))
    assert scene.keys(rows) == ["fajar", "eko", "ani", "budi", "citra", "dedi"]


def test_pages_are_stable_and_a_page_past_the_end_is_the_last(scene, ctx):
    organizer = scene.users["organizer"]
    bulk_cases(scene.world.cohort, 50)
    seen = []
    for number in (1, 2, 3):
        page = dash.table_page(organizer, TableQuery(sort="state", page=number))
        assert (page.total, page.pages, page.page) == (55, 3, number)
        seen += [r.case_id for r in page.rows]
    assert len(seen) == len(set(seen)) == 55
    last = dash.table_page(organizer, TableQuery(sort="state", page=99))
    assert (last.page, last.first, last.last, len(last.rows)) == (3, 51, 55, 5)
    wide = dash.table_page(organizer, TableQuery(per_page=100))
    assert (wide.pages, len(wide.rows)) == (1, 55)
    empty = dash.table_page(organizer, TableQuery(q="tidak ada", page=4))
    assert (empty.total, empty.pages, empty.page, empty.first, empty.rows) == (0, 1, 1, 0, [])


def test_matching_ids_are_every_page_and_capped(scene, ctx):
    organizer = scene.users["organizer"]
    cohort = scene.world.cohort
    ids = dash.matching_ids(organizer, TableQuery(overdue=True, page=3), cohort, 10)
    assert sorted(ids) == sorted(scene.ids("eko", "budi"))
    assert len(dash.matching_ids(organizer, TableQuery(), cohort, 3)) == 3


def test_filter_choices_come_from_the_scope(scene, ctx):
    choices = dash.filter_choices(scene.users["coach"], scene.world.cohort)
    assert [c.label for c in choices.groups] == ["Kelompok 1"]  # the group they coach
    whole = dash.filter_choices(scene.users["organizer"], scene.world.cohort)
    assert [c.label for c in whole.groups] == ["Kelompok 1", "Kelompok 2"]
    assert [
        c.label for c in dash.filter_choices(scene.users["admin"], scene.world.cohort).groups
    ] == [
        "Kelompok 1",
        "Kelompok 2",
    ]
    assert [c.label for c in choices.agencies] == ["DPMD Kutai Kartanegara"]
    assert [c.label for c in choices.regions] == ["Kutai Kartanegara"]
    assert [c.label for c in choices.provinces] == ["Kalimantan Timur"]
    everything = dash.filter_choices(scene.users["admin"])
    assert [c.label for c in everything.cohorts] == ["Angkatan I PKA 2026", "Angkatan II PKA 2026"]
    assert [c.label for c in everything.provinces] == ["Kalimantan Timur", "Lampung"]


# ---------------------------------------------------------------- parsing the query

PARSED = [
    ({}, {}, set()),
    (
        {"state": "draft", "sort": "due", "dir": "desc"},
        {"state": "draft", "sort": "due", "dir": "desc"},
        set(),
    ),
    (
        {"group": "none", "overdue": "yes", "q": "  ani "},
        {"group": "none", "overdue": True, "q": "ani"},
        set(),
    ),
    (
        {"overdue": "no", "page": "3", "per_page": "100"},
        {"overdue": False, "page": 3, "per_page": 100},
        set(),
    ),
    (
        {"agency": "7", "region": "8", "province": "9", "cohort": "2"},
        {"agency": 7, "region": 8, "province": 9, "cohort": 2},
        set(),
    ),
    ({"state": "", "group": "", "q": ""}, {}, set()),
    ({"state": "nowhere"}, {}, {"state"}),
    ({"sort": "password", "dir": "sideways"}, {}, {"sort", "dir"}),
    ({"page": "0"}, {}, {"page"}),
    ({"page": "-1", "per_page": "30"}, {}, {"page", "per_page"}),
    ({"page": "9999999"}, {}, {"page"}),
    ({"group": "x", "agency": "1e3", "overdue": "maybe"}, {}, {"group", "agency", "overdue"}),
    ({"q": "x" * 201}, {}, {"q"}),
    ({"q": "a\x00b"}, {"q": "ab"}, set()),
]


@pytest.fixture(scope="module")
def definitions():
    # Parsing checks state keys against the loaded definitions; no app needed.
    dash.registry.load(str(Path(__file__).resolve().parent.parent / "state_machines"))


@pytest.mark.parametrize("args, values, problems", PARSED)
def test_parse_table_query(definitions, args, values, problems):
    query, found = dash.parse_table_query(args)
    assert query == TableQuery(**values)
    assert set(found) == problems


def test_parse_table_query_with_fewer_sorts(definitions):
    query, problems = dash.parse_table_query({"sort": "cohort"}, sorts=("name", "due"))
    assert query.sort == "name" and set(problems) == {"sort"}


def test_query_args_leave_defaults_out():
    query = TableQuery(state="draft", overdue=False, page=2)
    assert query.args() == {"state": "draft", "overdue": "no", "page": "2"}
    assert query.args(page=1, state=None) == {"overdue": "no"}
    assert query.filter_args() == {"state": "draft", "overdue": "no"}
    assert TableQuery().args() == {} and not TableQuery().filtered


# ---------------------------------------------------------------- time in state


@pytest.mark.parametrize(
    "values, p, expected",
    [
        ([], 0.5, None),
        ([7], 0.5, 7),
        ([7], 0.9, 7),
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4], 0.9, 3.7),
        ([2, 3, 5, 8], 0.9, 7.1),
        ([0, 10], 0.0, 0),
        ([0, 10], 1.0, 10),
        ([5, 5, 5], 0.9, 5),
    ],
)
def test_percentile(values, p, expected):
    result = dash.percentile(values, p)
    assert result == (None if expected is None else pytest.approx(expected))


def _visits(scene):
    rows = [
        ("ani", "draft", 5),
        ("ani", "mentor_review", 2),
        ("ani", "endorsement_pending", 3),
        ("budi", "draft", 8),
        ("citra", "draft", 3),
        ("citra", "mentor_review", 1),
        ("citra", "endorsement_pending", 4),
        ("citra", "implementation", 40),
        ("citra", "evaluation", 6),
        ("dedi", "draft", 2),
        ("dedi", "mentor_review", 3),
        ("fajar", "draft", 99),  # another cohort
    ]
    for key, state, days in rows:
        case = scene.cases[key]
        db.session.add(
            StateVisit(
                case_id=case.id,
                cohort_id=case.cohort_id,
                state=state,
                entered_at=datetime(2026, 2, 2),
                left_at=datetime(2026, 3, 2),
                working_days=days,
            )
        )
    db.session.commit()


def test_time_in_state_median_and_90th_percentile(scene, ctx):
    _visits(scene)
    cohort = scene.world.cohort
    states = dash.funnel(scene.users["organizer"], cohort).states
    times = dash.time_in_state(scene.users["organizer"], cohort, states)
    assert [(t.state.key, t.visits, t.median, pytest.approx(t.p90)) for t in times] == [
        ("draft", 4, 4.0, 7.1),
        ("mentor_review", 3, 2.0, 2.8),
        ("endorsement_pending", 2, 3.5, 3.9),
        ("implementation", 1, 40.0, 40.0),
        ("evaluation", 1, 6.0, 6.0),
    ]
    # A coach counts only the stays of their group's cases (ani and dedi here).
    coached = dash.time_in_state(scene.users["coach"], cohort, states)
    assert [(t.state.key, t.visits, t.median) for t in coached][0] == ("draft", 2, 3.5)


def test_time_in_state_without_any_stay(scene, ctx):
    cohort = scene.world.cohort
    assert dash.time_in_state(scene.users["organizer"], cohort, []) == []


def test_summarize_visits_keeps_unknown_states_at_the_end():
    info = dash.StateInfo("draft", dash.Labels(id="Draf", en="Draft"), False, False)
    times = dash.summarize_visits([("gone", 3), ("draft", 1)], [info])
    assert [(t.state.key, t.median) for t in times] == [("draft", 1), ("gone", 3)]


# ---------------------------------------------------------------- bulk actions


def _written():
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(AuditEvent.id))),
        db.session.scalar(select(func.count(Notification.id))),
    )


def _act(scene, key):
    return dash.registry.latest(scene.world.cohort.definition_key).activity(key)


def test_bulk_remind_goes_through_perform_once_per_case(scene, ctx):
    cohort = scene.world.cohort
    outcomes = dash.bulk_act(
        scene.users["organizer"],
        cohort,
        _act(scene, "remind"),
        scene.ids("eko", "budi", "citra") + [scene.cases["gita"].id, 999999],
        comment="Mohon segera dilengkapi.",
    )
    by_key = {o.case_id: o for o in outcomes}
    assert [o.case_id for o in outcomes][:3] == scene.ids("eko", "budi", "citra")
    assert by_key[scene.cases["eko"].id].ok and by_key[scene.cases["budi"].id].ok
    citra = by_key[scene.cases["citra"].id]  # completed: nothing to remind of
    assert (citra.ok, citra.status) == (False, 409) and citra.explanation
    for other in (scene.cases["gita"].id, 999999):  # another's case, no case: not yours
        assert (by_key[other].ok, by_key[other].status, by_key[other].name) == (False, 404, "")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.trigger == "remind").order_by(AuditEvent.case_id)
    ).all()
    assert [e.case_id for e in events] == scene.ids("eko", "budi")
    assert {e.comment for e in events} == {"Mohon segera dilengkapi."}


def test_a_refused_row_writes_nothing(scene, ctx):
    cohort = scene.world.cohort
    organizer = scene.users["organizer"]
    remind = _act(scene, "remind")
    dash.bulk_act(organizer, cohort, remind, scene.ids("eko"))
    before = _written()
    # Reminded already today: refused, with the handler's message; nothing written.
    outcomes = dash.bulk_act(organizer, cohort, remind, scene.ids("eko"))
    assert [(o.ok, o.status) for o in outcomes] == [(False, 422)]
    assert "already reminded" in outcomes[0].explanation
    assert _written() == before


def test_a_coach_cannot_extend_a_deadline(scene, ctx):
    cohort = scene.world.cohort
    before = _written()
    due = scene.cases["eko"].due_date
    outcomes = dash.bulk_act(
        scene.users["coach"],
        cohort,
        _act(scene, "extend_deadline"),
        scene.ids("eko"),
        comment="Alasan.",
        data={"due_date": "2026-05-01"},
    )
    assert [(o.ok, o.status) for o in outcomes] == [(False, 403)]
    assert _written() == before
    assert scene.cases["eko"].due_date == due


def test_bulk_form_checks_once_for_every_row(scene, ctx):
    cohort = scene.world.cohort
    groups = [g.id for g in cohort.groups]
    extend = _act(scene, "extend_deadline")
    _c, _d, errors = dash.check_bulk_form(extend, "", {"due_date": "besok"}, groups)
    assert set(errors) == {"comment", "due_date"}
    comment, data, errors = dash.check_bulk_form(
        extend, " Sakit. ", {"due_date": "2026-05-04"}, groups
    )
    assert (comment, data, errors) == ("Sakit.", {"due_date": "2026-05-04"}, {})
    assign = _act(scene, "assign_group")
    assert set(dash.check_bulk_form(assign, None, {"group_id": "999"}, groups)[2]) == {"group_id"}
    _c, data, errors = dash.check_bulk_form(assign, None, {"group_id": str(groups[1])}, groups)
    assert (data, errors) == ({"group_id": groups[1]}, {})


@pytest.mark.parametrize("today", [date(2026, 4, 15), date(2026, 4, 6), date(2026, 3, 23)])
def test_working_days_since_counts_as_the_calendar_does(today):
    from workflow.services.calendar import working_days_between

    off = frozenset({date(2026, 4, 14), date(2026, 3, 24)})
    starts = [today - timedelta(days=n) for n in range(0, 60, 3)] + [today + timedelta(days=2)]
    counted = dash.working_days_since(starts, today, off)
    assert counted == {s: max(0, working_days_between(s, today, off)) for s in starts}
    assert dash.working_days_since([], today) == {}
