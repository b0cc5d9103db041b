"""The worker threads of ``iamd serve``: a read lane and a write lane (docs/architecture.md, "Threads").

A request that is not answered on the event loop runs on a thread of its lane:

* **writes** (an operation whose entry in its service's operations table says it writes) on
  the write lane: one thread on SQLite, which has one writer anyway — a second writer thread
  would only sleep in SQLite's busy handler, and could wait up to 100 ms at a time after the
  first committed; on PostgreSQL as many threads as the read lane;
* everything else (lists, simulations, STS, keys not cached yet, an entity not cached) on the
  read lane. A read runs in a snapshot (WAL on SQLite, ``REPEATABLE READ`` on PostgreSQL)
  that never waits for a writer.

So a slow write, or a burst of them, fills only the write lane's queue: reads go on, on the
event loop and on the read lane. A request whose Action cannot be told cheaply (escaped,
repeated) goes to the write lane: it might write. Both lanes are bounded; what waits for a
thread is bounded by the connection limit (one request per connection).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["Lanes"]


class Lanes:
    def __init__(self, backend: Any, threads: int) -> None:
        self._threads = max(1, threads)
        dialect = getattr(backend.store, "dialect", "sqlite")
        self.write_threads = 1 if dialect == "sqlite" else self._threads
        registry = backend.registry
        self.writes = frozenset(
            name for service in registry.names for name, op in registry.get(service).operations.items() if op.writes
        )
        self._lock = threading.Lock()
        self._read: ThreadPoolExecutor | None = None
        self._write: ThreadPoolExecutor | None = None

    def for_request(self, http: Any, action: str | None) -> ThreadPoolExecutor:
        """The lane of a Query or JSON request; ``action``: its plainly written Action, or None."""
        target = http.header("x-amz-target")
        if target:  # the JSON protocol names its operation in the header: "Prefix.Operation"
            action = target.rpartition(".")[2] or None
        return self.write if action is None or action in self.writes else self.read

    @property
    def read(self) -> ThreadPoolExecutor:
        pool = self._read
        if pool is None:
            with self._lock:
                if self._read is None:
                    self._read = ThreadPoolExecutor(self._threads, thread_name_prefix="iamd-request")
                pool = self._read
        return pool

    @property
    def write(self) -> ThreadPoolExecutor:
        pool = self._write
        if pool is None:
            with self._lock:
                if self._write is None:
                    self._write = ThreadPoolExecutor(self.write_threads, thread_name_prefix="iamd-request-write")
                pool = self._write
        return pool

    def shutdown(self) -> None:
        with self._lock:
            pools, self._read, self._write = (self._read, self._write), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True)
