"""Writes audit events of read-only and failed calls in batches, off the request path.

Events of successful writes go in the same transaction as the change (the pipeline does
that); everything else is queued here and flushed every ``interval`` seconds or when
``batch`` events are waiting. :meth:`close` flushes what is left: none is lost on a clean
shutdown. Access-key last-used times ride along, coalesced per key, and are written at most
once a minute per key (:class:`KeyUses`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from iamd.audit import CallEvent as Record
from iamd.audit import CheckEvents, Wire, WireChecks, wire_checks, wire_event
from iamd.audit_budget import AuditBudget, ReadSampling, Retention
from iamd.store import AuditEvent, CompactEvent, Store, compact_audit_event
from iamd.store.audit_codec import WIRE_CHECKS, compact_check_events, compact_wire_checks, compact_wire_event

__all__ = ["KEY_USE_EVERY", "AuditWriter", "KeyUses", "build_events", "store_batch", "wire"]

log = logging.getLogger("iamd.audit")

Stored = AuditEvent | CompactEvent
Pending = Stored | Record | CheckEvents | Callable[[], AuditEvent]
Shipped = Stored | Wire | WireChecks | CheckEvents  # what the writer process is sent (:func:`wire`)


def wire(items: Sequence[Pending]) -> list[Shipped]:
    """``items`` as the writer process is sent them: a record or an authorization's checks as a plain tuple
    (:func:`iamd.audit.wire_event`, :func:`iamd.audit.wire_checks`),
    a function run here (its result is a plain event), the rest as they are; an item that cannot be
    made so is logged and left out. What the sender thread does per batch, in the server process."""
    out: list[Shipped] = []
    for item in items:
        try:
            if type(item) is Record:
                out.append(wire_event(item))
            elif type(item) is CheckEvents:
                out.append(wire_checks(item))
            elif isinstance(item, AuditEvent | CompactEvent | CheckEvents):
                out.append(item)
            elif isinstance(item, Record):
                out.append(wire_event(item))
            else:
                out.append(item())
        except Exception:
            log.exception("could not build an audit event")
    return out


def build_events(items: Sequence[Pending | Shipped]) -> list[Stored]:
    """The stored events of ``items``: as they are, from a record or its wire tuple (their compact
    form), one per check of an authorization, or from a function; an item that cannot be built is
    logged and skipped."""
    events: list[Stored] = []
    memo: dict[object, object] = {}  # what the batch's events share (the callers' identities, decisions)
    for item in items:
        try:
            if type(item) is tuple:  # a wire tuple (a CompactEvent is a tuple of its own type)
                if len(item) == WIRE_CHECKS:  # an authorization's checks (iamd.audit.wire_checks)
                    events += compact_wire_checks(item, memo)
                else:
                    events.append(compact_wire_event(item, memo))
            elif type(item) is CompactEvent:  # built already (the writer process builds, then stores)
                events.append(item)
            elif isinstance(item, Record):
                events.append(compact_audit_event(item, memo))
            elif isinstance(item, AuditEvent | CompactEvent):
                events.append(item)
            elif isinstance(item, CheckEvents):
                events += compact_check_events(item, memo)
            elif callable(item):
                events.append(item())
            else:
                raise TypeError(f"not an audit event: {type(item).__name__}")
        except Exception:
            log.exception("could not build an audit event")
    return events


KEY_USE_EVERY = timedelta(minutes=1)  # how often a key's last use is written at most (as a role's)


class KeyUses:
    """What a writer last wrote of each access key's use, so that a key's use is written at most
    once a minute (:data:`KEY_USE_EVERY`) unless its service or region changes, as a role's last
    use is (``Backend.record_role_use``). A caller's every request otherwise cost the writer one
    database update (at 100,000 callers, each request another key's: 70 to 110 µs of the
    writer's CPU per request). AWS documents no granularity for GetAccessKeyLastUsed; a minute
    is finer than any caller can tell from its answers. Bounded: emptied past ``limit`` keys."""

    __slots__ = ("_limit", "_written")

    def __init__(self, limit: int = 200_000) -> None:
        self._written: dict[str, tuple[datetime, str, str]] = {}
        self._limit = limit

    def due(self, uses: Mapping[str, tuple[datetime, str, str]]) -> dict[str, tuple[datetime, str, str]]:
        """The uses of ``uses`` to write: a key's first, one a minute or more after the one
        written, one of another service or region (or earlier than the one written)."""
        written = self._written
        due = {}
        for key_id, use in uses.items():
            last = written.get(key_id)
            if (
                last is None
                or last[1] != use[1]
                or last[2] != use[2]
                or not timedelta(0) <= use[0] - last[0] < KEY_USE_EVERY
            ):
                due[key_id] = use
        return due

    def wrote(self, uses: Mapping[str, tuple[datetime, str, str]]) -> None:
        if len(self._written) + len(uses) > self._limit:
            self._written.clear()
        self._written.update(uses)


def store_batch(
    store: Store,
    items: Sequence[Pending | Shipped],
    uses: Mapping[str, tuple[datetime, str, str]],
    *,
    skip_stored: bool = False,
    written: KeyUses | None = None,
) -> None:
    """Build and store ``items`` in one transaction, then the access-key uses; never raises.

    The audit trail must not take the service down: an item that cannot be built is logged
    and skipped; if the batch's transaction fails, each event is stored on its own so that
    only the one that fails is lost (logged). Shared by the thread writer, the writer
    process and that process's fallback in the server. ``skip_stored``: events already in
    the trail (same id) are skipped, for a batch that may have been stored once already.
    ``written``: the writer's record of the key uses it wrote; only those due are written.
    """
    events = build_events(items)
    try:
        store.append_audit_events(events, skip_stored=skip_stored)  # one transaction per batch
    except Exception:
        for event in events:  # isolate the event that fails, keep the others
            try:
                if isinstance(event, AuditEvent) and not skip_stored:
                    store.append_audit_event(event)
                else:
                    store.append_audit_events([event], skip_stored=skip_stored)
            except Exception:
                log.exception("could not store audit event %s", event.event_id)
    if written is not None:
        uses = written.due(uses)
    if not uses:
        return
    try:
        store.record_access_key_uses(uses)  # one transaction for the batch's keys
    except Exception:
        for key_id, (when, service, region) in uses.items():  # one at a time: only the one that fails is lost
            try:
                store.record_access_key_use(key_id, when, service, region)
            except Exception:
                log.exception("could not record the use of access key %s", key_id)
                continue
            if written is not None:
                written.wrote({key_id: (when, service, region)})
        return
    if written is not None:
        written.wrote(uses)


def kept(sampling: ReadSampling, item: Pending) -> Pending | None:
    """What the read policy keeps of ``item`` (None: nothing): only a successful read's event may
    be left out; of an authorization's checks, those of successful reads each by the policy."""
    if type(item) is CheckEvents:
        return item.sampled(sampling.keep)
    if type(item) is not Record or item.error_code is not None or not item.read_only:
        return item
    return item if sampling.keep() else None


class AuditWriter:
    def __init__(self, store: Store, *, interval: float = 0.2, batch: int = 500, window: float = 0.05) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._key_use: dict[str, tuple[datetime, str, str]] = {}
        self._written = KeyUses()  # the key uses this writer wrote (written at most once a minute per key)
        self._lock = threading.Lock()  # guards _key_use and _submitted
        self._writing = threading.Lock()  # one writer at a time, from taking key uses to storing them
        self._stored = threading.Condition()  # guards _done; notified after every batch
        self._submitted = 0  # events submitted so far
        self._done = 0  # events stored (or given up on) so far
        self._interval = interval
        self._batch = batch
        self._window = window  # how long a batch gathers after its first event
        self._hurry = threading.Event()  # set by flush(): stop gathering, write now
        self._thread = threading.Thread(target=self._run, name="iamd-audit", daemon=True)
        self._closed = False
        self._sampling: ReadSampling | None = None
        self._retention: Retention | None = None
        self._thread.start()

    def configure(self, budget: AuditBudget) -> None:
        """The trail's budget (iamd.audit_budget): which reads are kept, retention between batches."""
        self._sampling = ReadSampling(budget.reads) if budget.reads != 1 else None
        self._retention = Retention(self._store, budget) if budget.retains else None

    def submit(self, event: Pending) -> None:
        """Queue an event, a record (turned into JSON on the writer thread), or a function
        that builds the event (run on the writer thread, off the request path)."""
        if self._sampling is not None:
            sampled = kept(self._sampling, event)
            if sampled is None:
                return
            event = sampled
        with self._lock:
            self._submitted += 1
        self._queue.put(event)

    def key_used(self, key_id: str, when: datetime, service: str, region: str) -> None:
        with self._lock:
            self._key_use[key_id] = (when, service, region)

    def flush(self, timeout: float = 10.0) -> None:
        """Store everything submitted before the call, including what the writer thread holds.

        The writer thread may have taken a batch off the queue and not stored it yet; flush
        waits for it (at most ``timeout`` seconds) rather than return early. Key uses
        recorded before the call are stored too. Used by tests and at shutdown.
        """
        with self._lock:
            target = self._submitted
        self._hurry.set()
        events: list[Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # a close() in progress: the sentinel stays the thread's
                self._queue.put(None)
                break
            events.append(item)
        self._write(events)
        with self._stored:
            self._stored.wait_for(lambda: self._done >= target, timeout=timeout)

    def _write(self, pending: list[Pending]) -> None:
        with self._writing:
            with self._lock:
                uses, self._key_use = self._key_use, {}
            store_batch(self._store, pending, uses, written=self._written)
        with self._stored:
            self._done += len(pending)
            self._stored.notify_all()

    def _run(self) -> None:
        while not self._closed:
            events: list[Pending] = []
            try:
                item = self._queue.get(timeout=self._interval)
                if item is None:
                    self._closed = True
                else:
                    events.append(item)
                    # Gather for a short window: one transaction for many events, not one each.
                    # Sleep through it (flush() cuts it short), then take what came: waiting
                    # on the queue instead would wake this thread, and take the GIL from the
                    # request path, once per event.
                    self._hurry.wait(self._window)
                while not self._closed and len(events) < self._batch:
                    nxt = self._queue.get_nowait()
                    if nxt is None:
                        self._closed = True
                        break
                    events.append(nxt)
            except queue.Empty:
                pass
            self._hurry.clear()
            self._write(events)
            if self._retention is not None:
                self._retention.run()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self.flush(timeout=0)
