"""A definition declares its roles, subject and forms: what is refused, naming file and item."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from workflow.engine.definitions import DefinitionError, load_definition
from workflow.engine.registry import Registry

TOY = Path(__file__).parent / "data" / "toy" / "bridge_inspection.yaml"
BASE = yaml.safe_load(TOY.read_text(encoding="utf-8"))
KNOWN = {"known_guards": {"forms_complete"}, "known_effects": set(), "known_activities": set()}


def _write(directory: Path, data: dict, name: str = "toy.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _set(path: str, value):
    def mutate(d):
        node = d
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value

    return mutate


CASES = [
    # (what is wrong, mutation, words the message must name)
    (
        "owner role not declared",
        _set("states.0.owners", ["camat"]),
        ["states.open.owners", "camat"],
    ),
    ("built-in role on a region unit", _set("transitions.0.roles", ["trainee"]), ["trainee"]),
    ("declared twice", lambda d: d["roles"].append(copy.deepcopy(d["roles"][0])), ["twice"]),
    (
        "shadowing a built-in role",
        _set("roles.0.key", "mentor"),
        ["roles.mentor", "built-in"],
    ),
    ("unknown assignment", _set("roles.0.assignment", "elected"), ["assignment"]),
    ("region unit without level", lambda d: d.pop("unit_level"), ["unit_level"]),
    ("region unit without roles", _set("roles", []), ["roles"]),
    (
        "cohort date on a campaign",
        _set("states.0.sla", {"until": "proposal_deadline"}),
        ["deadline"],
    ),
    ("form editor unknown", _set("forms.0.editors", ["camat"]), ["forms.findings.editors"]),
    ("form state unknown", _set("forms.0.editable_in", ["nowhere"]), ["nowhere"]),
    ("reasons for an unknown form", _set("transitions.1.form_reasons", "other"), ["other"]),
    ("a check on a text field", _set("forms.0.checks.0.right", ["condition"]), ["condition"]),
    ("a check on an unknown field", _set("forms.0.checks.0.left", ["ghost"]), ["ghost"]),
    ("choice without choices", _set("forms.0.sections.0.fields.1.choices", []), ["choices"]),
    ("min above max", _set("forms.0.sections.0.fields.0.min", 900), ["min"]),
    (
        "rows without fields",
        _set("forms.0.sections.0.fields.6.fields", []),
        ["photos_taken"],
    ),
    ("unknown field type", _set("forms.0.sections.0.fields.0.type", "slider"), ["type"]),
]


@pytest.mark.parametrize(("what", "mutate", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_declaration_is_refused(tmp_path, what, mutate, words):
    data = copy.deepcopy(BASE)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(DefinitionError) as exc:
        load_definition(path, **KNOWN)
    message = str(exc.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_the_toy_loads_with_its_roles_and_form():
    d = load_definition(TOY, **KNOWN)
    assert d.subject == "region_unit"
    assert d.role_keys == ("inspector", "supervisor")
    assert d.role_label("inspector", "id") == "Pemeriksa"
    assert d.form("findings").all_fields()["span"].unit.get("en") == "m"


def test_a_participant_definition_keeps_the_built_in_roles():
    shipped = Path(__file__).parents[1] / "state_machines" / "aksi_perubahan_pka.yaml"
    d = load_definition(shipped)
    assert d.subject == "participant"
    assert {"trainee", "mentor", "organizer"} <= set(d.role_keys)


def test_a_campaign_deadline_is_refused_on_a_participant_case(tmp_path):
    shipped = Path(__file__).parents[1] / "state_machines" / "aksi_perubahan_pka.yaml"
    data = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    data["states"][0]["sla"] = {"until": "deadline"}
    (tmp_path / "rubrics").mkdir()
    for rubric in (shipped.parent / "rubrics").glob("*.yaml"):
        (tmp_path / "rubrics" / rubric.name).write_text(rubric.read_text(encoding="utf-8"))
    with pytest.raises(DefinitionError, match="proposal_deadline"):
        load_definition(_write(tmp_path, data, "pka.yaml"))


def test_directories_join_and_one_role_key_means_one_assignment(tmp_path):
    first = _write(tmp_path / "a", copy.deepcopy(BASE)).parent
    other = copy.deepcopy(BASE)
    other["key"] = "culvert_inspection"
    other["roles"][0]["assignment"] = "region"
    second = _write(tmp_path / "b", other).parent
    registry = Registry()
    with pytest.raises(DefinitionError, match="roles.inspector"):
        registry.load(os.pathsep.join([str(first), str(second)]))
    other["roles"][0]["assignment"] = "case"
    _write(tmp_path / "b", other)
    registry.load(os.pathsep.join([str(first), str(second)]))
    assert registry.role_assignment("inspector") == "case"
    assert registry.role_assignment("supervisor") == "region"
    assert registry.role_assignment("mentor") is None
    assert set(registry.delegable_roles()) == {"inspector", "supervisor"}
    assert registry.roles() == ("inspector", "supervisor")
