"""The store's own exceptions; the service layer maps them to AWS errors.

::

    StoreError
    ├── NotFound            the named entity (or relation) does not exist
    ├── AlreadyExists       a name / id / alias is taken (case-insensitively for names)
    ├── Conflict            the change is refused while something still depends on it
    │                       (``reason`` says what: the service renders DeleteConflict)
    ├── LimitExceeded       a structural limit of the data model (5 policy versions,
    │                       1 role per instance profile)
    ├── InvalidMarker       a pagination marker this listing did not issue
    ├── ReadOnly            a write was attempted through a read-only view
    └── SchemaMismatch      the database is not migrated to this code's revision

Quotas that are policy rather than structure (access keys per user, groups per user,
attached policies, tags) are the service's to check; the store exposes the counts. Writes
are serialized, so a check made inside a write transaction still holds at commit.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

__all__ = [
    "AlreadyExists",
    "Conflict",
    "ConflictReason",
    "InvalidMarker",
    "LimitExceeded",
    "NotAsAssumed",
    "NotFound",
    "ReadOnly",
    "SchemaMismatch",
    "StoreError",
]


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFound(StoreError):
    def __init__(self, entity: str, name: str) -> None:
        super().__init__(f"{entity} {name!r} not found")
        self.entity = entity
        self.name = name


class NotAsAssumed(StoreError):
    """A write's authorization took its target as stored at the path ``/`` and spelled as
    requested, without reading it (``Tx.assume_user``), and the write's statement found it stored
    otherwise: nothing was written. The caller authorizes the target as stored, read, and writes
    again (iamd.core.invoke); never answered."""

    def __init__(self, entity: str, name: str) -> None:
        super().__init__(f"{entity} {name!r} is not stored as assumed")
        self.entity = entity
        self.name = name


class AlreadyExists(StoreError):
    def __init__(self, entity: str, name: str) -> None:
        super().__init__(f"{entity} {name!r} already exists")
        self.entity = entity
        self.name = name


class ConflictReason(StrEnum):
    """Why a delete (or similar change) is refused; one value per AWS DeleteConflict cause."""

    HAS_ACCESS_KEYS = "has-access-keys"
    HAS_INLINE_POLICIES = "has-inline-policies"
    HAS_ATTACHED_POLICIES = "has-attached-policies"
    HAS_GROUP_MEMBERSHIPS = "has-group-memberships"
    HAS_MEMBERS = "has-members"
    IN_INSTANCE_PROFILE = "in-instance-profile"
    HAS_ROLE = "has-role"
    POLICY_ATTACHED = "policy-attached"
    POLICY_USED_AS_BOUNDARY = "policy-used-as-boundary"
    POLICY_HAS_VERSIONS = "policy-has-versions"
    DEFAULT_VERSION = "default-version"
    AWS_MANAGED = "aws-managed"
    HAS_MFA_DEVICES = "has-mfa-devices"  # a user with an assigned MFA device
    MFA_DEVICE_ASSIGNED = "mfa-device-assigned"  # deleting a virtual MFA device still in use
    # login profiles
    HAS_LOGIN_PROFILE = "has-login-profile"
    # other credentials of a user
    HAS_SIGNING_CERTIFICATES = "has-signing-certificates"
    HAS_SSH_PUBLIC_KEYS = "has-ssh-public-keys"
    HAS_SERVICE_SPECIFIC_CREDENTIALS = "has-service-specific-credentials"


class Conflict(StoreError):
    """``recheck``: given a read snapshot, the conflict to raise instead (None: this one), when
    which of several conflicts is named can only be read after the write's transaction failed
    (a restricting foreign key's violation: ``Store.transaction`` calls it after the rollback)."""

    def __init__(
        self,
        reason: ConflictReason,
        entity: str,
        name: str,
        *,
        recheck: Callable[[Any], StoreError | None] | None = None,
    ) -> None:
        super().__init__(f"{entity} {name!r}: {reason.value}")
        self.reason = reason
        self.entity = entity
        self.name = name
        self.recheck = recheck


class LimitExceeded(StoreError):
    def __init__(self, limit: str, value: int) -> None:
        super().__init__(f"limit {limit} ({value}) exceeded")
        self.limit = limit
        self.value = value


class InvalidMarker(StoreError):
    def __init__(self) -> None:
        super().__init__("invalid pagination marker")


class ReadOnly(StoreError):
    def __init__(self) -> None:
        super().__init__("write attempted in a read-only transaction")


class StoreBusy(StoreError):
    """A lock another writer holds was not released within the wait the caller allowed."""

    def __init__(self) -> None:
        super().__init__("another writer holds the lock")


class SchemaMismatch(StoreError):
    def __init__(self, current: str | None, expected: str) -> None:
        super().__init__(f"database schema is at {current!r}, this code needs {expected!r}; run migrations")
        self.current = current
        self.expected = expected
