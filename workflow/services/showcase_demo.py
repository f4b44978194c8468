"""(issue 12) Showcase content for the demo: call `give_demo_consents()` after the demo data
is loaded (in the same app context). For up to `limit` passed cases it records the
trainee's consent (as the trainee) and the institution's (as an organizer of the cohort, or
else an admin of the institution), and chooses up to three of the trainee's evidence
photos. Idempotent: consents in force and photos already chosen are kept. Returns the ids
of the cases now on show.
"""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Case, CohortMember, User
from . import repository, showcase


def _institution_actor(case: Case) -> User | None:
    organizer = db.session.scalar(
        select(User)
        .join(CohortMember, CohortMember.user_id == User.id)
        .where(CohortMember.cohort_id == case.cohort_id, CohortMember.role == "organizer")
        .order_by(User.id)
        .limit(1)
    )
    if organizer is not None:
        return organizer
    return db.session.scalar(
        select(User)
        .where(User.is_admin.is_(True), User.institution_id == showcase.institution_of(case))
        .order_by(User.id)
        .limit(1)
    )


def give_demo_consents(limit: int = 3, photos: int = 3) -> list[int]:
    kinds = repository.state_kinds()
    passed = [
        c
        for c in db.session.scalars(select(Case).order_by(Case.id))
        if (c.definition_key, c.definition_version, c.state) in kinds.passed
    ]
    # Prefer cases with photos to show.
    passed.sort(key=lambda c: (not showcase.photo_candidates(c), c.id))
    shown = []
    for case in passed[:limit]:
        actor = _institution_actor(case)
        if actor is None:
            continue
        showcase.give_consent(case, case.trainee, "trainee")
        showcase.give_consent(case, actor, "institution")
        if not showcase.chosen_photo_ids(case.id):
            chosen = [d.id for d in showcase.photo_candidates(case)[:photos]]
            if chosen:
                showcase.choose_photos(case, case.trainee, chosen)
        shown.append(case.id)
    return sorted(shown)
