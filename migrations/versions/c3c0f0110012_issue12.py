"""embeddings of proposals for near-duplicate detection

Revision ID: c3c0f0110012
Revises: b2c0f0110012
Create Date: 2026-12-05 19:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c3c0f0110012"
down_revision = "b2c0f0110012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_embeddings_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_case_embeddings_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_case_embeddings_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_embeddings")),
        sa.UniqueConstraint("case_id", "source", "model", name=op.f("uq_case_embeddings_case_id")),
        sqlite_autoincrement=True,  # a replaced vector always gets a larger id
    )
    op.create_index(
        "ix_case_embeddings_lookup",
        "case_embeddings",
        ["institution_id", "model", "source", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_case_embeddings_cohort_id"), "case_embeddings", ["cohort_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_case_embeddings_cohort_id"), table_name="case_embeddings")
    op.drop_index("ix_case_embeddings_lookup", table_name="case_embeddings")
    op.drop_table("case_embeddings")
