"""Rubrics: validated at load like definitions; the arithmetic of the result."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE_CONFIG
from workflow import create_app
from workflow.engine import DefinitionError, registry
from workflow.engine.rubrics import load_rubric, load_rubrics

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "state_machines"
PKA = yaml.safe_load((SHIPPED / "rubrics" / "pka.yaml").read_text(encoding="utf-8"))


def _aspect(d: dict, key: str) -> dict:
    return next(a for a in d["aspects"] if a["key"] == key)


def weights_not_100(d):
    _aspect(d, "process")["weight"] = 20


def weights_below_100(d):
    d["aspects"] = [a for a in d["aspects"] if a["key"] != "sustainability"]


def zero_weight(d):
    _aspect(d, "process")["weight"] = 0


def unknown_role(d):
    _aspect(d, "performance")["role"] = "kepala"


def missing_description(d):
    del _aspect(d, "results")["description"]


def aspect_twice(d):
    twin = copy.deepcopy(_aspect(d, "results"))
    twin["weight"] = 0.5
    _aspect(d, "substance")["weight"] = 19.5
    d["aspects"].append(twin)


def rating_twice(d):
    d["milestone_ratings"].append(copy.deepcopy(d["milestone_ratings"][0]))


def no_ratings(d):
    d["milestone_ratings"] = []


def bands_unordered(d):
    d["bands"][0], d["bands"][1] = d["bands"][1], d["bands"][0]


def bands_open_in_the_middle(d):
    d["bands"][2]["above"] = None


def bands_without_floor(d):
    d["bands"][-1]["above"] = 50


def pass_mark_off_scale(d):
    d["pass_mark"] = 120


def scale_upside_down(d):
    d["scale"] = {"min": 100, "max": 0}


def extra_key(d):
    d["colour"] = "blue"


def bad_key(d):
    _aspect(d, "results")["key"] = "Hasil Akhir"


CASES = [
    (weights_not_100, ["(top level)", "sum to 100", "105"]),
    (weights_below_100, ["sum to 100", "90"]),
    (zero_weight, ["aspects.process.weight", "greater than 0"]),
    (unknown_role, ["aspects.performance.role", "'examiner', 'coach' or 'mentor'"]),
    (missing_description, ["aspects.results.description", "Field required"]),
    (aspect_twice, ["each key once"]),
    (rating_twice, ["milestone_ratings: each key once"]),
    (no_ratings, ["milestone_ratings", "at least 1"]),
    (bands_unordered, ["highest"]),
    (bands_open_in_the_middle, ["above: null"]),
    (bands_without_floor, ["above: null"]),
    (pass_mark_off_scale, ["pass_mark must lie on the scale"]),
    (scale_upside_down, ["min must be below max"]),
    (extra_key, ["colour", "Extra inputs are not permitted"]),
    (bad_key, ["aspects.Hasil Akhir.key", "pattern"]),
]


def _write(directory: Path, data: dict, name: str = "pka.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("mutate", "names"), CASES, ids=[m.__name__ for m, _ in CASES])
def test_broken_rubric_is_refused_naming_file_and_item(tmp_path, mutate, names):
    data = copy.deepcopy(PKA)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(DefinitionError) as info:
        load_rubric(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in names:
        assert part in message


def test_unmutated_copy_loads(tmp_path):
    rubric = load_rubric(_write(tmp_path, copy.deepcopy(PKA)))
    assert rubric.key == "pka"


def test_shipped_rubrics_and_their_weights():
    rubrics = load_rubrics(SHIPPED / "rubrics")
    assert sorted(rubrics) == ["pka", "pkn2"]
    for rubric in rubrics.values():
        assert rubric.weights == {"examiner": 50, "coach": 30, "mentor": 20}
        assert rubric.pass_mark == 70
        assert rubric.rating_keys() == ("kurang", "sesuai", "melampaui")
        assert (rubric.scale.min, rubric.scale.max) == (0, 100)


def test_each_definition_carries_its_rubric():
    for definition in registry.all():
        assert definition.scoring is not None
        assert definition.scoring.key == definition.rubric


def test_same_rubric_key_twice(tmp_path):
    _write(tmp_path, copy.deepcopy(PKA), "a.yaml")
    second = _write(tmp_path, copy.deepcopy(PKA), "b.yaml")
    with pytest.raises(DefinitionError) as info:
        load_rubrics(tmp_path)
    assert str(second) in str(info.value)
    assert "rubric pka already defined" in str(info.value)


def test_app_refuses_to_start_with_a_broken_rubric(tmp_path):
    before = {(d.key, d.version): d for d in registry.all()}
    directory = tmp_path / "defs"
    shutil.copytree(SHIPPED, directory)
    data = copy.deepcopy(PKA)
    weights_not_100(data)
    path = _write(directory / "rubrics", data)
    with pytest.raises(DefinitionError) as info:
        create_app(
            {
                **BASE_CONFIG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                "DEFINITIONS_DIR": str(directory),
            }
        )
    assert str(path) in str(info.value)
    assert "sum to 100" in str(info.value)
    assert {(d.key, d.version): d for d in registry.all()} == before


RUBRIC = load_rubric(SHIPPED / "rubrics" / "pka.yaml")
ALL = [a.key for a in RUBRIC.aspects]


@pytest.mark.parametrize(
    ("value", "predicate", "passed"),
    [
        (100, "Sangat Memuaskan", True),
        (90.01, "Sangat Memuaskan", True),
        (90, "Memuaskan", True),
        (80.5, "Memuaskan", True),
        (80, "Cukup Memuaskan", True),
        (70.01, "Cukup Memuaskan", True),
        # Passing at the mark, though the band above 70 starts only after it (DESIGN.md).
        (70, "Kurang Memuaskan", True),
        (69.99, "Kurang Memuaskan", False),
        (60.01, "Kurang Memuaskan", False),
        (60, "Tidak Memuaskan", False),
        (0, "Tidak Memuaskan", False),
    ],
)
def test_every_aspect_alike_gives_that_total_band_and_result(value, predicate, passed):
    total = RUBRIC.total(dict.fromkeys(ALL, value))
    assert total == pytest.approx(value)
    assert RUBRIC.predicate(total).id == predicate
    assert RUBRIC.passed(total) is passed


def test_total_is_weighted_by_aspect():
    values = {a.key: 0 for a in RUBRIC.aspects}
    values["substance"] = 100  # weight 20
    values["performance"] = 50  # weight 10
    assert RUBRIC.total(values) == 25
    assert RUBRIC.contribution({"substance": 100}) == 20


def test_total_waits_for_every_aspect():
    values = dict.fromkeys(ALL, 80)
    values.pop("sustainability")
    assert RUBRIC.total(values) is None
    assert RUBRIC.total({**values, "sustainability": None}) is None


def test_aspects_per_role_and_scale():
    assert [a.key for a in RUBRIC.aspects_for("coach")] == ["process", "collaboration"]
    assert RUBRIC.aspect("nope") is None
    assert RUBRIC.on_scale(0) and RUBRIC.on_scale(100)
    assert not RUBRIC.on_scale(-0.1) and not RUBRIC.on_scale(100.5)
    assert RUBRIC.rating_labels("melampaui").id == "Melampaui"
