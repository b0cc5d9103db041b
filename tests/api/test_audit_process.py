"""The audit writer in its own process keeps the thread writer's contract.

Contract (iamd/api/audit_process.py): ``flush`` returns once everything submitted before it
is stored; ``close`` loses nothing; records, ready events and event-building functions are
all accepted; key last-used times ride along. The stand-in for a server here is the real
store on a SQLite file that the child process opens too.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamd.api.audit_process import AuditProcessWriter
from iamd.audit import CallEvent as Record
from iamd.store import Store, audit_event_from_record, migrate, open_store
from tests.fresh_process import run_fresh

ACCOUNT = "123456789012"
WHEN = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def _record(i: int, name: str = "GetUser") -> Record:
    return Record(
        request_id=f"req-{i}", event_time=WHEN, event_source="iam.amazonaws.com", event_name=name,
        aws_region="us-east-1", source_ip="127.0.0.1", user_agent="test",
        user_identity={"type": "Root", "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"},
        account_id=ACCOUNT, request_parameters={"UserName": f"u{i}", "Password": "hunter2"},
    )  # fmt: skip


def _store_with_a_key(tmp_path: Path) -> tuple[str, Store]:
    """A new SQLite store (and its URL) holding the account and a root access key (whose last use
    the events' key uses update)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate.upgrade(url)
    store = open_store(url)
    with store.transaction() as tx:
        tx.create_account(ACCOUNT)
        tx.create_access_key(ACCOUNT, None, "AKIAEXAMPLEROOT00001", b"sealed")
    return url, store


def test_flush_close_and_every_kind_of_item(tmp_path: Path) -> None:
    url, store = _store_with_a_key(tmp_path)
    # only flush() and close() ship; normal priority (no lag allowed), so that a busy machine
    # cannot starve the child past flush's timeout: this test is about the contract, not priority
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0)
    try:
        for i in range(50):
            writer.submit(_record(i))
        writer.submit(audit_event_from_record(_record(50).record(), event_time=WHEN))
        writer.submit(lambda: audit_event_from_record(_record(51, "ListUsers").record(), event_time=WHEN))
        writer.key_used("AKIAEXAMPLEROOT00001", WHEN, "iam", "us-east-1")
        writer.flush()
        with store.read() as tx:
            events = tx.list_audit_events(ACCOUNT, max_items=1000).items
            key = tx.get_access_key("AKIAEXAMPLEROOT00001")
        assert sorted(e.request_id or "" for e in events) == sorted(f"req-{i}" for i in range(52))
        assert key.last_used_date == WHEN
        assert all("hunter2" not in e.record for e in events)  # redacted in the child too
        for i in range(100, 130):
            writer.submit(_record(i))
    finally:
        writer.close()  # a clean shutdown: the last 30 are stored, not lost
    with store.read() as tx:
        events = tx.list_audit_events(ACCOUNT, max_items=1000).items
    assert len(events) == 82
    store.close()


def test_the_writer_runs_only_on_idle_cpu_until_it_falls_behind(tmp_path: Path) -> None:
    """SCHED_IDLE while it keeps up; a batch that waited over the lag limit restores normal priority.

    The test decides when the writer is behind (its lag limit), not the machine's load: a
    writer that may lag forever stays idle-only however busy the CPUs are, one allowed no
    lag at all never yields; the switch itself is checked with lags handed to the policy.
    Linux only (the scheduler policy); the checks run in child processes, whose policy may
    change freely, never in the test process.
    """
    import math
    import multiprocessing
    import os

    import pytest

    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("no SCHED_IDLE on this platform")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate.upgrade(url)
    store = open_store(url)
    try:
        for lag_limit, policy in ((math.inf, os.SCHED_IDLE), (0.0, os.SCHED_OTHER)):
            writer = AuditProcessWriter(store, url, lag_limit=lag_limit)
            try:
                writer.submit(_record(1))
                writer.flush(timeout=120)  # an idle-only child may wait long for a CPU on a busy machine
                assert os.sched_getscheduler(writer._process.pid) == policy, lag_limit  # type: ignore[arg-type]
            finally:
                writer.close()
    finally:
        store.close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        assert pool.apply(_policies_after_lags) == [os.SCHED_IDLE, os.SCHED_IDLE, os.SCHED_OTHER, os.SCHED_IDLE]


