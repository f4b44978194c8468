"""Reviewing a proposal: the reviewers' queues, section comments, bulk endorsement.

Queues are built on permissions.cases_awaiting / cases_visible_to, so whatever those admit
(delegations included) flows through. No state is named here: the definitions say which
states a role decides in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import joinedload

from ..engine import registry
from ..engine.definitions import Definition, Transition
from ..extensions import db
from ..models import Case, Cohort, Comment, Program, ProposalSnapshot, User
from ..permissions import (
    _role_clause,
    cases_awaiting,
    cases_visible_to,
    get_case_for,
    roles_on_case,
)
from .errors import Blocked, Forbidden, NotAvailable, WorkflowError
from .workflow import definition_of, perform

SECTIONS: tuple[str, ...] = (
    *Case.PROPOSAL_TEXT_FIELDS,
    *Case.PROPOSAL_LIST_FIELDS,
    "milestones",
)
SECTION_LABELS = {
    "": _l("General"),
    "title": _l("Title"),
    "background_current": _l("Current condition"),
    "background_ideal": _l("Ideal condition"),
    "core_issue": _l("Core issue"),
    "objective_short": _l("Short-term objective"),
    "objective_medium": _l("Medium-term objective"),
    "objective_long": _l("Long-term objective"),
    "benefits": _l("Benefits"),
    "scope": _l("Scope"),
    "innovation": _l("Innovation"),
    "resources": _l("Resources"),
    "stakeholders": _l("Stakeholders"),
    "team": _l("Effective team"),
    "risks": _l("Risks and mitigations"),
    "milestones": _l("Milestones"),
}
# Who may comment on a proposal, in the order a comment's role is recorded.
COMMENT_ROLES = ("mentor", "coach", "executive", "organizer")
REVIEW_ROLES = frozenset(COMMENT_ROLES)
BODY_MAX = 5000


def section_label(section: str) -> str:
    return str(SECTION_LABELS.get(section, section))


# ---------------------------------------------------------------- queues


def deciding_states(definition: Definition, role: str) -> list[str]:
    """States `role` owns and can move on from by a transition of its own."""
    return [
        s
        for s in definition.states_owned_by(role)
        if any(role in t.roles for t in definition.transitions_from(s))
    ]


def _in_deciding_states(role: str):
    clauses = []
    for definition in registry.all():
        states = deciding_states(definition, role)
        if states:
            clauses.append(
                and_(
                    Case.definition_key == definition.key,
                    Case.definition_version == definition.version,
                    Case.state.in_(states),
                )
            )
    return or_(*clauses) if clauses else false()


def _eager(query: Select) -> Select:
    # Everything a queue row shows comes in the same query: the count stays flat.
    return query.options(
        joinedload(Case.trainee).joinedload(User.agency),
        joinedload(Case.cohort).joinedload(Cohort.program).joinedload(Program.institution),
    )


def _oldest_due_first(query: Select) -> Select:
    return query.order_by(Case.due_date.is_(None), Case.due_date, Case.state_entered_at, Case.id)


def awaiting_as(user: User, role: str) -> Select:
    """Cases waiting for `user` to decide on as `role`, oldest due first."""
    return _oldest_due_first(_eager(cases_awaiting(user).where(_in_deciding_states(role))))


def mentor_queue(user: User) -> list[Case]:
    return list(db.session.scalars(awaiting_as(user, "mentor")).unique())


def endorsement_queue(user: User) -> list[Case]:
    return list(db.session.scalars(awaiting_as(user, "executive")).unique())


def coach_cases(user: User) -> list[Case]:
    """Every case of the coach's group(s), in every state."""
    query = cases_visible_to(user).where(_role_clause(user, "coach"))
    return list(db.session.scalars(_oldest_due_first(_eager(query))).unique())


# ---------------------------------------------------------------- comments


def can_comment(user: User | None, case: Case) -> bool:
    return bool(roles_on_case(user, case, among=set(COMMENT_ROLES)))


def add_comment(case: Case, author: User, body: str | None, section: str | None = "") -> Comment:
    """Record a reviewer's remark on the proposal (or one section of it) and commit.
    Refused (Forbidden / Blocked) having written nothing."""
    roles = roles_on_case(author, case, among=set(COMMENT_ROLES))
    if not roles:
        raise Forbidden(_l("You may not comment on this proposal."))
    errors: dict[str, str] = {}
    section = section if isinstance(section, str) else ""
    section = section.strip()
    if section and section not in SECTIONS:
        errors["section"] = str(_l("Unknown proposal section."))
    body = (body if isinstance(body, str) else "").strip()
    if not body:
        errors["body"] = str(_l("Write a comment first."))
    elif len(body) > BODY_MAX:
        errors["body"] = str(_l("The comment is too long (at most %(n)d characters).", n=BODY_MAX))
    elif "\x00" in body:
        errors["body"] = str(_l("The comment contains a character that is not allowed."))
    if errors:
        raise Blocked(_l("Some fields need your attention."), list(errors.values()), errors)
    latest = db.session.scalar(
        select(func.max(ProposalSnapshot.number)).where(ProposalSnapshot.case_id == case.id)
    )
    comment = Comment(
        case_id=case.id,
        author_id=author.id,
        role=next(r for r in COMMENT_ROLES if r in roles),
        section=section,
        snapshot_number=latest,
        body=body,
    )
    db.session.add(comment)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return comment


