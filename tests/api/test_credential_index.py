"""The credential index: every stored key's credential and its user's policy set loaded in bulk
(``CredentialResolver.preload``, ``iamd serve --cache-preload``), kept current as the lazily
loaded entries are (docs/architecture.md, "The credential index")."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bench.server.callers import ACCOUNT, AWS_READ_ONLY, prepare, signed
from bench.server.cpu import _feed, query_protocol
from bench.server.servers import ROOT_KEY, ROOT_SECRET
from iamd.api import Backend, create_app
from iamd.cache import CacheLimits, Section
from iamd.store import EntityKind, KeyStatus, ReadTx
from iamd.store.store import SqlStore


def _open(tmp_path: Path, limits: CacheLimits | None = None) -> Backend:
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    return Backend.open(f"sqlite:///{tmp_path}/iamd.db", tmp_path / "data", dev=True, env=env, cache_limits=limits)[0]


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    opened = _open(tmp_path)
    yield opened
    opened.close()


def _user_id(backend: Backend, name: str) -> str:
    with backend.store.read() as r:
        return r.get_user(ACCOUNT, name).id


def test_after_the_bulk_load_a_callers_first_request_reads_nothing(backend: Backend) -> None:
    keys = prepare(backend, 5)
    assert backend.credentials.preload(100, page=2) == 6  # the five callers' keys and the root key, in 3 pages
    assert all(backend.knows_key(k.access_key_id) for k in keys)
    assert backend.cache.get(Section.SETS, _user_id(backend, "caller000003")) is not None
    loop = asyncio.new_event_loop()
    protocol, transport = query_protocol(create_app(backend), loop)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name != "iamd-audit":  # the audit trail's own writes
            statements.append(statement)

    assert isinstance(backend.store, SqlStore)
    event.listen(backend.store.engine, "before_cursor_execute", record)
    try:
        assert _feed(protocol, transport, signed(keys, 8000), loop) == 5
    finally:
        event.remove(backend.store.engine, "before_cursor_execute", record)
        loop.close()
    assert statements == []


def test_more_keys_than_the_limit_are_left_to_their_first_use(backend: Backend) -> None:
    keys = prepare(backend, 3)
    assert backend.credentials.preload(3) == 0  # four keys with the root's
    assert not any(backend.knows_key(k.access_key_id) for k in keys)


def test_the_bulk_load_stops_when_the_cache_is_full(tmp_path: Path) -> None:
    small = _open(tmp_path, CacheLimits(sets=3))  # room for fewer sets than there are callers
    try:
        prepare(small, 8)
        assert small.credentials.preload(100, page=2) < 9
        assert small.cache.size(Section.CREDENTIALS) < 9
    finally:
        small.close()


def test_an_entry_a_write_committed_during_the_bulk_load_may_have_changed_is_left_out(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is kept under the cache version taken before its snapshot began: a key deactivated
    after the snapshot began (which the snapshot does not see) is not kept as active; its first
    request reads it again and is refused."""
    keys = prepare(backend, 2)
    store = backend.store
    real_read = store.read
    reads = 0

    @contextmanager
    def racing_read() -> Iterator[ReadTx]:
        nonlocal reads
        reads += 1
        with real_read() as tx:
            tx.generation()  # the snapshot has begun (SQLite's deferred BEGIN)
            if reads == 2:  # the first page's (the first read counts the keys)
                with store.transaction() as w:
                    w.update_access_key(ACCOUNT, "caller000001", raced, KeyStatus.INACTIVE)
            yield tx

    with store.read() as r:
        raced = r.list_access_keys(ACCOUNT, "caller000001")[0].id
    monkeypatch.setattr(store, "read", racing_read)
    assert backend.credentials.preload(100) == 2  # the root's and the other caller's
    monkeypatch.undo()
    assert not backend.knows_key(raced)
    credential = backend.lookup(raced)
    assert credential is not None and not credential.active
    other = next(k.access_key_id for k in keys if k.access_key_id != raced)
    assert backend.knows_key(other)


def test_a_bulk_loaded_entry_follows_writes_like_any_other(backend: Backend) -> None:
    prepare(backend, 2)
    backend.credentials.preload(100)
    user_id = _user_id(backend, "caller000000")
    assert backend.cache.get(Section.SETS, user_id) is not None
    with backend.store.transaction() as tx:
        tx.detach_policy(EntityKind.USER, ACCOUNT, "caller000000", AWS_READ_ONLY)
    assert backend.cache.get(Section.SETS, user_id) is None  # rebuilt from the store on the next request
    with backend.store.read() as r:
        key_id = r.list_access_keys(ACCOUNT, "caller000001")[0].id
    assert backend.knows_key(key_id)
    with backend.store.transaction() as tx:
        tx.delete_access_key(ACCOUNT, "caller000001", key_id)
    assert backend.lookup(key_id) is None


def test_a_bulk_load_leaves_a_key_already_cached_alone(backend: Backend) -> None:
    key = prepare(backend, 1)[0].access_key_id
    first = backend.lookup(key)
    assert backend.credentials.preload(100) == 1  # the root's only
    assert backend.lookup(key) is first
