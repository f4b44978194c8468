"""Seminars as first-class objects, through perform(): scheduling (every refusal writes
nothing), rescheduling (audited, re-notified, sequence + 1), the .ics invitation (also by
real SMTP), the presentation, attendance → held → the outcome moving the case."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from flask_babel import get_locale
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from tests.factories import World, create_user, start_case
from workflow.extensions import db
from workflow.models import AuditEvent, CohortMember, Document, Group, Notification
from workflow.models._base import clock_at, utcnow
from workflow.models.seminars import Seminar, SeminarPanelist
from workflow.services import Blocked, Forbidden, NotAvailable, definition_of, perform
from workflow.services import seminars as svc
from workflow.services.calendar import add_working_days

ZONE = ZoneInfo("Asia/Makassar")  # the factories' institution: WITA, UTC+8
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# ---------------------------------------------------------------- helpers


def local_today():
    return datetime.now(ZONE).date()


def to_seminar(world: World) -> None:
    """Walk the case (version 2 flow) to seminar_proposal through the one door."""
    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.coach)
    perform(world.case, "approve", world.mentor)
    assert world.case.state == "seminar_proposal"


def open_window(world: World) -> None:
    """The factories' cohort lies in the past of a real clock: move its window around now."""
    world.cohort.start_date = local_today() - timedelta(days=60)
    world.cohort.end_date = local_today() + timedelta(days=200)
    db.session.commit()


def seminar_world() -> World:
    world = World(version=None)
    open_window(world)
    to_seminar(world)
    return world


@pytest.fixture
def sw(app):
    return seminar_world()


def seminar_day(days: int):
    """`days` working days from today (seminars fall on working days), so a test does not
    depend on the weekday it runs; zero or less: plain days back (the past)."""
    if days <= 0:
        return local_today() + timedelta(days=days)
    return add_working_days(local_today(), days)


def slot(days: int = 7, start: str = "09:00", end: str = "11:00", **extra) -> dict:
    return {
        "date": seminar_day(days).isoformat(),
        "start": start,
        "end": end,
        "room": "Ruang Seminar 1",
        **extra,
    }


def utc(days: int, hhmm: str) -> datetime:
    """Local (WITA) day + time as the naive UTC a column holds."""
    hour, minute = map(int, hhmm.split(":"))
    day = seminar_day(days)
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)
    return moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(Seminar.id))),
        db.session.scalar(select(func.count(AuditEvent.id))),
        db.session.scalar(select(func.count(Notification.id))),
    )


def schedule(world: World, **data):
    return perform(world.case, "schedule_seminar", world.organizer, data=slot(**data))


def seminar_of(event) -> Seminar:
    return db.session.get(Seminar, event.data["seminar_id"])


def recipients(event) -> set[int]:
    return set(
        db.session.scalars(select(Notification.user_id).where(Notification.event_id == event.id))
    )


def another_case(world: World, group: Group | None = None, **attrs):
    trainee = create_user()
    case = start_case(
        world.cohort,
        trainee,
        group=group or world.group,
        mentor=attrs.pop("mentor", create_user()),
        **attrs,
    )
    db.session.flush()
    return case


def booked(case, days: int, start: str, end: str, room: str = "", panel=(), kind="proposal"):
    """A seminar written directly (set-up for clash tests), not through perform()."""
    seminar = Seminar(
        cohort_id=case.cohort_id,
        case_id=case.id,
        kind=kind,
        starts_at=utc(days, start),
        ends_at=utc(days, end),
        room=room,
        online_link="" if room else "https://meet.example.test/x",
        status="scheduled",
        uid=f"test-{case.id}-{kind}-{days}-{start}@aksi",
        sequence=0,
        panel=[SeminarPanelist(user_id=u.id, role=r) for r, u in panel],
    )
    db.session.add(seminar)
    db.session.commit()
    return seminar


def hold(world: World, seminar: Seminar, **data):
    """Record attendance as the examiner once the seminar has started."""
    body = {
        "panel": {str(p.user_id): True for p in seminar.panel},
        "trainee_attended": True,
        "notes": "Paparan jelas.",
        **data,
    }
    with clock_at(seminar.starts_at + timedelta(minutes=30)):
        return perform(world.case, "record_attendance", world.examiner, data=body)


