"""Domain records the store returns: frozen values, no behaviour, no database handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from iamd.frozen import fast_init

__all__ = [
    "AWS_ACCOUNT",
    "Account",
    "AccessKey",
    "AccessKeyOwner",
    "AssignmentStatus",
    "AttachedPolicy",
    "AuditEvent",
    "EntityKind",
    "Group",
    "InlinePolicy",
    "InstanceProfile",
    "KeyStatus",
    "ManagedPolicy",
    "Page",
    "PolicyEntity",
    "PolicyScope",
    "PolicyUsage",
    "PolicyVersion",
    "Role",
    "Tag",
    "TagTarget",
    "User",
    "VirtualMfaDevice",
]

T = TypeVar("T")

AWS_ACCOUNT = "aws"
"""The pseudo-account that owns AWS managed policies (``arn:aws:iam::aws:policy/…``)."""


class EntityKind(StrEnum):
    """IAM identities that can carry inline and attached policies."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"


class TagTarget(StrEnum):
    """Taggable resources. Users and roles compare tag keys case-insensitively."""

    USER = "user"
    ROLE = "role"
    POLICY = "policy"
    INSTANCE_PROFILE = "instance-profile"
    MFA_DEVICE = "mfa"  # virtual MFA devices, addressed by serial number
    # identity providers (federation): addressed by ARN, keys case-sensitive
    OIDC_PROVIDER = "oidc-provider"
    SAML_PROVIDER = "saml-provider"
    SERVER_CERTIFICATE = "server-certificate"  # addressed by name, keys case-sensitive


class AssignmentStatus(StrEnum):
    """ListVirtualMFADevices' filter."""

    ASSIGNED = "Assigned"
    UNASSIGNED = "Unassigned"
    ANY = "Any"


class KeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


class PolicyScope(StrEnum):
    ALL = "All"
    AWS = "AWS"
    LOCAL = "Local"


class PolicyUsage(StrEnum):
    PERMISSIONS_POLICY = "PermissionsPolicy"
    PERMISSIONS_BOUNDARY = "PermissionsBoundary"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing. ``marker`` is set (and opaque) only when more items follow."""

    items: tuple[T, ...]
    marker: str | None = None

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    alias: str | None
    password_policy: str | None
    """JSON text of the account password policy, as the service stored it."""
    create_date: datetime
    created_by_organization: str | None = None  # the organization whose CreateAccount made it


@fast_init  # one made per CreateUser, and per user read (iamd/frozen.py)
@dataclass(frozen=True, slots=True)
class User:
    id: str
    account_id: str
    name: str
    path: str
    arn: str
    create_date: datetime
    permissions_boundary: str | None = None
    """ARN of the boundary policy."""
    password_last_used: datetime | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    account_id: str
    name: str
    path: str
    arn: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    account_id: str
    name: str
    path: str
    arn: str
    create_date: datetime
    assume_role_policy: str
    """Trust policy document text, exactly as stored by the service."""
    description: str | None = None
    max_session_duration: int = 3600
    permissions_boundary: str | None = None
    last_used_date: datetime | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    id: str
    account_id: str
    """12-digit account id, or :data:`AWS_ACCOUNT` for AWS managed policies."""
    name: str
    path: str
    arn: str
    description: str | None
    default_version_id: str
    attachment_count: int
    permissions_boundary_usage_count: int
    create_date: datetime
    update_date: datetime
    is_attachable: bool = True

    @property
    def is_aws_managed(self) -> bool:
        return self.account_id == AWS_ACCOUNT


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_id: str
    policy_arn: str
    version_id: str
    document: str
    """The document text exactly as submitted."""
    is_default: bool
    create_date: datetime


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class PolicyEntity:
    """A user, group or role a policy is attached to (or bounds)."""

    kind: EntityKind
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    kind: EntityKind
    entity_name: str
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class PolicySources:
    """What a user's, group's or role's identity policies are built from, read with one statement
    (:meth:`iamd.store.ReadTx.policy_sources`): its inline policies (by name), the managed
    policies attached to it (``list_attached_policies``' order) and, for a user, the same for each
    of its groups (by name). ``name`` is the entity's name as stored."""

    kind: EntityKind
    name: str
    inline: tuple[InlinePolicy, ...] = ()
    attached: tuple[AttachedPolicy, ...] = ()
    groups: tuple[PolicySources, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    account_id: str
    user_id: str | None
    """``None`` for the account root's keys."""
    user_name: str | None
    status: KeyStatus
    secret_sealed: bytes = field(repr=False)
    """The secret, sealed (encrypted) by the caller; the store never sees plaintext."""
    create_date: datetime
    last_used_date: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class AccessKeyOwner:
    """What authentication needs, fetched with one indexed query."""

    key: AccessKey
    user: User | None
    user_tags: tuple[Tag, ...] = ()
    """The user's tags (its principal tags), by key; none for the root's keys."""


@dataclass(frozen=True, slots=True)
class InstanceProfile:
    id: str
    account_id: str
    name: str
    path: str
    arn: str
    create_date: datetime
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A CloudTrail-shaped record (``record`` is its JSON text) plus its indexed fields."""

    event_id: str
    account_id: str
    event_time: datetime
    event_name: str
    event_source: str
    read_only: bool
    record: str
    user_name: str | None = None
    user_arn: str | None = None
    error_code: str | None = None
    request_id: str | None = None
    sequence: int | None = None
    """Assigned by the store (insertion order); ``None`` on events not yet stored."""


@dataclass(frozen=True, slots=True)
class VirtualMfaDevice:
    """A virtual MFA device; ``serial`` is its ARN. Assigned when ``user`` is set."""

    serial: str
    account_id: str
    name: str
    path: str
    create_date: datetime
    seed_sealed: bytes = field(repr=False)
    """The Base32 TOTP seed, sealed by the service (context: the serial); never plaintext."""
    user: User | None = None
    enable_date: datetime | None = None
    last_step: int | None = None
    """The newest TOTP time-step accepted from this device (a code is never accepted twice)."""
    drift: int = 0
    """The device clock's offset from the server's, in 30-second steps (set by Enable/Resync)."""


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One row of the policy history (schema: policy_history; docs/troubleshooting.md)."""

    sequence: int
    changed_at: datetime
    event: str  # create | inline | attach | detach | boundary | join | leave | trust | default
    owner_kind: str  # user | group | role | policy
    owner_id: str  # the entity's unique id; a managed policy's ARN
    subject: str | None
    document: str | None
