"""The audit trail's indexes (migrations 0014 and 0015, docs/audit.md "Indexes"): a trail upgraded
from 0013 keeps its events, every reader's query still finds exactly its events, and the partial
indexes (the request id's, by event name and by user) are ones the databases use."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import inspect

from iamd.audit import CallEvent
from iamd.store import AuditEvent, Store, compact_audit_event, migrate, open_store, stored_audit_event
from iamd.store import schema as s
from iamd.store.audit import _interned, _row
from iamd.store.audit_codec import ODD_READ, READ_ONLY, compact_stored_event
from iamd.store.audit_strings import AuditStrings
from iamd.store.engine import make_engine
from tests.store.audit_corpus import call_events
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT

INDEXES = {
    "ix_audit_events_trail",
    "ix_audit_events_notable_request_id",
    "ix_audit_events_listed_name",
    "ix_audit_events_listed_user",
}
LISTED = "(error_code IS NOT NULL OR (flags & 9) <> 1)"  # the partial indexes' condition, as the store repeats it
ORDER = " ORDER BY event_time DESC, seq DESC LIMIT 10"
OLD_INDEXES = {
    "ix_audit_events_account_id_event_time_seq",
    "ix_audit_events_account_id_user_name_event_time_seq",
    "ix_audit_events_account_id_event_name_event_time_seq",
    "ix_audit_events_request_id",
}


def _trail(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        return list(tx.scan_audit_events())


def _indexes(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {str(i["name"]) for i in inspect(conn).get_indexes("audit_events")}
    finally:
        engine.dispose()


def _authorization(first: int) -> list[CallEvent]:
    """One request's events as an authorization leaves them: its own (a write: not a read), an
    allowed read check of another account, a denied check and another allowed read."""
    base = call_events()[0]  # GetUser, allowed
    request = f"{first:08x}-7777-4000-8000-000000000000"
    own = dataclasses.replace(base, event_name="Authorize", event_source="iamd.amazonaws.com")
    denied = dataclasses.replace(base, error_code="AccessDenied", error_message="no")
    other = dataclasses.replace(base, account_id=OTHER_ACCOUNT)
    return [
        dataclasses.replace(e, request_id=request, event_id=f"{first + n:08x}-8888-4000-8000-000000000000")
        for n, e in enumerate((own, other, denied, base))
    ]


def _reads(first: int, count: int) -> list[CallEvent]:
    """Successful reads, each its own request."""
    base = call_events()[0]
    return [
        dataclasses.replace(base, request_id=f"{n:08x}-9999-4000-8000-000000000000",
                            event_id=f"{n:08x}-aaaa-4000-8000-000000000000",
                            event_time=base.event_time + timedelta(seconds=n))
        for n in range(first, first + count)
    ]  # fmt: skip


def _odd(first: int) -> AuditEvent:
    """An event given as its record (as a console sign-in's is) that is a successful read although
    its name, ``AssumeRole``, is not a read's: a listing of that name must still find it."""
    event = stored_audit_event(_reads(first, 1)[0])
    return dataclasses.replace(event, event_name="AssumeRole", read_only=True, user_name="rare",
                               event_id=f"{first:08x}-bbbb-4000-8000-000000000000")  # fmt: skip


def _check_queries(store: Store, events: Sequence[CallEvent | AuditEvent]) -> None:
    """Every reader's query gives exactly the events it asks for (against a filter of them all)."""
    stored = {e.event_id: e for e in _trail(store)}
    by_seq = sorted(stored.values(), key=lambda e: e.sequence or 0)
    with store.read() as tx:
        for event in events:
            want = [e.event_id for e in by_seq if e.request_id == event.request_id][:10]
            assert [e.event_id for e in tx.find_audit_events(event.request_id)] == want, event.event_name
        assert tx.find_audit_events("00000000-dead-4000-8000-000000000000") == ()
        newest = sorted(by_seq, key=lambda e: (e.event_time, e.sequence or 0), reverse=True)
        for account in (ACCOUNT, OTHER_ACCOUNT):
            mine = [e for e in newest if e.account_id == account]
            filters = {
                "all": ({}, mine),
                "user": ({"user_name": "alice"}, [e for e in mine if e.user_name == "alice"]),
                "event": ({"event_name": "Authorize"}, [e for e in mine if e.event_name == "Authorize"]),
                "read event": ({"event_name": "GetUser"}, [e for e in mine if e.event_name == "GetUser"]),
                "write event": ({"event_name": "AssumeRole"}, [e for e in mine if e.event_name == "AssumeRole"]),
                "user's errors": (
                    {"user_name": "alice", "errors_only": True},
                    [e for e in mine if e.user_name == "alice" and e.error_code is not None],
                ),
                "user's writes": (
                    {"user_name": "alice", "writes_only": True},
                    [e for e in mine if e.user_name == "alice" and e.error_code is None and not e.read_only],
                ),
                "event's errors": (
                    {"event_name": "GetUser", "errors_only": True},
                    [e for e in mine if e.event_name == "GetUser" and e.error_code is not None],
                ),
                "errors": ({"errors_only": True}, [e for e in mine if e.error_code is not None]),
                "writes": ({"writes_only": True}, [e for e in mine if e.error_code is None and not e.read_only]),
            }
            for name, (kwargs, want_events) in filters.items():
                got = tx.list_audit_events(account, max_items=1000, **kwargs).items  # type: ignore[arg-type]
                assert [e.event_id for e in got] == [e.event_id for e in want_events], (account, name)


def test_an_upgrade_from_0013_keeps_the_events_flags_odd_reads_and_leaves_four_indexes(empty_url: str) -> None:
    assert migrate.upgrade(empty_url, "0013_account_quotas") == "0013_account_quotas"
    assert _indexes(empty_url) >= OLD_INDEXES
    events = [*call_events(), *_reads(100, 30), *_authorization(200), _odd(250), *_reads(300, 5)]
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:  # rows as 0013's store wrote them (no ODD_READ: 0015 finds them)
            compact = [
                c._replace(flags=c.flags & ~ODD_READ)
                for c in (
                    compact_stored_event(e) if isinstance(e, AuditEvent) else compact_audit_event(e) for e in events
                )
            ]
            ids, _ = AuditStrings().ids(conn, conn.dialect.name, (v for c in compact for v in _interned(c)))
            conn.execute(sa.insert(s.audit_events), [_row(c, ids) for c in compact])
    finally:
        engine.dispose()
    assert migrate.upgrade(empty_url) == migrate.head_revision()  # 0015 and any later revision
    assert _indexes(empty_url) == INDEXES
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            flags = [int(f) for (f,) in conn.execute(sa.select(s.audit_events.c.flags).order_by(s.audit_events.c.seq))]
    finally:
        engine.dispose()
    odd = events.index(next(e for e in events if isinstance(e, AuditEvent)))
    assert [n for n, f in enumerate(flags) if f & ODD_READ] == [odd] and flags[odd] & READ_ONLY
    store = open_store(empty_url)
    try:
        got = _trail(store)
        assert [e.event_id for e in got] == [e.event_id for e in events]
        assert [e.sequence for e in got] == list(range(1, len(events) + 1))
        _check_queries(store, events)
    finally:
        store.close()


def test_a_request_s_events_are_found_whether_or_not_the_index_holds_them(store: Store, account: str) -> None:
    """The request id's index holds no successful read: an authorization's allowed checks are found
    beside its other events, a lone read by a scan; reads of other requests stored between them are not."""
    events = [*call_events(), *_reads(100, 50)]
    store.append_audit_events([compact_audit_event(e) for e in events])
    asked = _authorization(200)
    store.append_audit_events([compact_audit_event(e) for e in asked[:2]])
    store.append_audit_events([compact_audit_event(e) for e in _reads(400, 20)])  # another batch between
    store.append_audit_events([compact_audit_event(e) for e in asked[2:]])
    store.append_audit_events([compact_audit_event(e) for e in _reads(500, 20)])
    odd = _odd(600)
    store.append_audit_event(odd)  # a successful read named as a write: the partial indexes keep it
    _check_queries(store, [*events, *asked, odd])
    with store.read() as tx:
        assert [e.event_id for e in tx.find_audit_events(asked[0].request_id)] == [e.event_id for e in asked]
        assert [e.event_id for e in tx.find_audit_events(asked[0].request_id, notable_only=True)] == [
            e.event_id for e in asked if e.event_name == "Authorize" or e.error_code is not None
        ]
        assert tx.find_audit_events(events[-1].request_id, notable_only=True) == ()  # a successful read's
        assert [e.event_id for e in tx.find_audit_events(asked[0].request_id, limit=2)] == [
            e.event_id for e in asked[:2]
        ]
    # stored again (a writer process that died before it acknowledged): nothing twice
    store.append_audit_events([compact_audit_event(e) for e in [*events, *asked]], skip_stored=True)
    assert len(_trail(store)) == len(events) + len(asked) + 41


def test_a_lone_read_is_looked_for_within_reach(store: Store, account: str) -> None:
    """A request whose only event is a successful read is not in the request id's index: with
    ``reach`` (the Explain API's bound) it is looked for among the newest ``reach`` events only,
    so an old one or an unknown id never makes a caller read the whole trail."""
    reads = _reads(100, 30)
    store.append_audit_events([compact_audit_event(e) for e in reads])
    with store.read() as tx:
        newest, oldest = reads[-1], reads[0]
        assert [e.event_id for e in tx.find_audit_events(newest.request_id, reach=5)] == [newest.event_id]
        assert [e.event_id for e in tx.find_audit_events(reads[-5].request_id, reach=5)] == [reads[-5].event_id]
        assert tx.find_audit_events(reads[-6].request_id, reach=5) == ()  # the sixth newest: out of reach
        assert tx.find_audit_events(oldest.request_id, reach=5) == ()
        assert [e.event_id for e in tx.find_audit_events(oldest.request_id)] == [oldest.event_id]  # no bound
        assert tx.find_audit_events("00000000-dead-4000-8000-000000000000", reach=5) == ()


def test_postgresql_uses_the_partial_indexes(store: Store, account: str) -> None:
    """The store's query repeats the partial index's condition as text: PostgreSQL proves the
    index applies (SQLite's plans: test_audit_compact.py)."""
    if store.dialect != "postgresql":
        return
    store.append_audit_events([compact_audit_event(e) for e in [*call_events(), *_reads(100, 200)]])
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("ANALYZE audit_events")
        conn.exec_driver_sql("SET enable_seqscan = off")  # only an index the planner cannot use is left out
        plans = {}
        for name, where in {
            "request": "request_id = '\\x00'::bytea AND (error_code IS NOT NULL OR (flags & 1) = 0) ORDER BY seq",
            "user": "account_id = 1 AND user_name = 2 ORDER BY event_time DESC, seq DESC LIMIT 10",
            "errors": "account_id = 1 AND error_code IS NOT NULL ORDER BY event_time DESC, seq DESC LIMIT 10",
            "write event": f"account_id = 1 AND event_name = 3 AND {LISTED}{ORDER}",
            "user's errors": f"account_id = 1 AND user_name = 2 AND error_code IS NOT NULL AND {LISTED}{ORDER}",
        }.items():
            rows = conn.exec_driver_sql(f"EXPLAIN SELECT * FROM audit_events WHERE {where}").all()
            plans[name] = " ".join(str(r[0]) for r in rows)
    assert "ix_audit_events_notable_request_id" in plans["request"], plans["request"]
    assert "ix_audit_events_trail" in plans["user"], plans["user"]
    assert "Index Scan" in plans["errors"], plans["errors"]  # the trail's, or (it proves the condition) a listed one
    assert "ix_audit_events_listed_name" in plans["write event"], plans["write event"]
    assert "ix_audit_events_listed_user" in plans["user's errors"], plans["user's errors"]
