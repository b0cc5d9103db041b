"""Organizations: trusted access, delegated administrators and the delegation (resource) policy.

Revision ID: 0012_orgs_delegation
Revises: 0011_imported_resource_policies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_orgs_delegation"
down_revision: str | None = "0011_imported_resource_policies"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=op.f(f"fk_{table}_organization_id_organizations")
    )


def upgrade() -> None:
    op.create_table(
        "org_service_access",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("service_principal", STR, nullable=False),
        sa.Column("date_enabled", TS, nullable=False),
        _org_fk("org_service_access"),
        sa.PrimaryKeyConstraint("organization_id", "service_principal", name=op.f("pk_org_service_access")),
    )
    op.create_table(
        "org_delegated_admins",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("service_principal", STR, nullable=False),
        sa.Column("delegation_enabled_date", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_org_delegated_admins_account_id_accounts")
        ),
        _org_fk("org_delegated_admins"),
        sa.PrimaryKeyConstraint(
            "organization_id", "account_id", "service_principal", name=op.f("pk_org_delegated_admins")
        ),
    )
    op.create_table(
        "org_resource_policies",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("id", STR, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _org_fk("org_resource_policies"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_org_resource_policies")),
        sa.UniqueConstraint("id", name=op.f("uq_org_resource_policies_id")),
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
