"""Rubrics: validated at load like definitions (components, weights, bands and the pass
rule); the arithmetic of the result; predicate and pass from one definition."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE_CONFIG
from workflow import create_app
from workflow.engine import DefinitionError, registry
from workflow.engine.rubrics import Rubric, load_rubric, load_rubrics, rubric_problems

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "state_machines"
PKA = yaml.safe_load((SHIPPED / "rubrics" / "pka.yaml").read_text(encoding="utf-8"))
PKA_V2 = yaml.safe_load((SHIPPED / "rubrics" / "pka_v2.yaml").read_text(encoding="utf-8"))


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


def pass_mark_given(d):
    d["pass_mark"] = 70  # the pass follows the bands now


def passing_band_below_a_failing_one(d):
    d["bands"][1]["passed"] = False  # Memuaskan fails, Cukup Memuaskan below passes


def lowest_band_passes(d):
    d["bands"][-1]["passed"] = True


def no_band_passes(d):
    for band in d["bands"]:
        band["passed"] = False


def band_without_pass(d):
    del d["bands"][2]["passed"]


def band_off_scale(d):
    d["bands"][0]["above"] = 100


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
    (unknown_role, ["aspects.performance.role", "'examiner', 'coach', 'mentor' or 'organizer'"]),
    (missing_description, ["aspects.results.description", "Field required"]),
    (aspect_twice, ["each key once"]),
    (rating_twice, ["milestone_ratings: each key once"]),
    (no_ratings, ["milestone_ratings", "at least 1"]),
    (bands_unordered, ["highest"]),
    (bands_open_in_the_middle, ["above: null"]),
    (bands_without_floor, ["above: null"]),
    (pass_mark_given, ["pass_mark", "give each band passed: true or false"]),
    (passing_band_below_a_failing_one, ["'Cukup Memuaskan' passes", "'Memuaskan'", "highest"]),
    (lowest_band_passes, ["lowest band", "must fail"]),
    (no_band_passes, ["highest band must pass"]),
    (band_without_pass, ["bands[2].passed", "Field required"]),
    (band_off_scale, ["on the scale"]),
    (scale_upside_down, ["min must be below max"]),
    (extra_key, ["colour", "Extra inputs are not permitted"]),
    (bad_key, ["aspects.Hasil Akhir.key", "pattern"]),
]


def _component(d: dict, key: str) -> dict:
    return next(c for c in d["components"] if c["key"] == key)


def _v2_aspect(d: dict, key: str) -> dict:
    return next(a for c in d["components"] for a in c["aspects"] if a["key"] == key)


def components_not_100(d):
    _component(d, "sikap_perilaku")["weight"] = 20
    _v2_aspect(d, "integrity")["weight"] = 5
    _v2_aspect(d, "discipline")["weight"] = 1


def aspects_not_the_components_weight(d):
    _v2_aspect(d, "integrity")["weight"] = 10


def unknown_role_in_component(d):
    _v2_aspect(d, "teamwork")["role"] = "widyaiswara"


def role_in_two_components(d):
    _v2_aspect(d, "teamwork")["role"] = "coach"


def component_twice(d):
    d["components"].append(copy.deepcopy(d["components"][0]))


def components_and_aspects(d):
    d["aspects"] = copy.deepcopy(d["components"][0]["aspects"])


def component_unknown_key(d):
    _component(d, "sikap_perilaku")["phase"] = "training"


def component_without_aspects(d):
    _component(d, "sikap_perilaku")["aspects"] = []


def aspect_key_in_two_components(d):
    _v2_aspect(d, "integrity")["key"] = "substance"


COMPONENT_CASES = [
    (components_not_100, ["(top level)", "component weights must sum to 100", "90"]),
    (
        aspects_not_the_components_weight,
        ["components.sikap_perilaku", "sum to 30, the component's weight", "32"],
    ),
    (
        unknown_role_in_component,
        ["components.sikap_perilaku.aspects.teamwork.role", "'organizer'"],
    ),
    (role_in_two_components, ["role coach scores in aksi_perubahan and in sikap_perilaku"]),
    (component_twice, ["components: each key once"]),
    (components_and_aspects, ["either components or aspects"]),
    (component_unknown_key, ["components.sikap_perilaku.phase", "Extra inputs"]),
    (component_without_aspects, ["components.sikap_perilaku.aspects", "at least 1"]),
    (aspect_key_in_two_components, ["aspects: each key once in the rubric"]),
]


@pytest.mark.parametrize(
    ("mutate", "names"), COMPONENT_CASES, ids=[m.__name__ for m, _ in COMPONENT_CASES]
)
def test_broken_components_are_refused_naming_file_and_item(tmp_path, mutate, names):
    data = copy.deepcopy(PKA_V2)
    mutate(data)
    path = _write(tmp_path, data, "pka_v2.yaml")
    with pytest.raises(DefinitionError) as info:
        load_rubric(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in names:
        assert part in message, message


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
    assert sorted(rubrics) == ["pka", "pka_v2", "pkn2", "pkn2_v2", "pkp"]
    for key, rubric in rubrics.items():
        assert rubric.pass_mark == 70
        assert rubric.rating_keys() == ("kurang", "sesuai", "melampaui")
        assert (rubric.scale.min, rubric.scale.max) == (0, 100)
        if key in ("pka", "pkn2"):  # version 1: one implicit component
            assert rubric.weights == {"examiner": 50, "coach": 30, "mentor": 20}
            assert [(c.key, c.weight, c.states) for c in rubric.components] == [
                ("aksi_perubahan", 100, None)
            ]
            assert not rubric.has_components
            continue
        assert rubric.weights == {"examiner": 35, "coach": 20, "mentor": 15, "organizer": 30}
        assert [(c.key, c.weight) for c in rubric.components] == [
            ("aksi_perubahan", 70),
            ("sikap_perilaku", 30),
        ]
        assert rubric.component_of("organizer").key == "sikap_perilaku"
        assert not rubric.rates_milestones("organizer") and rubric.rates_milestones("mentor")
        assert rubric.open_for("organizer", "implementation")
        assert not rubric.open_for("examiner", "implementation")
        assert rubric.open_for("examiner", "evaluation")
        follow_up = rubric.aspect("seminar_follow_up")
        assert (follow_up.role, follow_up.labels.id) == (
            "examiner",
            "Tindak lanjut masukan seminar",
        )


def test_each_definition_carries_its_rubric():
    # Participants' flows are scored; a region campaign (profil pekon) is not.
    scored = [d for d in registry.all() if d.subject == "participant"]
    assert scored and all(d.rubric for d in scored)
    for definition in scored:
        assert definition.scoring is not None
        assert definition.scoring.key == definition.rubric
        # Every scoring role may submit, every component opens where submit_scores is.
        assert rubric_problems(definition.scoring, definition) == [], definition.source


def test_a_rubric_that_does_not_fit_its_definition_is_named(app):
    definition = registry.latest("aksi_perubahan_pka")
    data = copy.deepcopy(PKA_V2)
    _component(data, "aksi_perubahan")["states"] = ["evaluation", "seminar_laporan"]
    rubric = Rubric.model_validate(data)
    assert rubric_problems(rubric, registry.get("aksi_perubahan_pka", 1)) == [
        "rubric pka_v2: role organizer scores but submit_scores omits it",
        "rubric pka_v2: components.aksi_perubahan.states: 'seminar_laporan' is not a "
        "state of submit_scores",
    ]
    assert len(rubric_problems(rubric, definition)) == 1


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
        # Kurang Memuaskan never passes: the pass is the band's (it was "Lulus" before).
        (70, "Kurang Memuaskan", False),
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


# ---------------------------------------------------------------- predicate and pass agree

SHIPPED_RUBRICS = load_rubrics(SHIPPED / "rubrics")
BOUNDARIES = [
    (60, "Tidak Memuaskan", False),
    (60.01, "Kurang Memuaskan", False),
    (70, "Kurang Memuaskan", False),
    (70.01, "Cukup Memuaskan", True),
    (80, "Cukup Memuaskan", True),
    (90, "Memuaskan", True),
    (90.01, "Sangat Memuaskan", True),
    (100, "Sangat Memuaskan", True),
]


@pytest.mark.parametrize("key", sorted(SHIPPED_RUBRICS))
@pytest.mark.parametrize(("value", "predicate", "passed"), BOUNDARIES)
def test_predicate_and_pass_agree_on_every_boundary(key, value, predicate, passed):
    rubric = SHIPPED_RUBRICS[key]
    # Through the arithmetic: every aspect alike gives that total.
    total = rubric.total(dict.fromkeys([a.key for a in rubric.aspects], value))
    assert total == pytest.approx(value)
    band = rubric.band(total)
    assert (rubric.predicate(total).id, rubric.passed(total)) == (predicate, passed)
    # One definition: the pass is the predicate's band, and the mark is its lower bound.
    assert rubric.passed(total) is band.passed is (total > rubric.pass_mark)


def test_v2_total_is_the_components_subtotals():
    rubric = SHIPPED_RUBRICS["pka_v2"]
    values = {a.key: (80 if a.role == "organizer" else 90) for a in rubric.aspects}
    # aksi perubahan 0.7 × 90 = 63, sikap perilaku 0.3 × 80 = 24
    assert rubric.total(values) == 87
    sikap = rubric.component("sikap_perilaku")
    assert rubric.contribution({a.key: values[a.key] for a in sikap.aspects}) == 24
