from __future__ import annotations

import os
from pathlib import Path

from .definitions import Definition, DefinitionError, load_directory
from .machine import CompiledMachine


class Registry:
    """Every loaded definition version with its compiled machine."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str, int], CompiledMachine] = {}
        self._assignments: dict[str, str] = {}
        self._delegable: tuple[str, ...] = ()
        self.directory: str | None = None

    def load(self, directory: str | Path) -> None:
        """Every definition of `directory`; several directories are joined with os.pathsep
        (an institution's own definitions beside the shipped ones)."""
        directory = str(directory)
        if self.directory == directory and self._machines:
            return
        machines: dict[tuple[str, int], CompiledMachine] = {}
        for part in filter(None, directory.split(os.pathsep)):
            definitions = load_directory(part)
            if not definitions:
                raise DefinitionError(f"{part}: no workflow definition (*.yaml) found")
            for d in definitions:
                if (d.key, d.version) in machines:
                    other = machines[(d.key, d.version)].definition.source
                    raise DefinitionError(
                        f"{d.source}: key/version {d.key} v{d.version} already defined in {other}"
                    )
                machines[(d.key, d.version)] = CompiledMachine(d)
        if not machines:
            raise DefinitionError(f"{directory}: no workflow definition (*.yaml) found")
        assignments: dict[str, str] = {}
        for m in machines.values():
            for r in m.definition.roles:
                if assignments.setdefault(r.key, r.assignment) != r.assignment:
                    raise DefinitionError(
                        f"{m.definition.source}: roles.{r.key}: declared elsewhere with "
                        f"assignment {assignments[r.key]!r}"
                    )
        self._assignments = assignments
        self._delegable = tuple(
            dict.fromkeys(
                r.key for m in machines.values() for r in m.definition.roles if r.delegable
            )
        )
        self._machines = machines
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

    def roles(self) -> tuple[str, ...]:
        """Every role any loaded definition knows (the built-in ones first)."""
        keys: dict[str, None] = {}
        for m in self._machines.values():
            keys.update(dict.fromkeys(m.definition.role_keys))
        return tuple(keys)

    def role_assignment(self, key: str) -> str | None:
        """How a declared role is held ("case" or "region"); None for another key."""
        return self._assignments.get(key)

    def delegable_roles(self) -> tuple[str, ...]:
        return self._delegable

    def all(self) -> list[Definition]:
        return [m.definition for m in self._machines.values()]


registry = Registry()
