"""The change feed on PostgreSQL: another process's write drops only what it changed.

Two backends (each what one ``iamd serve`` process holds: its store, caches and watcher) on one
database. A write on A reaches B's caches through the feed (iamd/store/feed.py) at B's next
poll: a policy change, a key deactivation and a tag change apply to B's next authorization,
while B's other callers stay cached (before the feed, every write of A dropped all of B's
caches, its credential index included). Whatever the feed cannot vouch for drops everything:
a generation committed without it (an iamd before session 15, a reset), a change set too large to
send, a feed lost. The watcher's polls are called by the test (its own thread waits a minute).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from unittest.mock import ANY

import pytest
from sqlalchemy import text

from bench.server.callers import ACCOUNT, AWS_READ_ONLY, Key, prepare, signed
from bench.server.cpu import _feed, query_protocol
from bench.server.servers import ROOT_KEY, ROOT_SECRET
from iamd.api import Backend, create_app
from iamd.api.watcher import GenerationWatcher
from iamd.store import EntityKind, KeyStatus, Store, Tag, TagTarget, Tx
from iamd.store.changes import Change, ChangeSet, Entity, Verb
from iamd.store.feed import notified, parse, payload
from iamd.store.store import SqlStore
from tests.store.conftest import PgDatabases

LOCKED = json.dumps({
    "Version": "2012-10-17",
    "Statement": {"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*",
                  "Condition": {"StringEquals": {"aws:PrincipalTag/locked": "yes"}}},
})  # fmt: skip


class _Process:
    """One backend on the database, answering signed GetUser requests in process."""

    def __init__(self, url: str, data_dir: Path) -> None:
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        self.backend = Backend.open(url, data_dir, dev=True, env=env)[0]
        self.loop = asyncio.new_event_loop()
        self.protocol, self.transport = query_protocol(create_app(self.backend), self.loop)

    def allowed(self, key: Key) -> bool:
        return _feed(self.protocol, self.transport, signed([key], 8000), self.loop) == 1

    def close(self) -> None:
        self.backend.close()
        self.loop.close()


@pytest.fixture
def two(pg_databases: PgDatabases, tmp_path: Path) -> Iterator[tuple[_Process, _Process, GenerationWatcher]]:
    url = pg_databases.create("iamd_feed")
    a = _Process(url, tmp_path)
    b = _Process(url, tmp_path)
    try:
        yield a, b, b.backend.watch(interval=60)
    finally:
        b.close()
        a.close()


def test_another_process_write_drops_only_what_it_changed(two: tuple[_Process, _Process, GenerationWatcher]) -> None:
    a, b, watcher = two
    with b.backend.store.transaction() as tx:  # B's own write: no one else writes, no one listens
        tx.create_user(ACCOUNT, "own")
    assert watcher.check() is False and not watcher.listening
    keys = prepare(a.backend, 3, seed=1)
    assert watcher.check() is True and watcher.listening  # another process: dropped once, then the feed
    names = {}
    with a.backend.store.read() as r:
        for i in range(3):
            names[r.list_access_keys(ACCOUNT, f"caller{i:06d}")[0].id] = f"caller{i:06d}"
    k0, k1, k2 = sorted(keys, key=lambda k: names[k.access_key_id])
    assert all(b.allowed(k) for k in (k0, k1, k2))  # B has cached the three callers
    shared = f"arn:aws:iam::{ACCOUNT}:policy/bench-callers"

    with a.backend.store.transaction() as tx:  # a policy change on A
        tx.detach_policy(EntityKind.USER, ACCOUNT, "caller000000", AWS_READ_ONLY)
        tx.detach_policy(EntityKind.USER, ACCOUNT, "caller000000", shared)
    assert watcher.check() is False
    assert not b.allowed(k0)
    assert b.backend.knows_key(k1.access_key_id) and b.backend.knows_key(k2.access_key_id)

    with a.backend.store.transaction() as tx:  # a key deactivated on A
        tx.update_access_key(ACCOUNT, "caller000001", k1.access_key_id, KeyStatus.INACTIVE)
    assert watcher.check() is False
    assert not b.allowed(k1)
    assert b.backend.knows_key(k2.access_key_id)

    with a.backend.store.transaction() as tx:
        tx.put_inline_policy(EntityKind.USER, ACCOUNT, "caller000002", "locked", LOCKED)
    assert watcher.check() is False
    assert b.allowed(k2)
    with a.backend.store.transaction() as tx:  # a tag change on A (aws:PrincipalTag)
        tx.tag_resource(TagTarget.USER, ACCOUNT, "caller000002", [Tag("locked", "yes")])
    assert watcher.check() is False
    assert not b.allowed(k2)
    assert watcher.foreign_writes == 1 and watcher.foreign_changes == 4  # the first, before the feed

    with b.backend.store.transaction() as tx:  # B's own write: applied as it committed, once
        tx.untag_resource(TagTarget.USER, ACCOUNT, "caller000002", ["locked"])
    assert watcher.check() is False
    assert b.allowed(k2)
    with a.backend.store.read() as r:
        user_id = r.get_user(ACCOUNT, "caller000002").id
    applied = watcher.foreign_changes
    a.backend.store.record_password_use(user_id, datetime.now(UTC))  # a last use: no generation
    assert watcher.check() is False
    assert watcher.foreign_changes == applied + 1  # GetUser's PasswordLastUsed on B: read again
    assert watcher.foreign_writes == 1


def _bump_without_the_feed(process: _Process) -> None:
    """A write of an iamd before the change feed: a generation and no change set."""
    store = process.backend.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE iamd_meta SET generation = generation + 1 WHERE id = 1"))


def test_a_generation_the_feed_never_brings_drops_everything(two: tuple[_Process, _Process, GenerationWatcher]) -> None:
    a, b, watcher = two
    key = prepare(a.backend, 1)[0]
    assert watcher.check() is True  # listening from here on
    assert b.allowed(key)
    _bump_without_the_feed(a)
    assert watcher.check() is False  # its change set may still be on the way: one poll's grace
    assert b.backend.knows_key(key.access_key_id)
    assert watcher.check() is True
    assert not b.backend.knows_key(key.access_key_id)
    assert b.allowed(key)
    _bump_without_the_feed(a)  # and a write of A's after it: a gap in the feed, dropped at once
    with a.backend.store.transaction() as tx:
        tx.create_user(ACCOUNT, "later")
    assert watcher.check() is True
    assert not b.backend.knows_key(key.access_key_id)
    assert watcher.check() is False


def test_a_lost_feed_drops_everything_and_listens_again(two: tuple[_Process, _Process, GenerationWatcher]) -> None:
    a, b, watcher = two
    key = prepare(a.backend, 1)[0]
    assert watcher.check() is True  # listening from here on
    assert b.allowed(key)
    store = a.backend.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        lost = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = 'SELECT generation FROM iamd_meta WHERE id = 1'")  # fmt: skip
        assert conn.execute(text(lost)).all() == [(True,)]  # the feed's connection (its last query)
    assert watcher.check() is True  # lost
    assert not b.backend.knows_key(key.access_key_id)
    assert b.allowed(key)
    assert watcher.check() is True  # listening again: what came meanwhile is unknown
    assert b.allowed(key)
    with store.transaction() as tx:
        tx.create_user(ACCOUNT, "later")
    assert watcher.check() is False
    assert b.backend.knows_key(key.access_key_id)


def test_a_change_set_too_large_for_a_notification_is_sent_as_its_generation_only() -> None:
    small = ChangeSet((Change(Entity.USER, ACCOUNT, "u", Verb.TAGGED),), 7)
    assert parse(payload(small, "a"), "b") == (7, small)
    assert parse(payload(small, "a"), "a") == (7, ChangeSet((), 7))  # the receiver's own
    large = ChangeSet(tuple(Change(Entity.USER, ACCOUNT, f"user{i:05d}", Verb.CREATED) for i in range(500)), 8)
    sent = payload(large, "a")
    assert len(sent.encode()) < 8000
    assert parse(sent, "b") == (8, None)  # everything is dropped
    audit = ChangeSet((*small.changes, Change(Entity.AUDIT_EVENT, ACCOUNT, "e", Verb.CREATED)), 9)
    assert parse(payload(audit, "a"), "b") == (9, ChangeSet(small.changes, 9))  # nothing cached from the trail
    assert parse('9 a [["user","1","u","unheard-of",""]]', "b") == (9, None)  # a newer iamd's
    used = ChangeSet((Change(Entity.ROLE, ACCOUNT, "r", Verb.USED),))
    assert parse(payload(used, "a"), "b") == (None, used)  # no generation: applied whenever it comes
    for size in range(7900, 8000):  # a write's: PostgreSQL puts the generation, up to 20 characters, in front
        near = (Change(Entity.USER, ACCOUNT, "u" * (size - 50), Verb.TAGGED),)
        assert len(f"{-(2**63)}{notified(near, 'a')}") < 8000, size


def _whole(store: Store, body: Callable[[Tx], object]) -> None:
    """A write as the server sends it (``lock_later``): CreateUser or DeleteUser sent whole."""
    with store.transaction(lock_later=True) as tx:
        tx.lock_writers()
        body(tx)


def _warmed(store: Store, pairs: int) -> None:
    """The account, then ``pairs`` CreateUser/DeleteUser sent whole: every statement prepared on
    the writer's connection."""
    with store.transaction() as tx:
        tx.create_account(ACCOUNT)
    for n in range(pairs):
        _whole(store, lambda tx, n=n: tx.create_user(ACCOUNT, f"warm{n}", quota=5000))
        _whole(store, lambda tx, n=n: tx.delete_user(ACCOUNT, f"warm{n}"))


