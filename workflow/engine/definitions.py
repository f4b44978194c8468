"""Load and validate workflow definitions (YAML) with pydantic.

Every error names the file and the item, so a broken definition stops the app with a
message a reviewer can act on.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .forms import FormSpec
from .labels import Labels, _Strict

if TYPE_CHECKING:
    from .rubrics import Rubric

# The roles of a participant's case (aksi perubahan), held through the case, its group and
# its cohort. Other definitions declare their own roles (`roles:`).
ROLES = ("trainee", "mentor", "executive", "coach", "examiner", "organizer")
# A region-unit case's SLA may run until its campaign's deadline.
CAMPAIGN_DATES = ("deadline",)
BUILTIN_ROLES = ROLES
COHORT_DATES = (
    "start_date",
    "proposal_deadline",
    "implementation_start",
    "implementation_end",
    "evaluation_date",
    "end_date",
)


class DefinitionError(ValueError):
    pass


class Phase(_Strict):
    key: str
    labels: Labels


class SLA(_Strict):
    working_days: int | None = Field(default=None, ge=1, le=365)
    until: str | None = None

    @field_validator("until")
    @classmethod
    def _known_date(cls, v: str | None) -> str | None:
        if v is not None and v not in COHORT_DATES + CAMPAIGN_DATES:
            known = ", ".join(COHORT_DATES + CAMPAIGN_DATES)
            raise ValueError(f"unknown date {v!r}; use one of {known}")
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> SLA:
        if (self.working_days is None) == (self.until is None):
            raise ValueError("give either working_days or until, not both or neither")
        return self


class State(_Strict):
    key: str
    phase: str
    labels: Labels
    owners: tuple[str, ...] = ()
    terminal: bool = False
    sla: SLA | None = None
    # The trainee may edit the proposal while the case is here.
    proposal_editable: bool = False
    # The trainee may edit the final report while the case is here.
    report_editable: bool = False
    # Seminars of this kind (proposal, report) are scheduled and held in this state.
    seminar: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")


class Choice(_Strict):
    value: str
    labels: Labels


class FieldSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["text", "date", "choice", "number"]
    labels: Labels
    required: bool = False
    max_length: int = Field(default=500, ge=1, le=10000)
    choices: tuple[Choice, ...] = ()

    def clean(self, raw: object, lang: str | None = None) -> tuple[object, str | None]:
        """The value to store and, if it is not acceptable, the reason (untranslated key)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, ("required" if self.required else None)
        if self.type == "text":
            value = str(raw).strip()
            if len(value) > self.max_length:
                return value, "too_long"
            return value, None
        if self.type == "date":
            try:
                return date.fromisoformat(str(raw).strip()).isoformat(), None
            except ValueError:
                return raw, "bad_date"
        if self.type == "number":
            try:
                value = float(raw)
            except (TypeError, ValueError):
                return raw, "bad_number"
            # NaN and infinities are not JSON; PostgreSQL would refuse to store them.
            return (value, None) if math.isfinite(value) else (str(raw), "bad_number")
        value = str(raw).strip()
        if value not in {c.value for c in self.choices}:
            return value, "bad_choice"
        return value, None


class Transition(_Strict):
    trigger: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    sources: tuple[str, ...] = Field(min_length=1)
    dest: str
    roles: tuple[str, ...] = Field(min_length=1)
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    comment: Literal["none", "optional", "required"] = "none"
    # What the comment box is called when "Comment" says too little (e.g. "Reason").
    comment_labels: Labels | None = None
    fields: tuple[FieldSpec, ...] = ()
    # Who hears of it; without a list, the owners of the destination state.
    notify: tuple[str, ...] | None = None
    style: Literal["primary", "secondary", "danger"] = "secondary"
    # "all": every role in `roles` must approve (in any order) before the case moves; each
    # approval before the last is recorded and keeps the state. "any": one actor suffices.
    approval: Literal["any", "all"] = "any"
    # What the user reads once it is done: a sentence, not the button's label.
    done: Labels | None = None
    # A data form (its key) whose fields the actor gives reasons for, one per field
    # ("returned: population does not match the census"); at least one is required.
    form_reasons: str | None = None

    @property
    def needs_form(self) -> bool:
        return self.comment != "none" or bool(self.fields) or self.form_reasons is not None


