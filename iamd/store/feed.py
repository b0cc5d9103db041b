"""PostgreSQL: the change feed, each write's change set sent to the other processes on the database.

A write transaction that bumped the generation sends, as one more statement of its last round
trip (``Ops.notify_changes``), ``pg_notify('iamd_changes', payload)``: PostgreSQL delivers it only
if the transaction commits, at its commit, and in commit order; writers commit one at a time
under the writers' lock, so the generations come consecutive. The payload is the generation,
the sending store object's id and its changes (:mod:`iamd.store.changes`) in JSON, or only
the first two when that would not fit PostgreSQL's payload limit: a receiver then drops
everything. The generation is read by the notifying statement itself, in the write's
transaction after the lock's bump (which the transaction holds until its commit): a write
sent whole with its commit (``Ops.send_whole``) learns its generation only from the answer.
Audit events are left out: nothing cached is built from the trail. A role's or a password's
last use (a write outside write transactions, no generation) is sent too, just
after its commit, with ``-`` for its generation: a receiver applies it whenever it comes
(bookkeeping: before the feed, another process refreshed those fields when it dropped
everything).

A process's generation watcher (iamd/api/watcher.py) listens on a connection of its own
(:class:`ChangeFeed`) and applies another process's change sets to its caches as it applies
its own writes'. Whatever the feed cannot vouch for (a generation missing from it, a change set
it could not carry or read, the listening connection lost) drops every cache, as every write
of another process did before (docs/architecture.md, "Caches and invalidation").

The feed is sent only while some process listens: a lone process's writes pay nothing for it
(session 16; bench/README.md, "Session 16: the change feed sent only when listened to"). Each
feed's connection holds the advisory lock :data:`LISTENERS` shared for as long as it lives
(PostgreSQL releases it with the connection, a process that died included); the writers' lock
statement tries it exclusively (:data:`LISTENED`: true when it cannot have it, some feed
holding it), and a store's writes send their change sets from its next write on
(:class:`Listened`). A write that did not send because its store did not know of a listener
yet (one that has just begun listening) is a generation the feed never brings: that listener
drops everything, as for any gap.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from iamd.store.changes import Change, ChangeSet, Entity, Verb

__all__ = ["LISTENED", "NOTIFY", "NOTIFY_ALONE", "ChangeFeed", "Listened", "new_sender", "notified", "parse", "payload"]

CHANNEL = "iamd_changes"
_GENERATION = "SELECT generation FROM iamd_meta WHERE id = 1"
# The write's last statement (``Ops.notify_changes``): its change set to every listener, at its
# commit, after the generation its transaction bumped the counter to (``notified``'s text follows).
NOTIFY = f"SELECT pg_notify('{CHANNEL}', ({_GENERATION})::text || %(feed)s)"
# A last use's, after its commit, in a transaction of its own committed asynchronously: a
# notifying transaction holds a lock every notifying commit takes until its commit is done, and
# the write path's commits are asynchronous (docs/architecture.md, "Writes on PostgreSQL").
NOTIFY_ALONE = f"SELECT set_config('synchronous_commit', 'off', true), pg_notify('{CHANNEL}', %(feed)s)"
# The feeds' advisory lock (pg_advisory_lock key; the migrations' is 0x1A4D_5701), held shared by
# each listening connection; a column of the writers' lock statement: whether one holds it. Its
# exclusive try, when nobody listens, is held until the writer's commit (writers come one at a
# time under their lock: it waits for nobody) and keeps a feed from starting until then.
LISTENERS = 0x1A4D_5702
LISTENED = f"NOT pg_try_advisory_xact_lock({LISTENERS})"
_JOIN_WAIT = "'100ms'"  # a feed's wait for that lock: a write's transaction, not a stalled one's
_LIMIT = 8000  # PostgreSQL's payload must be shorter than this many bytes (its default build)
_WIDEST = 20  # a generation's characters at most (a bigint's 19 digits and a sign)


class Listened:
    """Whether some process listens to the feed, as a store's last writers' lock found it: its
    writes send their change sets while it does (one object per store, its transactions' own)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = False


def new_sender() -> str:
    """A store object's id in the feed: its own change sets come back to it, already applied."""
    return secrets.token_hex(6)


def payload(changes: ChangeSet, sender: str) -> str:
    """``changes`` (committed as ``changes.generation``) as the feed sends it."""
    return f"{'-' if changes.generation is None else changes.generation}{notified(changes.changes, sender)}"


def notified(changes: Sequence[Change], sender: str) -> str:
    """A payload after its generation (:data:`NOTIFY`'s parameter; PostgreSQL puts the generation
    in front): the sender and the changes, or the sender alone when they would not fit with the
    widest generation."""
    rows = [[c.entity.value, c.account, c.name, c.verb.value, c.detail]
            for c in changes if c.entity is not Entity.AUDIT_EVENT]  # fmt: skip
    text = f" {sender} {json.dumps(rows, separators=(',', ':'))}"  # ASCII: one byte per character
    return text if _WIDEST + len(text) < _LIMIT else f" {sender}"


def parse(text: str, sender: str) -> tuple[int | None, ChangeSet | None]:
    """(generation, change set) of a payload: the set is empty when ``sender`` wrote it (its
    changes applied as it committed), None when it is unknown (too large to send, or not
    readable: a newer iamd's kinds of change, say), and everything is to be dropped."""
    generation, _, rest = text.partition(" ")
    origin, _, body = rest.partition(" ")
    number = None if generation == "-" else int(generation)
    if origin == sender:
        return number, ChangeSet((), number)
    try:
        rows: Any = json.loads(body)
        changes = tuple(Change(Entity(e), str(a), str(n), Verb(v), str(d)) for e, a, n, v, d in rows)
    except (ValueError, TypeError):
        return number, None
    return number, ChangeSet(changes, number)


class ChangeFeed:
    """The feed on one connection of its own (a psycopg connection, in autocommit), listening
    from before it reads the generation it starts at (``generation``): whatever commits later
    comes through :meth:`poll`."""

    def __init__(self, driver: Any, sender: str) -> None:
        self._driver = driver
        self._sender = sender
        driver.autocommit = True
        # Writers send from their next write on. A writer that found no feed holds the lock to its
        # commit: waited for at most ``_JOIN_WAIT`` (else this raises, and the watcher keeps
        # polling the generation, dropping everything at another's write, and tries again).
        driver.execute(f"SET lock_timeout = {_JOIN_WAIT}")
        driver.execute(f"SELECT pg_advisory_lock_shared({LISTENERS})")
        driver.execute(f"LISTEN {CHANNEL}")
        self.generation = self._read()

    def _read(self) -> int:
        return int(self._driver.execute(_GENERATION).fetchone()[0])

    def poll(self) -> tuple[int, list[tuple[int | None, ChangeSet | None]]]:
        """The generation now, and the change sets received since the last poll, in commit order
        (``parse``'s); raises when the connection is lost."""
        current = self._read()
        return current, [parse(n.payload, self._sender) for n in self._driver.notifies(timeout=0)]

    def close(self) -> None:
        """Stop listening: the lock released first, so that writers stop sending at once (a closed
        socket alone frees it only once its backend has noticed and exited: writers would go on
        sending for that moment), then the connection closed."""
        with contextlib.suppress(Exception):  # a lost connection holds nothing any more
            self._driver.execute(f"SELECT pg_advisory_unlock_shared({LISTENERS})")
        self._driver.close()