def test_a_write_sent_whole_notifies_the_generation_it_commits_as(pg_databases: PgDatabases) -> None:
    """A CreateUser or DeleteUser sent whole with its commit (``Ops.send_whole``) knows its
    generation only from the answer: its notification reads it in the write's transaction, after
    the lock's bump. Another process's feed gets each whole write's change set with the
    generation it committed as, consecutive with a write committed the usual way; a write
    refused in its commit's round trip notifies nothing."""
    from iamd.store import AlreadyExists, open_store
    from iamd.store.driver import round_trips
    from iamd.store.migrate import upgrade

    url = pg_databases.create("iamd_feed_whole")
    upgrade(url)
    writer, other = open_store(url), open_store(url)
    published: list[ChangeSet] = []
    writer.subscribe(published.append)
    feed = cast(SqlStore, other).change_feed()
    assert feed is not None

    def whole(body: Callable[[Tx], object]) -> int:
        before = round_trips()
        _whole(writer, body)
        return round_trips() - before

    try:
        _warmed(writer, 8)
        start, received = feed.poll()
        assert len(received) == 17 and [g for g, _ in received] == list(range(start - 16, start + 1))
        assert whole(lambda tx: tx.create_user(ACCOUNT, "whole", quota=5000)) == 1  # sent whole
        created = published[-1]
        with pytest.raises(AlreadyExists):
            whole(lambda tx: tx.create_user(ACCOUNT, "WHOLE", quota=5000))
        assert whole(lambda tx: tx.delete_user(ACCOUNT, "whole")) == 1
        deleted = published[-1]
        with writer.transaction() as tx:  # the usual way: the lock first, the commit after
            tx.create_user(ACCOUNT, "usual")
        current, received = feed.poll()
        assert current == start + 3 and (created.generation, deleted.generation) == (start + 1, start + 2)
        assert received == [
            (start + 1, ChangeSet(created.changes, start + 1)),
            (start + 2, ChangeSet(deleted.changes, start + 2)),
            (start + 3, ChangeSet((Change(Entity.USER, ACCOUNT, "usual", Verb.CREATED),), start + 3)),
        ]
    finally:
        feed.close()
        other.close()
        writer.close()


