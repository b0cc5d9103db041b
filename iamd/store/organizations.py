"""AWS Organizations: the organization, its root, OUs, member accounts, policies, attachments, tags.

An organization is small (AWS's quotas: 10 accounts by default, at most 1,000 OUs and 1,000
policies of a type), so it is read whole: :meth:`OrganizationOps.org_tree` returns one
consistent :class:`OrgTree` snapshot, and the service layer works on that. Writes are
row-level. AWS managed policies (``p-FullAWSAccess``, ``p-RCPFullAWSAccess``) are not stored;
attachments name them by id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound

__all__ = [
    "CreateAccountStatus",
    "OrgAccount",
    "OrgPolicy",
    "OrgResourcePolicy",
    "OrgRoot",
    "OrgTree",
    "OrgUnit",
    "Organization",
    "OrganizationOps",
]


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    management_account_id: str
    feature_set: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class OrgRoot:
    id: str
    organization_id: str
    name: str
    policy_types: tuple[str, ...]  # the enabled ones


@dataclass(frozen=True, slots=True)
class OrgUnit:
    id: str
    organization_id: str
    parent_id: str
    name: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class OrgAccount:
    account_id: str
    organization_id: str
    parent_id: str
    name: str
    email: str
    joined_method: str
    joined_timestamp: datetime
    status: str = "ACTIVE"


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    id: str
    organization_id: str
    type: str
    name: str
    description: str
    content: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class CreateAccountStatus:
    id: str
    organization_id: str
    account_name: str
    state: str
    requested: datetime
    completed: datetime | None = None
    account_id: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class OrgResourcePolicy:
    """The organization's delegation policy (PutResourcePolicy): at most one per organization."""

    id: str
    organization_id: str
    content: str


@dataclass(frozen=True, slots=True)
class OrgTree:
    """One organization, whole, as read in one snapshot."""

    organization: Organization
    root: OrgRoot
    units: Mapping[str, OrgUnit] = field(default_factory=dict)
    accounts: Mapping[str, OrgAccount] = field(default_factory=dict)
    policies: Mapping[str, OrgPolicy] = field(default_factory=dict)
    attachments: frozenset[tuple[str, str]] = frozenset()  # (target id, policy id)
    partition: str = "aws"  # the server's, which every ARN of the organization names
    service_access: Mapping[str, datetime] = field(default_factory=dict)  # service principal -> date enabled
    # (account id, service principal) -> the date the account became its delegated administrator
    delegated_admins: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    resource_policy: OrgResourcePolicy | None = None

    def parent_chain(self, target_id: str) -> list[str]:
        """The ids from the root down to ``target_id`` (an account or OU), both included."""
        chain = [target_id]
        parent = self._parent(target_id)
        seen = {target_id}
        while parent is not None and parent not in seen:
            chain.append(parent)
            seen.add(parent)
            parent = self._parent(parent)
        chain.reverse()
        return chain

    def _parent(self, target_id: str) -> str | None:
        if target_id in self.accounts:
            return self.accounts[target_id].parent_id
        if target_id in self.units:
            return self.units[target_id].parent_id
        return None

    def attached(self, target_id: str) -> list[str]:
        return sorted(policy for target, policy in self.attachments if target == target_id)


def _org(r: Any) -> Organization:
    return Organization(r.id, r.management_account_id, r.feature_set, r.create_date)


def _status(r: Any) -> CreateAccountStatus:
    return CreateAccountStatus(
        r.id, r.organization_id, r.account_name, r.state, r.requested, r.completed, r.account_id, r.failure_reason
    )


