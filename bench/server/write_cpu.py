"""CPU per PostgreSQL write, in process: ``python -m bench.server.write_cpu [--writes N] [--profile]``.

Starts a throwaway PostgreSQL cluster with fsync on (``tests/store/postgres.py``), builds a
Backend on it with the server benchmark's caller (``bench-caller``, an inline policy allowing
``iam:*``), pre-signs CreateUser/DeleteUser pairs of distinct names and feeds their raw HTTP
bytes, one at a time, to the protocol ``iamd serve`` runs (``bench.server.cpu``'s fake
transport: no socket). Prints, per write: the CPU of this process (``time.process_time``, every
thread), of the thread that ran the request (``time.thread_time`` around ``pipeline.handle``),
of the event loop's thread (this one: HTTP parse, the inline try, the hand-off to the write lane,
the wake-up, the answer's write) and of the cluster's processes (``/proc``), and the wall time.
CPU figures barely move with the machine's load; ``--profile`` prints a cProfile of the requests' thread in CPU time.

Run it in two trees for a before/after pair (``cd <tree> && PYTHONPATH=$PWD python -m ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamd.api import Backend, create_app
from iamd.cli.server import tune_runtime

from .baseline import ROOT
from .contention import _cpu_seconds, write_bodies
from .cpu import ROOT_KEY, ROOT_SECRET, _feed, _setup, query_protocol
from .signing import query_body, sign_query

__all__ = ["main", "measure"]

WARM = 400  # requests before the measured ones (connections, prepared statements, caches)


def with_failures(bodies: list[str], every: int) -> tuple[list[str], int]:
    """``bodies`` (CreateUser/DeleteUser pairs) with, after every ``every`` pairs, a CreateUser of
    the caller's own name (``bench-caller``): authorized, then EntityAlreadyExists after the
    writers' lock — a write that fails and rolls back. Returns the bodies and how many fail."""
    if every <= 0:
        return bodies, 0
    out: list[str] = []
    failing = 0
    for i in range(0, len(bodies), 2):
        out += bodies[i : i + 2]
        if (i // 2 + 1) % every == 0:
            out.append(query_body("CreateUser", {"UserName": "bench-caller"}))
            failing += 1
    return out, failing


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    """An event loop of ``kind``: ``asyncio``'s own, or ``uvloop`` (what ``iamd serve`` runs:
    uvicorn's ``loop="auto"`` takes uvloop where it is installed)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def measure(
    writes: int,
    *,
    profile: bool = False,
    sort: str = "cumulative",
    watch: bool = False,
    failing: int = 0,
    loop_kind: str = "asyncio",
) -> dict[str, float]:
    import psycopg

    import iamd.api.pipeline as pipeline

    sys.path.insert(0, str(ROOT))
    from tests.store.postgres import start_cluster

    cluster = start_cluster(durable=True)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench_writes")
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        with tempfile.TemporaryDirectory() as tmp:
            env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
            backend, _ = Backend.open(cluster.url("bench_writes"), Path(tmp), dev=True, env=env)
            app = create_app(backend)
            if watch:  # as ``iamd serve`` does: the generation watcher's thread, polling every 0.1 s
                backend.watch(0.1)
            key = _setup(backend, app)
            warm_bodies = write_bodies("v", WARM // 2)
            bodies, failed = with_failures(write_bodies("w", writes // 2 + 1)[:writes], failing)
            raws = sign_query("127.0.0.1", 8000, key, [*warm_bodies, *bodies])
            tune_runtime()
            loop = new_loop(loop_kind)
            protocol, transport = query_protocol(app, loop)
            handle = pipeline.handle
            thread_cpu = [0.0]
            loop_cpu = 0.0
            profiler = cProfile.Profile(time.thread_time) if profile else None

            def timed(backend: Any, request: Any) -> Any:
                start = time.thread_time()
                if profiler is not None:
                    profiler.enable()
                try:
                    return handle(backend, request)
                finally:
                    if profiler is not None:
                        profiler.disable()
                    thread_cpu[0] += time.thread_time() - start

            try:
                if _feed(protocol, transport, raws[:WARM], loop) != WARM:
                    raise RuntimeError("the warm-up writes failed")
                assert backend.audit is not None
                backend.audit.flush()
                pipeline.handle = timed  # type: ignore[assignment]
                drops = backend.watcher.foreign_writes if backend.watcher is not None else 0
                trips = _round_trips()
                pg, cpu, wall = _cpu_seconds(postmaster), time.process_time(), time.perf_counter()
                loop_cpu = time.thread_time()  # this thread runs the event loop (and waits in it)
                ok = _feed(protocol, transport, raws[WARM:], loop)
                loop_cpu = time.thread_time() - loop_cpu
                trips = _round_trips() - trips
                backend.audit.flush()
                if backend.watcher is not None:  # how often it took a write of its own for another's
                    drops = backend.watcher.foreign_writes - drops
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                pg = _cpu_seconds(postmaster) - pg
            finally:
                pipeline.handle = handle  # type: ignore[assignment]
                loop.close()
                backend.close()
    finally:
        cluster.stop()
    if ok != writes:
        raise RuntimeError(f"{writes - ok} of {writes} writes failed")
    writes += failed  # each failed write counted as a request
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(sort).print_stats(int(os.environ.get("IAMD_BENCH_LINES", "50")))
    return {
        "writes": writes,
        "failed": failed,
        "cache_drops": drops,
        "iamd_us": cpu / writes * 1e6,
        "thread_us": thread_cpu[0] / writes * 1e6,
        "loop_us": loop_cpu / writes * 1e6,
        "postgres_us": pg / writes * 1e6,
        "wall_us": wall / writes * 1e6,
        "round_trips": trips / writes,
    }


def _round_trips() -> float:
    """iamd's round trips to PostgreSQL on libpq so far (NaN in a tree without the count: before session 14)."""
    from iamd.store import driver

    count = getattr(driver, "round_trips", None)
    return float("nan") if count is None else float(count())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.write_cpu", description=__doc__)
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--profile", action="store_true", help="print a cProfile (CPU time) of the requests")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime, ...)")
    parser.add_argument("--watch", action="store_true", help="run the generation watcher, as iamd serve does")
    parser.add_argument(
        "--failing", type=int, default=0, metavar="N",
        help="after every N pairs, a CreateUser of a taken name (fails after the writers' lock, rolls back)",
    )  # fmt: skip
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio",
        help="the event loop (iamd serve runs uvloop; asyncio's is the figure of earlier sessions)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    r = measure(
        args.writes, profile=args.profile, sort=args.sort, watch=args.watch, failing=args.failing, loop_kind=args.loop
    )
    print(f"CreateUser/DeleteUser on PostgreSQL (fsync on), one at a time, {r['writes']} writes"
          + (f" ({r['failed']:.0f} failing)" if r["failed"] else "") + ": "
          f"iamd {r['iamd_us']:.0f} µs CPU/write (the request's thread {r['thread_us']:.0f}, "
          f"the event loop's {r['loop_us']:.0f}), "
          f"PostgreSQL {r['postgres_us']:.0f} µs CPU/write, wall {r['wall_us']:.0f} µs, "
          f"{r['round_trips']:.2f} round trips/write on libpq; "
          + (f"the watcher dropped the caches {r['cache_drops']:.0f} times; " if args.watch else "")
          + f"{args.loop}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
