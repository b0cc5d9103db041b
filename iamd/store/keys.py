"""Access keys of IAM users and of the account root (``user_name`` None).

Key ids are minted by the caller together with the secret; the secret arrives sealed
(encrypted) and is stored as opaque bytes. Authentication resolves a key id and its owner
with :meth:`KeyOps.lookup_access_key`: one query on the primary key (with the user's tags).
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.driver import DriverQuery
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.records import AccessKey, AccessKeyOwner, KeyStatus, Tag, User

__all__ = ["KeyOps"]


def _build_key_select(*, with_tags: bool = False) -> Select[Any]:
    """A key with its user's columns and boundary; ``with_tags``: and the user's tags too (one row
    per tag, one row if it has none)."""
    k, u, bp, t = s.access_keys, s.users, s.policies.alias("key_bp"), s.user_tags
    columns: list[Any] = [
        k,
        u.c.name.label("u_name"),
        u.c.path.label("u_path"),
        u.c.create_date.label("u_create_date"),
        u.c.password_last_used.label("u_password_last_used"),
        bp.c.account_id.label("bp_account"),
        bp.c.path.label("bp_path"),
        bp.c.name.label("bp_name"),
    ]
    joined = k.outerjoin(u, k.c.user_id == u.c.id).outerjoin(bp, u.c.boundary_policy_id == bp.c.id)
    if with_tags:
        columns += [t.c.key.label("tag_key"), t.c.value.label("tag_value")]
        joined = joined.outerjoin(t, t.c.resource_id == u.c.id)
    return select(*columns).select_from(joined)


_KEY_SELECT = _build_key_select()
_KEY_BY_ID = _KEY_SELECT.where(s.access_keys.c.id == bindparam("key_id"))
# authentication's one statement (lookup_access_key): a key, its user and the user's tags
_KEY_OWNER = DriverQuery(
    _build_key_select(with_tags=True).where(s.access_keys.c.id == bindparam("key_id")).order_by(s.user_tags.c.key_norm)
)


# every key, its user and tags, a page at a time in key id order (access_key_owners: the
# credential index's bulk load, iamd/api/credentials.py)
_KEY_PAGE = DriverQuery(
    _build_key_select(with_tags=True)
    .where(
        s.access_keys.c.id.in_(
            select(s.access_keys.c.id)
            .where(s.access_keys.c.id > bindparam("after"))
            .order_by(s.access_keys.c.id)
            .limit(bindparam("limit"))
            .offset(bindparam("offset"))  # named: SQLite's LIMIT ? would add an unnamed OFFSET ?
        )
    )
    .order_by(s.access_keys.c.id, s.user_tags.c.key_norm)
)
_KEY_COUNT = select(func.count()).select_from(s.access_keys)


def _key_select() -> Select[Any]:
    return _KEY_SELECT


class KeyOps(Ops):
    def _key(self, r: Row[Any]) -> AccessKey:
        return AccessKey(
            id=r.id,
            account_id=r.account_id,
            user_id=r.user_id,
            user_name=r.u_name,
            status=KeyStatus(r.status),
            secret_sealed=bytes(r.secret_sealed),
            create_date=r.create_date,
            last_used_date=r.last_used_date,
            last_used_service=r.last_used_service,
            last_used_region=r.last_used_region,
        )

    def _key_row(self, key_id: str) -> Row[Any]:
        row = self._conn.execute(_KEY_BY_ID, {"key_id": key_id}).first()
        if row is None:
            raise NotFound("access key", key_id)
        return row

    def _owned_key(self, account: str, user_name: str | None, key_id: str) -> Row[Any]:
        user_id = None if user_name is None else self._named_id(s.users, "user", account, user_name)
        row = self._first(select(s.access_keys).where(s.access_keys.c.id == key_id))
        if row is None or row.account_id != account or row.user_id != user_id:
            raise NotFound("access key", key_id)
        return row

    # -- reads ---------------------------------------------------------------------------
    def lookup_access_key(self, key_id: str) -> AccessKeyOwner:
        """The key, its user and the user's tags, in one statement (on the driver's cursor:
        authentication's read of a caller's first request, iamd/store/driver.py)."""
        rows = _KEY_OWNER.rows(self._conn, {"key_id": key_id})
        if not rows:
            raise NotFound("access key", key_id)
        return self._owner(rows)

    def access_key_owners(self, after: str, limit: int) -> list[AccessKeyOwner]:
        """The next ``limit`` keys by id after ``after``, each as ``lookup_access_key`` gives it,
        in one statement (the credential index's bulk load: iamd/api/credentials.py)."""
        rows = _KEY_PAGE.rows(self._conn, {"after": after, "limit": limit, "offset": 0})
        return [self._owner(list(group)) for _, group in itertools.groupby(rows, key=lambda r: r.id)]

    def count_access_keys(self) -> int:
        return int(self._conn.execute(_KEY_COUNT).scalar_one())

    def _owner(self, rows: list[Any]) -> AccessKeyOwner:
        """One key's rows (one per tag of its user, one if it has none) as its owner."""
        r = rows[0]
        user = None
        if r.user_id is not None:
            # A credential keeps its user (one per active caller, docs/architecture.md "Caches"):
            # its account and path are the same few strings in every one, so one object each.
            user = User(
                id=r.user_id,
                account_id=sys.intern(r.account_id),
                name=r.u_name,
                path=sys.intern(r.u_path),
                arn=self._arn(r.account_id, "user", r.u_path, r.u_name),
                create_date=r.u_create_date,
                permissions_boundary=self._boundary_arn(r.bp_account, r.bp_path, r.bp_name),
                password_last_used=r.u_password_last_used,
            )
        tags = tuple(Tag(row.tag_key, row.tag_value) for row in rows if row.tag_key is not None)
        return AccessKeyOwner(self._key(r), user, tags)

    def get_access_key(self, key_id: str) -> AccessKey:
        return self._key(self._key_row(key_id))

    def list_access_keys(self, account: str, user_name: str | None) -> tuple[AccessKey, ...]:
        """Oldest first."""
        k = s.access_keys
        owner: ColumnElement[bool]
        if user_name is None:
            owner = k.c.user_id.is_(None)
        else:
            owner = k.c.user_id == self._named_id(s.users, "user", account, user_name)
        stmt = _key_select().where(k.c.account_id == account, owner).order_by(k.c.create_date, k.c.id)
        return tuple(self._key(r) for r in self._conn.execute(stmt))

    # -- writes --------------------------------------------------------------------------
    def create_access_key(
        self,
        account: str,
        user_name: str | None,
        key_id: str,
        secret_sealed: bytes,
        *,
        status: KeyStatus = KeyStatus.ACTIVE,
    ) -> AccessKey:
        self._write()
        self._require_account(account)
        user_id = None if user_name is None else self._named_id(s.users, "user", account, user_name)
        if self._first(select(s.access_keys.c.id).where(s.access_keys.c.id == key_id)) is not None:
            raise AlreadyExists("access key", key_id)
        self._conn.execute(
            insert(s.access_keys).values(
                id=key_id,
                account_id=account,
                user_id=user_id,
                status=status.value,
                secret_sealed=secret_sealed,
                create_date=self._now(),
            )
        )
        self._changed(Entity.ACCESS_KEY, account, key_id, Verb.CREATED, user_name or "")
        return self.get_access_key(key_id)

    def update_access_key(self, account: str, user_name: str | None, key_id: str, status: KeyStatus) -> AccessKey:
        self._write()
        self._owned_key(account, user_name, key_id)
        self._conn.execute(update(s.access_keys).where(s.access_keys.c.id == key_id).values(status=status.value))
        self._changed(Entity.ACCESS_KEY, account, key_id, Verb.UPDATED, status.value)
        return self.get_access_key(key_id)

    def delete_access_key(self, account: str, user_name: str | None, key_id: str) -> None:
        self._write()
        self._owned_key(account, user_name, key_id)
        self._conn.execute(delete(s.access_keys).where(s.access_keys.c.id == key_id))
        self._changed(Entity.ACCESS_KEY, account, key_id, Verb.DELETED)
