"""What every entity family shares: the connection, the clock, ids, ARNs, paging, lookups."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar, cast, overload

from sqlalchemy import Connection, Row, Select, bindparam, exists, func, insert, select, text, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from iamd.frozen import maker
from iamd.store import driver
from iamd.store import schema as s
from iamd.store.audit_strings import AuditStrings
from iamd.store.changes import Change, Entity, Verb
from iamd.store.errors import AlreadyExists, InvalidMarker, LimitExceeded, NotFound, ReadOnly, StoreError
from iamd.store.feed import LISTENED, NOTIFY, Listened, notified
from iamd.store.records import AWS_ACCOUNT, EntityKind, Page, Role, User

__all__ = [
    "CREATE_REFUSED",
    "FOREIGN_KEY_VIOLATION",
    "REFUSED",
    "Context",
    "Ops",
    "Refusal",
    "name_key",
    "refusal",
    "role_select",
    "user_select",
]

T = TypeVar("T")

MAX_ITEMS_LIMIT = 1000
_POLICY_ARN = re.compile(r"arn:([^:]+):iam::([^:]+):policy(/(?:.*/)?)([^/]+)")

_new_change = maker(Change)  # Change(...) without type.__call__ (iamd/frozen.py): one or two per write


def name_key(name: str) -> str:
    """The case-insensitive key of a name: ASCII lower-casing, as the databases' ``lower()``."""
    return name.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Context:
    """Per-store settings every transaction sees."""

    dialect: str
    partition: str
    clock: Callable[[], datetime]
    new_id: Callable[[str], str]
    strings: AuditStrings = field(default_factory=AuditStrings)  # the audit trail's interned strings
    listened: Listened = field(default_factory=Listened)  # PostgreSQL: whether to send the change feed


@dataclass(frozen=True, slots=True)
class KindTables:
    label: str
    entity: Any
    attachments: Any
    inline: Any


def kind_tables(kind: EntityKind) -> KindTables:
    if kind is EntityKind.USER:
        return KindTables("user", s.users, s.user_policy_attachments, s.user_inline_policies)
    if kind is EntityKind.GROUP:
        return KindTables("group", s.groups, s.group_policy_attachments, s.group_inline_policies)
    return KindTables("role", s.roles, s.role_policy_attachments, s.role_inline_policies)


def _encode_value(value: object) -> object:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        return datetime.fromisoformat(value["t"])
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value
    raise ValueError("bad marker value")