class RoleSpec(_Strict):
    """A role a definition declares. `case`: named on each case (e.g. through the API);
    `region`: held by a campaign member over every unit inside the member's region (the
    camat's office over the pekon of its kecamatan)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    assignment: Literal["case", "region"]
    # May be held for a while by an acting official (Plt./Plh./Pj.).
    delegable: bool = True


class Activity(_Strict):
    """An action inside a state that does not move the case (report progress on a
    milestone, verify it, extend a deadline). It goes through perform() like a transition:
    roles, input checks, audit event, notifications, one commit; its handler (registered by
    name, like guards) validates and applies the change."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    states: tuple[str, ...] = Field(min_length=1)
    roles: tuple[str, ...] = Field(min_length=1)
    # "case": a button on the case page; "milestone": offered per milestone.
    # "page": offered on its own page (assessment, cohort groups), not as a button.
    scope: Literal["case", "milestone", "page"] = "milestone"
    comment: Literal["none", "optional", "required"] = "none"
    comment_labels: Labels | None = None
    fields: tuple[FieldSpec, ...] = ()
    notify: tuple[str, ...] = ()
    style: Literal["primary", "secondary", "danger"] = "secondary"
    done: Labels | None = None

    @property
    def trigger(self) -> str:
        return self.key

    @property
    def needs_form(self) -> bool:
        return self.comment != "none" or bool(self.fields)


class MilestoneRules(_Strict):
    """Deadlines of a milestone once reported or returned, in working days."""

    verify_within: int = Field(default=3, ge=1, le=60)
    fix_within: int = Field(default=5, ge=1, le=60)


class FollowUpRules(_Strict):
    """After a passed result: at each horizon (months after the case entered `state`) the
    alumnus reports on the milestones of `terms`, and the confirmer confirms or returns.
    Deadlines in working days: the alumnus's after a horizon and after a return, the
    confirmer's after a report."""

    state: str
    terms: tuple[Literal["short", "medium", "long"], ...] = Field(
        default=("medium", "long"), min_length=1
    )
    horizons: tuple[int, ...] = Field(default=(6, 12, 24), min_length=1)
    report_within: int = Field(default=20, ge=1, le=120)
    confirm_within: int = Field(default=10, ge=1, le=120)
    fix_within: int = Field(default=10, ge=1, le=120)

    @field_validator("horizons")
    @classmethod
    def _increasing(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= h <= 120 for h in v):
            raise ValueError("each horizon is a number of months from 1 to 120")
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("horizons must be given in increasing order, each once")
        return v

    @field_validator("terms")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a term is named twice")
        return v


# The activities the follow-up needs (handlers: workflow/services/followup.py).
FOLLOW_UP_ACTIVITIES = ("report_follow_up", "confirm_follow_up", "return_follow_up")


class StateMove(_Strict):
    """Where a case in an old version's state goes, and the guards that must pass first."""

    to: str
    guards: tuple[str, ...] = ()


class Migration(_Strict):
    """How cases running on the previous version move to this one: every state of that
    version mapped to a state of this one (`old: new` or `old: {to: new, guards: [...]}`)."""

    version: int = Field(ge=1)
    states: dict[str, StateMove]

    @field_validator("states", mode="before")
    @classmethod
    def _short_form(cls, v):
        if isinstance(v, dict):
            return {k: {"to": m} if isinstance(m, str) else m for k, m in v.items()}
        return v


