"""session versions, API tokens with a lifecycle (moved out of users.api_token_hash),
failed logins counted in the database

Revision ID: e4b1c9d2a7f3
Revises: 087437219ac0
Create Date: 2026-12-06 09:00:00.000000

"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e4b1c9d2a7f3"
down_revision = "087437219ac0"
branch_labels = None
depends_on = None

# A token moved from the old column gets the default lifetime from the day of the upgrade.
MOVED_TOKEN_DAYS = 90


def upgrade():
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), server_default=sa.text("''"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_key", "login_failures", ["kind", "key", "failed_at"], unique=False
    )
    op.create_index(
        op.f("ix_login_failures_failed_at"), "login_failures", ["failed_at"], unique=False
    )

    # Existing tokens keep working: their hashes move into the table (with an expiry), and
    # the old column is emptied so no second copy of a live credential stays behind.
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, api_token_hash FROM users WHERE api_token_hash IS NOT NULL")
    ).all()
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO api_tokens (user_id, token_hash, name, created_at, expires_at)"
                " VALUES (:user_id, :token_hash, 'cli', :now, :expires_at)"
            ),
            [
                {
                    "user_id": user_id,
                    "token_hash": token_hash,
                    "now": now,
                    "expires_at": now + timedelta(days=MOVED_TOKEN_DAYS),
                }
                for user_id, token_hash in rows
            ],
        )
        conn.execute(sa.text("UPDATE users SET api_token_hash = NULL"))


def downgrade():
    # The old code knows one token per person: put back the newest live one.
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT user_id, token_hash FROM api_tokens"
            " WHERE revoked_at IS NULL AND expires_at > :now ORDER BY id"
        ),
        {"now": now},
    ).all()
    newest = dict(rows)  # later rows win
    for user_id, token_hash in newest.items():
        conn.execute(
            sa.text("UPDATE users SET api_token_hash = :token_hash WHERE id = :user_id"),
            {"token_hash": token_hash, "user_id": user_id},
        )
    op.drop_index(op.f("ix_login_failures_failed_at"), table_name="login_failures")
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
