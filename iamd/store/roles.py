"""IAM roles (trust policy, session duration, description, boundary, last use)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, exists, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key, role_select
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, NotFound
from iamd.store.records import Page, Role, Tag, TagTarget
from iamd.store.tags import put_tags

__all__ = ["RoleOps"]

_GET_ROLE = role_select().where(s.roles.c.account_id == bindparam("account"), s.roles.c.name_key == bindparam("key"))


class RoleOps(Ops):
    # -- reads ---------------------------------------------------------------------------
    def get_role(self, account: str, name: str) -> Role:
        row = self._conn.execute(_GET_ROLE, {"account": account, "key": name_key(name)}).first()
        if row is None:
            raise NotFound("role", name)
        return self._role(row)

    def get_role_by_id(self, role_id: str) -> Role:
        row = self._first(role_select().where(s.roles.c.id == role_id))
        if row is None:
            raise NotFound("role", role_id)
        return self._role(row)

    def list_roles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[Role]:
        r = s.roles
        stmt = role_select().where(r.c.account_id == account)
        under = self._under(r.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        return self._paged(stmt, [r.c.name_key], "roles", marker, max_items, self._role)

    def count_roles(self, account: str, *, at_most: int | None = None) -> int:
        return self._count_up_to(s.roles, account, at_most)

    # -- writes --------------------------------------------------------------------------
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
    ) -> Role:
        self._write()
        self._require_account(account)
        if self._name_taken(s.roles, account, name):
            raise AlreadyExists("role", name)
        boundary = self._attachable_policy_id(account, permissions_boundary) if permissions_boundary else None
        role_id = self._ctx.new_id("AROA")
        self._conn.execute(
            insert(s.roles).values(
                id=role_id,
                account_id=account,
                name=name,
                name_key=name_key(name),
                path=path,
                create_date=self._now(),
                assume_role_policy=assume_role_policy,
                description=description,
                max_session_duration=max_session_duration,
                boundary_policy_id=boundary,
            )
        )
        put_tags(self._conn, TagTarget.ROLE, role_id, tags)
        role = self.get_role_by_id(role_id)
        self._history(account, "create", "role", role_id)
        self._history(account, "trust", "role", role_id, document=assume_role_policy)
        if role.permissions_boundary:
            self._history(account, "boundary", "role", role_id, role.permissions_boundary)
        self._changed(Entity.ROLE, account, name, Verb.CREATED)
        if permissions_boundary:
            self._changed(Entity.POLICY, "", permissions_boundary, Verb.BOUNDARY_SET, f"role {name}")
        return role

    def update_role(
        self, account: str, name: str, *, description: str | None = None, max_session_duration: int | None = None
    ) -> Role:
        """``None`` leaves a field as it is (pass ``""`` to clear the description)."""
        self._write()
        role_id = self._named_id(s.roles, "role", account, name)
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = description
        if max_session_duration is not None:
            values["max_session_duration"] = max_session_duration
        if values:
            self._conn.execute(update(s.roles).where(s.roles.c.id == role_id).values(**values))
        self._changed(Entity.ROLE, account, name, Verb.UPDATED)
        return self.get_role_by_id(role_id)

    def update_assume_role_policy(self, account: str, name: str, document: str) -> Role:
        self._write()
        role_id = self._named_id(s.roles, "role", account, name)
        self._conn.execute(update(s.roles).where(s.roles.c.id == role_id).values(assume_role_policy=document))
        self._history(account, "trust", "role", role_id, document=document)
        self._changed(Entity.ROLE, account, name, Verb.UPDATED, "trust policy")
        return self.get_role_by_id(role_id)

    def delete_role(self, account: str, name: str) -> None:
        """Refused (:class:`Conflict`) while the role has policies or is in an instance profile."""
        self._write()
        role_id = self._named_id(s.roles, "role", account, name)
        blockers = (
            (s.role_inline_policies.c.entity_id, ConflictReason.HAS_INLINE_POLICIES),
            (s.role_policy_attachments.c.entity_id, ConflictReason.HAS_ATTACHED_POLICIES),
            (s.instance_profiles.c.role_id, ConflictReason.IN_INSTANCE_PROFILE),
        )
        for column, reason in blockers:
            if self._conn.execute(select(exists().where(column == role_id))).scalar():
                raise Conflict(reason, "role", name)
        self._conn.execute(delete(s.roles).where(s.roles.c.id == role_id))
        self._changed(Entity.ROLE, account, name, Verb.DELETED)
