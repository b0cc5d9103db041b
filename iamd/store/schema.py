"""The current schema as SQLAlchemy Core tables (the migrations build exactly this).

Conventions: entity primary keys are the AWS unique ids (``AIDA…``, ``AROA…``); names are
unique per account through ``name_key`` (the ASCII-lower-cased name, checked against
``lower(name)`` by the database); text compares bytewise (``COLLATE "C"`` on PostgreSQL,
SQLite's default) so ordering and paging agree across backends. Foreign keys restrict by
default — the store refuses a delete that would orphan anything — and only tags cascade.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

__all__ = ["metadata"]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

Str = String().with_variant(String(collation="C"), "postgresql")
"""Identifier text: bytewise comparison everywhere."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _named(name: str, *extra: Column[object] | Index | CheckConstraint) -> Table:
    """An account-scoped entity with a case-insensitively unique name and a path."""
    return Table(
        name,
        metadata,
        Column("id", Str, primary_key=True),
        Column("account_id", Str, ForeignKey("accounts.id"), nullable=False),
        Column("name", Str, nullable=False),
        Column("name_key", Str, nullable=False),
        Column("path", Str, nullable=False),
        Column("create_date", UtcDateTime, nullable=False),
        *extra,
        UniqueConstraint("account_id", "name_key"),
        CheckConstraint("name_key = lower(name)", name="name_key"),
        Index(None, "account_id", "path"),
    )


def _entity_ref(kind: str) -> ForeignKey:
    """A foreign key to an entity of ``kind`` (``user``, ``group``, ``role``)."""
    return _user_ref() if kind == "user" else ForeignKey(f"{kind}s.id")


def _user_ref() -> ForeignKey:
    """A foreign key to ``users``: ``ON DELETE RESTRICT`` (migration 0017). The same integrity as
    ``NO ACTION``, but PostgreSQL's check of a deleted user is one query per key instead of two
    (bench/README.md, "Session 15: PostgreSQL's own CPU per write")."""
    return ForeignKey("users.id", ondelete="RESTRICT")


meta = Table(
    "iamd_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
    # the partition the database's ARNs are in, chosen on first start (iamd.partitions)
    Column("partition", Str, nullable=False, server_default="aws"),
    CheckConstraint("id = 1", name="single_row"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Str, primary_key=True),
    Column("alias", Str, nullable=True, unique=True),
    Column("password_policy", Text, nullable=True),
    Column("create_date", UtcDateTime, nullable=False),
    # SetSecurityTokenServicePreferences: 1 or 2; NULL is AWS's default for the partition
    Column("sts_token_version", Integer, nullable=True),
    # The organization whose CreateAccount made it; NULL for the server's own account(s).
    Column("created_by_organization", Str, nullable=True),
)

users = _named(
    "users",
    Column("boundary_policy_id", Str, ForeignKey("policies.id"), nullable=True, index=True),
    Column("password_last_used", UtcDateTime, nullable=True),
)

groups = _named("groups")

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Str, ForeignKey("groups.id"), primary_key=True),
    Column("user_id", Str, _user_ref(), primary_key=True, index=True),
)

