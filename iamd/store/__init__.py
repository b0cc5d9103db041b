"""iamd's storage layer: one narrow interface (:mod:`iamd.store.api`), SQLite and PostgreSQL.

from iamd.store import migrate, open_store

migrate.upgrade("sqlite:////var/lib/iamd/iamd.db")
store = open_store("sqlite:////var/lib/iamd/iamd.db")
with store.transaction() as tx:
    tx.create_user("123456789012", "Bob")
with store.read() as r:
    r.get_user("123456789012", "bob")
"""

from __future__ import annotations

from iamd.store.api import DEFAULT_MAX_ITEMS, ReadTx, Store, Tx
from iamd.store.audit import audit_event_from_record, compact_audit_event, stored_audit_event
from iamd.store.audit_codec import CompactEvent
from iamd.store.changes import Change, ChangeSet, Entity, Verb
from iamd.store.errors import (
    AlreadyExists,
    Conflict,
    ConflictReason,
    InvalidMarker,
    LimitExceeded,
    NotAsAssumed,
    NotFound,
    ReadOnly,
    SchemaMismatch,
    StoreBusy,
    StoreError,
)
from iamd.store.organizations import (
    CreateAccountStatus,
    OrgAccount,
    Organization,
    OrgPolicy,
    OrgResourcePolicy,
    OrgRoot,
    OrgTree,
    OrgUnit,
)
from iamd.store.records import (
    AWS_ACCOUNT,
    AccessKey,
    AccessKeyOwner,
    Account,
    AssignmentStatus,
    AttachedPolicy,
    AuditEvent,
    EntityKind,
    Group,
    InlinePolicy,
    InstanceProfile,
    KeyStatus,
    ManagedPolicy,
    Page,
    PolicyChange,
    PolicyEntity,
    PolicyScope,
    PolicySources,
    PolicyUsage,
    PolicyVersion,
    Role,
    Tag,
    TagTarget,
    User,
    VirtualMfaDevice,
)
from iamd.store.store import open_store

__all__ = [
    "CreateAccountStatus",
    "OrgAccount",
    "OrgPolicy",
    "OrgResourcePolicy",
    "OrgRoot",
    "OrgTree",
    "OrgUnit",
    "Organization",
    "AWS_ACCOUNT",
    "DEFAULT_MAX_ITEMS",
    "AccessKey",
    "AccessKeyOwner",
    "Account",
    "AlreadyExists",
    "AssignmentStatus",
    "AttachedPolicy",
    "AuditEvent",
    "CompactEvent",
    "Change",
    "ChangeSet",
    "Conflict",
    "ConflictReason",
    "Entity",
    "EntityKind",
    "Group",
    "InlinePolicy",
    "InstanceProfile",
    "InvalidMarker",
    "KeyStatus",
    "LimitExceeded",
    "NotAsAssumed",
    "ManagedPolicy",
    "NotFound",
    "Page",
    "PolicyChange",
    "PolicyEntity",
    "PolicyScope",
    "PolicyUsage",
    "PolicySources",
    "PolicyVersion",
    "ReadOnly",
    "ReadTx",
    "Role",
    "SchemaMismatch",
    "StoreBusy",
    "Store",
    "StoreError",
    "Tag",
    "TagTarget",
    "Tx",
    "User",
    "Verb",
    "VirtualMfaDevice",
    "audit_event_from_record",
    "compact_audit_event",
    "stored_audit_event",
    "open_store",
]

# login profiles, sign-in throttles, credential reports
from iamd.store.logins import CredentialReport, LoginProfile, SigninThrottle

__all__ += ["CredentialReport", "LoginProfile", "SigninThrottle"]

from iamd.store.bulk import BulkEntity, BulkKey, BulkPolicy, BulkProfile, IamBundle  # noqa: E402  (iamd import, iamd db load)

__all__ += ["BulkEntity", "BulkKey", "BulkPolicy", "BulkProfile", "IamBundle"]
