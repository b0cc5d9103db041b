"""Per-decision latency measurement.

Each decision is timed on its own with ``time.perf_counter_ns`` (``t0 = clock(); call(item);
samples.append(clock() - t0)``), over several rounds, each round visiting every request in a
new shuffled order, with the garbage collector disabled. The same loop run with a no-op
callable measures what the harness itself costs (two clock reads, the call of a Python
function, appending the sample); its median is subtracted from every sample, so what is
reported is the engine's cost. Calls that cannot be timed one by one (a batch API) are timed
in batches, each sample being the batch time divided by its size.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Measured", "Stats", "Task", "harness_overhead_ns", "interleaved", "no_gc", "time_each"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stats:
    """Per-decision latencies in nanoseconds."""

    samples: int
    p50: float
    p90: float
    p99: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no samples")
        s = sorted(values)
        n = len(s)

        def pct(q: float) -> float:  # nearest rank: the smallest value with at least q of the samples at or below it
            return float(s[min(n - 1, max(0, math.ceil(q * n) - 1))])

        return cls(n, pct(0.50), pct(0.90), pct(0.99), statistics.fmean(s))

    def to_json(self) -> dict[str, float | int]:
        us = 1000.0
        return {"samples": self.samples, "p50_us": round(self.p50 / us, 3), "p90_us": round(self.p90 / us, 3),
                "p99_us": round(self.p99 / us, 3), "mean_us": round(self.mean / us, 3)}  # fmt: skip


@contextmanager
def no_gc() -> Iterator[None]:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _noop(_: Any) -> None:
    return None


def _loop(call: Callable[[T], object], items: Sequence[T], rounds: int, seed: int) -> list[int]:
    clock = time.perf_counter_ns
    order = list(items)
    rng = random.Random(seed)
    out: list[int] = []
    append = out.append
    for _ in range(rounds):
        rng.shuffle(order)
        for item in order:
            t0 = clock()
            call(item)
            append(clock() - t0)
    return out


def harness_overhead_ns(items: Sequence[Any], rounds: int = 5) -> float:
    """What timing one no-op call costs, the way a decision is timed.

    The lowest of ``rounds`` per-round medians: a burst of load elsewhere during calibration
    must not inflate what is subtracted from every sample.
    """
    with no_gc():
        _loop(_noop, items, 1, 0)
        return float(min(statistics.median(_loop(_noop, items, 1, i)) for i in range(rounds)))


@dataclass(frozen=True, slots=True)
class Task(Generic[T]):
    """What to time: ``call(item)`` for every item, ``rounds`` times per chunk.

    With ``batch`` > 0, ``call`` takes a list of that many items and each sample is the
    batch's time divided by its size.
    """

    call: Callable[[Any], object]
    items: Sequence[T]
    rounds: int
    batch: int = 0


@dataclass(frozen=True, slots=True)
class Measured:
    stats: Stats  # over every sample of every chunk
    chunk_p50: tuple[float, ...]  # the p50 of each chunk: their spread shows how steady the machine was

    def to_json(self) -> dict[str, Any]:
        return {**self.stats.to_json(), "chunk_p50_us": [round(v / 1000, 3) for v in self.chunk_p50]}


def _run(task: Task[Any], rounds: int, overhead_ns: float, seed: int) -> list[float]:
    if not task.batch:
        return [max(0.0, v - overhead_ns) for v in _loop(task.call, task.items, rounds, seed)]
    batches = [list(task.items[i : i + task.batch]) for i in range(0, len(task.items), task.batch)]
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(rounds):
        for b in batches:
            t0 = clock()
            task.call(b)
            out.append((clock() - t0) / len(b))
    return out


def interleaved(tasks: Mapping[str, Task[Any]], chunks: int, overhead_ns: float, seed: int = 0) -> dict[str, Measured]:
    """Time every task in ``chunks`` chunks, taking turns, after one warm-up round each.

    Taking turns spreads each task over the whole measurement, so a burst of activity
    elsewhere on the machine hits all of them alike rather than one, and ratios between
    tasks compare like with like.
    """
    raw: dict[str, list[float]] = {name: [] for name in tasks}
    per_chunk: dict[str, list[float]] = {name: [] for name in tasks}
    for task in tasks.values():
        with no_gc():
            _run(task, 1, overhead_ns, seed - 1)
    for chunk in range(chunks):
        for name, task in tasks.items():
            with no_gc():
                samples = _run(task, task.rounds, overhead_ns, seed + chunk)
            raw[name].extend(samples)
            per_chunk[name].append(Stats.of(samples).p50)
    return {name: Measured(Stats.of(raw[name]), tuple(per_chunk[name])) for name in tasks}


def time_each(call: Callable[[T], object], items: Sequence[T], rounds: int, overhead_ns: float) -> Stats:
    """Time ``call(item)`` for every item, ``rounds`` times, without warm-up (for one-off costs)."""
    with no_gc():
        return Stats.of(_run(Task(call, items, rounds), rounds, overhead_ns, 0))
