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
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Stats", "harness_overhead_ns", "no_gc", "time_batches", "time_each", "time_once"]

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

        def pct(q: float) -> float:  # nearest rank
            return float(s[min(n - 1, max(0, round(q * n + 0.5) - 1))])

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


def harness_overhead_ns(items: Sequence[Any], rounds: int = 3) -> float:
    """Median cost of timing one no-op call the way :func:`time_each` times a decision."""
    with no_gc():
        _loop(_noop, items, 1, 0)
        return float(statistics.median(_loop(_noop, items, rounds, 0)))


def time_each(
    call: Callable[[T], object], items: Sequence[T], rounds: int, overhead_ns: float, *, warmup: int = 1, seed: int = 0
) -> Stats:
    """Time ``call(item)`` for every item, ``rounds`` times; harness overhead subtracted."""
    with no_gc():
        if warmup:
            _loop(call, items, warmup, seed + 1)
        raw = _loop(call, items, rounds, seed)
    return Stats.of([max(0.0, v - overhead_ns) for v in raw])


def time_batches(call: Callable[[Sequence[T]], object], items: Sequence[T], batch: int, rounds: int) -> Stats:
    """Time ``call(batch_of_items)``; each sample is one batch's time divided by its size."""
    batches = [items[i : i + batch] for i in range(0, len(items), batch)]
    clock = time.perf_counter_ns
    samples: list[float] = []
    with no_gc():
        call(batches[0])
        for _ in range(rounds):
            for b in batches:
                t0 = clock()
                call(b)
                samples.append((clock() - t0) / len(b))
    return Stats.of(samples)


def time_once(fn: Callable[[], object], repeat: int) -> Stats:
    """Time ``fn()`` ``repeat`` times (for costs far above the clock's, such as compiling)."""
    clock = time.perf_counter_ns
    samples: list[float] = []
    with no_gc():
        for _ in range(repeat):
            t0 = clock()
            fn()
            samples.append(clock() - t0)
    return Stats.of(samples)
