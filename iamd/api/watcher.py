"""Noticing writes made by other server processes sharing the database.

Every entity write bumps the store's generation counter (table ``iamd_meta``) in its own
transaction. A process's own writes invalidate its caches selectively as they commit
(:meth:`iamd.api.backend.Backend.invalidate`) and tell the watcher their generation
(:meth:`GenerationWatcher.own`). A thread reads the counter every ``interval`` seconds
(one indexed single-row query: no database read per request); a generation the process did
not write itself means another process wrote, and the process then drops all its caches.
A write of this process that other connections can already see but that is not published
yet (its commit, then its durable flush, then the change set: ``Store.committing``) is decided
at the next poll, not taken for another's: under a steady stream of writes nearly every poll
found one, and dropped every cache of the process up to ten times a second.
A write on one process is thus seen by the others within ``interval`` plus one query
(docs/architecture.md, "Several processes"). If the counter cannot be read, the caches are
dropped too: a process that cannot tell whether others wrote does not keep serving from them.

On PostgreSQL, given ``on_changes``, the watcher reads the store's change feed instead from
the first write of another process it sees on (iamd/store/feed.py; until then no connection
listens, whose backend would work at every commit): each poll reads the generation on the
feed's connection and applies
another process's change sets (``on_changes``) as this process applies its own: only what
they changed is dropped. The feed brings every generation in commit order, this process's
own too; everything is dropped when it cannot vouch for one: a generation skipped, a change
set it could not carry, a generation the database showed at the previous poll and the feed
has not brought since (a writer without the feed: an older iamd, a reset), a feed lost (then
listened to again at the next poll). After ``quiet_polls`` polls without another process's
change set the watcher stops listening and polls the generation again (the writes of a process
nobody listens to send nothing): the next write of another process is dropped for, as the first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress

from iamd.store import Store
from iamd.store.changes import ChangeSet
from iamd.store.feed import ChangeFeed

__all__ = ["GenerationWatcher"]

log = logging.getLogger("iamd.cache")


class GenerationWatcher:
    def __init__(
        self, store: Store, on_foreign_write: Callable[[], None], *, interval: float = 0.1,
        on_changes: Callable[[ChangeSet], None] | None = None,
    ) -> None:  # fmt: skip
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._store = store
        self._on_foreign_write = on_foreign_write
        self._on_changes = on_changes
        # The feed is listened to from the first write of another process on (a listening
        # process's backend works at every write's commit): until then, the generation's poll.
        self._feed: ChangeFeed | None = None
        self._feeds = False  # (from then on, a feed lost is listened to again: ``_check_feed``)
        self.interval = interval
        # Polls of the feed without another process's change set after which the watcher stops
        # listening (its process's writes then send nothing: iamd/store/feed.py), as before the
        # first: the other processes gone, or a write of its own once taken for another's.
        self.quiet_polls = 300
        self._quiet = 0
        self._lock = threading.Lock()
        self._own: set[int] = set()
        # Generations left undecided at the last poll: being committed by this process then
        # (``Store.committing``), decided at the next poll (``check``).
        self._deferred: frozenset[int] = frozenset()
        self._seen = store.generation()
        self._read = self._seen  # the feed: the generation read at the last poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iamd-generation", daemon=True)
        self.foreign_writes = 0  # how many polls found another process's write (for tests and metrics)
        self.foreign_changes = 0  # the feed: how many of another process's change sets were applied

    @property
    def listening(self) -> bool:
        """Whether the change feed is read now (another process wrote, on PostgreSQL)."""
        return self._feed is not None

    def start(self) -> None:
        self._thread.start()

    def own(self, generation: int) -> None:
        """A write of this process committed as ``generation`` (call after the commit)."""
        with self._lock:
            if generation > self._seen and not self._feeds:  # the feed tells its own apart itself
                self._own.add(generation)

    def check(self) -> bool:
        """Poll once; True if another process wrote since the last poll and the caches were
        dropped (with the feed: only when it could not say what was written)."""
        if self._feeds:
            return self._check_feed()
        try:
            current = self._store.generation()
            # Read after the generation: a write of this process that committed before the read
            # is either still being committed here, or has been published (``own``) by now.
            committing = self._store.committing()
        except Exception:
            log.exception("could not read the store generation; dropping the caches")
            self._on_foreign_write()
            return True
        with self._lock:
            seen = self._seen
            if current <= seen:
                return False
            if current - seen > len(self._own) + len(committing):
                foreign = True
            else:
                undecided = [g for g in range(seen + 1, current + 1) if g not in self._own]
                # A generation this process is committing (committed, not yet published) is
                # decided at the next poll: its own by then, or taken for another's (a commit
                # that failed, whose generation another process may have committed since). So
                # is one of as many as it is committing without knowing their generations yet
                # (negative in ``committing``: writes sent whole with their commit).
                unknown = sum(1 for g in committing if g < 0)
                foreign = any(g in self._deferred for g in undecided) or (
                    sum(1 for g in undecided if g not in committing) > unknown
                )
                if undecided and not foreign:
                    # Decided up to the first of them: a steady stream of writes keeps one
                    # committing at nearly every poll, and the range checked must not grow.
                    self._seen = undecided[0] - 1
                    self._own = {g for g in self._own if g > self._seen}
                    self._deferred = frozenset(undecided)
                    return False
            self._seen = current
            self._own = {g for g in self._own if g > current}
            self._deferred = frozenset()
        if foreign:
            if self._on_changes is not None:
                self._listen()  # before the drop: what commits after it is in the feed
            self._drop()
        return foreign

    def _listen(self) -> None:
        """Another process writes: its change sets from the feed from here on, if there is one."""
        try:
            feed = self._store.change_feed()
        except Exception:
            log.exception("could not listen to the change feed; polling the generation")
            return
        if feed is not None:  # from its generation on (what commits up to it: dropped next)
            self._feed, self._feeds, self._quiet = feed, True, 0
            self._seen = self._read = feed.generation

    def _drop(self) -> bool:
        self.foreign_writes += 1
        self._on_foreign_write()
        return True

    def _check_feed(self) -> bool:
        feed = self._feed
        try:
            if feed is None:  # lost at an earlier poll: whatever came meanwhile is unknown
                self._feed = feed = self._store.change_feed()
                assert feed is not None
                self._seen = self._read = feed.generation
                return self._drop()
            current, received = feed.poll()
        except Exception:
            log.exception("the change feed failed; dropping the caches")
            self._close_feed()
            return self._drop()
        missed = False
        applied = self.foreign_changes
        for generation, changes in received:
            if generation is None:  # a last use (bookkeeping, no generation): whenever it comes
                self._apply(changes)
            elif generation > self._seen:  # else decided already (dropped after it committed)
                missed = missed or changes is None or generation != self._seen + 1
                if not missed:
                    self._apply(changes)
                self._seen = generation
        missed = missed or self._seen < self._read  # shown by the database a poll ago, not by the feed since
        self._read = current
        if missed:
            self._seen = max(self._seen, current)  # the caches are dropped after all of it committed
            return self._drop()
        self._quiet = 0 if self.foreign_changes > applied else self._quiet + 1
        if self._quiet >= self.quiet_polls and self._seen == current:  # all of it brought: poll from here
            with self._lock:
                self._feeds = False
                self._own, self._deferred = set(), frozenset()  # one published meanwhile: taken for another's
            self._close_feed()
        return False

    def _apply(self, changes: ChangeSet | None) -> None:
        if changes is not None and changes.changes:  # empty: this process's own, applied already
            assert self._on_changes is not None  # a feed is read only with on_changes
            self._on_changes(changes)
            self.foreign_changes += 1

    def _close_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            with suppress(Exception):
                feed.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._close_feed()
