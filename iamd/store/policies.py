"""Managed policies (customer and AWS managed) and their versions.

A policy keeps at most :data:`MAX_VERSIONS` versions; exactly one is the default (the
database refuses to delete it). Version ids are ``v1``, ``v2``, … and are never reused.
Documents are stored exactly as submitted. AWS managed policies live in the pseudo-account
``aws`` and change only through :meth:`PolicyOps.put_aws_managed_policy`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, delete, exists, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, LimitExceeded, NotFound
from iamd.store.records import (
    AWS_ACCOUNT,
    ManagedPolicy,
    Page,
    PolicyScope,
    PolicyUsage,
    PolicyVersion,
    Tag,
    TagTarget,
)
from iamd.store.tags import put_tags

__all__ = ["MAX_VERSIONS", "PolicyOps"]

MAX_VERSIONS = 5
_VERSION = re.compile(r"v([1-9][0-9]*)")
_ATTACHMENTS = (s.user_policy_attachments, s.group_policy_attachments, s.role_policy_attachments)
_BOUNDED = (s.users, s.roles)


def _attached(policy_id: ColumnElement[str]) -> ColumnElement[bool]:
    return or_(*(exists().where(t.c.policy_id == policy_id) for t in _ATTACHMENTS))


def _bounding(policy_id: ColumnElement[str]) -> ColumnElement[bool]:
    return or_(*(exists().where(t.c.boundary_policy_id == policy_id) for t in _BOUNDED))


def _build_policy_select() -> Select[Any]:
    """Policies with their attachment and boundary-usage counts (correlated, index-backed)."""
    p = s.policies

    def counted(column: ColumnElement[str]) -> ColumnElement[int]:
        return select(func.count()).where(column == p.c.id).scalar_subquery()

    u, g, r = _ATTACHMENTS
    attachments = counted(u.c.policy_id) + counted(g.c.policy_id) + counted(r.c.policy_id)
    boundaries = counted(s.users.c.boundary_policy_id) + counted(s.roles.c.boundary_policy_id)
    return select(p, attachments.label("attachment_count"), boundaries.label("boundary_count"))


_POLICY_SELECT = _build_policy_select()


def _policy_select() -> Select[Any]:
    return _POLICY_SELECT


class PolicyOps(Ops):
    def _policy(self, r: Row[Any]) -> ManagedPolicy:
        return ManagedPolicy(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            path=r.path,
            arn=self._arn(r.account_id, "policy", r.path, r.name),
            description=r.description,
            default_version_id=r.default_version_id,
            attachment_count=int(r.attachment_count),
            permissions_boundary_usage_count=int(r.boundary_count),
            create_date=r.create_date,
            update_date=r.update_date,
        )

    def _version(self, policy: Row[Any], v: Row[Any]) -> PolicyVersion:
        return PolicyVersion(
            policy_id=policy.id,
            policy_arn=self._arn(policy.account_id, "policy", policy.path, policy.name),
            version_id=v.version_id,
            document=v.document,
            is_default=v.version_id == policy.default_version_id,
            create_date=v.create_date,
        )

    def _policy_by_id(self, policy_id: str) -> ManagedPolicy:
        row = self._first(_policy_select().where(s.policies.c.id == policy_id))
        if row is None:
            raise NotFound("policy", policy_id)
        return self._policy(row)

    def _customer_policy(self, arn: str) -> Row[Any]:
        row = self._policy_row(arn)
        if row.account_id == AWS_ACCOUNT:
            raise Conflict(ConflictReason.AWS_MANAGED, "policy", arn)
        return row

    # -- reads ---------------------------------------------------------------------------
    def get_policy(self, arn: str) -> ManagedPolicy:
        return self._policy_by_id(str(self._policy_row(arn).id))

    def list_policies(
        self,
        account: str,
        *,
        scope: PolicyScope = PolicyScope.ALL,
        only_attached: bool = False,
        usage: PolicyUsage | None = None,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[ManagedPolicy]:
        p = s.policies
        owners = {PolicyScope.ALL: [account, AWS_ACCOUNT], PolicyScope.AWS: [AWS_ACCOUNT], PolicyScope.LOCAL: [account]}
        stmt = _policy_select().where(p.c.account_id.in_(owners[scope]))
        if only_attached or usage is PolicyUsage.PERMISSIONS_POLICY:
            stmt = stmt.where(_attached(p.c.id))
        if usage is PolicyUsage.PERMISSIONS_BOUNDARY:
            stmt = stmt.where(_bounding(p.c.id))
        under = self._under(p.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        keys = [p.c.name_key, p.c.account_id]
        return self._paged(stmt, keys, f"policies:{scope.value}", marker, max_items, self._policy)

    def count_policies(self, account: str, *, at_most: int | None = None) -> int:
        return self._count_up_to(s.policies, account, at_most)

    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion:
        policy = self._policy_row(arn)
        v = s.policy_versions
        row = self._first(select(v).where(v.c.policy_id == policy.id, v.c.version_id == version_id))
        if row is None:
            raise NotFound("policy version", f"{arn} {version_id}")
        return self._version(policy, row)

    def list_policy_versions(self, arn: str) -> tuple[PolicyVersion, ...]:
        """Newest first."""
        policy = self._policy_row(arn)
        v = s.policy_versions
        rows = self._conn.execute(select(v).where(v.c.policy_id == policy.id).order_by(v.c.version_no.desc()))
        return tuple(self._version(policy, r) for r in rows)

    # -- writes --------------------------------------------------------------------------
    def _insert_policy(
        self, account: str, name: str, document: str, path: str, description: str | None, version_id: str
    ) -> str:
        match = _VERSION.fullmatch(version_id)
        if match is None:
            raise ValueError(f"bad version id {version_id!r}")
        number, now, policy_id = int(match.group(1)), self._now(), self._ctx.new_id("ANPA")
        self._conn.execute(
            insert(s.policies).values(
                id=policy_id,
                account_id=account,
                name=name,
                name_key=name_key(name),
                path=path,
                description=description,
                default_version_id=None,
                next_version=number + 1,
                create_date=now,
                update_date=now,
            )
        )
        self._add_version(policy_id, version_id, number, document)
        self._conn.execute(update(s.policies).where(s.policies.c.id == policy_id).values(default_version_id=version_id))
        self._policy_default_changed(policy_id, document)
        return policy_id

    def _add_version(self, policy_id: str, version_id: str, number: int, document: str) -> None:
        self._conn.execute(
            insert(s.policy_versions).values(
                policy_id=policy_id,
                version_id=version_id,
                version_no=number,
                document=document,
                create_date=self._now(),
            )
        )

    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> ManagedPolicy:
        self._write()
        if account == AWS_ACCOUNT:
            raise Conflict(ConflictReason.AWS_MANAGED, "policy", name)
        self._require_account(account)
        if self._name_taken(s.policies, account, name):
            raise AlreadyExists("policy", name)
        policy_id = self._insert_policy(account, name, document, path, description, "v1")
        put_tags(self._conn, TagTarget.POLICY, policy_id, tags)
        self._changed(Entity.POLICY, "", self._arn(account, "policy", path, name), Verb.CREATED)
        return self._policy_by_id(policy_id)

    def put_aws_managed_policy(
        self, name: str, document: str, *, path: str = "/", description: str | None = None, version_id: str = "v1"
    ) -> ManagedPolicy:
        """Create or refresh an AWS managed policy; ``version_id`` becomes (or is) its default."""
        self._write()
        p, v = s.policies, s.policy_versions
        row = self._first(select(p).where(p.c.account_id == AWS_ACCOUNT, p.c.name_key == name_key(name)))
        self._changed(Entity.POLICY, "", self._arn(AWS_ACCOUNT, "policy", path, name),
                      Verb.CREATED if row is None else Verb.DEFAULT_VERSION_SET, version_id)  # fmt: skip
        if row is not None and row.path != path:  # moved: its old ARN names nothing now
            self._changed(Entity.POLICY, "", self._arn(AWS_ACCOUNT, "policy", row.path, row.name), Verb.DELETED)
        if row is None:
            return self._policy_by_id(self._insert_policy(AWS_ACCOUNT, name, document, path, description, version_id))
        match = _VERSION.fullmatch(version_id)
        if match is None:
            raise ValueError(f"bad version id {version_id!r}")
        number = int(match.group(1))
        current = v.c.policy_id == row.id, v.c.version_id == row.default_version_id
        before = self._first(select(v.c.document).where(*current)) if row.default_version_id else None
        existing = v.c.policy_id == row.id, v.c.version_id == version_id
        if self._first(select(v.c.version_id).where(*existing)) is None:
            self._add_version(row.id, version_id, number, document)
        else:
            self._conn.execute(update(v).where(*existing).values(document=document))
        self._conn.execute(
            update(p)
            .where(p.c.id == row.id)
            .values(
                name=name,
                name_key=name_key(name),
                path=path,
                description=description,
                default_version_id=version_id,
                next_version=max(row.next_version, number + 1),
                update_date=self._now(),
            )
        )
        if before is None or before.document != document:  # refreshed on start: only real changes are history
            self._policy_default_changed(row.id, document)
        stale = (
            select(v.c.version_id)
            .where(v.c.policy_id == row.id, v.c.version_id != version_id)
            .order_by(v.c.version_no.desc())
            .offset(MAX_VERSIONS - 1)
        )
        old = [r.version_id for r in self._conn.execute(stale)]
        if old:
            self._conn.execute(delete(v).where(v.c.policy_id == row.id, v.c.version_id.in_(old)))
        return self._policy_by_id(row.id)

    def delete_policy(self, arn: str) -> None:
        """Refused while attached, used as a boundary, or holding non-default versions."""
        self._write()
        row = self._customer_policy(arn)
        if self._conn.execute(select(_attached(s.policies.c.id)).where(s.policies.c.id == row.id)).scalar():
            raise Conflict(ConflictReason.POLICY_ATTACHED, "policy", arn)
        if self._conn.execute(select(_bounding(s.policies.c.id)).where(s.policies.c.id == row.id)).scalar():
            raise Conflict(ConflictReason.POLICY_USED_AS_BOUNDARY, "policy", arn)
        v = s.policy_versions
        if self._count(self._count_of(v, v.c.policy_id == row.id)) > 1:
            raise Conflict(ConflictReason.POLICY_HAS_VERSIONS, "policy", arn)
        self._conn.execute(update(s.policies).where(s.policies.c.id == row.id).values(default_version_id=None))
        self._conn.execute(delete(v).where(v.c.policy_id == row.id))
        self._policy_default_changed(row.id, None)
        self._conn.execute(delete(s.policies).where(s.policies.c.id == row.id))
        self._changed(Entity.POLICY, "", arn, Verb.DELETED)

    def create_policy_version(self, arn: str, document: str, *, set_as_default: bool = False) -> PolicyVersion:
        self._write()
        row = self._customer_policy(arn)
        v = s.policy_versions
        if self._count(self._count_of(v, v.c.policy_id == row.id)) >= MAX_VERSIONS:
            raise LimitExceeded("VersionsPerPolicy", MAX_VERSIONS)
        version_id = f"v{row.next_version}"
        self._add_version(row.id, version_id, row.next_version, document)
        values: dict[str, Any] = {"next_version": row.next_version + 1}
        if set_as_default:
            values.update(default_version_id=version_id, update_date=self._now())
        self._conn.execute(update(s.policies).where(s.policies.c.id == row.id).values(**values))
        if set_as_default:
            self._policy_default_changed(row.id, document)
        self._changed(Entity.POLICY, "", arn, Verb.DEFAULT_VERSION_SET if set_as_default else Verb.VERSION_CREATED,
                      version_id)  # fmt: skip
        return self.get_policy_version(arn, version_id)

    def set_default_policy_version(self, arn: str, version_id: str) -> ManagedPolicy:
        self._write()
        row = self._customer_policy(arn)
        v = s.policy_versions
        chosen = self._first(select(v.c.document).where(v.c.policy_id == row.id, v.c.version_id == version_id))
        if chosen is None:
            raise NotFound("policy version", f"{arn} {version_id}")
        self._conn.execute(
            update(s.policies)
            .where(s.policies.c.id == row.id)
            .values(default_version_id=version_id, update_date=self._now())
        )
        self._policy_default_changed(row.id, chosen.document)
        self._changed(Entity.POLICY, "", arn, Verb.DEFAULT_VERSION_SET, version_id)
        return self._policy_by_id(row.id)

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        self._write()
        row = self._customer_policy(arn)
        v = s.policy_versions
        if self._first(select(v.c.version_id).where(v.c.policy_id == row.id, v.c.version_id == version_id)) is None:
            raise NotFound("policy version", f"{arn} {version_id}")
        if row.default_version_id == version_id:
            raise Conflict(ConflictReason.DEFAULT_VERSION, "policy", arn)
        self._conn.execute(delete(v).where(v.c.policy_id == row.id, v.c.version_id == version_id))
        self._changed(Entity.POLICY, "", arn, Verb.VERSION_DELETED, version_id)
