"""Engines for the two backends, from a URL.

* ``sqlite:///path/to/iamd.db`` — a file (its directory is created). Every connection runs
  with foreign keys on, WAL journaling, ``synchronous=NORMAL`` (durable across process
  crashes; a power loss may drop the last commits) and a busy timeout. SQLite's own
  transaction handling is switched off so that the store emits ``BEGIN`` itself:
  ``BEGIN IMMEDIATE`` for write transactions (one writer at a time, waiting up to the busy
  timeout), a deferred ``BEGIN`` for reads (a WAL snapshot that never blocks).
* ``postgresql://…`` (psycopg 3). Write transactions serialize on the ``iamd_meta`` row;
  reads run ``REPEATABLE READ READ ONLY``. Lock waits give up after the same timeout.
"""

from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError

from iamd.store.driver import rolled_back

__all__ = ["BUSY_TIMEOUT_MS", "WRITE_OPTION", "closed_by_server", "make_engine"]

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "iamd_write"
"""Execution option marking a connection whose next transaction writes."""


def normalize_url(url: str | URL) -> URL:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not u.database or u.database == ":memory:":
            raise ValueError("the SQLite store needs a file: sqlite:///path/to/iamd.db")
        return u.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported store URL scheme {u.drivername!r} (use sqlite:/// or postgresql://)")


def _sqlite_engine(url: URL) -> Engine:
    assert url.database is not None
    Path(url.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created private (an empty file is an empty database): its -wal and -shm files get
    # the database file's permissions from SQLite (docs/security.md, "Files"). Only created:
    # an existing database file is never opened here, because closing any descriptor of it
    # would release every POSIX lock this process's SQLite connections hold on it, and another
    # process would then checkpoint and delete the write-ahead log under them
    # (docs/architecture.md, "Several processes"; tests/store/test_sqlite_locks.py).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600))
    # No cap on the pool's connections (max_overflow=-1; SQLAlchemy's default, 5 + 10, made a
    # 16th thread wait up to 30 s for one): each thread that reads keeps one for its read
    # snapshots (``SqlStore.read``), and SQLite's writers wait for its lock, not for the pool.
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, max_overflow=-1
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the store emits BEGIN itself
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # may wait for the write lock: errors as SQLAlchemy's
        else:
            # A deferred BEGIN takes no lock, so it neither waits nor fails busy: it goes to the
            # driver directly (SQLAlchemy's execution path cost a third of a read snapshot's
            # overhead; docs/architecture.md, "Caches and invalidation").
            driver = conn.connection.driver_connection
            assert driver is not None  # a checked-out connection has its driver connection
            if not driver.in_transaction:  # else a kept read connection's snapshot, begun on the driver (SqlStore.read)
                driver.execute("BEGIN")

    return engine


def make_engine(url: str | URL, *, pool_size: int = 5) -> Engine:
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(u)
    engine = create_engine(
        u,
        pool_size=pool_size,
        max_overflow=10,
        connect_args={"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"},
    )
    # No pre-ping (a round trip to the server on every checkout: one per read snapshot and per
    # write). A pooled connection the server closed (a restart, pg_terminate_backend, an idle
    # timeout) is found without one: the server says so on the socket before it closes it, so
    # an idle connection with something to read, or one the driver knows is closed or broken,
    # is replaced at checkout (SQLAlchemy retries the checkout with a new connection).
    event.listen(engine, "checkout", _replace_if_closed)
    # iamd's prepared statements (iamd/store/driver.py) may be dropped by psycopg's rollback.
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine, "reset", _on_reset)
    return engine


def _on_rollback(conn: Connection) -> None:
    if not conn.invalidated:
        rolled_back(conn.connection.driver_connection)


def _on_reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
    rolled_back(dbapi_connection)


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if closed_by_server(dbapi_connection):
        raise DisconnectionError("the server closed this pooled connection")


def closed_by_server(dbapi_connection: Any) -> bool:
    """PostgreSQL: whether the idle psycopg connection ``dbapi_connection`` is closed, broken, or
    about to be (the server's termination notice waits on its socket): to be replaced, not used."""
    return bool(dbapi_connection.closed or dbapi_connection.broken or _readable(dbapi_connection.pgconn.socket))


def _readable(fd: int) -> bool:
    """Whether an idle connection's socket has something to read (or its end): an idle session
    is sent nothing but a termination notice (iamd never LISTENs)."""
    poller = select.poll()
    try:
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
