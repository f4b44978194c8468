"""create_<thing> factories for tests. They flush, never commit, unless asked."""

from __future__ import annotations

import functools
import itertools
from datetime import date

from werkzeug.security import generate_password_hash

from workflow.extensions import db
from workflow.models import (
    Agency,
    Cohort,
    CohortMember,
    FinalReport,
    Group,
    Institution,
    Milestone,
    Program,
    Region,
    User,
)
from workflow.services import start_case

_seq = itertools.count(1)
PASSWORD = "secret-pass-1"


@functools.cache
def _password_hash() -> str:
    return generate_password_hash(PASSWORD)


def create_user(username: str | None = None, **attrs) -> User:
    n = next(_seq)
    user = User(
        username=username or f"user{n}",
        name=attrs.pop("name", f"User {n}"),
        email=attrs.pop("email", f"{username or 'user' + str(n)}@example.test"),
        **attrs,
    )
    # scrypt costs ~0.15 s a user; every test user shares the one password, so hash it once.
    user.password_hash = _password_hash()
    db.session.add(user)
    db.session.flush()
    return user


# Version 1 by default: the flows most tests walk (the mentor approves alone); a cohort
# started on it keeps it until its cases migrate. Tests of the current flows pass None.
def create_cohort(
    definition_key: str = "aksi_perubahan_pka", version: int | None = 1, **attrs
) -> Cohort:
    if version is not None and definition_key == "aksi_perubahan_pkp":
        version = None
    n = next(_seq)
    province = Region(level="province", name=f"Provinsi {n}", code=f"P{n}")
    institution = Institution(
        code=f"inst{n}", name=f"BPSDM {n}", timezone="Asia/Makassar", region=province
    )
    program = Program(
        institution=institution, code="PKA", name="PKA", definition_key=definition_key
    )
    cohort = Cohort(
        program=program,
        name=attrs.pop("name", f"Angkatan {n}"),
        year=2026,
        quota=40,
        definition_key=definition_key,
        definition_version=version,
        start_date=date(2026, 2, 2),
        proposal_deadline=date(2026, 3, 2),
        implementation_start=date(2026, 3, 9),
        implementation_end=date(2026, 6, 5),
        evaluation_date=date(2026, 6, 15),
        end_date=date(2026, 6, 30),
        **attrs,
    )
    db.session.add(cohort)
    db.session.flush()
    return cohort


class World:
    """A cohort with one group and one person in each role, and a case for the trainee."""

    def __init__(
        self,
        definition_key: str = "aksi_perubahan_pka",
        complete: bool = True,
        version: int | None = 1,
    ):
        self.cohort = create_cohort(definition_key, version)
        self.trainee = create_user()
        self.mentor = create_user()
        self.executive = create_user()
        self.coach = create_user()
        self.examiner = create_user()
        self.organizer = create_user()
        self.stranger = create_user()
        self.group = Group(
            cohort=self.cohort, name="Kelompok 1", coach=self.coach, examiner=self.examiner
        )
        db.session.add(self.group)
        db.session.add(CohortMember(cohort=self.cohort, user=self.organizer, role="organizer"))
        agency = Agency(name="DPMD Kutai Kartanegara")
        db.session.add(agency)
        self.trainee.agency = agency
        self.case = start_case(
            self.cohort,
            self.trainee,
            group=self.group,
            mentor=self.mentor,
            executive=self.executive,
        )
        if complete:
            fill_proposal(self.case)
        db.session.commit()

    def by_role(self, role: str) -> User:
        return getattr(self, role)


def fill_proposal(case) -> None:
    case.title = "Penataan Tata Kelola Perencanaan Pembangunan Desa"
    case.background_current = "Perencanaan desa belum terpadu."
    case.background_ideal = "Perencanaan desa terpadu dan terbina."
    case.core_issue = "Belum optimalnya tata kelola perencanaan pembangunan desa."
    case.objective_short = "Tersusunnya pedoman pembinaan terpadu."
    case.innovation = "Pembinaan secara terpadu lintas OPD."
    case.milestones.append(
        Milestone(
            position=0,
            term="short",
            activity="Menyusun pedoman",
            output="Pedoman",
            target_date=date(2026, 4, 1),
            target_quantity=1,
            target_unit="dokumen",
        )
    )


EVALUATORS = ("examiner", "coach", "mentor")


def score_case(world: World, values=(90, 85, 80), *, roles=EVALUATORS, drafts=()) -> None:
    """Score the world's case (in evaluation) through the evaluation service: each role of
    `roles` submits its sheet (perform "submit_scores") with its value of `values` (examiner,
    coach, mentor) on every aspect and every short-term milestone rated "sesuai"; the roles
    of `drafts` only save theirs as a draft."""
    from workflow.services import evaluation, perform

    rubric = evaluation.rubric_of(world.case)
    ratings = {m.id: {"rating": "sesuai"} for m in evaluation.short_term(world.case)}
    for role, value in zip(EVALUATORS, values, strict=True):
        if role not in roles and role not in drafts:
            continue
        scores = {a.key: {"value": value} for a in rubric.aspects_for(role)}
        actor = world.by_role(role)
        if role in drafts:
            evaluation.save_draft(world.case, actor, role, scores=scores, ratings=ratings)
        else:
            perform(
                world.case,
                "submit_scores",
                actor,
                data={"role": role, "scores": scores, "ratings": ratings},
            )


ENDORSE_DATA = {"letter_number": "800/123/DPMD", "letter_date": "2026-03-05"}


def to_implementation(world: World) -> None:
    """Submit, approve and endorse the world's case through perform()."""
    from workflow.services import perform

    perform(world.case, "submit", world.trainee)
    perform(world.case, "approve", world.mentor)
    perform(world.case, "endorse", world.executive, data=dict(ENDORSE_DATA))


def add_coverage_milestone(case, units=("Balik Bukit", "Sukau", "Lumbok Seminung", "Suoh")):
    """A short-term milestone over units to cover (as the Lampung Barat kecamatan)."""
    m = Milestone(
        position=len(case.milestones),
        term="short",
        activity="Sosialisasi ke kecamatan",
        output="Berita acara",
        target_date=date(2026, 5, 4),
        target_quantity=len(units),
        target_unit="kecamatan",
        units=list(units),
    )
    case.milestones.append(m)
    db.session.commit()
    return m


COMPLETE_REPORT = {
    "executive_summary": "Pembinaan terpadu perencanaan desa berjalan di seluruh kecamatan.",
    "implementation": "Pedoman disusun bersama tim efektif dan disosialisasikan.",
    "lessons_learned": "Koordinasi lintas OPD menentukan keberhasilan.",
    "continuation_medium": "Replikasi ke kabupaten tetangga dalam 12 bulan.",
    "continuation_long": "Pedoman menjadi peraturan bupati dalam 2 tahun.",
    "sponsor_commitment": "Kepala Dinas menganggarkan kegiatan lanjutan.",
    "video_link": "https://video.example.test/aksi",
}


def fill_final_report(case) -> FinalReport:
    """A complete final report (every section, a result per short-term milestone), written
    directly whatever the case's state, and committed."""
    results = {str(m.id): f"Tercapai: {m.activity}." for m in case.milestones if m.term == "short"}
    report = case.final_report
    if report is None:
        report = case.final_report = FinalReport()
    for name, value in COMPLETE_REPORT.items():
        setattr(report, name, value)
    report.results = results
    db.session.commit()
    return report
