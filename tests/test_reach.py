"""The regency reach of aksi perubahan: kecamatan and villages reached by coverage
milestones and the trainee's office, summed across trainees and cohorts, within what the
user oversees; the page and the API."""

from __future__ import annotations

from datetime import date

import pytest

from tests import factories
from tests.test_api import bearer
from tests.test_http_helpers import check_markup, english, login
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import Cohort, CohortMember, Milestone, Region, UnitCoverage
from workflow.services import reach, start_case


@pytest.fixture
def reach_app(make_app):
    # A fresh app (any config builds one), so the reach pages can be added to it if the
    # blueprint list does not carry them yet.
    app = make_app(REACH_TESTS=True)
    if "reach" not in app.blueprints:
        from blueprints import reach as pages

        app.register_blueprint(pages.bp)
    with app.app_context():
        yield app


class Regency:
    """Kabupaten Lampung Barat: Sukau (Tanjung Raya, Hanakau), Balik Bukit (Way Mengaku),
    Suoh (no village loaded)."""

    def __init__(self):
        province = Region(level="province", name="Lampung", code="18")
        self.regency = Region(
            level="regency", name="Kabupaten Lampung Barat", code="18.04", parent=province
        )
        self.sukau = Region(level="district", name="Sukau", code="18.04.11", parent=self.regency)
        self.balik_bukit = Region(
            level="district", name="Balik Bukit", code="18.04.04", parent=self.regency
        )
        self.suoh = Region(level="district", name="Suoh", code="18.04.09", parent=self.regency)
        self.tanjung_raya = Region(
            level="village", name="Tanjung Raya", code="18.04.11.2001", parent=self.sukau
        )
        self.hanakau = Region(
            level="village", name="Hanakau", code="18.04.11.2002", parent=self.sukau
        )
        self.way_mengaku = Region(
            level="village", name="Way Mengaku", code="18.04.04.2001", parent=self.balik_bukit
        )
        db.session.add(province)
        db.session.flush()


def coverage(case, planned: list[str], covered: list[str]) -> None:
    m = Milestone(
        position=len(case.milestones),
        term="short",
        activity="Sosialisasi",
        output="Berita acara",
        target_date=date(2026, 5, 4),
        units=planned,
    )
    case.milestones.append(m)
    db.session.flush()
    for unit in covered:
        db.session.add(
            UnitCoverage(
                case_id=case.id,
                milestone_id=m.id,
                unit=unit,
                covered_on=date(2026, 4, 1),
                created_by_id=case.trainee_id,
            )
        )
    db.session.flush()


def second_cohort(world) -> Cohort:
    first = world.cohort
    cohort = Cohort(
        program=first.program,
        name="Angkatan B",
        year=2026,
        definition_key=first.definition_key,
        definition_version=first.definition_version,
        start_date=first.start_date,
        proposal_deadline=first.proposal_deadline,
        implementation_start=first.implementation_start,
        implementation_end=first.implementation_end,
        evaluation_date=first.evaluation_date,
        end_date=first.end_date,
    )
    db.session.add(cohort)
    db.session.flush()
    return cohort


class Fixture:
    """Cohort A (organizer): case A covers "Kecamatan Sukau" and "Pekon Hanakau" and plans
    Balik Bukit, Suoh and a place of another regency. Cohort B of the same institution:
    case B covers "tanjung raya"; its trainee's office is in Way Mengaku. Another
    institution's case covers Suoh: nobody here oversees it."""

    def __init__(self):
        self.places = Regency()
        self.world = factories.World()
        self.organizer = self.world.organizer
        self.admin = factories.create_user(
            is_admin=True, institution=self.world.cohort.program.institution
        )
        self.case_a = self.world.case
        coverage(
            self.case_a,
            ["Kecamatan Sukau", "Balik Bukit", "Suoh", "Tenggarong"],
            ["Kecamatan Sukau", "Pekon Hanakau"],
        )
        cohort_b = second_cohort(self.world)
        trainee_b = factories.create_user(office_region=self.places.way_mengaku)
        self.case_b = start_case(cohort_b, trainee_b)
        db.session.flush()
        coverage(self.case_b, ["Tanjung Raya"], ["tanjung raya"])
        other = factories.World()
        coverage(other.case, ["Suoh"], ["Suoh"])
        db.session.commit()


def row(report, name: str):
    return next(d for d in report.districts if d.region.name == name)


def figures(d) -> tuple:
    return (len(d.cases), len(d.planned), len(d.trainees), len(d.cohorts), len(d.villages))


def test_the_institution_admin_sees_both_cohorts_summed(app):
    f = Fixture()
    report = reach.reach_for(f.admin, f.places.regency)
    assert [d.region.name for d in report.districts] == ["Balik Bukit", "Sukau", "Suoh"]
    assert figures(row(report, "Sukau")) == (2, 0, 2, 2, 2)
    assert figures(row(report, "Balik Bukit")) == (1, 1, 1, 1, 1)
    assert figures(row(report, "Suoh")) == (0, 1, 0, 0, 0)
    assert [d.region.name for d in report.unreached] == ["Suoh"]
    assert (report.villages_reached, report.villages_total) == (3, 3)
    assert (len(report.cases), len(report.trainees), len(report.cohorts)) == (2, 2, 2)
    assert report.unmatched == ["Tenggarong"]


