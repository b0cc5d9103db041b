"""Login profiles (password hashes), password history and sign-in throttling.

Revision ID: 0002_login_profiles
Revises: 0001_initial_schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_login_profiles"
down_revision: str | None = "0001_initial_schema"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_profiles",
        sa.Column("user_id", STR, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("password_reset_required", sa.Boolean(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("password_changed", TS, nullable=False),
        sa.Column("password_history", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_login_profiles_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_login_profiles")),
    )
    op.create_table(
        "signin_throttles",
        sa.Column("key", STR, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_signin_throttles")),
    )
    op.create_table(
        "credential_reports",
        sa.Column("account_id", STR, nullable=False),
        sa.Column("generated_time", TS, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credential_reports_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_credential_reports")),
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