class Definition(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    labels: Labels
    # What a case is about: a trainee in a cohort, or one region unit of a campaign.
    subject: Literal["participant", "region_unit"] = "participant"
    # region_unit: the level of the units its campaigns cover.
    unit_level: Literal["province", "regency", "district", "village"] | None = None
    # Roles of its own (a participant's case also has the built-in ROLES).
    roles: tuple[RoleSpec, ...] = ()
    forms: tuple[FormSpec, ...] = ()
    initial: str
    phases: tuple[Phase, ...] = Field(min_length=1)
    states: tuple[State, ...] = Field(min_length=1)
    transitions: tuple[Transition, ...] = Field(min_length=1)
    # The evaluation rubric (state_machines/rubrics/<key>.yaml) this workflow scores on.
    rubric: str | None = None
    activities: tuple[Activity, ...] = ()
    milestones: MilestoneRules = MilestoneRules()
    # Follow-up of a passed case's medium- and long-term milestones (none: not followed up).
    follow_up: FollowUpRules | None = None
    # What this programme calls a role (the executive is the "sponsor" in PKN II).
    role_labels: dict[str, Labels] = {}
    migrates_from: Migration | None = None
    source: str = ""

    _states: dict[str, State] = PrivateAttr()
    _phases: dict[str, Phase] = PrivateAttr()
    _by_source: dict[tuple[str, str], list[Transition]] = PrivateAttr()
    _activities: dict[str, Activity] = PrivateAttr()
    _roles: dict[str, RoleSpec] = PrivateAttr()
    _rubric: Rubric | None = PrivateAttr(default=None)

    # Derived lookups, built once after validation.
    def model_post_init(self, _ctx) -> None:
        self._states = {s.key: s for s in self.states}
        self._phases = {p.key: p for p in self.phases}
        self._by_source = {}
        self._activities = {a.key: a for a in self.activities}
        self._roles = {r.key: r for r in self.roles}
        for t in self.transitions:
            for s in t.sources:
                self._by_source.setdefault((s, t.trigger), []).append(t)

    @property
    def scoring(self) -> Rubric | None:
        """The rubric, attached when the definition is loaded with its rubrics."""
        return self._rubric

    @property
    def triggers(self) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.transitions))

    def state(self, key: str) -> State:
        return self._states[key]

    def has_state(self, key: str) -> bool:
        return key in self._states

    def phase(self, key: str) -> Phase:
        return self._phases[key]

    def candidates(self, state: str, trigger: str) -> list[Transition]:
        return self._by_source.get((state, trigger), [])

    def activity(self, key: str) -> Activity | None:
        return self._activities.get(key)

    def activities_in(self, state: str, scope: str | None = None) -> list[Activity]:
        return [
            a for a in self.activities if state in a.states and (scope is None or a.scope == scope)
        ]

    def labels_of(self, trigger: str) -> Labels | None:
        """The label of a trigger or activity (for timelines and notifications)."""
        if trigger in self._activities:
            return self._activities[trigger].labels
        for t in self.transitions:
            if t.trigger == trigger:
                return t.labels
        return None

    def fields_of(self, trigger: str) -> dict[str, FieldSpec]:
        if trigger in self._activities:
            return {f.name: f for f in self._activities[trigger].fields}
        return {f.name: f for t in self.transitions if t.trigger == trigger for f in t.fields}

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def states_owned_by(self, role: str) -> list[str]:
        return [s.key for s in self.states if role in s.owners]

    @property
    def terminal_states(self) -> list[str]:
        return [s.key for s in self.states if s.terminal]

    def role_label(self, role: str, lang: str | None) -> str | None:
        """The programme's own name for a role, if it has one."""
        labels = self.role_labels.get(role)
        if labels is None and role in self._roles:
            labels = self._roles[role].labels
        return labels.get(lang) if labels else None

    @property
    def role_keys(self) -> tuple[str, ...]:
        """Every role that may own a state or act here."""
        builtin = ROLES if self.subject == "participant" else ()
        return builtin + tuple(r.key for r in self.roles)

    def role_spec(self, key: str) -> RoleSpec | None:
        return self._roles.get(key)

    def form(self, key: str) -> FormSpec | None:
        return next((f for f in self.forms if f.key == key), None)


