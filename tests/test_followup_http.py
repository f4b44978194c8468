"""The follow-up panel of the case page, the home page's due follow-ups, the dashboards'
sustainability table (numbers and query counts) and the follow-up API."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests.factories import World, create_user
from tests.test_followup import (
    PDF,
    TODAY,
    counts,
    files_in,
    graduate,
    png_bytes,
    report_data,
)
from tests.test_http_helpers import check_markup, login, page_token
from tests.test_http_home import counting_statements
from workflow.extensions import db
from workflow.models import Agency, Case, CohortMember, Milestone
from workflow.models.followup import FollowUpReport, FollowUpResult, FollowUpRound
from workflow.services import followup as fu
from workflow.services import perform, start_case


@pytest.fixture
def traveller():
    with time_machine.travel(TODAY):
        yield


@pytest.fixture
def alumni(app, tmp_path, traveller):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    world = World(version=None)
    medium, long = graduate(world)
    return world, medium, long


def as_user(client, user):
    """Log in (out of whoever was), then switch to English."""
    login(client, user)
    token = page_token(client, "/")
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302
    return client


def form_of(medium, long, **changes) -> dict:
    form = {
        "running": "yes",
        "narrative": "Pembinaan berjalan di enam kecamatan.",
        fu.result_field(medium.id, "status"): "running",
        fu.result_field(medium.id, "achieved_quantity"): "5",
        fu.result_field(long.id, "status"): "running",
        fu.result_field(long.id, "note"): "Draf perbup di bagian hukum",
    }
    form.update(changes)
    return form


def post(client, case, horizon, action, data=None, files=(), *, htmx=True):
    token = page_token(client, f"/cases/{case.id}")
    db.session.refresh(case)
    form = {"version": str(case.version), **(data or {})}
    if files:
        form["files"] = [(io.BytesIO(body), name) for body, name in files]
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    if not htmx:
        form["csrf_token"] = token
    return client.post(
        f"/cases/{case.id}/follow-up/{horizon}/{action}",
        data=form,
        headers=headers,
        content_type="multipart/form-data",
    )


# ---------------------------------------------------------------- the panel


def test_the_alumnus_who_moved_reports_and_the_executive_confirms(client, alumni, app):
    world, medium, long = alumni
    case = world.case
    # The alumnus has moved to another agency: the case stays theirs to see and report on.
    world.mentor.agency = world.trainee.agency
    world.trainee.agency = Agency(name="Dinas Kesehatan Kota Samarinda")
    db.session.commit()
    as_user(client, world.trainee)
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_markup(html)
    assert 'id="follow-up"' in html and "Report the 12-month follow-up" in html
    assert "the executive confirms instead" in html

    home = client.get("/").get_data(as_text=True)
    assert "Follow-up reports due" in home and "12-month follow-up" in home

    response = post(
        client,
        case,
        12,
        "report",
        form_of(medium, long),
        files=[(png_bytes(), "foto.png"), (PDF, "sk.pdf")],
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(html)
    assert "Follow-up report sent" in html and 'hx-swap-oob="true"' in html
    assert "Awaiting confirmation" in html and "sk.pdf" in html
    row = db.session.scalar(select(FollowUpRound))
    assert row.status == "reported" and len(row.latest.documents) == 2

    # The mentor (in the alumnus's former agency) does not confirm now; the executive does.
    as_user(client, world.mentor)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Confirm the follow-up" not in html
    as_user(client, world.executive)
    assert "Follow-up reports awaiting your confirmation" in client.get("/").get_data(as_text=True)
    response = post(client, case, 12, "confirm", {"comment": "Sesuai kondisi lapangan."})
    assert response.status_code == 200
    assert "The follow-up report is confirmed." in response.get_data(as_text=True)
    db.session.refresh(row)
    assert row.status == "confirmed" and row.latest.decided_as == "executive"


def test_a_refused_report_keeps_what_was_typed_and_writes_nothing(client, alumni, app):
    world, medium, long = alumni
    as_user(client, world.trainee)
    before, on_disk = counts(), files_in(app)
    form = form_of(medium, long, narrative="", **{fu.result_field(medium.id, "note"): "catatan"})
    response = post(client, world.case, 12, "report", form, files=[(b"MZ\x90", "x.pdf")])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    check_markup(html)
    assert 'class="field-error"' in html
    assert 'value="catatan"' in html and 'value="5"' in html
    assert "Choose your files again" in html
    assert counts() == before and files_in(app) == on_disk
    # Without JavaScript: the whole case page, same status and messages.
    response = post(client, world.case, 12, "report", form, htmx=False)
    assert response.status_code == 422
    assert 'id="follow-up"' in response.get_data(as_text=True)
    assert counts() == before


@pytest.mark.parametrize("who", ["stranger", "coach_of_other"])
def test_someone_elses_follow_up_is_a_404(client, alumni, who):
    world, medium, long = alumni
    user = world.stranger if who == "stranger" else World(version=None).coach
    as_user(client, user)
    assert client.get(f"/cases/{world.case.id}").status_code == 404
    before = counts()
    token = page_token(client, "/")
    response = client.post(
        f"/cases/{world.case.id}/follow-up/12/report",
        data={"version": "1", "csrf_token": token, **form_of(medium, long)},
    )
    assert response.status_code == 404
    assert counts() == before


def test_a_report_on_a_case_not_followed_up_is_refused(client, app, traveller):
    world = World(version=None)
    as_user(client, world.trainee)
    token = page_token(client, f"/cases/{world.case.id}")
    response = client.post(
        f"/cases/{world.case.id}/follow-up/12/report",
        data={"version": str(world.case.version), "csrf_token": token, "running": "yes"},
    )
    assert response.status_code == 409
    assert "not available in the current state" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(FollowUpRound.id))) == 0


def test_the_mentor_returns_with_a_reason(client, alumni):
    world, medium, long = alumni
    perform(world.case, "report_follow_up", world.trainee, data=report_data(medium, long))
    as_user(client, world.mentor)
    response = post(client, world.case, 12, "return", {"comment": ""})
    assert response.status_code == 422
    response = post(client, world.case, 12, "return", {"comment": "Lengkapi foto."})
    assert response.status_code == 200
    as_user(client, world.trainee)
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert "Fix and report again" in html and "Lengkapi foto." in html


# ---------------------------------------------------------------- sustainability


def _alumni_with_rounds(world, n: int, running_at_12=True, stopped_at_6=False) -> list[int]:
    """n graduated cases in the world's cohort, each with confirmed 6 and 12-month rounds
    (a report with a line per followed milestone), written directly."""
    ids = []
    for i in range(n):
        trainee = create_user()
        case = start_case(world.cohort, trainee, group=world.group, mentor=world.mentor)
        case.title = f"Aksi alumni {trainee.id}"
        db.session.flush()
        m = Milestone(position=0, term="medium", activity="Replikasi", target_unit="desa")
        lg = Milestone(position=1, term="long", activity="Perbup", target_unit="perbup")
        case.milestones.extend([m, lg])
        case.state = "completed"
        case.state_entered_at = datetime(2025, 6, 2, 3, 0)
        db.session.flush()
        plan = [(6, not stopped_at_6)] + ([] if stopped_at_6 else [(12, running_at_12)])
        for horizon, running in plan:
            row = FollowUpRound(
                case_id=case.id, horizon=horizon, status="confirmed", running=running
            )
            db.session.add(row)
            report = FollowUpReport(
                case_id=case.id,
                number=1,
                author_id=trainee.id,
                running=running,
                report_date=TODAY.date(),
                decision="confirmed",
            )
            row.reports.append(report)
            report.results.extend(
                [
                    FollowUpResult(milestone_id=m.id, status="achieved" if running else "stopped"),
                    FollowUpResult(
                        milestone_id=lg.id,
                        status="stopped"
                        if i % 2 and running
                        else ("running" if running else "stopped"),
                    ),
                ]
            )
        ids.append(case.id)
    db.session.commit()
    return ids


def test_sustainability_numbers_and_queries(client, app, traveller):
    world = World(version=None)
    _alumni_with_rounds(world, 2, running_at_12=True)
    _alumni_with_rounds(world, 1, running_at_12=False)
    _alumni_with_rounds(world, 1, stopped_at_6=True)
    as_user(client, world.organizer)
    url = f"/dashboard/sustainability?cohort={world.cohort.id}"
    html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    check_markup(html)

    def cell(key: str) -> str:
        found = re.search(rf'data-share="{key}">(.*?)</td>', html, re.S)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()

    # 12 months: 2 running of 4 known (one stopped at 12, one stopped at 6 counts stopped).
    assert cell("12") == "50% (2 of 4)"
    # Medium-term results at 12: achieved in the 2 running cases, stopped in the others.
    assert cell("12-medium") == "50% (2 of 4)"
    # Long-term: of the 2 running cases, the second one (i=1) has its long result stopped.
    assert cell("12-long") == "25% (1 of 4)"
    # Nobody reported at 24 months; the one stopped at 6 counts as stopped.
    assert cell("24") == "0% (0 of 2)"  # stopped at 6 or at 12: stopped at 24 too
    assert re.search(r'data-count="followed">\s*4\s*<', html)

    def queries() -> int:
        client.get(url, headers={"HX-Request": "true"})
        with counting_statements() as statements:
            assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
        return len(statements)

    few = queries()
    _alumni_with_rounds(world, 30)
    assert queries() == few
    # The whole page, and the dashboard that loads it, for every overseen cohort.
    assert client.get("/dashboard/sustainability").status_code == 200
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'id="sustainability-slot"' in dashboard


def test_sustainability_is_scoped_to_what_one_oversees(client, app, traveller):
    mine, other = World(version=None), World(version=None)
    _alumni_with_rounds(other, 3)
    as_user(client, mine.organizer)
    html = client.get("/dashboard/sustainability").get_data(as_text=True)
    assert "No alumnus is followed up yet." in html
    assert client.get(f"/dashboard/sustainability?cohort={other.cohort.id}").status_code == 404
    assert client.get("/dashboard/sustainability?cohort=x").status_code == 404


def test_the_home_page_lists_due_follow_ups_in_a_fixed_number_of_queries(client, app, traveller):
    world = World(version=None)
    graduate(world)
    db.session.add(CohortMember(cohort=world.cohort, user=world.mentor, role="organizer"))
    db.session.commit()
    as_user(client, world.mentor)

    def queries() -> int:
        client.get("/")
        with counting_statements() as statements:
            assert client.get("/").status_code == 200
        return len(statements)

    def awaiting(n: int) -> None:
        for case_id in _alumni_with_rounds(world, n):  # their 12-month reports unconfirmed
            db.session.execute(
                FollowUpRound.__table__.update()
                .where(FollowUpRound.case_id == case_id, FollowUpRound.horizon == 12)
                .values(status="reported")
            )
        db.session.commit()

    awaiting(3)
    few = queries()
    awaiting(20)
    assert queries() == few
    html = client.get("/").get_data(as_text=True)
    assert html.count('data-follow-up="') == 23


# ---------------------------------------------------------------- API


def _token(user) -> dict:
    token = user.issue_api_token("test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def test_api_lists_reports_confirms(client, alumni):
    world, medium, long = alumni
    case = world.case
    base = f"/api/v1/cases/{case.id}/follow-up"
    got = client.get(base, headers=_token(world.trainee))
    assert got.status_code == 200 and got.json["followed"] is True
    assert [(r["horizon"], r["status"]) for r in got.json["rounds"]] == [
        (6, "missed"),
        (12, "due"),
        (24, "upcoming"),
    ]
    body = {
        "running": True,
        "narrative": "Berjalan.",
        "results": {
            str(medium.id): {"status": "achieved", "achieved_quantity": 6},
            str(long.id): {"status": "running"},
        },
    }
    response = client.post(f"{base}/12/reports", json=body, headers=_token(world.trainee))
    assert response.status_code == 201, response.json
    assert response.json["rounds"][1]["status"] == "reported"
    assert response.json["rounds"][1]["reports"][0]["results"][0]["status"] == "achieved"
    # A multipart report is refused while one awaits confirmation.
    files = {
        "running": "true",
        "narrative": "Lagi.",
        "results": json.dumps({str(m.id): {"status": "running"} for m in (medium, long)}),
        "files": [(io.BytesIO(PDF), "a.pdf")],
    }
    response = client.post(
        f"{base}/12/reports",
        data=files,
        headers=_token(world.trainee),
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    response = client.post(f"{base}/12/confirm", json={}, headers=_token(world.organizer))
    assert response.status_code == 403
    response = client.post(
        f"{base}/12/confirm", json={"comment": "Ok"}, headers=_token(world.mentor)
    )
    assert response.status_code == 200
    assert response.json["rounds"][1]["reports"][0]["decision"] == "confirmed"
    assert client.get(base, headers=_token(world.stranger)).status_code == 404


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"running": "perhaps", "narrative": "x"}, 400, None),
        ({"running": True, "results": []}, 400, None),
        ({"running": True, "narrative": "", "results": {}}, 422, "narrative"),
        ({"running": True, "narrative": "x", "results": {"1": {"status": "bad"}}}, 422, "results"),
        ({"running": True, "narrative": "x", "extra": 1}, 400, None),
    ],
)
def test_api_refusals_write_nothing(client, alumni, body, status, field):
    world, _m, _l = alumni
    before = counts()
    response = client.post(
        f"/api/v1/cases/{world.case.id}/follow-up/12/reports",
        json=body,
        headers=_token(world.trainee),
    )
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["fields"]
    assert counts() == before


def test_api_on_a_case_not_followed_up(client, app, traveller):
    world = World(version=None)
    headers = _token(world.trainee)
    got = client.get(f"/api/v1/cases/{world.case.id}/follow-up", headers=headers)
    assert got.status_code == 200 and got.json["followed"] is False
    response = client.post(
        f"/api/v1/cases/{world.case.id}/follow-up/12/reports",
        json={"running": True, "narrative": "x"},
        headers=headers,
    )
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(Case.id))) == 1
