"""Resource-based policies imported with a real AWS account, for the troubleshooter.

Revision ID: 0011_imported_resource_policies
Revises: 0010_surface
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_imported_resource_policies"
down_revision: str | None = "0010_surface"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "imported_resource_policies",
        sa.Column("account_id", STR, nullable=False),
        sa.Column("resource_arn", STR, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("import_date", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_imported_resource_policies_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "resource_arn", name=op.f("pk_imported_resource_policies")),
    )


def downgrade() -> None:
    op.drop_table("imported_resource_policies")
