"""Definition validation: each broken file stops loading with its path and the item named."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE_CONFIG
from workflow import create_app
from workflow.engine import DefinitionError, load_definition, load_directory, registry

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "state_machines"
PKA = yaml.safe_load(
    (SHIPPED / "versions" / "aksi_perubahan_pka.v1.yaml").read_text(encoding="utf-8")
)


def _transition(d: dict, trigger: str) -> dict:
    return next(t for t in d["transitions"] if t["trigger"] == trigger)


def _state(d: dict, key: str) -> dict:
    return next(s for s in d["states"] if s["key"] == key)


def unknown_source(d):
    _transition(d, "approve")["sources"] = ["mentor_review", "nowhere"]


def unknown_dest(d):
    _transition(d, "approve")["dest"] = "limbo"


def unknown_initial(d):
    d["initial"] = "start"


def unknown_role_in_transition(d):
    _transition(d, "endorse")["roles"] = ["executive", "bupati"]


def unknown_role_as_owner(d):
    _state(d, "mentor_review")["owners"] = ["atasan"]


def unknown_guard(d):
    _transition(d, "submit")["guards"] = ["proposal_perfect"]


def unknown_effect(d):
    _transition(d, "approve")["effects"] = ["send_fax"]


def unknown_phase(d):
    _state(d, "deferred")["phase"] = "limbo_phase"


def unreachable_state(d):
    d["states"].append(
        {
            "key": "orphan",
            "phase": "proposal",
            "owners": ["trainee"],
            "labels": {"id": "Yatim", "en": "Orphan"},
        }
    )
    d["transitions"].append(
        {
            "trigger": "leave",
            "labels": {"id": "Keluar", "en": "Leave"},
            "sources": ["orphan"],
            "dest": "withdrawn",
            "roles": ["trainee"],
        }
    )


def dead_end(d):
    d["transitions"] = [t for t in d["transitions"] if t["trigger"] != "resume"]
    withdraw = _transition(d, "withdraw")
    withdraw["sources"] = [s for s in withdraw["sources"] if s != "deferred"]


def ambiguous_transitions(d):
    twin = copy.deepcopy(_transition(d, "approve"))
    twin["dest"] = "revision_requested"
    d["transitions"].append(twin)


def ambiguous_same_guards(d):
    # Same trigger and source, both guarded by the same guard: still indistinguishable.
    twin = copy.deepcopy(_transition(d, "submit"))
    twin["dest"] = "endorsement_pending"
    d["transitions"].append(twin)


def unknown_rubric(d):
    d["rubric"] = "pka_2030"


def scoring_block_of_old(d):
    # Weights and bands live in the rubric now; a definition carrying them is refused.
    d["scoring"] = {"weights": {"examiner": 100}, "pass_mark": 70, "bands": []}


def extra_top_level_key(d):
    d["colour"] = "blue"


def extra_state_key(d):
    _state(d, "mentor_review")["sla_days"] = 3


def extra_field_key(d):
    _transition(d, "endorse")["fields"][0]["placeholder"] = "800/..."


def state_twice(d):
    d["states"].append(copy.deepcopy(_state(d, "draft")))


def terminal_source(d):
    _transition(d, "resume")["sources"] = ["deferred", "completed"]


def choice_without_choices(d):
    _transition(d, "endorse")["fields"].append(
        {"name": "kind", "type": "choice", "labels": {"id": "Jenis", "en": "Kind"}}
    )


def unknown_cohort_date(d):
    _state(d, "draft")["sla"] = {"until": "someday"}


def bad_field_type(d):
    _transition(d, "endorse")["fields"][1]["type"] = "datetime"


def missing_label(d):
    del _state(d, "evaluation")["labels"]["en"]


def open_state_without_owner(d):
    _state(d, "deferred")["owners"] = []


def ambiguous_one_unguarded(d):
    # A guarded twin beside an unguarded one: the unguarded always wins.
    twin = copy.deepcopy(_transition(d, "approve"))
    twin["dest"] = "revision_requested"
    twin["guards"] = ["proposal_complete"]
    d["transitions"].append(twin)


def sla_empty(d):
    _state(d, "mentor_review")["sla"] = {}


def sla_both(d):
    _state(d, "mentor_review")["sla"] = {"working_days": 3, "until": "proposal_deadline"}


CASES = [
    # (mutation, substrings the message must name besides the file)
    (unknown_source, ["transitions[1] (approve)", "'nowhere'"]),
    (unknown_dest, ["transitions[1] (approve)", "'limbo'"]),
    (unknown_initial, ["initial", "'start'"]),
    (unknown_role_in_transition, ["transitions[3] (endorse)", "'bupati'"]),
    (unknown_role_as_owner, ["states.mentor_review.owners", "'atasan'"]),
    (unknown_guard, ["transitions[0] (submit)", "'proposal_perfect'"]),
    (unknown_effect, ["transitions[1] (approve)", "'send_fax'"]),
    (unknown_phase, ["states.deferred.phase", "'limbo_phase'"]),
    (unreachable_state, ["states.orphan", "unreachable"]),
    (dead_end, ["states.deferred", "dead end"]),
    (ambiguous_transitions, ["approve from mentor_review", "distinguishing guards"]),
    (ambiguous_same_guards, ["submit from draft", "distinguishing guards"]),
    (ambiguous_one_unguarded, ["approve from mentor_review", "distinguishing guards"]),
    (sla_empty, ["states.mentor_review.sla", "either working_days or until"]),
    (sla_both, ["states.mentor_review.sla", "either working_days or until"]),
    (unknown_rubric, ["rubric", "'pka_2030'"]),
    (scoring_block_of_old, ["scoring", "Extra inputs are not permitted"]),
    (extra_top_level_key, ["colour", "Extra inputs are not permitted"]),
    (extra_state_key, ["states.mentor_review.sla_days", "Extra inputs"]),
    (extra_field_key, ["transitions[3] (endorse).fields.letter_number.placeholder"]),
    (state_twice, ["states.draft", "declared twice"]),
    (terminal_source, ["transitions[10] (resume)", "'completed'"]),
    (choice_without_choices, ["transitions[3] (endorse).fields.kind", "needs choices"]),
    (unknown_cohort_date, ["states.draft.sla.until", "someday"]),
    (bad_field_type, ["transitions[3] (endorse).fields.letter_date.type"]),
    (missing_label, ["states.evaluation.labels.en", "Field required"]),
    (open_state_without_owner, ["states.deferred.owners", "needs an owner"]),
]


def _write(directory: Path, data: dict, name: str = "aksi_perubahan_pka.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "rubrics").exists():
        shutil.copytree(SHIPPED / "rubrics", directory / "rubrics")
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _broken(tmp_path: Path, mutate) -> Path:
    data = copy.deepcopy(PKA)
    mutate(data)
    return _write(tmp_path / "defs", data)


@pytest.mark.parametrize(("mutate", "names"), CASES, ids=[m.__name__ for m, _ in CASES])
def test_broken_definition_is_refused_naming_file_and_item(tmp_path, mutate, names):
    path = _broken(tmp_path, mutate)
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in names:
        assert part in message


def test_unmutated_copy_loads(tmp_path):
    # The mutations above are the only thing wrong with those files.
    d = load_definition(_write(tmp_path, copy.deepcopy(PKA)))
    assert d.key == "aksi_perubahan_pka"


@pytest.mark.parametrize(
    "text",
    ["key: [unclosed\nstates: {", "transitions:\n  - trigger: submit\n\tdest: x\n"],
    ids=["unclosed", "tab"],
)
def test_malformed_yaml(tmp_path, text):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    assert str(info.value).startswith(f"{path}: cannot read")


@pytest.mark.parametrize("text", ["- just\n- a list\n", "", "plain words\n"])
def test_not_a_mapping(tmp_path, text):
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError, match="must hold a mapping") as info:
        load_definition(path)
    assert str(path) in str(info.value)


def test_shipped_definitions_load_cleanly():
    definitions = load_directory(SHIPPED)
    assert sorted((d.key, d.version) for d in definitions) == [
        ("aksi_perubahan_pka", 1),
        ("aksi_perubahan_pka", 2),
        ("aksi_perubahan_pkn2", 1),
        ("aksi_perubahan_pkn2", 2),
        ("aksi_perubahan_pkp", 1),
        ("profil_pekon", 1),
    ]
    for d in definitions:
        # The current version beside the others; the earlier ones under versions/.
        current = d.key in ("aksi_perubahan_pkp", "profil_pekon") or d.version == 2
        assert Path(d.source).parent == (SHIPPED if current else SHIPPED / "versions")


def test_same_key_and_version_twice_in_a_directory(tmp_path):
    _write(tmp_path, copy.deepcopy(PKA), "a.yaml")
    second = _write(tmp_path, copy.deepcopy(PKA), "b.yaml")
    with pytest.raises(DefinitionError) as info:
        load_directory(tmp_path)
    assert str(second) in str(info.value)
    assert "aksi_perubahan_pka v1" in str(info.value)


# --- the command and the start-up check -------------------------------------------------


@pytest.fixture
def cli_app(tmp_path):
    # check-definitions does not touch the database; an unmigrated SQLite file suffices.
    return create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.db'}"}
    )


def test_check_definitions_ok_for_the_shipped_dir(cli_app):
    result = cli_app.test_cli_runner().invoke(args=["aksi", "check-definitions"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("ok  aksi_perubahan_pka v1") for line in lines)
    assert any(line.startswith("ok  aksi_perubahan_pkn2 v1") for line in lines)


@pytest.mark.parametrize("mutate", [unknown_guard, dead_end, extra_top_level_key])
def test_check_definitions_fails_naming_the_file(cli_app, tmp_path, mutate):
    directory = tmp_path / "defs"
    shutil.copy(
        SHIPPED / "versions" / "aksi_perubahan_pkn2.v1.yaml", directory.mkdir() or directory
    )
    path = _broken(tmp_path, mutate)
    result = cli_app.test_cli_runner().invoke(args=["aksi", "check-definitions", str(directory)])
    assert result.exit_code == 1
    assert f"error: {path}: " in result.output
    assert "ok  " not in result.output


def test_check_definitions_fails_for_an_empty_dir(cli_app, tmp_path):
    result = cli_app.test_cli_runner().invoke(args=["aksi", "check-definitions", str(tmp_path)])
    assert result.exit_code == 1
    assert "no workflow definition" in result.output


@pytest.mark.parametrize("mutate", [unknown_role_in_transition, unreachable_state])
def test_app_refuses_to_start_with_a_broken_definition(tmp_path, mutate):
    before = {(d.key, d.version): d for d in registry.all()}
    path = _broken(tmp_path, mutate)
    with pytest.raises(DefinitionError) as info:
        create_app(
            {
                **BASE_CONFIG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                "DEFINITIONS_DIR": str(path.parent),
            }
        )
    assert str(path) in str(info.value)
    # The refused directory did not replace what was loaded.
    assert {(d.key, d.version): d for d in registry.all()} == before
