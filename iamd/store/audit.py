"""Audit events: CloudTrail-shaped JSON records with a few indexed columns.

An event describing a change is added in the change's own transaction
(:meth:`AuditOps.add_audit_event`); events of failed or read-only requests are appended on
their own (``Store.append_audit_event``). Neither bumps the generation.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, insert, select

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.records import AuditEvent, Page

if TYPE_CHECKING:
    from iamd.audit import CallEvent

__all__ = ["AuditOps", "audit_event_from_record", "insert_audit_event", "stored_audit_event"]


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


def audit_row(event: AuditEvent) -> dict[str, Any]:
    """The column values of an event (``seq`` is the database's)."""
    return {
        "event_id": event.event_id,
        "account_id": event.account_id,
        "event_time": event.event_time,
        "event_name": event.event_name,
        "event_source": event.event_source,
        "user_name": event.user_name,
        "user_arn": event.user_arn,
        "error_code": event.error_code,
        "request_id": event.request_id,
        "read_only": event.read_only,
        "record": event.record,
    }


# One statement, its values bound as parameters: compiled once, not once per event (the events
# of failed calls are stored one by one, before the answer).
_INSERT = insert(s.audit_events).returning(s.audit_events.c.seq)


def insert_audit_event(conn: Connection, event: AuditEvent) -> AuditEvent:
    seq = conn.execute(_INSERT, audit_row(event)).scalar_one()
    return dataclasses.replace(event, sequence=int(seq))


def _event(r: Row[Any]) -> AuditEvent:
    return AuditEvent(
        event_id=r.event_id,
        account_id=r.account_id,
        event_time=r.event_time,
        event_name=r.event_name,
        event_source=r.event_source,
        read_only=bool(r.read_only),
        record=r.record,
        user_name=r.user_name,
        user_arn=r.user_arn,
        error_code=r.error_code,
        request_id=r.request_id,
        sequence=int(r.seq),
    )


class AuditOps(Ops):
    def add_audit_event(self, event: AuditEvent) -> AuditEvent:
        self._writes_without_bump()
        stored = insert_audit_event(self._conn, event)
        self._changed(Entity.AUDIT_EVENT, event.account_id, event.event_id, Verb.CREATED)
        return stored

    def list_audit_events(
        self,
        account: str,
        *,
        user_name: str | None = None,
        event_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        errors_only: bool = False,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[AuditEvent]:
        a = s.audit_events
        stmt = select(a).where(a.c.account_id == account)
        if user_name is not None:
            stmt = stmt.where(a.c.user_name == user_name)
        if event_name is not None:
            stmt = stmt.where(a.c.event_name == event_name)
        if start is not None:
            stmt = stmt.where(a.c.event_time >= start)
        if end is not None:
            stmt = stmt.where(a.c.event_time < end)
        if errors_only:
            stmt = stmt.where(a.c.error_code.is_not(None))
        keys = [a.c.event_time, a.c.seq]
        return self._paged(stmt, keys, "audit", marker, max_items, _event, descending=True)

    def find_audit_events(self, request_id: str, *, limit: int = 10) -> tuple[AuditEvent, ...]:
        """The events of one request id (the ``RequestId`` every answer carries), oldest first."""
        a = s.audit_events
        stmt = select(a).where(a.c.request_id == request_id).order_by(a.c.seq).limit(limit)
        return tuple(_event(r) for r in self._conn.execute(stmt))
