"""Virtual MFA devices (sealed TOTP seeds), their tags and used codes.

Revision ID: 0003_mfa_devices
Revises: 0002_login_profiles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_mfa_devices"
down_revision: str | None = "0002_login_profiles"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mfa_devices",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("seed_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", STR, nullable=True),
        sa.Column("enable_date", TS, nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_mfa_devices_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_mfa_devices_account_id_accounts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mfa_devices_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_devices")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_mfa_devices_account_id_name_key")),
    )
    op.create_index(op.f("ix_mfa_devices_account_id_path"), "mfa_devices", ["account_id", "path"], unique=False)
    op.create_index(op.f("ix_mfa_devices_user_id"), "mfa_devices", ["user_id"], unique=False)
    op.create_table(
        "mfa_device_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["mfa_devices.id"],
            name=op.f("fk_mfa_device_tags_resource_id_mfa_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_mfa_device_tags")),
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