def _policies_after_lags() -> list[int]:
    import os

    from iamd.api.audit_process import LAG_LIMIT, _Priority

    priority = _Priority()
    seen = [os.sched_getscheduler(0)]
    for lag in (LAG_LIMIT / 2, LAG_LIMIT * 3, LAG_LIMIT / 20):  # keeping up, behind, caught up
        priority.batch_waited(lag)
        seen.append(os.sched_getscheduler(0))
    return seen


def test_the_writer_holds_database_locks_only_at_normal_priority() -> None:
    """A batch's transaction runs at normal priority, then the writer is idle-only again.

    An idle-only writer preempted inside a transaction would keep its locks (an access key's
    row, SQLite's write lock) for as long as the machine stays busy, and every writer of the
    database would wait on it (docs/architecture.md, "Audit trail").
    """
    import multiprocessing
    import os

    import pytest

    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("no SCHED_IDLE on this platform")
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        before, during, after, can_leave = pool.apply(_policies_around_a_store)
    if not can_leave:  # an unprivileged user: the writer never goes idle-only at all
        assert (before, during, after) == (os.SCHED_OTHER,) * 3
    else:
        assert (before, during, after) == (os.SCHED_IDLE, os.SCHED_OTHER, os.SCHED_IDLE)


def _policies_around_a_store() -> tuple[int, int, int, bool]:
    import os

    from iamd.api.audit_process import _can_leave_idle, _Priority

    can_leave = _can_leave_idle()
    priority = _Priority()
    before = os.sched_getscheduler(0)
    with priority.storing():
        during = os.sched_getscheduler(0)
    return before, during, os.sched_getscheduler(0), can_leave


def test_the_writer_process_does_not_import_the_app() -> None:
    """The child imports `iamd.api.audit_process`: the package's app and pipeline stay out of it
    (they were most of its start-up, beside the server's own), and still resolve when asked."""
    script = (
        "import sys\n"
        "import iamd.api.audit_process\n"
        "print(sorted(m for m in ('iamd.api.app', 'iamd.api.backend', 'iamd.api.pipeline') if m in sys.modules))\n"
        "from iamd.api import Backend, create_app\n"
        "from iamd.api.app import create_app as app_factory\n"
        "from iamd.api.backend import Backend as backend_class\n"
        "assert (Backend, create_app) == (backend_class, app_factory)\n"
    )
    assert run_fresh(script).strip() == "[]"


def test_a_batch_of_plain_tuples_travels_marshalled_and_is_stored_the_same(tmp_path: Path) -> None:
    """The sender marshals a batch of wire tuples (cheaper than pickling, both ends): it reaches the
    child whole, the key's last use to the microsecond, and is stored as before."""
    url, store = _store_with_a_key(tmp_path)
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0)
    sent: list[int] = []
    conn = writer._conn
    send_bytes = conn.send_bytes

    def spy(data: bytes) -> None:
        sent.append(bytes(data)[0])
        send_bytes(data)

    conn.send_bytes = spy  # type: ignore[method-assign]
    used = WHEN.replace(microsecond=123457)
    try:
        for i in range(20):
            writer.submit(_record(i))
        writer.key_used("AKIAEXAMPLEROOT00001", used, "iam", "us-east-1")
        writer.flush()
        with store.read() as tx:
            events = tx.list_audit_events(ACCOUNT, max_items=1000).items
            key = tx.get_access_key("AKIAEXAMPLEROOT00001")
    finally:
        writer.close()
        store.close()
    assert sent and sent[0] != 0x80  # not a pickle
    assert sorted(e.request_id or "" for e in events) == sorted(f"req-{i}" for i in range(20))
    assert all("hunter2" not in e.record for e in events)
    assert key.last_used_date == used


class Name(str):
    """A subclass of ``str``: marshal would not keep it."""


