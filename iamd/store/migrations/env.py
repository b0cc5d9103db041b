"""Alembic environment: runs on the connection :mod:`iamd.store.migrate` hands over."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection


def _check_foreign_keys(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """SQLite runs migrations with foreign keys off: verify them before each commit."""
    del step, heads, run_args
    conn = ctx.connection
    assert conn is not None
    if conn.dialect.name == "sqlite":
        bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if bad:
            raise RuntimeError(f"migration left dangling foreign keys: {bad[:10]}")


def run() -> None:
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=None,
        transaction_per_migration=True,
        render_as_batch=True,
        on_version_apply=_check_foreign_keys,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