roles = _named(
    "roles",
    Column("assume_role_policy", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("max_session_duration", Integer, nullable=False),
    Column("boundary_policy_id", Str, ForeignKey("policies.id"), nullable=True, index=True),
    Column("last_used_date", UtcDateTime, nullable=True),
    Column("last_used_region", Str, nullable=True),
)

policies = _named(
    "policies",
    Column("description", Text, nullable=True),
    Column("default_version_id", Str, nullable=True),
    Column("next_version", Integer, nullable=False),
    Column("update_date", UtcDateTime, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", Str, ForeignKey("policies.id"), primary_key=True),
    Column("version_id", Str, primary_key=True),
    Column("version_no", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
)

# The default version must exist: deleting it is refused by the database as well.
policies.append_constraint(
    ForeignKeyConstraint(
        ["id", "default_version_id"],
        ["policy_versions.policy_id", "policy_versions.version_id"],
        name="fk_policies_default_version",
        use_alter=True,
    )
)


def _attachments(kind: str) -> Table:
    return Table(
        f"{kind}_policy_attachments",
        metadata,
        Column("entity_id", Str, _entity_ref(kind), primary_key=True),
        Column("policy_id", Str, ForeignKey("policies.id"), primary_key=True, index=True),
    )


def _inline(kind: str) -> Table:
    return Table(
        f"{kind}_inline_policies",
        metadata,
        Column("entity_id", Str, _entity_ref(kind), primary_key=True),
        Column("name", Str, primary_key=True),
        Column("document", Text, nullable=False),
    )


def _tags(name: str, owner: str) -> Table:
    return Table(
        f"{name}_tags",
        metadata,
        Column("resource_id", Str, ForeignKey(f"{owner}.id", ondelete="CASCADE"), primary_key=True),
        Column("key_norm", Str, primary_key=True),
        Column("key", Str, nullable=False),
        Column("value", Str, nullable=False),
    )


user_policy_attachments = _attachments("user")
group_policy_attachments = _attachments("group")
role_policy_attachments = _attachments("role")
user_inline_policies = _inline("user")
group_inline_policies = _inline("group")
role_inline_policies = _inline("role")

instance_profiles = _named(
    "instance_profiles",
    Column("role_id", Str, ForeignKey("roles.id"), nullable=True, index=True),
)

user_tags = _tags("user", "users")
role_tags = _tags("role", "roles")
policy_tags = _tags("policy", "policies")
instance_profile_tags = _tags("instance_profile", "instance_profiles")

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", Str, primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("user_id", Str, _user_ref(), nullable=True, index=True),
    Column("status", Str, nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
    Column("last_used_date", UtcDateTime, nullable=True),
    Column("last_used_service", Str, nullable=True),
    Column("last_used_region", Str, nullable=True),
    CheckConstraint("status IN ('Active', 'Inactive')", name="status"),
)

# The audit trail (docs/audit.md, "The stored record"): one row per event, its CloudTrail
# record kept as its parts (iamd/store/audit_codec.py), the repeating strings interned in
# audit_strings. Two indexes (docs/audit.md, "Indexes"): every event in the trail's (an account's
# events by time, filtered by user, event name, error, writes); a request id's events only for
# the events that are not successful reads; the event id has none.
audit_strings = Table(
    "audit_strings",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("digest", LargeBinary, nullable=False, unique=True),
    Column("value", Text, nullable=False),
)

_Ref = BigInteger().with_variant(Integer, "sqlite")  # an audit_strings id

# The events that are not successful reads (flags & 1: READ_ONLY, iamd/store/audit_codec.py):
# what the request id's partial index holds. Queries that use the index repeat this text.
NOTABLE = text("error_code IS NOT NULL OR (flags & 1) = 0")
# What the partial indexes by event name and by user hold: the events that are not successful
# reads, and the reads whose event name is not a read's (flags & 8: ODD_READ), so that every event
# of a name that is not a read's is in them (migration 0015). Queries that use them repeat this text.
LISTED = text("error_code IS NOT NULL OR (flags & 9) <> 1")

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", LargeBinary, nullable=False),
    Column("request_id", LargeBinary, nullable=True),
    Column("event_time", BigInteger, nullable=False),  # seconds since the epoch
    Column("account_id", _Ref, nullable=False),
    Column("event_name", _Ref, nullable=False),
    Column("event_source", _Ref, nullable=False),
    Column("user_name", _Ref, nullable=True),
    Column("identity", _Ref, nullable=False),
    Column("region", _Ref, nullable=True),
    Column("source_ip", _Ref, nullable=True),
    Column("user_agent", _Ref, nullable=True),
    Column("error_code", _Ref, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("decision", _Ref, nullable=True),
    Column("resource", _Ref, nullable=True),
    Column("params", Text, nullable=True),
    Column("response", Text, nullable=True),
    Column("authentication", Text, nullable=True),
    Column("redacted", Text, nullable=True),
    Column("extra", Text, nullable=True),
    Column("flags", Integer, nullable=False),
    # Every listing of the trail: the order from the leading columns, the filters checked on the
    # index entries (migration 0014).
    Index("ix_audit_events_trail", "account_id", "event_time", "seq", "event_name", "user_name", "error_code", "flags"),
    # A request's events, of the calls that failed, were denied or wrote (not a successful read).
    Index("ix_audit_events_notable_request_id", "request_id", sqlite_where=NOTABLE, postgresql_where=NOTABLE),
    # A rare event name's or user's events, when the listing asks for none of the successful reads:
    # failures, denials, writes, a name that is not a read's (migration 0015).
    Index(
        "ix_audit_events_listed_name",
        "account_id",
        "event_name",
        "event_time",
        "seq",
        sqlite_where=LISTED,
        postgresql_where=LISTED,
    ),
    Index(
        "ix_audit_events_listed_user",
        "account_id",
        "user_name",
        "event_time",
        "seq",
        sqlite_where=LISTED,
        postgresql_where=LISTED,
    ),
)

# -- policy history -------------------------------------------------------------------
# Every change to what a principal's policies are, as it happens, for the troubleshooter's
# "as it was" replay (docs/troubleshooting.md). One row per change: ``event`` is create
# (a user, group or role came to be), inline (``subject`` the policy name, ``document`` its
# text or NULL when deleted), attach / detach (``subject`` the policy ARN), boundary
# (``subject`` the ARN or NULL), join / leave (a user's group, ``subject`` the group id),
# trust (a role's trust policy) or default (a managed policy's default document, NULL when the
# policy is deleted; the owner is the policy, by ARN). Entities are named by their unique id,
# which survives renames. No foreign keys: history outlives what it describes.
policy_history = Table(
    "policy_history",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account_id", Str, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("event", Str, nullable=False),
    Column("owner_kind", Str, nullable=False),
    Column("owner_id", Str, nullable=False),
    Column("subject", Str, nullable=True),
    Column("document", Text, nullable=True),
    Index(None, "owner_kind", "owner_id", "seq"),
)

# -- virtual MFA devices -------------------------------------------------------------
# The id is the serial number (``arn:aws:iam::<acct>:mfa/<path><name>``). Names are unique per
# account case-insensitively, whatever the path, as for every other named IAM entity. The TOTP
# seed is sealed (SecretBox, bound to the serial); ``last_step`` is the newest TOTP time-step
# ever accepted (replay prevention) and ``drift`` the device clock's offset in steps.
mfa_devices = _named(
    "mfa_devices",
    Column("seed_sealed", LargeBinary, nullable=False),
    Column("user_id", Str, _user_ref(), nullable=True, index=True),
    Column("enable_date", UtcDateTime, nullable=True),
    Column("last_step", BigInteger, nullable=True),
    Column("drift", Integer, nullable=False),
)
mfa_device_tags = _tags("mfa_device", "mfa_devices")
# -- identity providers (federation) ------------------------------------------------
# OIDC providers are keyed by their URL without the scheme (host[/path]), exactly as the ARN
# spells it; SAML providers by name (case-insensitively unique, as other IAM names). Client
# ids and thumbprints are small ordered lists kept as JSON text.
oidc_providers = Table(
    "oidc_providers",
    metadata,
    Column("id", Str, primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False),
    Column("url", Str, nullable=False),
    Column("client_ids", Text, nullable=False),
    Column("thumbprints", Text, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "url"),
)

saml_providers = Table(
    "saml_providers",
    metadata,
    Column("id", Str, primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False),
    Column("name", Str, nullable=False),
    Column("name_key", Str, nullable=False),
    Column("metadata_document", Text, nullable=False),
    Column("valid_until", UtcDateTime, nullable=True),
    Column("create_date", UtcDateTime, nullable=False),
    Column("update_date", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key"),
    CheckConstraint("name_key = lower(name)", name="name_key"),
)

oidc_provider_tags = _tags("oidc_provider", "oidc_providers")
saml_provider_tags = _tags("saml_provider", "saml_providers")
# -- login profiles, password history, sign-in throttling, credential reports ----
login_profiles = Table(
    "login_profiles",
    metadata,
    Column("user_id", Str, _user_ref(), primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("password_reset_required", Boolean, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),  # first password creation
    Column("password_changed", UtcDateTime, nullable=False),  # last time the password was set
    Column("password_history", Text, nullable=False),  # JSON list of earlier argon2id hashes, newest first
)

signin_throttles = Table(
    "signin_throttles",
    metadata,
    Column("key", Str, primary_key=True),  # "user:<sha256 of account:name key>" or "ip:<address>"
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", Str, primary_key=True),  # SHA-256 (hex) of the browser's token, never the token
    Column("kind", Str, nullable=False),  # "session" or "pending"
    Column("account_id", Str, nullable=False),
    Column("principal_id", Str, nullable=False),  # the user's unique id, or "root"
    Column("created", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Column("revoked", UtcDateTime, nullable=True),
    Column("tries", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),  # sealed under a key derived from the token
    Index(None, "account_id", "principal_id"),
    Index(None, "expires"),
)

credential_reports = Table(
    "credential_reports",
    metadata,
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),
    Column("generated_time", UtcDateTime, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# -- SSH public keys, signing certificates, service-specific credentials ------------
# Per user (signing certificates: also the root user's, user_id NULL). Fingerprints are what
# duplicates are found by: an SSH key's MD5 fingerprint per user, a certificate's SHA-256 of
# its DER encoding per account (AWS refuses the same certificate twice in an account).
ssh_public_keys = Table(
    "ssh_public_keys",
    metadata,
    Column("id", Str, primary_key=True),
    Column("user_id", Str, _user_ref(), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("fingerprint", Str, nullable=False),
    Column("status", Str, nullable=False),
    Column("upload_date", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "fingerprint"),
    CheckConstraint("status IN ('Active', 'Inactive')", name="status"),
)

signing_certificates = Table(
    "signing_certificates",
    metadata,
    Column("id", Str, primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Str, _user_ref(), nullable=True, index=True),
    Column("body", Text, nullable=False),
    Column("fingerprint", Str, nullable=False),
    Column("status", Str, nullable=False),
    Column("upload_date", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "fingerprint"),
    CheckConstraint("status IN ('Active', 'Inactive')", name="status"),
)

# The password is a secret: only its argon2id hash is kept (shown once, at creation or reset).
service_specific_credentials = Table(
    "service_specific_credentials",
    metadata,
    Column("id", Str, primary_key=True),
    Column("user_id", Str, _user_ref(), nullable=False, index=True),
    Column("service_name", Str, nullable=False),
    Column("service_user_name", Str, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("status", Str, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('Active', 'Inactive')", name="status"),
)

# -- server certificates ----------------------------------------------------------------
# The private key is sealed (SecretBox, bound to the certificate id) and never returned.
server_certificates = _named(
    "server_certificates",
    Column("body", Text, nullable=False),
    Column("chain", Text, nullable=True),
    Column("private_key_sealed", LargeBinary, nullable=False),
    Column("expiration", UtcDateTime, nullable=False),
)
server_certificate_tags = _tags("server_certificate", "server_certificates")

# -- service-linked role deletion tasks (DeleteServiceLinkedRole) ---------------------
service_linked_role_deletions = Table(
    "service_linked_role_deletions",
    metadata,
    Column("id", Str, primary_key=True),  # the DeletionTaskId
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False),
    Column("status", Str, nullable=False),
    Column("reason", Text, nullable=True),
    Column("create_date", UtcDateTime, nullable=False),
)
# -- AWS Organizations: organizations, roots, OUs, member accounts, SCPs/RCPs, attachments --------
organizations = Table(
    "organizations",
    metadata,
    Column("id", Str, primary_key=True),  # o-…
    Column("management_account_id", Str, ForeignKey("accounts.id"), nullable=False, unique=True),
    Column("feature_set", Str, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
)

org_roots = Table(
    "org_roots",
    metadata,
    Column("id", Str, primary_key=True),  # r-…
    Column("organization_id", Str, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", Str, nullable=False),
    Column("policy_types", Text, nullable=False),  # JSON list of the enabled policy types
)

org_units = Table(
    "org_units",
    metadata,
    Column("id", Str, primary_key=True),  # ou-…
    Column("organization_id", Str, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("parent_id", Str, nullable=False),  # a root or OU id
    Column("name", Str, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
)

org_accounts = Table(
    "org_accounts",
    metadata,
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),  # one organization at most
    Column("organization_id", Str, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("parent_id", Str, nullable=False),
    Column("name", Str, nullable=False),
    Column("email", Str, nullable=False, unique=True),
    Column("joined_method", Str, nullable=False),
    Column("joined_timestamp", UtcDateTime, nullable=False),
    Column("status", Str, nullable=False),
)

org_policies = Table(
    "org_policies",
    metadata,
    Column("id", Str, primary_key=True),  # p-… (AWS managed ones are not stored)
    Column("organization_id", Str, ForeignKey("organizations.id"), nullable=False),
    Column("type", Str, nullable=False),
    Column("name", Str, nullable=False),
    Column("description", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "type", "name"),
)

org_attachments = Table(
    "org_attachments",
    metadata,
    Column("organization_id", Str, ForeignKey("organizations.id"), primary_key=True),
    Column("target_id", Str, primary_key=True),
    Column("policy_id", Str, primary_key=True),  # a stored policy or an AWS managed one
)

org_tags = Table(
    "org_tags",
    metadata,
    Column("organization_id", Str, ForeignKey("organizations.id"), primary_key=True),
    Column("resource_id", Str, primary_key=True),
    Column("key", Str, primary_key=True),
    Column("value", Str, nullable=False),
)

org_create_account_statuses = Table(
    "org_create_account_statuses",
    metadata,
    Column("id", Str, primary_key=True),  # car-…
    Column("organization_id", Str, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("account_name", Str, nullable=False),
    Column("state", Str, nullable=False),
    Column("requested", UtcDateTime, nullable=False),
    Column("completed", UtcDateTime, nullable=True),
    Column("account_id", Str, nullable=True),
    Column("failure_reason", Str, nullable=True),
)

# -- last-accessed report jobs, outbound web identity federation, root-access features ---------
access_report_jobs = Table(
    "access_report_jobs",
    metadata,
    Column("id", Str, primary_key=True),  # the JobId (a UUID)
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", Str, nullable=False),  # service | organizations
    Column("creator_arn", Str, nullable=False),
    Column("subject", Str, nullable=False),
    Column("granularity", Str, nullable=True),
    Column("status", Str, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
    Column("completion_date", UtcDateTime, nullable=True),
    Column("report", Text, nullable=False),
)

outbound_federation = Table(
    "outbound_federation",
    metadata,
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),
    Column("issuer_id", Str, nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
)

web_identity_keys = Table(
    "web_identity_keys",
    metadata,
    Column("kid", Str, primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("algorithm", Str, nullable=False),
    Column("private_sealed", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("create_date", UtcDateTime, nullable=False),
)

org_root_features = Table(
    "org_root_features",
    metadata,
    Column("organization_id", Str, primary_key=True),  # no foreign key: a deleted organization's rows are inert
    Column("feature", Str, primary_key=True),  # RootCredentialsManagement | RootSessions
)

# Resource-based policies imported with an account (iamd import --resource-policy): bucket, key,
# queue policies of the real account, read by the troubleshooter only (docs/troubleshooting.md).
imported_resource_policies = Table(
    "imported_resource_policies",
    metadata,
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),
    Column("resource_arn", Str, primary_key=True),
    Column("document", Text, nullable=False),
    Column("import_date", UtcDateTime, nullable=False),
)


# Entity quotas of an account other than AWS's defaults (docs/iam-api.md, "Quotas").
account_quotas = Table(
    "account_quotas",
    metadata,
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),
    Column("name", Str, primary_key=True),  # Users, Groups, Roles, Policies, InstanceProfiles
    Column("value", BigInteger, nullable=False),
)


# -- Organizations: trusted access, delegated administrators, the delegation policy -----------
org_service_access = Table(
    "org_service_access",
    metadata,
    Column("organization_id", Str, ForeignKey("organizations.id"), primary_key=True),
    Column("service_principal", Str, primary_key=True),
    Column("date_enabled", UtcDateTime, nullable=False),
)

org_delegated_admins = Table(
    "org_delegated_admins",
    metadata,
    Column("organization_id", Str, ForeignKey("organizations.id"), primary_key=True),
    Column("account_id", Str, ForeignKey("accounts.id"), primary_key=True),
    Column("service_principal", Str, primary_key=True),
    Column("delegation_enabled_date", UtcDateTime, nullable=False),
)

org_resource_policies = Table(
    "org_resource_policies",
    metadata,
    Column("organization_id", Str, ForeignKey("organizations.id"), primary_key=True),  # one per organization
    Column("id", Str, nullable=False, unique=True),  # rp-…
    Column("content", Text, nullable=False),
)
