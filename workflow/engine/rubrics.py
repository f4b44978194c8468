"""Evaluation rubrics (state_machines/rubrics/*.yaml): aspects with descriptions, who
scores each, weights, the scale, predicate bands and the pass mark. Validated at
start-up like the workflow definitions; a definition names its rubric."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .definitions import DefinitionError, Labels
from .definitions import _item as item_name

EVALUATOR_ROLES = ("examiner", "coach", "mentor")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    above: float | None
    labels: Labels


class Aspect(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    description: Labels
    role: Literal["examiner", "coach", "mentor"]
    weight: float = Field(gt=0, le=100)


class Rating(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels


class Scale(_Strict):
    min: float = 0
    max: float = 100


class Rubric(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    scale: Scale = Scale()
    pass_mark: float
    bands: tuple[Band, ...] = Field(min_length=1)
    aspects: tuple[Aspect, ...] = Field(min_length=1)
    # How each short-term milestone is rated against its target, lowest first.
    milestone_ratings: tuple[Rating, ...] = Field(min_length=1)
    source: str = ""

    _aspects: dict[str, Aspect] = PrivateAttr()

    def model_post_init(self, _ctx) -> None:
        self._aspects = {a.key: a for a in self.aspects}

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        if not self.scale.min < self.scale.max:
            raise ValueError("scale: min must be below max")
        if not self.scale.min <= self.pass_mark <= self.scale.max:
            raise ValueError("pass_mark must lie on the scale")
        limits = [b.above for b in self.bands]
        if limits[-1] is not None or None in limits[:-1]:
            raise ValueError("bands: only the last band, and the last band only, has above: null")
        if any(a <= b for a, b in zip(limits[:-2], limits[1:-1], strict=True)):
            raise ValueError("bands must go from the highest 'above' to the lowest")
        keys = [a.key for a in self.aspects]
        if len(set(keys)) != len(keys):
            raise ValueError("aspects: each key once")
        ratings = [r.key for r in self.milestone_ratings]
        if len(set(ratings)) != len(ratings):
            raise ValueError("milestone_ratings: each key once")
        total = sum(a.weight for a in self.aspects)
        if abs(total - 100) > 1e-9:
            raise ValueError(f"aspect weights must sum to 100 (they sum to {total:g})")
        return self

    @property
    def roles(self) -> tuple[str, ...]:
        """The evaluator roles with aspects, in the canonical order."""
        present = {a.role for a in self.aspects}
        return tuple(r for r in EVALUATOR_ROLES if r in present)

    @property
    def weights(self) -> dict[str, float]:
        """Each role's share of the total (examiner 50, coach 30, mentor 20)."""
        return {r: sum(a.weight for a in self.aspects if a.role == r) for r in self.roles}

    def aspect(self, key: str) -> Aspect | None:
        return self._aspects.get(key)

    def aspects_for(self, role: str) -> list[Aspect]:
        return [a for a in self.aspects if a.role == role]

    def rating_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.milestone_ratings)

    def rating_labels(self, key: str) -> Labels | None:
        return next((r.labels for r in self.milestone_ratings if r.key == key), None)

    def on_scale(self, value: float) -> bool:
        return self.scale.min <= value <= self.scale.max

    def contribution(self, values: dict[str, float]) -> float:
        """Weighted points of the given aspect scores (value × weight / 100)."""
        return sum(values[k] * self._aspects[k].weight for k in values) / 100

    def total(self, values: dict[str, float]) -> float | None:
        """The weighted total over every aspect, or None while any is missing."""
        if any(a.key not in values or values[a.key] is None for a in self.aspects):
            return None
        return round(self.contribution(values), 2)

    def passed(self, total: float) -> bool:
        return total >= self.pass_mark

    def predicate(self, score: float) -> Labels:
        for band in self.bands:
            if band.above is None or score > band.above:
                return band.labels
        return self.bands[-1].labels


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
        raise DefinitionError(f"{source}: {item_name(raw, err['loc'])}: {err['msg']}") from exc


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
