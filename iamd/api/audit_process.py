"""The audit writer in its own process: read events leave the server's core and its GIL.

Same contract as :class:`iamd.api.audit_writer.AuditWriter` (``submit``, ``key_used``,
``flush``, ``close``): events of successful writes stay in the write's own transaction (the
pipeline does that); everything else is queued here. The request path appends the queued
item to a list (no work, no system call); every ``window`` seconds the list is shipped to a
child process over a pipe, as one numbered batch: by a timer of ``iamd serve``'s event loop once
the app's lifespan has attached it (:meth:`AuditProcessWriter.attach`), else by a small sender
thread (which, attached, only watches the loop and the child). The child turns
records into CloudTrail JSON, stores each batch in one transaction, with access-key
last-used times, through its own connection to the same database, and acknowledges it.
The server keeps every batch until it is acknowledged.

Flow: a batch holds at most :data:`MESSAGE_EVENTS` events (a long queue goes as several), and
the sender writes to the pipe only what its buffer holds besides the batches not yet
acknowledged (:func:`_pipe_budget`); the rest waits in the server, in order. So no batch's
encoding holds the GIL long, no transaction of the child is long, and the sender is never
stuck in a write to a full pipe: it goes on watching the lag. A batch carries when its oldest
event was queued (the sender's take before), and the lag limit counts from then.

Visibility: :meth:`flush` returns once every item submitted before the call is stored.
:meth:`close` (the server's shutdown) lets the child store everything shipped, waiting up
to ``drain_timeout`` seconds (:data:`DRAIN_TIMEOUT`) with the child at normal priority; a
child that has not finished by then is stopped and the server stores what it had not
acknowledged itself, with a warning that counts them. A child that dies is replaced the
same way: its unacknowledged batches, and later items, are stored in the server process.
An event is never stored twice (its id is unique; a batch stored again skips the ids
already there). The child ignores SIGINT and SIGTERM: a Ctrl-C in a terminal or a service
manager's stop reaches every process of the group, and the server, not the signal, ends
the child once it has drained (docs/architecture.md, "Audit trail"). ``iamd serve`` uses this
writer for a file or PostgreSQL database; tests and in-memory databases use the thread writer.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import marshal
import multiprocessing
import os
import signal
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from iamd.api.audit_writer import KeyUses, Pending, build_events, kept, store_batch, wire
from iamd.audit import CheckEvents
from iamd.audit_budget import AuditBudget, ReadSampling, Retention
from iamd.store import Store

__all__ = ["AuditProcessWriter"]

log = logging.getLogger("iamd.audit")


LAG_LIMIT = 1.0  # seconds a batch may wait for an idle CPU before the writer stops yielding
DRAIN_TIMEOUT = 60.0
"""Seconds :meth:`AuditProcessWriter.close` waits for the child to store what it was sent.