def test_the_pipe_encoding_keeps_types_sharing_and_falls_back_to_pickle() -> None:
    from datetime import timedelta, timezone

    from iamd.api.audit_process import decode, encode

    shared = {"type": "Root", "accountId": ACCOUNT}
    used = datetime(2026, 12, 7, 8, 0, 0, 999999, tzinfo=UTC)
    plain = (
        3,
        [("a", 1, shared, None, 1.5, True), ("b", 2, shared, b"x", (), False)],
        {"AKIA1": (used, "iam", "r")},
        9.25,
    )
    data = encode(plain)
    assert data[0] != 0x80
    got = decode(data)
    assert got == plain
    assert got[1][0][2] is got[1][1][2]  # shared as it was shipped
    assert got[2]["AKIA1"][0].tzinfo is UTC
    odd = [
        (1, [("a", Name("n"))], {}, 0.0),  # a subclass of str arrives as itself
        (1, [("a", used)], {}, 0.0),  # a datetime in an item
        (1, [], {"AKIA1": (used.astimezone(timezone(timedelta(hours=1))), "iam", "r")}, 0.0),  # a time not in UTC
    ]
    for message in odd:
        data = encode(message)
        assert data[0] == 0x80
        back = decode(data)
        assert back == message
        assert [type(x) for item in back[1] for x in item] == [type(x) for item in message[1] for x in item]
        assert {k: v[0].tzinfo for k, v in back[2].items()} == {k: v[0].tzinfo for k, v in message[2].items()}


def _assert_stored(store: Store, count: int) -> None:
    """Every one of ``count`` events made by :func:`_record` is stored, once."""
    with store.read() as tx:
        stored = [e.request_id for e in tx.scan_audit_events(limit=count + 10)]
    assert sorted(stored) == sorted(f"req-{i}" for i in range(count))


def _writer_with_a_small_pipe(tmp_path: Path) -> tuple[AuditProcessWriter, Store, int]:
    """A writer whose pipe takes a batch or two, whatever the system's socket buffers (the rest
    waits in the server), its store and its child's process id."""
    url, store = _store_with_a_key(tmp_path)
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0)
    assert writer._process.pid is not None
    writer._budget = 1 << 16
    return writer, store, writer._process.pid


def test_a_long_queue_goes_in_bounded_batches_and_the_sender_never_waits_on_a_full_pipe(tmp_path: Path) -> None:
    """With the child stopped (as a starved idle-only child is), a queue far larger than the pipe
    is taken at once: it leaves as batches of at most MESSAGE_EVENTS events (no long GIL hold, no
    long transaction), the sender writes only what the pipe holds and returns (it can still watch
    the lag and raise the child), and once the child runs again everything is stored, once."""
    import os
    import signal
    import threading

    from iamd.api.audit_process import MESSAGE_EVENTS

    writer, store, pid = _writer_with_a_small_pipe(tmp_path)
    count = 12 * MESSAGE_EVENTS  # over 1 MB: more than a default socket buffer holds
    try:
        writer.flush()  # the child is up
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(count):
                writer.submit(_record(i))
            sender = threading.Thread(target=writer._send)
            sender.start()
            sender.join(timeout=30)
            stuck = sender.is_alive()
            sizes = [items for _, items, _ in writer._unacked.values()]
        finally:
            os.kill(pid, signal.SIGCONT)
        sender.join()
        assert not stuck
        assert sum(sizes) == count
        assert max(sizes) == MESSAGE_EVENTS
        assert writer._unsent  # what the pipe could not hold waits in the server
        writer.flush()
        _assert_stored(store, count)
    finally:
        writer.close()
        store.close()


def test_a_batch_is_stamped_with_when_its_events_were_queued_not_when_it_was_sent(tmp_path: Path) -> None:
    """The lag limit counts from the queueing: time spent in the server's queue (behind a full pipe,
    or a slow cycle) counts against it, so a starved child is raised in time."""
    import time

    url, store = _store_with_a_key(tmp_path)
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0)
    try:
        queued = time.monotonic()
        writer.submit(_record(1))
        time.sleep(0.3)
        with writer._pipe_lock:
            writer._send()
            stamps = [since for since, _, _ in writer._unacked.values()]
        assert stamps and all(since <= queued for since in stamps)
    finally:
        writer.close()
        store.close()


