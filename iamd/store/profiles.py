"""Instance profiles: at most one role each (a nullable column, so the database says so too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key, role_select
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, LimitExceeded, NotFound
from iamd.store.records import InstanceProfile, Page, Role, Tag, TagTarget
from iamd.store.tags import put_tags

__all__ = ["InstanceProfileOps"]


class InstanceProfileOps(Ops):
    def _profiles(self, rows: Sequence[Row[Any]]) -> list[InstanceProfile]:
        """Convert rows, fetching their roles with one query."""
        role_ids = {r.role_id for r in rows if r.role_id is not None}
        roles: dict[str, Role] = {}
        if role_ids:
            found = self._conn.execute(role_select().where(s.roles.c.id.in_(role_ids)))
            roles = {row.id: self._role(row) for row in found}
        return [
            InstanceProfile(
                id=r.id,
                account_id=r.account_id,
                name=r.name,
                path=r.path,
                arn=self._arn(r.account_id, "instance-profile", r.path, r.name),
                create_date=r.create_date,
                role=roles.get(r.role_id) if r.role_id is not None else None,
            )
            for r in rows
        ]

    def _profile_page(self, page: Page[Row[Any]]) -> Page[InstanceProfile]:
        return Page(tuple(self._profiles(page.items)), page.marker)

    # -- reads ---------------------------------------------------------------------------
    def get_instance_profile(self, account: str, name: str) -> InstanceProfile:
        ip = s.instance_profiles
        row = self._first(select(ip).where(ip.c.account_id == account, ip.c.name_key == name_key(name)))
        if row is None:
            raise NotFound("instance profile", name)
        return self._profiles([row])[0]

    def list_instance_profiles(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[InstanceProfile]:
        ip = s.instance_profiles
        stmt = select(ip).where(ip.c.account_id == account)
        under = self._under(ip.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        page = self._paged(stmt, [ip.c.name_key], "instance-profiles", marker, max_items, lambda r: r)
        return self._profile_page(page)

    def list_instance_profiles_for_role(
        self, account: str, role_name: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[InstanceProfile]:
        role_id = self._named_id(s.roles, "role", account, role_name)
        ip = s.instance_profiles
        stmt = select(ip).where(ip.c.role_id == role_id)
        page = self._paged(stmt, [ip.c.name_key], "instance-profiles-for-role", marker, max_items, lambda r: r)
        return self._profile_page(page)

    # -- writes --------------------------------------------------------------------------
    def create_instance_profile(
        self, account: str, name: str, *, path: str = "/", tags: Sequence[Tag] = ()
    ) -> InstanceProfile:
        self._write()
        self._require_account(account)
        if self._name_taken(s.instance_profiles, account, name):
            raise AlreadyExists("instance profile", name)
        profile_id = self._ctx.new_id("AIPA")
        self._conn.execute(
            insert(s.instance_profiles).values(
                id=profile_id,
                account_id=account,
                name=name,
                name_key=name_key(name),
                path=path,
                create_date=self._now(),
                role_id=None,
            )
        )
        put_tags(self._conn, TagTarget.INSTANCE_PROFILE, profile_id, tags)
        self._changed(Entity.INSTANCE_PROFILE, account, name, Verb.CREATED)
        return self.get_instance_profile(account, name)

    def delete_instance_profile(self, account: str, name: str) -> None:
        """Refused (:class:`Conflict`) while the profile holds a role."""
        self._write()
        profile = self.get_instance_profile(account, name)
        if profile.role is not None:
            raise Conflict(ConflictReason.HAS_ROLE, "instance profile", name)
        self._conn.execute(delete(s.instance_profiles).where(s.instance_profiles.c.id == profile.id))
        self._changed(Entity.INSTANCE_PROFILE, account, name, Verb.DELETED)

    def add_role_to_instance_profile(self, account: str, profile_name: str, role_name: str) -> InstanceProfile:
        self._write()
        profile = self.get_instance_profile(account, profile_name)
        role_id = self._named_id(s.roles, "role", account, role_name)
        if profile.role is not None:
            if profile.role.id == role_id:
                raise AlreadyExists("role in instance profile", role_name)
            raise LimitExceeded("InstanceSessionsPerInstanceProfile", 1)
        ip = s.instance_profiles
        self._conn.execute(update(ip).where(ip.c.id == profile.id).values(role_id=role_id))
        self._changed(Entity.INSTANCE_PROFILE, account, profile_name, Verb.MEMBER_ADDED, f"role {role_name}")
        self._changed(Entity.ROLE, account, role_name, Verb.MEMBER_ADDED, f"instance-profile {profile_name}")
        return self.get_instance_profile(account, profile_name)

    def remove_role_from_instance_profile(self, account: str, profile_name: str, role_name: str) -> InstanceProfile:
        self._write()
        profile = self.get_instance_profile(account, profile_name)
        role_id = self._named_id(s.roles, "role", account, role_name)
        if profile.role is None or profile.role.id != role_id:
            raise NotFound("role in instance profile", role_name)
        ip = s.instance_profiles
        self._conn.execute(update(ip).where(ip.c.id == profile.id).values(role_id=None))
        self._changed(Entity.INSTANCE_PROFILE, account, profile_name, Verb.MEMBER_REMOVED, f"role {role_name}")
        self._changed(Entity.ROLE, account, role_name, Verb.MEMBER_REMOVED, f"instance-profile {profile_name}")
        return self.get_instance_profile(account, profile_name)
