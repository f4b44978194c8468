"""Pure decisions over a definition, and one transitions.Machine per definition version."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from transitions import Machine

from .definitions import Definition, Transition


class Outcome(enum.Enum):
    OK = "ok"
    FORBIDDEN = "forbidden"
    NOT_AVAILABLE = "not_available"


def evaluate(definition: Definition, state: str, trigger: str, roles: set[str]) -> Outcome:
    """May someone holding `roles` fire `trigger` from `state`? Guards aside."""
    candidates = definition.candidates(state, trigger)
    if not candidates:
        return Outcome.NOT_AVAILABLE
    if not any(roles & set(t.roles) for t in candidates):
        return Outcome.FORBIDDEN
    return Outcome.OK


def approval_step(
    transition: Transition, approved: set[str], roles: set[str]
) -> tuple[set[str], set[str]]:
    """For an `approval: all` transition: the roles an actor holding `roles` approves now
    (those not yet approved) and the roles still awaited after that. The case moves when
    nothing is awaited; an empty first set means this actor has nothing left to approve."""
    required = set(transition.roles)
    mine = (roles & required) - approved
    return mine, required - approved - mine


@dataclass
class _Token:
    """What the machine moves: a state and the transition chosen by the guards."""

    state: str
    chosen: Transition | None = None


def _is_chosen(transition: Transition):
    def condition(event) -> bool:
        return event.model.chosen is transition

    return condition


class CompiledMachine:
    """Built once per definition version (model=None): never per case or request."""

    def __init__(self, definition: Definition):
        self.definition = definition
        self.machine = Machine(
            model=None,
            states=[s.key for s in definition.states],
            initial=definition.initial,
            auto_transitions=False,
            send_event=True,
        )
        for t in definition.transitions:
            self.machine.add_transition(
                t.trigger, list(t.sources), t.dest, conditions=[_is_chosen(t)]
            )

    def fire(self, state: str, transition: Transition) -> str:
        """Apply `transition` from `state` through the machine; returns the new state."""
        token = _Token(state=state, chosen=transition)
        if not self.machine.events[transition.trigger].trigger(token):
            raise RuntimeError(f"machine refused {transition.trigger} from {state}")
        return token.state
