"""Definition versions: running cases move to a new version through the one door, as the
new version's `migrates_from` maps the old states; a blocked case stays untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.factories import World, score_case
from tests.test_evaluation import to_evaluation
from workflow.engine import DefinitionError, load_directory, registry
from workflow.extensions import db
from workflow.models import AuditEvent, Cohort, StateVisit
from workflow.services import Blocked, perform
from workflow.services.audit import verify_all
from workflow.services.workflow import migrate_case, plan_migration

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "state_machines"
PKA = "aksi_perubahan_pka"


def _v2():
    return registry.get(PKA, 2)


def _writes(case) -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(
            db.select(db.func.count(AuditEvent.id)).where(AuditEvent.case_id == case.id)
        ),
        db.session.scalar(
            db.select(db.func.count(StateVisit.id)).where(StateVisit.case_id == case.id)
        ),
        case.version,
        case.state,
        case.definition_version,
    )


# Version 1 state reached by these steps -> version 2 state.
WALKS = [
    ((), "draft", "draft"),
    ((("submit", "trainee"),), "mentor_review", "proposal_review"),
    (
        (("submit", "trainee"), ("request_revision", "mentor")),
        "revision_requested",
        "revision_requested",
    ),
    ((("submit", "trainee"), ("approve", "mentor")), "endorsement_pending", "endorsement_pending"),
]


@pytest.mark.parametrize(("steps", "v1_state", "v2_state"), WALKS)
def test_a_running_case_moves_as_mapped_and_is_audited(world, steps, v1_state, v2_state):
    for trigger, role in steps:
        perform(world.case, trigger, world.by_role(role), comment="Catatan.")
    assert (world.case.definition_version, world.case.state) == (1, v1_state)
    step = plan_migration(world.case, _v2())
    assert step.ok and (step.from_state, step.to_state) == (v1_state, v2_state)

    visits = db.session.scalar(db.select(db.func.count(StateVisit.id)))
    event = migrate_case(world.case, _v2())
    assert (world.case.definition_version, world.case.state) == (2, v2_state)
    assert event.trigger == "migrated" and event.actor_id is None
    assert (event.from_state, event.to_state) == (v1_state, v2_state)
    assert event.data == {"from_version": 1, "to_version": 2}
    # A stay that ends (the state changed) is counted like any other.
    moved = 1 if v1_state != v2_state else 0
    assert db.session.scalar(db.select(db.func.count(StateVisit.id))) == visits + moved
    assert verify_all() == []
    # The case goes on in the new flow.
    if v2_state == "proposal_review":
        perform(world.case, "approve", world.coach)
        perform(world.case, "approve", world.mentor)
        assert world.case.state == "seminar_proposal"


def test_submitted_scores_block_the_move_and_nothing_is_written(world):
    to_evaluation(world)
    score_case(world, roles=("examiner",))
    step = plan_migration(world.case, _v2())
    assert not step.ok and step.to_state == "evaluation"
    before = _writes(world.case)
    with pytest.raises(Blocked) as refused:
        migrate_case(world.case, _v2())
    assert "tetapkan hasilnya pada versi ini" in str(refused.value.reasons[0])
    assert _writes(world.case) == before


def test_cli_dry_run_lists_and_changes_nothing_then_the_run_moves(app, runner):
    draft = World()
    blocked = World()
    to_evaluation(blocked)
    score_case(blocked, roles=("examiner",))
    done = World()
    perform(done.case, "withdraw", done.trainee, comment="Mutasi.")
    before = [_writes(w.case) for w in (draft, blocked, done)]

    dry = runner.invoke(args=["aksi", "migrate-cases", PKA, "--to", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"case {draft.case.id} " in dry.output and "draft -> v2 draft: would move" in dry.output
    assert f"case {blocked.case.id} " in dry.output and "blocked:" in dry.output
    assert f"case {done.case.id} " not in dry.output
    assert "1 would move, 1 blocked, 1 finished" in dry.output
    assert [_writes(w.case) for w in (draft, blocked, done)] == before

    run = runner.invoke(args=["aksi", "migrate-cases", PKA, "--to", "2"])
    assert run.exit_code == 0, run.output
    assert "1 moved, 1 blocked, 1 finished" in run.output
    assert _writes(draft.case)[4] == 2
    assert _writes(blocked.case) == before[1]
    assert _writes(done.case) == before[2]
    # New trainees of the draft's cohort start on version 2; the blocked one's stays on 1.
    assert db.session.get(Cohort, draft.cohort.id).definition_version == 2
    assert db.session.get(Cohort, blocked.cohort.id).definition_version == 1


def test_cli_names_the_loaded_versions_of_an_unknown_target(runner):
    result = runner.invoke(args=["aksi", "migrate-cases", PKA, "--to", "7"])
    assert result.exit_code == 2
    assert "versions of aksi_perubahan_pka: v1, v2" in result.output


# ------------------------------------------------------------ refused at start-up


def _copy(tmp_path: Path) -> Path:
    directory = tmp_path / "defs"
    shutil.copytree(SHIPPED, directory)
    return directory


def _edit(directory: Path, change) -> Path:
    path = directory / f"{PKA}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw["migrates_from"])
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "item", "message"),
    [
        (
            lambda m: m["states"].update(draft="nowhere"),
            "migrates_from.states.draft",
            "unknown state 'nowhere'",
        ),
        (
            lambda m: m["states"].pop("deferred"),
            "migrates_from.states.deferred",
            "state of v1 left unmapped",
        ),
        (
            lambda m: m["states"].update(ghost="draft"),
            "migrates_from.states.ghost",
            "no state 'ghost' in v1",
        ),
        (
            lambda m: m["states"].update(draft={"to": "draft", "guards": ["nope"]}),
            "migrates_from.states.draft",
            "unknown guard 'nope'",
        ),
        (lambda m: m.update(version=5), "migrates_from.version", "must be an earlier version"),
    ],
)
def test_a_broken_mapping_stops_loading_naming_file_and_item(tmp_path, change, item, message):
    path = _edit(_copy(tmp_path), change)
    with pytest.raises(DefinitionError) as failed:
        load_directory(path.parent)
    assert str(failed.value) == f"{path}: {item}: {message}"


def test_a_mapping_from_a_version_that_is_not_loaded_is_refused(tmp_path):
    directory = _copy(tmp_path)
    (directory / "versions" / f"{PKA}.v1.yaml").unlink()
    with pytest.raises(DefinitionError) as failed:
        load_directory(directory)
    assert "migrates_from.version: aksi_perubahan_pka v1 is not loaded" in str(failed.value)