def encode_marker(listing: str, values: Sequence[object]) -> str:
    raw = json.dumps([listing, *[_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_marker(listing: str, marker: str, width: int) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4))
        data = json.loads(raw)
        if not isinstance(data, list) or len(data) != width + 1 or data[0] != listing:
            raise ValueError("marker of another listing")
        return [_decode_value(v) for v in data[1:]]
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidMarker() from exc


def _with_boundary(table: Any) -> Select[Any]:
    """Rows of ``table`` with their boundary policy's ARN parts (one LEFT JOIN on a key)."""
    bp = s.policies.alias(f"{table.name}_bp")
    return select(
        table,
        bp.c.account_id.label("bp_account"),
        bp.c.path.label("bp_path"),
        bp.c.name.label("bp_name"),
    ).select_from(table.outerjoin(bp, table.c.boundary_policy_id == bp.c.id))


# Built once: constructing aliases and joins costs more than running the query on SQLite.
_USER_SELECT = _with_boundary(s.users)
_ROLE_SELECT = _with_boundary(s.roles)
_BUMP = update(s.meta).where(s.meta.c.id == 1).values(generation=s.meta.c.generation + 1).returning(s.meta.c.generation)
_GENERATION = select(s.meta.c.generation).where(s.meta.c.id == 1)
# PostgreSQL's writers' lock, the generation the transaction commits as, and the asynchronous
# commit that releases the lock before the log flush (docs/architecture.md, "Writes on
# PostgreSQL"), in one round trip: the generation row's update is the lock. Its third column:
# whether some process listens to the change feed (iamd/store/feed.py, ``LISTENED``).
_LOCK_WRITERS_SQL = (
    "UPDATE iamd_meta SET generation = generation + 1 WHERE id = 1"
    f" RETURNING generation, set_config('synchronous_commit', 'off', true), {LISTENED}"
)
LOCK_WRITERS = text(_LOCK_WRITERS_SQL)
# The same, beginning the transaction (``Ops(begins=True)``: its statements so far ran outside
# one): ``BEGIN`` and the lock in one query string, one round trip instead of two.
_BEGIN_AND_LOCK = "BEGIN; " + _LOCK_WRITERS_SQL
# A transaction that took the lock and changed no entity gives its generation back before it commits.
_UNBUMP = text("UPDATE iamd_meta SET generation = generation - 1 WHERE id = 1")
# PostgreSQL: the SQLSTATE of a write's check that failed inside its statement (``iamd_refuse``,
# migration 0016), whose message is the check's reason and whose detail its value.
REFUSED = "IAM01"
# PostgreSQL: the SQLSTATE of a foreign key's violation, given to a write's refusal as its reason
# with the constraint's name as its detail (DeleteUser's blockers are its restricting keys).
FOREIGN_KEY_VIOLATION = "23503"
# A write's checks' reason and detail (``iamd_refuse``'s) -> the store's error for it; None: not
# one of this write's refusals (the error raised as it is).
Refusal = Callable[[str, str], StoreError | None]


def refusal(error: BaseException, refused: Refusal) -> StoreError | None:
    """The store's error for ``error`` if it is a check's refusal (:data:`REFUSED`, or a foreign
    key's violation that ``refused`` takes), else None."""
    orig = getattr(error, "orig", error)
    state = getattr(orig, "sqlstate", None)
    diag = cast(Any, orig).diag if state in (REFUSED, FOREIGN_KEY_VIOLATION) else None
    if diag is None:
        return None
    if state == FOREIGN_KEY_VIOLATION:
        return refused(FOREIGN_KEY_VIOLATION, diag.constraint_name or "")
    return refused(diag.message_primary or "", diag.message_detail or "")


def _raise_refused(error: Exception, refused: Refusal) -> NoReturn:
    """``error`` raised as the store's error ``refused`` gives, if it is a check's refusal; else as it is."""
    found = refusal(error, refused)
    if found is None:
        raise error
    raise found from error


@contextmanager
def _refused_as(refused: Refusal) -> Iterator[None]:
    """A check's refusal raised in the block raised as the store's error ``refused`` gives."""
    try:
        yield
    except Exception as error:
        _raise_refused(error, refused)


_ACCOUNT_EXISTS = select(s.accounts.c.id).where(s.accounts.c.id == bindparam("account"))


# One change to a principal's policies (Ops._history), prebuilt: run through the driver on PostgreSQL.
_HISTORY = insert(s.policy_history).values(
    account_id=bindparam("account_id"),
    changed_at=bindparam("changed_at", type_=s.policy_history.c.changed_at.type),
    event=bindparam("event"),
    owner_kind=bindparam("owner_kind"),
    owner_id=bindparam("owner_id"),
    subject=bindparam("subject"),
    document=bindparam("document"),
)


def _count_up_to_statement(table: Any) -> Select[Any]:
    bounded = select(table.c.account_id).where(table.c.account_id == bindparam("account")).limit(bindparam("at_most"))
    return select(func.count()).select_from(bounded.subquery())


# A quota check's count of an account's entities, up to the quota (Ops._count_up_to), prebuilt.
_COUNT_UP_TO = {t.name: _count_up_to_statement(t) for t in (s.users, s.groups, s.roles, s.policies)}


def _named_id_statement(table: Any) -> Select[Any]:
    # The stored name too: a read of an entity's policies reports its name as stored.
    return select(table.c.id, table.c.name).where(
        table.c.account_id == bindparam("account"), table.c.name_key == bindparam("key")
    )


# Built once: the id of a named entity is looked up on hot paths (tags, authorization).
_NAMED_ID = {t.name: _named_id_statement(t) for t in (s.users, s.groups, s.roles, s.policies, s.instance_profiles)}
# Whether an account exists and whether a name is taken in it, in one round trip (a create's checks).
_ACCOUNT_AND_NAME = {
    t.name: select(
        exists().where(s.accounts.c.id == bindparam("account")),
        exists().where(t.c.account_id == bindparam("account"), t.c.name_key == bindparam("key")),
    )
    for t in (s.users, s.groups, s.roles, s.policies, s.instance_profiles)
}


def _create_checks_statement(table: Any) -> Select[Any]:
    """A create's checks in one statement: whether the account exists, whether the name is taken
    in ``table``, the account's quota of ``table``'s entities (the one set for it, ``quota_name``,
    or ``default_limit``) and their count up to that quota (never more rows than the quota)."""
    q = s.account_quotas
    stored = select(q.c.value).where(q.c.account_id == bindparam("account"), q.c.name == bindparam("quota_name"))
    limit = func.coalesce(stored.scalar_subquery(), bindparam("default_limit"))
    bounded = select(table.c.account_id).where(table.c.account_id == bindparam("account")).limit(limit)
    return select(
        exists().where(s.accounts.c.id == bindparam("account")).label("known"),
        exists().where(table.c.account_id == bindparam("account"), table.c.name_key == bindparam("key")).label("taken"),
        limit.label("quota"),
        select(func.count()).select_from(bounded.subquery()).scalar_subquery().label("count"),
    )


# The four tables with a quota: a create's account, name and quota checks in one round trip.
CREATE_CHECKS = {t.name: _create_checks_statement(t) for t in (s.users, s.groups, s.roles, s.policies)}
# PostgreSQL: a create's checks' row (CREATE_CHECKS' columns, as ``c``) refused in the statement
# itself (``iamd_refuse``, migration 0016) as Ops._checked_for_create refuses it (Ops._defer_first).
CREATE_REFUSED = (
    "SELECT CASE WHEN NOT c.known THEN iamd_refuse('account', '') WHEN c.taken THEN iamd_refuse('taken', '')"
    " WHEN c.count >= c.quota THEN iamd_refuse('quota', c.quota::text) END FROM c"
)


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    """A stored time as UTC (the driver's ``timestamptz`` is in the session's time zone)."""
    return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)


