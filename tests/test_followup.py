"""Follow-up after graduation: the alumnus's reports at 6, 12 and 24 months and the
confirmer's decisions, as activities through perform(); refusals write nothing."""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime

import pytest
import time_machine
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

import blueprints.api_followup  # noqa: F401  (its routes, until blueprints/api.py imports it)
from tests.factories import World, create_user
from workflow.extensions import db
from workflow.models import Agency, AuditEvent, Document, Milestone, Notification
from workflow.models.followup import (
    FollowUpEvidence,
    FollowUpReport,
    FollowUpResult,
    FollowUpRound,
)
from workflow.services import Blocked, Forbidden, NotAvailable, perform
from workflow.services import followup as fu

# Thursday 15 July 2027: the case passed on Monday 22 June 2026 (in WITA), so the 6-month
# round (22 December 2026) was missed and the 12-month one (22 June 2027) is due.
TODAY = datetime(2027, 7, 15, 2, 0, tzinfo=UTC)
PASSED_AT = datetime(2026, 6, 22, 3, 0)  # naive UTC: 11:00 WITA


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 120, 60)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def graduate(world: World, passed_at: datetime = PASSED_AT) -> tuple[Milestone, Milestone]:
    """The world's case closed as passed (set directly: only the state and its date matter
    here), with a medium- and a long-term milestone to follow up."""
    case = world.case
    medium = Milestone(
        position=1,
        term="medium",
        activity="Replikasi pembinaan terpadu ke kecamatan lain",
        output="Kecamatan terbina",
        target_date=date(2027, 1, 29),
        target_quantity=6,
        target_unit="kecamatan",
    )
    long = Milestone(
        position=2,
        term="long",
        activity="Pedoman menjadi peraturan bupati",
        output="Perbup",
        target_date=date(2028, 6, 30),
        target_quantity=1,
        target_unit="perbup",
    )
    case.milestones.extend([medium, long])
    for m in case.milestones:
        if m.term == "short":
            m.status = "verified"
    case.state = "completed"
    case.state_entered_at = passed_at
    case.due_date = None
    case.final_score = 86.0
    db.session.commit()
    return medium, long


def report_data(medium, long, horizon=12, running=True, **extra) -> dict:
    return {
        "horizon": horizon,
        "running": running,
        "narrative": "Pembinaan terpadu berjalan di enam kecamatan; perbup sedang disusun.",
        "results": {
            str(medium.id): {"status": "running" if running else "stopped", "achieved_quantity": 5},
            str(long.id): {"status": "running" if running else "stopped", "note": "Draf perbup"},
        },
        **extra,
    }


@pytest.fixture
def alumni(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    world = World(version=None)
    medium, long = graduate(world)
    return world, medium, long


def counts() -> tuple:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (
            FollowUpRound,
            FollowUpReport,
            FollowUpResult,
            FollowUpEvidence,
            Document,
            AuditEvent,
            Notification,
        )
    )


