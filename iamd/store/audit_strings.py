"""Interned strings of the audit trail: each distinct value stored once, events refer to it by id.

A value is looked up by its digest (BLAKE2b, 16 bytes: the value itself may be longer than an
index entry may be). Ids never change meaning: no interned value is ever deleted or changed
(retention deletes events, not strings; ``Store.reset`` keeps them), so a process may keep the
ids it has seen for good. Only what a committed transaction stored is remembered: a value
interned by a transaction that may still roll back is not (docs/audit.md, "The stored record").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from iamd.store import schema as s
from iamd.store.driver import execute_sql

__all__ = ["AuditStrings", "keyed", "intern_pg", "interned_pg"]

_MAX_REMEMBERED = 200_000  # values per process; past that the memory starts afresh
_CHUNK = 500  # values per IN (...) query
# PostgreSQL: intern values in one statement (the inserted rows, and those already stored; a
# row another transaction stored after this statement's snapshot is read again after it).
_INTERN_PG = (
    "WITH v(digest, value) AS (VALUES {}), "
    "ins AS (INSERT INTO audit_strings (digest, value) SELECT digest, value FROM v "
    "ON CONFLICT (digest) DO NOTHING RETURNING id, digest) "
    "SELECT id, digest FROM ins UNION ALL SELECT a.id, a.digest FROM audit_strings a JOIN v ON a.digest = v.digest"
)


def _digest(value: str) -> bytes:
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def keyed(values: Iterable[str]) -> dict[bytes, str]:
    """``values`` by their digests (the interning's key)."""
    return {_digest(v): v for v in values}


def intern_pg(by_digest: dict[bytes, str]) -> tuple[str, list[Any]]:
    """PostgreSQL: the statement interning ``by_digest``'s values (:data:`_INTERN_PG`), in the
    digests' order, as every writer: two never wait for each other's rows crosswise."""
    ordered = sorted(by_digest)
    sql = _INTERN_PG.format(", ".join(["(%s::bytea, %s::text)"] * len(ordered)))
    return sql, [x for d in ordered for x in (d, by_digest[d])]


def interned_pg(rows: Iterable[Any], by_digest: dict[bytes, str]) -> dict[str, int]:
    """The ids :func:`intern_pg`'s statement returned (value → id); those found are taken out of
    ``by_digest``: what is left was stored meanwhile by a transaction the statement did not see."""
    out: dict[str, int] = {}
    for got, digest in rows:
        value = by_digest.pop(bytes(digest), None)
        if value is not None:
            out[value] = int(got)
    return out


class AuditStrings:
    """A process's map of interned values to ids and back (one per store)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._values: dict[int, str] = {}

    @property
    def known(self) -> dict[str, int]:
        """The ids remembered (value → id), to be read only."""
        return self._ids

    def remember(self, ids: dict[str, int]) -> None:
        """Keep ``ids`` (value → id), once what interned them has committed."""
        if len(self._ids) + len(ids) > _MAX_REMEMBERED:
            self._ids.clear()
            self._values.clear()
        self._ids.update(ids)

    def ids(
        self, conn: Connection, dialect: str, values: Iterable[str | None]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The ids of ``values`` (``None`` skipped), interning new ones in ``conn``'s transaction.

        Returns (every value's id, the ids this call inserted or found that are not remembered
        yet): the caller remembers the second once the transaction has committed.
        """
        known = self._ids
        out: dict[str, int] = {}
        missing: set[str] = set()
        for value in values:
            if value is None or value in out:
                continue
            got = known.get(value)
            if got is None:
                missing.add(value)
            else:
                out[value] = got
        if not missing:
            return out, {}
        new: dict[str, int] = {}
        by_digest = keyed(missing)
        t = s.audit_strings
        if dialect == "postgresql" and len(by_digest) <= _CHUNK:
            # One round trip: insert those not stored, read the ids of those that are.
            sql, bound = intern_pg(by_digest)
            found = interned_pg(execute_sql(conn, sql, bound).fetchall(), by_digest)
            out.update(found)
            new.update(found)
            for digest, value in by_digest.items():  # inserted meanwhile by a transaction this one did not see
                got = conn.execute(select(t.c.id).where(t.c.digest == digest)).scalar_one()
                out[value] = new[value] = int(got)
            return out, new
        digests = list(by_digest)
        for i in range(0, len(digests), _CHUNK):
            for row in conn.execute(select(t.c.id, t.c.digest).where(t.c.digest.in_(digests[i : i + _CHUNK]))):
                value = by_digest.pop(bytes(row.digest))
                out[value] = new[value] = int(row.id)
        if dialect == "postgresql":  # imported here: the PostgreSQL dialect (and asyncpg's) stays out of SQLite servers
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            insert: Any = postgresql_insert(t)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            insert = sqlite_insert(t)
        stmt = insert.on_conflict_do_nothing(index_elements=["digest"]).returning(t.c.id)
        for digest, value in by_digest.items():
            got = conn.execute(stmt, {"digest": digest, "value": value}).scalar()
            if got is None:  # another transaction stored it meanwhile
                got = conn.execute(select(t.c.id).where(t.c.digest == digest)).scalar_one()
            out[value] = new[value] = int(got)
        return out, new

    def lookup(self, conn: Connection, values: Iterable[str], *, remember: bool) -> dict[str, int]:
        """The ids of those of ``values`` that are interned (none is added); ``remember``: keep
        what was read (read transactions only)."""
        out: dict[str, int] = {}
        missing: dict[bytes, str] = {}
        for value in values:
            got = self._ids.get(value)
            if got is None:
                missing[_digest(value)] = value
            else:
                out[value] = got
        if missing:
            t = s.audit_strings
            found: dict[str, int] = {}
            for row in conn.execute(select(t.c.id, t.c.digest).where(t.c.digest.in_(list(missing)))):
                found[missing[bytes(row.digest)]] = int(row.id)
            out.update(found)
            if remember:
                self.remember(found)
        return out

    def values(self, conn: Connection, ids: Iterable[int | None], *, remember: bool) -> dict[int, str]:
        """The values of ``ids`` (``None`` skipped); ``remember``: keep what was read (read
        transactions only: a write transaction may see its own, not yet committed, values)."""
        known = self._values
        out: dict[int, str] = {}
        missing: list[int] = []
        for i in ids:
            if i is None or i in out:
                continue
            got = known.get(i)
            if got is None:
                missing.append(i)
            else:
                out[i] = got
        t = s.audit_strings
        missing = list(set(missing))
        for n in range(0, len(missing), _CHUNK):
            for row in conn.execute(select(t.c.id, t.c.value).where(t.c.id.in_(missing[n : n + _CHUNK]))):
                out[int(row.id)] = row.value
        if remember and missing:
            if len(known) > _MAX_REMEMBERED:
                known.clear()
            known.update((i, out[i]) for i in missing if i in out)
        return out
