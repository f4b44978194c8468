"""follow-up of medium- and long-term milestones after graduation

Revision ID: a1c0f0110012
Revises: f2a7c3e9b1d4
Create Date: 2026-12-05 19:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a1c0f0110012"
down_revision = "f2a7c3e9b1d4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "followup_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_followup_rounds_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_rounds")),
        sa.UniqueConstraint("case_id", "horizon", name=op.f("uq_followup_rounds_case_id")),
    )
    op.create_index("ix_followup_rounds_status", "followup_rounds", ["status", "case_id"])
    op.create_table(
        "followup_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("decided_as", sa.String(length=20), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("decision_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_followup_reports_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_followup_reports_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_followup_reports_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decision_event_id"],
            ["audit_events.id"],
            name=op.f("fk_followup_reports_decision_event_id_audit_events"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.id"],
            name=op.f("fk_followup_reports_event_id_audit_events"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["followup_rounds.id"],
            name=op.f("fk_followup_reports_round_id_followup_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_reports")),
        sa.UniqueConstraint("round_id", "number", name=op.f("uq_followup_reports_round_id")),
    )
    op.create_index(
        op.f("ix_followup_reports_case_id"), "followup_reports", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_followup_reports_round_id"), "followup_reports", ["round_id"], unique=False
    )
    op.create_table(
        "followup_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("achieved_quantity", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["milestones.id"],
            name=op.f("fk_followup_results_milestone_id_milestones"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["followup_reports.id"],
            name=op.f("fk_followup_results_report_id_followup_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_results")),
        sa.UniqueConstraint(
            "report_id", "milestone_id", name=op.f("uq_followup_results_report_id")
        ),
    )
    op.create_index(
        op.f("ix_followup_results_milestone_id"),
        "followup_results",
        ["milestone_id"],
        unique=False,
    )
    op.create_table(
        "followup_evidence",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_followup_evidence_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["followup_reports.id"],
            name=op.f("fk_followup_evidence_report_id_followup_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "document_id", name=op.f("pk_followup_evidence")),
    )
    op.create_index(
        op.f("ix_followup_evidence_document_id"),
        "followup_evidence",
        ["document_id"],
        unique=False,
    )


def downgrade():
    op.drop_index(op.f("ix_followup_evidence_document_id"), table_name="followup_evidence")
    op.drop_table("followup_evidence")
    op.drop_index(op.f("ix_followup_results_milestone_id"), table_name="followup_results")
    op.drop_table("followup_results")
    op.drop_index(op.f("ix_followup_reports_round_id"), table_name="followup_reports")
    op.drop_index(op.f("ix_followup_reports_case_id"), table_name="followup_reports")
    op.drop_table("followup_reports")
    op.drop_index("ix_followup_rounds_status", table_name="followup_rounds")
    op.drop_table("followup_rounds")
