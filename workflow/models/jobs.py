"""The job queue's tables (huey's storage, see workflow/jobs.py): in the app's own database,
so every web and worker process on every node shares one queue and a backup holds it."""

import sqlalchemy as sa

from ..extensions import db

job_tasks = db.Table(
    "job_tasks",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("priority", sa.Float, nullable=False, server_default="0"),
    sa.Column("enqueued_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
)
# The dequeue order: highest priority, then oldest.
sa.Index("ix_job_tasks_next", job_tasks.c.queue, job_tasks.c.priority.desc(), job_tasks.c.id)

job_schedule = db.Table(
    "job_schedule",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("run_at", sa.DateTime, nullable=False),  # naive UTC, like every stamp here
    sa.Index("ix_job_schedule_due", "queue", "run_at"),
)

# Results, revocations and locks: a key-value store per queue.
job_data = db.Table(
    "job_data",
    sa.Column("queue", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)
