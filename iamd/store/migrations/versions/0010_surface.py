"""Last-accessed report jobs, outbound web identity federation (its issuer and signing keys) and
the Organizations root-access features.

Revision ID: 0010_surface
Revises: 0009_audit_compact
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_surface"
down_revision: str | None = "0009_audit_compact"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_report_jobs",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("kind", STR, nullable=False),
        sa.Column("creator_arn", STR, nullable=False),
        sa.Column("subject", STR, nullable=False),
        sa.Column("granularity", STR, nullable=True),
        sa.Column("status", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("completion_date", TS, nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_access_report_jobs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_report_jobs")),
    )
    op.create_index(op.f("ix_access_report_jobs_account_id"), "access_report_jobs", ["account_id"])
    op.create_table(
        "outbound_federation",
        sa.Column("account_id", STR, nullable=False),
        sa.Column("issuer_id", STR, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_outbound_federation_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_outbound_federation")),
        sa.UniqueConstraint("issuer_id", name=op.f("uq_outbound_federation_issuer_id")),
    )
    op.create_table(
        "web_identity_keys",
        sa.Column("kid", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("algorithm", STR, nullable=False),
        sa.Column("private_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_web_identity_keys_account_id_accounts")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_web_identity_keys")),
    )
    op.create_index(op.f("ix_web_identity_keys_account_id"), "web_identity_keys", ["account_id"])
    op.create_table(
        "org_root_features",
        sa.Column("organization_id", STR, nullable=False),
        sa.Column("feature", STR, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "feature", name=op.f("pk_org_root_features")),
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