class OrganizationOps(Ops):
    # -- reads ---------------------------------------------------------------------------------
    def organization_of(self, account_id: str) -> Organization | None:
        """The organization ``account_id`` belongs to (as management or member account), if any."""
        o, a = s.organizations, s.org_accounts
        row = self._first(select(o).join(a, a.c.organization_id == o.c.id).where(a.c.account_id == account_id))
        return _org(row) if row is not None else None

    def org_tree(self, organization_id: str) -> OrgTree:
        row = self._first(select(s.organizations).where(s.organizations.c.id == organization_id))
        if row is None:
            raise NotFound("organization", organization_id)
        conn = self._conn
        r = conn.execute(select(s.org_roots).where(s.org_roots.c.organization_id == organization_id)).one()
        root = OrgRoot(r.id, r.organization_id, r.name, tuple(json.loads(r.policy_types)))
        units = {
            u.id: OrgUnit(u.id, u.organization_id, u.parent_id, u.name, u.create_date)
            for u in conn.execute(select(s.org_units).where(s.org_units.c.organization_id == organization_id))
        }
        accounts = {
            a.account_id: OrgAccount(
                a.account_id,
                a.organization_id,
                a.parent_id,
                a.name,
                a.email,
                a.joined_method,
                a.joined_timestamp,
                a.status,
            )
            for a in conn.execute(select(s.org_accounts).where(s.org_accounts.c.organization_id == organization_id))
        }
        policies = {
            p.id: OrgPolicy(p.id, p.organization_id, p.type, p.name, p.description, p.content, p.create_date)
            for p in conn.execute(select(s.org_policies).where(s.org_policies.c.organization_id == organization_id))
        }
        t = s.org_attachments
        attachments = frozenset(
            (x.target_id, x.policy_id) for x in conn.execute(select(t).where(t.c.organization_id == organization_id))
        )
        sa, da, rp = s.org_service_access, s.org_delegated_admins, s.org_resource_policies
        access = {
            x.service_principal: x.date_enabled
            for x in conn.execute(select(sa).where(sa.c.organization_id == organization_id))
        }
        delegated = {
            (x.account_id, x.service_principal): x.delegation_enabled_date
            for x in conn.execute(select(da).where(da.c.organization_id == organization_id))
        }
        found = self._first(select(rp).where(rp.c.organization_id == organization_id))
        resource_policy = OrgResourcePolicy(found.id, organization_id, found.content) if found is not None else None
        return OrgTree(_org(row), root, units, accounts, policies, attachments, self._ctx.partition, access,
                       delegated, resource_policy)  # fmt: skip

    def list_org_tags(self, organization_id: str, resource_id: str) -> tuple[tuple[str, str], ...]:
        t = s.org_tags
        stmt = select(t.c.key, t.c.value).where(t.c.organization_id == organization_id, t.c.resource_id == resource_id)
        return tuple((r.key, r.value) for r in self._conn.execute(stmt.order_by(t.c.key)))

    def org_email_taken(self, email: str) -> bool:
        return self._first(select(s.org_accounts.c.account_id).where(s.org_accounts.c.email == email)) is not None

    def get_create_account_status(self, organization_id: str, request_id: str) -> CreateAccountStatus:
        t = s.org_create_account_statuses
        row = self._first(select(t).where(t.c.organization_id == organization_id, t.c.id == request_id))
        if row is None:
            raise NotFound("create account request", request_id)
        return _status(row)

    def list_create_account_statuses(self, organization_id: str) -> tuple[CreateAccountStatus, ...]:
        t = s.org_create_account_statuses
        stmt = select(t).where(t.c.organization_id == organization_id).order_by(t.c.requested, t.c.id)
        return tuple(_status(r) for r in self._conn.execute(stmt))

    # -- writes --------------------------------------------------------------------------------
    # Every write names the organization it changes (what any of its accounts' SCP and RCP levels
    # and organization keys are built from) and, when an account joins, moves or leaves, the
    # account (what an account in no organization's values are built from): iamd.store.changes.
    def _org_changed(self, organization_id: str | None, what: str) -> None:
        if organization_id is not None:
            self._changed(Entity.ORGANIZATION, "", organization_id, Verb.UPDATED, what)

    def _member_changed(self, account_id: str, what: str) -> None:
        self._changed(Entity.ORG_ACCOUNT, "", account_id, Verb.UPDATED, what)

    def _org_of(self, table: Any, column: Any, ident: str) -> str | None:
        row = self._first(select(table.c.organization_id).where(column == ident))
        return str(row.organization_id) if row is not None else None

    def create_organization(self, org: Organization, root: OrgRoot, management: OrgAccount) -> None:
        self._write()
        self._org_changed(org.id, "create_organization")
        if self.organization_of(org.management_account_id) is not None:
            raise AlreadyExists("organization member", org.management_account_id)
        self._conn.execute(insert(s.organizations).values(
            id=org.id, management_account_id=org.management_account_id, feature_set=org.feature_set,
            create_date=org.create_date,
        ))  # fmt: skip
        self._conn.execute(insert(s.org_roots).values(
            id=root.id, organization_id=org.id, name=root.name, policy_types=json.dumps(list(root.policy_types))
        ))  # fmt: skip
        self.put_org_account(management)

    def delete_organization(self, organization_id: str) -> None:
        self._write()
        self._org_changed(organization_id, "delete_organization")
        a = s.org_accounts
        for row in self._conn.execute(select(a.c.account_id).where(a.c.organization_id == organization_id)):
            self._member_changed(row.account_id, "delete_organization")
        for table in (s.org_tags, s.org_attachments, s.org_create_account_statuses, s.org_policies,
                      s.org_delegated_admins, s.org_service_access, s.org_resource_policies, s.org_accounts,
                      s.org_units, s.org_roots):  # fmt: skip
            self._conn.execute(delete(table).where(table.c.organization_id == organization_id))
        self._conn.execute(delete(s.organizations).where(s.organizations.c.id == organization_id))

    def set_root_policy_types(self, root_id: str, types: Sequence[str]) -> None:
        self._write()
        self._org_changed(self._org_of(s.org_roots, s.org_roots.c.id, root_id), "set_root_policy_types")
        stmt = update(s.org_roots).where(s.org_roots.c.id == root_id)
        self._conn.execute(stmt.values(policy_types=json.dumps(list(types))))

    def put_org_unit(self, unit: OrgUnit) -> None:
        """Create or replace (rename) an OU."""
        self._write()
        self._org_changed(unit.organization_id, "put_org_unit")
        values = {"organization_id": unit.organization_id, "parent_id": unit.parent_id, "name": unit.name,
                  "create_date": unit.create_date}  # fmt: skip
        t = s.org_units
        if self._first(select(t.c.id).where(t.c.id == unit.id)) is None:
            self._conn.execute(insert(t).values(id=unit.id, **values))
        else:
            self._conn.execute(update(t).where(t.c.id == unit.id).values(**values))

    def delete_org_unit(self, unit_id: str) -> None:
        self._write()
        self._org_changed(self._org_of(s.org_units, s.org_units.c.id, unit_id), "delete_org_unit")
        self._conn.execute(delete(s.org_units).where(s.org_units.c.id == unit_id))
        self._forget_target(unit_id)

    def put_org_account(self, account: OrgAccount) -> None:
        """Add an account to its organization, or move or rename it there."""
        self._write()
        self._org_changed(account.organization_id, "put_org_account")
        self._member_changed(account.account_id, "put_org_account")
        values = {
            "organization_id": account.organization_id, "parent_id": account.parent_id, "name": account.name,
            "email": account.email, "joined_method": account.joined_method,
            "joined_timestamp": account.joined_timestamp, "status": account.status,
        }  # fmt: skip
        t = s.org_accounts
        if self._first(select(t.c.account_id).where(t.c.account_id == account.account_id)) is None:
            self._conn.execute(insert(t).values(account_id=account.account_id, **values))
        else:
            self._conn.execute(update(t).where(t.c.account_id == account.account_id).values(**values))

    def delete_org_account(self, account_id: str) -> None:
        """The account leaves its organization (it stays an account of the server)."""
        self._write()
        self._org_changed(self._org_of(s.org_accounts, s.org_accounts.c.account_id, account_id), "delete_org_account")
        self._member_changed(account_id, "delete_org_account")
        self._conn.execute(delete(s.org_delegated_admins).where(s.org_delegated_admins.c.account_id == account_id))
        self._conn.execute(delete(s.org_accounts).where(s.org_accounts.c.account_id == account_id))
        self._forget_target(account_id)

    def _forget_target(self, target_id: str) -> None:
        self._conn.execute(delete(s.org_attachments).where(s.org_attachments.c.target_id == target_id))
        self._conn.execute(delete(s.org_tags).where(s.org_tags.c.resource_id == target_id))

    def put_org_policy(self, policy: OrgPolicy) -> None:
        """Create or replace a customer policy (its type never changes)."""
        self._write()
        self._org_changed(policy.organization_id, "put_org_policy")
        t = s.org_policies
        values = {
            "organization_id": policy.organization_id, "type": policy.type, "name": policy.name,
            "description": policy.description, "content": policy.content, "create_date": policy.create_date,
        }  # fmt: skip
        if self._first(select(t.c.id).where(t.c.id == policy.id)) is None:
            self._conn.execute(insert(t).values(id=policy.id, **values))
        else:
            self._conn.execute(update(t).where(t.c.id == policy.id).values(**values))

    def delete_org_policy(self, policy_id: str) -> None:
        self._write()
        self._org_changed(self._org_of(s.org_policies, s.org_policies.c.id, policy_id), "delete_org_policy")
        self._conn.execute(delete(s.org_policies).where(s.org_policies.c.id == policy_id))
        self._conn.execute(delete(s.org_tags).where(s.org_tags.c.resource_id == policy_id))

    def attach_org_policy(self, organization_id: str, target_id: str, policy_id: str) -> None:
        self._write()
        self._org_changed(organization_id, "attach_org_policy")
        self._conn.execute(
            insert(s.org_attachments).values(organization_id=organization_id, target_id=target_id, policy_id=policy_id)
        )

    def detach_org_policies(self, organization_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Remove the (target id, policy id) attachments ``pairs``."""
        self._write()
        self._org_changed(organization_id, "detach_org_policies")
        t = s.org_attachments
        for target_id, policy_id in pairs:
            self._conn.execute(
                delete(t).where(
                    t.c.organization_id == organization_id, t.c.target_id == target_id, t.c.policy_id == policy_id
                )
            )

    def set_org_tags(self, organization_id: str, resource_id: str, tags: Sequence[tuple[str, str]]) -> None:
        """Replace the tags of ``resource_id`` with ``tags``."""
        self._write()
        self._org_changed(organization_id, "set_org_tags")
        t = s.org_tags
        self._conn.execute(delete(t).where(t.c.organization_id == organization_id, t.c.resource_id == resource_id))
        if tags:
            self._conn.execute(
                insert(t), [{"organization_id": organization_id, "resource_id": resource_id, "key": k, "value": v}
                            for k, v in tags],
            )  # fmt: skip

    def put_create_account_status(self, status: CreateAccountStatus) -> None:
        self._write()
        self._org_changed(status.organization_id, "put_create_account_status")
        t = s.org_create_account_statuses
        values = {
            "organization_id": status.organization_id, "account_name": status.account_name, "state": status.state,
            "requested": status.requested, "completed": status.completed, "account_id": status.account_id,
            "failure_reason": status.failure_reason,
        }  # fmt: skip
        if self._first(select(t.c.id).where(t.c.id == status.id)) is None:
            self._conn.execute(insert(t).values(id=status.id, **values))
        else:
            self._conn.execute(update(t).where(t.c.id == status.id).values(**values))

    # -- trusted access, delegated administrators, the delegation policy ----------------------
    def set_org_service_access(self, organization_id: str, service_principal: str, enabled: datetime | None) -> None:
        """Enable trusted access for ``service_principal`` (at ``enabled``), or disable it (None)."""
        self._write()
        self._org_changed(organization_id, "set_org_service_access")
        t = s.org_service_access
        self._conn.execute(
            delete(t).where(t.c.organization_id == organization_id, t.c.service_principal == service_principal)
        )
        if enabled is not None:
            self._conn.execute(insert(t).values(organization_id=organization_id, service_principal=service_principal,
                                                date_enabled=enabled))  # fmt: skip

    def put_org_delegated_admin(
        self, organization_id: str, account_id: str, service_principal: str, enabled: datetime
    ) -> None:
        self._write()
        self._org_changed(organization_id, "put_org_delegated_admin")
        self._conn.execute(insert(s.org_delegated_admins).values(
            organization_id=organization_id, account_id=account_id, service_principal=service_principal,
            delegation_enabled_date=enabled,
        ))  # fmt: skip

    def delete_org_delegated_admins(self, organization_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Remove the (account id, service principal) registrations ``pairs``."""
        self._write()
        self._org_changed(organization_id, "delete_org_delegated_admins")
        t = s.org_delegated_admins
        for account_id, service_principal in pairs:
            self._conn.execute(delete(t).where(
                t.c.organization_id == organization_id, t.c.account_id == account_id,
                t.c.service_principal == service_principal,
            ))  # fmt: skip

    def put_org_resource_policy(self, policy: OrgResourcePolicy) -> None:
        """Create or replace the organization's delegation policy."""
        self._write()
        self._org_changed(policy.organization_id, "put_org_resource_policy")
        t = s.org_resource_policies
        self._conn.execute(delete(t).where(t.c.organization_id == policy.organization_id))
        self._conn.execute(insert(t).values(organization_id=policy.organization_id, id=policy.id,
                                            content=policy.content))  # fmt: skip

    def delete_org_resource_policy(self, organization_id: str) -> None:
        """Delete the delegation policy and its tags."""
        self._write()
        self._org_changed(organization_id, "delete_org_resource_policy")
        t = s.org_resource_policies
        row = self._first(select(t.c.id).where(t.c.organization_id == organization_id))
        if row is None:
            return
        self._conn.execute(delete(t).where(t.c.organization_id == organization_id))
        self._conn.execute(delete(s.org_tags).where(s.org_tags.c.organization_id == organization_id,
                                                     s.org_tags.c.resource_id == row.id))  # fmt: skip
