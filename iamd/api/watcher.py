"""Noticing writes made by other server processes sharing the database.

Every entity write bumps the store's generation counter (table ``iamd_meta``) in its own
transaction. A process's own writes invalidate its caches selectively as they commit
(:meth:`iamd.api.backend.Backend.invalidate`) and tell the watcher their generation
(:meth:`GenerationWatcher.own`). A thread reads the counter every ``interval`` seconds
(one indexed single-row query: no database read per request); a generation the process did
not write itself means another process wrote, and the process then drops all its caches.
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
        except Exception:
            log.exception("could not read the store generation; dropping the caches")
            self._on_foreign_write()
            return True
        with self._lock:
            seen = self._seen
            if current <= seen:
                return False
            foreign = current - seen > len(self._own) or any(g not in self._own for g in range(seen + 1, current + 1))
            self._seen = current
            self._own = {g for g in self._own if g > current}
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