def test_a_backlog_waiting_for_the_child_is_held_encoded_not_as_objects_the_collector_scans(tmp_path: Path) -> None:
    """Behind a stopped (starved) child the server keeps every unacknowledged batch until it is
    stored: as the bytes that went down the pipe, which the cyclic garbage collector does not
    track. Kept as tuples, a backlog of thousands of events grew the server's young generation
    until a collection on the event loop's thread scanned it all (tens of milliseconds). If the
    child dies, the server still stores the batches itself, decoded, once each."""
    import gc
    import os
    import signal

    from iamd.api.audit_process import MESSAGE_EVENTS

    writer, store, pid = _writer_with_a_small_pipe(tmp_path)
    count = 8 * MESSAGE_EVENTS
    records = [_record(i) for i in range(count)]
    try:
        writer.flush()  # the child is up
        os.kill(pid, signal.SIGSTOP)
        gc.collect()
        before = len(gc.get_objects())
        for record in records:
            writer.submit(record)
        with writer._pipe_lock:
            writer._send()
        held = len(gc.get_objects()) - before
        assert held < count // 10  # was about one tuple per event, and what it kept alive
        assert sum(items for _, items, _ in writer._unacked.values()) == count
        os.kill(pid, signal.SIGKILL)  # the child dies with the backlog unstored
        writer._process.join(timeout=30)
        with writer._pipe_lock:
            writer._cycle()  # the sender's next cycle stores what the child did not acknowledge
        _assert_stored(store, count)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        writer.close()
        store.close()


