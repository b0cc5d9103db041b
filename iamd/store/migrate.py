"""Schema migrations, run programmatically (no alembic.ini).

Revisions live in ``iamd/store/migrations/versions`` and are named ``NNNN_what_it_does``;
they form one ordered chain. Each runs in its own transaction — PostgreSQL and SQLite
both have transactional DDL — so a failing migration leaves the previous revision intact.
On SQLite foreign keys are switched off for the run (table rebuilds in batch mode need
that) and ``PRAGMA foreign_key_check`` must pass before each migration commits. On
PostgreSQL an advisory lock keeps two processes from migrating at once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from iamd.store.engine import make_engine

__all__ = ["current_revision", "current_revision_of", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x1A4D_5701  # pg_advisory_lock key for "iamd store migrations"


def _config(connection: Connection | None = None, migrations: Path = MIGRATIONS) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision_of(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(url: str | URL) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return current_revision_of(conn)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head", *, migrations: Path = MIGRATIONS) -> str | None:
    """Migrate the database at ``url`` to ``revision``; running it again does nothing.

    ``migrations`` is the script directory (tests point it at a copy with extra revisions).
    """
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
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
