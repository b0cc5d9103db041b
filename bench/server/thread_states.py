"""Where an iamd process's threads spend a load window: ``/proc/<pid>/task``, sampled.

A thread of the benchmark's own reads, every ``interval`` seconds, each thread's state and the
system call it is blocked in (``/proc/<pid>/task/<tid>/stat`` and ``syscall``), and at the start
and the end its scheduler times (``schedstat``: on a CPU, and runnable but waiting for one).
A blocked thread is counted by what it waits for:

* ``cpu``: running or runnable (``R``);
* ``gil``: in ``futex`` on an address that several threads wait on: the GIL (CPython's
  ``gil->cond`` and ``gil->mutex``; a lane's own lock too, which is held for a few lines);
* ``db``: in ``poll``/``ppoll``/``select``: waiting for PostgreSQL's answer (iamd waits for
  the socket with ``poll``, iamd/store/driver.py);
* ``loop_idle``: in ``epoll_wait``: the event loop waiting for the network;
* ``idle``: in ``futex`` on an address only that thread waits on: a lane's idle thread
  waiting for its next job (``_Worker.wake``), or another thread's own sleep;
* ``other``: any other system call (a socket's read or write, a sleep).

Threads are grouped: ``loop`` (the main thread: the event loop), ``workers`` (threads seen
waiting for PostgreSQL: the lanes'), ``others`` (the watcher, the audit sender, …). The shares
are of each group's samples; ``threads`` is the group's mean number of threads.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from pathlib import Path
from types import TracebackType

__all__ = ["STATES", "ThreadSampler"]

STATES = ("cpu", "gil", "db", "loop_idle", "idle", "other")
_POLL = {7, 23, 271}  # x86-64: poll, select, ppoll
_EPOLL = {232, 281}  # epoll_wait, epoll_pwait
_FUTEX = 202


def _schedstat(task: Path) -> tuple[int, int, int]:
    """(ns on a CPU, ns runnable waiting for one, times it went to sleep) of ``task`` so far
    (``schedstat``, ``status``' voluntary context switches); zeros if it is gone."""
    try:
        run, wait, _ = task.joinpath("schedstat").read_text().split()
        status = task.joinpath("status").read_text()
    except (OSError, ValueError):
        return 0, 0, 0
    sleeps = status.partition("voluntary_ctxt_switches:")[2].split(None, 1)[0]
    return int(run), int(wait), int(sleeps)


class ThreadSampler:
    """``with ThreadSampler(pid) as t: …`` then ``t.report()``."""

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        self.pid, self.interval = pid, interval
        self._root = Path(f"/proc/{pid}/task")
        self._samples: list[tuple[int, str, int]] = []  # (tid, state, futex address or 0)
        self._rounds = 0
        self._sched: dict[int, tuple[int, int, int]] = {}
        self._sched_delta: dict[int, tuple[int, ...]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-states", daemon=True)

    def _tasks(self) -> list[Path]:
        try:
            return list(self._root.iterdir())
        except OSError:
            return []

    def _run(self) -> None:
        tasks = self._tasks()
        out = self._samples
        while not self._stop.wait(self.interval):
            self._rounds += 1
            for task in tasks:
                try:
                    state = task.joinpath("stat").read_text().rpartition(")")[2].split(None, 1)[0]
                    call = task.joinpath("syscall").read_text().split()
                except OSError:
                    continue
                tid = int(task.name)
                if state == "R" or call[0] == "running":
                    out.append((tid, "cpu", 0))
                    continue
                nr = int(call[0]) if call[0].lstrip("-").isdigit() else -1
                if nr == _FUTEX:
                    out.append((tid, "futex", int(call[1], 16)))
                elif nr in _POLL:
                    out.append((tid, "db", 0))
                elif nr in _EPOLL:
                    out.append((tid, "loop_idle", 0))
                else:
                    out.append((tid, "other", 0))
            if self._rounds % 50 == 0:  # new threads (a lane starts them as needed)
                tasks = self._tasks()

    def __enter__(self) -> ThreadSampler:
        self._sched = {int(t.name): _schedstat(t) for t in self._tasks()}
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        for task in self._tasks():
            before = self._sched.get(int(task.name), (0, 0, 0))
            self._sched_delta[int(task.name)] = tuple(a - b for a, b in zip(_schedstat(task), before, strict=True))

    def report(self, requests: int) -> dict[str, dict[str, float]]:
        """Per group: each state's share of its samples, its mean thread count, its CPU and its
        wait for a CPU in µs per request (schedstat), and its sleeps per request."""
        waiters: defaultdict[int, set[int]] = defaultdict(set)
        for tid, state, address in self._samples:
            if state == "futex":
                waiters[address].add(tid)
        shared = {address for address, tids in waiters.items() if len(tids) > 1}
        workers = {tid for tid, state, _ in self._samples if state == "db"}
        counts: dict[str, Counter[str]] = {"loop": Counter(), "workers": Counter(), "others": Counter()}

        def group(tid: int) -> str:
            return "loop" if tid == self.pid else "workers" if tid in workers else "others"

        for tid, state, address in self._samples:
            if state == "futex":
                state = "gil" if address in shared else "idle"
            counts[group(tid)][state] += 1
        out: dict[str, dict[str, float]] = {}
        per = max(requests, 1) * 1e3  # ns over requests, in µs
        for name, counted in counts.items():
            total = sum(counted.values()) or 1
            run, wait, sleeps = (sum(d[i] for t, d in self._sched_delta.items() if group(t) == name) for i in range(3))
            out[name] = {
                **{k: counted[k] / total for k in STATES},
                "threads": total / max(self._rounds, 1),
                "cpu_us": run / per,
                "runqueue_us": wait / per,
                "sleeps": sleeps / max(requests, 1),
            }
        return out
