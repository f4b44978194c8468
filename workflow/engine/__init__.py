"""The workflow engine: definitions as data, one state machine per definition version."""

from .definitions import Definition, DefinitionError, load_definition, load_directory
from .machine import Outcome, evaluate
from .registry import registry

__all__ = [
    "Definition",
    "DefinitionError",
    "Outcome",
    "evaluate",
    "load_definition",
    "load_directory",
    "registry",
]
