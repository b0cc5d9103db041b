"""Per-account entity quotas raised (or lowered) for a self-hosted account (docs/iam-api.md, "Quotas").

Revision ID: 0013_account_quotas
Revises: 0012_orgs_delegation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_account_quotas"
down_revision: str | None = "0012_orgs_delegation"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "account_quotas",
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_quotas_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "name", name=op.f("pk_account_quotas")),
    )


def downgrade() -> None:
    op.drop_table("account_quotas")
