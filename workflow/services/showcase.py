"""(issue 12) The public showcase: a completed, passed change action is shown to anyone,
without login, while both its trainee and its institution consent.

Consent: the trainee gives (or withdraws) their own; the institution's is given or
withdrawn by an organizer of the case's cohort (or their acting official) or an admin of
its institution. Each is a row with who and when; withdrawing stamps who and when on it,
and giving again adds a new row, so the history stays. Giving needs the case passed;
withdrawing is always possible. Nothing is cached: every public request checks consent
and state again, so a withdrawal takes the page down at once.

What is public (PUBLIC_FIELDS, and nothing else of the case): the title, the institution,
programme and cohort, the agency and its region, the problem (core issue and current
condition), each milestone's target against what was achieved (with the final report's
result for it), the photos the trainee chose among their evidence images (our re-encoded
copy, never the upload: no camera metadata), and the sustainability status. Never: names
of people (trainee, mentor, executive, team, stakeholders), NIPs, e-mails, scores and
predicate, comments, documents, the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, select

from ..extensions import db
from ..models import Case, Cohort, Document, Institution, Milestone, Program, User
from ..models._base import utcnow
from ..models.showcase import RepositoryEntry, ShowcaseConsent, ShowcasePhoto
from ..permissions import roles_on_case
from . import followup, repository

PARTIES = ShowcaseConsent.PARTIES
MAX_PHOTOS = 6
PUBLIC_FIELDS = (
    "title",
    "institution",
    "program",
    "cohort",
    "year",
    "agency",
    "region",
    "province",
    "problem",
    "milestones",
    "photos",
    "sustainability",
)


class ShowcaseRefused(Exception):
    """A consent or photo change that may not happen; nothing was written."""

    def __init__(self, status: int, message, field: str = ""):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.field = field


NOT_PASSED = _l("Only a change action that passed can be shown publicly.")
NOT_YOURS = _l("You may not change this consent.")
UNKNOWN_PARTY = _l("Consent is given by the trainee or by the institution.")


# ---------------------------------------------------------------- who and what


def is_passed(case: Case) -> bool:
    kinds = repository.state_kinds()
    return (case.definition_key, case.definition_version, case.state) in kinds.passed


def institution_of(case: Case) -> int:
    return case.cohort.program.institution_id


def may_consent(user: User, case: Case, party: str) -> bool:
    if party == "trainee":
        return case.trainee_id == user.id
    if party == "institution":
        if user.is_admin and user.institution_id == institution_of(case):
            return True
        return "organizer" in roles_on_case(user, case, {"organizer"})
    return False


def parties_for(user: User, case: Case) -> list[str]:
    return [p for p in PARTIES if may_consent(user, case, p)]


def open_consents(case_ids) -> dict[int, dict[str, ShowcaseConsent]]:
    """{case id: {party: the consent in force}} (one query)."""
    ids = list(case_ids)
    found: dict[int, dict[str, ShowcaseConsent]] = {i: {} for i in ids}
    if not ids:
        return found
    for c in db.session.scalars(
        select(ShowcaseConsent).where(
            ShowcaseConsent.case_id.in_(ids), ShowcaseConsent.withdrawn_at.is_(None)
        )
    ):
        found[c.case_id][c.party] = c
    return found


def _consented(party: str):
    return exists().where(
        ShowcaseConsent.case_id == RepositoryEntry.case_id,
        ShowcaseConsent.party == party,
        ShowcaseConsent.withdrawn_at.is_(None),
    )


def public_clause():
    """SQL condition on RepositoryEntry: shown publicly now."""
    return and_(
        RepositoryEntry.listed.is_(True),
        RepositoryEntry.result == "passed",
        _consented("trainee"),
        _consented("institution"),
    )


def is_public(case: Case) -> bool:
    consents = open_consents([case.id])[case.id]
    return is_passed(case) and all(p in consents for p in PARTIES)


# ---------------------------------------------------------------- changes


def give_consent(case: Case, actor: User, party: str) -> ShowcaseConsent:
    """Record `party`'s consent by `actor` (no-op when already in force). Commits."""
    if party not in PARTIES:
        raise ShowcaseRefused(422, UNKNOWN_PARTY, "party")
    if not may_consent(actor, case, party):
        raise ShowcaseRefused(403, NOT_YOURS)
    if not is_passed(case):
        raise ShowcaseRefused(409, NOT_PASSED)
    current = open_consents([case.id])[case.id].get(party)
    if current is not None:
        return current
    consent = ShowcaseConsent(case_id=case.id, party=party, given_by_id=actor.id, given_at=utcnow())
    db.session.add(consent)
    db.session.commit()
    return consent


def withdraw_consent(case: Case, actor: User, party: str) -> bool:
    """Withdraw `party`'s consent (True if one was in force). Commits."""
    if party not in PARTIES:
        raise ShowcaseRefused(422, UNKNOWN_PARTY, "party")
    if not may_consent(actor, case, party):
        raise ShowcaseRefused(403, NOT_YOURS)
    current = open_consents([case.id])[case.id].get(party)
    if current is None:
        return False
    current.withdrawn_at = utcnow()
    current.withdrawn_by_id = actor.id
    db.session.commit()
    return True


