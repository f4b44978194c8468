"""Each workflow definition drawn as a diagram: its states grouped by phase, its transitions
labelled with the action and who takes it. Drawn from the loaded Definition (never by hand)
with Graphviz through the `graphviz` package, as SVG; the same rows feed the textual table
and, when Graphviz is missing, the ordered list that replaces the picture.

An SVG is laid out once per (definition, language, highlighted state) and kept in memory:
definitions only change with a deploy.
"""

from __future__ import annotations

import pathlib
import textwrap
import threading
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import graphviz
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from graphviz.backend import dot_command

from ..engine import registry
from ..engine.definitions import Definition, Transition
from ..permissions import ROLE_LABELS

DEFAULT_DOT = "dot"
# A transition leaving this many states or more (withdraw) is drawn once, from one "any open
# step" node: eleven arrows into one state would hide the flow on a phone.
MANY_SOURCES = 4
WRAP = 24
# PostScript names: Graphviz writes them to SVG as a family with sans-serif fallback (and
# bold as font-weight), so phones without Helvetica still get a sans font.
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
CURRENT_FILL = "#fde68a"
TERMINAL_FILL = "#eef1f4"
PHASE_FILL = "#f7f9fb"

BOTH = _l("both")
ALL = _l("all")
ANY_OPEN_STEP = _l("From any open step")
END_OF_FLOW = _l("End of the flow")

# Elements and attributes a picture shown by <img> has no business carrying.
_ACTIVE_TAGS = {"script", "foreignObject", "iframe", "embed", "object"}
_SVG_NS = "{http://www.w3.org/2000/svg}"


class DiagramUnavailable(RuntimeError):
    """Graphviz is not installed (or failed): show the textual list instead."""


@dataclass(frozen=True)
class Step:
    """One transition as a reader follows it: from where, who acts, what, to where."""

    source: str | None  # None: from any open step (see MANY_SOURCES)
    source_label: str
    who: str
    action: str
    dest: str
    dest_label: str
    trigger: str


@dataclass(frozen=True)
class StateRow:
    key: str
    label: str
    phase: str
    terminal: bool
    initial: bool
    steps: tuple[Step, ...]


def role_name(definition: Definition, role: str, lang: str) -> str:
    """The programme's own name for the role, else the generic one (in `lang`)."""
    own = definition.role_label(role, lang)
    if own:
        return own
    with force_locale(lang):
        return str(ROLE_LABELS.get(role, role))


def who_acts(definition: Definition, transition: Transition, lang: str) -> str:
    """ "Coach / Mentor" when one of them suffices; "Coach + Mentor (keduanya)" when each of
    them must sign (approval: all)."""
    names = [role_name(definition, r, lang) for r in transition.roles]
    if transition.approval != "all":
        return " / ".join(names)
    with force_locale(lang):
        together = str(BOTH if len(names) == 2 else ALL)
    return f"{' + '.join(names)} ({together})"


def _drawn_apart(definition: Definition, transition: Transition) -> bool:
    return len(transition.sources) >= MANY_SOURCES


def steps_of(definition: Definition, lang: str) -> list[StateRow]:
    """Every state in the definition's order with the transitions leaving it; the transitions
    that leave most states are kept apart (see any_open_steps)."""
    label = {s.key: s.labels.get(lang) for s in definition.states}
    rows = []
    for s in definition.states:
        steps = tuple(
            Step(
                source=s.key,
                source_label=label[s.key],
                who=who_acts(definition, t, lang),
                action=t.labels.get(lang),
                dest=t.dest,
                dest_label=label[t.dest],
                trigger=t.trigger,
            )
            for t in definition.transitions_from(s.key)
            if not _drawn_apart(definition, t)
        )
        rows.append(
            StateRow(
                key=s.key,
                label=label[s.key],
                phase=definition.phase(s.phase).labels.get(lang),
                terminal=s.terminal,
                initial=s.key == definition.initial,
                steps=steps,
            )
        )
    return rows


def any_open_steps(definition: Definition, lang: str) -> list[Step]:
    """The transitions taken from (almost) every open state, such as withdrawing."""
    with force_locale(lang):
        source_label = str(ANY_OPEN_STEP)
    return [
        Step(
            source=None,
            source_label=source_label,
            who=who_acts(definition, t, lang),
            action=t.labels.get(lang),
            dest=t.dest,
            dest_label=definition.state(t.dest).labels.get(lang),
            trigger=t.trigger,
        )
        for t in definition.transitions
        if _drawn_apart(definition, t)
    ]


def end_of_flow(lang: str) -> str:
    with force_locale(lang):
        return str(END_OF_FLOW)


# ------------------------------------------------------------------ drawing


def _plain(text: str, width: int = WRAP) -> str:
    """Label text for DOT: wrapped to a phone-friendly width; backslashes kept literal (the
    lines are joined with DOT's own \\n)."""
    lines = textwrap.wrap(text, width, break_long_words=False) or [""]
    return "\\n".join(line.replace("\\", "\\\\") for line in lines)


def _node_id(key: str) -> str:
    return f"s_{key}"


def _order(definition: Definition) -> dict[str, int]:
    """States in the order the file tells the flow. An edge back along it (a return, a
    resumption) must not pull its target down, or the layout grows sideways."""
    return {s.key: i for i, s in enumerate(definition.states)}


