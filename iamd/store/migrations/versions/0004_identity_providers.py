"""IAM OIDC and SAML identity providers and their tags.

Revision ID: 0004_identity_providers
Revises: 0003_mfa_devices
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_identity_providers"
down_revision: str | None = "0003_mfa_devices"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def _tags(name: str, owner: str) -> None:
    op.create_table(
        f"{name}_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], [f"{owner}.id"], name=op.f(f"fk_{name}_tags_resource_id_{owner}"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f(f"pk_{name}_tags")),
    )


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("url", STR, nullable=False),
        sa.Column("client_ids", sa.Text(), nullable=False),
        sa.Column("thumbprints", sa.Text(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_oidc_providers_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_providers")),
        sa.UniqueConstraint("account_id", "url", name=op.f("uq_oidc_providers_account_id_url")),
    )
    op.create_table(
        "saml_providers",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("metadata_document", sa.Text(), nullable=False),
        sa.Column("valid_until", TS, nullable=True),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("update_date", TS, nullable=False),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_saml_providers_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_saml_providers_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_providers")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_saml_providers_account_id_name_key")),
    )
    _tags("oidc_provider", "oidc_providers")
    _tags("saml_provider", "saml_providers")


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
