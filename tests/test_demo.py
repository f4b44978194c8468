"""`flask aksi demo`: idempotent, every state of every shipped definition, one working
account per role, a valid audit trail, and the two showcase projects from the seeds."""

from __future__ import annotations

from sqlalchemy import func, select

from workflow.engine import registry
from workflow.extensions import db
from workflow.models import (
    AuditEvent,
    Case,
    Cohort,
    CohortMember,
    Group,
    Institution,
    Milestone,
    Notification,
    Region,
    Score,
    User,
)
from workflow.permissions import cases_awaiting
from workflow.services import demo

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
    "peserta": {"draft", "revision_requested"},
    "mentor": {"mentor_review"},
    "pimpinan": {"endorsement_pending"},
    "coach": {"evaluation"},
    "penguji": {"evaluation", "proposal_seminar"},
    "penyelenggara": {"deferred"},
    "admin": {"deferred"},
}


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
            Score,
        )
    }


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_demo_command_is_idempotent_and_audit_is_intact(runner):
    first = runner.invoke(args=["aksi", "demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data loaded." in first.output
    assert demo.PASSWORD in first.output
    for username, _ in demo.ACCOUNTS:
        assert f"  {username} " in first.output
    before = counts()
    assert before["Case"] >= 60 and before["AuditEvent"] > before["Case"]

    second = runner.invoke(args=["aksi", "demo"])
    assert second.exit_code == 0, second.output
    assert "Demo data already present." in second.output
    db.session.expire_all()
    assert counts() == before

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