def test_the_feed_is_sent_only_while_a_process_listens(pg_databases: PgDatabases) -> None:
    """A lone process's writes send no change set: the writers' lock statement tells whether a
    feed listens (its connection holds the advisory lock ``LISTENERS`` shared), and a store's
    writes send from then on: a write sent whole (its lock answered with its commit) from its
    next write on. A connection that LISTENs without the lock hears only what is sent."""
    from iamd.store import open_store
    from iamd.store.migrate import upgrade

    url = pg_databases.create("iamd_feed_gate")
    upgrade(url)
    writer, other = open_store(url), open_store(url)
    spy = cast(SqlStore, other).engine.raw_connection()
    heard = spy.driver_connection
    assert heard is not None
    heard.autocommit = True
    heard.execute("LISTEN iamd_changes")

    def whole(body: Callable[[Tx], object]) -> None:
        _whole(writer, body)

    def sent() -> list[int | None]:
        heard.execute("SELECT 1")
        return [parse(n.payload, "spy")[0] for n in heard.notifies(timeout=0)]

    try:
        _warmed(writer, 4)
        assert sent() == []  # nobody listened
        feed = cast(SqlStore, other).change_feed()
        assert feed is not None
        whole(lambda tx: tx.create_user(ACCOUNT, "first", quota=5000))  # its lock finds the feed
        whole(lambda tx: tx.delete_user(ACCOUNT, "first"))
        with writer.transaction() as tx:  # the usual way: the lock's answer before the commit
            tx.create_user(ACCOUNT, "usual")
        start = feed.generation
        assert sent() == [start + 2, start + 3]
        assert feed.poll() == (start + 3, [(start + 2, ANY), (start + 3, ANY)])
        feed.close()
        whole(lambda tx: tx.create_user(ACCOUNT, "after", quota=5000))  # its lock finds none
        whole(lambda tx: tx.delete_user(ACCOUNT, "after"))
        assert sent() == [start + 4]
    finally:
        spy.close()
        other.close()
        writer.close()