def _fail(source: str, item: str, message: str) -> DefinitionError:
    return DefinitionError(f"{source}: {item}: {message}")


def _check_semantics(
    d: Definition,
    known_guards: set[str],
    known_effects: set[str],
    known_activities: set[str] | None = None,
) -> None:
    src = d.source
    known_roles = d.role_keys
    _check_roles_and_forms(d)
    state_keys = [s.key for s in d.states]
    for key in {k for k in state_keys if state_keys.count(k) > 1}:
        raise _fail(src, f"states.{key}", "state declared twice")
    phase_keys = {p.key for p in d.phases}
    if d.initial not in state_keys:
        raise _fail(src, "initial", f"unknown state {d.initial!r}")
    for s in d.states:
        if s.phase not in phase_keys:
            raise _fail(src, f"states.{s.key}.phase", f"unknown phase {s.phase!r}")
        for role in s.owners:
            if role not in known_roles:
                raise _fail(src, f"states.{s.key}.owners", f"unknown role {role!r}")
        if not s.terminal and not s.owners:
            raise _fail(src, f"states.{s.key}.owners", "a non-terminal state needs an owner")
    for i, t in enumerate(d.transitions):
        item = f"transitions[{i}] ({t.trigger})"
        for s in (*t.sources, t.dest):
            if s not in state_keys:
                raise _fail(src, item, f"unknown state {s!r}")
        for role in (*t.roles, *(t.notify or ())):
            if role not in known_roles:
                raise _fail(src, item, f"unknown role {role!r}")
        for g in t.guards:
            if g not in known_guards:
                raise _fail(src, item, f"unknown guard {g!r}")
        for e in t.effects:
            if e not in known_effects:
                raise _fail(src, item, f"unknown effect {e!r}")
        for s in t.sources:
            if d.state(s).terminal:
                raise _fail(src, item, f"terminal state {s!r} cannot be a source")
        names = [f.name for f in t.fields]
        if len(names) != len(set(names)):
            raise _fail(src, item, "a field is declared twice")
        for f in t.fields:
            if f.type == "choice" and not f.choices:
                raise _fail(src, f"{item}.fields.{f.name}", "a choice field needs choices")
    for role in d.role_labels:
        if role not in known_roles:
            raise _fail(src, f"role_labels.{role}", f"unknown role {role!r}")
    for t in d.transitions:
        if t.approval == "all" and len(t.roles) < 2:
            raise _fail(src, f"transitions ({t.trigger})", "approval: all needs at least two roles")
    if d.migrates_from is not None:
        m = d.migrates_from
        if m.version >= d.version:
            raise _fail(src, "migrates_from.version", "must be an earlier version")
        for old, move in m.states.items():
            item = f"migrates_from.states.{old}"
            if move.to not in state_keys:
                raise _fail(src, item, f"unknown state {move.to!r}")
            for g in move.guards:
                if g not in known_guards:
                    raise _fail(src, item, f"unknown guard {g!r}")
    if d.follow_up is not None:
        _check_follow_up(d)
    triggers = set(d.triggers)
    seen_keys: set[str] = set()
    for i, a in enumerate(d.activities):
        item = f"activities[{i}] ({a.key})"
        if a.key in seen_keys:
            raise _fail(src, item, "activity declared twice")
        seen_keys.add(a.key)
        if a.key in triggers:
            raise _fail(src, item, "an activity cannot share its key with a transition")
        if known_activities is not None and a.key not in known_activities:
            raise _fail(src, item, f"unknown activity {a.key!r} (no handler registered)")
        follow_up_state = d.follow_up.state if d.follow_up is not None else None
        for s in a.states:
            if s not in state_keys:
                raise _fail(src, item, f"unknown state {s!r}")
            # A closed case is only followed up: the follow-up's own state admits activities.
            if d.state(s).terminal and s != follow_up_state:
                raise _fail(src, item, f"terminal state {s!r} admits no activity")
        for role in (*a.roles, *a.notify):
            if role not in known_roles:
                raise _fail(src, item, f"unknown role {role!r}")
        names = [f.name for f in a.fields]
        if len(names) != len(set(names)):
            raise _fail(src, item, "a field is declared twice")
    # Two transitions for one trigger and source must be told apart by their guards.
    for (source, trigger), ts in d._by_source.items():
        guard_sets = [frozenset(t.guards) for t in ts]
        # An unguarded one among several would always win and leave the others unreachable.
        unguarded = len(ts) > 1 and not all(guard_sets)
        if unguarded or len(set(guard_sets)) != len(guard_sets):
            raise _fail(
                src,
                f"transitions ({trigger} from {source})",
                "two transitions for the same trigger and source without distinguishing guards",
            )
    # Every state reachable from the initial one.
    seen, queue = {d.initial}, deque([d.initial])
    while queue:
        for t in d.transitions_from(queue.popleft()):
            if t.dest not in seen:
                seen.add(t.dest)
                queue.append(t.dest)
    for key in state_keys:
        if key not in seen:
            raise _fail(src, f"states.{key}", "unreachable from the initial state")
    for s in d.states:
        if not s.terminal and not d.transitions_from(s.key):
            raise _fail(src, f"states.{s.key}", "non-terminal state with no way out (dead end)")