def user_select() -> Select[Any]:
    return _USER_SELECT


def role_select() -> Select[Any]:
    return _ROLE_SELECT


class _LockFirst:
    """A write transaction's connection while its writers' lock is pending (``Ops.lock_writers``):
    any use of it takes the lock first, then is the connection's."""

    __slots__ = ("_ops", "real")

    def __init__(self, ops: Ops, real: Connection) -> None:
        self._ops = ops
        self.real = real

    def __getattr__(self, name: str) -> Any:
        self._ops._take_lock()
        return getattr(self.real, name)


class Ops:
    """Base of the per-family mixins; one instance lives for one transaction."""

    def __init__(
        self,
        conn: Connection,
        ctx: Context,
        *,
        writable: bool,
        unlocked: bool = False,
        begins: bool = False,
        assumes: bool = False,
    ) -> None:
        self._conn = conn
        # The connection itself, also while ``_conn`` is its stand-in (``_LockFirst``): read through
        # the stand-in, its ``real`` went by ``object.__getattribute__``'s wrapper (a class with
        # ``__getattr__``), twice per write (bench/README.md, "Session 18: iamd's CPU per write,
        # the request's small costs"). ``_conn`` is only ever it or its stand-in.
        self._real_conn = conn
        self._ctx = ctx
        self._writable = writable
        # PostgreSQL, ``Store.transaction(lock_later=True)``: the connection runs its statements in
        # autocommit until the writers' lock, whose statement begins the transaction
        # (``_BEGIN_AND_LOCK``). Before the lock only reads run (the authorization's, typed
        # ``ReadTx``; a write takes the lock first, ``_write``), each seeing what is committed as
        # any statement of a READ COMMITTED transaction does.
        self._begins = begins
        # PostgreSQL, begun by the lock (``begins``) for a caller that retries (``Store.transaction(assume=True)``):
        # a target its authorization may take as stored without reading it (UserOps.assume_user),
        # by (account, name key): the name as spelled, which the write's statement checks.
        self._assumes = assumes and begins
        self._assumed_users: dict[tuple[str, str], str] = {}
        # A PostgreSQL write transaction begun without the writers' lock (``lock_later``): taken by
        # ``lock_writers``, at the latest by the first write.
        self._unlocked = unlocked
        self._bumped: int | None = None  # the generation this transaction commits as, once it bumped it
        self._taken: int | None = None  # PostgreSQL: the generation the writers' lock bumped to (maybe unused)
        # PostgreSQL: lock_writers was called and the lock is taken with the next statement
        # (``_LockFirst``); ``_bump_wanted``: a write then uses the lock's bump as its generation.
        self._lock_pending = False
        self._bump_wanted = False
        self._changes: list[Change] = []
        # Audit strings this transaction interned or found (value -> id): the process remembers
        # them once the transaction is committed and durable, not before (iamd/store/audit_strings.py).
        self._interned: dict[str, int] = {}
        # PostgreSQL: the transaction's last statements (sql, parameters, what takes the rows),
        # sent with its COMMIT (AuditOps.add_audit_event_last, SqlStore._commit_durably)
        self._last: list[tuple[str, Any, Callable[[list[Any]], None] | None]] = []
        # PostgreSQL: the write's first statement held back, to go with its BEGIN, the lock, its
        # last statements and its COMMIT (sql, parameters, its refusal's error: _defer_first)
        self._deferred: tuple[str, Any, Refusal] | None = None
        # (table, account, name key) -> (id, stored name), looked up once per read-only snapshot
        # (a caller's first request asks for its user's id five times); never in a write transaction,
        # whose own writes may rename or delete what it looked up.
        self._ids: dict[tuple[str, str, str], tuple[str, str]] | None = None if writable else {}

    # -- plumbing ------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._ctx.clock()

    def _write(self) -> None:
        """Every entity write calls this first: refuse in read-only views, bump once per tx.

        Then, once it knows what it changes, it says so with :meth:`_changed` (tests/store
        check that every write method does)."""
        if not self._writable:
            raise ReadOnly()
        if self._unlocked:
            self.lock_writers()
        if self._bumped is None:
            if self._lock_pending:
                self._bump_wanted = True  # the lock's bump, once it is taken
            else:
                self._bumped = self._taken if self._taken is not None else int(driver.scalar(self._conn, _BUMP))

    def lock_writers(self) -> None:
        """Take the writers' lock if this transaction was begun without it (Store.transaction).

        Taken before the transaction's next statement runs: whatever this transaction reads
        from here on holds until it commits. Until then ``self._conn`` is a :class:`_LockFirst`,
        which takes the lock at its first use; a transaction that runs nothing more never takes
        it."""
        if self._unlocked:
            self._unlocked = False
            self._lock_pending = True
            self._conn = _LockFirst(self, self._conn)  # type: ignore[assignment]  # a Connection's stand-in

    def _take_lock(self) -> None:
        """Take the pending writers' lock now."""
        if not self._lock_pending:
            return
        conn = self._real_conn
        if self._begins:
            self._locked(conn, driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone())  # the lock's row
        else:
            self._locked(conn, driver.first(conn, LOCK_WRITERS))
        deferred, self._deferred = self._deferred, None
        if deferred is not None:  # held back, and something more runs first: it runs now
            with _refused_as(deferred[2]):
                driver.execute_sql(conn, deferred[0], deferred[1])

    def _locked(self, conn: Connection, row: Any) -> None:
        """The writers' lock is taken on ``conn``, ``row`` its statement's: it bumped the generation
        to ``row[0]``; ``row[2]``: whether the store's writes send the change feed from now on."""
        self._lock_pending = self._begins = False
        self._conn = conn
        self._taken = int(row[0])
        self._ctx.listened.now = row[2]
        if self._bump_wanted:
            self._bumped = self._taken

    def _first_locked(self, stmt: Any, params: Mapping[str, Any]) -> Any:
        """``driver.first`` of ``stmt``, the writers' lock taken first if it is still pending: on
        PostgreSQL with ``BEGIN`` and the lock in one round trip (libpq's pipeline mode,
        ``driver.begin_with``; through psycopg's pipeline mode it had cost about 50 to 100 µs
        more of iamd's CPU than two round trips: bench/README.md, "PostgreSQL writes in fewer
        round trips", and "Session 14: PostgreSQL writes in pipelines")."""
        if self._lock_pending and self._begins and self._deferred is None:  # else _take_lock runs that first
            conn = self._real_conn
            sent = driver.first_begun(conn, _LOCK_WRITERS_SQL, stmt, params)
            if sent is not None:
                self._locked(conn, sent[0])
                return sent[1]
        self._take_lock()
        return driver.first(self._conn, stmt, params)

    def _defer_first(self, stmt: Any, params: Mapping[str, Any], refused: Refusal) -> bool:
        """PostgreSQL, a write whose lock is pending and begins its transaction (the server's
        writes, ``lock_later``): hold ``stmt`` (its first statement) back, to be sent with
        ``BEGIN``, the lock, its last statements (its audit event), ``COMMIT`` and the durable
        flush in one round trip (:meth:`send_whole`): the writers' lock is then held only while
        PostgreSQL runs them, never across iamd's Python. ``stmt`` makes its checks under the
        lock itself and calls ``iamd_refuse`` (migration 0016) when one fails, which aborts the
        transaction; ``refused`` gives the store's error for the reason (docs/architecture.md,
        "Writes on PostgreSQL"). Anything run in the transaction after it takes the lock and runs
        it first (:meth:`_take_lock`). False: not held back (the lock taken, or no transaction to
        begin): the caller runs it its own way, now."""
        if not (self._lock_pending and self._begins and self._bump_wanted) or self._deferred is not None:
            return False
        sql, bound = driver.sql_of(self._real_conn, stmt, params)
        self._deferred = (sql, bound, refused)
        return True

    def send_whole(self, flush: str) -> tuple[bool, Exception | None]:
        """PostgreSQL, the commit of a write whose first statement is held back
        (:meth:`_defer_first`): ``BEGIN``, the lock, that statement, its last statements,
        ``COMMIT`` and ``flush`` in one round trip (``driver.begin_and_commit``), the lock's
        bump its generation: (True, the flush's error or None). Raises the store's error of a
        check that failed (nothing committed). (False, None): not all prepared on this
        connection yet: the lock taken and the statement run now, to be committed as any write."""
        deferred = self._deferred
        assert deferred is not None
        conn = self._real_conn
        last = self._last
        statements = [(deferred[0], deferred[1])]
        for sql, bound, _ in last:  # (a loop: a generator's resumptions cost more for one or two)
            statements.append((sql, bound))
        try:  # _refused_as's, without a generator's context manager (once per write)
            sent = driver.begin_and_commit(conn, _LOCK_WRITERS_SQL, statements, flush)
        except Exception as error:
            _raise_refused(error, deferred[2])
        if sent is None:
            self._take_lock()
            return False, None
        self._deferred = None
        self._locked(conn, sent[0])
        for (_, _, take), rows in zip(last, sent[2][1:], strict=True):
            if take is not None:
                take(rows.fetchall())
        return True, sent[1]

    def settle_generation(self) -> None:
        """Before the commit: give back the generation the writers' lock took if no entity write
        used it (writes of only audit events, sign-in throttles, ...): the generation moves only
        with entity changes, as the processes' watchers expect (iamd/api/watcher.py). A lock
        still pending was never needed: nothing ran after it (the transaction is then one that
        never locked: it wrote nothing)."""
        if self._deferred is not None:  # the lock's bump taken with the commit (send_whole)
            return
        if self._lock_pending:
            if self._bump_wanted:  # pragma: no cover - every write runs a statement after _write
                self._take_lock()
            else:
                self._lock_pending = False
                self._conn = cast(_LockFirst, self._conn).real
                self._unlocked = True
        if self._taken is not None and self._bumped is None:
            driver.run(self._conn, _UNBUMP)
            self._taken = None

    def notify_changes(self, sender: str) -> None:
        """PostgreSQL, before the commit: if this transaction changed an entity and some process
        listens (as the store's last writers' lock found), its change set to the change feeds
        (iamd/store/feed.py), as one more of its last statements: delivered at its commit, in
        commit order. The statement reads the generation it commits as itself, after the lock's
        bump: a write sent whole (:meth:`send_whole`) knows it only from the answer."""
        if self._ctx.listened.now and (self._bumped is not None or self._deferred is not None):
            self._last.append((NOTIFY, {"feed": notified(self._changes, sender)}, None))

    def _history(
        self, account: str, event: str, owner_kind: str, owner_id: str, subject: str | None = None,
        document: str | None = None,
    ) -> None:  # fmt: skip
        """Record one change to a principal's policies (schema: policy_history), in the write's transaction."""
        values = {
            "account_id": account,
            "changed_at": self._now(),
            "event": event,
            "owner_kind": owner_kind,
            "owner_id": owner_id,
            "subject": subject,
            "document": document,
        }
        driver.run(self._conn, _HISTORY, values)

    def _writes_without_bump(self) -> None:
        if not self._writable:
            raise ReadOnly()
        if self._unlocked:
            self.lock_writers()

    def _changed(self, entity: Entity, account: str, name: str, verb: Verb, detail: str = "") -> None:
        """Record what this write changed (iamd.store.changes)."""
        self._changes.append(_new_change(entity, account, name, verb, detail))

    @property
    def assumed(self) -> bool:
        """Whether this transaction's authorization took a target as stored unread (UserOps.assume_user)."""
        return bool(self._assumed_users)

    @property
    def changes(self) -> tuple[Change, ...]:
        """What this transaction's writes changed so far, in order (all of it, once the body ran)."""
        return tuple(self._changes)

    def generation(self) -> int:
        current = int(self._conn.execute(_GENERATION).scalar_one())
        if self._taken is not None and self._bumped is None:
            return current - 1  # the lock's bump, given back at the commit unless a write uses it
        return current

    def bumped_generation(self) -> int | None:
        """The generation this write transaction will commit as, or None if it changed no entity."""
        return self._bumped

    def _first(self, stmt: Select[Any]) -> Row[Any] | None:
        return self._conn.execute(stmt).first()

    def _count(self, stmt: Select[Any]) -> int:
        return int(self._conn.execute(stmt).scalar_one())

    def _arn(self, account: str, kind: str, path: str, name: str) -> str:
        return f"arn:{self._ctx.partition}:iam::{account}:{kind}{path}{name}"

    # -- paging --------------------------------------------------------------------------
    def _paged(
        self,
        stmt: Select[Any],
        keys: Sequence[ColumnElement[Any]],
        listing: str,
        marker: str | None,
        max_items: int,
        convert: Callable[[Row[Any]], T],
        *,
        descending: bool = False,
    ) -> Page[T]:
        if not 1 <= max_items <= MAX_ITEMS_LIMIT:
            raise ValueError(f"max_items must be 1..{MAX_ITEMS_LIMIT}, got {max_items}")
        if marker is not None:
            values = decode_marker(listing, marker, len(keys))
            bound = [bindparam(None, v, type_=k.type) for k, v in zip(keys, values, strict=True)]
            left: ColumnElement[Any] = keys[0] if len(keys) == 1 else tuple_(*keys)
            right: ColumnElement[Any] = bound[0] if len(keys) == 1 else tuple_(*bound)
            stmt = stmt.where(left < right if descending else left > right)
        stmt = stmt.order_by(*(k.desc() if descending else k.asc() for k in keys)).limit(max_items + 1)
        rows = self._conn.execute(stmt).all()
        more = len(rows) > max_items
        rows = rows[:max_items]
        next_marker = encode_marker(listing, [rows[-1]._mapping[k] for k in keys]) if more else None
        return Page(tuple(convert(r) for r in rows), next_marker)

    @staticmethod
    def _under(path_column: ColumnElement[str], prefix: str) -> ColumnElement[bool] | None:
        """Path-prefix filter (``None`` when it cannot exclude anything)."""
        if prefix == "/":
            return None
        return path_column.startswith(prefix, autoescape=True)

    # -- row conversions shared by several families -------------------------------------------
    def _user(self, r: Row[Any]) -> User:
        return User(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            path=r.path,
            arn=self._arn(r.account_id, "user", r.path, r.name),
            create_date=_utc(r.create_date),
            permissions_boundary=self._boundary_arn(r.bp_account, r.bp_path, r.bp_name),
            password_last_used=_utc(r.password_last_used),
        )

    def _role(self, r: Row[Any]) -> Role:
        return Role(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            path=r.path,
            arn=self._arn(r.account_id, "role", r.path, r.name),
            create_date=r.create_date,
            assume_role_policy=r.assume_role_policy,
            description=r.description,
            max_session_duration=r.max_session_duration,
            permissions_boundary=self._boundary_arn(r.bp_account, r.bp_path, r.bp_name),
            last_used_date=r.last_used_date,
            last_used_region=r.last_used_region,
        )

    # -- lookups shared by several families ------------------------------------------------
    def _entity_id(self, kind: EntityKind, account: str, name: str) -> str:
        t = kind_tables(kind)
        return self._named(t.entity, t.label, account, name)[0]

    def _entity_named(self, kind: EntityKind, account: str, name: str) -> tuple[str, str]:
        """(id, stored name) of a user, group or role."""
        t = kind_tables(kind)
        return self._named(t.entity, t.label, account, name)

    def _require_account(self, account: str) -> None:
        if self._conn.execute(_ACCOUNT_EXISTS, {"account": account}).first() is None:
            raise NotFound("account", account)

    def _named_id(self, table: Any, label: str, account: str, name: str) -> str:
        return self._named(table, label, account, name)[0]

    def _named(self, table: Any, label: str, account: str, name: str) -> tuple[str, str]:
        key = name_key(name)
        ids = self._ids
        if ids is not None:
            found = ids.get((table.name, account, key))
            if found is not None:
                return found
        stmt = _NAMED_ID.get(table.name)
        if stmt is None:  # pragma: no cover - every named table is prebuilt below
            stmt = _named_id_statement(table)
        row = driver.first(self._conn, stmt, {"account": account, "key": key})
        if row is None:
            raise NotFound(label, name)
        found = (str(row.id), str(row.name))
        if ids is not None:
            ids[(table.name, account, key)] = found
        return found

    def _require_account_and_free_name(self, table: Any, label: str, account: str, name: str) -> None:
        """:meth:`_require_account`, then AlreadyExists if ``name`` is taken in ``table``: one statement."""
        known, taken = driver.first(
            self._conn, _ACCOUNT_AND_NAME[table.name], {"account": account, "key": name_key(name)}
        )
        if not known:
            raise NotFound("account", account)
        if taken:
            raise AlreadyExists(label, name)

    def _checked_for_create(self, label: str, account: str, name: str, quota: tuple[str, int], found: Any) -> None:
        """Raise what a create's checks found (``found``: a row of :data:`CREATE_CHECKS`' columns):
        NotFound for an unknown account, AlreadyExists for a taken name (even at the quota), then
        LimitExceeded ("Cannot exceed quota for <name>PerAccount: <n>") when one more would pass
        the account's quota ``quota`` (its name and AWS's default, which a value set for the
        account replaces)."""
        reason = (
            "account" if not found.known
            else "taken" if found.taken
            else "quota" if int(found.count) >= int(found.quota)
            else None
        )  # fmt: skip
        refused = (
            None if reason is None else self._create_refused(label, account, name, quota)(reason, str(found.quota))
        )
        if refused is not None:
            raise refused

    @staticmethod
    def _create_refused(label: str, account: str, name: str, quota: tuple[str, int]) -> Refusal:
        """The error of a create's check that failed, by its reason (:meth:`_checked_for_create`,
        or :data:`CREATE_REFUSED` in PostgreSQL): its detail is the quota."""

        def refused(reason: str, detail: str) -> StoreError | None:
            if reason == "account":
                return NotFound("account", account)
            if reason == "taken":
                return AlreadyExists(label, name)
            return LimitExceeded(f"{quota[0]}PerAccount", int(detail)) if reason == "quota" else None

        return refused

    def _require_account_free_name_and_room(
        self, table: Any, label: str, account: str, name: str, quota: tuple[str, int]
    ) -> None:
        """:meth:`_require_account_and_free_name` and the quota check, in one statement."""
        params = {"account": account, "key": name_key(name), "quota_name": quota[0], "default_limit": quota[1]}
        found = driver.first(self._conn, CREATE_CHECKS[table.name], params)
        self._checked_for_create(label, account, name, quota, found)

    def _name_taken(self, table: Any, account: str, name: str) -> bool:
        stmt = select(table.c.id).where(table.c.account_id == account, table.c.name_key == name_key(name))
        return self._first(stmt) is not None

    def _policy_row(self, arn: str) -> Row[Any]:
        """The policies row an ARN names (name case-insensitive, path and partition exact)."""
        match = _POLICY_ARN.fullmatch(arn)
        if match is None or match.group(1) != self._ctx.partition:
            raise NotFound("policy", arn)
        _, account, path, name = match.groups()
        p = s.policies
        row = self._first(select(p).where(p.c.account_id == account, p.c.name_key == name_key(name)))
        if row is None or row.path != path:
            raise NotFound("policy", arn)
        return row

    def _attachable_policy(self, account: str, arn: str) -> tuple[str, str]:
        """(policy id, canonical ARN) of a policy ``account`` may attach: its own or AWS managed."""
        row = self._policy_row(arn)
        if row.account_id not in (account, AWS_ACCOUNT):
            raise NotFound("policy", arn)
        return str(row.id), self._arn(row.account_id, "policy", row.path, row.name)

    def _policy_arn_of(self, policy_id: str) -> str:
        p = s.policies
        row = self._first(select(p.c.account_id, p.c.path, p.c.name).where(p.c.id == policy_id))
        assert row is not None
        return self._arn(row.account_id, "policy", row.path, row.name)

    def _policy_default_changed(self, policy_id: str, document: str | None) -> None:
        """History: a managed policy's default document is now ``document`` (None: deleted)."""
        p = s.policies
        row = self._first(select(p.c.account_id).where(p.c.id == policy_id))
        assert row is not None
        self._history(row.account_id, "default", "policy", self._policy_arn_of(policy_id), document=document)

    def _attachable_policy_id(self, account: str, arn: str) -> str:
        return self._attachable_policy(account, arn)[0]

    def _boundary_arn(self, account: str | None, path: str | None, name: str | None) -> str | None:
        if account is None or path is None or name is None:
            return None
        return self._arn(account, "policy", path, name)

    @staticmethod
    def _count_of(table: Any, *where: ColumnElement[bool]) -> Select[Any]:
        return select(func.count()).select_from(table).where(*where)

    def _count_up_to(self, table: Any, account: str, at_most: int | None) -> int:
        """The number of ``table``'s rows of ``account``, counted up to ``at_most`` (None: all):
        a quota check reads at most the quota's rows, not an account of a million users'."""
        if at_most is None:
            return self._count(self._count_of(table, table.c.account_id == account))
        stmt = _COUNT_UP_TO[table.name]  # the four tables with a quota
        return int(driver.scalar(self._conn, stmt, {"account": account, "at_most": at_most}))
