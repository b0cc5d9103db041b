"""Server-wide settings kept in the database: the partition its ARNs are in.

The partition is chosen when the database is first used and never changes: every ARN a
user wrote into a policy or trust policy carries it (docs/iam-api.md, "Regions and
partitions"). Several server processes on one database therefore agree on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import URL

from iamd.store import schema as s
from iamd.store.engine import make_engine

__all__ = ["PartitionMismatch", "settle_partition"]


class PartitionMismatch(ValueError):
    """The database was created for another partition than the one asked for."""


def settle_partition(url: str | URL, wanted: str | None, *, fresh: bool) -> str:
    """The database's partition: ``wanted`` recorded on a ``fresh`` database (no account yet),
    else the recorded one, which ``wanted`` (when given) must equal."""
    engine = make_engine(url)
    try:
        return _settle(engine.begin(), wanted, fresh=fresh)
    finally:
        engine.dispose()


def _settle(begin: Any, wanted: str | None, *, fresh: bool) -> str:
    with begin as conn:
        stored = str(conn.execute(select(s.meta.c.partition).where(s.meta.c.id == 1)).scalar_one())
        if wanted is None or wanted == stored:
            return stored
        if not fresh:
            raise PartitionMismatch(
                f"the database serves partition {stored!r}, not {wanted!r}: the partition is chosen when a "
                "database is created (its ARNs carry it) and cannot change"
            )
        conn.execute(update(s.meta).where(s.meta.c.id == 1).values(partition=wanted))
        return wanted