def comments_of(case: Case) -> list[Comment]:
    return list(
        db.session.scalars(
            select(Comment)
            .where(Comment.case_id == case.id)
            .options(joinedload(Comment.author))
            .order_by(Comment.created_at, Comment.id)
        )
    )


def comments_by_section(case: Case) -> dict[str, list[Comment]]:
    """Comments grouped by section, "" (general) first, then in proposal order."""
    grouped: dict[str, list[Comment]] = {}
    for c in comments_of(case):
        grouped.setdefault(c.section or "", []).append(c)
    order = ["", *SECTIONS]
    return {
        s: grouped[s] for s in sorted(grouped, key=lambda s: order.index(s) if s in order else 99)
    }


# ---------------------------------------------------------------- diff (fallback)


def snapshot_pair(case: Case) -> tuple[ProposalSnapshot | None, ProposalSnapshot | None]:
    """The latest submission and the one before it (None when there is none)."""
    rows = list(
        db.session.scalars(
            select(ProposalSnapshot)
            .where(ProposalSnapshot.case_id == case.id)
            .order_by(ProposalSnapshot.number.desc())
            .limit(2)
        )
    )
    current = rows[0] if rows else None
    previous = rows[1] if len(rows) > 1 else None
    return previous, current


def _as_text(value) -> str:
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict):
                lines.append(" · ".join(f"{v}" for v in item.values() if v not in (None, "", [])))
            else:
                lines.append(str(item))
        return "\n".join(lines)
    return "" if value is None else str(value)


def field_changes(old: dict | None, new: dict | None) -> list[dict]:
    """Field-by-field comparison of two snapshot contents (only the sections that changed)."""
    old = old or {}
    new = new or {}
    changes = []
    for section in SECTIONS:
        before, after = old.get(section), new.get(section)
        if _as_text(before) != _as_text(after):
            changes.append(
                {
                    "section": section,
                    "label": section_label(section),
                    "old": _as_text(before),
                    "new": _as_text(after),
                }
            )
    return changes


# ---------------------------------------------------------------- endorsement


def executive_transitions(case: Case) -> tuple[Transition | None, Transition | None]:
    """(endorse, decline) open to the executive in the case's state: the one collecting
    fields (the letter) and the one requiring a comment."""
    definition = definition_of(case)
    mine = [t for t in definition.transitions_from(case.state) if "executive" in t.roles]
    endorse = next((t for t in mine if t.fields), None)
    decline = next((t for t in mine if t.comment == "required" and not t.fields), None)
    return endorse, decline


@dataclass
class EndorseResult:
    case_id: int
    ok: bool
    status: int = 200
    message: str = ""
    case: Case | None = None
    reasons: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    event_id: int | None = None


NOT_FOUND = _l("No such case, or it is not yours to see.")


def bulk_endorse(
    user: User,
    case_ids: list[int],
    data: dict,
    versions: dict[int, int] | None = None,
) -> list[EndorseResult]:
    """Endorse each case through perform(), one by one: each is its own event and commit,
    so a refusal on one (stale, wrong state, not yours) leaves the others done."""
    versions = versions or {}
    results: list[EndorseResult] = []
    seen: set[int] = set()
    for case_id in case_ids:
        if case_id in seen:
            continue
        seen.add(case_id)
        case = get_case_for(user, case_id)
        if case is None:
            results.append(EndorseResult(case_id, False, 404, str(NOT_FOUND)))
            continue
        endorse, _decline = executive_transitions(case)
        try:
            if endorse is None:
                raise NotAvailable(_l("This action is not available in the current state."))
            event = perform(
                case,
                endorse.trigger,
                user,
                data=dict(data),
                expected_version=versions.get(case_id),
            )
        except WorkflowError as exc:
            results.append(
                EndorseResult(
                    case_id,
                    False,
                    exc.status,
                    str(exc.message),
                    case=case,
                    reasons=[str(r) for r in exc.reasons],
                    fields={k: str(v) for k, v in exc.fields.items()},
                )
            )
            continue
        results.append(
            EndorseResult(
                case_id, True, 200, "", case=case, version=case.version, event_id=event.id
            )
        )
    return results
