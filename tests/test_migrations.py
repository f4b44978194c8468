"""The committed Alembic migration builds exactly the schema the models declare."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from workflow.extensions import db


def _differences() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_the_models(app):
    assert _differences() == []


def test_migration_is_at_head_and_round_trips(app):
    with db.engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    assert len(heads) == 1
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert _differences() == []


def test_indexes_for_cases_by_cohort_and_state_and_by_due_date(app):
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("cases")}
    assert indexes["ix_cases_cohort_state"] == ["cohort_id", "state"]
    assert indexes["ix_cases_due"] == ["due_date"]


def test_foreign_keys_are_enforced(app, backend):
    if backend == "sqlite":
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO cases (cohort_id, trainee_id, definition_key, definition_version,"
                " state, version, state_entered_at, audit_head, event_count, created_at, title,"
                " background_current, background_ideal, core_issue, objective_short,"
                " objective_medium, objective_long, benefits, scope, innovation, resources,"
                " stakeholders, team, risks)"
                " VALUES (987654, 987654, 'aksi_perubahan_pka', 1, 'draft', 1, :now, '', 0, :now,"
                " '', '', '', '', '', '', '', '', '', '', '', '[]', '[]', '[]')"
            ),
            {"now": date(2026, 3, 1)},
        )
        db.session.flush()
    db.session.rollback()


def test_foreign_keys_are_enforced_through_the_orm(world):
    from workflow.models import Case

    world.case.cohort_id = 987654
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Case, world.case.id).cohort_id == world.cohort.id
