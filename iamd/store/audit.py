"""Audit events: CloudTrail-shaped records, stored compact (:mod:`iamd.store.audit_codec`).

An event describing a change is added in the change's own transaction
(:meth:`AuditOps.add_audit_event`); events of failed or read-only requests are appended on
their own (``Store.append_audit_event``). Neither bumps the generation.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, func, insert, select, text

from iamd.audit import is_read_only
from iamd.store import schema as s
from iamd.store.audit_codec import (
    READ_ONLY,
    CompactEvent,
    Memo,
    compact_call_event,
    compact_stored_event,
    id_blob,
    id_key,
    id_text,
    rebuild,
)
from iamd.store.audit_strings import intern_pg, interned_pg, keyed
from iamd.store.base import Context, Ops, decode_marker
from iamd.store.changes import Entity, Verb
from iamd.store.driver import execute_sql
from iamd.store.records import AuditEvent, Page

if TYPE_CHECKING:
    from iamd.audit import CallEvent

__all__ = [
    "AuditOps",
    "Storable",
    "audit_event_from_record",
    "compact_audit_event",
    "insert_audit_event",
    "insert_audit_events",
    "stored_audit_event",
]


def stored_audit_event(event: CallEvent, *, untrusted: bool = False) -> AuditEvent:
    """The stored form of a call's event: its CloudTrail record (with iamd's decision and
    authentication members) as JSON text, and the indexed columns.

    ``untrusted``: the event of a failed request, whose parameters were never validated. A
    JSON round trip turns whatever it left (e.g. datetimes) into text, and :func:`storable`
    what no database column takes (bytes that were not UTF-8, NUL).
    """
    if untrusted:
        return audit_event_from_record(storable(json.loads(json.dumps(event.record(), default=str))))
    return audit_event_from_record(event.record(), event_time=event.event_time)


def storable(value: Any) -> Any:
    """``value`` with every string made storable text: a byte that was not UTF-8 (kept by the
    form decoder as a lone surrogate) and NUL become U+FFFD, so the event of a request that
    carried them is recorded like any other (docs/security.md)."""
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "\ufffd")
        try:
            data = value.encode("utf-8", "surrogateescape")  # the request's own bytes back
        except UnicodeEncodeError:  # other lone surrogates: bytes that are not UTF-8 either
            data = value.encode("utf-8", "surrogatepass")
        return data.decode("utf-8", "replace").replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def audit_event_from_record(record: Mapping[str, Any], *, event_time: datetime | None = None) -> AuditEvent:
    """Build an :class:`AuditEvent` from a CloudTrail record (``eventTime`` ``…Z``, ``userIdentity`` …).

    ``event_time``, when the caller has it (aware, whole seconds), saves parsing ``eventTime``.
    """
    identity = record.get("userIdentity") or {}
    when = event_time or datetime.strptime(str(record["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    account = record.get("recipientAccountId") or identity.get("accountId") or ""
    return AuditEvent(
        event_id=str(record["eventID"]),
        account_id=str(account),
        event_time=when,
        event_name=str(record["eventName"]),
        event_source=str(record.get("eventSource", "")),
        read_only=bool(record.get("readOnly", False)),
        record=json.dumps(record, separators=(",", ":"), sort_keys=True),
        user_name=identity.get("userName"),
        user_arn=identity.get("arn"),
        error_code=record.get("errorCode"),
        request_id=record.get("requestID"),
    )


def compact_audit_event(event: CallEvent, memo: Memo | None = None) -> CompactEvent:
    """The stored form of a call's event, built straight from the call (the fast path: the
    writer's batches and a write's own event); :func:`stored_audit_event` is its JSON form.
    ``memo``: one per batch, what its events share (:data:`iamd.store.audit_codec.Memo`); None
    (a write's own event, one at a time): the process's, shared with the writes before it."""
    if memo is None:
        memo = _ONE_AT_A_TIME
        if len(memo) >= _ONE_AT_A_TIME_MAX:
            memo.clear()
    return compact_call_event(event, memo)


# What the events compacted one at a time (each write's own, in its transaction) share with the
# ones before: a caller's ``userIdentity`` and a deciding set of statements' iamdDecision
# template, summarized and written as JSON once rather than at every write (bench/README.md,
# "Session 14: a write's connection kept by its thread"). Its entries keep the objects they are
# keyed by (``Memo``), so they hold for as long as they are kept: at most this many.
_ONE_AT_A_TIME: Memo = {}
_ONE_AT_A_TIME_MAX = 4096


Storable = AuditEvent | CompactEvent


def _compact(event: Storable) -> CompactEvent:
    return event if type(event) is CompactEvent or isinstance(event, CompactEvent) else compact_stored_event(event)


def _ref(ids: dict[str, int], value: str | None) -> int | None:
    return None if value is None else ids[value]


def _interned(c: CompactEvent) -> tuple[str | None, ...]:
    return (c.account_id, c.event_name, c.event_source, c.user_name, c.identity, c.region, c.source_ip,
            c.user_agent, c.error_code, c.decision, c.resource)  # fmt: skip


def _row(c: CompactEvent, ids: dict[str, int]) -> dict[str, Any]:
    """The column values of an event (``seq`` is the database's)."""
    return {
        "event_id": id_key(c.event_id),
        "request_id": None if c.request_id is None else id_key(c.request_id),
        "event_time": c.event_time,
        "account_id": ids[c.account_id],
        "event_name": ids[c.event_name],
        "event_source": ids[c.event_source],
        "user_name": _ref(ids, c.user_name),
        "identity": ids[c.identity],
        "region": _ref(ids, c.region),
        "source_ip": _ref(ids, c.source_ip),
        "user_agent": _ref(ids, c.user_agent),
        "error_code": _ref(ids, c.error_code),
        "error_message": c.error_message,
        "decision": _ref(ids, c.decision),
        "resource": _ref(ids, c.resource),
        "params": c.params,
        "response": c.response,
        "authentication": c.authentication,
        "redacted": c.redacted,
        "extra": c.extra,
        "flags": c.flags,
    }


def _stored_ids(conn: Connection, ctx: Context, events: Sequence[CompactEvent]) -> set[bytes]:
    """The event ids of ``events`` already in the trail: those of each account's events stored
    within the batch's seconds (the trail's index; a batch stored once is stored again as it was)."""
    a = s.audit_events
    spans: dict[str, tuple[int, int]] = {}
    for e in events:
        low, high = spans.get(e.account_id, (e.event_time, e.event_time))
        spans[e.account_id] = (min(low, e.event_time), max(high, e.event_time))
    ids = ctx.strings.lookup(conn, list(spans), remember=False)  # an account never interned has none stored
    found: set[bytes] = set()
    for account, (low, high) in spans.items():
        if account in ids:
            stmt = select(a.c.event_id).where(
                a.c.account_id == ids[account], a.c.event_time >= low, a.c.event_time <= high
            )
            found.update(bytes(r.event_id) for r in conn.execute(stmt))
    return found


_COLUMNS = ("event_id", "request_id", "event_time", "account_id", "event_name", "event_source", "user_name", "identity",
            "region", "source_ip", "user_agent", "error_code", "error_message", "decision", "resource", "params",
            "response", "authentication", "redacted", "extra", "flags")  # fmt: skip
_NULLABLE = frozenset(c.name for c in s.audit_events.columns if c.nullable)
# The writer's batches go to the driver's executemany as they are (no per-row work in SQLAlchemy).
# On SQLite a NULL travels as the integer 0 and a blob as a bytearray (:func:`_sqlite_values`):
# Python's sqlite3 binds an int, str or bytearray as it is, but looks every None and bytes up in
# its adapter registry first (a tuple built, a dictionary and two attribute lookups per value:
# two fifths of the insert's CPU). 0 is no interned id (they start at 1), no blob and no text.
_INSERT_MANY = {
    "qmark": f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES "
    f"({', '.join('NULLIF(?, 0)' if c in _NULLABLE else '?' for c in _COLUMNS)})",
    **{
        paramstyle: f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
        for paramstyle in ("format", "pyformat")
    },
}


def _values(c: CompactEvent, ids: Mapping[str, int]) -> tuple[Any, ...]:
    """The column values of an event, in :data:`_COLUMNS`' order (KeyError: a string not interned)."""
    (event_id, request_id, account, time, name, source, user, identity, region, ip, agent, code, message, decision,
     resource, params, response, authentication, redacted, extra, flags) = c  # fmt: skip
    return (
        id_key(event_id), None if request_id is None else id_key(request_id), time, ids[account], ids[name],
        ids[source], None if user is None else ids[user], ids[identity], None if region is None else ids[region],
        None if ip is None else ids[ip], None if agent is None else ids[agent], None if code is None else ids[code],
        message, None if decision is None else ids[decision], None if resource is None else ids[resource], params,
        response, authentication, redacted, extra, flags,
    )  # fmt: skip


def _sqlite_values(c: CompactEvent, ids: Mapping[str, int]) -> tuple[Any, ...]:
    """:func:`_values` for SQLite's statement: NULL as 0 (``NULLIF(?, 0)``), blobs as bytearrays."""
    (event_id, request_id, account, time, name, source, user, identity, region, ip, agent, code, message, decision,
     resource, params, response, authentication, redacted, extra, flags) = c  # fmt: skip
    return (
        id_blob(event_id), 0 if request_id is None else id_blob(request_id), time, ids[account],
        ids[name], ids[source], 0 if user is None else ids[user], ids[identity], 0 if region is None else ids[region],
        0 if ip is None else ids[ip], 0 if agent is None else ids[agent], 0 if code is None else ids[code],
        0 if message is None else message, 0 if decision is None else ids[decision],
        0 if resource is None else ids[resource], 0 if params is None else params,
        0 if response is None else response, 0 if authentication is None else authentication,
        0 if redacted is None else redacted, 0 if extra is None else extra, flags,
    )  # fmt: skip


# Most events have no response, authentication failure, redaction or extra (a read, a denial): a
# batch of only such events is inserted without those four columns (NULL by default), four
# parameters fewer to bind and four NULLIFs fewer per event (SQLite; the rows are the same).
_RARE = ("response", "authentication", "redacted", "extra")
_INSERT_PLAIN = (
    f"INSERT INTO audit_events ({', '.join(c for c in _COLUMNS if c not in _RARE)}) VALUES "
    f"({', '.join('NULLIF(?, 0)' if c in _NULLABLE else '?' for c in _COLUMNS if c not in _RARE)})"
)


class _NotPlain(Exception):
    """An event of the batch has one of the :data:`_RARE` columns."""


def _sqlite_plain_values(c: CompactEvent, ids: Mapping[str, int]) -> tuple[Any, ...]:
    """:func:`_sqlite_values` for :data:`_INSERT_PLAIN` (_NotPlain: the event has a :data:`_RARE` column)."""
    (event_id, request_id, account, time, name, source, user, identity, region, ip, agent, code, message, decision,
     resource, params, response, authentication, redacted, extra, flags) = c  # fmt: skip
    if response is not None or authentication is not None or redacted is not None or extra is not None:
        raise _NotPlain
    return (
        id_blob(event_id), 0 if request_id is None else id_blob(request_id), time, ids[account],
        ids[name], ids[source], 0 if user is None else ids[user], ids[identity], 0 if region is None else ids[region],
        0 if ip is None else ids[ip], 0 if agent is None else ids[agent], 0 if code is None else ids[code],
        0 if message is None else message, 0 if decision is None else ids[decision],
        0 if resource is None else ids[resource], 0 if params is None else params, flags,
    )  # fmt: skip


def _rows(compact: Sequence[CompactEvent], ids: Mapping[str, int], paramstyle: str) -> tuple[str, list[Any]]:
    """The statement and its rows for ``compact`` (KeyError: a string not interned)."""
    if paramstyle != "qmark":
        return _INSERT_MANY[paramstyle], [_values(c, ids) for c in compact]
    try:
        return _INSERT_PLAIN, [_sqlite_plain_values(c, ids) for c in compact]
    except _NotPlain:
        return _INSERT_MANY[paramstyle], [_sqlite_values(c, ids) for c in compact]


_INSERT_ONE = insert(s.audit_events).returning(s.audit_events.c.seq)
_INSERT_ONE_PG = _INSERT_MANY["pyformat"] + " RETURNING seq"
# The columns holding interned strings, in :func:`_interned`'s order (theirs in _COLUMNS).
_REFS = frozenset(c.name for c in s.audit_events.columns if c.type is s._Ref)
# PostgreSQL: the same insert with each interned column given by its id or, for a string the
# same pipeline interned just before (AuditOps.add_audit_event_last), by its digest: a later
# statement, so it sees the string whether this transaction or another one stored it. The
# parameters come through a subquery PostgreSQL keeps as it is (``OFFSET 0``): a custom plan
# cannot fold a COALESCE whose id is given, so it never looks cheaper than the generic plan,
# and the statement is planned once per connection. (Given in VALUES, it was planned at every
# run: about 100 µs of PostgreSQL's CPU per CreateUser; bench/README.md, "Session 15:
# PostgreSQL's own CPU per write".)
_PG_CAST = {bytes: "bytea", int: "bigint", str: "text"}  # (flags, an integer, taken from a bigint)
_INSERT_BY_DIGEST_PG = (
    f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT "
    + ", ".join(
        f"COALESCE(p.i{n}, (SELECT id FROM audit_strings WHERE digest = p.d{n}))" if c in _REFS else f"p.v{n}"
        for n, c in enumerate(_COLUMNS)
    )
    + " FROM (SELECT "
    + ", ".join(
        f"%s::bigint AS i{n}, %s::bytea AS d{n}"
        if c in _REFS
        else f"%s::{_PG_CAST[s.audit_events.c[c].type.python_type]} AS v{n}"
        for n, c in enumerate(_COLUMNS)
    )
    + " OFFSET 0) AS p RETURNING seq"
)
# _values_of and _values_by_digest build their parameters in this order (the interned columns as in _interned).
assert tuple(c for c in _COLUMNS if c in _REFS) == (
    "account_id", "event_name", "event_source", "user_name", "identity", "region", "source_ip", "user_agent",
    "error_code", "decision", "resource",
)  # fmt: skip


def _values_of(c: CompactEvent, i: list[int | None]) -> tuple[Any, ...]:
    """:func:`_values` given the ids of :func:`_interned`'s strings, in its order (all known)."""
    (event_id, request_id, _, time, _, _, _, _, _, _, _, _, message, _, _, params, response, authentication, redacted,
     extra, flags) = c  # fmt: skip
    return (
        id_key(event_id), None if request_id is None else id_key(request_id), time, i[0], i[1], i[2], i[3], i[4],
        i[5], i[6], i[7], i[8], message, i[9], i[10], params, response, authentication, redacted, extra, flags,
    )  # fmt: skip


def _values_by_digest(c: CompactEvent, i: list[int | None], digests: Mapping[str, bytes]) -> tuple[Any, ...]:
    """:data:`_INSERT_BY_DIGEST_PG`'s parameters: each interned column's id (``i``: of
    :func:`_interned`'s strings, in its order, None for one not known), or the digest of its
    string (``digests``: those of the strings not known). Built in one expression (were a mapping
    whose lookups were Python calls, ten per CreateUser: bench/README.md, "Session 17: iamd's CPU
    per write, fewer calls")."""
    (event_id, request_id, account, time, name, source, user, identity, region, ip, agent, code, message, decision,
     resource, params, response, authentication, redacted, extra, flags) = c  # fmt: skip
    refs = (account, name, source, user, identity, region, ip, agent, code, decision, resource)  # _interned's order
    d = [None if found is not None or value is None else digests[value] for value, found in zip(refs, i, strict=True)]
    return (
        id_key(event_id), None if request_id is None else id_key(request_id), time, i[0], d[0], i[1], d[1], i[2], d[2],
        i[3], d[3], i[4], d[4], i[5], d[5], i[6], d[6], i[7], d[7], i[8], d[8], message, i[9], d[9], i[10], d[10],
        params, response, authentication, redacted, extra, flags,
    )  # fmt: skip


def insert_audit_events(
    conn: Connection, ctx: Context, events: Sequence[Storable], *, skip_stored: bool = False
) -> tuple[list[CompactEvent], dict[str, int]]:
    """Store ``events`` in ``conn``'s transaction (one executemany); returns what was stored and
    the interned ids to remember once the transaction has committed."""
    compact = [_compact(e) for e in events]
    if skip_stored and compact:
        stored = _stored_ids(conn, ctx, compact)
        compact = [c for c in compact if id_key(c.event_id) not in stored]
    if not compact:
        return [], {}
    paramstyle = conn.dialect.paramstyle
    try:  # the usual case: every string of the batch interned before (no query, no intermediate map)
        statement, rows = _rows(compact, ctx.strings.known, paramstyle)
        new: dict[str, int] = {}
    except KeyError:
        ids, new = ctx.strings.ids(conn, ctx.dialect, (v for c in compact for v in _interned(c)))
        statement, rows = _rows(compact, ids, paramstyle)
    conn.exec_driver_sql(statement, rows)
    return compact, new


def insert_audit_event(conn: Connection, ctx: Context, event: Storable) -> tuple[int, dict[str, int]]:
    """Store one event; its sequence number and the interned ids to remember after the commit."""
    c = _compact(event)
    ids, new = ctx.strings.ids(conn, ctx.dialect, _interned(c))
    if ctx.dialect == "postgresql":  # the driver's statement, as the writer's batches (iamd/store/driver.py)
        return int(execute_sql(conn, _INSERT_ONE_PG, _values(c, ids)).fetchone()[0]), new
    return int(conn.execute(_INSERT_ONE, _row(c, ids)).scalar_one()), new


def as_stored(event: AuditEvent, sequence: int) -> AuditEvent:
    """``event`` as the trail gives it back (whole seconds, its sequence number)."""
    when = event.event_time.replace(microsecond=0)
    return dataclasses.replace(event, event_time=when, sequence=sequence)


def read_events(conn: Connection, ctx: Context, rows: Sequence[Row[Any]], *, remember: bool) -> list[AuditEvent]:
    r"""Stored rows as :class:`AuditEvent`\ s, their records rebuilt (docs/audit.md)."""
    refs = ("account_id", "event_name", "event_source", "user_name", "identity", "region", "source_ip",
            "user_agent", "error_code", "decision", "resource")  # fmt: skip
    values = ctx.strings.values(conn, (getattr(r, k) for r in rows for k in refs), remember=remember)
    arns: dict[int, str | None] = {}
    out: list[AuditEvent] = []
    for r in rows:

        def text(i: int | None) -> str | None:
            return None if i is None else values[i]

        request_id = None if r.request_id is None else id_text(bytes(r.request_id))
        c = CompactEvent(
            id_text(bytes(r.event_id)), request_id, values[r.account_id], int(r.event_time), values[r.event_name],
            values[r.event_source], text(r.user_name), values[r.identity], text(r.region), text(r.source_ip),
            text(r.user_agent), text(r.error_code), r.error_message, text(r.decision), text(r.resource), r.params,
            r.response, r.authentication, r.redacted, r.extra, int(r.flags),
        )  # fmt: skip
        if r.identity not in arns:
            identity = json.loads(c.identity)
            arn = identity.get("arn") if isinstance(identity, dict) else None
            arns[r.identity] = arn if isinstance(arn, str) else None
        out.append(
            AuditEvent(
                event_id=c.event_id,
                account_id=c.account_id,
                event_time=datetime.fromtimestamp(c.event_time, UTC),
                event_name=c.event_name,
                event_source=c.event_source,
                read_only=c.read_only,
                record=rebuild(c),
                user_name=c.user_name,
                user_arn=arns[r.identity],
                error_code=c.error_code,
                request_id=request_id,
                sequence=int(r.seq),
            )
        )
    return out


# A request's events are queued together (an authorization's: its own event and its checks', at
# most iamd.authz.input.MAX_CHECKS, one queue item) and stored in one batch or the next: their
# sequence numbers lie within this many of each other (what other requests' events come between
# two of its queue items: the few queued in the same instant).
_REQUEST_SEQ_SPAN = 1_000
_NOTABLE = text(f"({s.NOTABLE.text})")  # the partial index's condition, as the query repeats it
_SUCCESSFUL_READ = text("(error_code IS NULL AND (flags & 1) = 1)")  # what schema.NOTABLE is not
_LISTED = text(f"({s.LISTED.text})")  # the partial indexes by event name and user, as the query repeats it


def _ceil_seconds(when: datetime) -> int:
    return math.ceil(when.timestamp())


class AuditOps(Ops):
    def add_audit_event(self, event: Storable) -> int:
        """Store ``event`` in this transaction; its sequence number."""
        self._writes_without_bump()
        seq, new = insert_audit_event(self._conn, self._ctx, event)
        if new:  # remembered by the store once this transaction is committed and durable (SqlStore.transaction)
            self._interned.update(new)
        self._changed(Entity.AUDIT_EVENT, event.account_id, event.event_id, Verb.CREATED)
        return seq

    def add_audit_event_last(self, event: Storable) -> None:
        """Store ``event`` as this write transaction's last statement. PostgreSQL, once the
        writers' lock is taken: sent with the ``COMMIT`` and the durable flush, in their round
        trip (``driver.commit_after``; nothing else may run in the transaction after it: the
        write's own event, iamd.core.invoke), its strings not interned yet interned in the same
        round trip; else as :meth:`add_audit_event`."""
        pending = self._lock_pending and self._deferred is None  # else sent with the held-back statement
        if self._ctx.dialect != "postgresql" or self._unlocked or pending or not self._writable:
            self.add_audit_event(event)
            return
        c = _compact(event)
        refs = _interned(c)
        get: Any = self._ctx.strings.known.get  # (None for None: no string is None)
        ids = list(map(get, refs))  # each string looked up once (were twice for a new one, and a KeyError)
        if None not in ids or ids.count(None) == refs.count(None):  # (a string's id is never None)
            self._last.append((_INSERT_ONE_PG, _values_of(c, ids), None))  # after any event added so before
        else:  # its new strings interned in the same round trip, just before it
            by_digest = keyed({v for v, i in zip(refs, ids, strict=True) if i is None and v is not None})
            intern, bound = intern_pg(by_digest)
            digests = {v: d for d, v in by_digest.items()}  # (taken now: interned_pg empties by_digest)
            self._last += [
                (intern, bound, lambda rows: self._interned.update(interned_pg(rows, by_digest))),
                (_INSERT_BY_DIGEST_PG, _values_by_digest(c, ids, digests), None),
            ]
        self._changed(Entity.AUDIT_EVENT, event.account_id, event.event_id, Verb.CREATED)

    def _string_ids(self, values: Sequence[str]) -> dict[str, int]:
        """The interned ids of ``values`` that are stored (a value never stored matches no event)."""
        return self._ctx.strings.lookup(self._conn, values, remember=not self._writable)

    def list_audit_events(
        self,
        account: str,
        *,
        user_name: str | None = None,
        event_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        errors_only: bool = False,
        writes_only: bool = False,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[AuditEvent]:
        a = s.audit_events
        wanted = [account] + [v for v in (user_name, event_name) if v is not None]
        ids = self._string_ids(wanted)
        if any(v not in ids for v in wanted):
            if marker is not None:
                decode_marker("audit", marker, 2)
            return Page((), None)
        stmt = select(a).where(a.c.account_id == ids[account])
        if user_name is not None:
            stmt = stmt.where(a.c.user_name == ids[user_name])
        if event_name is not None:
            stmt = stmt.where(a.c.event_name == ids[event_name])
        if start is not None:
            stmt = stmt.where(a.c.event_time >= _ceil_seconds(start))
        if end is not None:
            stmt = stmt.where(a.c.event_time < _ceil_seconds(end))
        if errors_only:
            stmt = stmt.where(a.c.error_code.is_not(None))
        if writes_only:  # successful writes: what changed something (the troubleshooter's "changed since")
            stmt = stmt.where(a.c.error_code.is_(None), a.c.flags.op("&")(READ_ONLY) == 0)
        if (user_name is not None or event_name is not None) and (
            errors_only or writes_only or (event_name is not None and not is_read_only(event_name))
        ):  # no successful read is asked for: the partial index by name or user holds every event that matches
            stmt = stmt.where(_LISTED)
        keys = [a.c.event_time, a.c.seq]
        page = self._paged(stmt, keys, "audit", marker, max_items, lambda r: r, descending=True)
        return Page(tuple(read_events(self._conn, self._ctx, page.items, remember=not self._writable)), page.marker)

    def find_audit_events(
        self, request_id: str, *, limit: int = 10, notable_only: bool = False, reach: int | None = None
    ) -> tuple[AuditEvent, ...]:
        """The events of one request id (the ``RequestId`` every answer carries), oldest first;
        ``notable_only``: only those that are not successful reads (failures, denials, writes:
        the request id's index alone, never a scan).

        The request id's index holds the events that are not successful reads (``schema.NOTABLE``).
        A request's events are stored side by side (:data:`_REQUEST_SEQ_SPAN`): its successful
        reads (an authorization's allowed checks) are looked for beside its other events; a
        request that has no other event (a successful ``GetUser``) is looked for from the newest
        event back, and then beside the one found (docs/audit.md, "Indexes")."""
        a = s.audit_events
        key = id_key(request_id)
        rows = list(self._conn.execute(select(a).where(a.c.request_id == key, _NOTABLE).order_by(a.c.seq).limit(limit)))
        if notable_only:
            return tuple(read_events(self._conn, self._ctx, rows, remember=not self._writable))
        near = select(a).where(a.c.request_id == key)
        if rows:  # its successful reads, beside its indexed events (ordered by seq)
            low, high = int(rows[0].seq), int(rows[-1].seq)
            near = near.where(_SUCCESSFUL_READ)
        else:  # not indexed: the newest of its events, from the trail's end back (a whole scan if there is none)
            search = select(a.c.seq).where(a.c.request_id == key)
            if reach is not None:  # a bounded walk of the table's key: the newest ``reach`` events
                last = self._conn.execute(select(func.max(a.c.seq))).scalar()
                if last is None:
                    return ()
                search = search.where(a.c.seq > int(last) - reach)
            newest = self._conn.execute(search.order_by(a.c.seq.desc()).limit(1)).scalar()
            if newest is None:
                return ()
            low = high = int(newest)
        near = near.where(a.c.seq.between(low - _REQUEST_SEQ_SPAN, high + _REQUEST_SEQ_SPAN))
        rows += self._conn.execute(near.order_by(a.c.seq).limit(limit))
        rows = sorted(rows, key=lambda r: int(r.seq))[:limit]
        return tuple(read_events(self._conn, self._ctx, rows, remember=not self._writable))

    def scan_audit_events(
        self,
        *,
        after: int = 0,
        start: datetime | None = None,
        end: datetime | None = None,
        account: str | None = None,
        limit: int = 1000,
    ) -> tuple[AuditEvent, ...]:
        """Events in the order they were stored (every account, or one), from sequence number
        ``after`` (exclusive), at most ``limit``; ``start`` inclusive, ``end`` exclusive. For
        readers of the whole trail (export, archiving, last-accessed data): page on with the
        last event's ``sequence``."""
        a = s.audit_events
        stmt = select(a).where(a.c.seq > after)
        if account is not None:
            ids = self._string_ids([account])
            if account not in ids:
                return ()
            stmt = stmt.where(a.c.account_id == ids[account])
        if start is not None:
            stmt = stmt.where(a.c.event_time >= _ceil_seconds(start))
        if end is not None:
            stmt = stmt.where(a.c.event_time < _ceil_seconds(end))
        rows = self._conn.execute(stmt.order_by(a.c.seq).limit(limit)).all()
        return tuple(read_events(self._conn, self._ctx, rows, remember=not self._writable))
