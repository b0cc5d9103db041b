"""The audit trail's two indexes (migration 0014, docs/audit.md "Indexes"): a trail upgraded from
0013 keeps its events, every reader's query still finds exactly its events, and the request id's
partial index is one the databases use."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import inspect

from iamd.audit import CallEvent
from iamd.store import AuditEvent, Store, compact_audit_event, migrate, open_store
from iamd.store import schema as s
from iamd.store.audit import _interned, _row
from iamd.store.audit_strings import AuditStrings
from iamd.store.engine import make_engine
from tests.store.audit_corpus import call_events
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT

INDEXES = {"ix_audit_events_trail", "ix_audit_events_notable_request_id"}
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


def _check_queries(store: Store, events: list[CallEvent]) -> None:
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
                "errors": ({"errors_only": True}, [e for e in mine if e.error_code is not None]),
                "writes": ({"writes_only": True}, [e for e in mine if e.error_code is None and not e.read_only]),
            }
            for name, (kwargs, want_events) in filters.items():
                got = tx.list_audit_events(account, max_items=1000, **kwargs).items  # type: ignore[arg-type]
                assert [e.event_id for e in got] == [e.event_id for e in want_events], (account, name)


def test_an_upgrade_from_0013_keeps_the_events_and_leaves_two_indexes(empty_url: str) -> None:
    assert migrate.upgrade(empty_url, "0013_account_quotas") == "0013_account_quotas"
    assert _indexes(empty_url) >= OLD_INDEXES
    events = [*call_events(), *_reads(100, 30), *_authorization(200), *_reads(300, 5)]
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:  # rows as 0013's store wrote them (the columns are the same)
            compact = [compact_audit_event(e) for e in events]
            ids, _ = AuditStrings().ids(conn, conn.dialect.name, (v for c in compact for v in _interned(c)))
            conn.execute(sa.insert(s.audit_events), [_row(c, ids) for c in compact])
    finally:
        engine.dispose()
    assert migrate.upgrade(empty_url) == migrate.head_revision() == "0014_audit_index_diet"
    assert _indexes(empty_url) == INDEXES
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
    _check_queries(store, [*events, *asked])
    with store.read() as tx:
        assert [e.event_id for e in tx.find_audit_events(asked[0].request_id)] == [e.event_id for e in asked]
        assert [e.event_id for e in tx.find_audit_events(asked[0].request_id, limit=2)] == [
            e.event_id for e in asked[:2]
        ]
    # stored again (a writer process that died before it acknowledged): nothing twice
    store.append_audit_events([compact_audit_event(e) for e in [*events, *asked]], skip_stored=True)
    assert len(_trail(store)) == len(events) + len(asked) + 40


def test_postgresql_uses_the_partial_index_for_a_request_s_events(store: Store, account: str) -> None:
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
        }.items():
            rows = conn.exec_driver_sql(f"EXPLAIN SELECT * FROM audit_events WHERE {where}").all()
            plans[name] = " ".join(str(r[0]) for r in rows)
    assert "ix_audit_events_notable_request_id" in plans["request"], plans["request"]
    assert "ix_audit_events_trail" in plans["user"] and "ix_audit_events_trail" in plans["errors"], plans
