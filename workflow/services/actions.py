"""What a user may do on a case now: the buttons of the web UI and the `actions` of the API.

Pure reads: nothing here changes or commits anything. perform() stays the one door and
re-checks everything; this only tells the user in advance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..engine.definitions import FieldSpec, Labels, Transition
from ..engine.machine import approval_step
from ..models import Case, User
from ..models._base import utcnow
from ..permissions import DEFAULT_ZONE, roles_on_case
from .calendar import local_date
from .workflow import approvals_so_far, choose, definition_of


@dataclass(frozen=True)
class Action:
    """One trigger the user may fire from the case's current state."""

    trigger: str
    labels: Labels
    style: str
    comment: str  # "none" | "optional" | "required"
    fields: tuple[FieldSpec, ...]
    comment_labels: Labels | None = None
    # Reasons (lazy strings) the guards give now; empty when the action would go through.
    blocked_reasons: list = field(default_factory=list)
    # A data form of the case whose fields the actor may give a reason for (a return).
    form_reasons: str | None = None

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_reasons)

    @property
    def needs_form(self) -> bool:
        return self.comment != "none" or bool(self.fields) or self.form_reasons is not None

    def label(self, lang: str | None) -> str:
        return self.labels.get(lang)

    @property
    def comment_required(self) -> bool:
        return self.comment == "required"


def available_actions(case: Case, user: User | None) -> list[Action]:
    """Triggers from the current state whose roles the user holds on this case, in
    definition order, each with the reasons its guards block it now (if any)."""
    definition = definition_of(case)
    roles = roles_on_case(user, case)
    if not roles:
        return []
    actions: list[Action] = []
    seen: set[str] = set()
    for transition in definition.transitions_from(case.state):
        if transition.trigger in seen:
            continue
        seen.add(transition.trigger)
        candidates: list[Transition] = [
            t for t in definition.candidates(case.state, transition.trigger) if roles & set(t.roles)
        ]
        if not candidates:
            continue
        # A signature already given is not offered again (the others' are awaited).
        if candidates[0].approval == "all":
            mine, _waiting = approval_step(
                candidates[0], set(approvals_so_far(case, candidates[0])), roles
            )
            if not mine:
                continue
        chosen, reasons = choose(case, definition, candidates)
        first = candidates[0]
        actions.append(
            Action(
                trigger=first.trigger,
                labels=first.labels,
                style=first.style,
                comment=first.comment,
                fields=first.fields,
                comment_labels=first.comment_labels,
                blocked_reasons=[] if chosen is not None else list(reasons),
                form_reasons=first.form_reasons,
            )
        )
    # Case-wide activities (e.g. the organizer extending a deadline) sit beside them.
    for act in definition.activities_in(case.state, "case"):
        if roles & set(act.roles):
            actions.append(
                Action(
                    trigger=act.key,
                    labels=act.labels,
                    style=act.style,
                    comment=act.comment,
                    fields=act.fields,
                    comment_labels=act.comment_labels,
                )
            )
    return actions


def field_choices(spec: FieldSpec, lang: str | None) -> list[tuple[str, str]]:
    return [(c.value, c.labels.get(lang)) for c in spec.choices]


def local_today(case: Case) -> date:
    """Today in the case's institution zone (WIB/WITA/WIT): its cohort's or its campaign's."""
    institution = case.institution
    return local_date(utcnow(), institution.timezone if institution else DEFAULT_ZONE)


def is_overdue(case: Case, today: date | None = None) -> bool:
    """Past its due date in a state someone still has to act on."""
    if case.due_date is None:
        return False
    if definition_of(case).state(case.state).terminal:
        return False
    return case.due_date < (today or local_today(case))
