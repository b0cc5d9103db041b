"""Web console sessions in the store, shared by every server process (docs/console.md).

Revision ID: 0008_console_sessions
Revises: 0007_policy_history
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_console_sessions"
down_revision: str | None = "0007_policy_history"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", STR, nullable=False),
        sa.Column("kind", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("principal_id", STR, nullable=False),
        sa.Column("created", TS, nullable=False),
        sa.Column("expires", TS, nullable=False),
        sa.Column("revoked", TS, nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_account_id_principal_id"), "console_sessions", ["account_id", "principal_id"]
    )
    op.create_index(op.f("ix_console_sessions_expires"), "console_sessions", ["expires"])


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