def _shipping_threads(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The idents of the threads that encode a batch to ship from here on (filled as they do)."""
    import threading

    import iamd.api.audit_process as audit_process

    shippers: set[int] = set()
    real_encode = audit_process.encode

    def encode(message: tuple[object, ...]) -> bytes:
        shippers.add(threading.get_ident())
        return real_encode(message)

    monkeypatch.setattr(audit_process, "encode", encode)
    return shippers


def test_under_iamd_serve_the_event_loop_ships_the_batches_and_the_sender_thread_only_watches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's lifespan attaches the writer to the event loop: from then on the loop's timer
    ships every batch (no sender thread taking the GIL from the loop at each of its system calls),
    and the lifespan's end stores everything, as before."""
    import asyncio
    import threading

    from iamd.api import Backend, create_app

    shippers = _shipping_threads(monkeypatch)
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    backend, _ = Backend.open(url, tmp_path, dev=True, env={})
    try:
        backend.audit_in_process(url)
        writer = backend.audit
        assert isinstance(writer, AuditProcessWriter)
        app = create_app(backend)

        async def serve() -> None:
            async with app._lifespan(app._starlette):
                for i in range(20):
                    writer.submit(_record(i))
                for _ in range(600):  # shipped by the loop's timer within a window or so
                    await asyncio.sleep(0.05)
                    if shippers:
                        break

        asyncio.run(serve())
        assert shippers == {threading.get_ident()}  # the loop's thread (this one), never the sender thread
        with backend.store.read() as tx:
            stored = [e.request_id for e in tx.scan_audit_events(limit=1000)]
        assert {f"req-{i}" for i in range(20)} <= set(stored)
    finally:
        backend.close()


def test_a_stalled_event_loop_leaves_the_shipping_to_the_sender_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attached to a loop that does not run its timers (stalled, or stopped), the writer still ships:
    the sender thread, woken every WATCHDOG seconds, sees no cycle of the loop and runs its own."""
    import asyncio
    import time

    shippers = _shipping_threads(monkeypatch)
    url, store = _store_with_a_key(tmp_path)
    writer = AuditProcessWriter(store, url, window=0.01, lag_limit=0.0)
    loop = asyncio.new_event_loop()
    try:
        writer.attach(loop)  # never run
        writer.submit(_record(1))
        deadline = time.monotonic() + 60
        while not shippers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shippers == {writer._thread.ident}
    finally:
        writer.close()
        loop.close()
        store.close()


def test_on_the_event_loop_batches_waiting_for_room_go_as_the_child_acknowledges_not_at_the_next_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attached to a loop, a queue larger than the pipe's budget leaves in one cycle up to the budget;
    the rest goes as the child's acknowledgements make room (the loop reads them as they come, as the
    sender thread waited on the pipe), not a window later."""
    import asyncio

    import iamd.api.audit_process as audit_process
    from iamd.api.audit_process import MESSAGE_EVENTS

    monkeypatch.setattr(audit_process, "WATCHDOG", 3600.0)  # the sender thread never steps in
    writer, store, _ = _writer_with_a_small_pipe(tmp_path)  # its window: 60 s
    count = 12 * MESSAGE_EVENTS
    try:
        writer.flush()  # the child is up

        async def ship() -> bool:
            writer.attach(asyncio.get_running_loop())
            for i in range(count):
                writer.submit(_record(i))
            writer._tick()  # one cycle now (a batch a turn); the next one is a minute away
            for _ in range(1200):  # the child may take seconds to start on a busy machine
                await asyncio.sleep(0.05)
                if not writer._unsent:
                    return True
            return False

        assert asyncio.run(ship())  # all written to the pipe, a minute before the next cycle
        writer.flush()
        _assert_stored(store, count)
    finally:
        writer.close()
        store.close()


def test_on_the_event_loop_a_dead_child_s_pipe_is_not_read_over_and_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While batches wait for room, the loop reads the child's acknowledgements; a child that dies
    then leaves a pipe that reads as ended for good: the loop stops reading at once (not a callback
    at every turn of the loop until the take-over), and what the child left is stored by the
    sender thread's cycle, as before."""
    import asyncio
    import os
    import signal

    import iamd.api.audit_process as audit_process
    from iamd.api.audit_process import MESSAGE_EVENTS

    monkeypatch.setattr(audit_process, "WATCHDOG", 3600.0)  # the take-over is run by hand below
    writer, store, pid = _writer_with_a_small_pipe(tmp_path)
    count = 12 * MESSAGE_EVENTS
    reads: list[int] = []
    acknowledged = writer._acknowledged

    def counted() -> None:
        reads.append(1)
        acknowledged()

    monkeypatch.setattr(writer, "_acknowledged", counted)
    try:
        writer.flush()
        os.kill(pid, signal.SIGSTOP)

        async def die_while_batches_wait() -> None:
            writer.attach(asyncio.get_running_loop())
            for i in range(count):
                writer.submit(_record(i))
            writer._tick()
            while writer._items:  # a batch a turn of the loop
                await asyncio.sleep(0)
            assert writer._reading and writer._unsent  # the budget holds a batch or two
            os.kill(pid, signal.SIGKILL)
            writer._process.join(timeout=30)
            await asyncio.sleep(0.5)

        asyncio.run(die_while_batches_wait())
        assert len(reads) <= 2 and not writer._reading
        with writer._pipe_lock:
            writer._cycle()  # the watchdog's: stores what the child did not acknowledge
        _assert_stored(store, count)
    finally:
        writer.close()
        store.close()


def test_on_the_event_loop_a_long_queue_goes_one_batch_per_turn_of_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's cycle encodes one batch (MESSAGE_EVENTS events at most) and leaves the rest queued
    for its next turn, not for the next window: the requests' callbacks run between the slices, and
    what is left stays queued where flush and close see it."""
    import asyncio

    import iamd.api.audit_process as audit_process
    from iamd.api.audit_process import MESSAGE_EVENTS

    monkeypatch.setattr(audit_process, "WATCHDOG", 3600.0)  # the sender thread never steps in
    url, store = _store_with_a_key(tmp_path)
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0)
    count = 4 * MESSAGE_EVENTS
    try:

        async def slices() -> list[int]:
            writer.attach(asyncio.get_running_loop())
            for i in range(count):
                writer.submit(_record(i))
            writer._tick()  # the next tick is a minute away
            taken = [count - len(writer._items)]
            for _ in range(6):
                await asyncio.sleep(0)
                taken.append(count - len(writer._items))
            return taken

        taken = asyncio.run(slices())
        assert taken[0] == MESSAGE_EVENTS
        assert taken[-1] == count and taken == sorted(taken)
        writer.flush()
        _assert_stored(store, count)
    finally:
        writer.close()
        store.close()