def photo_candidates(case: Case) -> list[Document]:
    """The case's evidence images that have our re-encoded copy."""
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.case_id == case.id,
                Document.kind == "evidence",
                Document.content_type.like("image/%"),
                Document.thumb_name.is_not(None),
                Document.thumb_name != "",
            )
            .order_by(Document.id)
        )
    )


def chosen_photo_ids(case_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(ShowcasePhoto.document_id)
            .where(ShowcasePhoto.case_id == case_id)
            .order_by(ShowcasePhoto.position, ShowcasePhoto.id)
        )
    )


def choose_photos(case: Case, actor: User, document_ids: list[int]) -> list[int]:
    """The trainee's choice replaces the previous one. Commits; refuses writing nothing."""
    if case.trainee_id != actor.id:
        raise ShowcaseRefused(403, _l("Only the trainee chooses the photos."))
    wanted = list(dict.fromkeys(document_ids))
    if len(wanted) > MAX_PHOTOS:
        raise ShowcaseRefused(422, _l("Choose at most %(n)d photos.", n=MAX_PHOTOS), "document_ids")
    allowed = {d.id for d in photo_candidates(case)}
    if any(i not in allowed for i in wanted):
        raise ShowcaseRefused(
            422, _l("Choose among the photos of your own evidence."), "document_ids"
        )
    existing = {
        p.document_id: p
        for p in db.session.scalars(select(ShowcasePhoto).where(ShowcasePhoto.case_id == case.id))
    }
    for doc_id, photo in existing.items():
        if doc_id not in wanted:
            db.session.delete(photo)
    now = utcnow()
    for position, doc_id in enumerate(wanted):
        photo = existing.get(doc_id)
        if photo is None:
            db.session.add(
                ShowcasePhoto(
                    case_id=case.id,
                    document_id=doc_id,
                    position=position,
                    chosen_by_id=actor.id,
                    chosen_at=now,
                )
            )
        else:
            photo.position = position
    db.session.commit()
    return wanted


# ---------------------------------------------------------------- the public side


@dataclass
class PublicMilestone:
    term: str
    activity: str
    output: str
    target_quantity: float | None
    target_unit: str
    achieved_quantity: float | None
    status: str
    result: str


@dataclass
class PublicItem:
    case_id: int
    title: str
    institution: str
    institution_code: str
    program: str
    cohort: str
    cohort_id: int
    year: int
    agency: str
    region: str
    region_code: str
    province: str
    problem: str
    current: str
    milestones: list[PublicMilestone] = field(default_factory=list)
    photos: list[int] = field(default_factory=list)
    sustainability: str = ""


def _confirmed_follow_up(case_id: int) -> dict[int, tuple[str, float | None]]:
    """Per milestone, what the latest confirmed follow-up report says (status, achieved):
    after graduation the results against targets are the follow-up's, not the final
    report's."""
    from ..models.followup import FollowUpReport, FollowUpResult

    rows = db.session.execute(
        select(FollowUpResult.milestone_id, FollowUpResult.status, FollowUpResult.achieved_quantity)
        .join(FollowUpReport, FollowUpReport.id == FollowUpResult.report_id)
        .where(FollowUpReport.case_id == case_id, FollowUpReport.decision == "confirmed")
        .order_by(FollowUpReport.decided_at, FollowUpReport.id)
    ).all()
    return {milestone_id: (status, achieved) for milestone_id, status, achieved in rows}


def public_item(case_id: int) -> PublicItem | None:
    """The public page's content, or None (404) unless shown publicly right now."""
    entry = db.session.scalar(
        select(RepositoryEntry).where(RepositoryEntry.case_id == case_id, public_clause())
    )
    if entry is None:
        return None
    case = db.session.get(Case, case_id)
    if case is None or not is_passed(case):
        return None
    row = db.session.execute(
        repository._with_names(
            select(*repository.ROW_COLUMNS, repository.R_INSTITUTION.code.label("inst_code"))
            .select_from(RepositoryEntry)
            .where(RepositoryEntry.case_id == case_id)
        )
    ).one()
    report = case.final_report
    results = (report.results or {}) if report is not None and report.submitted_at else {}
    later = _confirmed_follow_up(case_id)
    milestones = [
        PublicMilestone(
            term=m.term,
            activity=m.activity,
            output=m.output,
            target_quantity=m.target_quantity,
            target_unit=m.target_unit,
            achieved_quantity=(
                later[m.id][1]
                if m.id in later and later[m.id][1] is not None
                else m.achieved_quantity
            ),
            status=m.status,
            result=(
                str(followup.RESULT_LABELS.get(later[m.id][0], later[m.id][0]))
                if m.id in later
                else str(results.get(str(m.id), "") or "")
            ),
        )
        for m in db.session.scalars(
            select(Milestone).where(Milestone.case_id == case_id).order_by(Milestone.position)
        )
    ]
    return PublicItem(
        case_id=case.id,
        title=case.title,
        institution=row.institution,
        institution_code=row.inst_code,
        program=row.program_code,
        cohort=row.cohort,
        cohort_id=case.cohort_id,
        year=row.year,
        agency=row.agency or "",
        region=row.region or "",
        region_code=row.region_code or "",
        province=row.province or "",
        problem=case.core_issue,
        current=case.background_current,
        milestones=milestones,
        photos=public_photo_ids(case_id),
        sustainability=entry.sustainability,
    )


