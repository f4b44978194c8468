"""API v1 seminars: the cohort's schedule, one seminar, scheduling and rescheduling, the
attendance — scoped like the pages, refusals as JSON (422 with fields) writing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import create_user
from tests.test_api import bearer
from tests.test_seminars import another_case, booked, counts, schedule, seminar_world, slot
from workflow.extensions import db
from workflow.models._base import clock_at
from workflow.models.seminars import Seminar


@pytest.fixture
def sw(app):
    return seminar_world()


def post_schedule(client, world, user, body):
    return client.post(f"/api/v1/cases/{world.case.id}/seminars", json=body, headers=bearer(user))


def test_schedule_then_reschedule(client, sw):
    response = post_schedule(client, sw, sw.organizer, slot())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "scheduled" and body["sequence"] == 0
    assert body["local"] == {
        "date": slot()["date"],
        "start": "09:00",
        "end": "11:00",
        "zone": "Asia/Makassar",
        "zone_label": "WITA",
    }
    assert body["starts_at"].endswith("Z") and "T01:00:00" in body["starts_at"]
    assert {p["role"]: p["user"]["id"] for p in body["panel"]} == {
        "examiner": sw.examiner.id,
        "coach": sw.coach.id,
        "mentor": sw.mentor.id,
    }
    assert body["clashes"] == [] and body["presentation"] is None
    response = post_schedule(
        client, sw, sw.organizer, slot(days=9, room=None, online_link="https://meet.example.test/a")
    )
    assert response.status_code == 200, response.json
    assert response.json["id"] == body["id"] and response.json["sequence"] == 1
    assert response.json["room"] == "" and response.json["online_link"].startswith("https://")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (slot(days=-1), "date"),
        (slot(start="12:00", end="10:00"), "end"),
        (slot(room="", online_link="mailto:x@example.test"), "online_link"),
        ({"start": "09:00", "end": "10:00", "room": "A"}, "date"),
        (slot(date=20261210), "date"),
        (slot(date="0001-01-01", start="01:00", end="02:00"), "date"),
        (slot(room=42), "room"),
        (slot(examiner_id=999999), "examiner_id"),
    ],
)
def test_bad_schedule_is_422_with_fields_and_writes_nothing(client, sw, body, field):
    before = counts()
    response = post_schedule(client, sw, sw.organizer, body)
    assert response.status_code == 422, response.json
    assert field in response.json["fields"]
    assert response.json["message"]
    assert counts() == before


def test_clash_is_422_naming_the_other_seminar(client, sw):
    other = another_case(sw)
    db.session.commit()
    booked(other, 7, "10:30", "11:30", room="Aula", panel=[("examiner", sw.examiner)])
    before = counts()
    response = post_schedule(client, sw, sw.organizer, slot())
    assert response.status_code == 422
    assert other.trainee.name in response.json["fields"]["examiner_id"]
    assert response.json["reasons"]
    assert counts() == before


@pytest.mark.parametrize(
    ("who", "status"), [("trainee", 403), ("examiner", 403), ("stranger", 404)]
)
def test_schedule_is_for_the_organizer(client, sw, who, status):
    response = post_schedule(client, sw, getattr(sw, who), slot())
    assert response.status_code == status
    assert db.session.query(Seminar).count() == 0


def test_unknown_keys_and_bad_json_are_400(client, sw):
    assert post_schedule(client, sw, sw.organizer, {**slot(), "colour": "red"}).status_code == 400
    response = client.post(
        f"/api/v1/cases/{sw.case.id}/seminars",
        data="[]",
        content_type="application/json",
        headers=bearer(sw.organizer),
    )
    assert response.status_code == 400


def test_stale_version_is_409(client, sw):
    response = client.post(
        f"/api/v1/cases/{sw.case.id}/seminars",
        json=slot(),
        headers={**bearer(sw.organizer), "If-Match": '"1"'},
    )
    assert response.status_code == 409


def test_cohort_schedule_scoped_with_clashes_and_waiting(client, sw):
    path = f"/api/v1/cohorts/{sw.cohort.id}/seminars"
    response = client.get(path, headers=bearer(sw.organizer))
    assert response.status_code == 200
    assert response.json["items"] == []
    assert [w["case_id"] for w in response.json["waiting"]] == [sw.case.id]
    schedule(sw)
    other = another_case(sw)
    db.session.commit()
    booked(other, 7, "10:00", "12:00", room="Ruang Seminar 1")
    body = client.get(path, headers=bearer(sw.organizer)).json
    assert [i["case_id"] for i in body["items"]] == [sw.case.id, other.id]
    assert all(i["clashes"] for i in body["items"])  # the room, twice
    assert body["waiting"] == []
    admin = create_user(is_admin=True, institution_id=sw.cohort.program.institution_id)
    db.session.commit()
    assert client.get(path, headers=bearer(admin)).status_code == 200
    for user in (sw.stranger, sw.examiner, sw.trainee):
        assert client.get(path, headers=bearer(user)).status_code == 404


def test_get_one_seminar_for_the_people_of_the_case(client, sw):
    seminar_id = post_schedule(client, sw, sw.organizer, slot()).json["id"]
    for user, status in ((sw.trainee, 200), (sw.examiner, 200), (sw.stranger, 404)):
        response = client.get(f"/api/v1/seminars/{seminar_id}", headers=bearer(user))
        assert response.status_code == status
    assert client.get("/api/v1/seminars/999999", headers=bearer(sw.trainee)).status_code == 404


def test_attendance_after_the_start_marks_the_seminar_held(client, sw):
    body = post_schedule(client, sw, sw.organizer, slot()).json
    path = f"/api/v1/seminars/{body['id']}/attendance"
    attendance = {
        "panel": {str(sw.examiner.id): True, str(sw.coach.id): False},
        "trainee_attended": True,
        "notes": "Hadir.",
    }
    before = counts()
    response = client.post(path, json=attendance, headers=bearer(sw.examiner))
    assert response.status_code == 422 and "attendance" in response.json["fields"]
    assert counts() == before
    seminar = db.session.get(Seminar, body["id"])
    with clock_at(seminar.starts_at + timedelta(minutes=1)):
        assert client.post(path, json=attendance, headers=bearer(sw.trainee)).status_code == 403
        response = client.post(path, json={"panel": {}}, headers=bearer(sw.examiner))
        assert response.status_code == 422 and "trainee_attended" in response.json["fields"]
        response = client.post(path, json=attendance, headers=bearer(sw.examiner))
    assert response.status_code == 200, response.json
    got = response.json
    assert got["status"] == "held" and got["trainee_attended"] is True
    assert {p["role"]: p["attended"] for p in got["panel"]} == {
        "examiner": True,
        "coach": False,
        "mentor": False,
    }


def test_attendance_on_a_closed_seminar_is_409(client, sw):
    from workflow.services import perform

    first = post_schedule(client, sw, sw.organizer, slot()).json["id"]
    seminar = db.session.get(Seminar, first)
    with clock_at(seminar.starts_at + timedelta(minutes=1)):
        perform(sw.case, "record_attendance", sw.organizer, data={"trainee_attended": True})
        perform(sw.case, "seminar_failed", sw.examiner, comment="Ulang.")
        # The case re-entered its state at the clock above: the new seminar comes after.
        post_schedule(client, sw, sw.organizer, slot(days=10))
    response = client.post(
        f"/api/v1/seminars/{first}/attendance",
        json={"trainee_attended": True},
        headers=bearer(sw.organizer),
    )
    assert response.status_code == 409


def test_only_who_sets_up_the_cohort_reads_the_clashes(client, sw):
    """Clashes name other seminars, of any cohort: the trainee sees their seminar without."""
    other = another_case(sw)
    db.session.commit()
    booked(other, 7, "10:30", "11:30", room="Aula", panel=[("examiner", sw.examiner)])
    mine = booked(sw.case, 7, "10:00", "12:00", room="Aula 2", panel=[("examiner", sw.examiner)])
    path = f"/api/v1/seminars/{mine.id}"
    assert client.get(path, headers=bearer(sw.organizer)).json["clashes"]
    trainee = client.get(path, headers=bearer(sw.trainee))
    assert trainee.status_code == 200 and trainee.json["clashes"] == []
