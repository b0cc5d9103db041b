"""The storage interface: everything the service layer may ask of a store.

Reads go through :meth:`Store.read` (a consistent, read-only snapshot); writes through
:meth:`Store.transaction`, whose body commits or rolls back as a whole. Write transactions
are serialized (one writer at a time per database), so checks made inside one still hold
at commit; every write transaction that changes an entity bumps :meth:`Store.generation`.

Names of users, groups, roles, managed policies and instance profiles are unique
case-insensitively per account; lookups are case-insensitive and records keep the
original spelling. Managed policies are addressed by ARN. Listings are ordered by the
lower-cased name and paged with opaque markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from iamd.store.logins import CredentialReport, LoginProfile, SigninThrottle
from iamd.store.providers import OidcProvider, SamlProvider
from iamd.store.records import (
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
    PolicyEntity,
    PolicyScope,
    PolicyUsage,
    PolicyVersion,
    Role,
    Tag,
    TagTarget,
    User,
    VirtualMfaDevice,
)

__all__ = ["DEFAULT_MAX_ITEMS", "ReadTx", "Store", "Tx"]

DEFAULT_MAX_ITEMS = 100


class ReadTx(Protocol):
    """Read methods. Missing entities raise :class:`~iamd.store.errors.NotFound`."""

    def generation(self) -> int: ...

    # accounts
    def get_account(self, account_id: str) -> Account: ...
    def list_accounts(self) -> tuple[Account, ...]: ...

    # users
    def get_user(self, account: str, name: str) -> User: ...
    def get_user_by_id(self, user_id: str) -> User: ...
    def list_users(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[User]: ...
    def count_users(self, account: str) -> int: ...

    # groups
    def get_group(self, account: str, name: str) -> Group: ...
    def list_groups(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Group]: ...
    def list_group_members(
        self, account: str, group_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[User]: ...
    def list_groups_for_user(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Group]: ...
    def count_groups(self, account: str) -> int: ...

    # roles
    def get_role(self, account: str, name: str) -> Role: ...
    def get_role_by_id(self, role_id: str) -> Role: ...
    def list_roles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Role]: ...
    def count_roles(self, account: str) -> int: ...

    # managed policies
    def get_policy(self, arn: str) -> ManagedPolicy: ...
    def list_policies(
        self,
        account: str,
        *,
        scope: PolicyScope = PolicyScope.ALL,
        only_attached: bool = False,
        usage: PolicyUsage | None = None,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[ManagedPolicy]: ...
    def count_policies(self, account: str) -> int: ...
    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion: ...
    def list_policy_versions(self, arn: str) -> tuple[PolicyVersion, ...]: ...

    # attachments (managed policies on users, groups, roles)
    def list_attached_policies(
        self,
        kind: EntityKind,
        account: str,
        name: str,
        *,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[AttachedPolicy]: ...
    def list_entities_for_policy(
        self,
        arn: str,
        *,
        account: str | None = None,
        entity_filter: EntityKind | None = None,
        usage: PolicyUsage = PolicyUsage.PERMISSIONS_POLICY,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[PolicyEntity]: ...

    # inline policies
    def get_inline_policy(self, kind: EntityKind, account: str, entity_name: str, policy_name: str) -> InlinePolicy: ...
    def list_inline_policy_names(
        self,
        kind: EntityKind,
        account: str,
        entity_name: str,
        *,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[str]: ...
    def list_inline_policies(self, kind: EntityKind, account: str, entity_name: str) -> tuple[InlinePolicy, ...]: ...

    # tags (``ref`` is the name, or the ARN for a policy)
    def list_tags(self, target: TagTarget, account: str, ref: str) -> tuple[Tag, ...]: ...

    # access keys (``user_name`` None means the account root)
    def lookup_access_key(self, key_id: str) -> AccessKeyOwner: ...
    def get_access_key(self, key_id: str) -> AccessKey: ...
    def list_access_keys(self, account: str, user_name: str | None) -> tuple[AccessKey, ...]: ...

    # instance profiles
    def get_instance_profile(self, account: str, name: str) -> InstanceProfile: ...
    def list_instance_profiles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[InstanceProfile]: ...
    def list_instance_profiles_for_role(
        self, account: str, role_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[InstanceProfile]: ...

    # audit events, newest first; ``start`` inclusive, ``end`` exclusive
    def list_audit_events(
        self,
        account: str,
        *,
        user_name: str | None = None,
        event_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        errors_only: bool = False,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[AuditEvent]: ...

    # virtual MFA devices; ``serial`` is the device ARN
    def get_virtual_mfa_device(self, account: str, serial: str) -> VirtualMfaDevice: ...
    def list_virtual_mfa_devices(
        self,
        account: str,
        *,
        assignment: AssignmentStatus = AssignmentStatus.ANY,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[VirtualMfaDevice]: ...
    def list_mfa_devices(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[VirtualMfaDevice]: ...
    def count_virtual_mfa_devices(self, account: str, *, assigned_only: bool = False) -> int: ...
    # identity providers (federation), addressed by ARN; NotFound when absent
    def get_oidc_provider(self, account: str, arn: str) -> OidcProvider: ...
    def find_oidc_provider(self, account: str, url: str) -> OidcProvider | None: ...
    def list_oidc_providers(self, account: str) -> tuple[OidcProvider, ...]: ...
    def get_saml_provider(self, account: str, arn: str) -> SamlProvider: ...
    def list_saml_providers(self, account: str) -> tuple[SamlProvider, ...]: ...
    # login profiles, sign-in throttles, credential reports (iamd.store.logins)
    def get_login_profile(self, account: str, user_name: str) -> LoginProfile: ...
    def list_login_profiles(self, account: str) -> tuple[LoginProfile, ...]: ...
    def get_signin_throttle(self, key: str) -> SigninThrottle | None: ...
    def get_credential_report(self, account: str) -> CredentialReport | None: ...


class Tx(ReadTx, Protocol):
    """Read and write methods; obtained only from :meth:`Store.transaction`."""

    # accounts
    def create_account(self, account_id: str, *, alias: str | None = None) -> Account: ...
    def set_account_alias(self, account_id: str, alias: str | None) -> Account: ...
    def set_password_policy(self, account_id: str, policy_json: str | None) -> Account: ...

    # users
    def create_user(
        self,
        account: str,
        name: str,
        *,
        path: str = "/",
        permissions_boundary: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> User: ...
    def update_user(
        self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None
    ) -> User: ...
    def delete_user(self, account: str, name: str) -> None: ...
    def bulk_create_users(self, account: str, names: Sequence[str], *, path: str = "/") -> int: ...

    # groups
    def create_group(self, account: str, name: str, *, path: str = "/") -> Group: ...
    def update_group(
        self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None
    ) -> Group: ...
    def delete_group(self, account: str, name: str) -> None: ...
    def add_user_to_group(self, account: str, group_name: str, user_name: str) -> bool: ...
    def remove_user_from_group(self, account: str, group_name: str, user_name: str) -> None: ...

    # roles
    def create_role(
        self,
        account: str,
        name: str,
        *,
        assume_role_policy: str,
        path: str = "/",
        description: str | None = None,
        max_session_duration: int = 3600,
        permissions_boundary: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> Role: ...
    def update_role(
        self, account: str, name: str, *, description: str | None = None, max_session_duration: int | None = None
    ) -> Role: ...
    def update_assume_role_policy(self, account: str, name: str, document: str) -> Role: ...
    def delete_role(self, account: str, name: str) -> None: ...

    # managed policies
    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> ManagedPolicy: ...
    def put_aws_managed_policy(
        self, name: str, document: str, *, path: str = "/", description: str | None = None, version_id: str = "v1"
    ) -> ManagedPolicy: ...
    def delete_policy(self, arn: str) -> None: ...
    def create_policy_version(self, arn: str, document: str, *, set_as_default: bool = False) -> PolicyVersion: ...
    def set_default_policy_version(self, arn: str, version_id: str) -> ManagedPolicy: ...
    def delete_policy_version(self, arn: str, version_id: str) -> None: ...

    # attachments and permissions boundaries
    def attach_policy(self, kind: EntityKind, account: str, name: str, arn: str) -> bool: ...
    def detach_policy(self, kind: EntityKind, account: str, name: str, arn: str) -> None: ...
    def put_permissions_boundary(self, kind: EntityKind, account: str, name: str, arn: str) -> None: ...
    def delete_permissions_boundary(self, kind: EntityKind, account: str, name: str) -> None: ...

    # inline policies
    def put_inline_policy(
        self, kind: EntityKind, account: str, entity_name: str, policy_name: str, document: str
    ) -> bool: ...
    def delete_inline_policy(self, kind: EntityKind, account: str, entity_name: str, policy_name: str) -> None: ...

    # tags
    def tag_resource(self, target: TagTarget, account: str, ref: str, tags: Sequence[Tag]) -> None: ...
    def untag_resource(self, target: TagTarget, account: str, ref: str, keys: Sequence[str]) -> None: ...

    # access keys
    def create_access_key(
        self,
        account: str,
        user_name: str | None,
        key_id: str,
        secret_sealed: bytes,
        *,
        status: KeyStatus = KeyStatus.ACTIVE,
    ) -> AccessKey: ...
    def update_access_key(self, account: str, user_name: str | None, key_id: str, status: KeyStatus) -> AccessKey: ...
    def delete_access_key(self, account: str, user_name: str | None, key_id: str) -> None: ...

    # instance profiles
    def create_instance_profile(
        self, account: str, name: str, *, path: str = "/", tags: Sequence[Tag] = ()
    ) -> InstanceProfile: ...
    def delete_instance_profile(self, account: str, name: str) -> None: ...
    def add_role_to_instance_profile(self, account: str, profile_name: str, role_name: str) -> InstanceProfile: ...
    def remove_role_from_instance_profile(self, account: str, profile_name: str, role_name: str) -> InstanceProfile: ...

    # virtual MFA devices
    def create_virtual_mfa_device(
        self,
        account: str,
        name: str,
        *,
        serial: str,
        seed_sealed: bytes,
        path: str = "/",
        tags: Sequence[Tag] = (),
    ) -> VirtualMfaDevice: ...
    def enable_mfa_device(
        self, account: str, serial: str, user_name: str, *, step: int, drift: int, when: datetime
    ) -> VirtualMfaDevice: ...
    def record_mfa_step(self, account: str, serial: str, step: int, *, drift: int | None = None) -> bool: ...
    def deactivate_mfa_device(self, account: str, serial: str, user_name: str) -> None: ...
    def delete_virtual_mfa_device(self, account: str, serial: str) -> None: ...

    # audit, in the same transaction as the change the event describes
    def add_audit_event(self, event: AuditEvent) -> AuditEvent: ...

    # identity providers (federation)
    def create_oidc_provider(
        self,
        account: str,
        url: str,
        *,
        client_ids: Sequence[str] = (),
        thumbprints: Sequence[str] = (),
        tags: Sequence[Tag] = (),
    ) -> OidcProvider: ...
    def update_oidc_provider(
        self,
        account: str,
        arn: str,
        *,
        client_ids: Sequence[str] | None = None,
        thumbprints: Sequence[str] | None = None,
    ) -> OidcProvider: ...
    def delete_oidc_provider(self, account: str, arn: str) -> None: ...
    def create_saml_provider(
        self,
        account: str,
        name: str,
        metadata_document: str,
        *,
        valid_until: datetime | None = None,
        tags: Sequence[Tag] = (),
    ) -> SamlProvider: ...
    def update_saml_provider(
        self, account: str, arn: str, metadata_document: str, *, valid_until: datetime | None = None
    ) -> SamlProvider: ...
    def delete_saml_provider(self, account: str, arn: str) -> None: ...
    # login profiles, sign-in throttles, credential reports (iamd.store.logins)
    def create_login_profile(
        self, account: str, user_name: str, password_hash: str, *, reset_required: bool, now: datetime
    ) -> LoginProfile: ...
    def update_login_profile(
        self,
        account: str,
        user_name: str,
        *,
        password_hash: str | None = None,
        reset_required: bool | None = None,
        now: datetime,
        keep_history: int = 24,
    ) -> LoginProfile: ...
    def delete_login_profile(self, account: str, user_name: str) -> None: ...
    def put_signin_throttle(self, throttle: SigninThrottle) -> None: ...
    def clear_signin_throttle(self, key: str) -> None: ...
    def put_credential_report(self, account: str, generated_time: datetime, content: bytes) -> CredentialReport: ...
    # cache invalidation across processes (iamd.api.watcher)
    def bumped_generation(self) -> int | None:
        """The generation this transaction commits as, or None if it changed no entity."""
        ...


class Store(Protocol):
    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    def transaction(self) -> AbstractContextManager[Tx]:
        """A serialized write transaction; an exception in the body rolls everything back."""
        ...

    def read(self) -> AbstractContextManager[ReadTx]:
        """A read-only snapshot; never blocks writers and never bumps the generation."""
        ...

    def generation(self) -> int:
        """Counter bumped by every committed write transaction that changed an entity."""
        ...

    # Writes that are not entity changes: they take no writer lock and bump no generation.
    def append_audit_event(self, event: AuditEvent) -> AuditEvent:
        """Store an event on its own (e.g. a failed or read-only request)."""
        ...

    def append_audit_events(self, events: Sequence[AuditEvent], *, skip_stored: bool = False) -> None:
        """Store many events in one transaction (no generation bump).

        ``skip_stored``: an event whose id is already stored is skipped, not an error (the
        audit writer storing again what its child process may have stored just before it died).
        """
        ...

    def record_access_key_use(self, key_id: str, when: datetime, service: str, region: str) -> None: ...
    def record_role_use(self, role_id: str, when: datetime, region: str) -> None: ...
    def record_password_use(self, user_id: str, when: datetime) -> None: ...

    def reset(self) -> None:
        """Delete every account, entity and audit event (test suites only)."""
        ...

    def close(self) -> None: ...