Generous: at normal priority a backlog of thousands of events takes well under a second; a
child still busy after a minute is stuck (a database lock held elsewhere, a stopped
process), and the server stores the rest itself. Below systemd's default stop timeout
(90 s), so that a service manager's stop does not kill the server first.
"""
_POLL = 0.1  # seconds between checks while waiting for the child
WATCHDOG = 0.25
"""Seconds between the sender thread's checks once the event loop ships (:meth:`AuditProcessWriter.attach`):
it ships itself only if the loop has not for that long, and stores in the server if the child died."""
MESSAGE_EVENTS = 256  # events a batch holds at most (an authorization's checks count one each)
PIPE_BYTES = 4 << 20  # the pipe's buffer asked for (Linux caps it at net.core.wmem_max)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PICKLED = 0x80  # the first byte of a pickle (protocol 2 and later); never a marshalled tuple's


def encode(message: tuple[Any, ...]) -> bytes:
    """A batch's message as it goes down the pipe: ``marshal`` when it can (a batch of plain tuples
    of text, numbers and ``None``, as :func:`~iamd.api.audit_writer.wire` makes them; about a third
    cheaper than pickling them, both ways), else pickled as :meth:`Connection.send` pickles.

    Only exact built-in types marshal (a subclass of ``str`` or ``dict``, a ``datetime`` raise
    ``ValueError`` and the message is pickled: every object arrives as the type it was); objects a
    batch shares arrive shared, as pickling keeps them. Both ends are the same interpreter and
    the pipe is private to the server and its child. The key uses' times travel as whole
    microseconds since the epoch when they are in UTC (:func:`_uses_wire`)."""
    seq, items, uses, shipped_at = message
    wired = _uses_wire(uses)
    if wired is not None:
        try:
            return marshal.dumps((seq, items, wired, shipped_at))
        except ValueError:  # an object marshal does not know: the whole message pickled
            pass
    return bytes(ForkingPickler.dumps(message))


def decode(data: bytes) -> Any:
    """What :func:`encode` made (or :meth:`Connection.send` sent: the ``None`` that ends the child)."""
    if data[0] == _PICKLED:
        return ForkingPickler.loads(data)
    seq, items, wired, shipped_at = marshal.loads(data)
    uses = {key: (_EPOCH + when * _MICROSECOND, service, region) for key, (when, service, region) in wired.items()}
    return seq, items, uses, shipped_at


def _uses_wire(uses: dict[str, tuple[datetime, str, str]]) -> dict[str, tuple[int, str, str]] | None:
    """The key uses with their times as whole microseconds since the epoch; None if one is not in UTC."""
    out: dict[str, tuple[int, str, str]] = {}
    for key, (when, service, region) in uses.items():
        if type(when) is not datetime or when.tzinfo is not UTC:
            return None
        out[key] = ((when - _EPOCH) // _MICROSECOND, service, region)
    return out


def _pipe_budget(conn: Connection) -> int:
    """Bytes of batches the sender may have in the pipe unacknowledged: half the socket's send
    buffer (:data:`PIPE_BYTES` asked for; the buffer counts the kernel's bookkeeping too: a
    default one of 208 KiB held 166 KiB of batches), so that a write never waits for the child."""
    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPE_BYTES)
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)) // 2
    except OSError:  # not a socket (another platform's pipe)
        return 1 << 16


def _events(item: Pending) -> int:
    return len(item.checks) if type(item) is CheckEvents else 1  # an authorization's checks count one each


def _first(items: list[Pending], events: int) -> int:
    """How many of ``items``, from the first, hold at most ``events`` events (at least one item)."""
    size = 0
    for n, item in enumerate(items):
        size += _events(item)
        if size > events:
            return max(n, 1)
    return len(items)


def _chunks(items: list[Pending]) -> list[list[Pending]]:
    """``items`` in order, in lists of at most :data:`MESSAGE_EVENTS` events (an item of more, alone)."""
    out: list[list[Pending]] = []
    chunk: list[Pending] = []
    size = 0
    for item in items:
        count = _events(item)
        if chunk and size + count > MESSAGE_EVENTS:
            out.append(chunk)
            chunk, size = [], 0
        chunk.append(item)
        size += count
    out.append(chunk)
    return out


def _can_leave_idle() -> bool:
    """Whether this process may go back from ``SCHED_IDLE`` to normal priority.

    Linux lets a process leave ``SCHED_IDLE`` only with ``CAP_SYS_NICE`` or a large enough
    ``RLIMIT_NICE``; an ordinary user has neither by default, and a writer that went
    idle-only would then stay so for good, however far behind. The scheduler policy is
    per thread: a short-lived thread tries the round trip, the process itself is untouched.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):
            result.append(False)
        else:
            result.append(True)

    thread = threading.Thread(target=probe, name="iamd-audit-probe")
    thread.start()
    thread.join()
    return result == [True]


def _set_policy(pid: int, *, idle: bool) -> bool:
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE if idle else os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, not permitted, or the process is gone
        return False
    return True


