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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from iamd.store import Store

__all__ = ["GenerationWatcher"]

log = logging.getLogger("iamd.cache")


class GenerationWatcher:
    def __init__(self, store: Store, on_foreign_write: Callable[[], None], *, interval: float = 0.1) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._store = store
        self._on_foreign_write = on_foreign_write
        self.interval = interval
        self._lock = threading.Lock()
        self._own: set[int] = set()
        # Generations left undecided at the last poll: being committed by this process then
        # (``Store.committing``), decided at the next poll (``check``).
        self._deferred: frozenset[int] = frozenset()
        self._seen = store.generation()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iamd-generation", daemon=True)
        self.foreign_writes = 0  # how many polls found another process's write (for tests and metrics)

    def start(self) -> None:
        self._thread.start()

    def own(self, generation: int) -> None:
        """A write of this process committed as ``generation`` (call after the commit)."""
        with self._lock:
            if generation > self._seen:
                self._own.add(generation)

    def check(self) -> bool:
        """Poll once; True if another process wrote since the last poll (caches then dropped)."""
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
            self.foreign_writes += 1
            self._on_foreign_write()
        return foreign

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
