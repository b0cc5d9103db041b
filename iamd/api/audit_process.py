"""The audit writer in its own process: read events leave the server's core and its GIL.

Same contract as :class:`iamd.api.audit_writer.AuditWriter` (``submit``, ``key_used``,
``flush``, ``close``): events of successful writes stay in the write's own transaction (the
pipeline does that); everything else is queued here. The request path appends the queued
item to a list (no work, no system call); a small sender thread ships the list every
``window`` seconds to a child process over a pipe, as one pickle. The child turns records
into CloudTrail JSON and stores each batch in one transaction, with access-key last-used
times, through its own connection to the same database.

Visibility: :meth:`flush` returns once every item submitted before the call is stored (the
child acknowledges it). :meth:`close` flushes, then stops the child: none is lost on a
clean shutdown. If the child dies, the items it had not stored are lost with it (logged
loudly), and later items are written in the server process instead, as the thread writer
would. ``iamd serve`` uses this writer for a file or PostgreSQL database; tests and
in-memory databases use the thread writer.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from iamd.api.audit_writer import Pending, store_batch
from iamd.store import AuditEvent, Store

__all__ = ["AuditProcessWriter"]

log = logging.getLogger("iamd.audit")


LAG_LIMIT = 1.0  # seconds a batch may wait for an idle CPU before the writer stops yielding


class _Priority:
    """The writer's CPU priority: idle-only while it keeps up, normal once it falls behind.

    Read events are stored in batches, so nothing waits on the writer but the trail's
    freshness. As a ``SCHED_IDLE`` process it runs only on a CPU nobody else wants: a batch
    never delays a request or, on a small machine, the client of one (with the writer at
    normal priority, wrk at one connection saw a p99 of 3.5 ms instead of 1.2 ms on 2 vCPUs).
    A machine busy for good would starve it, so a batch that waited more than
    ``lag_limit`` seconds (:data:`LAG_LIMIT` unless the writer was given another) switches it
    back to normal priority until it has caught up; with a limit of 0 it never runs idle-only.
    Best effort: where the scheduler policy cannot be changed, it stays as it is.
    """

    def __init__(self, lag_limit: float = LAG_LIMIT) -> None:
        self.lag_limit = lag_limit
        self.idle = False
        if lag_limit > 0:
            self._set(idle=True)

    def _set(self, *, idle: bool) -> None:
        try:
            policy = os.SCHED_IDLE if idle else os.SCHED_OTHER
            os.sched_setscheduler(0, policy, os.sched_param(0))
        except (AttributeError, OSError):  # not Linux, or not permitted: keep the current policy
            return
        self.idle = idle

    def batch_waited(self, seconds: float) -> None:
        if self.idle and seconds > self.lag_limit:
            log.warning("audit writer %.1f s behind: storing at normal priority until it catches up", seconds)
            self._set(idle=False)
        elif not self.idle and seconds < self.lag_limit / 10:
            self._set(idle=True)


def _child(url: str, conn: Connection, lag_limit: float = LAG_LIMIT) -> None:
    """The writer process: store what arrives, answer flushes, stop on ``None``."""
    from iamd.store import open_store

    priority = _Priority(lag_limit)
    store = open_store(url)
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the server process is gone without saying goodbye
                log.warning("the iamd server process went away; the audit writer stops")
                return
            if message is None:
                return
            kind, payload = message
            if kind == "flush":
                conn.send(("flushed", payload))
                continue
            items, uses, shipped_at = payload
            priority.batch_waited(time.monotonic() - shipped_at)
            store_batch(store, items, uses)
    finally:
        store.close()


class AuditProcessWriter:
    def __init__(self, store: Store, url: str, *, window: float = 0.02, lag_limit: float = LAG_LIMIT) -> None:
        self._store = store  # the fallback, should the child die
        self._window = window
        self._lock = threading.Lock()  # guards _items, _uses
        self._items: list[Pending] = []
        self._uses: dict[str, tuple[datetime, str, str]] = {}
        self._pipe_lock = threading.Lock()  # one sender at a time on the pipe
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_child, args=(url, child_conn, lag_limit), name="iamd-audit", daemon=True
        )
        self._process.start()
        child_conn.close()
        self._flushes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iamd-audit-sender", daemon=True)
        self._thread.start()

    def submit(self, event: Pending) -> None:
        with self._lock:
            self._items.append(event)

    def key_used(self, key_id: str, when: datetime, service: str, region: str) -> None:
        with self._lock:
            self._uses[key_id] = (when, service, region)

    def _take(self) -> tuple[list[Pending], dict[str, tuple[datetime, str, str]]]:
        with self._lock:
            items, self._items = self._items, []
            uses, self._uses = self._uses, {}
        return items, uses

    def _send(self) -> None:
        """Ship what is queued (functions are run here: their results are plain events)."""
        with self._pipe_lock:
            items, uses = self._take()
            if not items and not uses:
                return
            shipped: list[Any] = []
            for item in items:
                if callable(item) and not isinstance(item, AuditEvent):
                    try:
                        item = item()
                    except Exception:
                        log.exception("could not build an audit event")
                        continue
                shipped.append(item)
            if self._process.is_alive():
                try:
                    self._conn.send(("events", (shipped, uses, time.monotonic())))
                    return
                except (OSError, ValueError):
                    log.exception("the audit writer process is gone; writing in this process")
            store_batch(self._store, shipped, uses)

    def _run(self) -> None:
        while not self._stop.wait(self._window):
            try:
                self._send()
            except Exception:
                log.exception("the audit sender failed")

    def flush(self, timeout: float = 10.0) -> None:
        """Return once everything submitted before the call is stored (or ``timeout`` passed)."""
        self._send()
        with self._pipe_lock:
            if not self._process.is_alive():
                return
            self._flushes += 1
            token = self._flushes
            try:
                self._conn.send(("flush", token))
                while self._conn.poll(timeout):
                    kind, got = self._conn.recv()
                    if kind == "flushed" and got == token:
                        return
            except (OSError, EOFError):
                log.exception("the audit writer process is gone")
                return
        log.error("audit flush timed out after %s s", timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()
        with self._pipe_lock:
            if self._process.is_alive():
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
            self._conn.close()