class _Priority:
    """The writer's CPU priority: idle-only while it keeps up, normal once it falls behind.

    Read events are stored in batches, so nothing waits on the writer but the trail's
    freshness. As a ``SCHED_IDLE`` process it runs only on a CPU nobody else wants: a batch
    never delays a request or, on a small machine, the client of one (with the writer at
    normal priority, wrk at one connection saw a p99 of 3.5 ms instead of 1.2 ms on 2 vCPUs).
    A machine busy for good would starve it, so a batch that waited more than
    ``lag_limit`` seconds (:data:`LAG_LIMIT` unless the writer was given another) switches it
    back to normal priority until it has caught up; with a limit of 0 it never runs idle-only.
    The server raises it too, when a batch stays unacknowledged that long and while it shuts
    down (an idle-only child may not get the CPU even to notice that it is late).

    It never holds a database lock idle-only: :meth:`storing` runs the batch's transaction
    at normal priority. Otherwise a starved writer holding, say, an access key's row (its
    last-used time) or SQLite's write lock would stall every writer of that database — the
    server's own writes and the other processes' audit writers — for as long as the machine
    stays busy. Where the policy cannot be changed back (see :func:`_can_leave_idle`) the
    writer never runs idle-only.
    """

    def __init__(self, lag_limit: float = LAG_LIMIT) -> None:
        self.lag_limit = lag_limit
        self.idle = False
        if lag_limit > 0 and _can_leave_idle():
            self._set(idle=True)

    def _set(self, *, idle: bool) -> None:
        if _set_policy(0, idle=idle):
            self.idle = idle

    def batch_waited(self, seconds: float) -> None:
        if self.idle and seconds > self.lag_limit:
            log.warning("audit writer %.1f s behind: storing at normal priority until it catches up", seconds)
            self._set(idle=False)
        elif not self.idle and self.lag_limit > 0 and seconds < self.lag_limit / 10:
            self._set(idle=True)

    @contextlib.contextmanager
    def storing(self) -> Iterator[None]:
        """Normal priority for the block (a batch's transaction), then idle-only again if it was."""
        idle = self.idle
        if idle:
            _set_policy(0, idle=False)
        try:
            yield
        finally:
            if idle and self.idle:
                _set_policy(0, idle=True)


def _child(url: str, conn: Connection, lag_limit: float = LAG_LIMIT, budget: AuditBudget | None = None) -> None:
    """The writer process: store each batch that arrives and acknowledge it; stop on ``None``.

    On end of file (the server is gone without saying goodbye) it has stored every batch
    sent before, and stops.
    """
    # The server ends this process once it has drained; a signal to the whole process group
    # (Ctrl-C, a service manager's stop) must not end it with batches still unstored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from iamd.store import open_store

    priority = _Priority(lag_limit)
    store = open_store(url)
    retention = Retention(store, budget) if budget is not None and budget.retains else None
    written = KeyUses()  # the key uses this writer wrote: a key's at most once a minute
    try:
        while True:
            if retention is not None and not conn.poll(Retention.IDLE_RECHECK / 10):
                with priority.storing():  # a delete transaction, like a batch's: at normal priority
                    retention.run()
                continue
            try:
                message = decode(conn.recv_bytes())
            except EOFError:  # the server process is gone without saying goodbye
                log.warning("the iamd server process went away; the audit writer stops")
                return
            if message is None:
                return
            seq, items, uses, queued_at = message
            priority.batch_waited(time.monotonic() - queued_at)
            events = build_events(items)  # CPU work, at the current priority
            with priority.storing():
                store_batch(store, events, uses, written=written)
                if retention is not None:
                    retention.run()
            with contextlib.suppress(OSError):  # the server may be gone: go on storing until EOF
                conn.send(seq)
    finally:
        store.close()


@contextlib.contextmanager
def _group_signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while the child is started, so that it ignores them from
    the start (an ignored signal stays ignored across exec, and Python then installs no
    handler of its own): one that reaches it while it still imports would end it too.
    Signal handlers can be changed only in the main thread; elsewhere the child sets them
    itself, first thing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


_open: weakref.WeakSet[AuditProcessWriter] = weakref.WeakSet()
_exit_hook = threading.Lock()
_registered: list[bool] = []


def _close_at_exit(writer: AuditProcessWriter) -> None:
    """Close ``writer`` at interpreter exit if nothing did before (an exit without a lifespan).

    Registered after multiprocessing's own exit handler, so it runs first: that handler
    terminates daemon children with SIGTERM, which the child ignores, and then waits for
    them; closing the writer first drains the child and ends it through the pipe.
    """
    with _exit_hook:
        if not _registered:
            atexit.register(_close_all)
            _registered.append(True)
        _open.add(writer)


def _close_all() -> None:
    for writer in list(_open):
        writer.close()


