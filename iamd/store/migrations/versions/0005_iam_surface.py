"""The rest of IAM's surface: the server's partition, STS preferences, SSH public keys, signing
certificates, service-specific credentials, server certificates (and their tags) and
service-linked role deletion tasks.

Revision ID: 0005_iam_surface
Revises: 0004_identity_providers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_iam_surface"
down_revision: str | None = "0004_identity_providers"
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def _status(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("status IN ('Active', 'Inactive')", name=op.f(f"ck_{table}_status"))


def upgrade() -> None:
    with op.batch_alter_table("iamd_meta") as batch:
        batch.add_column(sa.Column("partition", STR, nullable=False, server_default="aws"))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("sts_token_version", sa.Integer(), nullable=True))
    op.create_table(
        "ssh_public_keys",
        sa.Column("id", STR, nullable=False),
        sa.Column("user_id", STR, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fingerprint", STR, nullable=False),
        sa.Column("status", STR, nullable=False),
        sa.Column("upload_date", TS, nullable=False),
        _status("ssh_public_keys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_ssh_public_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssh_public_keys")),
        sa.UniqueConstraint("user_id", "fingerprint", name=op.f("uq_ssh_public_keys_user_id_fingerprint")),
    )
    op.create_index(op.f("ix_ssh_public_keys_user_id"), "ssh_public_keys", ["user_id"])
    op.create_table(
        "signing_certificates",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("user_id", STR, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fingerprint", STR, nullable=False),
        sa.Column("status", STR, nullable=False),
        sa.Column("upload_date", TS, nullable=False),
        _status("signing_certificates"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_signing_certificates_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_signing_certificates_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_certificates")),
        sa.UniqueConstraint("account_id", "fingerprint", name=op.f("uq_signing_certificates_account_id_fingerprint")),
    )
    op.create_index(op.f("ix_signing_certificates_user_id"), "signing_certificates", ["user_id"])
    op.create_table(
        "service_specific_credentials",
        sa.Column("id", STR, nullable=False),
        sa.Column("user_id", STR, nullable=False),
        sa.Column("service_name", STR, nullable=False),
        sa.Column("service_user_name", STR, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        _status("service_specific_credentials"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_service_specific_credentials_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_specific_credentials")),
    )
    op.create_index(op.f("ix_service_specific_credentials_user_id"), "service_specific_credentials", ["user_id"])
    op.create_table(
        "server_certificates",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expiration", TS, nullable=False),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_server_certificates_name_key")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_server_certificates_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_certificates")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_server_certificates_account_id_name_key")),
    )
    op.create_index(op.f("ix_server_certificates_account_id_path"), "server_certificates", ["account_id", "path"])
    op.create_table(
        "server_certificate_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["server_certificates.id"],
            name=op.f("fk_server_certificate_tags_resource_id_server_certificates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_server_certificate_tags")),
    )
    op.create_table(
        "service_linked_role_deletions",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("status", STR, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_service_linked_role_deletions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_linked_role_deletions")),
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
