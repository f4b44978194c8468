"""The building blocks every definition schema shares (kept apart so the form schema can
use them without importing the definitions module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(_Strict):
    id: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str | None) -> str:
        return self.en if lang == "en" else self.id
