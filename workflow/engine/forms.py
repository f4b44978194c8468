"""Data forms a definition declares (e.g. the profil pekon): sections of typed fields with
their rules, in Indonesian and English. The schema only; filling, checking and storing a
form is workflow/services/forms.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .labels import Labels, _Strict

FIELD_TYPES = ("text", "textarea", "number", "choice", "date", "boolean", "rows")


class Choice(_Strict):
    value: str
    labels: Labels


class FormField(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["text", "textarea", "number", "choice", "date", "boolean", "rows"]
    labels: Labels
    help: Labels | None = None
    required: bool = False
    # text/textarea
    max_length: int = Field(default=500, ge=1, le=20000)
    # number: the unit shown beside the box (jiwa, ha, km) and the accepted range.
    unit: Labels | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    # choice
    choices: tuple[Choice, ...] = ()
    # rows: a table of small records (e.g. the pekon's BUMDes units), each with these fields.
    fields: tuple[FormField, ...] = ()
    min_rows: int = Field(default=0, ge=0, le=500)
    max_rows: int = Field(default=50, ge=1, le=500)

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"{self.name}: a choice field needs choices")
        if self.type == "rows":
            if not self.fields:
                raise ValueError(f"{self.name}: a rows field needs fields")
            if any(f.type == "rows" for f in self.fields):
                raise ValueError(f"{self.name}: rows cannot hold rows")
            if self.min_rows > self.max_rows:
                raise ValueError(f"{self.name}: min_rows is above max_rows")
        elif self.fields:
            raise ValueError(f"{self.name}: only a rows field has fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min is above max")
        return self


class Section(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    help: Labels | None = None
    fields: tuple[FormField, ...] = Field(min_length=1)


class Check(_Strict):
    """A rule across fields: sum(left) <op> sum(right) (or a number), e.g. households <=
    population, men + women == population. Checked only when every field named has a value
    (a missing one is reported by `required`)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    left: tuple[str, ...] = Field(min_length=1)
    op: Literal["<=", "<", ">=", ">", "=="]
    right: tuple[str, ...] | float
    # Shown beside the first field of `left`.
    message: Labels


class FormSpec(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    labels: Labels
    # Who fills it, and in which states of the case.
    editors: tuple[str, ...] = Field(min_length=1)
    editable_in: tuple[str, ...] = Field(min_length=1)
    sections: tuple[Section, ...] = Field(min_length=1)
    checks: tuple[Check, ...] = ()

    def all_fields(self) -> dict[str, FormField]:
        return {f.name: f for s in self.sections for f in s.fields}

    @model_validator(mode="after")
    def _names(self) -> FormSpec:
        names = [f.name for s in self.sections for f in s.fields]
        for name in {n for n in names if names.count(n) > 1}:
            raise ValueError(f"field {name!r} declared twice")
        keys = [s.key for s in self.sections]
        if len(keys) != len(set(keys)):
            raise ValueError("a section is declared twice")
        fields = self.all_fields()
        for c in self.checks:
            right = c.right if isinstance(c.right, tuple) else ()
            for name in (*c.left, *right):
                if name not in fields:
                    raise ValueError(f"check {c.key}: unknown field {name!r}")
                if fields[name].type != "number":
                    raise ValueError(f"check {c.key}: {name!r} is not a number field")
        return self
