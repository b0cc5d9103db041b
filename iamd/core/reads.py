"""The reads of one request, entity lookups served from the process's cache.

:class:`CachedReads` is a :class:`iamd.store.ReadTx` with every method written out: the
lookups of users, groups, roles, managed policies, instance profiles and tags are answered
from the :class:`iamd.cache.Cache` (found or not found), indexed by the entity they read, and
dropped when a committed write changes it (docs/architecture.md, "Caches"); every other
method, and a lookup that is not cached, reads a snapshot of the store, opened only then, so a
warm GetUser touches no database at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from iamd.cache import Cache, Section
from iamd.refs import Ref, policy_ref, ref
from iamd.store import DEFAULT_MAX_ITEMS, NotFound, ReadTx, Store
from iamd.store.account_settings import DeletionTask
from iamd.store.console_sessions import ConsoleSessionRow
from iamd.store.logins import CredentialReport, LoginProfile, SigninThrottle
from iamd.store.organizations import CreateAccountStatus, Organization, OrgTree
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
from iamd.store.server_certificates import ServerCertificate
from iamd.store.surface import AccessReportJob, OutboundFederation, WebIdentityKey
from iamd.store.user_credentials import ServiceCredential, SigningCertificate, SshPublicKey

__all__ = ["CachedReads", "entity_refs", "remember", "remember_user", "untagged"]

T = TypeVar("T")


class CachedReads:
    """One request's reads (a context manager: the snapshot, if one was opened, ends with it)."""

    def __init__(self, cache: Cache, store: Store) -> None:
        self._cache = cache
        self._store = store
        self._version = cache.version  # what is read from here on may be kept (Cache.put)
        self._stack: contextlib.ExitStack | None = None  # made when a snapshot is opened
        self._tx: ReadTx | None = None

    def __enter__(self) -> CachedReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()

    def _open(self) -> ReadTx:
        if self._tx is None:
            self._stack = contextlib.ExitStack()
            self._tx = self._stack.enter_context(self._store.read())
        return self._tx

    def _cached(self, key: tuple[Any, ...], read: Callable[[], T]) -> T:
        hit = self._cache.get(Section.ENTITIES, key)
        if hit is None:
            try:
                hit = read()
            except NotFound as e:
                hit = e
            remember(self._cache, key, hit, self._version)
        if isinstance(hit, NotFound):
            raise hit
        return hit  # type: ignore[no-any-return]

    # -- ReadTx, every method ---------------------------------------------------------------
    def generation(self) -> int:
        return self._open().generation()

    def get_account(self, account_id: str) -> Account:
        # Cached like an entity (the root user's GetUser reads it): its writes report Entity.ACCOUNT.
        return self._cached(("get_account", account_id, account_id), lambda: self._open().get_account(account_id))

    def list_accounts(self) -> tuple[Account, ...]:
        return self._open().list_accounts()

    def get_user(self, account: str, name: str) -> User:
        return self._cached(("get_user", account, name), lambda: self._open().get_user(account, name))

    def get_user_by_id(self, user_id: str) -> User:
        return self._open().get_user_by_id(user_id)

    def list_users(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[User]:
        return self._open().list_users(account, path_prefix=path_prefix, marker=marker, max_items=max_items)

    def count_users(self, account: str, *, at_most: int | None = None) -> int:
        return self._open().count_users(account, at_most=at_most)

    def get_group(self, account: str, name: str) -> Group:
        return self._cached(("get_group", account, name), lambda: self._open().get_group(account, name))

    def list_groups(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Group]:
        return self._open().list_groups(account, path_prefix=path_prefix, marker=marker, max_items=max_items)

    def list_group_members(
        self, account: str, group_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[User]:
        return self._open().list_group_members(account, group_name, marker=marker, max_items=max_items)

    def list_groups_for_user(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Group]:
        return self._open().list_groups_for_user(account, user_name, marker=marker, max_items=max_items)

    def count_groups(self, account: str, *, at_most: int | None = None) -> int:
        return self._open().count_groups(account, at_most=at_most)

    def get_role(self, account: str, name: str) -> Role:
        return self._cached(("get_role", account, name), lambda: self._open().get_role(account, name))

    def get_role_by_id(self, role_id: str) -> Role:
        return self._open().get_role_by_id(role_id)

    def list_roles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[Role]:
        return self._open().list_roles(account, path_prefix=path_prefix, marker=marker, max_items=max_items)

    def count_roles(self, account: str, *, at_most: int | None = None) -> int:
        return self._open().count_roles(account, at_most=at_most)

    def get_policy(self, arn: str) -> ManagedPolicy:
        return self._cached(("get_policy", arn), lambda: self._open().get_policy(arn))

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
    ) -> Page[ManagedPolicy]:
        return self._open().list_policies(
            account,
            scope=scope,
            only_attached=only_attached,
            usage=usage,
            path_prefix=path_prefix,
            marker=marker,
            max_items=max_items,
        )

    def count_policies(self, account: str, *, at_most: int | None = None) -> int:
        return self._open().count_policies(account, at_most=at_most)

    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion:
        return self._open().get_policy_version(arn, version_id)

    def list_policy_versions(self, arn: str) -> tuple[PolicyVersion, ...]:
        return self._open().list_policy_versions(arn)

    def list_attached_policies(
        self,
        kind: EntityKind,
        account: str,
        name: str,
        *,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[AttachedPolicy]:
        return self._open().list_attached_policies(
            kind, account, name, path_prefix=path_prefix, marker=marker, max_items=max_items
        )

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
    ) -> Page[PolicyEntity]:
        return self._open().list_entities_for_policy(
            arn,
            account=account,
            entity_filter=entity_filter,
            usage=usage,
            path_prefix=path_prefix,
            marker=marker,
            max_items=max_items,
        )

    def get_inline_policy(self, kind: EntityKind, account: str, entity_name: str, policy_name: str) -> InlinePolicy:
        return self._open().get_inline_policy(kind, account, entity_name, policy_name)

    def list_inline_policy_names(
        self,
        kind: EntityKind,
        account: str,
        entity_name: str,
        *,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[str]:
        return self._open().list_inline_policy_names(kind, account, entity_name, marker=marker, max_items=max_items)

    def list_inline_policies(self, kind: EntityKind, account: str, entity_name: str) -> tuple[InlinePolicy, ...]:
        return self._open().list_inline_policies(kind, account, entity_name)

    def policy_sources(self, kind: EntityKind, account: str, name: str) -> PolicySources:
        return self._open().policy_sources(kind, account, name)

    def list_tags(self, target: TagTarget, account: str, ref: str) -> tuple[Tag, ...]:
        key = ("list_tags", target, account, ref)
        if target is TagTarget.USER and self._cache.get(Section.ENTITIES, key) is None and untagged(self._cache, key):
            return ()
        return self._cached(key, lambda: self._open().list_tags(target, account, ref))

    def lookup_access_key(self, key_id: str) -> AccessKeyOwner:
        return self._open().lookup_access_key(key_id)

    def access_key_owners(self, after: str, limit: int) -> list[AccessKeyOwner]:
        return self._open().access_key_owners(after, limit)

    def count_access_keys(self) -> int:
        return self._open().count_access_keys()

    def get_entity_quotas(self, account: str) -> dict[str, int]:
        return self._open().get_entity_quotas(account)

    def existing_names(self, account: str, kind: str, names: Sequence[str]) -> dict[str, str]:
        return self._open().existing_names(account, kind, names)

    def get_access_key(self, key_id: str) -> AccessKey:
        return self._open().get_access_key(key_id)

    def list_access_keys(self, account: str, user_name: str | None) -> tuple[AccessKey, ...]:
        return self._open().list_access_keys(account, user_name)

    def get_instance_profile(self, account: str, name: str) -> InstanceProfile:
        return self._cached(
            ("get_instance_profile", account, name), lambda: self._open().get_instance_profile(account, name)
        )

    def list_instance_profiles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[InstanceProfile]:
        return self._open().list_instance_profiles(account, path_prefix=path_prefix, marker=marker, max_items=max_items)

    def list_instance_profiles_for_role(
        self, account: str, role_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[InstanceProfile]:
        return self._open().list_instance_profiles_for_role(account, role_name, marker=marker, max_items=max_items)

    def list_audit_events(
        self,
        account: str,
        *,
        user_name: str | None = None,
        event_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        errors_only: bool = False,
        writes_only: bool = False,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[AuditEvent]:
        return self._open().list_audit_events(
            account,
            user_name=user_name,
            event_name=event_name,
            start=start,
            end=end,
            errors_only=errors_only,
            writes_only=writes_only,
            marker=marker,
            max_items=max_items,
        )

    def get_virtual_mfa_device(self, account: str, serial: str) -> VirtualMfaDevice:
        return self._open().get_virtual_mfa_device(account, serial)

    def list_virtual_mfa_devices(
        self,
        account: str,
        *,
        assignment: AssignmentStatus = AssignmentStatus.ANY,
        marker: str | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Page[VirtualMfaDevice]:
        return self._open().list_virtual_mfa_devices(account, assignment=assignment, marker=marker, max_items=max_items)

    def list_mfa_devices(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
    ) -> Page[VirtualMfaDevice]:
        return self._open().list_mfa_devices(account, user_name, marker=marker, max_items=max_items)

    def count_virtual_mfa_devices(self, account: str, *, assigned_only: bool = False) -> int:
        return self._open().count_virtual_mfa_devices(account, assigned_only=assigned_only)

    def get_oidc_provider(self, account: str, arn: str) -> OidcProvider:
        return self._open().get_oidc_provider(account, arn)

    def find_oidc_provider(self, account: str, url: str) -> OidcProvider | None:
        return self._open().find_oidc_provider(account, url)

    def list_oidc_providers(self, account: str) -> tuple[OidcProvider, ...]:
        return self._open().list_oidc_providers(account)

    def get_saml_provider(self, account: str, arn: str) -> SamlProvider:
        return self._open().get_saml_provider(account, arn)

    def list_saml_providers(self, account: str) -> tuple[SamlProvider, ...]:
        return self._open().list_saml_providers(account)

    def get_login_profile(self, account: str, user_name: str) -> LoginProfile:
        return self._open().get_login_profile(account, user_name)

    def list_login_profiles(self, account: str) -> tuple[LoginProfile, ...]:
        return self._open().list_login_profiles(account)

    def get_signin_throttle(self, key: str) -> SigninThrottle | None:
        return self._open().get_signin_throttle(key)

    def get_credential_report(self, account: str) -> CredentialReport | None:
        return self._open().get_credential_report(account)

    def get_console_session(self, id_hash: str) -> ConsoleSessionRow | None:
        return self._open().get_console_session(id_hash)

    # Read from the snapshot, never cached: Organizations, the audit trail and policy history,
    # account settings, SSH keys, signing and server certificates, service-specific credentials.
    def organization_of(self, account_id: str) -> Organization | None:
        return self._open().organization_of(account_id)

    def org_tree(self, organization_id: str) -> OrgTree:
        return self._open().org_tree(organization_id)

    def list_org_tags(self, organization_id: str, resource_id: str) -> tuple[tuple[str, str], ...]:
        return self._open().list_org_tags(organization_id, resource_id)

    def org_email_taken(self, email: str) -> bool:
        return self._open().org_email_taken(email)

    def get_create_account_status(self, organization_id: str, request_id: str) -> CreateAccountStatus:
        return self._open().get_create_account_status(organization_id, request_id)

    def list_create_account_statuses(self, organization_id: str) -> tuple[CreateAccountStatus, ...]:
        return self._open().list_create_account_statuses(organization_id)

    def find_audit_events(
        self, request_id: str, *, limit: int = 10, notable_only: bool = False, reach: int | None = None
    ) -> tuple[AuditEvent, ...]:
        return self._open().find_audit_events(request_id, limit=limit, notable_only=notable_only, reach=reach)

    def scan_audit_events(
        self, *, after: int = 0, start: datetime | None = None, end: datetime | None = None,
        account: str | None = None, limit: int = 1000,
    ) -> tuple[AuditEvent, ...]:  # fmt: skip
        return self._open().scan_audit_events(after=after, start=start, end=end, account=account, limit=limit)

    def policy_history(self, owner_kind: str, owner_id: str, until: datetime) -> tuple[PolicyChange, ...]:
        return self._open().policy_history(owner_kind, owner_id, until)

    def policy_history_horizon(self) -> datetime | None:
        return self._open().policy_history_horizon()

    def get_sts_token_version(self, account: str) -> int | None:
        return self._open().get_sts_token_version(account)

    def get_deletion_task(self, account: str, task_id: str) -> DeletionTask:
        return self._open().get_deletion_task(account, task_id)

    # last-accessed jobs, outbound web identity federation, root-access features: not cached
    def get_access_report_job(self, account: str, job_id: str) -> AccessReportJob:
        return self._open().get_access_report_job(account, job_id)

    def get_outbound_federation(self, account: str) -> OutboundFederation | None:
        return self._open().get_outbound_federation(account)

    def imported_resource_policy(self, account: str, resource_arn: str) -> str | None:
        return self._open().imported_resource_policy(account, resource_arn)

    def find_outbound_issuer(self, issuer_id: str) -> OutboundFederation | None:
        return self._open().find_outbound_issuer(issuer_id)

    def list_web_identity_keys(self, account: str) -> tuple[WebIdentityKey, ...]:
        return self._open().list_web_identity_keys(account)

    def list_org_root_features(self, organization_id: str) -> tuple[str, ...]:
        return self._open().list_org_root_features(organization_id)

    def list_ssh_public_keys(self, account: str, user_name: str) -> tuple[SshPublicKey, ...]:
        return self._open().list_ssh_public_keys(account, user_name)

    def get_ssh_public_key(self, account: str, user_name: str, key_id: str) -> SshPublicKey:
        return self._open().get_ssh_public_key(account, user_name, key_id)

    def list_signing_certificates(self, account: str, user_name: str | None) -> tuple[SigningCertificate, ...]:
        return self._open().list_signing_certificates(account, user_name)

    def count_signing_certificate_owners(self, account: str) -> int:
        return self._open().count_signing_certificate_owners(account)

    def root_has_signing_certificate(self, account: str) -> bool:
        return self._open().root_has_signing_certificate(account)

    def get_signing_certificate(self, account: str, user_name: str | None, cert_id: str) -> SigningCertificate:
        return self._open().get_signing_certificate(account, user_name, cert_id)

    def list_service_credentials(
        self, account: str, user_name: str | None, service_name: str | None = None
    ) -> tuple[ServiceCredential, ...]:
        return self._open().list_service_credentials(account, user_name, service_name)

    def get_service_credential(self, account: str, user_name: str, cred_id: str) -> ServiceCredential:
        return self._open().get_service_credential(account, user_name, cred_id)

    def get_server_certificate(self, account: str, name: str) -> ServerCertificate:
        return self._open().get_server_certificate(account, name)

    def list_server_certificates(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[ServerCertificate]:
        return self._open().list_server_certificates(
            account, path_prefix=path_prefix, marker=marker, max_items=max_items
        )

    def count_server_certificates(self, account: str) -> int:
        return self._open().count_server_certificates(account)


def remember(cache: Cache, key: tuple[Any, ...], value: object, version: int) -> None:
    """Keep ``value`` as the answer of the cached lookup ``key`` (the store method and its
    arguments, as :class:`CachedReads` keys them), read by reads that began at ``version``:
    indexed by what it depends on and subject to the one staleness rule (``Cache.put``). Also
    for a lookup's answer another read returned in passing (the credential's user and tags)."""
    cache.put(Section.ENTITIES, key, value, entity_refs(key), version)


def remember_user(cache: Cache, user: User, tags: Sequence[Tag], version: int) -> None:
    """Keep a user record and its tags, read together (in one snapshot, by reads that began at
    ``version``) as the answers of ``get_user`` and ``list_tags`` of that user. A user without
    tags (most callers) is one entry, marked as having none (``Cache.put(marked=True)``): the
    empty ``list_tags`` answer needs no entry of its own. Both depend on the user's ref alone,
    which every change to the user or its tags drops (docs/architecture.md, "Caches")."""
    user_key = ("get_user", user.account_id, user.name)
    if tags:
        remember(cache, user_key, user, version)
        remember(cache, ("list_tags", TagTarget.USER, user.account_id, user.name), tags, version)
    else:
        cache.put(Section.ENTITIES, user_key, user, entity_refs(user_key), version, marked=True)


def untagged(cache: Cache, list_tags_key: tuple[Any, ...]) -> bool:
    """Whether ``list_tags`` of a user (``list_tags_key``) is known to be empty from the user's
    cached record (:func:`remember_user`)."""
    _, _, account, name = list_tags_key
    return cache.marked(Section.ENTITIES, ("get_user", account, name))


def entity_refs(key: tuple[Any, ...]) -> list[Ref]:
    """What a cached lookup depends on (its key is the store method and its arguments)."""
    method, *args = key
    if method == "get_policy":
        return [policy_ref(str(args[0]))]
    if method == "list_tags":
        target, account, name = (str(a) for a in args)
        return [policy_ref(name)] if target == "policy" else [ref(target, account, name)]
    kind = _KIND_OF[str(method)]
    account, name = str(args[0]), str(args[1])
    if kind == "instance-profile":  # it carries its role: any role change of the account drops it
        return [ref(kind, account, name), ("instance-profiles", account, "")]
    return [ref(kind, account, name)]


_KIND_OF = {
    "get_account": "account", "get_user": "user", "get_group": "group", "get_role": "role",
    "get_instance_profile": "instance-profile",
}  # fmt: skip
