"""AWS Organizations: organizations, roots, OUs, member accounts, policies, attachments, tags.

Revision ID: 0006_organizations
Revises: 0005_iam_surface
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_organizations"
down_revision: str | None = "0005_iam_surface"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=op.f(f"fk_{table}_organization_id_organizations")
    )


def upgrade() -> None:
    op.add_column("accounts", sa.Column("created_by_organization", STR, nullable=True))
    op.create_table(
        "organizations",
        sa.Column("id", STR, nullable=False),
        sa.Column("management_account_id", STR, nullable=False),
        sa.Column("feature_set", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["management_account_id"], ["accounts.id"], name=op.f("fk_organizations_management_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("management_account_id", name=op.f("uq_organizations_management_account_id")),
    )
    op.create_table(
        "org_roots",
        sa.Column("id", STR, nullable=False),
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("policy_types", sa.Text(), nullable=False),
        _org_fk("org_roots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_roots")),
    )
    op.create_index(op.f("ix_org_roots_organization_id"), "org_roots", ["organization_id"])
    op.create_table(
        "org_units",
        sa.Column("id", STR, nullable=False),
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("parent_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        _org_fk("org_units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
    )
    op.create_index(op.f("ix_org_units_organization_id"), "org_units", ["organization_id"])
    op.create_table(
        "org_accounts",
        sa.Column("account_id", STR, nullable=False),
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("parent_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("email", STR, nullable=False),
        sa.Column("joined_method", STR, nullable=False),
        sa.Column("joined_timestamp", TS, nullable=False),
        sa.Column("status", STR, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_org_accounts_account_id_accounts")),
        _org_fk("org_accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_org_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_org_accounts_email")),
    )
    op.create_index(op.f("ix_org_accounts_organization_id"), "org_accounts", ["organization_id"])
    op.create_table(
        "org_policies",
        sa.Column("id", STR, nullable=False),
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("type", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        _org_fk("org_policies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_policies")),
        sa.UniqueConstraint("organization_id", "type", "name", name=op.f("uq_org_policies_organization_id_type_name")),
    )
    op.create_table(
        "org_attachments",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("target_id", STR, nullable=False),
        sa.Column("policy_id", STR, nullable=False),
        _org_fk("org_attachments"),
        sa.PrimaryKeyConstraint("organization_id", "target_id", "policy_id", name=op.f("pk_org_attachments")),
    )
    op.create_table(
        "org_tags",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        _org_fk("org_tags"),
        sa.PrimaryKeyConstraint("organization_id", "resource_id", "key", name=op.f("pk_org_tags")),
    )
    op.create_table(
        "org_create_account_statuses",
        sa.Column("id", STR, nullable=False),
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("account_name", STR, nullable=False),
        sa.Column("state", STR, nullable=False),
        sa.Column("requested", TS, nullable=False),
        sa.Column("completed", TS, nullable=True),
        sa.Column("account_id", STR, nullable=True),
        sa.Column("failure_reason", STR, nullable=True),
        _org_fk("org_create_account_statuses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_create_account_statuses")),
    )
    op.create_index(
        op.f("ix_org_create_account_statuses_organization_id"), "org_create_account_statuses", ["organization_id"]
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
