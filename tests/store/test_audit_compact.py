"""The compact audit record: exact JSON back, on both databases, and old rows converted by the migration."""

from __future__ import annotations

import dataclasses
import json
from multiprocessing.reduction import ForkingPickler
from typing import Any

import sqlalchemy as sa

from iamd.api.audit_writer import build_events, store_batch, wire
from iamd.audit import CallEvent
from iamd.store import (
    AuditEvent,
    CompactEvent,
    Store,
    audit_event_from_record,
    compact_audit_event,
    migrate,
    open_store,
)
from iamd.store.audit_codec import WHOLE, compact_stored_event, id_blob, id_key, id_text, rebuild
from iamd.store.engine import make_engine
from tests.store.audit_corpus import call_events, stored_events
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT


def _trail(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        return list(tx.scan_audit_events())


def _same(got: AuditEvent, want: AuditEvent) -> None:
    assert dataclasses.replace(got, sequence=None) == dataclasses.replace(want, sequence=None), want.event_name


def test_ids_are_16_bytes_when_they_are_uuids_and_any_text_comes_back() -> None:
    for text in ("3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f60", "3F2B8A52-0D6E-4C3A-9A57-1B2C3D4E5F60", "req-1",
                 "fifteen-chars-x", "", "\x01\x01x", "é", "3f2b8a52-0d6e-4c3a-9a5-71b2c3d4e5f60",
                 "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f6 ", "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f6g",
                 "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e-f60", "3f2b8a52-0d6e-4c3A-9a57-1b2c3d4e5f60",
                 # blanks, which bytes.fromhex skips: 15 bytes of hex, kept as text (not a 15-byte "UUID")
                 "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f  ", "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e  60",
                 "3f2b8a52-0d6e-4c3a-9a57-1b2c3d\t\n5f60"):  # fmt: skip
        assert id_text(id_key(text)) == text
        assert id_blob(text) == bytearray(id_key(text))  # what the SQLite batch insert binds
    assert len(id_key("3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f60")) == 16
    # what the old id_key stored for "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f  " (its 15 bytes of hex)
    # reads back as text, not as a decoding error in the trail's reader
    legacy = bytes.fromhex("3f2b8a520d6e4c3a9a571b2c3d4e5f")
    assert id_text(legacy) == legacy.hex()
    assert id_text(b"\x00\xff\xfe") == "00fffe"
    assert all(
        len(id_key(t)) != 16 for t in ("fifteen-chars-x", "sixteen-chars-xx", "3F2B8A52-0D6E-4C3A-9A57-1B2C3D4E5F60")
    )


def test_the_compact_record_rebuilds_exactly_the_json_stored_before() -> None:
    for event in call_events():
        compact = compact_audit_event(event)
        assert rebuild(compact) == audit_event_from_record(event.record()).record, event.event_name
        assert not compact.flags & WHOLE
    kept_whole = []
    for stored in stored_events():
        compact = compact_stored_event(stored)
        assert rebuild(compact) == stored.record
        if compact.flags & WHOLE:
            kept_whole.append(stored.event_id)
    assert kept_whole == ["not-a-uuid", "fifteen-chars-x"]  # no region, address, agent: not the usual shape


def test_the_store_gives_back_what_the_trail_gave_before(store: Store, account: str) -> None:
    want = stored_events()
    calls = call_events()
    store.append_audit_events([compact_audit_event(e) for e in calls[:6]])  # the writer's batches
    store.append_audit_events(want[6:9])
    for event in want[9:12]:
        store.append_audit_event(event)  # a failure's own transaction
    with store.transaction() as tx:
        for event in calls[12:]:
            tx.add_audit_event(compact_audit_event(event))  # a write's own event
        for event in want[12:]:
            tx.add_audit_event(event)
    got = _trail(store)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _same(g, w)
    with store.read() as tx:
        for w in want:
            if w.request_id is not None:
                assert [e.record for e in tx.find_audit_events(w.request_id)] == [w.record]
        alice = tx.list_audit_events(ACCOUNT, user_name="alice").items
        assert {e.event_id for e in alice} == {w.event_id for w in want if w.user_name == "alice"
                                              and w.account_id == ACCOUNT}  # fmt: skip
        denied = tx.list_audit_events(ACCOUNT, event_name="DeleteUser", errors_only=True).items
        assert [e.error_code for e in denied] == ["AccessDenied"]
        assert [e.event_name for e in tx.list_audit_events(OTHER_ACCOUNT).items] == ["ListRoots"]
        assert (
            tx.list_audit_events("000000000000").items == ()
            and tx.list_audit_events(ACCOUNT, user_name="x").items == ()
        )
    # stored again (a writer process that died before it acknowledged): nothing twice
    store.append_audit_events([compact_audit_event(e) for e in calls[:6]], skip_stored=True)
    store.append_audit_events(want[12:], skip_stored=True)
    assert len(_trail(store)) == len(want)


def test_the_migration_converts_the_rows_of_the_old_trail(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0007_policy_history")
    want = stored_events()
    engine = make_engine(empty_url)
    old = sa.table(
        "audit_events", *(sa.column(n) for n in ("event_id", "account_id", "event_name", "event_source", "user_name",
                                                 "user_arn", "error_code", "request_id", "read_only", "record")),
        sa.column("event_time", sa.DateTime(timezone=True)),
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(old.insert(), [{
            "event_id": e.event_id, "account_id": e.account_id, "event_time": e.event_time, "event_name": e.event_name,
            "event_source": e.event_source, "user_name": e.user_name, "user_arn": e.user_arn,
            "error_code": e.error_code, "request_id": e.request_id, "read_only": e.read_only, "record": e.record,
        } for e in want])  # fmt: skip
    engine.dispose()
    assert migrate.upgrade(empty_url) == migrate.head_revision()
    store = open_store(empty_url)
    try:
        got = _trail(store)
        assert [g.sequence for g in got] == list(range(1, len(want) + 1))
        for g, w in zip(got, want, strict=True):
            _same(g, w)
        store.append_audit_events([compact_audit_event(call_events()[0])])
        assert _trail(store)[-1].sequence == len(want) + 1  # numbering goes on after the converted rows
        with store.read() as tx:
            assert [e.event_name for e in tx.list_audit_events(ACCOUNT, event_name="DeleteUser").items] == [
                "DeleteUser"
            ]
    finally:
        store.close()


def test_every_query_of_the_readers_uses_an_index(store: Store, account: str) -> None:
    if store.dialect != "sqlite":
        return  # the query plans checked are SQLite's; PostgreSQL's depend on its statistics (test_audit_indexes.py)
    store.append_audit_events([compact_audit_event(e) for e in call_events()])
    notable = "(error_code IS NOT NULL OR (flags & 1) = 0)"  # the partial index's condition, as the store repeats it
    order = " ORDER BY event_time DESC, seq DESC"
    listed = "(error_code IS NOT NULL OR (flags & 9) <> 1)"  # the name's and user's partial indexes', as repeated
    queries = {
        "account": f"SELECT * FROM audit_events WHERE account_id = 1{order} LIMIT 10",
        "user": f"SELECT * FROM audit_events WHERE account_id = 1 AND user_name = 2{order}",
        "event": f"SELECT * FROM audit_events WHERE account_id = 1 AND event_name = 3{order}",
        "errors": f"SELECT * FROM audit_events WHERE account_id = 1 AND error_code IS NOT NULL{order}",
        "write event": f"SELECT * FROM audit_events WHERE account_id = 1 AND event_name = 3 AND {listed}{order}",
        "user's errors": "SELECT * FROM audit_events WHERE account_id = 1 AND user_name = 2"
        f" AND error_code IS NOT NULL AND {listed}{order}",
        "request": f"SELECT * FROM audit_events WHERE request_id = x'00' AND {notable} ORDER BY seq LIMIT 10",
        "request reads": "SELECT * FROM audit_events WHERE seq BETWEEN 1 AND 20000 AND request_id = x'00'"
        " AND (error_code IS NULL AND (flags & 1) = 1) ORDER BY seq LIMIT 10",
        "scan": "SELECT * FROM audit_events WHERE seq > 5 ORDER BY seq LIMIT 10",
    }
    used = {}
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        for name, query in queries.items():
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
            assert "USING INDEX" in plan or "USING INTEGER PRIMARY KEY" in plan, (name, plan)
            assert "TEMP B-TREE" not in plan, (name, plan)
            used[name] = plan
        indexes = {r[1]: r[4] for r in conn.exec_driver_sql("PRAGMA index_list(audit_events)")}  # name: partial
    assert indexes == {"ix_audit_events_trail": 0, "ix_audit_events_notable_request_id": 1,
                       "ix_audit_events_listed_name": 1, "ix_audit_events_listed_user": 1}  # fmt: skip
    assert "ix_audit_events_listed_name" in used["write event"]
    assert "ix_audit_events_listed_user" in used["user's errors"]
    assert "ix_audit_events_notable_request_id" in used["request"]
    assert all("ix_audit_events_trail" in used[n] for n in ("account", "user", "event", "errors"))


def test_a_user_agent_no_text_column_takes_is_kept_in_the_record(store: Store, account: str) -> None:
    base = call_events()[0]
    odd = [
        dataclasses.replace(base, user_agent=agent, event_id=f"{n:08x}-4444-4000-8000-000000000000")
        for n, agent in enumerate(["nul\x00agent", "lone \udcff surrogate", "ünïcödé agent"])
    ]
    for event in odd:
        assert bool(compact_audit_event(event).flags & WHOLE) == (event.user_agent != "ünïcödé agent")
    store.append_audit_events([compact_audit_event(e) for e in odd])
    got = _trail(store)
    assert [g.record for g in got] == [audit_event_from_record(e.record()).record for e in odd]


def _shipped(events: list[CallEvent]) -> list[Any]:
    """``events`` as the server's sender thread sends them to the writer process, received there."""
    return list(ForkingPickler.loads(bytes(ForkingPickler.dumps(wire(events)))))


def _batch() -> list[CallEvent]:
    """The corpus, and what one batch shares or nearly shares: a caller's identity as one object
    and as an equal copy, denials that differ only in what blocked them, an error message that is
    "0" or empty, a user agent no text column takes."""
    calls = call_events()
    denied = next(e for e in calls if e.event_name == "DeleteUser")
    assert isinstance(denied.decision, tuple)
    by_scp = (*denied.decision[:3], "scp", ({"type": "scp", "effect": "explicit"},), *denied.decision[5:])
    more = [
        dataclasses.replace(denied, decision=by_scp),
        dataclasses.replace(denied, user_identity=dict(denied.user_identity), error_message="0"),
        dataclasses.replace(denied, user_identity={**denied.user_identity, "userName": "carol"}, error_message=""),
        dataclasses.replace(calls[0], user_agent="lone \udcff surrogate", request_parameters={"UserName": "x\x00"}),
    ]
    return [*calls, *(dataclasses.replace(e, event_id=f"{n:08x}-5555-4000-8000-000000000000") for n, e in
                      enumerate(more))]  # fmt: skip


def test_events_sent_to_the_writer_process_are_stored_as_the_record_of_the_call() -> None:
    """The wire tuples (iamd.audit.wire_event) carry every member of the record: each is built
    into the same compact event as the call itself, in a batch whose events share what they can."""
    calls = _batch()
    built = build_events(_shipped(calls))
    assert len(built) == len(calls)
    for event, compact in zip(calls, built, strict=True):
        assert isinstance(compact, CompactEvent)
        assert rebuild(compact) == audit_event_from_record(event.record()).record, event.event_name
        assert compact == compact_audit_event(event), event.event_name
    assert [bool(c.flags & WHOLE) for c in built[-1:]] == [True]
    assert built[0] == build_events(_shipped(calls))[0]  # a second batch: remembered values give the same


def test_a_batch_from_the_writer_process_reads_back_exactly(store: Store, account: str) -> None:
    """Stored through the batch insert (on SQLite, NULLs and blobs bound as 0 and bytearrays): NULL,
    empty and "0" come back as they went in, on both databases."""
    calls = _batch()
    store_batch(store, _shipped(calls), {})
    got = _trail(store)
    built = build_events(_shipped(calls))
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        for n, column in enumerate(CompactEvent._fields):  # a NULL is NULL in the row, not 0 or "0"
            if column == "flags":
                continue
            nulls = conn.exec_driver_sql(f"SELECT COUNT(*) FROM audit_events WHERE {column} IS NULL").scalar()
            assert nulls == sum(c[n] is None for c in built), column
    assert [g.record for g in got] == [audit_event_from_record(e.record()).record for e in calls]
    messages = [json.loads(g.record).get("errorMessage") for g in got[-4:-1]]
    assert messages[1:] == ["0", ""]
    with store.read() as tx:
        no_request = [e for e in tx.scan_audit_events() if e.request_id is None]
        assert no_request == []
        assert [e.event_id for e in tx.find_audit_events(calls[0].request_id)] == [calls[0].event_id, got[-1].event_id]
    stored = stored_events()
    signins = [e for e in stored if e.request_id is None]
    assert signins  # a record without a request id: its column NULL
    store.append_audit_events(signins)
    assert [g.request_id for g in _trail(store)[-len(signins) :]] == [None] * len(signins)


def test_a_batch_without_responses_failures_or_redactions_is_stored_without_those_columns(
    store: Store, account: str, monkeypatch: Any
) -> None:
    """Reads and denials (no response, refused credential, redaction or extra): on SQLite the batch is
    inserted without those four columns, and reads back exactly as the whole statement's rows."""
    from iamd.store import audit as audit_store

    def plain(c: CallEvent) -> bool:
        e = compact_audit_event(c)
        return e.response is None and e.authentication is None and e.redacted is None and e.extra is None

    calls = [c for c in _batch() if plain(c)]
    assert len(calls) >= 5 and any(c.error_code for c in calls) and any(not c.error_code for c in calls)
    statements: list[str] = []
    rows = audit_store._rows

    def spy(*args: Any) -> tuple[str, list[Any]]:
        statements.append(rows(*args)[0])
        return rows(*args)

    monkeypatch.setattr(audit_store, "_rows", spy)
    store_batch(store, _shipped(calls), {})
    if store.dialect == "sqlite":
        assert len(statements) == 1 and "params, flags)" in statements[0] and "extra" not in statements[0]
    got = _trail(store)
    assert [g.record for g in got] == [audit_event_from_record(e.record()).record for e in calls]
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        for column in ("response", "authentication", "redacted", "extra"):
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM audit_events WHERE {column} IS NULL").scalar() == len(
                calls
            )
