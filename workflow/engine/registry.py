from __future__ import annotations

from pathlib import Path

from .definitions import Definition, DefinitionError, load_directory
from .machine import CompiledMachine


class Registry:
    """Every loaded definition version with its compiled machine."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str, int], CompiledMachine] = {}
        self.directory: str | None = None

    def load(self, directory: str | Path) -> None:
        directory = str(directory)
        if self.directory == directory and self._machines:
            return
        definitions = load_directory(directory)
        if not definitions:
            raise DefinitionError(f"{directory}: no workflow definition (*.yaml) found")
        self._machines = {(d.key, d.version): CompiledMachine(d) for d in definitions}
        self.directory = directory

    def machine(self, key: str, version: int) -> CompiledMachine:
        try:
            return self._machines[(key, version)]
        except KeyError:
            raise LookupError(f"no workflow definition {key} v{version} is loaded") from None

    def get(self, key: str, version: int) -> Definition:
        return self.machine(key, version).definition

    def latest(self, key: str) -> Definition:
        versions = [v for (k, v) in self._machines if k == key]
        if not versions:
            raise LookupError(f"no workflow definition {key} is loaded")
        return self.get(key, max(versions))

    def versions(self, key: str) -> list[int]:
        return sorted(v for (k, v) in self._machines if k == key)

    def all(self) -> list[Definition]:
        return [m.definition for m in self._machines.values()]


registry = Registry()