def build(definition: Definition, lang: str, highlight: str | None = None) -> graphviz.Digraph:
    """The DOT graph: one cluster per phase, a node per state, an edge per transition."""
    graph = graphviz.Digraph(
        name=definition.key,
        graph_attr={
            "rankdir": "TB",
            "fontname": FONT,
            "fontsize": "12",
            "nodesep": "0.3",
            "ranksep": "0.4",
            "bgcolor": "white",
            "pad": "0.2",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "fontname": FONT,
            "fontsize": "12",
            "margin": "0.15,0.08",
        },
        edge_attr={"fontname": FONT, "fontsize": "10", "color": "#5b6776"},
    )
    # A start dot before the initial state.
    graph.node("start", label="", shape="circle", width="0.18", style="filled", fillcolor="black")
    for phase in definition.phases:
        states = [s for s in definition.states if s.phase == phase.key]
        if not states:
            continue
        with graph.subgraph(name=f"cluster_{phase.key}") as cluster:
            cluster.attr(
                label=graphviz.nohtml(_plain(phase.labels.get(lang), 2 * WRAP)),
                style="rounded,filled",
                fillcolor=PHASE_FILL,
                color="#dde3ea",
                fontcolor="#5b6776",
                labeljust="l",
            )
            for s in states:
                current = s.key == highlight
                attrs = {"id": f"state-{s.key}"}
                classes = ["state"]
                if s.terminal:
                    attrs.update(peripheries="2", fillcolor=TERMINAL_FILL)
                    classes.append("terminal")
                if current:
                    attrs.update(
                        fillcolor=CURRENT_FILL, penwidth="3", color="#92400e", fontname=BOLD
                    )
                    classes.append("current")
                attrs["class"] = " ".join(classes)
                label = graphviz.nohtml(_plain(s.labels.get(lang)))
                cluster.node(_node_id(s.key), label=label, **attrs)
    graph.edge("start", _node_id(definition.initial))
    order = _order(definition)
    for t in definition.transitions:
        if _drawn_apart(definition, t):
            continue
        label = graphviz.nohtml(
            _plain(t.labels.get(lang)) + "\\n" + _plain(who_acts(definition, t, lang))
        )
        for source in t.sources:
            attrs = {"id": f"t-{t.trigger}-{source}-{t.dest}", "class": "transition"}
            if source != t.dest and order[t.dest] < order[source]:
                attrs["constraint"] = "false"
            if t.approval == "all":
                attrs.update(penwidth="2", color="#0b5cad", fontcolor="#0b5cad")
            if t.style == "danger":
                attrs.update(style="dashed")
            graph.edge(_node_id(source), _node_id(t.dest), label=label, **attrs)
    apart = [t for t in definition.transitions if _drawn_apart(definition, t)]
    if apart:
        with force_locale(lang):
            any_label = str(ANY_OPEN_STEP)
        graph.node(
            "any_open",
            label=graphviz.nohtml(_plain(any_label)),
            shape="note",
            style="filled",
            fillcolor="white",
            fontcolor="#5b6776",
            id="any-open-step",
        )
        for t in apart:
            label = graphviz.nohtml(
                _plain(t.labels.get(lang)) + "\\n" + _plain(who_acts(definition, t, lang))
            )
            graph.edge(
                "any_open",
                _node_id(t.dest),
                label=label,
                style="dashed",
                id=f"t-{t.trigger}-any-{t.dest}",
                **{"class": "transition"},
            )
    return graph


_DOT_LOCK = threading.Lock()


@contextmanager
def _executable(dot: str):
    """Run the package with the configured `dot`. The package reads a module-level path at
    call time; renders are rare (cached), so swapping it under a lock costs nothing."""
    with _DOT_LOCK:
        saved = dot_command.DOT_BINARY
        dot_command.DOT_BINARY = pathlib.Path(dot)
        try:
            yield
        finally:
            dot_command.DOT_BINARY = saved


def check_inert(svg: bytes) -> None:
    """Refuse an SVG that could run anything (it never should: labels are escaped)."""
    root = ET.fromstring(svg)
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag in _ACTIVE_TAGS:
            raise DiagramUnavailable(f"unexpected <{tag}> in the diagram")
        for name in element.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or local == "href":
                raise DiagramUnavailable(f"unexpected attribute {local!r} in the diagram")


@lru_cache(maxsize=256)
def _render(key: str, version: int, source: str, lang: str, highlight: str | None, dot: str):
    definition = registry.get(key, version)
    if definition.source != source:
        raise LookupError(f"{key} v{version} is not the loaded definition")
    graph = build(definition, lang, highlight)
    try:
        with _executable(dot):
            svg = graph.pipe(format="svg", quiet=True)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError) as exc:
        raise DiagramUnavailable(str(exc)) from exc
    check_inert(svg)
    return svg


def render_svg(
    definition: Definition, lang: str, highlight: str | None = None, dot: str = DEFAULT_DOT
) -> bytes:
    """The definition as SVG in `lang`, `highlight` (a state key) marked as current.
    Raises DiagramUnavailable when Graphviz cannot draw it, KeyError for an unknown state."""
    if highlight is not None and not definition.has_state(highlight):
        raise KeyError(highlight)
    return _render(definition.key, definition.version, definition.source, lang, highlight, dot)


def clear_cache() -> None:
    _render.cache_clear()
