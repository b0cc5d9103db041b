"""Initial schema: accounts, users, groups, roles, managed policies and versions,
attachments, inline policies, tags, access keys, instance profiles, audit events and the
generation counter.

Revision ID: 0001_initial_schema
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial_schema"
down_revision: str | None = None
branch_labels = None
depends_on = None

STR = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", STR, nullable=False),
        sa.Column("alias", STR, nullable=True),
        sa.Column("password_policy", sa.Text(), nullable=True),
        sa.Column("create_date", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("alias", name=op.f("uq_accounts_alias")),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("event_id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("event_name", STR, nullable=False),
        sa.Column("event_source", STR, nullable=False),
        sa.Column("user_name", STR, nullable=True),
        sa.Column("user_arn", STR, nullable=True),
        sa.Column("error_code", STR, nullable=True),
        sa.Column("request_id", STR, nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    op.create_index(
        op.f("ix_audit_events_account_id_event_name_event_time_seq"),
        "audit_events",
        ["account_id", "event_name", "event_time", "seq"],
        unique=False,
    )
    op.create_index(
        op.f("ix_audit_events_account_id_event_time_seq"),
        "audit_events",
        ["account_id", "event_time", "seq"],
        unique=False,
    )
    op.create_index(
        op.f("ix_audit_events_account_id_user_name_event_time_seq"),
        "audit_events",
        ["account_id", "user_name", "event_time", "seq"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_events_request_id"), "audit_events", ["request_id"], unique=False)
    op.create_table(
        "iamd_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_iamd_meta_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iamd_meta")),
    )
    op.create_table(
        "groups",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_groups_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_groups_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_groups_account_id_name_key")),
    )
    op.create_index(op.f("ix_groups_account_id_path"), "groups", ["account_id", "path"], unique=False)
    op.create_table(
        "policies",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_version_id", STR, nullable=True),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.Column("update_date", TS, nullable=False),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_policies_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_policies_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_policies_account_id_name_key")),
    )
    op.create_index(op.f("ix_policies_account_id_path"), "policies", ["account_id", "path"], unique=False)
    op.create_table(
        "group_inline_policies",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["groups.id"], name=op.f("fk_group_inline_policies_entity_id_groups")),
        sa.PrimaryKeyConstraint("entity_id", "name", name=op.f("pk_group_inline_policies")),
    )
    op.create_table(
        "group_policy_attachments",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("policy_id", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["groups.id"], name=op.f("fk_group_policy_attachments_entity_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_group_policy_attachments_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("entity_id", "policy_id", name=op.f("pk_group_policy_attachments")),
    )
    op.create_index(
        op.f("ix_group_policy_attachments_policy_id"), "group_policy_attachments", ["policy_id"], unique=False
    )
    op.create_table(
        "policy_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["policies.id"], name=op.f("fk_policy_tags_resource_id_policies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_policy_tags")),
    )
    op.create_table(
        "policy_versions",
        sa.Column("policy_id", STR, nullable=False),
        sa.Column("version_id", STR, nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], name=op.f("fk_policy_versions_policy_id_policies")),
        sa.PrimaryKeyConstraint("policy_id", "version_id", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "roles",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("assume_role_policy", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_session_duration", sa.Integer(), nullable=False),
        sa.Column("boundary_policy_id", STR, nullable=True),
        sa.Column("last_used_date", TS, nullable=True),
        sa.Column("last_used_region", STR, nullable=True),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_roles_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_roles_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["boundary_policy_id"], ["policies.id"], name=op.f("fk_roles_boundary_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_roles_account_id_name_key")),
    )
    op.create_index(op.f("ix_roles_account_id_path"), "roles", ["account_id", "path"], unique=False)
    op.create_index(op.f("ix_roles_boundary_policy_id"), "roles", ["boundary_policy_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("boundary_policy_id", STR, nullable=True),
        sa.Column("password_last_used", TS, nullable=True),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_users_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["boundary_policy_id"], ["policies.id"], name=op.f("fk_users_boundary_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_users_account_id_name_key")),
    )
    op.create_index(op.f("ix_users_account_id_path"), "users", ["account_id", "path"], unique=False)
    op.create_index(op.f("ix_users_boundary_policy_id"), "users", ["boundary_policy_id"], unique=False)
    op.create_table(
        "access_keys",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("user_id", STR, nullable=True),
        sa.Column("status", STR, nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("last_used_date", TS, nullable=True),
        sa.Column("last_used_service", STR, nullable=True),
        sa.Column("last_used_region", STR, nullable=True),
        sa.CheckConstraint("status IN ('Active', 'Inactive')", name=op.f("ck_access_keys_status")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_access_keys_account_id_accounts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_access_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_keys")),
    )
    op.create_index(op.f("ix_access_keys_account_id"), "access_keys", ["account_id"], unique=False)
    op.create_index(op.f("ix_access_keys_user_id"), "access_keys", ["user_id"], unique=False)
    op.create_table(
        "group_members",
        sa.Column("group_id", STR, nullable=False),
        sa.Column("user_id", STR, nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_group_members_user_id_users")),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"], unique=False)
    op.create_table(
        "instance_profiles",
        sa.Column("id", STR, nullable=False),
        sa.Column("account_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("name_key", STR, nullable=False),
        sa.Column("path", STR, nullable=False),
        sa.Column("create_date", TS, nullable=False),
        sa.Column("role_id", STR, nullable=True),
        sa.CheckConstraint("name_key = lower(name)", name=op.f("ck_instance_profiles_name_key")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_instance_profiles_account_id_accounts")),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], name=op.f("fk_instance_profiles_role_id_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_profiles")),
        sa.UniqueConstraint("account_id", "name_key", name=op.f("uq_instance_profiles_account_id_name_key")),
    )
    op.create_index(
        op.f("ix_instance_profiles_account_id_path"), "instance_profiles", ["account_id", "path"], unique=False
    )
    op.create_index(op.f("ix_instance_profiles_role_id"), "instance_profiles", ["role_id"], unique=False)
    op.create_table(
        "role_inline_policies",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["roles.id"], name=op.f("fk_role_inline_policies_entity_id_roles")),
        sa.PrimaryKeyConstraint("entity_id", "name", name=op.f("pk_role_inline_policies")),
    )
    op.create_table(
        "role_policy_attachments",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("policy_id", STR, nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["roles.id"], name=op.f("fk_role_policy_attachments_entity_id_roles")),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_role_policy_attachments_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("entity_id", "policy_id", name=op.f("pk_role_policy_attachments")),
    )
    op.create_index(
        op.f("ix_role_policy_attachments_policy_id"), "role_policy_attachments", ["policy_id"], unique=False
    )
    op.create_table(
        "role_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["roles.id"], name=op.f("fk_role_tags_resource_id_roles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_role_tags")),
    )
    op.create_table(
        "user_inline_policies",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("name", STR, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["users.id"], name=op.f("fk_user_inline_policies_entity_id_users")),
        sa.PrimaryKeyConstraint("entity_id", "name", name=op.f("pk_user_inline_policies")),
    )
    op.create_table(
        "user_policy_attachments",
        sa.Column("entity_id", STR, nullable=False),
        sa.Column("policy_id", STR, nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["users.id"], name=op.f("fk_user_policy_attachments_entity_id_users")),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_user_policy_attachments_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("entity_id", "policy_id", name=op.f("pk_user_policy_attachments")),
    )
    op.create_index(
        op.f("ix_user_policy_attachments_policy_id"), "user_policy_attachments", ["policy_id"], unique=False
    )
    op.create_table(
        "user_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["users.id"], name=op.f("fk_user_tags_resource_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_user_tags")),
    )
    op.create_table(
        "instance_profile_tags",
        sa.Column("resource_id", STR, nullable=False),
        sa.Column("key_norm", STR, nullable=False),
        sa.Column("key", STR, nullable=False),
        sa.Column("value", STR, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["instance_profiles.id"],
            name=op.f("fk_instance_profile_tags_resource_id_instance_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "key_norm", name=op.f("pk_instance_profile_tags")),
    )

    # policies.default_version_id must name an existing version of the same policy
    # (created after both tables; on SQLite batch mode rebuilds the empty table).
    with op.batch_alter_table("policies") as batch:
        batch.create_foreign_key(
            "fk_policies_default_version",
            "policy_versions",
            ["id", "default_version_id"],
            ["policy_id", "version_id"],
        )

    meta = sa.table("iamd_meta", sa.column("id", sa.Integer()), sa.column("generation", sa.BigInteger()))
    op.bulk_insert(meta, [{"id": 1, "generation": 0}])
    accounts = sa.table("accounts", sa.column("id", STR), sa.column("create_date", TS))
    op.execute(accounts.insert().values(id="aws", create_date=sa.func.current_timestamp()))


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
