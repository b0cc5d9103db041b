"""The SQL store: one implementation of :class:`iamd.store.api.Store` for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

from sqlalchemy import Connection, Engine, Executable, bindparam, delete, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from iamd.crypto import new_unique_id
from iamd.frozen import maker
from iamd.store import schema as s
from iamd.store.account_settings import AccountSettingOps
from iamd.store.accounts import AccountOps
from iamd.store.api import ReadTx, Store, Tx
from iamd.store.attachments import AttachmentOps
from iamd.store.audit import AuditOps, Storable, as_stored, insert_audit_event, insert_audit_events
from iamd.store.base import Context
from iamd.store.bulk import IamBulkOps
from iamd.store.changes import Change, ChangeSet, Entity, Verb
from iamd.store.console_sessions import ConsoleSessionOps
from iamd.store.driver import IDLE, IN_ERROR, IN_TRANSACTION, commit_after, execute_sql, roll_back, simple_query
from iamd.store.engine import BUSY_TIMEOUT_MS, WRITE_OPTION, closed_by_server, make_engine
from iamd.store.errors import Conflict, SchemaMismatch, StoreBusy
from iamd.store.feed import NOTIFY_ALONE, ChangeFeed, new_sender, payload
from iamd.store.groups import GroupOps
from iamd.store.guard import check_database_allowed
from iamd.store.history import PolicyHistoryOps
from iamd.store.keys import KeyOps
from iamd.store.logins import LoginOps
from iamd.store.managed import Managed
from iamd.store.mfa import MfaOps
from iamd.store.organizations import OrganizationOps
from iamd.store.policies import PolicyOps
from iamd.store.profiles import InstanceProfileOps
from iamd.store.providers import ProviderOps
from iamd.store.records import AWS_ACCOUNT, AuditEvent
from iamd.store.resource_policies import ResourcePolicyOps
from iamd.store.roles import RoleOps
from iamd.store.server_certificates import ServerCertificateOps
from iamd.store.surface import SurfaceOps
from iamd.store.tags import TagOps
from iamd.store.user_credentials import UserCredentialOps
from iamd.store.users import UserOps

__all__ = ["SqlStore", "SqlTx", "open_store"]

log = logging.getLogger("iamd.store")
Listener = Callable[[ChangeSet], None]


class SqlTx(
    AccountOps,
    UserOps,
    GroupOps,
    RoleOps,
    PolicyOps,
    AttachmentOps,
    TagOps,
    KeyOps,
    InstanceProfileOps,
    AuditOps,
    # what principals' policies were, when (the troubleshooter's replay)
    PolicyHistoryOps,
    # virtual MFA devices
    MfaOps,
    # identity providers (federation)
    ProviderOps,
    # login profiles, sign-in throttles, credential reports
    LoginOps,
    # STS preferences, service-linked role deletion tasks
    AccountSettingOps,
    # SSH public keys, signing certificates, service-specific credentials
    UserCredentialOps,
    # server certificates
    ServerCertificateOps,
    # AWS Organizations
    OrganizationOps,
    # web console sessions
    ConsoleSessionOps,
    # the bulk load of an account's IAM (iamd import)
    IamBulkOps,
    # last-accessed jobs, outbound web identity federation, root-access features
    SurfaceOps,
    # resource policies imported with a real account (the troubleshooter)
    ResourcePolicyOps,
):
    """All families over one connection and one transaction."""


# A PostgreSQL row's cost beyond its columns: the tuple header and line pointer (28 bytes) and
# an entry in each of the trail's four indexes (about 28 bytes each).
_PG_ROW_OVERHEAD = 140

_GENERATION = select(s.meta.c.generation).where(s.meta.c.id == 1)
_GENERATION_TEXT = f"SELECT generation FROM {s.meta.name} WHERE id = 1"  # the same, for the driver itself
# A write's COMMIT and its durable flush (SqlStore._commit_durably), one query string.
_FLUSH = "SELECT pg_logical_emit_message(true, 'iamd', '')"
_COMMIT_AND_FLUSH = "COMMIT; " + _FLUSH
_LOCK_WRITERS = _GENERATION.with_for_update()
_BUMP = update(s.meta).where(s.meta.c.id == 1).values(generation=s.meta.c.generation + 1).returning(s.meta.c.generation)


_KEYS_USED = (
    update(s.access_keys)
    .where(s.access_keys.c.id == bindparam("used_key"))
    .values(
        last_used_date=bindparam("used_when", type_=s.access_keys.c.last_used_date.type),
        last_used_service=bindparam("used_service"),
        last_used_region=bindparam("used_region"),
    )
)
_KEY_ACCOUNTS = select(s.access_keys.c.account_id, s.access_keys.c.id).where(
    s.access_keys.c.id.in_(bindparam("ids", expanding=True))
)


_new_change_set = maker(ChangeSet)  # ChangeSet(...) without type.__call__ (iamd/frozen.py): one per write


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Kept:
    """A connection a thread keeps (``SqlStore._keep``: its read snapshots on SQLite, its write
    transactions on PostgreSQL): back to the pool when the thread ends (its ``threading.local``
    is dropped) or the store closes; ``writes``: PostgreSQL's, back out of autocommit
    (``_transaction_on`` leaves it as its last write had it)."""

    __slots__ = ("__weakref__", "conn", "writes")

    def __init__(self, conn: Connection, writes: bool) -> None:
        self.conn = conn
        self.writes = writes

    def release(self) -> None:
        """Back to the pool as the pool gave it."""
        if self.writes:
            _out_of_autocommit(self.conn)
        self.conn.close()

    def __del__(self) -> None:
        with suppress(Exception):  # the interpreter may be shutting down
            self.release()


class SqlStore:
    def __init__(self, engine: Engine, ctx: Context) -> None:
        self._engine = engine
        self._ctx = ctx
        self._local = threading.local()
        # SQLite: each thread's read snapshots run on a connection it keeps (``read``); PostgreSQL:
        # its write transactions (``_writing``). Every kept connection, to close them with the store.
        self._keeps_readers = ctx.dialect == "sqlite"
        self._kept: weakref.WeakSet[_Kept] = weakref.WeakSet()
        self._kept_lock = threading.Lock()
        # PostgreSQL: the kept write connections, at most one fewer than the pool keeps open: the
        # rest of the pool (its overflow too) stays for the reads, the watcher and threads beyond.
        self._writers: weakref.WeakSet[_Kept] = weakref.WeakSet()
        self._max_writers = max(1, cast(Any, engine.pool).size() - 1) if ctx.dialect == "postgresql" else 0
        self._keeping = 0  # places taken by threads connecting to keep one
        self._listeners: tuple[Listener, ...] = ()
        self._listeners_lock = threading.Lock()
        # Generations this store object's write transactions are committing: from just before
        # their commit until their change set is published (``committing``).
        self._committing: dict[int, int] = {}
        self._unknown = 0  # writes sent whole with their commit, not answered yet (``committing``)
        self._committing_lock = threading.Lock()
        self._sender = new_sender()  # this store object's id in the change feed (iamd/store/feed.py)

    @property
    def dialect(self) -> str:
        return self._ctx.dialect

    @property
    def engine(self) -> Engine:
        return self._engine

    def _connect(self) -> Connection:
        check_database_allowed()  # not on the event loop (iamd/store/guard.py)
        return self._engine.connect()

    def _committed(self, tx: SqlTx) -> None:
        # Committed (on disk, or the flush failed): say what changed (iamd.store.changes),
        # before the caller goes on.
        self._publish(_new_change_set(tuple(tx._changes), tx._bumped))

    def committing(self) -> frozenset[int]:
        """The generations this store object's write transactions are committing now: each from
        just before its commit until its change set has been published (listeners called). A
        write sent whole with its commit (``Ops.send_whole``) learns its generation only with the
        commit's answer: until then it is one negative number (-1, -2, ... one per such write),
        a generation being committed that could be any (iamd/api/watcher.py)."""
        with self._committing_lock:
            unknown = frozenset(range(-self._unknown, 0))
            return frozenset(self._committing) | unknown if unknown else frozenset(self._committing)

    def _send_whole(self, tx: SqlTx) -> tuple[bool, Exception | None, int | None]:
        """``tx.send_whole``, counted as committing meanwhile (its generation unknown until it
        answers, then its own): (sent whole, the flush's error, the generation it committed as
        and is counted as committing until published, or None)."""
        # ``_count_committing``'s work, inline: it ran three times per write (bench/README.md,
        # "Session 17: iamd's CPU per write, fewer calls").
        lock = self._committing_lock
        with lock:
            self._unknown += 1
        generation = None
        try:
            whole, flush_failed = tx.send_whole(_FLUSH)
            generation = tx._bumped if whole else None
            return whole, flush_failed, generation
        finally:
            with lock:  # at once: never seen as neither
                self._unknown -= 1
                if generation is not None:
                    self._committing[generation] = self._committing.get(generation, 0) + 1

    def _count_committing(self, generation: int | None, step: int, *, unknown: int = 0) -> None:
        with self._committing_lock:
            self._unknown += unknown
            if generation is None:
                return
            left = self._committing.get(generation, 0) + step
            if left > 0:
                self._committing[generation] = left
            else:
                self._committing.pop(generation, None)

    @staticmethod
    def _commit_durably(
        conn: Connection, last: Sequence[tuple[str, Any, Callable[[list[Any]], None] | None]] = ()
    ) -> Exception | None:
        """PostgreSQL: commit the write transaction on ``conn`` (asynchronously: the writers' lock
        is released at once) and wait until it is on disk, in one round trip: ``COMMIT`` and the
        flush's statement in one query string (the simple query protocol; were two round trips,
        SQLAlchemy's commit and the flush in autocommit). SQLAlchemy's commit then finds the
        connection out of its transaction and sends nothing.

        The flush: a transaction that wrote to the log commits synchronously, which flushes the
        log up to its own commit record, and so up to the earlier one (the log is written in
        order); concurrent writers share their flushes. Only then is the write's caller
        answered. The flush's statement runs after the ``COMMIT``, in a transaction of its own
        (the rest of the query string) that writes a transactional logical message: a log
        record and a transaction id, no table, no lock, allowed to any user. (A transaction id
        alone, ``pg_current_xact_id()``, commits without a flush: PostgreSQL flushes only a
        transaction that wrote to the log.)

        Raises when the write did not commit, or may not have: a connection lost on the way (as
        a commit whose connection was lost always did). An error the server reported came from
        the flush: this schema defers no check to the commit and writes run READ COMMITTED, so
        the ``COMMIT`` itself reports none; the write is committed, not known to be on disk, and
        that error is returned (said and raised by the caller, as a failed flush was).

        ``last``: the transaction's last statements, not sent yet (its audit event and the
        strings it interns, ``Tx.add_audit_event_last``), sent with the ``COMMIT`` and the flush
        in the same round trip (libpq's pipeline mode, ``driver.commit_after``; raises their
        error, not committed), or before them, one by one, if one is not prepared on this
        connection yet; each one's rows to its taker."""
        driver: Any = conn.connection.dbapi_connection  # = driver_connection (psycopg), two property calls less
        if driver.info.transaction_status == IN_ERROR:  # a COMMIT would roll back without an error
            raise RuntimeError("the write transaction failed: not committed")
        if last:
            results = commit_after(conn, [(sql, bound) for sql, bound, _ in last], _FLUSH)
            for (sql, bound, take), rows in zip(last, results[1] if results else [None] * len(last), strict=True):
                if rows is None:  # not sent with the commit: run first, one by one
                    rows = execute_sql(conn, sql, bound)
                if take is not None:
                    take(rows.fetchall())
            if results is not None:
                return results[0]
        try:
            simple_query(driver, _COMMIT_AND_FLUSH)  # on libpq: psycopg's cursor cost more CPU than the round trip
        except Exception as error:
            if driver.closed or driver.broken:
                raise
            return error
        return None

    # -- what changed (iamd.store.changes) -------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every committed write of this store object, in the writing
        thread, with what it changed; returns the function that unsubscribes it."""
        with self._listeners_lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                self._listeners = tuple(fn for fn in self._listeners if fn is not listener)

        return unsubscribe

    def _publish(self, changes: ChangeSet) -> None:
        for listener in self._listeners:
            try:
                listener(changes)
            except Exception:  # the write is committed: a listener's failure must not undo or hide it
                log.exception("a change listener failed")

    def transaction(self, *, lock_later: bool = False, assume: bool = False) -> Managed[Tx]:
        # Managed, not contextlib's: this and the two it enters are on every write (iamd/store/managed.py).
        return Managed(self._transaction(lock_later, assume))

    def _transaction(self, lock_later: bool, assume: bool) -> Generator[Tx, None, None]:
        if getattr(self._local, "writing", False):
            # A second writer in the same thread would wait for the first forever.
            raise RuntimeError("nested write transaction: use the Tx you already have")
        self._local.writing = True
        committing: int | None = None  # the generation the transaction commits as, from just before its commit
        refused: Conflict | None = None
        try:
            with Managed(self._writing()) as (conn, driver):
                with Managed(self._transaction_on(conn, driver, lock_later)) as begins:
                    tx = SqlTx(
                        conn, self._ctx, writable=True, unlocked=self._ctx.dialect == "postgresql", begins=begins,
                        assumes=assume,
                    )  # fmt: skip
                    if not lock_later:
                        # PostgreSQL: serialize writers on the generation row, so that checks made
                        # in this transaction hold until it commits; but not while the commit waits
                        # for the disk: the commit is asynchronous and releases the row at once, and
                        # the write is made durable (``_commit_durably``) outside the lock, before it
                        # returns (docs/architecture.md, "Writes on PostgreSQL").
                        # ``lock_later``: the body takes the lock itself (Tx.lock_writers), after
                        # the reads that need not hold (the caller's authorization).
                        tx.lock_writers()
                    yield tx
                    tx.settle_generation()
                    if self._ctx.dialect == "postgresql":  # to the other processes, at the commit (iamd/store/feed.py)
                        tx.notify_changes(self._sender)
                    flush_failed = None
                    whole = False
                    if tx._deferred is not None:  # PostgreSQL: BEGIN to the flush in one round trip
                        whole, flush_failed, committing = self._send_whole(tx)
                    if not whole:
                        # Other connections see the generation from the commit on; this process's
                        # watcher takes it for its own until it is published (``committing``).
                        committing = tx.bumped_generation()
                        if committing is not None:
                            self._count_committing(committing, 1)
                        # Locked on PostgreSQL: committed asynchronously and made durable in the same
                        # round trip (``_commit_durably``; SQLAlchemy's commit then has nothing left to
                        # do). Never locked: wrote nothing (or committed synchronously on SQLite).
                        if self._ctx.dialect == "postgresql" and not tx._unlocked:
                            flush_failed = self._commit_durably(conn, tx._last)
                try:
                    if flush_failed is not None:  # committed, not known to be on disk: said, and raised
                        raise flush_failed
                    # Committed (and on disk): the audit strings it interned may be referred to by id
                    # from here on; a write's next event then needs no lookup of them.
                    if tx._interned:
                        self._ctx.strings.remember(tx._interned)
                finally:
                    self._committed(tx)
        except Conflict as conflict:
            if conflict.recheck is None:
                raise
            refused = conflict
        finally:
            self._local.writing = False
            if committing is not None:  # published, or failed (then to the watcher another's)
                self._count_committing(committing, -1)
        if refused is not None:
            self._raise_rechecked(refused)

    def _raise_rechecked(self, refused: Conflict) -> NoReturn:
        """Raise the conflict to name for a write refused by a restricting foreign key
        (DeleteUser's blockers): read in a snapshot after the rollback (``Conflict.recheck``);
        ``refused`` itself if none is found, or if the read fails (the write was refused either way)."""
        assert refused.recheck is not None
        try:
            with self.read() as rtx:
                found = refused.recheck(rtx)
        except Exception:
            log.warning("the blocker of a refused write could not be read again", exc_info=True)
            found = None
        if found is not None:
            raise found from refused
        raise refused

    def _transaction_on(self, conn: Connection, driver: Any, lock_later: bool) -> Generator[bool, None, None]:
        """A write transaction on ``conn``. SQLite: SQLAlchemy's (the engine's ``begin`` listener
        takes the write lock). PostgreSQL: the driver's, without SQLAlchemy's transaction object,
        its begin and commit events and psycopg's commit around each write (bench/README.md,
        "Session 15: a write's transaction without SQLAlchemy's"): psycopg sends its ``BEGIN``
        before the first statement, or the writers' lock does, and the write commits on libpq
        (``_commit_durably``, ``Ops.send_whole``). A statement run through SQLAlchemy begins
        SQLAlchemy's transaction on it, ended here once the driver's has (its commit or rollback
        then sends nothing).

        Yields whether the writers' lock begins it: PostgreSQL, ``lock_later``: the driver in
        autocommit for the transaction's reads before the lock, whose statement sends ``BEGIN``
        with it (``Ops(begins=True)``: one round trip less per write). Left in the mode it
        needed, for the thread's next write on its kept connection; a pooled one goes back out of
        autocommit (``_writing``; a kept one too, when released: ``_Kept.release``), or invalidated.

        A write that raises ends with a ``ROLLBACK`` of iamd's on libpq: psycopg's would deallocate
        every statement prepared on the connection (``DEALLOCATE ALL``), and the next writes there
        would parse and plan them again (``driver.roll_back``). A connection still in a
        transaction after that (lost, or a statement's answer not read) is invalidated: never
        used again (``_writing`` replaces it)."""
        if self._ctx.dialect != "postgresql":
            with conn.begin():
                yield False
            return
        # The mode is left as this write needs it, not switched back after it: a kept connection's
        # writes are all ``lock_later`` (a server's), and psycopg's setter (a lock, a generator and
        # its wait) cost about 11 µs per switch in place (bench/README.md, "Session 16: iamd's CPU
        # per write, DeleteUser in one round trip"; "Session 17: iamd's CPU per write, fewer calls"). A
        # connection goes back to the pool out of autocommit (``_writing``, ``_Kept.release``).
        if driver.autocommit is not lock_later:
            driver.autocommit = lock_later  # idle: each write ends with its commit or rollback
        try:
            yield lock_later
        except BaseException:
            if not conn.invalidated:  # else lost: nothing to roll back
                roll_back(driver)
                if _left_in_transaction(driver):
                    conn.invalidate()
            if conn.in_transaction():
                with suppress(Exception):  # the write's own error is the one raised
                    conn.rollback()
            raise
        else:
            if _left_in_transaction(driver):  # pragma: no cover - every write commits on libpq or writes nothing
                conn.invalidate()
                raise RuntimeError("the write transaction was left open: not committed")
            if conn.in_transaction():
                conn.commit()

    def _kept_reader(self) -> tuple[Connection, Any]:
        """SQLite: this thread's kept reader (``_keep``, made anew if closed) and its driver."""
        kept = getattr(self._local, "reader", None)
        conn = None if kept is None else kept.conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._keep("reader")
        return conn, conn.connection.driver_connection

    @contextmanager
    def read(self) -> Iterator[ReadTx]:
        if self._keeps_readers:
            conn, driver = self._kept_reader()
            # else a read inside this thread's read: on a pooled connection
            if not driver.in_transaction and not conn.in_transaction():
                check_database_allowed()  # not on the event loop (iamd/store/guard.py)
                # The snapshot is a deferred BEGIN and a COMMIT on the driver itself, without
                # SQLAlchemy's transaction object and its begin and commit events (half of an
                # empty snapshot's CPU; bench/README.md, "A first request with less around it").
                # A statement run through SQLAlchemy inside it begins SQLAlchemy's transaction on
                # this one (the engine's begin listener sees the driver in one and emits nothing),
                # which then ends it. The driver is never left in a transaction.
                driver.execute("BEGIN")
                try:
                    yield SqlTx(conn, self._ctx, writable=False)
                finally:
                    if conn.in_transaction():
                        conn.rollback()  # SQLAlchemy's, begun inside: ends the driver's transaction too
                    elif not conn.invalidated and driver.in_transaction:
                        driver.execute("COMMIT")
                return
        with self._connect() as conn:
            if self._ctx.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin() as snapshot:
                try:
                    yield SqlTx(conn, self._ctx, writable=False)
                except BaseException:
                    # A read-only snapshot that raised (a NotFound, most often): a COMMIT ends it
                    # as the rollback would, and keeps what psycopg prepared on the connection
                    # (a ROLLBACK makes it forget all of it: ``_reading``). One whose statement
                    # failed, or whose connection is gone, is rolled back as before.
                    if self._ctx.dialect == "postgresql" and snapshot.is_active and _in_transaction(conn):
                        with suppress(Exception):
                            snapshot.commit()
                    raise

    def _keep(self, use: str) -> Connection:
        """A new connection this thread keeps for ``use``: ``"reader"``, its read snapshots (SQLite),
        or ``"writer"``, its write transactions (PostgreSQL: ``_writing``).

        A snapshot is a deferred ``BEGIN`` (WAL: it takes no lock and waits for no writer) on it,
        as on a pooled one, without the pool's checkout and check-in around each snapshot (bench/README.md,
        "A lighter hop to the read lane"). Between snapshots or writes it holds no transaction, so it
        keeps no checkpoint or vacuum from running. Closed with the store, or with its thread."""
        conn = self._connect()
        kept = _Kept(conn, use == "writer")
        setattr(self._local, use, kept)
        with self._kept_lock:
            self._kept.add(kept)
            if use == "writer":
                self._writers.add(kept)
        return conn

    def _writing(self) -> Generator[tuple[Connection, Any], None, None]:
        """The connection of a write transaction. PostgreSQL: the one this thread keeps for its
        writes, without the pool's checkout and check-in around each write (about 20 µs of CPU
        per write: bench/README.md, "Session 14: a write's connection kept by its thread"). It is
        idle between writes (each ends with its commit or rollback) and holds one of the pool's
        connections, as the thread would while it writes; at most one fewer than the pool's size
        are kept (``_max_writers``: a thread beyond checks one out for each write, as before), so
        that reads never wait for a connection only idle writers hold. Replaced when it is closed
        or invalidated (lost), or the server closed it (``closed_by_server``, as the pool's
        checkout does). SQLite: a pooled one, whose transaction the engine's ``begin`` listener
        begins with the write lock (``BEGIN IMMEDIATE``).

        Yields the connection and, on PostgreSQL, its psycopg connection (the pool's
        ``dbapi_connection``, looked up once per write: the pool's connection object has a
        ``__getattr__``, which makes each lookup on it a wrapper's call)."""
        if self._ctx.dialect != "postgresql":
            with self._connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                yield conn, None
            return
        check_database_allowed()  # not on the event loop (iamd/store/guard.py)
        kept: _Kept | None = getattr(self._local, "writer", None)
        if kept is not None:
            conn = kept.conn
            if not (conn.closed or conn.invalidated):
                driver = conn.connection.dbapi_connection
                if not closed_by_server(driver):
                    yield conn, driver
                    return
            if not (conn.closed or conn.invalidated):
                conn.invalidate()  # the server closed it: never back to the pool
            self._local.writer = None  # closed (``_Kept``), no longer counted
        with self._kept_lock:  # a place among the kept, taken before the connection is
            room = len(self._writers) + self._keeping < self._max_writers
            self._keeping += room
        if not room:  # as many kept as may be: one of the pool's for this write
            with self._connect() as conn:
                try:
                    yield conn, conn.connection.dbapi_connection
                finally:
                    _out_of_autocommit(conn)  # back to the pool as it came
            return
        try:
            conn = self._keep("writer")
        finally:
            with self._kept_lock:
                self._keeping -= 1
        yield conn, conn.connection.dbapi_connection

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A pooled connection for a few reads outside a snapshot, its transaction ended with a
        ``COMMIT``: left open, the pool would roll it back at the check-in, and psycopg forgets
        every statement it prepared on a connection that rolls back (``DEALLOCATE ALL``). The
        generation watcher reads here ten times a second: each rollback made one pooled
        connection parse and plan the write path's statements again (bench/README.md,
        "Session 13: PostgreSQL writes side by side")."""
        with self._connect() as conn:
            yield conn
            conn.commit()  # read only: what a rollback would do, keeping the prepared statements

    def generation(self) -> int:
        if self._keeps_readers:
            # SQLite: on the thread's kept reader, by the driver itself (the watcher polls ten times
            # a second: SQLAlchemy's checkout, statement and commit around it took ~130 µs hot and
            # 0.7 to 1.2 ms of the watcher's CPU under load, with the GIL hand-overs that go with
            # them: bench/README.md, "Session 17: the event loop's time per single check outside
            # the handler"). Outside a transaction a SELECT opens none: it reads the last commit.
            conn, driver = self._kept_reader()
            if not driver.in_transaction and not conn.in_transaction():
                check_database_allowed()  # not on the event loop (iamd/store/guard.py)
                return int(driver.execute(_GENERATION_TEXT).fetchone()[0])
        with self._reading() as conn:
            return int(conn.execute(_GENERATION).scalar_one())

    def change_feed(self) -> ChangeFeed | None:
        """PostgreSQL: the write transactions' change sets as they commit, this store object's
        own among them, on a new connection of the feed's own (iamd/store/feed.py); None on SQLite."""
        if self._ctx.dialect != "postgresql":
            return None
        check_database_allowed()  # not on the event loop (iamd/store/guard.py)
        raw = self._engine.raw_connection()
        driver: Any = raw.driver_connection
        raw.detach()  # the feed's for as long as it lives, not the pool's
        try:
            return ChangeFeed(driver, self._sender)
        except BaseException:
            driver.close()
            raise

    def reset(self) -> None:
        """Delete every account, entity and audit event, in one transaction.

        For test suites (``iamd serve --dev``'s reset endpoint); the schema stays.
        """
        # Interned audit strings stay: their ids never change meaning (iamd/store/audit_strings.py).
        kept = (s.meta.name, s.audit_strings.name)
        tables = [t for t in reversed(s.metadata.sorted_tables) if t.name not in kept]
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if self._ctx.dialect == "postgresql":
                    conn.execute(_LOCK_WRITERS)
                    names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
                    conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
                else:
                    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # policies <-> versions refer both ways
                    for table in tables:
                        conn.execute(table.delete())
                # The pseudo-account that owns AWS managed policies, as the first migration made it.
                conn.execute(s.accounts.insert().values(id=AWS_ACCOUNT, create_date=datetime.now(UTC)))
                generation = conn.execute(_BUMP).scalar_one()
        self._publish(ChangeSet((Change(Entity.ACCOUNT, "", "", Verb.RESET),), int(generation)))

    def append_audit_event(self, event: AuditEvent, *, lock_wait: float | None = None) -> AuditEvent:
        wait_ms = None if lock_wait is None else max(1, int(lock_wait * 1000))
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            dbapi: Any = conn.connection.dbapi_connection
            sqlite_wait = wait_ms is not None and self._ctx.dialect == "sqlite"
            if sqlite_wait:  # on the DB-API connection: a statement through ``conn`` would begin the transaction
                dbapi.execute(f"PRAGMA busy_timeout = {wait_ms}")
            try:
                with conn.begin():
                    if wait_ms is not None and self._ctx.dialect == "postgresql":
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                    seq, new = insert_audit_event(conn, self._ctx, event)
            except OperationalError as error:
                if wait_ms is not None and _lock_timed_out(error):
                    raise StoreBusy() from error
                raise
            finally:
                if sqlite_wait:
                    dbapi.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._ctx.strings.remember(new)
        if self._listeners:
            self._publish(ChangeSet((Change(Entity.AUDIT_EVENT, event.account_id, event.event_id, Verb.CREATED),)))
        return as_stored(event, seq)

    def append_audit_events(self, events: Sequence[Storable], *, skip_stored: bool = False) -> None:
        """Store many events in one transaction (the audit writer's batches)."""
        if not events:
            return
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                stored, new = insert_audit_events(conn, self._ctx, events, skip_stored=skip_stored)
        self._ctx.strings.remember(new)
        if self._listeners and stored:
            self._publish(ChangeSet(tuple(Change(Entity.AUDIT_EVENT, e.account_id, e.event_id, Verb.CREATED)
                                          for e in stored)))  # fmt: skip

    # -- the trail's retention (docs/audit.md, "Retention") ----------------------------------
    def oldest_audit_events(self, limit: int) -> tuple[AuditEvent, ...]:
        """The ``limit`` events stored first (every account)."""
        with self.read() as tx:
            return tx.scan_audit_events(limit=limit)

    def delete_audit_events(self, sequences: Sequence[int]) -> int:
        """Delete the events of these sequence numbers (one small transaction); how many went."""
        if not sequences:
            return 0
        a = s.audit_events
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                deleted = int(conn.execute(delete(a).where(a.c.seq.in_(list(sequences)))).rowcount or 0)
        if self._listeners:  # nothing cached is built from the trail; said all the same
            self._publish(ChangeSet((Change(Entity.AUDIT_EVENT, "", f"{deleted} events", Verb.DELETED),)))
        return deleted

    def audit_size(self) -> tuple[int, int]:
        """(events, bytes on disk) of the trail, estimated cheaply: the events from the first and
        last sequence numbers, the bytes from the bytes per event the database reports for the
        trail's table and indexes (SQLite: ``dbstat``, every page of them; PostgreSQL: the
        average row of the newest 1,000 plus the tuple and index overhead)."""
        a = s.audit_events
        with self._reading() as conn:
            low, high = conn.execute(select(func.min(a.c.seq), func.max(a.c.seq))).one()
            if low is None:
                return 0, 0
            events = int(high) - int(low) + 1
            if self._ctx.dialect == "postgresql":
                row_bytes = conn.exec_driver_sql(
                    "SELECT avg(pg_column_size(a.*)) FROM (SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1000) a"
                ).scalar()
                per_event = float(row_bytes or 0) + _PG_ROW_OVERHEAD
            else:
                used = conn.exec_driver_sql(
                    "SELECT SUM(pgsize - unused) FROM dbstat"
                    " WHERE name = 'audit_events' OR name LIKE 'ix_audit_events%'"
                ).scalar()
                count = conn.execute(select(func.count()).select_from(a)).scalar_one()
                per_event = float(used or 0) / max(int(count), 1)
        return events, int(events * per_event)

    # Last-used bookkeeping: outside write transactions (no writer lock, no generation bump);
    # published as ``Verb.USED`` changes, which only the entity's own record depends on.
    def record_access_key_use(self, key_id: str, when: datetime, service: str, region: str) -> None:
        k = s.access_keys
        stmt = update(k).where(k.c.id == key_id)
        stmt = stmt.values(last_used_date=when, last_used_service=service, last_used_region=region)
        self._used(stmt.returning(k.c.account_id, k.c.id), Entity.ACCESS_KEY)

    def record_access_key_uses(self, uses: Mapping[str, tuple[datetime, str, str]]) -> None:
        """The last use of each key (key id -> when, service, region), in one transaction: the
        audit writer's batch of a thousand new callers' first requests was a thousand write
        transactions, about 280 µs of CPU each on SQLite. Unknown keys are skipped."""
        if not uses:
            return
        rows = [{"used_key": key_id, "used_when": when, "used_service": service, "used_region": region}
                for key_id, (when, service, region) in uses.items()]  # fmt: skip
        ids = list(uses)
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.execute(_KEYS_USED, rows)
                found = [r for start in range(0, len(ids), 500)
                         for r in conn.execute(_KEY_ACCOUNTS, {"ids": ids[start : start + 500]})]  # fmt: skip
        if found:
            self._publish(ChangeSet(tuple(Change(Entity.ACCESS_KEY, r.account_id, r.id, Verb.USED) for r in found)))

    def record_role_use(self, role_id: str, when: datetime, region: str) -> None:
        r = s.roles
        stmt = update(r).where(r.c.id == role_id).values(last_used_date=when, last_used_region=region)
        self._used(stmt.returning(r.c.account_id, r.c.name), Entity.ROLE)

    def record_password_use(self, user_id: str, when: datetime) -> None:
        u = s.users
        stmt = update(u).where(u.c.id == user_id).values(password_last_used=when)
        self._used(stmt.returning(u.c.account_id, u.c.name), Entity.USER)

    def _used(self, stmt: Executable, entity: Entity) -> None:
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                rows = conn.execute(stmt).all()
            changes = ChangeSet(tuple(Change(entity, r[0], r[1], Verb.USED) for r in rows))
            if rows and entity is not Entity.ACCESS_KEY and self._ctx.listened.now:  # PostgreSQL, listened to
                try:  # a role's or a user's record another process cached (iamd/store/feed.py)
                    with conn.begin():
                        conn.exec_driver_sql(NOTIFY_ALONE, {"feed": payload(changes, self._sender)})
                except Exception:  # the write is committed: published here all the same
                    log.warning("a last use was not sent to the other processes", exc_info=True)
        if rows:
            self._publish(changes)

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept = list(self._kept), weakref.WeakSet()
        for holder in kept:
            holder.release()
        self._engine.dispose()