def files_in(app) -> list:
    folder = app.config["UPLOAD_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def statuses(case) -> dict[int, str]:
    return {r.horizon: r.status for r in fu.follow_up_of(case).rounds}


# ---------------------------------------------------------------- calendar and rounds


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (date(2026, 6, 22), 6, date(2026, 12, 22)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 1, 31), 12, date(2027, 1, 31)),
        (date(2026, 11, 30), 24, date(2028, 11, 30)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_last_of_the_month(day, months, expected):
    assert fu.add_months(day, months) == expected


@time_machine.travel(TODAY)
def test_rounds_before_any_report(alumni):
    world, _m, _l = alumni
    follow = fu.follow_up_of(world.case)
    assert follow.completed == date(2026, 6, 22)
    assert [(r.horizon, r.status) for r in follow.rounds] == [
        (6, "missed"),
        (12, "due"),
        (24, "upcoming"),
    ]
    due = follow.round(12)
    assert due.opens_on == date(2027, 6, 22)
    assert due.turn == "trainee" and not due.is_overdue(follow.today)
    assert follow.confirmer == "mentor"


def test_a_case_not_closed_as_passed_is_not_followed_up(app):
    world = World(version=None)
    assert fu.follow_up_of(world.case) is None
    world.case.state = "not_passed"
    db.session.commit()
    assert fu.follow_up_of(world.case) is None


# ---------------------------------------------------------------- the flow


@time_machine.travel(TODAY)
def test_report_return_fix_confirm(alumni, app):
    world, medium, long = alumni
    case = world.case
    files = [upload(png_bytes(), "kegiatan.png"), upload(PDF, "perbup-draf.pdf")]
    event = perform(
        case, "report_follow_up", world.trainee, data=report_data(medium, long), files=files
    )
    assert event.trigger == "report_follow_up" and event.to_state == "completed"
    assert event.data["horizon"] == 12 and event.data["running"] is True
    row = db.session.scalar(select(FollowUpRound).where(FollowUpRound.case_id == case.id))
    assert (row.horizon, row.status, row.running) == (12, "reported", True)
    assert row.due_date == date(2027, 7, 29)  # 10 working days for the mentor
    report = row.latest
    assert report.event_id == event.id
    assert {d.original_name for d in report.documents} == {"kegiatan.png", "perbup-draf.pdf"}
    assert len(files_in(app)) >= 2
    # The mentor hears of it.
    mentor_notes = db.session.scalars(
        select(Notification).where(Notification.event_id == event.id)
    ).all()
    assert [n.user_id for n in mentor_notes] == [world.mentor.id]
    assert statuses(case)[12] == "reported"

    perform(
        case,
        "return_follow_up",
        world.mentor,
        comment="Lampirkan foto kegiatan Juni.",
        data={"horizon": 12},
    )
    db.session.refresh(row)
    assert row.status == "returned" and row.due_date == date(2027, 7, 29)
    assert row.latest.decision == "returned" and row.latest.decided_as == "mentor"

    perform(case, "report_follow_up", world.trainee, data=report_data(medium, long))
    db.session.refresh(row)
    assert [r.number for r in row.reports] == [1, 2]
    perform(case, "confirm_follow_up", world.mentor, comment="Sesuai.", data={"horizon": 12})
    db.session.refresh(row)
    assert row.status == "confirmed" and row.due_date is None and row.confirmed_at is not None
    assert fu.sustainability_of([case.id]) == {case.id: fu.RUNNING}
    assert statuses(case) == {6: "missed", 12: "confirmed", 24: "upcoming"}
    assert case.state == "completed"


@time_machine.travel(TODAY)
def test_a_confirmed_stop_closes_the_later_rounds(alumni):
    world, medium, long = alumni
    case = world.case
    perform(case, "report_follow_up", world.trainee, data=report_data(medium, long, running=False))
    perform(case, "confirm_follow_up", world.mentor, data={"horizon": 12})
    assert statuses(case) == {6: "missed", 12: "confirmed", 24: "closed"}
    assert fu.sustainability_of([case.id, 999]) == {case.id: fu.STOPPED}


def test_sustainability_of_takes_the_latest_confirmed_round_in_one_query(app):
    from tests.test_http_home import counting_statements

    worlds = [World(version=None) for _ in range(3)]
    for w in worlds:
        graduate(w)
    a, b, c = (w.case for w in worlds)
    # a: running at 6, stopped at 12; b: running at 6, 12 only reported (not confirmed).
    db.session.add_all(
        [
            FollowUpRound(case_id=a.id, horizon=6, status="confirmed", running=True),
            FollowUpRound(case_id=a.id, horizon=12, status="confirmed", running=False),
            FollowUpRound(case_id=b.id, horizon=6, status="confirmed", running=True),
            FollowUpRound(case_id=b.id, horizon=12, status="reported", running=False),
        ]
    )
    db.session.commit()
    ids = a.id, b.id, c.id
    with counting_statements() as statements:
        found = fu.sustainability_of(ids)
    assert found == {ids[0]: fu.STOPPED, ids[1]: fu.RUNNING}
    assert len(statements) == 1
    assert fu.sustainability_of([]) == {}


# ---------------------------------------------------------------- who confirms


def _moved(world, who: str, how: str) -> None:
    person = world.by_role(who)
    if how == "inactive":
        person.active = False
    elif how == "other agency":
        person.agency = Agency(name="Dinas Kesehatan Kota Samarinda")
    db.session.commit()


@pytest.mark.parametrize(
    "changes, confirmer",
    [
        ([], "mentor"),
        ([("mentor", "inactive")], "executive"),
        ([("mentor", "other agency")], "executive"),
        ([("trainee", "other agency")], "executive"),  # the alumnus moved: not their superior
        ([("mentor", "inactive"), ("executive", "inactive")], "organizer"),
    ],
)
def test_who_confirms(app, changes, confirmer):
    world = World(version=None)
    world.mentor.agency = world.trainee.agency
    db.session.commit()
    for who, how in changes:
        _moved(world, who, how)
    assert fu.confirmer_role(world.case) == confirmer


@time_machine.travel(TODAY)
def test_the_executive_confirms_once_the_mentor_has_moved(alumni):
    world, medium, long = alumni
    case = world.case
    perform(case, "report_follow_up", world.trainee, data=report_data(medium, long))
    _moved(world, "mentor", "inactive")
    before = counts()
    with pytest.raises(Forbidden):
        perform(case, "confirm_follow_up", world.mentor, data={"horizon": 12})
    assert counts() == before
    perform(case, "confirm_follow_up", world.executive, data={"horizon": 12})
    row = db.session.scalar(select(FollowUpRound).where(FollowUpRound.case_id == case.id))
    assert row.status == "confirmed" and row.latest.decided_as == "executive"


# ---------------------------------------------------------------- refusals write nothing


def _not_passed(world):
    world.case.state = "not_passed"
    db.session.commit()


REFUSALS = [
    # (what, actor role, trigger, data changes, files, error, field)
    ("not followed up", "trainee", "report_follow_up", {}, None, NotAvailable, None),
    ("not open yet", "trainee", "report_follow_up", {"horizon": 24}, None, NotAvailable, None),
    ("missed round", "trainee", "report_follow_up", {"horizon": 6}, None, NotAvailable, None),
    ("no such horizon", "trainee", "report_follow_up", {"horizon": 18}, None, Blocked, "horizon"),
    ("no narrative", "trainee", "report_follow_up", {"narrative": " "}, None, Blocked, "narrative"),
    (
        "running unsaid",
        "trainee",
        "report_follow_up",
        {"running": "maybe"},
        None,
        Blocked,
        "running",
    ),
    (
        "future date",
        "trainee",
        "report_follow_up",
        {"report_date": "2027-08-01"},
        None,
        Blocked,
        "report_date",
    ),
    (
        "evidence of the wrong kind",
        "trainee",
        "report_follow_up",
        {},
        [("program.exe.pdf", b"MZ\x90\x00 not a pdf")],
        Blocked,
        "files",
    ),
    (
        "one good file, one bad",
        "trainee",
        "report_follow_up",
        {},
        [("foto.png", None), ("catatan.txt", b"hanya teks")],
        Blocked,
        "files",
    ),
    ("the mentor reports", "mentor", "report_follow_up", {}, None, Forbidden, None),
    ("a stranger reports", "stranger", "report_follow_up", {}, None, Forbidden, None),
    ("confirm with nothing reported", "mentor", "confirm_follow_up", {}, None, NotAvailable, None),
    (
        "the organizer confirms for a mentor in place",
        "organizer",
        "confirm_follow_up",
        {"reported": True},
        None,
        Forbidden,
        None,
    ),
    (
        "the alumnus confirms",
        "trainee",
        "confirm_follow_up",
        {"reported": True},
        None,
        Forbidden,
        None,
    ),
    (
        "a return without a reason",
        "mentor",
        "return_follow_up",
        {"reported": True},
        None,
        Blocked,
        "comment",
    ),
]


@time_machine.travel(TODAY)
@pytest.mark.parametrize(
    "what, role, trigger, changes, files, error, field", REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusals_write_nothing(alumni, app, what, role, trigger, changes, files, error, field):
    world, medium, long = alumni
    case = world.case
    changes = dict(changes)
    if changes.pop("reported", False):
        perform(case, "report_follow_up", world.trainee, data=report_data(medium, long))
    if what == "not followed up":
        _not_passed(world)
    data = report_data(medium, long) if trigger == "report_follow_up" else {"horizon": 12}
    data.update(changes)
    uploads = [upload(png_bytes() if b is None else b, n) for n, b in files or []]
    before, on_disk, version = counts(), files_in(app), case.version
    with pytest.raises(error) as caught:
        perform(case, trigger, world.by_role(role), data=data, files=uploads)
    if field:
        assert field in caught.value.fields
    assert counts() == before
    assert files_in(app) == on_disk
    db.session.refresh(case)
    assert case.version == version


@time_machine.travel(TODAY)
def test_a_stopped_action_cannot_have_a_running_result(alumni):
    world, medium, long = alumni
    data = report_data(medium, long, running=False)
    data["results"][str(medium.id)]["status"] = "running"
    before = counts()
    with pytest.raises(Blocked) as caught:
        perform(world.case, "report_follow_up", world.trainee, data=data)
    assert fu.result_field(medium.id, "status") in caught.value.fields
    assert counts() == before


@time_machine.travel(TODAY)
def test_every_followed_milestone_needs_its_result(alumni):
    world, medium, long = alumni
    data = report_data(medium, long)
    del data["results"][str(long.id)]
    data["results"]["99999"] = {"status": "running"}
    with pytest.raises(Blocked) as caught:
        perform(world.case, "report_follow_up", world.trainee, data=data)
    assert set(caught.value.fields) >= {fu.result_field(long.id, "status"), "results"}


@time_machine.travel(TODAY)
def test_an_alumnus_who_moved_reports_and_the_executive_confirms(alumni):
    world, medium, long = alumni
    world.mentor.agency = world.trainee.agency
    _moved(world, "trainee", "other agency")
    perform(world.case, "report_follow_up", world.trainee, data=report_data(medium, long))
    assert fu.follow_up_of(world.case).confirmer == "executive"
    with pytest.raises(Forbidden):
        perform(world.case, "confirm_follow_up", world.mentor, data={"horizon": 12})
    perform(world.case, "confirm_follow_up", world.executive, data={"horizon": 12})
    assert statuses(world.case)[12] == "confirmed"


def test_a_late_alumnus_has_overdue_rounds(app):
    world = World(version=None)
    graduate(world)
    with time_machine.travel(datetime(2027, 8, 20, 2, 0, tzinfo=UTC)):
        follow = fu.follow_up_of(world.case)
        rnd = follow.round(12)
        assert rnd.status == "due" and rnd.is_overdue(follow.today)


def test_a_mentor_without_a_case_to_confirm_sees_no_todo(app):
    world = World(version=None)
    graduate(world)
    other = create_user()
    assert fu.todos_for(other) == ([], [])


# ---------------------------------------------------------------- the definition


PKA = "state_machines/aksi_perubahan_pka.yaml"


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("horizons: [6, 12, 24]", "horizons: [12, 6, 24]", "increasing order"),
        ("horizons: [6, 12, 24]", "horizons: [6, 200]", "from 1 to 120"),
        ("  state: completed\n  terms", "  state: implementation\n  terms", "is not terminal"),
        ("  state: completed\n  terms", "  state: finished\n  terms", "unknown state"),
        ("terms: [medium, long]", "terms: [medium, later]", "follow_up.terms"),
        ("report_within: 20", "report_within: 0", "follow_up.report_within"),
        ("  - key: return_follow_up", "  - key: return_follow_up_x", "needs the activity"),
        (
            "follow_up:\n  state: completed\n  terms: [medium, long]\n  horizons: [6, 12, 24]\n"
            "  report_within: 20\n  confirm_within: 10\n  fix_within: 10\n",
            "",
            "terminal state 'completed' admits no activity",
        ),
    ],
)
def test_a_broken_follow_up_section_stops_the_app_with_a_clear_error(tmp_path, old, new, message):
    from pathlib import Path

    from workflow.engine.definitions import DefinitionError, load_definition

    text = Path(PKA).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "aksi_perubahan_pka.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    (tmp_path / "rubrics").symlink_to(Path("state_machines/rubrics").resolve())
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