_Batch = tuple[float, int, bytes | tuple[Any, ...]]
"""A batch not yet acknowledged: since when its events were queued, how many items it has, and
its message as it went down the pipe (:func:`encode`; the message itself if it could not be
encoded). Kept encoded, a backlog behind a lagging child is bytes, which the cyclic garbage
collector does not track: as tuples it made the server's young generation grow with it, and a
collection on the event loop's thread then scanned it all (bench/README.md, "Session 15: where
the single check's tail comes from")."""


class AuditProcessWriter:
    def __init__(
        self, store: Store, url: str, *, window: float = 0.02, lag_limit: float = LAG_LIMIT,
        drain_timeout: float = DRAIN_TIMEOUT, budget: AuditBudget | None = None,
    ) -> None:  # fmt: skip
        self._store = store  # the fallback, should the child die or not finish in time
        self._sampling = ReadSampling(budget.reads) if budget is not None and budget.reads != 1 else None
        self._window = window
        self._lag_limit = lag_limit
        self._drain_timeout = drain_timeout
        self._lock = threading.Lock()  # guards _items, _uses
        self._items: list[Pending] = []
        self._uses: dict[str, tuple[datetime, str, str]] = {}
        self._pipe_lock = threading.RLock()  # one thread at a time on the pipe; guards the five below
        self._seq = 0
        self._unacked: dict[int, _Batch] = {}  # taken, not yet acknowledged as stored (in order)
        self._unsent: deque[tuple[int, bytes]] = deque()  # of those, the ones waiting for room in the pipe
        self._in_pipe: dict[int, int] = {}  # of those, the ones sent: their bytes
        self._taken = time.monotonic()  # when the sender last took the queue
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._budget = _pipe_budget(self._conn)
        self._process = context.Process(
            target=_child, args=(url, child_conn, lag_limit, budget), name="iamd-audit", daemon=True
        )
        with _group_signals_ignored():  # inherited: the child ignores them from its first instruction
            self._process.start()
        child_conn.close()
        _close_at_exit(self)
        self._loop: asyncio.AbstractEventLoop | None = None  # the event loop that ships, once attached
        self._tick_handle: asyncio.TimerHandle | None = None
        self._ticked = 0.0  # when the loop last ran a cycle (time.monotonic)
        self._reading = False  # the loop reads the child's acknowledgements as they come (batches wait)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iamd-audit-sender", daemon=True)
        self._thread.start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Ship from ``loop``'s thread from now on (``iamd serve``'s event loop, at the lifespan's start).

        The loop answers most requests and holds the GIL most of the time: a sender thread woken
        every ``window`` took the GIL from it at each system call of its cycle (polls, ``waitpid``,
        the pipe's write), and each hand-over stalled the loop (bench/README.md, "Session 16: the
        audit sender on the event loop"). Here a timer of the loop runs the same cycle, without
        the thread: a few microseconds per queued call, once per window. The thread stays as a
        watchdog, woken every :data:`WATCHDOG` seconds: it ships if the loop has not (a loop
        stalled or stopped) and stores in the server what a dead child left, so that the loop
        never does database work. Call on the loop's thread."""
        if self._conn.closed or self._loop is not None:
            return
        self._loop = loop
        self._ticked = time.monotonic()
        self._tick_handle = loop.call_later(self._window, self._tick)

    def _tick(self) -> None:
        """One sender cycle on the loop, then the next one a window later (see :meth:`attach`). A
        cycle that another thread runs (``flush``, the watchdog) is skipped, never waited for."""
        assert self._loop is not None
        if self._conn.closed:  # closed from another thread (at exit): nothing more to ship
            return
        self._ticked = time.monotonic()
        self._turn()
        self._tick_handle = self._loop.call_later(self._window, self._tick)

    def _turn(self) -> None:
        """The cycle on the loop, in bounded slices: one batch of the queue (:data:`MESSAGE_EVENTS`
        events at most) per turn of the loop, the rest at the next turn, so that the requests'
        callbacks run in between (bench/README.md, "Session 16: the audit sender on the event loop")."""
        assert self._loop is not None
        if self._conn.closed or not self._process.is_alive() or not self._pipe_lock.acquire(blocking=False):
            return  # the next tick goes on
        left = False
        try:
            self._collect()
            left = self._ship(MESSAGE_EVENTS)
            self._urge_if_late()
            self._await_acknowledgements()
        except Exception:
            log.exception("the audit sender failed")
        finally:
            self._pipe_lock.release()
        if left:
            self._loop.call_soon(self._turn)

    def _await_acknowledgements(self) -> None:
        """While batches wait for room in the pipe, the loop reads the child's acknowledgements as
        they come and writes what they make room for (as the thread waits on the pipe meanwhile)."""
        assert self._loop is not None
        if self._unsent and not self._reading:
            self._loop.add_reader(self._conn.fileno(), self._acknowledged)
            self._reading = True
        elif not self._unsent and self._reading:
            self._loop.remove_reader(self._conn.fileno())
            self._reading = False

    def _acknowledged(self) -> None:
        # A dead child's pipe reads as its end for good: the watchdog takes over, the loop stops
        # reading. Another thread on the pipe (flush, the watchdog) reads them: the next tick goes on.
        if not self._process.is_alive() or not self._pipe_lock.acquire(blocking=False):
            assert self._loop is not None
            self._loop.remove_reader(self._conn.fileno())
            self._reading = False
            return
        try:
            self._collect()
            self._send_unsent()
            self._await_acknowledgements()
        except Exception:
            log.exception("the audit sender failed")
        finally:
            self._pipe_lock.release()

    def submit(self, event: Pending) -> None:
        if self._sampling is not None:
            sampled = kept(self._sampling, event)
            if sampled is None:
                return
            event = sampled
        with self._lock:
            self._items.append(event)

    def key_used(self, key_id: str, when: datetime, service: str, region: str) -> None:
        with self._lock:
            self._uses[key_id] = (when, service, region)

    def _take(self, events: int | None = None) -> tuple[list[Pending], dict[str, tuple[datetime, str, str]], bool]:
        """What is queued (or its first items of at most ``events`` events), and whether any is left."""
        with self._lock:
            if events is None:
                items, self._items = self._items, []
            else:
                n = _first(self._items, events)
                items = self._items[:n]
                del self._items[:n]
            uses, self._uses = self._uses, {}
            left = bool(self._items)
        return items, uses, left

    def _send(self) -> None:
        """Ship what is queued (functions are run here: their results are plain events)."""
        with self._pipe_lock:
            self._ship()

    def _ship(self, events: int | None = None) -> bool:
        """Ship what is queued, or (``events``) its first batch; whether any is left queued."""
        items, uses, left = self._take(events)
        since = self._taken  # what was queued came after the last whole take
        if not left:
            self._taken = time.monotonic()
        if items or uses:
            for chunk in _chunks(items):
                shipped = wire(chunk)  # plain tuples, functions run: what pickles cheaply on either side
                self._seq += 1
                message = (self._seq, shipped, uses, since)
                try:
                    data = encode(message)
                except Exception:  # stays unacknowledged: stored by the server if the child goes
                    log.exception("could not encode audit events for the writer process")
                    self._unacked[self._seq] = (since, len(shipped), message)
                else:
                    self._unacked[self._seq] = (since, len(shipped), data)
                    self._unsent.append((self._seq, data))
                uses = {}
        self._send_unsent()
        return left

    def _send_unsent(self) -> None:
        """Write the batches waiting, in order, while the pipe has room for them (see :func:`_pipe_budget`)."""
        while self._unsent and self._process.is_alive():
            seq, data = self._unsent[0]
            if self._in_pipe and sum(self._in_pipe.values()) + len(data) > self._budget:
                return
            self._unsent.popleft()
            self._in_pipe[seq] = len(data)
            try:
                self._conn.send_bytes(data)
            except (OSError, ValueError):
                log.exception("could not ship audit events to the writer process")

    def _collect(self, wait: float = 0.0) -> None:
        """Take the child's acknowledgements (waiting up to ``wait`` seconds for the first)."""
        try:
            while self._conn.poll(wait):
                seq = self._conn.recv()
                self._unacked.pop(seq, None)
                self._in_pipe.pop(seq, None)
                wait = 0.0
        except (OSError, EOFError):  # the child is gone: what it did not acknowledge stays
            if wait:
                time.sleep(wait)

    def _watch(self) -> None:
        """Raise a child that lets a batch wait too long; store in this process if it died."""
        if not self._unacked:
            return
        if not self._process.is_alive():
            self._collect()
            self._take_over(f"the audit writer process ended (exit code {self._process.exitcode})")
            return
        self._urge_if_late()

    def _urge_if_late(self) -> None:
        if self._unacked and time.monotonic() - next(iter(self._unacked.values()))[0] > self._lag_limit:
            self._urge()

    def _take_over(self, reason: str) -> None:
        """Store every unacknowledged batch in this process (the child is gone or stopped)."""
        if not self._unacked:
            return
        count = sum(items for _, items, _ in self._unacked.values())
        log.warning("%s: storing its %d unstored audit events in the server process", reason, count)
        batches, self._unacked = list(self._unacked.values()), {}
        self._unsent.clear()
        self._in_pipe.clear()
        for _, _, message in batches:  # the child may have stored a batch without acknowledging it
            _, items, uses, _ = decode(message) if isinstance(message, bytes) else message
            store_batch(self._store, items, uses, skip_stored=True)

    def _cycle(self) -> None:
        with self._pipe_lock:
            self._collect()
            self._send()
            self._watch()
            if not self._process.is_alive():
                self._take_over("the audit writer process is gone")

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._loop is None:
                if self._unsent:  # batches wait for room in the pipe: the child's acknowledgement makes some
                    with contextlib.suppress(OSError, EOFError):
                        self._conn.poll(self._window)
                elif self._stop.wait(self._window):
                    return
            elif self._stop.wait(WATCHDOG):
                return
            if self._loop is not None and time.monotonic() - self._ticked < WATCHDOG and self._process.is_alive():
                continue  # the loop ships (attach) and the child lives: this thread only watches
            try:
                self._cycle()
            except Exception:
                log.exception("the audit sender failed")

    def _wait(self, target: int, deadline: float, *, urge: bool) -> bool:
        """Wait until every batch up to ``target`` is acknowledged; False if ``deadline`` passed."""
        while any(seq <= target for seq in self._unacked):
            if not self._process.is_alive():
                self._collect()
                self._take_over(f"the audit writer process ended (exit code {self._process.exitcode})")
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if urge:
                self._urge()
            else:
                self._watch()
            self._collect(min(_POLL, remaining))
            self._send_unsent()
        return True

    def flush(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Return once everything submitted before the call is stored (or ``timeout`` passed).

        The child is not hurried (it is, by the lag limit); the default timeout is the
        shutdown's, as generous: on a busy machine a child may take many seconds to start.
        """
        deadline = time.monotonic() + timeout
        with self._pipe_lock:
            self._collect()
            self._send()
            if not self._wait(self._seq, deadline, urge=False):
                log.error("audit flush timed out after %s s", timeout)

    def close(self) -> None:
        """Store everything submitted, then stop the child (see :data:`DRAIN_TIMEOUT`).

        The child runs at normal priority from here on (re-applied while waiting: the child
        may switch itself back between batches). If it has not stored everything by the
        deadline it is killed, and the server stores what it had not acknowledged.
        """
        if self._conn.closed:
            return
        if self._tick_handle is not None:  # on the loop's thread (the lifespan's end): no cycle after this
            self._tick_handle.cancel()
            if self._reading and self._loop is not None:
                self._loop.remove_reader(self._conn.fileno())
        _open.discard(self)
        deadline = time.monotonic() + self._drain_timeout
        self._stop.set()
        while self._thread.is_alive() and time.monotonic() < deadline:  # it may be blocked on a full pipe
            self._urge()
            self._thread.join(timeout=_POLL)
        locked = self._pipe_lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        try:
            if locked:
                self._collect()
                self._send()
                drained = self._wait(self._seq, deadline, urge=True)
                if drained and self._process.is_alive():
                    with contextlib.suppress(OSError):
                        self._conn.send(None)
                    self._process.join(timeout=max(_POLL, deadline - time.monotonic()))
            killed = self._process.is_alive()
            if killed:
                self._process.kill()
                self._process.join()
        finally:
            if locked:
                self._pipe_lock.release()
        with self._pipe_lock:  # a sender blocked on the pipe has failed by now (the child is gone)
            self._collect()
            self._send()
            if killed:
                reason = f"the audit writer process did not finish within {self._drain_timeout:g} s"
            else:
                reason = f"the audit writer process ended (exit code {self._process.exitcode})"
            self._take_over(reason)
            self._conn.close()

    def _urge(self) -> None:
        if self._process.pid is not None:
            _set_policy(self._process.pid, idle=False)
