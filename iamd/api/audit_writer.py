"""Writes audit events of read-only and failed calls in batches, off the request path.

Events of successful writes go in the same transaction as the change (the pipeline does
that); everything else is queued here and flushed every ``interval`` seconds or when
``batch`` events are waiting. :meth:`close` flushes what is left: none is lost on a clean
shutdown. Access-key last-used times ride along, coalesced per key.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime

from iamd.store import AuditEvent, Store

__all__ = ["AuditWriter"]

log = logging.getLogger("iamd.audit")


class AuditWriter:
    def __init__(self, store: Store, *, interval: float = 0.2, batch: int = 500) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[AuditEvent | None] = queue.SimpleQueue()
        self._key_use: dict[str, tuple[datetime, str, str]] = {}
        self._lock = threading.Lock()
        self._interval = interval
        self._batch = batch
        self._thread = threading.Thread(target=self._run, name="iamd-audit", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, event: AuditEvent) -> None:
        self._queue.put(event)

    def key_used(self, key_id: str, when: datetime, service: str, region: str) -> None:
        with self._lock:
            self._key_use[key_id] = (when, service, region)

    def flush(self) -> None:
        """Write everything queued so far (used by tests and at shutdown)."""
        events: list[AuditEvent] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                events.append(item)
        self._write(events)

    def _write(self, events: list[AuditEvent]) -> None:
        with self._lock:
            uses, self._key_use = self._key_use, {}
        for event in events:
            try:
                self._store.append_audit_event(event)
            except Exception:  # the audit trail must not take the service down; say so loudly
                log.exception("could not store audit event %s", event.event_id)
        for key_id, (when, service, region) in uses.items():
            try:
                self._store.record_access_key_use(key_id, when, service, region)
            except Exception:
                log.exception("could not record the use of access key %s", key_id)

    def _run(self) -> None:
        while not self._closed:
            events: list[AuditEvent] = []
            try:
                item = self._queue.get(timeout=self._interval)
                if item is None:
                    break
                events.append(item)
                while len(events) < self._batch:
                    nxt = self._queue.get_nowait()
                    if nxt is None:
                        self._closed = True
                        break
                    events.append(nxt)
            except queue.Empty:
                pass
            self._write(events)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self.flush()
