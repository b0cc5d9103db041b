"""IAM groups and group membership."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, exists, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key, user_select
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, NotFound
from iamd.store.records import Group, Page, User

__all__ = ["GroupOps"]


class GroupOps(Ops):
    def _group(self, r: Row[Any]) -> Group:
        return Group(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            path=r.path,
            arn=self._arn(r.account_id, "group", r.path, r.name),
            create_date=r.create_date,
        )

    # -- reads ---------------------------------------------------------------------------
    def get_group(self, account: str, name: str) -> Group:
        g = s.groups
        row = self._first(select(g).where(g.c.account_id == account, g.c.name_key == name_key(name)))
        if row is None:
            raise NotFound("group", name)
        return self._group(row)

    def list_groups(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[Group]:
        g = s.groups
        stmt = select(g).where(g.c.account_id == account)
        under = self._under(g.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        return self._paged(stmt, [g.c.name_key], "groups", marker, max_items, self._group)

    def list_group_members(
        self, account: str, group_name: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[User]:
        group_id = self._named_id(s.groups, "group", account, group_name)
        m, u = s.group_members, s.users
        stmt = user_select().join(m, m.c.user_id == u.c.id).where(m.c.group_id == group_id)
        return self._paged(stmt, [u.c.name_key], "group-members", marker, max_items, self._user)

    def list_groups_for_user(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[Group]:
        user_id = self._named_id(s.users, "user", account, user_name)
        m, g = s.group_members, s.groups
        stmt = select(g).join(m, m.c.group_id == g.c.id).where(m.c.user_id == user_id)
        return self._paged(stmt, [g.c.name_key], "groups-for-user", marker, max_items, self._group)

    def count_groups(self, account: str, *, at_most: int | None = None) -> int:
        return self._count_up_to(s.groups, account, at_most)

    # -- writes --------------------------------------------------------------------------
    def create_group(self, account: str, name: str, *, path: str = "/") -> Group:
        self._write()
        self._require_account(account)
        if self._name_taken(s.groups, account, name):
            raise AlreadyExists("group", name)
        values = {"account_id": account, "name": name, "name_key": name_key(name), "path": path}
        group_id = self._ctx.new_id("AGPA")
        self._conn.execute(insert(s.groups).values(id=group_id, create_date=self._now(), **values))
        self._history(account, "create", "group", group_id)
        self._changed(Entity.GROUP, account, name, Verb.CREATED)
        return self.get_group(account, name)

    def update_group(
        self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None
    ) -> Group:
        self._write()
        group_id = self._named_id(s.groups, "group", account, name)
        values: dict[str, str] = {}
        if new_name is not None:
            if name_key(new_name) != name_key(name) and self._name_taken(s.groups, account, new_name):
                raise AlreadyExists("group", new_name)
            values.update(name=new_name, name_key=name_key(new_name))
        if new_path is not None:
            values["path"] = new_path
        if values:
            self._conn.execute(update(s.groups).where(s.groups.c.id == group_id).values(**values))
        if new_name is not None:
            self._changed(Entity.GROUP, account, name, Verb.RENAMED, new_name)
        else:
            self._changed(Entity.GROUP, account, name, Verb.UPDATED)
        row = self._first(select(s.groups).where(s.groups.c.id == group_id))
        assert row is not None
        return self._group(row)

    def delete_group(self, account: str, name: str) -> None:
        """Refused (:class:`Conflict`) while the group has members or policies."""
        self._write()
        group_id = self._named_id(s.groups, "group", account, name)
        blockers = (
            (s.group_members.c.group_id, ConflictReason.HAS_MEMBERS),
            (s.group_inline_policies.c.entity_id, ConflictReason.HAS_INLINE_POLICIES),
            (s.group_policy_attachments.c.entity_id, ConflictReason.HAS_ATTACHED_POLICIES),
        )
        for column, reason in blockers:
            if self._conn.execute(select(exists().where(column == group_id))).scalar():
                raise Conflict(reason, "group", name)
        self._conn.execute(delete(s.groups).where(s.groups.c.id == group_id))
        self._changed(Entity.GROUP, account, name, Verb.DELETED)

    def add_user_to_group(self, account: str, group_name: str, user_name: str) -> bool:
        """Idempotent: returns False when the user already was a member."""
        self._write()
        group_id = self._named_id(s.groups, "group", account, group_name)
        user_id = self._named_id(s.users, "user", account, user_name)
        m = s.group_members
        if self._first(select(m.c.user_id).where(m.c.group_id == group_id, m.c.user_id == user_id)) is not None:
            return False
        self._conn.execute(insert(m).values(group_id=group_id, user_id=user_id))
        self._history(account, "join", "user", user_id, group_id)
        self._changed(Entity.GROUP, account, group_name, Verb.MEMBER_ADDED, f"user {user_name}")
        self._changed(Entity.USER, account, user_name, Verb.MEMBER_ADDED, f"group {group_name}")
        return True

    def remove_user_from_group(self, account: str, group_name: str, user_name: str) -> None:
        self._write()
        group_id = self._named_id(s.groups, "group", account, group_name)
        user_id = self._named_id(s.users, "user", account, user_name)
        m = s.group_members
        done = self._conn.execute(delete(m).where(m.c.group_id == group_id, m.c.user_id == user_id))
        if done.rowcount == 0:
            raise NotFound("group membership", f"{user_name} in {group_name}")
        self._history(account, "leave", "user", user_id, group_id)
        self._changed(Entity.GROUP, account, group_name, Verb.MEMBER_REMOVED, f"user {user_name}")
        self._changed(Entity.USER, account, user_name, Verb.MEMBER_REMOVED, f"group {group_name}")
