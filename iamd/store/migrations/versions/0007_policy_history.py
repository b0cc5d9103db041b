"""The policy history: what principals' policies were, when (docs/troubleshooting.md).

Revision ID: 0007_policy_history
Revises: 0006_organizations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_policy_history"
down_revision: str | None = "0006_organizations"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "policy_history",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("event", STR, nullable=False),
        sa.Column("owner_kind", STR, nullable=False),
        sa.Column("owner_id", STR, nullable=False),
        sa.Column("subject", STR, nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_policy_history")),
    )
    op.create_index(
        op.f("ix_policy_history_owner_kind_owner_id_seq"), "policy_history", ["owner_kind", "owner_id", "seq"]
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
