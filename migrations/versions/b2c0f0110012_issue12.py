"""repository search and the public showcase

Revision ID: b2c0f0110012
Revises: a1c0f0110012
Create Date: 2026-12-05 19:30:00.000000

The repository's full-text index is kept in step with `repository_entries` by the
database itself, whatever writes the rows (the service, a bulk load, a restore):
SQLite: an FTS5 table over the entries (external content) and three triggers;
PostgreSQL: a trigger fills `search_vector` (title weighted A, problem B, results C) and a
GIN index serves the search. The 'simple' configuration: no stemmer knows Indonesian.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "b2c0f0110012"
down_revision = "a1c0f0110012"
branch_labels = None
depends_on = None

SQLITE_FULLTEXT = (
    "CREATE VIRTUAL TABLE repository_fts USING fts5(title, problem, results,"
    " content='repository_entries', content_rowid='case_id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER repository_entries_ai AFTER INSERT ON repository_entries BEGIN"
    " INSERT INTO repository_fts(rowid, title, problem, results)"
    " VALUES (new.case_id, new.title, new.problem, new.results); END",
    "CREATE TRIGGER repository_entries_ad AFTER DELETE ON repository_entries BEGIN"
    " INSERT INTO repository_fts(repository_fts, rowid, title, problem, results)"
    " VALUES ('delete', old.case_id, old.title, old.problem, old.results); END",
    "CREATE TRIGGER repository_entries_au AFTER UPDATE OF title, problem, results"
    " ON repository_entries BEGIN"
    " INSERT INTO repository_fts(repository_fts, rowid, title, problem, results)"
    " VALUES ('delete', old.case_id, old.title, old.problem, old.results);"
    " INSERT INTO repository_fts(rowid, title, problem, results)"
    " VALUES (new.case_id, new.title, new.problem, new.results); END",
)
POSTGRESQL_FULLTEXT = (
    "CREATE FUNCTION repository_entries_vector() RETURNS trigger AS $$ BEGIN"
    " NEW.search_vector :="
    " setweight(to_tsvector('simple', coalesce(NEW.title, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce(NEW.problem, '')), 'B')"
    " || setweight(to_tsvector('simple', coalesce(NEW.results, '')), 'C');"
    " RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER repository_entries_vector BEFORE INSERT OR UPDATE OF title, problem,"
    " results ON repository_entries FOR EACH ROW EXECUTE FUNCTION repository_entries_vector()",
)


def upgrade():
    # In place (no batch copy of `users`, which rows of other tables point at).
    op.add_column(
        "users",
        sa.Column("national_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )

    op.create_table(
        "repository_entries",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("program_code", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("province_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("result", sa.String(length=12), nullable=False),
        sa.Column("predicate", sa.String(length=40), nullable=False),
        sa.Column("sustainability", sa.String(length=10), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.Column(
            "search_vector",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_repository_entries_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_repository_entries_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_repository_entries_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_repository_entries_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["province_id"], ["regions.id"], name=op.f("fk_repository_entries_province_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_repository_entries_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_repository_entries")),
    )
    with op.batch_alter_table("repository_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repository_entries_agency_id"), ["agency_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repository_entries_cohort_id"), ["cohort_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repository_entries_province_id"), ["province_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repository_entries_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            "ix_repository_entries_scope", ["listed", "institution_id", "year"], unique=False
        )
        batch_op.create_index(
            "ix_repository_entries_search",
            ["search_vector"],
            unique=False,
            postgresql_using="gin",
        )

    op.create_table(
        "showcase_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("given_by_id", sa.Integer(), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_showcase_consents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["given_by_id"], ["users.id"], name=op.f("fk_showcase_consents_given_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["users.id"],
            name=op.f("fk_showcase_consents_withdrawn_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_consents")),
    )
    op.create_index(
        "ix_showcase_consents_case",
        "showcase_consents",
        ["case_id", "party", "withdrawn_at"],
        unique=False,
    )

    op.create_table(
        "showcase_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("chosen_by_id", sa.Integer(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_showcase_photos_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chosen_by_id"], ["users.id"], name=op.f("fk_showcase_photos_chosen_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_showcase_photos_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_photos")),
        sa.UniqueConstraint("case_id", "document_id", name=op.f("uq_showcase_photos_case_id")),
    )
    op.create_index(
        op.f("ix_showcase_photos_case_id"), "showcase_photos", ["case_id"], unique=False
    )

    statements = {"sqlite": SQLITE_FULLTEXT, "postgresql": POSTGRESQL_FULLTEXT}
    for statement in statements.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("repository_entries_ai", "repository_entries_ad", "repository_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS repository_fts")
    op.drop_index(op.f("ix_showcase_photos_case_id"), table_name="showcase_photos")
    op.drop_table("showcase_photos")
    op.drop_index("ix_showcase_consents_case", table_name="showcase_consents")
    op.drop_table("showcase_consents")
    op.drop_table("repository_entries")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS repository_entries_vector()")
    # Not batch mode: on SQLite that copies and drops `users`, which the foreign keys of
    # rows in later tables refuse; SQLite 3.35+ drops a plain column in place.
    op.execute("ALTER TABLE users DROP COLUMN national_admin")
