"""A caller's first request: the SQL it runs, and what it keeps of what it read in passing.

A cold GetUser reads the caller's key, user and tags in one statement (the credential) and its
identity policies in one more (``ReadTx.policy_sources``); the user and tags the credential read
are kept as the answers of the entity lookups of that user, under the one staleness rule
(docs/architecture.md, "Caches and invalidation"), and an account's Organizations levels are cached per account.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bench.server.callers import ACCOUNT, AWS_READ_ONLY, prepare, signed
from bench.server.cpu import _feed, query_protocol
from bench.server.servers import ROOT_KEY, ROOT_SECRET
from iamd.api import Backend, create_app
from iamd.api.audit_writer import store_batch
from iamd.cache import Section
from iamd.core.reads import CachedReads
from iamd.store import EntityKind, ReadTx, Tag, TagTarget
from iamd.store.store import SqlStore


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    opened, _ = Backend.open(f"sqlite:///{tmp_path}/iamd.db", tmp_path / "data", dev=True, env=env)
    yield opened
    opened.close()


def test_a_cold_get_user_runs_two_statements(backend: Backend) -> None:
    keys = prepare(backend, 4)
    loop = asyncio.new_event_loop()
    protocol, transport = query_protocol(create_app(backend), loop)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name != "iamd-audit":  # the audit trail's own writes
            words = statement.split()
            statements.append(words[1] if words[0] == "WITH" else words[words.index("FROM") + 1])

    assert isinstance(backend.store, SqlStore)
    event.listen(backend.store.engine, "before_cursor_execute", record)
    try:
        for i, raw in enumerate(signed(keys, 8000)):
            statements.clear()
            assert _feed(protocol, transport, [raw], loop) == 1
            if i == 0:  # the account's first caller also compiles the shared managed policies once
                assert len(statements) > 4
                continue
            # the key with its user and tags, then the identity policies' sources, each in its
            # snapshot (whose deferred BEGIN goes to the driver directly: iamd/store/engine.py);
            # no name->id lookups, no groups/inline/attached statements, no Organizations read
            assert len(statements) == 2, statements
            assert statements[0] == "access_keys" and statements[1] == "sources_owner"
            statements.clear()
            assert _feed(protocol, transport, [raw], loop) == 1
            assert statements == []  # warm: nothing
    finally:
        event.remove(backend.store.engine, "before_cursor_execute", record)
        loop.close()


def test_a_cold_get_user_is_one_snapshot(backend: Backend) -> None:
    """The credential and the caller's policy set are read in one snapshot: one BEGIN and one
    COMMIT at the driver per first request (there were two of each), none for a warm one."""
    keys = prepare(backend, 4)
    loop = asyncio.new_event_loop()
    protocol, transport = query_protocol(create_app(backend), loop)
    sent: list[str] = []

    def trace(statement: str) -> None:
        if threading.current_thread().name != "iamd-audit":
            sent.append(statement.split()[0].upper())

    def traced(dbapi_connection: Any, *args: Any) -> None:
        dbapi_connection.set_trace_callback(trace)

    def untraced(dbapi_connection: Any, *args: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    assert isinstance(backend.store, SqlStore)
    event.listen(backend.store.engine, "checkout", traced)
    event.listen(backend.store.engine, "checkin", untraced)
    try:
        for i, raw in enumerate(signed(keys, 8000)):
            sent.clear()
            assert _feed(protocol, transport, [raw], loop) == 1
            if i == 0:  # the account's first caller also reads the shared managed policies
                continue
            assert sent == ["BEGIN", "WITH", "SELECT", "COMMIT"] or sent == ["BEGIN", "SELECT", "WITH", "COMMIT"], sent
            sent.clear()
            assert _feed(protocol, transport, [raw], loop) == 1
            assert sent == []
    finally:
        event.remove(backend.store.engine, "checkout", traced)
        event.remove(backend.store.engine, "checkin", untraced)
        loop.close()


def test_a_set_read_with_the_credential_is_not_kept_if_a_write_to_it_committed_meanwhile(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set built in the credential's snapshot is kept under the credential's cache version,
    taken before the snapshot began: a write to the user's policies committed after the snapshot
    began (which the snapshot does not see) leaves nothing stale behind, and the request is
    authorized against the policies as stored."""
    key = prepare(backend, 1)[0]
    store = backend.store
    real_read = store.read

    @contextmanager
    def racing_read() -> Iterator[ReadTx]:
        with real_read() as tx:
            tx.generation()  # the snapshot has begun (SQLite's deferred BEGIN)
            with store.transaction() as w:  # and then the caller loses its read-only policy
                w.detach_policy(EntityKind.USER, ACCOUNT, "caller000000", AWS_READ_ONLY)
                w.detach_policy(EntityKind.USER, ACCOUNT, "caller000000", shared_arn)
            yield tx

    with store.read() as r:
        shared_arn = next(p.arn for p in r.list_attached_policies(EntityKind.USER, ACCOUNT, "caller000000").items
                          if p.arn != AWS_READ_ONLY)  # fmt: skip
    monkeypatch.setattr(store, "read", racing_read)
    credential = backend.lookup(key.access_key_id)
    monkeypatch.undo()
    assert credential is not None and credential.principal.user is not None
    assert backend.cache.get(Section.SETS, credential.principal.user.id) is None  # read before the write: not kept
    assert not backend.credentials.knows(key.access_key_id)
    loop = asyncio.new_event_loop()
    protocol, transport = query_protocol(create_app(backend), loop)
    try:
        assert _feed(protocol, transport, signed([key], 8000), loop) == 0  # denied: no policy left
    finally:
        loop.close()


