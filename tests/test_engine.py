"""Engine tests: no database, no app. The expected tables below restate DESIGN.md §2 by hand;
they are deliberately not derived from the YAML they check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import transitions
from transitions import MachineError

from workflow.engine import Outcome, evaluate, load_definition, registry
from workflow.engine.guards import proposal_complete, short_term_milestones_closed
from workflow.engine.machine import CompiledMachine
from workflow.models import Case, Cohort, Milestone

ROOT = Path(__file__).resolve().parent.parent
PKA_FILE = ROOT / "state_machines" / "versions" / "aksi_perubahan_pka.v1.yaml"
PKN2_FILE = ROOT / "state_machines" / "versions" / "aksi_perubahan_pkn2.v1.yaml"
ROLES = ("trainee", "mentor", "executive", "coach", "examiner", "organizer")

PKA_STATES = (
    "draft",
    "mentor_review",
    "revision_requested",
    "endorsement_pending",
    "implementation",
    "evaluation",
    "deferred",
    "completed",
    "not_passed",
    "withdrawn",
)
PKA_TERMINAL = {"completed", "not_passed", "withdrawn"}
PKA_OPEN = tuple(s for s in PKA_STATES if s not in PKA_TERMINAL)

# trigger -> (source states, roles allowed, destinations)
PKA_FLOW: dict[str, tuple[set[str], set[str], set[str]]] = {
    "submit": ({"draft", "revision_requested"}, {"trainee"}, {"mentor_review"}),
    "approve": ({"mentor_review"}, {"mentor"}, {"endorsement_pending"}),
    "request_revision": ({"mentor_review"}, {"mentor"}, {"revision_requested"}),
    "endorse": ({"endorsement_pending"}, {"executive"}, {"implementation"}),
    "decline_endorsement": ({"endorsement_pending"}, {"executive"}, {"revision_requested"}),
    "submit_report": ({"implementation"}, {"trainee"}, {"evaluation"}),
    "return_report": ({"evaluation"}, {"coach", "examiner"}, {"implementation"}),
    # Chosen by the computed score (the guards), one trigger for both outcomes.
    "finalize": ({"evaluation"}, {"organizer", "examiner"}, {"completed", "not_passed"}),
    "defer": ({"evaluation"}, {"organizer"}, {"deferred"}),
    "resume": ({"deferred"}, {"organizer"}, {"evaluation"}),
    "withdraw": (set(PKA_OPEN), {"trainee", "organizer"}, {"withdrawn"}),
}

PKN2_STATES = (*PKA_STATES, "proposal_seminar")
PKN2_FLOW = {
    **PKA_FLOW,
    "submit": ({"draft", "revision_requested"}, {"trainee"}, {"proposal_seminar"}),
    "record_seminar": ({"proposal_seminar"}, {"examiner"}, {"mentor_review"}),
    "seminar_revision": ({"proposal_seminar"}, {"examiner"}, {"revision_requested"}),
    "withdraw": (set(PKA_OPEN) | {"proposal_seminar"}, {"trainee", "organizer"}, {"withdrawn"}),
}

FLOWS = {
    "aksi_perubahan_pka": (PKA_FILE, PKA_STATES, PKA_FLOW),
    "aksi_perubahan_pkn2": (PKN2_FILE, PKN2_STATES, PKN2_FLOW),
}


@pytest.fixture(scope="module")
def definitions():
    return {key: load_definition(path) for key, (path, _, _) in FLOWS.items()}


@pytest.fixture(scope="module")
def loaded_registry():
    registry.load(ROOT / "state_machines")
    return registry


def _expected(flow, state: str, trigger: str, roles: set[str]) -> Outcome:
    sources, allowed, _ = flow[trigger]
    if state not in sources:
        return Outcome.NOT_AVAILABLE
    return Outcome.OK if roles & allowed else Outcome.FORBIDDEN


def _cases():
    for key, (_, states, flow) in FLOWS.items():
        for state in states:
            for trigger in [*flow, "no_such_trigger"]:
                for role in (*ROLES, None):
                    yield pytest.param(
                        key, state, trigger, role, id=f"{key}-{state}-{trigger}-{role}"
                    )


@pytest.mark.parametrize(("key", "state", "trigger", "role"), list(_cases()))
def test_evaluate_matches_the_design(definitions, key, state, trigger, role):
    _, _, flow = FLOWS[key]
    roles = {role} if role else set()
    if trigger not in flow:
        expected = Outcome.NOT_AVAILABLE
    else:
        expected = _expected(flow, state, trigger, roles)
    assert evaluate(definitions[key], state, trigger, roles) is expected


@pytest.mark.parametrize("key", FLOWS)
def test_definition_declares_exactly_the_designed_states_and_triggers(definitions, key):
    _, states, flow = FLOWS[key]
    d = definitions[key]
    assert sorted(s.key for s in d.states) == sorted(states)
    assert set(d.triggers) == set(flow)
    assert set(d.terminal_states) == PKA_TERMINAL
    assert d.initial == "draft"


@pytest.mark.parametrize("key", FLOWS)
def test_destinations(definitions, key):
    _, states, flow = FLOWS[key]
    d = definitions[key]
    for trigger, (sources, _, dests) in flow.items():
        for state in states:
            found = {t.dest for t in d.candidates(state, trigger)}
            assert found == (dests if state in sources else set()), (state, trigger)


@pytest.mark.parametrize("key", FLOWS)
def test_several_roles_any_one_suffices(definitions, key):
    d = definitions[key]
    assert evaluate(d, "mentor_review", "approve", {"trainee", "mentor"}) is Outcome.OK
    assert evaluate(d, "mentor_review", "approve", {"trainee", "coach"}) is Outcome.FORBIDDEN


def test_pkn2_seminar_fields_and_comments(definitions):
    d = definitions["aksi_perubahan_pkn2"]
    (record,) = d.candidates("proposal_seminar", "record_seminar")
    assert {f.name for f in record.fields} == {"seminar_date", "seminar_outcome"}
    assert all(f.required for f in record.fields)
    (revise,) = d.candidates("proposal_seminar", "seminar_revision")
    assert revise.comment == "required"
    assert d.state("proposal_seminar").owners == ("examiner",)


def test_required_comments_and_fields_follow_the_design(definitions):
    d = definitions["aksi_perubahan_pka"]
    for trigger, state in [
        ("request_revision", "mentor_review"),
        ("decline_endorsement", "endorsement_pending"),
        ("return_report", "evaluation"),
        ("withdraw", "draft"),
    ]:
        assert all(t.comment == "required" for t in d.candidates(state, trigger)), trigger
    (endorse,) = d.candidates("endorsement_pending", "endorse")
    assert {(f.name, f.type, f.required) for f in endorse.fields} == {
        ("letter_number", "text", True),
        ("letter_date", "date", True),
    }


def test_owners_and_slas_follow_the_design(definitions):
    d = definitions["aksi_perubahan_pka"]
    owners = {s.key: set(s.owners) for s in d.states}
    assert owners == {
        "draft": {"trainee"},
        "mentor_review": {"mentor"},
        "revision_requested": {"trainee"},
        "endorsement_pending": {"executive"},
        "implementation": {"trainee"},
        "evaluation": {"examiner", "coach", "mentor"},
        "deferred": {"organizer"},
        "completed": set(),
        "not_passed": set(),
        "withdrawn": set(),
    }
    assert d.state("mentor_review").sla.working_days == 3
    assert d.state("revision_requested").sla.working_days == 5
    assert d.state("endorsement_pending").sla.working_days == 5
    assert d.state("draft").sla.until == "proposal_deadline"
    assert d.state("implementation").sla.until == "implementation_end"
    assert d.state("evaluation").sla.until == "evaluation_date"
    assert d.state("deferred").sla is None


# --- the compiled machine -------------------------------------------------------------


@pytest.mark.parametrize("key", FLOWS)
def test_fire_moves_along_every_transition(definitions, key):
    d = definitions[key]
    machine = CompiledMachine(d)
    for t in d.transitions:
        for source in t.sources:
            assert machine.fire(source, t) == t.dest


@pytest.mark.parametrize("key", FLOWS)
def test_fire_refuses_a_transition_from_a_foreign_state(definitions, key):
    d = definitions[key]
    machine = CompiledMachine(d)
    (approve,) = d.candidates("mentor_review", "approve")
    with pytest.raises(MachineError):
        machine.fire("draft", approve)
    # finalize has two transitions; firing one must not land on the other's dest.
    to_completed, to_not_passed = d.candidates("evaluation", "finalize")
    assert machine.fire("evaluation", to_completed) == to_completed.dest
    assert machine.fire("evaluation", to_not_passed) == to_not_passed.dest
    assert to_completed.dest != to_not_passed.dest


@pytest.mark.parametrize("key", FLOWS)
def test_no_auto_transitions(definitions, key):
    machine = CompiledMachine(definitions[key])
    assert set(machine.machine.events) == set(definitions[key].triggers)
    assert not [name for name in machine.machine.events if name.startswith("to_")]
    assert machine.machine.models == []  # model=None: the machine holds no case


def test_registry_builds_one_machine_per_definition_version(loaded_registry, monkeypatch):
    built = []
    original = transitions.Machine.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counting_init)
    keys = sorted((d.key, d.version) for d in loaded_registry.all())
    assert keys == [
        ("aksi_perubahan_pka", 1),
        ("aksi_perubahan_pka", 2),
        ("aksi_perubahan_pkn2", 1),
        ("aksi_perubahan_pkn2", 2),
        ("aksi_perubahan_pkp", 1),
        ("profil_pekon", 1),
    ]
    for key, version in keys:
        first = loaded_registry.machine(key, version)
        d = loaded_registry.get(key, version)
        (submit,) = d.candidates(d.initial, "submit")
        for _ in range(300):
            machine = loaded_registry.machine(key, version)
            assert machine is first
            assert machine.fire(d.initial, submit) == submit.dest
        assert loaded_registry.latest(key).version == max(loaded_registry.versions(key))
    # Re-loading the same directory keeps the machines.
    loaded_registry.load(ROOT / "state_machines")
    assert built == []
    # A new compiled machine is exactly one transitions.Machine.
    CompiledMachine(loaded_registry.latest("aksi_perubahan_pka"))
    assert len(built) == 1


def test_registry_unknown_definition(loaded_registry):
    with pytest.raises(LookupError):
        loaded_registry.get("aksi_perubahan_pka", 99)
    with pytest.raises(LookupError):
        loaded_registry.latest("nope")


# --- guards as pure functions over unsaved objects ------------------------------------


def _cohort() -> Cohort:
    return Cohort(
        name="Angkatan I",
        year=2026,
        definition_key="aksi_perubahan_pka",
        start_date=date(2026, 2, 2),
        proposal_deadline=date(2026, 3, 2),
        implementation_start=date(2026, 3, 9),
        implementation_end=date(2026, 6, 5),
        evaluation_date=date(2026, 6, 15),
        end_date=date(2026, 6, 30),
    )


def _milestone(term="short", target=date(2026, 4, 1), status="planned", note="", name="Pedoman"):
    return Milestone(term=term, activity=name, target_date=target, status=status, closing_note=note)


def _proposal(**overrides) -> Case:
    fields = {
        "title": "Penataan Tata Kelola Perencanaan Pembangunan Desa",
        "background_current": "Belum terpadu.",
        "background_ideal": "Terpadu.",
        "core_issue": "Belum optimal.",
        "objective_short": "Pedoman tersusun.",
        "innovation": "Pembinaan terpadu.",
    }
    milestones = overrides.pop("milestones", [_milestone()])
    case = Case(cohort=_cohort(), **{**fields, **overrides})
    case.milestones.extend(milestones)
    return case


def _texts(reasons) -> list[str]:
    return [str(r) for r in reasons]


def test_proposal_complete_passes_a_complete_proposal(definitions):
    assert proposal_complete(_proposal(), definitions["aksi_perubahan_pka"]) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"title": ""}, ["The title is empty."]),
        ({"title": "   "}, ["The title is empty."]),
        ({"core_issue": ""}, ["The core issue is empty."]),
        ({"innovation": ""}, ["The innovation (breakthrough) is not described."]),
        ({"milestones": []}, ["There is no short-term milestone."]),
        (
            {"milestones": [_milestone(term="medium", target=date(2026, 12, 1))]},
            ["There is no short-term milestone."],
        ),
        (
            {"milestones": [_milestone(target=None)]},
            ["Milestone “Pedoman” has no target date."],
        ),
        (
            {"milestones": [_milestone(target=date(2026, 6, 6))]},
            [
                "Milestone “Pedoman” is due outside the implementation window "
                "(2026-03-09 – 2026-06-05)."
            ],
        ),
        (
            {"milestones": [_milestone(target=date(2026, 3, 8))]},
            [
                "Milestone “Pedoman” is due outside the implementation window "
                "(2026-03-09 – 2026-06-05)."
            ],
        ),
        (
            {"title": "", "milestones": []},
            ["The title is empty.", "There is no short-term milestone."],
        ),
    ],
)
def test_proposal_complete_reasons(definitions, overrides, expected):
    reasons = proposal_complete(_proposal(**overrides), definitions["aksi_perubahan_pka"])
    assert _texts(reasons) == expected


def test_proposal_complete_window_is_inclusive(definitions):
    case = _proposal(
        milestones=[_milestone(target=date(2026, 3, 9)), _milestone(target=date(2026, 6, 5))]
    )
    assert proposal_complete(case, definitions["aksi_perubahan_pka"]) == []


@pytest.mark.parametrize(
    ("milestones", "blocked"),
    [
        ([_milestone(status="verified")], []),
        ([_milestone(status="not_achieved", note="Anggaran dipotong.")], []),
        ([_milestone(status="not_achieved", note="  ")], ["Pedoman"]),
        ([_milestone(status="planned")], ["Pedoman"]),
        ([_milestone(status="reported")], ["Pedoman"]),
        ([_milestone(term="medium", status="planned")], []),
        (
            [_milestone(status="verified", name="A"), _milestone(status="returned", name="B")],
            ["B"],
        ),
    ],
)
def test_short_term_milestones_closed(definitions, milestones, blocked):
    case = _proposal(milestones=milestones)
    reasons = short_term_milestones_closed(case, definitions["aksi_perubahan_pka"])
    assert _texts(reasons) == [
        f"Milestone “{name}” is neither verified nor closed with an explanation."
        for name in blocked
    ]


@pytest.mark.parametrize(
    ("score", "predicate"),
    [
        (95, "Sangat Memuaskan"),
        (90.01, "Sangat Memuaskan"),
        (90, "Memuaskan"),
        (85.5, "Memuaskan"),
        (80, "Cukup Memuaskan"),
        (70.5, "Cukup Memuaskan"),
        (70, "Kurang Memuaskan"),
        (60, "Tidak Memuaskan"),
        (0, "Tidak Memuaskan"),
    ],
)
def test_predicate_bands(definitions, score, predicate):
    assert definitions["aksi_perubahan_pka"].scoring.predicate(score).id == predicate


@pytest.mark.parametrize(
    ("ftype", "required", "raw", "expected"),
    [
        ("text", True, "  800/12  ", ("800/12", None)),
        ("text", True, "   ", (None, "required")),
        ("text", False, None, (None, None)),
        ("text", True, "x" * 101, ("x" * 101, "too_long")),
        ("date", True, "2026-03-05", ("2026-03-05", None)),
        ("date", True, "05/03/2026", ("05/03/2026", "bad_date")),
        ("date", True, "2026-02-30", ("2026-02-30", "bad_date")),
        ("number", False, "7.5", (7.5, None)),
        ("number", False, "tujuh", ("tujuh", "bad_number")),
        ("number", False, "nan", ("nan", "bad_number")),
        ("number", False, float("inf"), ("inf", "bad_number")),
    ],
)
def test_field_clean(ftype, required, raw, expected):
    from workflow.engine.definitions import FieldSpec

    spec = FieldSpec(
        name="f", type=ftype, required=required, max_length=100, labels={"id": "F", "en": "F"}
    )
    assert spec.clean(raw) == expected


def test_choice_field(definitions):
    d = definitions["aksi_perubahan_pkn2"]
    (record,) = d.candidates("proposal_seminar", "record_seminar")
    outcome = next(f for f in record.fields if f.name == "seminar_outcome")
    assert outcome.clean("accepted") == ("accepted", None)
    assert outcome.clean("rejected") == ("rejected", "bad_choice")