def test_an_organizer_sees_only_their_cohort(app):
    f = Fixture()
    report = reach.reach_for(f.organizer, f.places.regency)
    assert figures(row(report, "Sukau")) == (1, 0, 1, 1, 1)
    assert figures(row(report, "Balik Bukit")) == (0, 1, 0, 0, 0)
    assert [d.region.name for d in report.unreached] == ["Balik Bukit", "Suoh"]


def test_one_who_oversees_nothing_reaches_nothing(app):
    f = Fixture()
    report = reach.reach_for(f.world.trainee, f.places.regency)
    assert not report.cases and len(report.unreached) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kecamatan Sukau", "district"),
        ("KEC. SUKAU", "district"),
        ("sukau", "district"),
        ("Pekon Hanakau", "village"),
        ("Desa  hanakau", "village"),
        ("Kecamatan Hanakau", None),  # no kecamatan of that name
        ("Tenggarong", None),
        ("", None),
    ],
)
def test_units_match_by_name_with_or_without_their_prefix(app, text, expected):
    places = Regency()
    index = reach._Index(
        places.regency,
        [places.sukau, places.balik_bukit, places.suoh, places.hanakau, places.tanjung_raya],
    )
    spot = index.match(text)
    if expected is None:
        assert spot is None
    elif expected == "district":
        assert spot == (places.sukau.id, None)
    else:
        assert spot == (places.sukau.id, places.hanakau.id)


def test_a_village_name_in_two_kecamatan_is_counted_nowhere(app):
    places = Regency()
    twin = Region(level="village", name="Hanakau", code="18.04.04.2002", parent=places.balik_bukit)
    db.session.add(twin)
    db.session.flush()
    index = reach._Index(places.regency, [places.sukau, places.balik_bukit, places.hanakau, twin])
    assert index.match("Pekon Hanakau") is None


def test_the_count_of_queries_does_not_grow_with_cases(app):
    f = Fixture()

    def statements() -> int:
        db.session.expire_all()
        with counting_statements() as seen:
            reach.reach_for(f.admin, f.places.regency)
        return len(seen)

    few = statements()
    for _ in range(4):
        case = start_case(f.world.cohort, factories.create_user())
        db.session.flush()
        coverage(case, ["Suoh", "Sukau"], ["Suoh"])
    db.session.commit()
    assert statements() == few
    assert figures(row(reach.reach_for(f.admin, f.places.regency), "Suoh"))[0] == 4


def test_the_page_shows_the_table_and_the_unreached(reach_app):
    f = Fixture()
    client = reach_app.test_client()
    english(client)
    login(client, f.admin)
    picker = client.get("/reach").get_data(as_text=True)
    assert '<option value="18.04">Kabupaten Lampung Barat</option>' in picker
    assert client.get("/reach?code=18.04").headers["Location"].endswith("/reach/18.04")
    html = client.get("/reach/18.04").get_data(as_text=True)
    check_markup(html)
    sukau = html.split('data-district="18.04.11"')[1].split("</tr>")[0]
    assert "2 of 2" in sukau
    assert "Not reached yet: Suoh" in html
    assert "Tenggarong" in html
    assert client.get("/reach/99.99").status_code == 404


def test_the_page_is_for_overseers_only(reach_app):
    f = Fixture()
    client = reach_app.test_client()
    login(client, f.world.trainee)
    assert client.get("/reach/18.04").status_code == 404
    assert client.get("/reach").status_code == 404


def test_the_api_gives_the_same_figures(client, app):
    f = Fixture()
    body = client.get("/api/v1/reach/18.04", headers=bearer(f.admin)).json
    sukau = next(d for d in body["districts"] if d["code"] == "18.04.11")
    assert sukau == {
        "code": "18.04.11",
        "name": "Sukau",
        "reached": True,
        "cases": 2,
        "planned": 0,
        "trainees": 2,
        "cohorts": 2,
        "villages_reached": 2,
        "villages_total": 2,
    }
    assert body["unreached"] == ["18.04.09"]
    assert (body["cases"], body["villages_reached"], body["unmatched"]) == (2, 3, ["Tenggarong"])
    missing = client.get("/api/v1/reach/99.99", headers=bearer(f.admin))
    assert missing.status_code == 404 and missing.json["message"]
    trainee = client.get("/api/v1/reach/18.04", headers=bearer(f.world.trainee))
    assert trainee.status_code == 404


def test_an_organizer_membership_is_what_scopes(app):
    # The organizer of cohort B (not of A) sees case B only.
    f = Fixture()
    other = factories.create_user()
    db.session.add(CohortMember(cohort=f.case_b.cohort, user=other, role="organizer"))
    db.session.commit()
    report = reach.reach_for(other, f.places.regency)
    assert figures(row(report, "Sukau")) == (1, 0, 1, 1, 1)
    assert figures(row(report, "Balik Bukit")) == (1, 0, 1, 1, 1)
