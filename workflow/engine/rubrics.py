"""Evaluation rubrics (state_machines/rubrics/*.yaml): components (e.g. aksi perubahan,
sikap perilaku), each with its weight and its aspects (description, the role that scores
it, weight), the scale, the predicate bands with the pass rule, and the milestone ratings.
Validated at start-up like the workflow definitions; a definition names its rubric.

Weights are points of the final score: the components sum to 100 and the aspects of a
component sum to the component's weight. A rubric that lists `aspects` without
`components` (version 1) is one implicit component of weight 100.

The pass rule is the bands': each band says whether it passes, so the predicate and the
pass never disagree; the passing bands are the highest ones."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .definitions import DefinitionError, Labels
from .definitions import _item as item_name

# The panel of the seminars (penguji, coach, mentor): who signs the scores documents.
EVALUATOR_ROLES = ("examiner", "coach", "mentor")
# Every role that may score an aspect, in the order sheets are listed.
SCORING_ROLES = (*EVALUATOR_ROLES, "organizer")
# The component a rubric without components is read as.
IMPLICIT_COMPONENT = "aksi_perubahan"

KEY = r"^[a-z][a-z0-9_]*$"
EPSILON = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    # A total above this (exclusive) is in the band; null for the lowest band.
    above: float | None
    passed: bool
    labels: Labels


class Aspect(_Strict):
    key: str = Field(pattern=KEY)
    labels: Labels
    description: Labels
    role: Literal["examiner", "coach", "mentor", "organizer"]
    # Points of the final score.
    weight: float = Field(gt=0, le=100)


class Component(_Strict):
    key: str = Field(pattern=KEY)
    labels: Labels
    description: Labels | None = None
    weight: float = Field(gt=0, le=100)
    aspects: tuple[Aspect, ...] = Field(min_length=1)
    # The case states in which its sheets can be written; none: wherever the definition's
    # submit_scores activity is available.
    states: tuple[str, ...] | None = Field(default=None, min_length=1)
    # Its sheets rate each short-term milestone against its target.
    rates_milestones: bool = True
    # Returning the report reopens its submitted sheets (it assesses the report).
    reopened_on_return: bool = True

    @model_validator(mode="after")
    def _aspects_fill_the_weight(self) -> Component:
        total = sum(a.weight for a in self.aspects)
        if abs(total - self.weight) > EPSILON:
            raise ValueError(
                f"aspect weights must sum to {self.weight:g}, the component's weight "
                f"(they sum to {total:g})"
            )
        return self


class Rating(_Strict):
    key: str = Field(pattern=KEY)
    labels: Labels


class Scale(_Strict):
    min: float = 0
    max: float = 100


class Rubric(_Strict):
    key: str = Field(pattern=KEY)
    labels: Labels
    scale: Scale = Scale()
    bands: tuple[Band, ...] = Field(min_length=1)
    components: tuple[Component, ...] = Field(min_length=1)
    # How each short-term milestone is rated against its target, lowest first.
    milestone_ratings: tuple[Rating, ...] = Field(min_length=1)
    source: str = ""

    _aspects: dict[str, Aspect] = PrivateAttr()
    _by_role: dict[str, Component] = PrivateAttr()

    def model_post_init(self, _ctx) -> None:
        self._aspects = {a.key: a for c in self.components for a in c.aspects}
        self._by_role = {a.role: c for c in self.components for a in c.aspects}

    @model_validator(mode="before")
    @classmethod
    def _implicit_component(cls, data):
        """Version 1: top-level `aspects` are one component of weight 100."""
        if not isinstance(data, dict):
            return data
        if "pass_mark" in data:
            raise ValueError(
                "pass_mark: the pass follows the bands: give each band passed: true or false"
            )
        if "aspects" in data:
            if "components" in data:
                raise ValueError("give either components or aspects, not both")
            data = dict(data)
            data["components"] = [
                {
                    "key": IMPLICIT_COMPONENT,
                    "labels": data.get("labels"),
                    "weight": 100,
                    "aspects": data.pop("aspects"),
                }
            ]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        if not self.scale.min < self.scale.max:
            raise ValueError("scale: min must be below max")
        limits = [b.above for b in self.bands]
        if limits[-1] is not None or None in limits[:-1]:
            raise ValueError("bands: only the last band, and the last band only, has above: null")
        if any(a <= b for a, b in zip(limits[:-2], limits[1:-1], strict=True)):
            raise ValueError("bands must go from the highest 'above' to the lowest")
        if any(not self.scale.min <= a < self.scale.max for a in limits[:-1]):
            raise ValueError("bands: each 'above' must lie on the scale, below its maximum")
        self._check_pass_rule()
        keys = [c.key for c in self.components]
        if len(set(keys)) != len(keys):
            raise ValueError("components: each key once")
        total = sum(c.weight for c in self.components)
        if abs(total - 100) > EPSILON:
            raise ValueError(f"component weights must sum to 100 (they sum to {total:g})")
        keys = [a.key for c in self.components for a in c.aspects]
        if len(set(keys)) != len(keys):
            raise ValueError("aspects: each key once in the rubric")
        # One sheet per role and case: a role scores in one component only.
        seen: dict[str, str] = {}
        for c in self.components:
            for a in c.aspects:
                if seen.setdefault(a.role, c.key) != c.key:
                    raise ValueError(
                        f"components: role {a.role} scores in {seen[a.role]} and in {c.key}; "
                        "a role scores in one component only"
                    )
        ratings = [r.key for r in self.milestone_ratings]
        if len(set(ratings)) != len(ratings):
            raise ValueError("milestone_ratings: each key once")
        return self

    def _check_pass_rule(self) -> None:
        """The passing bands are the highest ones, and the lowest band fails: then the pass
        mark is one number (the lower bound of the lowest passing band)."""
        if not self.bands[0].passed:
            raise ValueError("bands: the highest band must pass (passed: true)")
        if self.bands[-1].passed:
            raise ValueError("bands: the lowest band (above: null) must fail (passed: false)")
        for higher, lower in zip(self.bands, self.bands[1:], strict=False):
            if lower.passed and not higher.passed:
                raise ValueError(
                    f"bands: {lower.labels.id!r} passes but {higher.labels.id!r} above it "
                    "does not; the passing bands must be the highest ones"
                )

    # ------------------------------------------------------------ components and roles

    @property
    def aspects(self) -> tuple[Aspect, ...]:
        """Every aspect, component after component."""
        return tuple(self._aspects.values())

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles with aspects, in the canonical order."""
        return tuple(r for r in SCORING_ROLES if r in self._by_role)

    @property
    def weights(self) -> dict[str, float]:
        """Each role's share of the total (examiner 35, coach 20, mentor 15, organizer 30)."""
        return {r: sum(a.weight for a in self.aspects if a.role == r) for r in self.roles}

    @property
    def has_components(self) -> bool:
        """More than one component: worth showing the breakdown."""
        return len(self.components) > 1

    def component(self, key: str) -> Component | None:
        return next((c for c in self.components if c.key == key), None)

    def component_of(self, role: str) -> Component | None:
        return self._by_role.get(role)

    def roles_of(self, component: Component) -> tuple[str, ...]:
        present = {a.role for a in component.aspects}
        return tuple(r for r in SCORING_ROLES if r in present)

    def aspect(self, key: str) -> Aspect | None:
        return self._aspects.get(key)

    def aspects_for(self, role: str) -> list[Aspect]:
        return [a for a in self.aspects if a.role == role]

    def rates_milestones(self, role: str) -> bool:
        component = self.component_of(role)
        return component is not None and component.rates_milestones

    def open_for(self, role: str, state: str) -> bool:
        """May the role's sheet be written in `state` (as far as the rubric says)?"""
        component = self.component_of(role)
        return component is not None and (component.states is None or state in component.states)

    # ------------------------------------------------------------ ratings and scale

    def rating_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.milestone_ratings)

    def rating_labels(self, key: str) -> Labels | None:
        return next((r.labels for r in self.milestone_ratings if r.key == key), None)

    def on_scale(self, value: float) -> bool:
        return self.scale.min <= value <= self.scale.max

    # ------------------------------------------------------------ the arithmetic

    def contribution(self, values: dict[str, float]) -> float:
        """Weighted points of the given aspect scores (value × weight / 100)."""
        return sum(values[k] * self._aspects[k].weight for k in values) / 100

    def total(self, values: dict[str, float]) -> float | None:
        """The weighted total over every aspect, or None while any is missing."""
        if any(a.key not in values or values[a.key] is None for a in self.aspects):
            return None
        return round(self.contribution(values), 2)

    # ------------------------------------------------------------ bands and the pass

    def band(self, score: float) -> Band:
        for band in self.bands:
            if band.above is None or score > band.above:
                return band
        return self.bands[-1]

    def predicate(self, score: float) -> Labels:
        return self.band(score).labels

    def passed(self, total: float) -> bool:
        """From the total's band: "Lulus" never stands beside a failing predicate."""
        return self.band(total).passed

    @property
    def lowest_passing_band(self) -> Band:
        return [b for b in self.bands if b.passed][-1]

    @property
    def pass_mark(self) -> float:
        """A total passes when ABOVE this: the lower bound of the lowest passing band."""
        return self.lowest_passing_band.above