def test_a_feed_joining_before_the_writers_know_drops_everything(
    two: tuple[_Process, _Process, GenerationWatcher],
) -> None:
    """A write sent whole by a process that did not know of the listener yet never comes through
    the feed: the listener drops everything (a poll later: a change set may still be on its way)
    rather than keep what it changed; from that process's next write on, the feed brings them."""
    a, b, watcher = two
    key = prepare(a.backend, 1)[0]  # nobody listens: A sends nothing
    assert watcher.check() is True and watcher.listening  # B listens from here on
    assert b.allowed(key)

    _whole(
        a.backend.store, lambda tx: tx.create_user(ACCOUNT, "unsent", quota=5000)
    )  # its lock found B's feed: too late for it
    assert watcher.check() is False
    assert watcher.check() is True  # a generation the feed never brought
    assert not b.backend.knows_key(key.access_key_id)
    assert b.allowed(key)
    _whole(a.backend.store, lambda tx: tx.create_user(ACCOUNT, "sent", quota=5000))
    assert watcher.check() is False and watcher.check() is False
    assert b.backend.knows_key(key.access_key_id)
    assert watcher.foreign_writes == 2 and watcher.foreign_changes == 1


def test_a_feed_waits_for_its_lock_no_longer_than_a_write(two: tuple[_Process, _Process, GenerationWatcher]) -> None:
    """A feed starts by taking the listeners' lock shared; a writer that found no feed holds it
    to its commit. One held far longer (a stalled transaction) makes the feed fail to start
    within its wait, not stall the watcher: it keeps polling and dropping everything at another
    process's write, and listens at the next one once the lock is free."""
    import threading

    from iamd.store.feed import LISTENERS

    a, b, watcher = two
    key = prepare(a.backend, 1)[0]
    store = a.backend.store
    assert isinstance(store, SqlStore)
    with store.engine.connect() as holder:
        holder.execute(text(f"SELECT pg_advisory_xact_lock({LISTENERS})"))  # until its rollback
        checked: list[bool] = []
        poll = threading.Thread(target=lambda: checked.append(watcher.check()), daemon=True)
        poll.start()
        poll.join(timeout=10)
        assert checked == [True] and not watcher.listening  # dropped, still polling
        holder.rollback()
    assert b.allowed(key)
    with store.transaction() as tx:
        tx.create_user(ACCOUNT, "later")
    assert watcher.check() is True and watcher.listening


def test_a_feed_without_another_process_writing_stops_listening(
    two: tuple[_Process, _Process, GenerationWatcher],
) -> None:
    """After ``quiet_polls`` polls without another process's change set, the watcher stops
    listening (its own writes then send nothing: the other processes gone, or a write of its
    own once taken for another's); another process's next write drops everything and listens
    again, as the first did."""
    a, b, watcher = two
    watcher.quiet_polls = 3
    key = prepare(a.backend, 1)[0]
    assert watcher.check() is True and watcher.listening
    with a.backend.store.transaction() as tx:
        tx.create_user(ACCOUNT, "applied")
    assert watcher.check() is False and watcher.listening  # a change set: not quiet
    with b.backend.store.transaction() as tx:  # B's own: quiet all the same
        tx.create_user(ACCOUNT, "own")
    assert [watcher.check() for _ in range(3)] == [False] * 3 and not watcher.listening
    with b.backend.store.transaction() as tx:  # polling again: its own is its own
        tx.create_user(ACCOUNT, "own2")
    assert watcher.check() is False
    assert b.allowed(key)
    with a.backend.store.transaction() as tx:
        tx.create_user(ACCOUNT, "later")
    assert watcher.check() is True and watcher.listening
    assert not b.backend.knows_key(key.access_key_id)
