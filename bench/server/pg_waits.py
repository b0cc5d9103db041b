"""What a database's client backends are doing during a load window: ``pg_stat_activity``, sampled.

A thread of the benchmark's own (its own connection, every ``interval`` seconds) reads the
state and wait event of the backends connected to one database and counts them by kind:

* ``cpu``: running a statement and waiting for nothing (on a CPU, or waiting for one);
* ``flush``: waiting for the log's write or flush (``IO:WALSync``, ``IO:WALWrite``,
  ``LWLock:WALWrite``): the commit's fsync, alone or queued behind another's;
* ``lock``: waiting for a lock (``Lock:*``): iamd's writers' lock is a row lock, so a writer
  queued behind another waits on that writer's transaction id;
* ``iamd_in_tx``: inside a transaction, waiting for iamd's next statement (``idle in
  transaction``): iamd's own time between two statements of a write, the writers' lock held
  if the write has taken it;
* ``iamd_idle``: outside a transaction, waiting for iamd;
* ``other``: any other wait.

Each share is of all backend samples, so the shares of one window add up to 1; ``backends``
is the mean number of the database's client backends seen per sample.
"""

from __future__ import annotations

import threading
from collections import Counter
from types import TracebackType

__all__ = ["KINDS", "WaitSampler"]

KINDS = ("cpu", "flush", "lock", "iamd_in_tx", "iamd_idle", "other")
_FLUSH = {("IO", "WALSync"), ("IO", "WALWrite"), ("LWLock", "WALWrite")}
_QUERY = (
    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
    " WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


def kind(state: str | None, wait_type: str | None, wait_event: str | None) -> str:
    if state == "active":
        if wait_type is None:
            return "cpu"
        if (wait_type, wait_event) in _FLUSH:
            return "flush"
        return "lock" if wait_type == "Lock" else "other"
    if state == "idle in transaction":
        return "iamd_in_tx"
    return "iamd_idle" if state == "idle" else "other"


class WaitSampler:
    """``with WaitSampler(url, database) as w: …`` then ``w.shares()``."""

    def __init__(self, url: str, database: str, interval: float = 0.02) -> None:
        self.url, self.database, self.interval = url, database, interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self.backend = 0  # the sampler's own backend: not the server's PostgreSQL CPU
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-waits", daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            self.backend = conn.info.backend_pid
            while not self._stop.wait(self.interval):
                # pg_stat_activity is a snapshot per transaction: each autocommit query sees a new one.
                rows = conn.execute(_QUERY, (self.database,)).fetchall()
                self.counts.update(kind(*row) for row in rows)
                self.samples += 1

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def shares(self) -> dict[str, float]:
        total = sum(self.counts.values()) or 1
        return {**{k: self.counts[k] / total for k in KINDS}, "backends": total / max(self.samples, 1)}
