"""`flask aksi demo`: idempotent and atomic, every state of every shipped definition, one
working account per role, a valid audit trail, the two showcase projects from the seeds, and
the implementation phase as people would have left it — all through perform()."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select

from workflow.engine import registry
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Case,
    Cohort,
    CohortMember,
    Delegation,
    Document,
    FinalReport,
    Group,
    Institution,
    Milestone,
    MilestoneRating,
    MilestoneReport,
    Notification,
    Region,
    Score,
    ScoreSheet,
    Seminar,
    SeminarPanelist,
    StateVisit,
    UnitCoverage,
    User,
)
from workflow.models._base import utcnow
from workflow.permissions import cases_awaiting, cases_visible_to
from workflow.services import Blocked, dashboards, demo, evaluation
from workflow.services import milestones as ms
from workflow.services import seminars as seminars_service
from workflow.services.audit import verify_all
from workflow.services.documents import path_of, thumb_path_of
from workflow.services.final_report import missing_sections
from workflow.services.progress import awaiting_verification_for, trainee_milestones
from workflow.services.workflow import plan_migration

KUKAR_TITLE = "Penataan Tata Kelola Perencanaan Pembangunan Desa dengan Pembinaan Secara Terpadu"
LAMBAR_KECAMATAN = {
    "Balik Bukit",
    "Sukau",
    "Lumbok Seminung",
    "Belalau",
    "Batu Brak",
    "Kebun Tebu",
    "Sumber Jaya",
    "Way Tenong",
    "Air Hitam",
    "Gedung Surian",
    "Pagar Dewa",
    "Bandar Negeri Suoh",
    "Suoh",
    "Batu Ketulis",
    "Sekincau",
}
# What each demo account is there to do: states it must find among the cases awaiting it.
AWAITING = {
    "peserta": {"implementation"},
    "peserta2": {"revision_requested"},
    "mentor": {"proposal_review"},
    "pimpinan": {"endorsement_pending"},
    "coach": {"evaluation", "fixes_review"},
    "penguji": {"evaluation", "seminar_proposal", "ratification"},
    "penyelenggara": {"deferred", "seminar_proposal"},
    "admin": {"deferred"},
    "operator": {"filling"},
    "camat": {"verification"},
    "dpmp": {"validation"},
}


IMPLEMENTATION_TRIGGERS = ("report_progress", "cover_unit", "verify_milestone", "return_milestone")
CLOSED_STATES = ("evaluation", "deferred", "completed", "not_passed")


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


def files_in(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (
            Institution,
            Region,
            User,
            Cohort,
            Group,
            CohortMember,
            Case,
            Milestone,
            AuditEvent,
            Notification,
            ScoreSheet,
            Score,
            MilestoneRating,
            MilestoneReport,
            UnitCoverage,
            Document,
            FinalReport,
            Seminar,
            SeminarPanelist,
            StateVisit,
            Delegation,
        )
    }


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_demo_command_is_atomic_idempotent_and_audit_is_intact(app, runner, uploads):
    # A load that fails late (evidence photos above a tiny upload limit, after the world,
    # many actions and some PDFs are stored) leaves no row and no file behind, so the next
    # run loads instead of answering "already present".
    empty, inserted = counts(), []

    def record(_mapper, _connection, document):
        inserted.append(document.stored_name)

    event.listen(Document, "after_insert", record)
    app.config["MAX_UPLOAD_MB"] = 0.01  # the demo's PDFs (≈2 kB) pass, its photos do not
    try:
        failed = runner.invoke(args=["aksi", "demo"])
    finally:
        event.remove(Document, "after_insert", record)
        app.config["MAX_UPLOAD_MB"] = 10
    assert isinstance(failed.exception, Blocked) and "files" in failed.exception.fields
    assert inserted, "the load failed before storing any evidence"
    db.session.expire_all()
    assert counts() == empty and files_in(uploads) == []

    first = runner.invoke(args=["aksi", "demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data loaded." in first.output
    assert demo.PASSWORD in first.output
    for username, _ in demo.ACCOUNTS:
        assert f"  {username} " in first.output
    before, stored = counts(), files_in(uploads)
    assert before["Case"] >= 60 and before["AuditEvent"] > before["Case"]
    assert before["Document"] and stored

    second = runner.invoke(args=["aksi", "demo"])
    assert second.exit_code == 0, second.output
    assert "Demo data already present." in second.output
    db.session.expire_all()
    assert counts() == before and files_in(uploads) == stored

    audit = runner.invoke(args=["aksi", "verify-audit"])
    assert audit.exit_code == 0, audit.output
    assert f"All {before['Case']} audit chains are intact." in audit.output


def test_demo_content(app):
    assert demo.load() is True

    # Institutions show their own zone and sign documents in their city.
    kaltim = db.session.scalar(select(Institution).where(Institution.code == "bpsdm-kaltim"))
    assert (kaltim.timezone, kaltim.zone_label, kaltim.city) == (
        "Asia/Makassar",
        "WITA",
        "Samarinda",
    )
    assert any(i.zone_label == "WIB" for i in db.session.scalars(select(Institution)))
    assert all(i.city for i in db.session.scalars(select(Institution)))

    # Size: cohorts of the three programmes; at least 60 trainees.
    cohorts = db.session.scalars(select(Cohort)).all()
    assert {c.definition_key for c in cohorts} == {
        "aksi_perubahan_pka",
        "aksi_perubahan_pkn2",
        "aksi_perubahan_pkp",
    }
    pkp = next(c for c in cohorts if c.definition_key == "aksi_perubahan_pkp")
    assert pkp.program.code == "PKP"
    trainees = db.session.scalar(select(func.count(func.distinct(Case.trainee_id))))
    assert trainees >= 60
    for c in cohorts:
        roles = {m.role for m in c.members}
        assert "organizer" in roles
        assert c.groups and all(g.coach_id and g.examiner_id for g in c.groups)
        # No title prints the year twice ("… Tahun 2026 2026"): pages add the year.
        assert f"{c.year} {c.year}" not in f"{c.name} {c.year}"
    assert not any(
        re.search(r"\b(\d{4}) \1\b", title or "")
        for title in db.session.scalars(select(Case.title))
    )

    # Every state of every current definition holds at least one case, on that version.
    present = set(
        db.session.execute(select(Case.definition_key, Case.definition_version, Case.state)).all()
    )
    for key in ("aksi_perubahan_pka", "aksi_perubahan_pkn2", "aksi_perubahan_pkp"):
        definition = registry.latest(key)
        for state in definition.states:
            assert (key, definition.version, state.key) in present, (key, state.key)

    # Cases moved only through perform() (and the migration): each event chain starts at the
    # initial state and ends at the case's state.
    for case in db.session.scalars(select(Case).where(Case.cohort_id.is_not(None))):
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
        ).all()
        assert len(events) == case.event_count
        if events:
            assert events[0].from_state == "draft"
            assert events[-1].to_state == case.state
        else:
            assert case.state == "draft"
        if case.state in ("completed", "not_passed"):
            assert (case.final_score > 70) == (case.state == "completed")
            # Scored through the evaluation service: every sheet the rubric asks for
            # submitted (the organizer's sikap perilaku too), one audited submission each,
            # and the recorded score is the sheets' result.
            roles = list(evaluation.rubric_of(case).roles)
            sheets = evaluation.sheets_of(case)
            assert [s.role for s in sheets if s.is_submitted] == roles
            assert sum(e.trigger == "submit_scores" for e in events) == len(roles)
            assert evaluation.result_of(case).total == case.final_score

    # NDH: 1..n per cohort, in the order of the trainees' names.
    for c in cohorts:
        rows = db.session.execute(
            select(Case.ndh, User.name)
            .join(User, User.id == Case.trainee_id)
            .where(Case.cohort_id == c.id)
            .order_by(Case.ndh)
        ).all()
        assert [n for n, _ in rows] == list(range(1, len(rows) + 1))
        names = [name.casefold() for _, name in rows]
        assert names == sorted(names)

    # One account per role, password aksi-demo, each with something to act on.
    for username, _ in demo.ACCOUNTS:
        account = user(username)
        assert account is not None and account.check_password(demo.PASSWORD), username
        states = {c.state for c in db.session.scalars(cases_awaiting(account))}
        assert states & AWAITING[username], (username, states)
    assert user("admin").is_admin and user("admin").institution_id == kaltim.id
    others = db.session.scalars(
        select(User).where(User.username.not_in([u for u, _ in demo.ACCOUNTS])).limit(20)
    ).all()
    assert others and not any(u.check_password(demo.PASSWORD) for u in others)

    # People: jabatan for all; ASN with pangkat/golongan and a plausible NIP (birth date,
    # month of appointment at 18 or older, sex, serial); elected kepala daerah without.
    for u in db.session.scalars(select(User)):
        assert u.position, u.name
        # Elected heads, and village staff (pekon operators) who are not civil servants.
        if u.position.startswith(
            ("Bupati ", "Wali Kota ", "Operator Pekon ", "Operator Kelurahan ")
        ):
            assert u.nip is None and u.rank == "", u.name
            continue
        assert u.rank and re.fullmatch(r"[A-Za-z ]+, I[IV]*/[a-e]", u.rank), (u.name, u.rank)
        assert u.nip and re.fullmatch(r"\d{18}", u.nip), (u.name, u.nip)
        born = date(int(u.nip[:4]), int(u.nip[4:6]), int(u.nip[6:8]))
        hired_year, hired_month = int(u.nip[8:12]), int(u.nip[12:14])
        assert 1 <= hired_month <= 12 and hired_year - born.year >= 18
        assert u.nip[14] in "12"
    bupati = user("pimpinan")
    assert (bupati.position, bupati.nip) == ("Bupati Kutai Kartanegara", None)
    assert "/" in user("peserta").rank and user("peserta").position.startswith("Kepala Bidang")

    # One acting official: a Plt. by decree, acting as mentor on the principal's behalf.
    (plt,) = db.session.scalars(select(Delegation)).all()
    assert plt.kind == "plt" and plt.role == "mentor" and plt.sk_number
    assert plt.sk_date <= plt.starts_on <= date.today() <= plt.ends_on
    acted = db.session.scalars(
        select(AuditEvent).where(AuditEvent.on_behalf_of_id == plt.principal_id)
    ).all()
    assert acted and all(e.actor_id == plt.delegate_id for e in acted)
    assert {"approve", "verify_milestone"} <= {e.trigger for e in acted}


def test_demo_history_seminars_and_migration(app):
    demo.load()
    now = utcnow()
    organizer = user("penyelenggara")

    # History over past dates: nothing after now, each chain in time order, stays spread
    # over realistic spans, so the dashboard's time in state reads real working days.
    assert db.session.scalar(select(func.max(AuditEvent.created_at))) <= now
    first = db.session.scalar(select(func.min(AuditEvent.created_at)))
    assert now - first > timedelta(days=90)
    for case_id in db.session.scalars(select(Case.id)):
        times = db.session.scalars(
            select(AuditEvent.created_at)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq)
        ).all()
        assert times == sorted(times), case_id
    closing = db.session.scalar(select(Cohort).where(Cohort.name == "PKA Angkatan XXI"))
    times = {
        t.state.key: t
        for t in dashboards.time_in_state(organizer, closing, dashboards.table_states(closing))
    }
    for state in ("draft", "proposal_review", "seminar_proposal", "ratification", "implementation"):
        assert times[state].median > 0 and times[state].p90 >= times[state].median, state
    assert 10 <= times["draft"].median <= 25  # two to four weeks of drafting
    assert 30 <= times["implementation"].median <= 60  # about two months
    assert times["proposal_review"].median <= 5

    # Coach AND mentor approve: the first keeps the state, the second moves it.
    approvals = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.trigger == "approve", AuditEvent.from_state == "proposal_review"
        )
    ).all()
    signed = [e for e in approvals if e.to_state == "proposal_review"]
    assert signed and all(e.data["awaiting"] for e in signed)
    assert sum(e.to_state == "seminar_proposal" for e in approvals) >= 20

    # Endorsement letters dated before the implementation they enable.
    for e in db.session.scalars(select(AuditEvent).where(AuditEvent.trigger == "endorse")):
        case = db.session.get(Case, e.case_id)
        letter = date.fromisoformat(e.data["letter_date"])
        assert letter <= e.created_at.date() and letter <= case.cohort.implementation_start
        later = db.session.scalar(
            select(func.min(AuditEvent.created_at)).where(
                AuditEvent.case_id == case.id, AuditEvent.trigger == "report_progress"
            )
        )
        assert later is None or later > e.created_at

    # Seminars on dates: every outcome recorded after its seminar was held; the report
    # seminar held before the result; several ahead in the current cohort, in the rooms
    # or online; no person and no room twice at once.
    seminars = db.session.scalars(select(Seminar)).all()
    for s in seminars:
        assert s.panel and {p.role for p in s.panel} == {"examiner", "coach", "mentor"}
        assert s.room or s.online_link.startswith("https://")
        assert s.created_at < s.starts_at < s.ends_at
        if s.outcome is not None:
            assert s.status == "held" and s.ends_at <= now
    for trigger in ("seminar_passed", "seminar_passed_with_fixes", "seminar_failed", "finalize"):
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.trigger == trigger)):
            kind = "report" if trigger == "finalize" else "proposal"
            held = [
                s
                for s in seminars
                if s.case_id == e.case_id and s.kind == kind and s.status == "held"
            ]
            assert held and min(s.ends_at for s in held) <= e.created_at, (trigger, e.case_id)
    # One held yesterday or so: the `penguji` account records its outcome.
    waiting = [s for s in seminars if s.kind == "proposal" and s.status == "held" and not s.outcome]
    assert waiting and waiting[0].case.state == "seminar_proposal"
    assert user("penguji").id in {p.user_id for p in waiting[0].panel}
    current = db.session.scalar(select(Cohort).where(Cohort.name == "PKA Angkatan XXIII"))
    ahead = [s for s in seminars if s.cohort_id == current.id and s.starts_at > now]
    assert len(ahead) >= 3 and all(s.status == "scheduled" for s in ahead)
    places = {s.room or "online" for s in seminars if s.starts_at > now}
    assert {"Ruang Mahakam 1", "Ruang Mahakam 2", "online"} <= places
    live = [s for s in seminars if s.status != "cancelled"]
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
                people_a = {p.user_id for p in a.panel} | {a.case.trainee_id}
                people_b = {p.user_id for p in b.panel} | {b.case.trainee_id}
                assert not people_a & people_b, (a.id, b.id)
                assert not a.room or a.room != b.room, (a.id, b.id)
    for cohort in db.session.scalars(select(Cohort)):
        assert not any(row.clashes for row in seminars_service.schedule(cohort).rows)

    # Version 1 cases migrated: the Lampung cohort began on version 1 and now starts new
    # trainees on version 2; its running cases moved ("migrated" in their history), one
    # with sheets on the old rubric stays on version 1 where the mapping blocks it.
    legacy = db.session.scalar(select(Cohort).where(Cohort.name == "PKA Angkatan IX"))
    assert legacy.definition_version == 2
    cases = db.session.scalars(select(Case).where(Case.cohort_id == legacy.id)).all()
    migrated = {
        e.case_id: e
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.trigger == "migrated"))
    }
    assert len(migrated) >= 5
    assert {e.data["to_version"] for e in migrated.values()} == {2}
    assert ("mentor_review", "proposal_review") in {
        (e.from_state, e.to_state) for e in migrated.values()
    }
    for case in cases:
        if case.id in migrated:
            assert case.definition_version == 2
    (stayed,) = [c for c in cases if c.definition_version == 1 and c.state == "evaluation"]
    assert stayed.id not in migrated
    assert any(s.is_submitted for s in evaluation.sheets_of(stayed))
    assert not plan_migration(stayed, registry.get("aksi_perubahan_pka", 2)).ok
    assert any(c.state == "withdrawn" and c.definition_version == 1 for c in cases)

    assert verify_all() == []


def test_demo_showcase_cases(app):
    demo.load()

    kukar = db.session.scalar(select(Case).where(Case.title == KUKAR_TITLE))
    assert kukar is not None
    assert kukar.definition_key == "aksi_perubahan_pka" and kukar.definition_version == 2
    assert kukar.cohort.program.institution.name == "BPSDM Provinsi Kalimantan Timur"
    assert kukar.trainee.agency.short_name == "DPMD Kukar"
    assert kukar.executive.position == "Bupati Kutai Kartanegara"
    endorse = db.session.scalar(
        select(AuditEvent).where(AuditEvent.case_id == kukar.id, AuditEvent.trigger == "endorse")
    )
    assert endorse.actor_id == kukar.executive_id
    assert endorse.data["letter_number"] and endorse.data["letter_date"]
    # At the seminar laporan: held, the coach's sheet in, the examiner's a draft, the
    # mentor's not started, the organizer's sikap perilaku in.
    (report,) = [
        s
        for s in db.session.scalars(select(Seminar))
        if s.case_id == kukar.id and s.kind == "report"
    ]
    assert report.status == "held" and report.outcome is None
    sheets = {s.role: s.is_submitted for s in evaluation.sheets_of(kukar)}
    assert sheets == {"coach": True, "examiner": False, "organizer": True}

    milestone = db.session.scalar(
        select(Milestone).where(
            Milestone.target_unit == "kecamatan", Milestone.target_quantity == 15
        )
    )
    assert milestone is not None and set(milestone.units) == LAMBAR_KECAMATAN
    assert len(milestone.units) == 15
    case = milestone.case
    assert case.trainee.agency.short_name == "DPMP Lampung Barat"
    cohort = case.cohort
    assert cohort.implementation_start <= milestone.target_date <= cohort.implementation_end

    lambar = db.session.scalar(select(Region).where(Region.name == "Kabupaten Lampung Barat"))
    assert {r.name.removeprefix("Kecamatan ") for r in lambar.children} == LAMBAR_KECAMATAN
    # The official data's name (the region load renames the demo's "Provinsi Lampung").
    assert lambar.parent.name == "Lampung"

    # The panel's outcomes at the seminar rancangan, with their notes, in every programme.
    outcomes = db.session.execute(
        select(Case.definition_key, AuditEvent.trigger)
        .join(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.trigger.like("seminar_%"))
        .distinct()
    ).all()
    for key in ("aksi_perubahan_pka", "aksi_perubahan_pkn2", "aksi_perubahan_pkp"):
        assert {t for k, t in outcomes if k == key} >= {
            "seminar_passed",
            "seminar_passed_with_fixes",
        }, key
    assert ("aksi_perubahan_pka", "seminar_failed") in set(outcomes)


def test_demo_implementation_story(app, uploads):
    demo.load()
    implementing = db.session.scalars(select(Case).where(Case.state == "implementation")).all()
    short = [m for c in implementing for m in c.milestones if m.term == "short"]
    mentors_of = {c.mentor_id: {c.mentor_id} for c in implementing}
    for d in db.session.scalars(select(Delegation)):
        mentors_of.setdefault(d.principal_id, {d.principal_id}).add(d.delegate_id)

    # Every status of a milestone shows, each reached through the activities: a report
    # per audited report_progress, a decision per verify/return, a coverage per cover_unit.
    assert {m.status for m in short} == set(Milestone.STATUSES)
    triggers = dict(
        db.session.execute(
            select(AuditEvent.trigger, func.count())
            .where(AuditEvent.trigger.in_(IMPLEMENTATION_TRIGGERS))
            .group_by(AuditEvent.trigger)
        ).all()
    )
    reports = db.session.scalars(select(MilestoneReport)).all()
    assert triggers["report_progress"] == len(reports)
    # 14 kecamatan of Lampung Barat, 6 of the `peserta` account's 10.
    assert triggers["cover_unit"] == counts()["UnitCoverage"] == 14 + 6
    assert triggers["verify_milestone"] == sum(r.decision == "verified" for r in reports)
    assert triggers["return_milestone"] == sum(r.decision == "returned" for r in reports)
    assert all(r.event_id for r in reports)
    assert all(r.decision_event_id for r in reports if r.decision)
    for m in short:
        if m.status == "planned":
            assert not m.reports and not m.coverages
            continue
        assert m.reports or m.coverages, m.activity
        if m.status in ("verified", "returned"):
            assert m.reports[-1].decision == m.status
            # The mentor, or the Plt. acting for them.
            assert m.reports[-1].decided_by_id in mentors_of[m.case.mentor_id]
        if m.status == "returned":
            assert m.return_comment.strip()
        if m.status == "not_achieved":
            assert m.closing_note.strip() and m.is_closed

    # Some are overdue, as the home page and the case page flag them.
    assert any(ms.is_overdue(m, ms.today_for(m.case)) for m in short)

    # DPMP Lampung Barat: 14 of the 15 kecamatan covered with dates, Sukau the last stop.
    tour = db.session.scalar(
        select(Milestone).where(
            Milestone.target_unit == "kecamatan", Milestone.target_quantity == 15
        )
    )
    with force_locale("en"):
        assert ms.progress_text(tour) == "14 of 15 kecamatan — remaining: Sukau"
    assert tour.remaining_units == ["Sukau"] and tour.achieved_quantity == 14
    start, today = tour.case.cohort.implementation_start, ms.today_for(tour.case)
    assert all(start <= c.covered_on < today for c in tour.coverages)
    assert sum(c.document is not None for c in tour.coverages) >= 5
    # A demo account can open it: `penguji` examines that Lampung group.
    penguji_sees = cases_visible_to(user("penguji")).where(Case.id == tour.case_id)
    assert db.session.scalar(penguji_sees) is not None

    # Evidence: real files on disk matching their checksums, thumbnails for photos, and no
    # stray file; few and small, so the demo loads fast.
    documents = db.session.scalars(select(Document)).all()
    assert 30 <= len(documents) <= 80
    assert {d.content_type for d in documents} == {"application/pdf", "image/jpeg"}
    of_coverage = {c.document_id for c in db.session.scalars(select(UnitCoverage))}
    expected = set()
    for d in documents:
        data = path_of(d).read_bytes()
        assert len(data) == d.size < 40_000 and hashlib.sha256(data).hexdigest() == d.sha256
        expected.add(d.stored_name)
        if d.is_image:
            assert thumb_path_of(d).is_file()
            expected.add(d.thumb_name)
        assert d.milestone_id and (d.report_id or d.id in of_coverage)
    assert set(files_in(uploads)) == expected

    assert verify_all() == []

    # `peserta`: implementing, one milestone returned by `mentor` (the banner), one awaiting
    # verification; the `mentor` account has reports waiting in its queue.
    peserta, mentor = user("peserta"), user("mentor")
    case = db.session.scalar(select(Case).where(Case.trainee_id == peserta.id))
    assert case.state == "implementation" and case.mentor_id == mentor.id
    (returned,) = ms.returned_milestones(case)
    assert returned.reports[-1].decided_by_id == mentor.id and returned.return_comment
    assert [r.milestone for r in trainee_milestones(peserta).returned] == [returned]
    assert ms.awaiting_verification(case)
    # …and a coverage milestone: six of the ten kecamatan covered so far, with evidence.
    (tour,) = [m for m in case.milestones if m.units]
    assert tour.target_unit == "kecamatan" and len(tour.units) == 10
    assert len(tour.coverages) == 6 and tour.remaining_units
    assert sum(c.document is not None for c in tour.coverages) >= 3
    queue = awaiting_verification_for(mentor)
    assert case in {r.case for r in queue} and len({r.case for r in queue}) >= 2
    mentor_cases = db.session.scalars(
        select(Case).where(Case.mentor_id == mentor.id, Case.state == "implementation")
    ).all()
    assert any(ms.is_overdue(m, ms.today_for(c)) for c in mentor_cases for m in c.milestones)

    # Cases past implementation closed every short-term milestone (verified, or not achieved
    # with an explanation) and submitted a complete final report.
    closed = db.session.scalars(select(Case).where(Case.state.in_(CLOSED_STATES))).all()
    assert {c.state for c in closed} == set(CLOSED_STATES)
    outcomes = set()
    for case in closed:
        short = [m for m in case.milestones if m.term == "short"]
        assert all(m.is_closed for m in short), case.id
        outcomes |= {m.status for m in short}
        report = case.final_report
        assert report is not None and report.submitted_at is not None
        assert missing_sections(case) == []
        assert set(report.results) == {str(m.id) for m in short}
        assert all(getattr(report, name).strip() for name in FinalReport.TEXT_FIELDS)
        submitted = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.case_id == case.id, AuditEvent.trigger == "submit_report"
            )
        )
        assert submitted.actor_id == case.trainee_id
    assert outcomes == {"verified", "not_achieved"}