def _check_roles_and_forms(d: Definition) -> None:
    src = d.source
    keys = [r.key for r in d.roles]
    for key in keys:
        if keys.count(key) > 1:
            raise _fail(src, f"roles.{key}", "role declared twice")
        if key in BUILTIN_ROLES:
            raise _fail(src, f"roles.{key}", "a built-in role of aksi perubahan cases")
    if d.subject == "region_unit":
        if d.unit_level is None:
            raise _fail(src, "unit_level", "a region_unit definition names its units' level")
        if not d.roles:
            raise _fail(src, "roles", "a region_unit definition declares its roles")
        if d.follow_up is not None or d.rubric is not None:
            raise _fail(src, "subject", "follow-up and rubric are for participant cases")
    elif d.unit_level is not None:
        raise _fail(src, "unit_level", "only for subject: region_unit")
    dates = CAMPAIGN_DATES if d.subject == "region_unit" else COHORT_DATES
    for s in d.states:
        if s.sla is not None and s.sla.until is not None and s.sla.until not in dates:
            raise _fail(
                src, f"states.{s.key}.sla.until", f"use one of {', '.join(dates)} for this subject"
            )
    state_keys = {s.key for s in d.states}
    form_keys = [f.key for f in d.forms]
    for f in d.forms:
        item = f"forms.{f.key}"
        if form_keys.count(f.key) > 1:
            raise _fail(src, item, "form declared twice")
        for role in f.editors:
            if role not in d.role_keys:
                raise _fail(src, f"{item}.editors", f"unknown role {role!r}")
        for s in f.editable_in:
            if s not in state_keys:
                raise _fail(src, f"{item}.editable_in", f"unknown state {s!r}")
    for t in d.transitions:
        if t.form_reasons is not None and t.form_reasons not in form_keys:
            raise _fail(src, f"transitions ({t.trigger})", f"unknown form {t.form_reasons!r}")


def _check_follow_up(d: Definition) -> None:
    f, src = d.follow_up, d.source
    if not d.has_state(f.state):
        raise _fail(src, "follow_up.state", f"unknown state {f.state!r}")
    if not d.state(f.state).terminal:
        raise _fail(src, "follow_up.state", f"{f.state!r} is not terminal: follow a closed case")
    for key in FOLLOW_UP_ACTIVITIES:
        a = next((a for a in d.activities if a.key == key), None)
        if a is None:
            raise _fail(src, "follow_up", f"needs the activity {key!r}")
        if f.state not in a.states:
            raise _fail(src, f"activities ({key})", f"must be offered in {f.state!r}")
    if next(a for a in d.activities if a.key == "report_follow_up").roles != ("trainee",):
        raise _fail(
            src, "activities (report_follow_up)", "only the trainee reports: roles [trainee]"
        )


