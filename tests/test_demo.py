"""`flask aksi demo`: idempotent and atomic, every state of every shipped definition, one
working account per role, a valid audit trail, the two showcase projects from the seeds, and
the implementation phase as people would have left it — all through perform()."""

from __future__ import annotations

import hashlib
import os

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
    UnitCoverage,
    User,
)
from workflow.permissions import cases_awaiting, cases_visible_to
from workflow.services import Blocked, demo, evaluation
from workflow.services import milestones as ms
from workflow.services.audit import verify_all
from workflow.services.documents import path_of, thumb_path_of
from workflow.services.final_report import missing_sections
from workflow.services.progress import awaiting_verification_for, trainee_milestones

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
    "mentor": {"mentor_review"},
    "pimpinan": {"endorsement_pending"},
    "coach": {"evaluation"},
    "penguji": {"evaluation", "proposal_seminar"},
    "penyelenggara": {"deferred"},
    "admin": {"deferred"},
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

    # Institutions show their own zone.
    kaltim = db.session.scalar(select(Institution).where(Institution.code == "bpsdm-kaltim"))
    assert (kaltim.timezone, kaltim.zone_label) == ("Asia/Makassar", "WITA")
    assert any(i.zone_label == "WIB" for i in db.session.scalars(select(Institution)))

    # Size: at least two cohorts, one on the PKN II definition; at least 60 trainees.
    cohorts = db.session.scalars(select(Cohort)).all()
    assert len(cohorts) >= 2
    assert {c.definition_key for c in cohorts} >= {"aksi_perubahan_pka", "aksi_perubahan_pkn2"}
    trainees = db.session.scalar(select(func.count(func.distinct(Case.trainee_id))))
    assert trainees >= 60
    for c in cohorts:
        roles = {m.role for m in c.members}
        assert "organizer" in roles
        assert c.groups and all(g.coach_id and g.examiner_id for g in c.groups)

    # Every state of every shipped definition holds at least one case.
    present = set(db.session.execute(select(Case.definition_key, Case.state)).all())
    for definition in registry.all():
        for state in definition.states:
            assert (definition.key, state.key) in present, (definition.key, state.key)

    # Cases moved only through perform(): each event chain starts at the initial state and
    # ends at the case's state.
    for case in db.session.scalars(select(Case)):
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
            assert (case.final_score >= 70) == (case.state == "completed")
            # Scored through the evaluation service: every sheet submitted, one audited
            # submission each, and the recorded score is the sheets' result.
            sheets = evaluation.sheets_of(case)
            assert [s.role for s in sheets if s.is_submitted] == ["examiner", "coach", "mentor"]
            assert sum(e.trigger == "submit_scores" for e in events) == 3
            assert evaluation.result_of(case).total == case.final_score

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
    assert all(
        u.nip and len(u.nip) == 18 and u.nip.isdigit() for u in db.session.scalars(select(User))
    )


def test_demo_showcase_cases(app):
    demo.load()

    kukar = db.session.scalar(select(Case).where(Case.title == KUKAR_TITLE))
    assert kukar is not None
    assert kukar.definition_key == "aksi_perubahan_pka"
    assert kukar.cohort.program.institution.name == "BPSDM Provinsi Kalimantan Timur"
    assert kukar.trainee.agency.short_name == "DPMD Kukar"
    assert kukar.executive.position == "Bupati Kutai Kartanegara"
    endorse = db.session.scalar(
        select(AuditEvent).where(AuditEvent.case_id == kukar.id, AuditEvent.trigger == "endorse")
    )
    assert endorse.actor_id == kukar.executive_id
    assert endorse.data["letter_number"] and endorse.data["letter_date"]

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
    assert lambar.parent.name == "Provinsi Lampung"

    # PKN II seminars carry the examiner's recorded outcome.
    seminar = db.session.scalar(select(AuditEvent).where(AuditEvent.trigger == "record_seminar"))
    assert seminar.data["seminar_outcome"] in ("accepted", "accepted_with_notes")


def test_demo_implementation_story(app, uploads):
    demo.load()
    implementing = db.session.scalars(select(Case).where(Case.state == "implementation")).all()
    short = [m for c in implementing for m in c.milestones if m.term == "short"]

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
    assert triggers["cover_unit"] == counts()["UnitCoverage"] == 14
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
            assert m.reports[-1].decided_by_id == m.case.mentor_id
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
    assert 30 <= len(documents) <= 60
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
