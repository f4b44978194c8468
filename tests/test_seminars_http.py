"""Seminar pages: the cohort's jadwal seminar (scoped, grouped, clashes flagged, a fixed
number of queries), scheduling from it, the case page's panel (attendance, upload), the
.ics and presentation downloads."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from tests.factories import create_user
from tests.test_http_helpers import check_markup, english, login, page_token
from tests.test_seminars import (
    PDF,
    another_case,
    booked,
    counts,
    parse_ics,
    schedule,
    seminar_of,
    seminar_world,
    slot,
)
from workflow.extensions import db
from workflow.models._base import clock_at
from workflow.models.seminars import Seminar
from workflow.services import perform


@pytest.fixture
def sw(app):
    return seminar_world()


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def schedule_path(world) -> str:
    return f"/cohorts/{world.cohort.id}/seminars"


def _count_statements(app, fn) -> int:
    statements = []

    def record(*_args):
        statements.append(1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


# ---------------------------------------------------------------- the jadwal seminar


def test_schedule_page_is_for_organizers_and_the_institution_admin(client, sw):
    admin = create_user(is_admin=True, institution_id=sw.cohort.program.institution_id)
    db.session.commit()
    for user, status in (
        (sw.organizer, 200),
        (admin, 200),
        (sw.stranger, 404),
        (sw.examiner, 404),
        (sw.trainee, 404),
    ):
        login(client, user)
        assert client.get(schedule_path(sw)).status_code == status, user.username


def test_cohort_page_links_to_the_schedule(client, sw):
    login(client, sw.organizer)
    page = client.get(f"/cohorts/{sw.cohort.id}").get_data(as_text=True)
    assert f'href="{schedule_path(sw)}"' in page


def test_schedule_page_rows_per_day_room_and_examiner(client, sw):
    sw.case.ndh = 7
    db.session.commit()
    schedule(sw)
    english(client)
    login(client, sw.organizer)
    for view, heading in (("day", None), ("room", "Ruang Seminar 1"), ("examiner", None)):
        page = client.get(f"{schedule_path(sw)}?view={view}").get_data(as_text=True)
        check_markup(page)
        assert f'data-seminar="{seminar_of_case(sw).id}"' in page
        assert "09:00–11:00" in page and "WITA" in page
        assert sw.trainee.name in page and "7." in page and sw.case.title in page
        assert sw.examiner.name in page and sw.coach.name in page and sw.mentor.name in page
        assert 'aria-current="page"' in page
        if heading:
            assert f">{heading} <" in page
    page = client.get(f"{schedule_path(sw)}?view=examiner").get_data(as_text=True)
    assert f">{sw.examiner.name} <" in page
    assert 'data-clash="yes"' not in page


def seminar_of_case(world) -> Seminar:
    return db.session.scalar(select(Seminar).where(Seminar.case_id == world.case.id))


def test_schedule_page_flags_clashes(client, sw):
    schedule(sw)
    other = another_case(sw)
    db.session.commit()
    booked(other, 7, "10:00", "12:00", room="Aula", panel=[("examiner", sw.examiner)])
    english(client)
    login(client, sw.organizer)
    page = client.get(schedule_path(sw)).get_data(as_text=True)
    assert page.count('data-clash="yes"') == 2
    assert "seminar-clash-summary" in page and sw.examiner.name in page


def test_schedule_page_queries_do_not_grow_with_seminars(app, client, sw):
    login(client, sw.organizer)

    def add(n: int) -> None:
        for i in range(n):
            case = another_case(sw)
            db.session.commit()
            booked(
                case,
                7 + i,
                "09:00",
                "10:00",
                room=f"Ruang {i}",
                panel=[("examiner", create_user()), ("coach", create_user())],
            )

    def run() -> None:
        db.session.expire_all()
        response = client.get(schedule_path(sw))
        assert response.status_code == 200

    add(2)
    few = _count_statements(app, run)
    add(6)
    many = _count_statements(app, run)
    assert db.session.scalar(select(func.count(Seminar.id))) == 8
    assert few == many


def _post_schedule(client, world, **data):
    token = page_token(client, schedule_path(world))
    return client.post(
        schedule_path(world), data={"csrf_token": token, "case_id": world.case.id, **data}
    )


def test_schedule_from_the_cohort_page(client, sw):
    login(client, sw.organizer)
    page = client.get(schedule_path(sw)).get_data(as_text=True)
    assert f'<option value="{sw.case.id}"' in page  # waiting for a seminar
    response = _post_schedule(client, sw, **slot())
    assert response.status_code == 302
    seminar = seminar_of_case(sw)
    assert seminar is not None and seminar.room == "Ruang Seminar 1"
    page = client.get(schedule_path(sw)).get_data(as_text=True)
    assert f'<option value="{sw.case.id}"' not in page  # scheduled now


def test_bad_input_on_the_cohort_page_keeps_what_was_typed_and_writes_nothing(client, sw):
    english(client)
    login(client, sw.organizer)
    before = counts()
    data = slot(start="11:00", end="09:00", online_link="javascript:alert(1)", room="Aula 3")
    response = _post_schedule(client, sw, **data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    check_markup(page)
    assert "The seminar must end after it starts." in page
    assert 'id="seminar-new-online_link-error"' in page
    assert 'value="Aula 3"' in page and 'value="javascript:alert(1)"' in page
    assert counts() == before


def test_cohort_page_refuses_a_case_of_another_cohort(client, sw):
    elsewhere = seminar_world()
    login(client, sw.organizer)
    before = counts()
    token = page_token(client, schedule_path(sw))
    response = client.post(
        schedule_path(sw), data={"csrf_token": token, "case_id": elsewhere.case.id, **slot()}
    )
    assert response.status_code == 422
    assert counts() == before


def test_admin_sees_but_cannot_schedule(client, sw):
    admin = create_user(is_admin=True, institution_id=sw.cohort.program.institution_id)
    db.session.commit()
    login(client, admin)
    page = client.get(schedule_path(sw)).get_data(as_text=True)
    assert 'id="seminar-new-case"' not in page


# ---------------------------------------------------------------- the case page


def test_case_page_panel_for_the_organizer_schedules_and_reschedules(client, sw):
    login(client, sw.organizer)
    path = f"/cases/{sw.case.id}"
    page = client.get(path).get_data(as_text=True)
    check_markup(page)
    assert 'id="seminar-panel"' in page and f'action="{path}/seminar"' in page
    token = page_token(client, path)
    response = client.post(
        f"{path}/seminar", data={"csrf_token": token, "version": sw.case.version, **slot()}
    )
    assert response.status_code == 302
    seminar = seminar_of_case(sw)
    page = client.get(path).get_data(as_text=True)
    check_markup(page)
    assert "Ruang Seminar 1" in page and "WITA" in page
    assert f"/seminars/{seminar.id}.ics" in page
    assert 'value="09:00"' in page  # the reschedule form starts from the current schedule
    db.session.refresh(sw.case)
    response = client.post(
        f"{path}/seminar",
        data={"csrf_token": token, "version": sw.case.version, **slot(days=8, room="Aula")},
    )
    assert response.status_code == 302
    db.session.refresh(seminar)
    assert (seminar.sequence, seminar.room) == (1, "Aula")


def test_case_page_bad_schedule_is_shown_beside_the_field(client, sw):
    english(client)
    login(client, sw.organizer)
    path = f"/cases/{sw.case.id}"
    token = page_token(client, path)
    before = counts()
    response = client.post(
        f"{path}/seminar",
        data={"csrf_token": token, "version": sw.case.version, **slot(days=-3)},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    check_markup(page)
    assert 'id="seminar-case-date-error"' in page
    assert "cannot be scheduled in the past" in page
    assert counts() == before


def test_panel_records_attendance_on_the_case_page_then_the_examiner_sees_the_outcome(client, sw):
    seminar = seminar_of(schedule(sw))
    login(client, sw.coach)
    path = f"/cases/{sw.case.id}"
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}/seminar/attendance"' in page
    assert 'action="' + path + '/seminar"' not in page  # only the organizer schedules
    token = page_token(client, path)
    form = {
        "csrf_token": token,
        "version": sw.case.version,
        "seminar_id": seminar.id,
        "member": [str(p.user_id) for p in seminar.panel],
        "attended": [str(sw.examiner.id), str(sw.coach.id)],
        "trainee_attended": "yes",
        "notes": "Diskusi baik.",
    }
    # Before the start: refused beside the form, nothing written.
    response = client.post(f"{path}/seminar/attendance", data=form)
    assert response.status_code == 422
    assert db.session.get(Seminar, seminar.id).status == "scheduled"
    with clock_at(seminar.starts_at + timedelta(minutes=10)):
        response = client.post(f"{path}/seminar/attendance", data=form)
    assert response.status_code == 302
    db.session.refresh(seminar)
    assert seminar.status == "held" and seminar.notes == "Diskusi baik."
    assert {p.role: p.attended for p in seminar.panel}["mentor"] is False
    login(client, sw.examiner)
    page = client.get(path).get_data(as_text=True)
    check_markup(page)
    assert "seminar-next" in page  # the examiner is told to record the outcome
    assert f"/cases/{sw.case.id}/actions/seminar_passed" in page  # the status card's button


def test_trainee_uploads_and_panel_downloads_the_presentation(client, sw, uploads):
    seminar = seminar_of(schedule(sw))
    login(client, sw.trainee)
    path = f"/cases/{sw.case.id}"
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}/seminar/presentation"' in page
    token = page_token(client, path)
    response = client.post(
        f"{path}/seminar/presentation",
        data={
            "csrf_token": token,
            "version": sw.case.version,
            "seminar_id": seminar.id,
            "file": (io.BytesIO(b"not a pdf"), "paparan.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    db.session.refresh(sw.case)
    response = client.post(
        f"{path}/seminar/presentation",
        data={
            "csrf_token": token,
            "version": sw.case.version,
            "seminar_id": seminar.id,
            "file": (io.BytesIO(PDF), "paparan.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    download = f"/seminars/{seminar.id}/presentation"
    for user, status in (
        (sw.examiner, 200),
        (sw.organizer, 200),
        (sw.trainee, 200),
        (sw.executive, 404),
        (sw.stranger, 404),
    ):
        login(client, user)
        response = client.get(download)
        assert response.status_code == status, user.username
        if status == 200:
            assert response.data == PDF


def test_ics_download_for_the_people_of_the_case(client, sw):
    seminar = seminar_of(schedule(sw))
    for user, status in ((sw.trainee, 200), (sw.mentor, 200), (sw.stranger, 404)):
        login(client, user)
        response = client.get(f"/seminars/{seminar.id}.ics")
        assert response.status_code == status
        if status == 200:
            assert response.mimetype == "text/calendar"
            props = parse_ics(response.data)
            assert props["UID"] == seminar.uid and props["METHOD"] == "REQUEST"


def test_case_page_without_seminar_shows_no_panel(client, app):
    from tests.factories import World

    world = World(version=None)
    login(client, world.trainee)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert 'id="seminar-panel"' not in page


def test_outcome_shown_after_the_examiner_decides(client, sw):
    seminar = seminar_of(schedule(sw))
    with clock_at(seminar.starts_at + timedelta(minutes=5)):
        perform(sw.case, "record_attendance", sw.organizer, data={"trainee_attended": True})
        perform(sw.case, "seminar_passed", sw.examiner)
    login(client, sw.trainee)
    page = client.get(f"/cases/{sw.case.id}").get_data(as_text=True)
    assert 'data-outcome="passed"' in page