def public_photo_ids(case_id: int) -> list[int]:
    """Chosen photos that still are evidence images of the case with a re-encoded copy."""
    return list(
        db.session.scalars(
            select(ShowcasePhoto.document_id)
            .join(Document, Document.id == ShowcasePhoto.document_id)
            .where(
                ShowcasePhoto.case_id == case_id,
                Document.case_id == case_id,
                Document.content_type.like("image/%"),
                Document.thumb_name.is_not(None),
                Document.thumb_name != "",
            )
            .order_by(ShowcasePhoto.position, ShowcasePhoto.id)
        )
    )


def public_photo(case_id: int, document_id: int) -> Document | None:
    """The document behind a public photo, only while the case is shown and it is chosen."""
    if document_id not in public_photo_ids(case_id):
        return None
    if (
        db.session.scalar(
            select(RepositoryEntry.case_id).where(
                RepositoryEntry.case_id == case_id, public_clause()
            )
        )
        is None
    ):
        return None
    return db.session.get(Document, document_id)


def institution_by_code(code: str) -> Institution | None:
    if not code or len(code) > 40:
        return None
    return db.session.scalar(select(Institution).where(Institution.code == code))


def public_cohort(cohort_id: int) -> Cohort | None:
    return db.session.scalar(select(Cohort).where(Cohort.id == cohort_id))


def public_scope(institution_id: int | None = None, cohort_id: int | None = None):
    clause = public_clause()
    if institution_id is not None:
        clause = and_(clause, RepositoryEntry.institution_id == institution_id)
    if cohort_id is not None:
        clause = and_(clause, RepositoryEntry.cohort_id == cohort_id)
    return clause


def public_search(
    q: str = "",
    page: int = 1,
    per_page: int = 20,
    institution_id: int | None = None,
    cohort_id: int | None = None,
) -> repository.SearchPage:
    sq = repository.SearchQuery(q=q, page=page, per_page=per_page)
    return repository.search(None, sq, scope=public_scope(institution_id, cohort_id), facets=False)


@dataclass
class InstitutionCount:
    code: str
    name: str
    count: int


def public_institutions() -> list[InstitutionCount]:
    from sqlalchemy import func

    rows = db.session.execute(
        select(Institution.code, Institution.name, func.count())
        .join(RepositoryEntry, RepositoryEntry.institution_id == Institution.id)
        .where(public_clause())
        .group_by(Institution.id, Institution.code, Institution.name)
        .order_by(Institution.name)
    ).all()
    return [InstitutionCount(r[0], r[1], r[2]) for r in rows]


def public_cohorts(institution_id: int) -> list[tuple[int, str, int, int]]:
    """(cohort id, name, year, count) of the institution's cohorts with public actions."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(Cohort.id, Cohort.name, Cohort.year, func.count())
        .join(RepositoryEntry, RepositoryEntry.cohort_id == Cohort.id)
        .where(public_clause(), RepositoryEntry.institution_id == institution_id)
        .group_by(Cohort.id, Cohort.name, Cohort.year)
        .order_by(Cohort.year.desc(), Cohort.name)
    ).all()
    return [tuple(r) for r in rows]


# ---------------------------------------------------------------- the organizer's list


@dataclass
class ConsentRow:
    case: Case
    trainee_name: str
    trainee: ShowcaseConsent | None
    institution: ShowcaseConsent | None

    @property
    def public(self) -> bool:
        return self.trainee is not None and self.institution is not None


def cohort_consents(cohort_id: int) -> list[ConsentRow]:
    """Every passed case of a cohort with both consents (fixed number of queries)."""
    kinds = repository.state_kinds()
    cases = [
        c
        for c in db.session.scalars(
            select(Case).where(Case.cohort_id == cohort_id).order_by(Case.ndh, Case.id)
        )
        if (c.definition_key, c.definition_version, c.state) in kinds.passed
    ]
    names = (
        dict(
            db.session.execute(
                select(User.id, User.name).where(User.id.in_([c.trainee_id for c in cases]))
            ).all()
        )
        if cases
        else {}
    )
    consents = open_consents([c.id for c in cases])
    return [
        ConsentRow(
            c,
            names.get(c.trainee_id, ""),
            consents[c.id].get("trainee"),
            consents[c.id].get("institution"),
        )
        for c in cases
    ]


def may_manage_cohort(user: User, cohort: Cohort) -> bool:
    """Organizer of the cohort, or admin of its institution."""
    from ..models import CohortMember

    if user.is_admin and user.institution_id == cohort.program.institution_id:
        return True
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CohortMember.cohort_id == cohort.id,
                    CohortMember.user_id == user.id,
                    CohortMember.role == "organizer",
                )
            )
        )
    )


def institution_program(cohort: Cohort) -> Program:
    return cohort.program
