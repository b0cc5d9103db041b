"""Schema migrations, run programmatically (no alembic.ini).

Revisions live in ``iamd/store/migrations/versions`` and are named ``NNNN_what_it_does``;
they form one ordered chain. Each runs in its own transaction — PostgreSQL and SQLite
both have transactional DDL — so a failing migration leaves the previous revision intact.
On SQLite foreign keys are switched off for the run (table rebuilds in batch mode need
that) and ``PRAGMA foreign_key_check`` must pass before each migration commits. On
PostgreSQL an advisory lock keeps two processes from migrating at once.

Every ``iamd serve`` upgrades and then checks the schema: when the database is at the head
already, neither loads alembic (its import and its reading of every revision file were a
tenth of the server's start-up). The head is the last revision file's name: revisions are
numbered ``0001``, ``0002``, … and each one's id is its file's name (tests/store/test_migrations.py
checks both against alembic's own script directory).

A new, empty SQLite database (every first ``iamd serve``) is made at the head in one script,
``iamd.store.sqlite_head`` (what the migrations build, generated from them by
``scripts/sqlite_head_schema.py``), without alembic: loading alembic and running the thirteen
revisions one by one was about a third of a first start's CPU. The script is used only while
its revision is the head (a new revision without a new script falls back to alembic), and
tests/store/test_migrations.py checks that it builds exactly what the migrations build.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import URL

from iamd.store.engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["current_revision", "current_revision_of", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x1A4D_5701  # pg_advisory_lock key for "iamd store migrations"
_VERSION_TABLE = "alembic_version"  # alembic's default, which migrations/env.py keeps


def _config(connection: Connection | None = None, migrations: Path = MIGRATIONS) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision: the name of the highest-numbered file in ``migrations/versions``."""
    names = sorted(p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert names, "no migrations"
    return names[-1]


def current_revision_of(conn: Connection) -> str | None:
    """The database's revision, read as alembic does (its ``alembic_version`` table)."""
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    rows = conn.exec_driver_sql(f"SELECT version_num FROM {_VERSION_TABLE}").scalars().all()
    if len(rows) > 1:  # several heads: alembic's own error
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()
    return str(rows[0]) if rows else None


def current_revision(url: str | URL) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return current_revision_of(conn)
    finally:
        engine.dispose()


def upgrade(
    url: str | URL, revision: str = "head", *, migrations: Path = MIGRATIONS, head_script: bool = True
) -> str | None:
    """Migrate the database at ``url`` to ``revision``; running it again does nothing.

    ``migrations`` is the script directory (tests point it at a copy with extra revisions);
    ``head_script=False`` builds a new SQLite database through alembic's revisions too (tests).
    """
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if revision == "head" and migrations == MIGRATIONS:
                current = current_revision_of(conn)
                conn.rollback()
                if current == head_revision():
                    return current  # nothing to run: alembic is not loaded
                if current is None and head_script and _create_sqlite_head(conn):
                    return head_revision()
            from alembic import command

            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_ID})")
                conn.commit()
            else:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                command.upgrade(_config(conn, migrations), revision)
            finally:
                if postgres:
                    conn.rollback()
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_LOCK_ID})")
                    conn.commit()
                else:
                    conn.rollback()
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
            return current_revision_of(conn)
    finally:
        engine.dispose()


def _create_sqlite_head(conn: Connection) -> bool:
    """A new, empty SQLite database made at the head by ``iamd.store.sqlite_head``'s script, in
    one transaction; False (nothing done) for another database, one with any table, or a script
    of an older revision."""
    if conn.dialect.name != "sqlite":
        return False
    from iamd.store import sqlite_head

    if head_revision() != sqlite_head.REVISION:
        return False  # a revision newer than the script: alembic builds it
    if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one():
        conn.rollback()
        return False
    conn.rollback()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        dbapi.executescript(sqlite_head.SCRIPT)  # BEGIN IMMEDIATE … COMMIT: all of it or nothing
    except sqlite3.Error:
        if dbapi.in_transaction:
            dbapi.execute("ROLLBACK")
        return False  # another process made it meanwhile: upgrade as before
    return True
