"""The cohort pages: list, create, the cohort page with groups and assignment, and the
participant import (upload → preview → confirm); scoped (another's cohort is a 404),
CSRF-protected, and in a number of queries that does not grow with the rows."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests import factories
from tests.test_http_helpers import check_markup, login, page_token
from tests.test_http_home import counting_statements
from tests.test_imports import base_rows, csv_of, trainee
from workflow.extensions import db
from workflow.models import AuditEvent, Case, Cohort, Group, ImportBatch, User
from workflow.services import start_case

GOOD = {
    "name": "PKA Angkatan IV",
    "year": "2026",
    "quota": "40",
    "start_date": "2026-07-06",
    "proposal_deadline": "2026-07-24",
    "implementation_start": "2026-07-27",
    "implementation_end": "2026-10-16",
    "evaluation_date": "2026-10-26",
    "end_date": "2026-10-30",
}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def as_user(client, user):
    """Log in (out of whoever was) and read the pages in English."""
    login(client, user)
    token = page_token(client, "/")
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def admin(world):
    user = factories.create_user(
        is_admin=True, institution_id=world.cohort.program.institution_id, name="Admin BPSDM"
    )
    db.session.commit()
    return user


def post(client, path: str, data: dict | None = None, token_page: str = "/cohorts"):
    return client.post(path, data={"csrf_token": page_token(client, token_page), **(data or {})})


# ---------------------------------------------------------------- list and create


def test_the_list_shows_what_the_user_organizes(client, world, admin):
    other = factories.World()
    as_user(client, world.organizer)
    html = client.get("/cohorts").get_data(as_text=True)
    check_markup(html)
    assert world.cohort.name in html and other.cohort.name not in html
    assert 'href="/cohorts/new"' in html
    as_user(client, world.trainee)
    html = client.get("/cohorts").get_data(as_text=True)
    assert world.cohort.name not in html and 'href="/cohorts/new"' not in html
    assert client.get("/cohorts/new").status_code == 403


def test_an_organizer_creates_a_cohort(client, world):
    as_user(client, world.organizer)
    page = client.get("/cohorts/new")
    assert page.status_code == 200
    check_markup(page.get_data(as_text=True))
    data = {"program_id": str(world.cohort.program_id), **GOOD}
    response = post(client, "/cohorts/new", data, "/cohorts/new")
    assert response.status_code == 302
    cohort = db.session.scalar(select(Cohort).where(Cohort.name == "PKA Angkatan IV"))
    assert response.headers["Location"].endswith(f"/cohorts/{cohort.id}")
    html = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Cohort PKA Angkatan IV created." in html
    assert world.organizer.name in html


def test_a_bad_cohort_form_shows_messages_keeps_the_input_and_writes_nothing(client, world):
    as_user(client, world.organizer)
    data = {
        "program_id": str(world.cohort.program_id),
        **GOOD,
        "name": "Angkatan <b>V</b>",
        "implementation_end": "2026-07-01",
        "quota": "nol",
    }
    before = count(Cohort)
    response = post(client, "/cohorts/new", data, "/cohorts/new")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'id="c-implementation_end-error"' in html and "Must be after" in html
    assert 'id="c-quota-error"' in html and 'value="nol"' in html
    assert "Angkatan &lt;b&gt;V&lt;/b&gt;" in html
    assert 'value="2026-07-01"' in html
    assert count(Cohort) == before


def test_an_admin_must_name_an_organizer(client, world, admin):
    staff = factories.create_user(institution_id=admin.institution_id, name="Ibu Penyelenggara")
    db.session.commit()
    as_user(client, admin)
    data = {"program_id": str(world.cohort.program_id), **GOOD}
    response = post(client, "/cohorts/new", data, "/cohorts/new")
    assert response.status_code == 422
    assert "Name at least one organizer." in response.get_data(as_text=True)
    token = page_token(client, "/cohorts/new")
    response = client.post(
        "/cohorts/new", data={**data, "organizers": [str(staff.id)], "csrf_token": token}
    )
    assert response.status_code == 302


# ---------------------------------------------------------------- scoping and CSRF


PROTECTED = [
    ("GET", "/cohorts/{c}"),
    ("GET", "/cohorts/{c}/import"),
    ("POST", "/cohorts/{c}/import"),
    ("GET", "/cohorts/{c}/import/{b}"),
    ("POST", "/cohorts/{c}/import/{b}"),
    ("POST", "/cohorts/{c}/groups"),
    ("POST", "/cohorts/{c}/groups/{g}"),
    ("POST", "/cohorts/{c}/assign"),
    ("POST", "/cohorts/{c}/assign-evenly"),
    ("POST", "/cohorts/{c}/organizers"),
]


def test_another_cohort_is_a_404(client, world):
    batch = ImportBatch(cohort_id=world.cohort.id, organizer_id=world.organizer.id, filename="a")
    db.session.add(batch)
    other = factories.World()
    # An admin of another institution, who also organizes a cohort there.
    foreign_admin = factories.create_user(
        is_admin=True, institution_id=other.cohort.program.institution_id
    )
    db.session.commit()
    users = {role: world.by_role(role) for role in ("trainee", "mentor", "coach", "stranger")}
    users |= {"foreign admin": foreign_admin, "foreign organizer": other.organizer}
    before = (count(Group), count(ImportBatch), count(AuditEvent), count(Case))
    for who, user in users.items():
        as_user(client, user)
        token = page_token(client, "/")
        for method, path in PROTECTED:
            url = path.format(c=world.cohort.id, b=batch.id, g=world.group.id)
            if method == "GET":
                response = client.get(url)
            else:
                data = {"csrf_token": token, "name": "X", "case_id": world.case.id, "group_id": 1}
                response = client.post(url, data=data)
            assert response.status_code == 404, (who, method, url)
    assert (count(Group), count(ImportBatch), count(AuditEvent), count(Case)) == before


def test_a_batch_or_group_of_another_cohort_is_a_404(client, world):
    other = factories.World()
    batch = ImportBatch(cohort_id=other.cohort.id, organizer_id=world.organizer.id, filename="a")
    db.session.add(batch)
    db.session.commit()
    as_user(client, world.organizer)
    assert client.get(f"/cohorts/{world.cohort.id}/import/{batch.id}").status_code == 404
    response = post(client, f"/cohorts/{world.cohort.id}/groups/{other.group.id}", {"name": "X"})
    assert response.status_code == 404
    response = post(
        client,
        f"/cohorts/{world.cohort.id}/assign",
        {"case_id": other.case.id, "group_id": world.group.id},
    )
    assert response.status_code == 404
    assert db.session.get(Case, other.case.id).group_id == other.group.id


def test_posts_without_the_csrf_token_are_refused(client, world):
    as_user(client, world.organizer)
    before = (count(Cohort), count(Group), count(ImportBatch), count(AuditEvent))
    c = world.cohort.id
    attempts = [
        ("/cohorts/new", {"program_id": world.cohort.program_id, **GOOD}),
        (f"/cohorts/{c}/groups", {"name": "Kelompok 9"}),
        (f"/cohorts/{c}/assign-evenly", {}),
        (f"/cohorts/{c}/import", {"file": (io.BytesIO(csv_of(base_rows())), "a.csv")}),
    ]
    for path, data in attempts:
        assert client.post(path, data=data).status_code == 400, path
    assert (count(Cohort), count(Group), count(ImportBatch), count(AuditEvent)) == before


def test_the_institution_admin_sees_every_cohort_of_it(client, world, admin):
    as_user(client, admin)
    assert client.get(f"/cohorts/{world.cohort.id}").status_code == 200
    html = client.get("/cohorts").get_data(as_text=True)
    assert world.cohort.name in html


# ---------------------------------------------------------------- the cohort page


def test_the_cohort_page_shows_dates_groups_and_trainees(client, world):
    start_case(world.cohort, factories.create_user(name="Tanpa Kelompok"))
    db.session.commit()
    as_user(client, world.organizer)
    response = client.get(f"/cohorts/{world.cohort.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(html)
    assert "Kelompok 1" in html and world.coach.name in html and world.examiner.name in html
    assert "Tanpa Kelompok" in html and "1 trainees have no group yet." in html
    assert f'href="/dashboard/cohorts/{world.cohort.id}"' in html
    assert f'href="/cohorts/{world.cohort.id}/import"' in html
    assert "2 Mar 2026" in html  # the proposal deadline
    assert 'src="/static/js/cohorts.js"' in html


def test_groups_are_created_and_edited_with_messages_beside_the_fields(client, world):
    staff = factories.create_user(
        institution_id=world.cohort.program.institution_id, name="Dr. Widya"
    )
    db.session.commit()
    as_user(client, world.organizer)
    c = world.cohort.id
    response = post(client, f"/cohorts/{c}/groups", {"name": "Kelompok 2", "coach_id": staff.id})
    assert response.status_code == 302
    group = db.session.scalar(select(Group).where(Group.name == "Kelompok 2"))
    assert group.coach_id == staff.id
    before = count(Group)
    response = post(client, f"/cohorts/{c}/groups", {"name": "kelompok 1", "coach_id": "999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'id="new-group-name-error"' in html and "already has a group" in html
    assert 'id="new-group-coach-error"' in html and 'value="kelompok 1"' in html
    assert count(Group) == before
    response = post(
        client,
        f"/cohorts/{c}/groups/{group.id}",
        {"name": "Kelompok 2", "coach_id": staff.id, "examiner_id": staff.id},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="g{group.id}-examiner-error"' in html
    db.session.refresh(group)
    assert group.examiner_id is None


def test_assign_by_hand_and_evenly(client, world):
    for _ in range(4):
        start_case(world.cohort, factories.create_user())
    g2 = Group(cohort=world.cohort, name="Kelompok 2")
    db.session.add(g2)
    db.session.commit()
    as_user(client, world.organizer)
    c = world.cohort.id
    loose = db.session.scalars(select(Case).where(Case.group_id.is_(None))).all()
    response = post(client, f"/cohorts/{c}/assign", {"case_id": loose[0].id, "group_id": g2.id})
    assert response.status_code == 302
    assert db.session.get(Case, loose[0].id).group_id == g2.id
    # Refused (already there): the message beside the case's select, nothing written.
    events = count(AuditEvent)
    response = post(client, f"/cohorts/{c}/assign", {"case_id": loose[0].id, "group_id": g2.id})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="assign-{loose[0].id}-error"' in html
    assert count(AuditEvent) == events
    response = post(client, f"/cohorts/{c}/assign-evenly", {"scope": "unassigned"})
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 trainees were assigned to groups." in html
    assert count(AuditEvent) == events + 3
    sizes = sorted(
        db.session.scalars(
            select(func.count())
            .select_from(Case)
            .where(Case.cohort_id == c)
            .group_by(Case.group_id)
        )
    )
    assert sizes == [2, 3]


def test_an_admin_who_does_not_organize_sees_no_assignment(client, world, admin):
    as_user(client, admin)
    html = client.get(f"/cohorts/{world.cohort.id}").get_data(as_text=True)
    assert "Only the cohort's organizers assign trainees to groups." in html
    assert 'name="group_id"' not in html
    events = count(AuditEvent)
    response = post(client, f"/cohorts/{world.cohort.id}/assign-evenly")
    assert response.status_code == 403
    assert count(AuditEvent) == events


# ---------------------------------------------------------------- import


def upload(client, cohort_id: int, data: bytes, name: str = "peserta.csv"):
    token = page_token(client, f"/cohorts/{cohort_id}/import")
    return client.post(
        f"/cohorts/{cohort_id}/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_upload_preview_confirm(client, world):
    as_user(client, world.organizer)
    c = world.cohort.id
    page = client.get(f"/cohorts/{c}/import")
    assert page.status_code == 200
    check_markup(page.get_data(as_text=True))
    rows = base_rows() + [trainee(1, instansi="Nowhere")]
    response = upload(client, c, csv_of(rows))
    assert response.status_code == 302
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    assert response.headers["Location"].endswith(f"/cohorts/{c}/import/{batch.id}")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    check_markup(html)
    assert "4 rows" in html and "3 ready" in html and "1 with errors" in html
    assert 'data-error="instansi"' in html and "Unknown agency" in html
    assert 'name="skip_errors"' in html
    users, cases = count(User), count(Case)
    token = page_token(client, f"/cohorts/{c}/import/{batch.id}")
    response = client.post(f"/cohorts/{c}/import/{batch.id}", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Some rows have errors" in response.get_data(as_text=True)
    assert (count(User), count(Case)) == (users, cases)
    data = {"csrf_token": token, "skip_errors": "1"}
    response = client.post(f"/cohorts/{c}/import/{batch.id}", data=data)
    assert response.status_code == 302
    assert (count(User), count(Case)) == (users + 3, cases + 1)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Imported: 1 trainees, 3 new accounts, 0 existing accounts; 1 rows skipped." in html
    assert 'name="skip_errors"' not in html
    # Confirming again (a second tab, a double click) imports nothing more.
    response = client.post(f"/cohorts/{c}/import/{batch.id}", data=data)
    assert response.status_code == 302
    assert (count(User), count(Case)) == (users + 3, cases + 1)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already imported" in html


def test_a_refused_file_is_told_on_the_upload_page_and_stores_nothing(client, world):
    as_user(client, world.organizer)
    before = (count(ImportBatch), count(User))
    response = upload(client, world.cohort.id, b"%PDF-1.4 fake\n%%EOF", "peserta.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'id="import-file-error"' in html and "is not a CSV or XLSX file" in html
    response = upload(client, world.cohort.id, csv_of([], header=("nama", "umur")))
    assert "Unknown columns: umur." in response.get_data(as_text=True)
    assert (count(ImportBatch), count(User)) == before


def test_the_upload_limit_comes_from_the_config(client, world, app):
    app.config["MAX_UPLOAD_MB"] = 0.001
    as_user(client, world.organizer)
    response = upload(client, world.cohort.id, csv_of([trainee(i) for i in range(50)]))
    assert response.status_code == 422
    assert "The file is too large (at most 0.001 MB)." in response.get_data(as_text=True)
    assert count(ImportBatch) == 0


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        (
            "/cohorts/import-template.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("/cohorts/import-template.csv", "text/csv"),
    ],
)
def test_the_templates_download(client, world, path, mimetype):
    as_user(client, world.organizer)
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    if path.endswith(".xlsx"):
        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        header = next(sheet.iter_rows(values_only=True))
    else:
        header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert list(header) == [
        "peran",
        "ndh",
        "nip",
        "nama",
        "email",
        "pangkat_golongan",
        "jabatan",
        "instansi",
        "nip_mentor",
        "nip_pimpinan",
    ]


# ---------------------------------------------------------------- query counts


def test_the_cohort_page_query_count_does_not_grow_with_trainees(client, world):
    as_user(client, world.organizer)

    def grow(n):
        for i in range(n):
            agency = factories.Agency(name=f"Dinas {i} {count(User)}")
            db.session.add(agency)
            start_case(
                world.cohort,
                factories.create_user(agency=agency),
                group=world.group if i % 2 else None,
                mentor=factories.create_user(),
                executive=world.executive,
            )
        db.session.add(Group(cohort=world.cohort, name=f"Kelompok {count(Group) + 10}"))
        db.session.commit()

    grow(2)
    db.session.expire_all()
    with counting_statements() as few:
        small = client.get(f"/cohorts/{world.cohort.id}")
    grow(25)
    db.session.expire_all()
    with counting_statements() as many:
        big = client.get(f"/cohorts/{world.cohort.id}")
    assert small.status_code == big.status_code == 200
    assert big.get_data(as_text=True).count('data-case="') == 28
    assert len(few) == len(many), (len(few), len(many))


def test_the_preview_query_count_does_not_grow_with_rows(client, world):
    as_user(client, world.organizer)
    c = world.cohort.id
    paths = []
    for n in (3, 250):
        response = upload(client, c, csv_of(base_rows() + [trainee(i) for i in range(n)]))
        assert response.status_code == 302
        paths.append(response.headers["Location"])
    # Tests share one session across requests: start both from the same (expired) state.
    db.session.expire_all()
    with counting_statements() as few:
        small = client.get(paths[0])
    db.session.expire_all()
    with counting_statements() as many:
        big = client.get(paths[1])
    assert small.status_code == big.status_code == 200
    html = big.get_data(as_text=True)
    assert html.count("data-line=") == 100 and "Page 1 of 3" in html
    assert len(few) == len(many), (len(few), len(many))
    page3 = client.get(paths[1] + "?page=3").get_data(as_text=True)
    assert page3.count("data-line=") == 53


def test_a_request_above_the_request_limit_is_told_on_the_upload_page(client, world, app):
    as_user(client, world.organizer)
    token = page_token(client, f"/cohorts/{world.cohort.id}/import")
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = client.post(
        f"/cohorts/{world.cohort.id}/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 4096), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert 'id="import-file-error"' in html and "The file is too large" in html
    assert count(ImportBatch) == 0