def _entities(backend: Backend, name: str) -> tuple[object, object]:
    cache = backend.cache
    return (cache.get(Section.ENTITIES, ("get_user", ACCOUNT, name)),
            cache.get(Section.ENTITIES, ("list_tags", TagTarget.USER, ACCOUNT, name)))  # fmt: skip


def test_the_credentials_user_and_tags_are_kept_as_entity_lookups(backend: Backend) -> None:
    key = prepare(backend, 1)[0].access_key_id
    with backend.store.transaction() as tx:
        tx.tag_resource(TagTarget.USER, ACCOUNT, "caller000000", [Tag("team", "red")])
    credential = backend.lookup(key)
    assert credential is not None
    with backend.store.read() as r:
        stored = (r.get_user(ACCOUNT, "caller000000"), r.list_tags(TagTarget.USER, ACCOUNT, "caller000000"))
    assert _entities(backend, "caller000000") == stored
    assert credential.principal.user is _entities(backend, "caller000000")[0]
    with backend.store.transaction() as tx:  # a tag write drops the credential and both lookups
        tx.tag_resource(TagTarget.USER, ACCOUNT, "caller000000", [Tag("team", "blue")])
    assert _entities(backend, "caller000000") == (None, None)
    assert not backend.credentials.knows(key)


def test_an_untagged_callers_user_is_one_entry_that_answers_its_empty_tags(backend: Backend) -> None:
    """A caller without tags keeps no list_tags entry (about 250 bytes each at 100,000 callers):
    its user record is marked as having none, answers list_tags without a read, and a TagUser
    drops it as it drops the record (a cached absence is invalidated like any entry)."""
    key = prepare(backend, 1)[0].access_key_id
    name = "caller000000"
    assert backend.lookup(key) is not None
    cache = backend.cache
    assert _entities(backend, name)[1] is None and cache.size(Section.ENTITIES) == 1
    assert cache.marked(Section.ENTITIES, ("get_user", ACCOUNT, name))
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is threading.main_thread():  # not the audit writer's own
            statements.append(statement)

    assert isinstance(backend.store, SqlStore)
    event.listen(backend.store.engine, "before_cursor_execute", record)
    try:
        with CachedReads(cache, backend.store) as reads:
            assert reads.list_tags(TagTarget.USER, ACCOUNT, name) == ()
            assert reads.get_user(ACCOUNT, name).name == name
        assert statements == []  # both from the one entry
        with backend.store.transaction() as tx:  # TagUser's write: the change feed drops the record
            tx.tag_resource(TagTarget.USER, ACCOUNT, name, [Tag("team", "red")])
        assert not cache.marked(Section.ENTITIES, ("get_user", ACCOUNT, name))
        with CachedReads(cache, backend.store) as reads:
            assert reads.list_tags(TagTarget.USER, ACCOUNT, name) == (Tag("team", "red"),)
        assert statements  # read again
    finally:
        event.remove(backend.store.engine, "before_cursor_execute", record)
    credential = backend.lookup(key)
    assert credential is not None and credential.principal.principal.tags == (("team", "red"),)
    assert _entities(backend, name)[1] == (Tag("team", "red"),)  # a tagged user keeps both entries
    assert not cache.marked(Section.ENTITIES, ("get_user", ACCOUNT, name))


def test_nothing_read_in_passing_is_kept_if_a_write_to_it_committed_meanwhile(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = prepare(backend, 1)[0].access_key_id
    store = backend.store
    real_read = store.read

    @contextmanager
    def racing_read() -> Iterator[ReadTx]:
        with real_read() as tx:
            yield tx
        # committed after the credential's snapshot, before what it read is kept
        with store.transaction() as w:
            w.tag_resource(TagTarget.USER, ACCOUNT, "caller000000", [Tag("team", "new")])

    monkeypatch.setattr(store, "read", racing_read)
    credential = backend.lookup(key)
    assert credential is not None and credential.principal.principal.tags == ()  # read before the write
    assert _entities(backend, "caller000000") == (None, None)
    assert not backend.credentials.knows(key)
    monkeypatch.undo()
    credential = backend.lookup(key)
    assert credential is not None and credential.principal.principal.tags == (("team", "new"),)
    assert _entities(backend, "caller000000")[1] == (Tag("team", "new"),)


def test_the_key_uses_of_a_batch_of_first_requests_are_one_write_transaction(backend: Backend) -> None:
    keys = [k.access_key_id for k in prepare(backend, 5)]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    uses = {key: (when, "iam", "us-east-1") for key in keys}
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is threading.main_thread():  # not the audit writer's own
            statements.append(statement.split()[0])

    assert isinstance(backend.store, SqlStore)
    event.listen(backend.store.engine, "before_cursor_execute", record)
    try:
        store_batch(backend.store, [], uses)
    finally:
        event.remove(backend.store.engine, "before_cursor_execute", record)
    assert statements == ["BEGIN", "UPDATE", "SELECT"]  # BEGIN IMMEDIATE, all keys at once, their accounts
    with backend.store.read() as r:
        assert {r.get_access_key(key).last_used_date for key in keys} == {when}


def test_a_batch_of_key_uses_that_fails_is_stored_key_by_key(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [k.access_key_id for k in prepare(backend, 3)]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def broken(uses: object) -> None:
        raise RuntimeError("no batch today")

    monkeypatch.setattr(backend.store, "record_access_key_uses", broken)
    store_batch(backend.store, [], {key: (when, "iam", "us-east-1") for key in keys})
    with backend.store.read() as r:
        assert {r.get_access_key(key).last_used_date for key in keys} == {when}