def rubric_problems(rubric: Rubric, definition) -> list[str]:
    """What does not fit between a rubric and the definition that names it: a role that
    scores but may not submit, a component open in a state the definition lacks or where
    submit_scores is not available. For the definition loader (start-up)."""
    spec = definition.activity("submit_scores")
    if spec is None:
        return ["rubric: the definition has no submit_scores activity"]
    problems = []
    for role in rubric.roles:
        if role not in spec.roles:
            problems.append(f"rubric {rubric.key}: role {role} scores but submit_scores omits it")
    for c in rubric.components:
        for state in c.states or ():
            if state not in spec.states:
                problems.append(
                    f"rubric {rubric.key}: components.{c.key}.states: {state!r} is not a "
                    "state of submit_scores"
                )
    return problems


def _location(raw: dict, loc: tuple) -> str:
    # A version 1 rubric's aspects live in the implicit component: name them as written.
    if "components" not in raw and tuple(loc[:2]) == ("components", 0):
        loc = ("aspects", *loc[3:]) if loc[2:3] == ("aspects",) else ()
    return item_name(raw, loc)


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{source}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: the file must hold a mapping")
    try:
        return Rubric.model_validate({**raw, "source": source})
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        raise DefinitionError(f"{source}: {_location(raw, err['loc'])}: {message}") from exc


def load_rubrics(directory: str | Path) -> dict[str, Rubric]:
    rubrics: dict[str, Rubric] = {}
    for p in sorted(Path(directory).glob("*.yaml")):
        rubric = load_rubric(p)
        if rubric.key in rubrics:
            raise DefinitionError(
                f"{rubric.source}: rubric {rubric.key} already defined in "
                f"{rubrics[rubric.key].source}"
            )
        rubrics[rubric.key] = rubric
    return rubrics