def _item(raw: dict, loc: tuple) -> str:
    """A pydantic location named as a reviewer reads the file: states.<key>,
    transitions[i] (<trigger>), fields.<name> rather than bare list indexes."""
    parts: list[str] = []
    node: object = raw
    for i, step in enumerate(loc):
        child = None
        if isinstance(node, dict):
            child = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            child = node[step]
        if isinstance(step, int) and isinstance(child, dict):
            name = child.get("key") or child.get("name")
            prev = loc[i - 1] if i else None
            if prev == "transitions":
                parts[-1] += f"[{step}] ({child.get('trigger', '?')})"
            elif name is not None:
                parts.append(str(name))
            else:
                parts[-1] += f"[{step}]"
        elif isinstance(step, int) and parts:
            parts[-1] += f"[{step}]"
        else:
            parts.append(str(step))
        node = child
    return ".".join(parts) or "(top level)"


def load_definition(
    path: str | Path,
    known_guards: set[str] | None = None,
    known_effects: set[str] | None = None,
    known_activities: set[str] | None = None,
    rubrics: dict[str, Rubric] | None = None,
) -> Definition:
    from .activities import registered_activities
    from .guards import EFFECTS, GUARDS

    path = Path(path)
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{source}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: the file must hold a mapping")
    try:
        definition = Definition.model_validate({**raw, "source": source})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DefinitionError(f"{source}: {_item(raw, err['loc'])}: {err['msg']}") from exc
    _check_semantics(
        definition,
        set(GUARDS) if known_guards is None else known_guards,
        set(EFFECTS) if known_effects is None else known_effects,
        registered_activities() if known_activities is None else known_activities,
    )
    if definition.rubric is not None:
        if rubrics is None:
            from .rubrics import load_rubrics

            home = path.parent.parent if path.parent.name == "versions" else path.parent
            rubrics = load_rubrics(home / "rubrics")
        rubric = rubrics.get(definition.rubric)
        if rubric is None:
            raise _fail(source, "rubric", f"unknown rubric {definition.rubric!r}")
        from .rubrics import rubric_problems

        problems = rubric_problems(rubric, definition)
        if problems:
            raise _fail(source, "rubric", problems[0])
        definition._rubric = rubric
    return definition


def definition_files(directory: str | Path) -> list[Path]:
    """The current definitions, and under versions/ the earlier ones that cases still run on."""
    directory = Path(directory)
    return sorted(directory.glob("*.yaml")) + sorted((directory / "versions").glob("*.yaml"))


def load_directory(directory: str | Path) -> list[Definition]:
    """Every definition in `directory` (and its versions/), with the rubrics of
    `directory`/rubrics."""
    from .rubrics import load_rubrics

    rubrics = load_rubrics(Path(directory) / "rubrics")
    definitions = [load_definition(p, rubrics=rubrics) for p in definition_files(directory)]
    seen: dict[tuple[str, int], str] = {}
    for d in definitions:
        if (d.key, d.version) in seen:
            raise DefinitionError(
                f"{d.source}: key/version {d.key} v{d.version} already defined in "
                f"{seen[(d.key, d.version)]}"
            )
        seen[(d.key, d.version)] = d.source
    by_version = {(d.key, d.version): d for d in definitions}
    for d in definitions:
        if d.migrates_from is not None:
            check_migration(d, by_version.get((d.key, d.migrates_from.version)))
    return definitions


def check_migration(d: Definition, previous: Definition | None) -> None:
    """Every state of the previous version is mapped, and only its states."""
    m = d.migrates_from
    if previous is None:
        raise _fail(d.source, "migrates_from.version", f"{d.key} v{m.version} is not loaded")
    for key in m.states:
        if not previous.has_state(key):
            raise _fail(
                d.source, f"migrates_from.states.{key}", f"no state {key!r} in v{m.version}"
            )
    for s in previous.states:
        if s.key not in m.states:
            raise _fail(
                d.source, f"migrates_from.states.{s.key}", f"state of v{m.version} left unmapped"
            )