def open_store(
    url: str | URL,
    *,
    partition: str = "aws",
    clock: Callable[[], datetime] = _utcnow,
    new_id: Callable[[str], str] = new_unique_id,
    check_schema: bool = True,
) -> Store:
    """Open the store at ``url`` (``sqlite:///…`` or ``postgresql://…``).

    With ``check_schema`` (the default) the database must already be migrated to this
    code's head revision (:func:`iamd.store.migrate.upgrade`), else :class:`SchemaMismatch`.
    """
    from iamd.store.migrate import current_revision_of, head_revision

    engine = make_engine(url)
    if check_schema:
        with engine.connect() as conn:
            current = current_revision_of(conn)
        if current != head_revision():
            engine.dispose()
            raise SchemaMismatch(current, head_revision())
    return SqlStore(engine, Context(engine.dialect.name, partition, clock, new_id))


def _in_transaction(conn: Connection) -> bool:
    """PostgreSQL: whether ``conn``'s driver is in a transaction, idle, no statement failed in it."""
    driver: Any = conn.connection.driver_connection
    return not (driver.closed or driver.broken) and driver.info.transaction_status == IN_TRANSACTION


def _out_of_autocommit(conn: Connection) -> None:
    """PostgreSQL: ``conn``'s driver out of autocommit (a write's may have left it in), as the
    pool's other users expect it; invalidated if it cannot be (not idle: a lost connection)."""
    if conn.closed or conn.invalidated:
        return
    driver: Any = conn.connection.dbapi_connection
    if driver.autocommit:
        try:
            driver.autocommit = False
        except Exception:
            conn.invalidate()  # never back to the pool


def _left_in_transaction(driver: Any) -> bool:
    """PostgreSQL: whether the psycopg connection ``driver`` is anything but idle."""
    return bool(driver.closed or driver.broken or driver.pgconn.transaction_status != IDLE)


def _lock_timed_out(error: OperationalError) -> bool:
    """SQLite's "database is locked" (its busy timeout) or PostgreSQL's lock_not_available (55P03)."""
    original = error.orig
    return "database is locked" in str(original) or getattr(original, "sqlstate", None) == "55P03"
