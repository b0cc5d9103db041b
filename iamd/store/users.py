"""IAM users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import bindparam, delete, exists, insert, select, text, update

from iamd.store import driver
from iamd.store import schema as s
from iamd.store.base import CREATE_REFUSED, FOREIGN_KEY_VIOLATION, Ops, name_key, user_select
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, NotAsAssumed, NotFound, StoreError
from iamd.store.records import Page, Tag, TagTarget, User
from iamd.store.tags import put_tags

__all__ = ["UserOps"]

_GET_USER = user_select().where(s.users.c.account_id == bindparam("account"), s.users.c.name_key == bindparam("key"))

# What keeps a user from being deleted, in the order DeleteUser names the first it finds.
_BLOCKERS = (
    (s.access_keys.c.user_id, ConflictReason.HAS_ACCESS_KEYS),
    (s.user_inline_policies.c.entity_id, ConflictReason.HAS_INLINE_POLICIES),
    (s.user_policy_attachments.c.entity_id, ConflictReason.HAS_ATTACHED_POLICIES),
    (s.group_members.c.user_id, ConflictReason.HAS_GROUP_MEMBERSHIPS),
    (s.mfa_devices.c.user_id, ConflictReason.HAS_MFA_DEVICES),
    (s.login_profiles.c.user_id, ConflictReason.HAS_LOGIN_PROFILE),
    (s.signing_certificates.c.user_id, ConflictReason.HAS_SIGNING_CERTIFICATES),
    (s.ssh_public_keys.c.user_id, ConflictReason.HAS_SSH_PUBLIC_KEYS),
    (s.service_specific_credentials.c.user_id, ConflictReason.HAS_SERVICE_SPECIFIC_CREDENTIALS),
)
_INSERT_USER = insert(s.users).values(
    id=bindparam("id"),
    account_id=bindparam("account_id"),
    name=bindparam("name"),
    name_key=bindparam("name_key"),
    path=bindparam("path"),
    create_date=bindparam("create_date", type_=s.users.c.create_date.type),
    boundary_policy_id=bindparam("boundary_policy_id"),
)
_DELETE_USER = delete(s.users).where(s.users.c.id == bindparam("user"))
_USER_BLOCKERS = tuple(reason for _, reason in _BLOCKERS)


def _blocked(user: Any) -> Any:
    """Whether the user ``user`` (its id, a parameter or a subquery) has each of :data:`_BLOCKERS`."""
    return select(*(exists().where(column == user).label(f"b{i}") for i, (column, _) in enumerate(_BLOCKERS)))


_USER_BLOCKED = _blocked(bindparam("user"))
# The same, the user by name (all false: no such user).
_NAMED_USER_BLOCKED = _blocked(
    select(s.users.c.id)
    .where(s.users.c.account_id == bindparam("account"), s.users.c.name_key == bindparam("key"))
    .scalar_subquery()
)

# PostgreSQL: a create's checks (CREATE_CHECKS), the user's insert and its history row in one
# statement, one round trip under the writers' lock (were five). The inserts run only if every
# check passed; the checks' row says which failed (Ops._checked_for_create), in the same
# snapshot, taken after the writers' lock (docs/architecture.md, "Writes on PostgreSQL").
_QUOTA = (
    "COALESCE((SELECT value FROM account_quotas WHERE account_id = :account AND name = :quota_name), :default_limit)"
)
_CREATE_USER_PG_CTES = (
    "WITH c AS (SELECT"
    " EXISTS (SELECT 1 FROM accounts WHERE id = :account) AS known,"
    " EXISTS (SELECT 1 FROM users WHERE account_id = :account AND name_key = :key) AS taken,"
    f" {_QUOTA} AS quota,"
    f" (SELECT count(*) FROM (SELECT 1 FROM users WHERE account_id = :account LIMIT {_QUOTA}) AS n) AS count),"
    " u AS (INSERT INTO users (id, account_id, name, name_key, path, create_date, boundary_policy_id)"
    " SELECT :id, :account, :name, :key, :path, :create_date, NULL FROM c"
    " WHERE c.known AND NOT c.taken AND c.count < c.quota RETURNING id),"
    " h AS (INSERT INTO policy_history (account_id, changed_at, event, owner_kind, owner_id, subject, document)"
    " SELECT :account, :changed_at, 'create', 'user', u.id, NULL, NULL FROM u) "
)
_CREATE_USER_PG = text(_CREATE_USER_PG_CTES + "SELECT c.known, c.taken, c.quota, c.count FROM c")
# The same, its checks' failure an error (held back and sent whole with the commit: Ops._defer_first).
_CREATE_USER_PG_REFUSING = text(_CREATE_USER_PG_CTES + CREATE_REFUSED)
# PostgreSQL: DeleteUser's lookup of the user, its blockers (_USER_BLOCKED) and the delete if none
# is there, in one statement (were three round trips under the lock). No row: no such user.
# ``moved``: its authorization took the user as stored at "/" and spelled ``:named`` without
# reading it (Tx.assume_user; '': it read it), and it is stored otherwise: not deleted.
_DELETE_USER_PG_CTES = (
    "WITH u AS (SELECT id, name, (:named <> '' AND (path <> '/' OR name <> :named)) AS moved"
    " FROM users WHERE account_id = :account AND name_key = :key),"
    " b AS (SELECT u.id, u.moved, "
    + ", ".join(
        f"EXISTS (SELECT 1 FROM {column.table.name} WHERE {column.name} = u.id) AS b{i}"
        for i, (column, _) in enumerate(_BLOCKERS)
    )
    + " FROM u),"
    " d AS (DELETE FROM users WHERE id IN (SELECT b.id FROM b WHERE NOT (b.moved OR "
    + " OR ".join(f"b.b{i}" for i in range(len(_BLOCKERS)))
    + "))) "
)
_DELETE_USER_PG = text(_DELETE_USER_PG_CTES + "SELECT b.* FROM b")
# The same, held back and sent whole with the commit (Ops._defer_first): the lookup and the delete;
# no such user an error ("user"), one not stored as its authorization assumed too ("moved":
# Tx.assume_user). Its blockers are left to the restricting foreign keys to users (migration
# 0017), which PostgreSQL checks at the delete whatever the statement says: a blocker is their
# violation (FOREIGN_KEY_VIOLATION, the constraint's name), not a second look at the same nine
# indexes (bench/README.md, "Session 16: PostgreSQL's CPU per write"); the one named is read after
# the rollback (_first_blocker). The transaction is aborted then, as by any check refused there.
# (A data-modifying WITH runs once whether or not the query refers to it.)
_DELETE_USER_PG_REFUSING = text(
    "WITH u AS (SELECT id, (:named <> '' AND (path <> '/' OR name <> :named)) AS moved"
    " FROM users WHERE account_id = :account AND name_key = :key),"
    " d AS (DELETE FROM users WHERE id IN (SELECT u.id FROM u WHERE NOT u.moved))"
    " SELECT CASE WHEN u.id IS NULL THEN iamd_refuse('user', '') WHEN u.moved THEN iamd_refuse('moved', '') END"
    " FROM (SELECT 1) AS one LEFT JOIN u ON true"
)
# A restricting foreign key to users (fk_<table>_<column>_users, schema.NAMING) -> its blocker.
_BLOCKER_OF_KEY = {f"fk_{column.table.name}_{column.name}_users": reason for column, reason in _BLOCKERS}


class UserOps(Ops):
    # -- reads ---------------------------------------------------------------------------
    def get_user(self, account: str, name: str) -> User:
        row = driver.first(self._conn, _GET_USER, {"account": account, "key": name_key(name)})
        if row is None:
            raise NotFound("user", name)
        return self._user(row)

    def get_user_by_id(self, user_id: str) -> User:
        row = self._first(user_select().where(s.users.c.id == user_id))
        if row is None:
            raise NotFound("user", user_id)
        return self._user(row)

    def list_users(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[User]:
        u = s.users
        stmt = user_select().where(u.c.account_id == account)
        under = self._under(u.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        return self._paged(stmt, [u.c.name_key], "users", marker, max_items, self._user)

    def count_users(self, account: str, *, at_most: int | None = None) -> int:
        return self._count_up_to(s.users, account, at_most)

    # -- writes --------------------------------------------------------------------------
    def assume_user(self, account: str, name: str) -> bool:
        """Whether the user ``name`` may be taken, unread, as stored at the path ``/`` and spelled
        as given (DeleteUser's authorization, iamd.service.authorize): PostgreSQL, a write begun
        by its writers' lock that may assume (``Store.transaction(assume=True)``), before the
        lock. Its delete (:meth:`delete_user`) then checks that under the lock, in its statement,
        and refuses with :class:`NotAsAssumed` (nothing written) if the user is stored otherwise.
        The read it saves is a round trip of its own before the lock (docs/architecture.md,
        "Session 16: DeleteUser's target assumed, checked by its delete")."""
        if not (self._assumes and self._unlocked):
            return False
        self._assumed_users[(account, name_key(name))] = name
        return True

    def create_user(
        self,
        account: str,
        name: str,
        *,
        path: str = "/",
        permissions_boundary: str | None = None,
        tags: Sequence[Tag] = (),
        quota: int | None = None,
    ) -> User:
        """``quota``: the account's Users quota unless one is set for it (AWS's default), checked
        in this transaction (LimitExceeded, after AlreadyExists); None: no quota check."""
        self._write()
        checks = ("Users", quota) if quota is not None else None
        if checks is not None and self._ctx.dialect == "postgresql" and not permissions_boundary:
            return self._create_user_pg(account, name, path, tags, checks)
        if checks is not None:
            self._require_account_free_name_and_room(s.users, "user", account, name, checks)
        else:
            self._require_account_and_free_name(s.users, "user", account, name)
        boundary = self._attachable_policy(account, permissions_boundary) if permissions_boundary else None
        user = self._new_user(account, name, path, boundary[1] if boundary else None)
        values = {
            "id": user.id,
            "account_id": account,
            "name": name,
            "name_key": name_key(name),
            "path": path,
            "create_date": user.create_date,
            "boundary_policy_id": boundary[0] if boundary else None,
        }
        driver.run(self._conn, _INSERT_USER, values)
        put_tags(self._conn, TagTarget.USER, user.id, tags)
        self._history(account, "create", "user", user.id)
        if boundary:
            self._history(account, "boundary", "user", user.id, boundary[1])
        self._changed(Entity.USER, account, name, Verb.CREATED)
        if boundary:
            self._changed(Entity.POLICY, "", boundary[1], Verb.BOUNDARY_SET, f"user {name}")
        return user

    def _new_user(self, account: str, name: str, path: str, boundary_arn: str | None) -> User:
        """The record of a user about to be inserted: a new id, its ARN, created now."""
        return User(
            id=self._ctx.new_id("AIDA"),
            account_id=account,
            name=name,
            path=path,
            arn=self._arn(account, "user", path, name),
            create_date=self._now(),
            permissions_boundary=boundary_arn,
        )

    def _create_user_pg(self, account: str, name: str, path: str, tags: Sequence[Tag], quota: tuple[str, int]) -> User:
        """create_user without a boundary on PostgreSQL: checks, insert and history in one statement."""
        user = self._new_user(account, name, path, None)
        values = {
            "account": account,
            "key": name_key(name),
            "quota_name": quota[0],
            "default_limit": quota[1],
            "id": user.id,
            "name": name,
            "path": path,
            "create_date": user.create_date,
            "changed_at": self._now(),  # the history's own reading of the clock, as Ops._history's
        }
        refused = self._create_refused("user", account, name, quota)
        if not self._defer_first(_CREATE_USER_PG_REFUSING, values, refused):  # else sent with the commit
            found = self._first_locked(_CREATE_USER_PG, values)  # with the writers' lock if still pending
            self._checked_for_create("user", account, name, quota, found)
        put_tags(self._conn, TagTarget.USER, user.id, tags)
        self._changed(Entity.USER, account, name, Verb.CREATED)
        return user

    def bulk_create_users(self, account: str, names: Sequence[str], *, path: str = "/") -> int:
        """Insert many users in one statement (tests and benchmarks); uniqueness is the database's."""
        self._write()
        now = self._now()
        rows = [
            {
                "id": self._ctx.new_id("AIDA"),
                "account_id": account,
                "name": n,
                "name_key": name_key(n),
                "path": path,
                "create_date": now,
            }
            for n in names
        ]
        if rows:
            self._conn.execute(insert(s.users), rows)
        for n in names:
            self._changed(Entity.USER, account, n, Verb.CREATED)
        return len(rows)

    def update_user(self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None) -> User:
        self._write()
        user_id = self._named_id(s.users, "user", account, name)
        values: dict[str, str] = {}
        if new_name is not None:
            if name_key(new_name) != name_key(name) and self._name_taken(s.users, account, new_name):
                raise AlreadyExists("user", new_name)
            values.update(name=new_name, name_key=name_key(new_name))
        if new_path is not None:
            values["path"] = new_path
        if values:
            self._conn.execute(update(s.users).where(s.users.c.id == user_id).values(**values))
        if new_name is not None:
            self._changed(Entity.USER, account, name, Verb.RENAMED, new_name)
        else:
            self._changed(Entity.USER, account, name, Verb.UPDATED)
        return self.get_user_by_id(user_id)

    def delete_user(self, account: str, name: str) -> None:
        """Refused (:class:`Conflict`) while the user has keys, policies, memberships or a login profile."""
        self._write()
        if self._ctx.dialect == "postgresql":
            spelled = name_key(name)
            params = {"account": account, "key": spelled, "named": self._assumed_users.get((account, spelled), "")}

            def refused(reason: str, key: str) -> StoreError | None:  # _DELETE_USER_PG_REFUSING's, or a key's
                if reason == "user":
                    return NotFound("user", name)
                if reason == "moved":
                    return NotAsAssumed("user", name)
                blocker = _BLOCKER_OF_KEY.get(key) if reason == FOREIGN_KEY_VIOLATION else None
                return None if blocker is None else Conflict(blocker, "user", name, recheck=recheck)

            def recheck(tx: Any) -> StoreError | None:
                return cast(UserOps, tx)._first_blocker(account, name)

            if not self._defer_first(_DELETE_USER_PG_REFUSING, params, refused):  # else sent with the commit
                row = self._first_locked(_DELETE_USER_PG, params)
                if row is None:
                    raise NotFound("user", name)
                if row[1]:
                    raise NotAsAssumed("user", name)
                self._raise_blocked(name, row[2:])
        else:
            user_id = self._named_id(s.users, "user", account, name)
            # One statement, one round trip under the writers' lock (was one per kind of blocker).
            self._raise_blocked(name, driver.first(self._conn, _USER_BLOCKED, {"user": user_id}))
            driver.run(self._conn, _DELETE_USER, {"user": user_id})
        self._changed(Entity.USER, account, name, Verb.DELETED)

    def _first_blocker(self, account: str, name: str) -> StoreError | None:
        """The first of the user's blockers, in :data:`_BLOCKERS`' order, as stored now (None: the
        user or its blockers are gone): what a DeleteUser refused by a foreign key names."""
        try:
            self._raise_blocked(
                name, driver.first(self._conn, _NAMED_USER_BLOCKED, {"account": account, "key": name_key(name)})
            )
        except Conflict as found:
            return found
        return None

    @staticmethod
    def _raise_blocked(name: str, blocked: Sequence[bool]) -> None:
        """Conflict for the first of the user's blockers found (``blocked``: one per :data:`_BLOCKERS`)."""
        for reason, found in zip(_USER_BLOCKERS, blocked, strict=True):
            if found:
                raise Conflict(reason, "user", name)
