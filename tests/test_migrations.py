"""The committed Alembic migration builds exactly the schema the models declare."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from workflow.extensions import db, modelled


def _differences() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": True, "include_name": modelled},
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


def test_the_seminar_revision_numbers_running_cohorts_and_keeps_their_version(app):
    """Data migration of 087437219ac0: existing cases get their NDH in name order per
    cohort, and a cohort stays on the definition version its cases run on."""
    downgrade(revision="b87348d5dcff")
    statements = [
        "INSERT INTO institutions (id, code, name, timezone)"
        " VALUES (1, 'b', 'BPSDM', 'Asia/Makassar')",
        "INSERT INTO programs (id, institution_id, code, name, definition_key)"
        " VALUES (1, 1, 'PKA', 'PKA', 'aksi_perubahan_pka')",
        "INSERT INTO cohorts (id, program_id, name, year, quota, definition_key, start_date,"
        " proposal_deadline, implementation_start, implementation_end, evaluation_date, end_date)"
        " VALUES (1, 1, 'A', 2026, 40, 'aksi_perubahan_pka', '2026-02-02', '2026-03-02',"
        " '2026-03-09', '2026-06-05', '2026-06-15', '2026-06-30'),"
        " (2, 1, 'B', 2026, 40, 'aksi_perubahan_pka', '2026-02-02', '2026-03-02',"
        " '2026-03-09', '2026-06-05', '2026-06-15', '2026-06-30')",
    ]
    names = {10: "Citra", 11: "Ahmad", 12: "Budi", 13: "Dewi"}
    for uid, name in names.items():
        statements.append(
            "INSERT INTO users (id, username, name, position, password_hash, is_admin, active,"
            f" created_at) VALUES ({uid}, 'u{uid}', '{name}', '', '', false, true,"
            " '2026-01-01 00:00:00')"
        )
    for cid, (cohort, uid) in enumerate([(1, 10), (1, 11), (1, 12), (2, 13)], start=1):
        statements.append(
            "INSERT INTO cases (id, cohort_id, trainee_id, definition_key, definition_version,"
            " state, version, state_entered_at, audit_head, event_count, created_at, title,"
            " background_current, background_ideal, core_issue, objective_short,"
            " objective_medium, objective_long, benefits, scope, innovation, resources,"
            f" stakeholders, team, risks) VALUES ({cid}, {cohort}, {uid}, 'aksi_perubahan_pka',"
            " 1, 'draft', 1, '2026-02-02 00:00:00', '', 0, '2026-02-02 00:00:00', '', '', '',"
            " '', '', '', '', '', '', '', '', '[]', '[]', '[]')"
        )
    with db.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    upgrade()
    with db.engine.connect() as conn:
        ndh = dict(conn.execute(text("SELECT trainee_id, ndh FROM cases")).all())
        versions = dict(conn.execute(text("SELECT id, definition_version FROM cohorts")).all())
    assert ndh == {11: 1, 12: 2, 10: 3, 13: 1}  # Ahmad, Budi, Citra; Dewi alone in B
    assert versions == {1: 1, 2: 1}
