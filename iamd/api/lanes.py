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

A lane is a :class:`Lane`: up to N plain threads, each handed its next job directly. The direct
path's hop (``IamdApp.answer_off_loop``) posts its job as it is (:meth:`Lane.post`: no
``Future``, no work item, no executor lock); ``run_in_executor`` and tests use it as any
``Executor`` (:meth:`Lane.submit`). bench/README.md, "A first request with less around it".
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

__all__ = ["Lane", "Lanes"]

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")
# A lane's job: what it returns, if not None, is called once its thread is idle again (:meth:`Lane.post`).
Job = Callable[[], "Callable[[], object] | None"]


class _Worker:
    """A lane's thread's slot: the job handed to it, and the lock it sleeps on while idle."""

    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: Job | None = None
        self.wake = threading.Lock()
        self.wake.acquire()  # released by the one that hands it a job (or ends the lane)


class Lane(Executor):
    """Up to ``threads`` worker threads, started as they are needed (a job posted while none is
    idle starts one, as ``ThreadPoolExecutor`` does). A job goes to the thread that became idle
    last (LIFO), not to any of them in turn: in sequence, one thread answers, with its CPU caches
    and its SQLite read connection's page cache warm (the others' caches go stale while they sleep:
    bench/README.md, "A first request with less around it"). Jobs posted while every thread is
    busy wait in a backlog, taken in order by the next thread done."""

    def __init__(self, threads: int, name: str) -> None:
        self._max = max(1, threads)
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []  # the most recently idle last
        self._backlog: deque[Job] = deque()
        self._threads: list[threading.Thread] = []
        self._closed = False
        atexit.register(self.shutdown)  # its threads are daemons: let them finish their jobs at exit

    def post(self, job: Job) -> None:
        """Run ``job()`` on a thread of the lane; it answers its own errors (one that escapes is logged).

        What the job returns, if not None, is its hand-back (the answer handed to whoever waits
        for it), called on the same thread once the thread is idle again, or has taken its next
        job: a job posted as soon as the answer is back finds this thread, warm, not another
        one (bench/README.md, "Session 13: the hand-back after the thread is idle")."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot post a job after shutdown")
            if self._idle:
                worker = self._idle.pop()
                worker.job = job
                worker.wake.release()
                return
            self._backlog.append(job)
            if len(self._threads) < self._max:
                worker = _Worker()
                thread = threading.Thread(target=self._work, args=(worker,), daemon=True,
                                          name=f"{self._name}_{len(self._threads)}")  # fmt: skip
                thread.start()
                self._threads.append(thread)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()

        def job() -> Callable[[], None] | None:
            if not future.set_running_or_notify_cancel():
                return None
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                failure = error  # ``error`` itself is unbound when the except clause ends
                return lambda: future.set_exception(failure)
            return lambda: future.set_result(result)  # the hand-back: once this thread is idle

        self.post(job)
        return future

    def _work(self, worker: _Worker) -> None:
        job: Job | None = None
        while True:
            back: Callable[[], object] | None = None
            if job is not None:
                try:
                    back = job()
                except BaseException:
                    log.exception("a job on %s failed", self._name)
            with self._lock:
                job = self._backlog.popleft() if self._backlog else None
                closed = self._closed
                if job is None and not closed:
                    self._idle.append(worker)
            if back is not None:
                # Handed back only now: whoever it wakes may post its next job at once, and finds
                # this thread idle (the last to be), not busy, which would send the job to another.
                try:
                    back()
                except BaseException:
                    log.exception("a job's hand-back on %s failed", self._name)
            if job is not None:
                continue
            if closed:
                return
            worker.wake.acquire()
            job, worker.job = worker.job, None
            if job is None:  # the lane ended
                return

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more jobs; the threads finish the queued ones, then end (joined if ``wait``)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for worker in idle:
            worker.wake.release()  # with no job: it ends
        atexit.unregister(self.shutdown)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()


class Lanes:
    def __init__(self, backend: Any, threads: int, write_threads: int = 0) -> None:
        """``threads`` per lane; ``write_threads``: the write lane's on PostgreSQL (0: ``threads``);
        SQLite's write lane has one (one writer at a time)."""
        self._threads = max(1, threads)
        dialect = getattr(backend.store, "dialect", "sqlite")
        self.write_threads = 1 if dialect == "sqlite" else (write_threads or self._threads)
        registry = backend.registry
        self.writes = frozenset(
            name for service in registry.names for name, op in registry.get(service).operations.items() if op.writes
        )
        self._lock = threading.Lock()
        self._read: Lane | None = None
        self._write: Lane | None = None

    def for_request(self, http: Any, action: str | None) -> Lane:
        """The lane of a Query or JSON request; ``action``: its plainly written Action, or None."""
        target = http.header("x-amz-target")
        if target:  # the JSON protocol names its operation in the header: "Prefix.Operation"
            action = target.rpartition(".")[2] or None
        return self.write if action is None or action in self.writes else self.read

    @property
    def read(self) -> Lane:
        pool = self._read
        if pool is None:
            with self._lock:
                if self._read is None:
                    self._read = Lane(self._threads, "iamd-request")
                pool = self._read
        return pool

    @property
    def write(self) -> Lane:
        pool = self._write
        if pool is None:
            with self._lock:
                if self._write is None:
                    self._write = Lane(self.write_threads, "iamd-request-write")
                pool = self._write
        return pool

    def shutdown(self) -> None:
        with self._lock:
            pools, self._read, self._write = (self._read, self._write), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True)
