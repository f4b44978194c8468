"""The repository: the index follows the cases, search (full text and plain), facets,
scope (institution, national administrator), bad queries, statements per page."""

from __future__ import annotations

from csv import reader
from io import StringIO

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from tests import factories
from workflow.extensions import db
from workflow.models import Agency, Region
from workflow.models.showcase import RepositoryEntry
from workflow.services import repository as repo
from workflow.services import start_case


def _entry(case_id):
    db.session.expire_all()
    return db.session.get(RepositoryEntry, case_id)


MINE = ("repository_entries", "showcase_consents", "showcase_photos", "national_admin")


def test_schema_of_these_tables_matches_the_models(app):
    """The FTS5 table and its shadow tables (SQLite) are the only tables of this part the
    models do not declare: the migration makes them and the database keeps them."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, kind, parent: (
                    not (kind == "table" and name.startswith("repository_fts"))
                ),
            },
        )
        diffs = compare_metadata(context, db.metadata)
    assert [d for d in diffs if any(name in repr(d) for name in MINE)] == []


def test_entry_follows_the_case(world):
    case = world.case
    entry = _entry(case.id)
    assert entry is not None and not entry.listed  # a draft
    assert entry.title == case.title
    case.state = "implementation"
    db.session.commit()
    entry = _entry(case.id)
    assert entry.listed and entry.result == "ongoing"
    case.state = "completed"
    case.predicate = "Memuaskan"
    db.session.commit()
    entry = _entry(case.id)
    assert (entry.result, entry.predicate) == ("passed", "Memuaskan")


# ---------------------------------------------------------------- helpers


def _place(name: str, code: str, province: Region | None = None) -> Region:
    if province is None:
        region = Region(level="province", name=name, code=code)
    else:
        region = Region(level="regency", name=name, code=code, parent=province)
    db.session.add(region)
    return region


def add_case(cohort, title: str, *, state: str = "implementation", agency=None, **fields):
    """A case of `cohort` in `state` (written directly: the index follows any path)."""
    trainee = factories.create_user(agency=agency)
    case = start_case(cohort, trainee)
    factories.fill_proposal(case)
    case.title = title
    for name, value in fields.items():
        setattr(case, name, value)
    case.state = state
    db.session.commit()
    return case


def search(user, **args):
    sq, problems = repo.parse_query({k: str(v) for k, v in args.items()})
    return repo.search(user, sq), problems


def ids(page) -> set[int]:
    return {r.case_id for r in page.rows}


# ---------------------------------------------------------------- search


@pytest.fixture(params=[True, False], ids=["fulltext", "plain"])
def fulltext(request, make_app):
    app = make_app(AKSI_REPOSITORY_FULLTEXT=request.param)
    with app.app_context():
        yield request.param


def test_words_in_title_problem_and_results_are_found(fulltext, backend):
    world = factories.World()
    world.case.state = "implementation"
    water = add_case(world.cohort, "Digitalisasi layanan air bersih desa")
    problem = add_case(
        world.cohort, "Aksi B", core_issue="Antrean panjang pelayanan perizinan puskesmas"
    )
    result = add_case(world.cohort, "Aksi C")
    result.milestones[0].output = "Aplikasi SIPANDU terpasang"
    db.session.commit()
    trainee = world.trainee
    assert repo.fulltext_mode() == (
        {"sqlite": "fts5", "postgresql": "tsvector"}[backend] if fulltext else "plain"
    )
    assert ids(search(trainee, q="air bersih")[0]) == {water.id}
    assert ids(search(trainee, q="PERIZINAN puskesmas")[0]) == {problem.id}
    assert ids(search(trainee, q="sipandu")[0]) == {result.id}
    assert ids(search(trainee, q="digital")[0]) == {water.id}  # a word's beginning
    assert ids(search(trainee, q="air perizinan")[0]) == set()  # every word must be there
    # A final report's words count once it is written.
    factories.fill_final_report(problem)
    assert ids(search(trainee, q="kabupaten tetangga")[0]) == {problem.id}


# (query, whether the case titled "Air bersih untuk semua" is found): a text without words
# is ignored (everything is listed); otherwise every word must be there.
BAD_QUERIES = [
    ('"', True),
    ('"air', True),
    ("air*", True),
    ("air -bersih", True),
    ("%_%", True),
    ("\\ ^ $ @ ! ~ & | <> !!", True),
    ("air " * 50, True),
    ("* OR 1=1", False),
    ("NEAR(air bersih)", False),
    ("title:air", False),
    ("{title}: air", False),
    ("(air) AND (", False),
    ("air AND NOT OR", False),
    ("' ; DROP TABLE cases; --", False),
    ("é à ü ß 水", False),
    ("a" * 200, False),
    ("x" * 10_000, True),
]


@pytest.mark.parametrize(("q", "found"), BAD_QUERIES)
def test_operators_and_quotes_are_words_not_syntax(world, q, found):
    world.case.state = "implementation"
    world.case.title = "Air bersih untuk semua"
    db.session.commit()
    page, problems = search(world.trainee, q=q)  # never an error
    assert (world.case.id in ids(page)) is found


def test_too_long_or_wordless_query_is_ignored_with_a_message(client, world):
    from tests.test_http_helpers import english, login

    world.case.state = "implementation"
    db.session.commit()
    english(client)
    login(client, world.trainee)
    long = "x" * 10_000
    response = client.get("/repository", query_string={"q": long})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "too long" in html and 'aria-invalid="true"' in html
    assert f'data-case="{world.case.id}"' in html  # the search was ignored, not failed
    response = client.get("/repository", query_string={"q": '"*()"'})
    assert response.status_code == 200
    assert "no words to look for" in response.get_data(as_text=True)


# ---------------------------------------------------------------- who sees what


def test_scope_institution_drafts_and_national_admin(world):
    other = factories.World()
    other.case.state = "completed"
    world.case.state = "implementation"
    draft = add_case(world.cohort, "Rancangan orang lain", state="draft")
    withdrawn = add_case(world.cohort, "Mundur", state="withdrawn")
    db.session.commit()
    for person in (world.trainee, world.mentor, world.coach, world.organizer, world.examiner):
        assert ids(search(person)[0]) == {world.case.id}, person
    assert draft.id not in ids(search(draft.trainee)[0])  # not even one's own draft
    assert withdrawn.id not in ids(search(world.organizer)[0])
    assert ids(search(world.stranger)[0]) == set()
    # An institution admin: their institution only.
    admin = factories.create_user(is_admin=True, institution_id=world.cohort.program.institution_id)
    assert ids(search(admin)[0]) == {world.case.id}
    assert "institution" not in search(admin)[0].facets
    # The national administrator: every institution, with an institution facet.
    national = factories.create_user(national_admin=True)
    db.session.commit()
    page = search(national)[0]
    assert ids(page) == {world.case.id, other.case.id}
    assert {v.count for v in page.facets["institution"]} == {1}
    assert repo.summary(world.stranger, world.case.id) is None
    assert repo.summary(national, other.case.id) is not None


def test_national_admin_is_a_column_that_defaults_to_false(app):
    user = factories.create_user()
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(type(user), user.id).national_admin is False


# ---------------------------------------------------------------- facets, filters, sort


def test_facets_count_under_the_other_filters(world):
    province = _place("Kalimantan Timur", "64")
    kukar = _place("Kutai Kartanegara", "64.02", province)
    samarinda = _place("Samarinda", "64.72", province)
    dpmd = Agency(name="DPMD Kukar", region=kukar)
    bappeda = Agency(name="Bappeda Samarinda", region=samarinda)
    db.session.add_all([dpmd, bappeda])
    world.case.state = "draft"
    a = add_case(world.cohort, "Satu", agency=dpmd, state="completed", predicate="Memuaskan")
    b = add_case(world.cohort, "Dua", agency=dpmd, state="not_passed")
    c = add_case(world.cohort, "Tiga", agency=bappeda, state="completed")
    db.session.execute(
        RepositoryEntry.__table__.update()
        .where(RepositoryEntry.case_id == a.id)
        .values(sustainability="running")
    )
    db.session.commit()
    page, problems = search(world.organizer, region="64.02")
    assert problems == {} and ids(page) == {a.id, b.id}
    facets = {name: {v.value: v.count for v in values} for name, values in page.facets.items()}
    # The region facet ignores its own filter, so one can switch.
    assert facets["region"] == {"64.02": 2, "64.72": 1}
    assert facets["province"] == {"64": 2}
    assert facets["result"] == {"passed": 1, "not_passed": 1}
    assert facets["sustainability"] == {"running": 1, "none": 1}
    assert facets["predicate"] == {"Memuaskan": 1}
    assert ids(search(world.organizer, sustainability="running")[0]) == {a.id}
    assert ids(search(world.organizer, sustainability="none", result="passed")[0]) == {c.id}
    assert ids(search(world.organizer, province="64", agency=bappeda.id)[0]) == {c.id}
    assert ids(search(world.organizer, year=2026, program="PKA")[0]) == {a.id, b.id, c.id}
    titles = [r.title for r in search(world.organizer, sort="title")[0].rows]
    assert titles == ["Dua", "Satu", "Tiga"]
    page, problems = search(world.organizer, sort="bogus", result="maybe", page="x", year="20x6")
    assert set(problems) == {"sort", "result", "page", "year"}
    assert ids(page) == {a.id, b.id, c.id}


def test_a_closed_case_keeps_its_agency_when_the_alumnus_moves(world):
    world.case.state = "completed"
    db.session.commit()
    before = _entry(world.case.id).agency_id
    world.trainee.agency = Agency(name="Dinas Baru")
    world.case.objective_long = "Lanjut"
    db.session.commit()
    assert _entry(world.case.id).agency_id == before


# ---------------------------------------------------------------- pages


def test_page_statements_do_not_grow_with_the_rows(client, world):
    from tests.test_http_helpers import login
    from tests.test_http_home import counting_statements

    world.case.state = "implementation"
    db.session.commit()
    login(client, world.organizer)

    def count(q: str = "") -> int:
        with counting_statements() as statements:
            response = client.get("/repository", query_string={"q": q} if q else {})
            assert response.status_code == 200
        return len(statements)

    province = _place("Lampung", "18")

    def more(n: int, start: int) -> None:
        for i in range(start, start + n):
            region = _place(f"Kab {i}", f"18.{i:02}", province)
            agency = Agency(name=f"Dinas {i}", region=region)
            add_case(world.cohort, f"Aksi desa {i}", agency=agency)

    more(2, 0)
    count()  # once: what is asked once a process (is there an FTS5 table?)
    few, few_q = count(), count("desa")
    more(25, 2)
    count()  # the signed-in user is read again after the commits above
    assert count() == few
    assert count("desa") == few_q


def test_summary_page_and_export(client, world):
    from tests.test_http_helpers import check_markup, english, login

    world.case.state = "completed"
    world.case.final_score = 87.25
    world.case.predicate = "Memuaskan"
    db.session.commit()
    english(client)
    login(client, world.coach)
    html = client.get("/repository").get_data(as_text=True)
    check_markup(html)
    assert f'href="/repository/{world.case.id}"' in html
    response = client.get(f"/repository/{world.case.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(html)
    assert world.case.title in html and world.case.core_issue in html
    assert "87.25" not in html and "87,25" not in html  # no scores
    assert "Open the case page" in html  # the coach is on the case
    other = factories.World()
    other.case.state = "completed"
    db.session.commit()
    assert client.get(f"/repository/{other.case.id}").status_code == 404
    csv = client.get("/repository/export.csv", query_string={"result": "passed"})
    assert csv.status_code == 200 and csv.headers["Cache-Control"] == "private, no-store"
    lines = list(reader(StringIO(csv.get_data(as_text=True))))
    assert len(lines) == 2 and world.case.title in lines[1]
    xlsx = client.get("/repository/export.xlsx", query_string={"result": "not_passed"})
    from io import BytesIO

    from openpyxl import load_workbook

    rows = list(load_workbook(BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert len(rows) == 1  # the headers only: nothing did not pass


def test_rebuild_indexes_every_case(world):
    db.session.execute(RepositoryEntry.__table__.delete())
    db.session.commit()
    assert repo.rebuild() == 1
    assert _entry(world.case.id) is not None
    assert db.session.scalar(select(RepositoryEntry.title)) == world.case.title