def parse_ics(data: bytes) -> dict[str, str]:
    """Unfold (CRLF + one space) and split NAME[;params]:value; the VEVENT's properties."""
    text = data.decode("utf-8").replace("\r\n ", "")
    found = {}
    for line in text.split("\r\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        found.setdefault(name.split(";")[0], value)
    return found


def office(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


# ---------------------------------------------------------------- scheduling


def test_schedule_stores_utc_panel_from_the_case_and_invites(sw):
    event = schedule(sw)
    seminar = seminar_of(event)
    # 09:00–11:00 WITA is 01:00–03:00 UTC.
    assert (seminar.starts_at, seminar.ends_at) == (utc(7, "09:00"), utc(7, "11:00"))
    assert seminar.starts_at.hour == 1
    assert (seminar.kind, seminar.status, seminar.sequence) == ("proposal", "scheduled", 0)
    assert seminar.room == "Ruang Seminar 1" and seminar.uid
    assert {(p.role, p.user_id) for p in seminar.panel} == {
        ("examiner", sw.examiner.id),
        ("coach", sw.coach.id),
        ("mentor", sw.mentor.id),
    }
    assert (event.trigger, event.from_state, event.to_state) == (
        "schedule_seminar",
        "seminar_proposal",
        "seminar_proposal",
    )
    assert event.data["starts_at"] == seminar.starts_at.isoformat(timespec="minutes") + "Z"
    assert event.data["examiner"] == sw.examiner.name
    assert recipients(event) == {sw.trainee.id, sw.examiner.id, sw.coach.id, sw.mentor.id}


def test_online_only_seminar_and_chosen_examiner_of_another_group_is_invited(sw):
    other = create_user()
    db.session.add(Group(cohort=sw.cohort, name="Kelompok 2", coach=create_user(), examiner=other))
    db.session.commit()
    event = perform(
        sw.case,
        "schedule_seminar",
        sw.organizer,
        data=slot(room="", online_link="https://zoom.example.test/j/1", examiner_id=other.id),
    )
    seminar = seminar_of(event)
    assert seminar.room == "" and seminar.online_link == "https://zoom.example.test/j/1"
    assert {p.user_id for p in seminar.panel if p.role == "examiner"} == {other.id}
    # Not an examiner of the case's group, still invited (joined to the same event).
    assert other.id in recipients(event)


def _no_examiner(world):
    world.group.examiner = None
    db.session.commit()


def _same_person_twice(world):
    db.session.add(CohortMember(cohort=world.cohort, user=world.examiner, role="coach"))
    db.session.commit()
    return {"coach_id": world.examiner.id}


def _next_sunday():
    day = local_today() + timedelta(days=8)
    return day + timedelta(days=6 - day.weekday())


BAD_INPUT = [
    ("past", lambda w: {"days": -1}, "date"),
    ("today, earlier", lambda w: {"days": 0, "start": "00:00", "end": "00:30"}, "date"),
    ("after the cohort", lambda w: {"days": 201}, "date"),
    ("before the cohort", lambda w: {"days": -61}, "date"),
    ("end before start", lambda w: {"start": "11:00", "end": "09:00"}, "end"),
    ("end equals start", lambda w: {"start": "11:00", "end": "11:00"}, "end"),
    ("a Sunday", lambda w: {"date": _next_sunday().isoformat()}, "date"),
    ("no date", lambda w: {"date": ""}, "date"),
    ("bad date", lambda w: {"date": "10/12/2026"}, "date"),
    ("bad time", lambda w: {"start": "9am"}, "start"),
    ("no room nor link", lambda w: {"room": ""}, "room"),
    ("javascript link", lambda w: {"online_link": "javascript:alert(1)"}, "online_link"),
    ("ftp link", lambda w: {"online_link": "ftp://files.example.test/x"}, "online_link"),
    ("link without host", lambda w: {"online_link": "https://"}, "online_link"),
    ("room too long", lambda w: {"room": "R" * 121}, "room"),
    ("unknown examiner", lambda w: {"examiner_id": w.stranger.id}, "examiner_id"),
    ("examiner not a number", lambda w: {"examiner_id": "abc"}, "examiner_id"),
    ("trainee as mentor", lambda w: {"mentor_id": w.trainee.id}, "mentor_id"),
    ("missing examiner", _no_examiner, "examiner_id"),
    ("same person twice", _same_person_twice, "coach_id"),
]


@pytest.mark.parametrize(("name", "make", "field"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_refused_beside_its_field_writing_nothing(sw, name, make, field):
    extra = make(sw) or {}
    data = slot(**{k: v for k, v in extra.items() if k in ("days", "start", "end")})
    data.update({k: v for k, v in extra.items() if k not in ("days", "start", "end")})
    before, version = counts(), sw.case.version
    with pytest.raises(Blocked) as refused:
        perform(sw.case, "schedule_seminar", sw.organizer, data=data)
    assert field in refused.value.fields, refused.value.fields
    db.session.rollback()
    assert counts() == before
    assert sw.case.version == version


def test_missing_panel_member_is_named(sw):
    _no_examiner(sw)
    with pytest.raises(Blocked) as refused:
        schedule(sw)
    role = definition_of(sw.case).role_label("examiner", str(get_locale() or "id"))
    assert role in refused.value.fields["examiner_id"]


def _examiner_elsewhere(w):
    return another_case(w, mentor=create_user()), [("examiner", w.examiner)], "", "examiner_id"


def _coach_elsewhere(w):
    return another_case(w), [("coach", w.coach)], "", "coach_id"


def _mentor_elsewhere(w):
    return another_case(w, mentor=w.mentor), [("mentor", w.mentor)], "", "mentor_id"


def _trainee_twice(w):
    # The same trainee in another seminar at that time (here: a report seminar).
    return w.case, [("examiner", create_user())], "", "start"


def _room_taken(w):
    return another_case(w), [("examiner", create_user())], "  ruang SEMINAR 1 ", "room"


CLASHES = [
    ("examiner", _examiner_elsewhere),
    ("coach", _coach_elsewhere),
    ("mentor", _mentor_elsewhere),
    ("trainee", _trainee_twice),
    ("room", _room_taken),
]


@pytest.mark.parametrize(("name", "make"), CLASHES, ids=[c[0] for c in CLASHES])
def test_clash_is_refused_naming_who_and_where_writing_nothing(sw, name, make):
    case, panel, room, field = make(sw)
    kind = "report" if case.id == sw.case.id else "proposal"
    other = booked(case, 7, "10:00", "12:00", room=room, panel=panel, kind=kind)
    before = counts()
    with pytest.raises(Blocked) as refused:
        schedule(sw)
    message = refused.value.fields[field]
    assert case.trainee.name in message
    if name == "room":
        assert other.room in message
    else:
        person = {"trainee": sw.trainee}.get(name) or getattr(sw, name)
        assert person.name in message
    assert message in [str(r) for r in refused.value.reasons]
    db.session.rollback()
    assert counts() == before


def test_no_clash_when_times_only_touch_or_the_room_is_of_another_institution(sw):
    booked(another_case(sw), 7, "11:00", "12:00", panel=[("examiner", sw.examiner)])
    elsewhere = seminar_world()  # another institution, same room name, same time
    booked(elsewhere.case, 7, "09:00", "11:00", room="Ruang Seminar 1")
    event = schedule(sw)
    assert seminar_of(event).status == "scheduled"


def test_organizer_only_and_only_in_a_seminar_state(app):
    world = World(version=None)
    open_window(world)
    with pytest.raises(NotAvailable):  # draft holds no seminar
        schedule(world)
    to_seminar(world)
    for who in (world.trainee, world.examiner, world.stranger):
        with pytest.raises(Forbidden):
            perform(world.case, "schedule_seminar", who, data=slot())
    assert counts()[0] == 0


# ---------------------------------------------------------------- rescheduling


def test_reschedule_updates_the_same_row_audited_and_renotified(sw):
    first = schedule(sw)
    seminar = seminar_of(first)
    uid, before_start = seminar.uid, seminar.starts_at
    second = schedule(sw, days=9, start="13:00", end="15:00", room="Aula")
    assert seminar_of(second).id == seminar.id
    db.session.refresh(seminar)
    assert (seminar.sequence, seminar.uid, seminar.room) == (1, uid, "Aula")
    assert seminar.starts_at == utc(9, "13:00")
    assert second.data["rescheduled"] is True
    assert second.data["previous_starts_at"] == before_start.isoformat(timespec="minutes") + "Z"
    assert second.data["previous_room"] == "Ruang Seminar 1"
    assert second.data["sequence"] == 1
    assert recipients(second) == recipients(first)
    assert db.session.scalar(select(func.count(Seminar.id))) == 1


def test_reschedule_to_the_same_schedule_is_refused(sw):
    schedule(sw)
    before = counts()
    with pytest.raises(Blocked):
        schedule(sw)
    db.session.rollback()
    assert counts() == before


def test_reschedule_can_change_the_panel(sw):
    schedule(sw)
    other = create_user()
    db.session.add(CohortMember(cohort=sw.cohort, user=other, role="examiner"))
    db.session.commit()
    event = perform(sw.case, "schedule_seminar", sw.organizer, data=slot(examiner_id=other.id))
    seminar = seminar_of(event)
    assert {p.user_id for p in seminar.panel if p.role == "examiner"} == {other.id}
    assert len(seminar.panel) == 3 and seminar.sequence == 1


# ---------------------------------------------------------------- the .ics


def test_ics_is_folded_escaped_crlf_with_uid_sequence_and_utc_times(sw):
    sw.case.title = "Penataan Tata Kelola Perencanaan Pembangunan Desa Terpadu — " * 3
    db.session.commit()
    seminar = seminar_of(schedule(sw, room="Ruang 1, Gedung A; Lt. 2"))
    data = svc.ics(seminar, "id")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    assert any(line.startswith(b" ") for line in data.split(b"\r\n"))  # something was folded
    props = parse_ics(data)
    assert props["BEGIN"] == "VCALENDAR" and props["METHOD"] == "REQUEST"
    assert props["UID"] == seminar.uid and props["SEQUENCE"] == "0"
    assert props["DTSTART"] == seminar.starts_at.strftime("%Y%m%dT%H%M%SZ")
    assert props["DTEND"] == seminar.ends_at.strftime("%Y%m%dT%H%M%SZ")
    assert props["SUMMARY"] == f"Seminar rancangan: {sw.trainee.name}"
    assert props["LOCATION"] == "Ruang 1\\, Gedung A\\; Lt. 2"
    assert "Penataan Tata Kelola" in props["DESCRIPTION"]
    text = data.decode().replace("\r\n ", "")
    assert f"mailto:{sw.examiner.email}" in text and f"mailto:{sw.trainee.email}" in text


def test_ics_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "é" * 100
    folded = svc._ics_fold(line)
    for part in folded.split(b"\r\n"):
        assert len(part) <= 75
        part.decode("utf-8")  # each line is whole UTF-8
    assert folded.replace(b"\r\n ", b"").decode() == line


@pytest.fixture
def mail_app(app, smtp_server):
    app.config.update(smtp_server.config(), BASE_URL="https://aksi.example.test")
    return app


def _calendar_part(message):
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return parts[0]


def test_invitation_mail_carries_a_parseable_calendar(mail_app, smtp_server, sw):
    start = len(smtp_server.messages)
    seminar = seminar_of(schedule(sw))
    new = smtp_server.messages[start:]
    assert sorted(m["To"] for m in new) == sorted(
        u.email for u in (sw.trainee, sw.examiner, sw.coach, sw.mentor)
    )
    for message in new:
        part = _calendar_part(message)
        assert part.get_param("method") == "REQUEST"
        assert part.get_filename().endswith(".ics")
        raw = part.get_payload(decode=True)
        assert b"\r\n" in raw
        props = parse_ics(raw)
        assert (props["UID"], props["SEQUENCE"]) == (seminar.uid, "0")
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "Ruang Seminar 1" in body
    # Rescheduled: the same UID, a higher SEQUENCE, everyone told again.
    start = len(smtp_server.messages)
    schedule(sw, days=8)
    again = smtp_server.messages[start:]
    assert len(again) == 4
    props = parse_ics(_calendar_part(again[0]).get_payload(decode=True))
    assert (props["UID"], props["SEQUENCE"]) == (seminar.uid, "1")


def test_other_mail_has_no_attachment(mail_app, smtp_server, app):
    world = World(version=None)
    perform(world.case, "submit", world.trainee)
    assert smtp_server.messages
    for message in smtp_server.messages:
        assert not message.is_multipart()
        assert message.get_content_type() == "text/plain"


def test_a_broken_extra_still_sends_the_plain_mail(mail_app, smtp_server, sw, monkeypatch):
    from workflow.services import mail

    def broken(item, user, lang):
        raise RuntimeError("no calendar today")

    monkeypatch.setitem(mail.EXTRAS, "schedule_seminar", broken)
    start = len(smtp_server.messages)
    schedule(sw)
    new = smtp_server.messages[start:]
    assert len(new) == 4 and not any(m.is_multipart() for m in new)
    assert new[0].policy is not None and policy.default is not None


# ---------------------------------------------------------------- attendance and outcome


def test_attendance_cannot_be_recorded_before_the_start(sw):
    seminar = seminar_of(schedule(sw))
    before = counts()
    with pytest.raises(Blocked) as refused:
        perform(
            sw.case,
            "record_attendance",
            sw.examiner,
            data={"panel": {}, "trainee_attended": True},
        )
    assert "attendance" in refused.value.fields
    db.session.rollback()
    assert counts() == before
    assert db.session.get(Seminar, seminar.id).status == "scheduled"


def test_outcome_needs_a_held_seminar(sw):
    schedule(sw)
    with pytest.raises(Blocked):
        perform(sw.case, "seminar_passed", sw.examiner)
    assert sw.case.state == "seminar_proposal"


def test_attendance_then_passed_moves_the_case_and_records_the_outcome(sw):
    seminar = seminar_of(schedule(sw))
    event = hold(
        sw,
        seminar,
        panel={str(sw.examiner.id): True, str(sw.coach.id): True, str(sw.mentor.id): False},
    )
    db.session.refresh(seminar)
    assert seminar.status == "held" and seminar.trainee_attended is True
    assert {p.role: p.attended for p in seminar.panel} == {
        "examiner": True,
        "coach": True,
        "mentor": False,
    }
    assert seminar.notes == "Paparan jelas."
    assert event.data["absent"] == [sw.mentor.name]
    with clock_at(seminar.ends_at):
        perform(sw.case, "seminar_passed", sw.examiner, comment="Layak.")
    assert sw.case.state == "ratification"
    db.session.refresh(seminar)
    assert seminar.outcome == "passed"


def test_attendance_by_whom(sw):
    seminar = seminar_of(schedule(sw))
    outsider = create_user()
    db.session.add(CohortMember(cohort=sw.cohort, user=outsider, role="examiner"))
    db.session.commit()
    body = {"panel": {}, "trainee_attended": True}
    with clock_at(seminar.starts_at + timedelta(minutes=5)):
        for who in (sw.trainee, sw.stranger, outsider):  # outsider: an examiner not on it
            with pytest.raises(Forbidden):
                perform(sw.case, "record_attendance", who, data=body)
        perform(sw.case, "record_attendance", sw.organizer, data=body)
    db.session.refresh(seminar)
    assert seminar.status == "held"
    assert all(p.attended is False for p in seminar.panel)  # left out: did not attend


def test_attendance_needs_the_trainee_answer_and_valid_members(sw):
    seminar = seminar_of(schedule(sw))
    with clock_at(seminar.starts_at + timedelta(minutes=5)):
        for body, field in (
            ({"panel": {}}, "trainee_attended"),
            ({"panel": {str(sw.stranger.id): True}, "trainee_attended": True}, "panel"),
            ({"panel": [1], "trainee_attended": True}, "panel"),
            ({"trainee_attended": True, "notes": "x" * 5001}, "notes"),
        ):
            with pytest.raises(Blocked) as refused:
                perform(sw.case, "record_attendance", sw.examiner, data=body)
            assert field in refused.value.fields
            db.session.rollback()
    assert db.session.get(Seminar, seminar.id).status == "scheduled"


def test_failed_seminar_needs_a_new_one(sw):
    first = seminar_of(schedule(sw))
    hold(sw, first)
    with clock_at(first.ends_at):
        perform(sw.case, "seminar_failed", sw.examiner, comment="Belum layak.")
    assert sw.case.state == "seminar_proposal"
    db.session.refresh(first)
    assert first.outcome == "failed"
    second = seminar_of(schedule(sw, days=14))
    assert second.id != first.id and second.uid != first.uid and second.sequence == 0
    assert db.session.scalar(select(func.count(Seminar.id))) == 2
    # The guard looks at the new one.
    with pytest.raises(Blocked):
        perform(sw.case, "seminar_passed", sw.examiner)


def test_a_held_seminar_awaiting_its_outcome_cannot_be_rescheduled(sw):
    seminar = seminar_of(schedule(sw))
    hold(sw, seminar)
    before = counts()
    with pytest.raises(Blocked):
        schedule(sw, days=10)
    db.session.rollback()
    assert counts() == before


def test_passed_with_fixes_records_its_outcome(sw):
    seminar = seminar_of(schedule(sw))
    hold(sw, seminar)
    with clock_at(seminar.ends_at):
        perform(sw.case, "seminar_passed_with_fixes", sw.examiner, comment="Perbaiki judul.")
    assert sw.case.state == "seminar_fixes"
    db.session.refresh(seminar)
    assert seminar.outcome == "passed_with_fixes"


# ---------------------------------------------------------------- presentation


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def upload(world, data: bytes, name: str):
    return perform(
        world.case,
        "upload_presentation",
        world.trainee,
        files=[FileStorage(stream=io.BytesIO(data), filename=name)],
    )


def test_trainee_uploads_the_presentation(sw, uploads):
    seminar = seminar_of(schedule(sw))
    event = upload(sw, PDF, "paparan.pdf")
    db.session.refresh(seminar)
    doc = seminar.presentation
    assert doc is not None and doc.kind == "presentation" and doc.case_id == sw.case.id
    assert (uploads / doc.stored_name).read_bytes() == PDF
    assert event.data["presentation"] == "paparan.pdf"
    # A pptx replaces it (the earlier file stays on record).
    upload(sw, office("ppt/presentation.xml"), "paparan.pptx")
    db.session.refresh(seminar)
    assert seminar.presentation.original_name == "paparan.pptx"
    assert db.session.scalar(select(func.count(Document.id))) == 2


@pytest.mark.parametrize(
    ("data", "name"),
    [(office("word/document.xml"), "paparan.docx"), (b"hello", "paparan.pdf"), (b"", "x.pdf")],
)
def test_presentation_of_another_type_is_refused_writing_nothing(sw, uploads, data, name):
    schedule(sw)
    before = counts()
    with pytest.raises(Blocked) as refused:
        upload(sw, data, name)
    assert "file" in refused.value.fields
    db.session.rollback()
    assert counts() == before
    assert db.session.scalar(select(func.count(Document.id))) == 0
    assert not uploads.exists() or not any(uploads.iterdir())


def test_presentation_needs_a_seminar_and_the_trainee(sw, uploads):
    with pytest.raises(Blocked):
        upload(sw, PDF, "paparan.pdf")
    schedule(sw)
    with pytest.raises(Forbidden):
        perform(
            sw.case,
            "upload_presentation",
            sw.examiner,
            files=[FileStorage(stream=io.BytesIO(PDF), filename="p.pdf")],
        )


def test_schedule_view_flags_clashes_and_lists_who_waits(sw):
    second = another_case(sw)
    db.session.commit()
    seminar = seminar_of(schedule(sw))
    # Written directly: two seminars sharing the examiner (as a demo or import could).
    booked(second, 7, "10:00", "12:00", room="Aula", panel=[("examiner", sw.examiner)])
    plan = svc.schedule(sw.cohort)
    assert [r.seminar.case_id for r in plan.rows] == [sw.case.id, second.id]
    assert all(r.clashes for r in plan.rows)
    assert sw.examiner.name in plan.rows[0].clashes[0]
    assert plan.waiting == []  # the second case is still a draft
    assert seminar.id == plan.rows[0].seminar.id
    assert utcnow() < seminar.starts_at


def test_leaving_the_seminar_state_cancels_the_seminar_and_frees_room_and_panel(sw):
    """A trainee who withdraws before the seminar is held no longer blocks the room."""
    seminar = seminar_of(schedule(sw))
    perform(sw.case, "withdraw", sw.organizer, comment="Mengundurkan diri.")
    db.session.refresh(seminar)
    assert seminar.status == "cancelled"
    assert seminar not in svc.overlapping(seminar.starts_at, seminar.ends_at)
