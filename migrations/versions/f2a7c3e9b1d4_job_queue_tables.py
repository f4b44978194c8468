"""the job queue's tables (huey storage in the app's database)

Revision ID: f2a7c3e9b1d4
Revises: e4b1c9d2a7f3
Create Date: 2026-12-05 19:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f2a7c3e9b1d4"
down_revision = "e4b1c9d2a7f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("priority", sa.Float(), server_default="0", nullable=False),
        sa.Column("enqueued_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_tasks")),
    )
    op.create_index(
        "ix_job_tasks_next", "job_tasks", ["queue", sa.text("priority DESC"), "id"], unique=False
    )
    op.create_table(
        "job_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("run_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedule")),
    )
    op.create_index("ix_job_schedule_due", "job_schedule", ["queue", "run_at"], unique=False)
    op.create_table(
        "job_data",
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "key", name=op.f("pk_job_data")),
    )


def downgrade():
    op.drop_table("job_data")
    op.drop_index("ix_job_schedule_due", table_name="job_schedule")
    op.drop_table("job_schedule")
    op.drop_index("ix_job_tasks_next", table_name="job_tasks")
    op.drop_table("job_tasks")
