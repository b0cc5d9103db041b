"""``python -m bench.loop_lag``: what stalls ``iamd serve``'s event loop under single checks.

``bench.authz``'s server, set-up and single-check workload (verified first), with a probe on the
server's path (a ``sitecustomize`` of this module's :data:`PROBE`, found first on ``PYTHONPATH``):
a 1 ms ``call_later`` tick on the loop records the time, the loop thread's CPU time and its
``/proc/thread-self/schedstat`` (ns run, ns waited runnable); ``gc.callbacks`` time each
collection; each audit sender cycle is timed (the sender thread's, or the event loop's turn
where it ships). After one window of wrk's load the server stops (the probe writes what it
recorded), and each gap between ticks longer than ``--gap-ms`` is split into the loop thread's
own running, its wait for a CPU and the rest (asleep: the GIL, or idle), with the collections
and sender cycles that overlap it. The tick itself costs the loop about
1,000 small callbacks a second: read the split, not the rate. Needs Linux and wrk. Figures:
bench/README.md, "Session 15: where the single check's tail comes from".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import bench.authz as authz
from bench.server.load import run_load
from bench.server.servers import start_iamd

PROBE = """
import gc, json, os, threading, time
OUT = os.environ.get("IAMD_LOOP_LAG")
if OUT and "serve" in __import__("sys").orig_argv:
    rec = {"ticks": [], "gc": [], "cycles": []}
    started = {}

    def _gc(phase, info):
        if phase == "start":
            started[threading.get_ident()] = time.monotonic()
        elif threading.get_ident() in started:
            t0 = started.pop(threading.get_ident())
            rec["gc"].append((t0, time.monotonic() - t0, info["generation"], info["collected"],
                              threading.current_thread().name))

    gc.callbacks.append(_gc)
    import uvicorn.server

    startup, shutdown = uvicorn.server.Server.startup, uvicorn.server.Server.shutdown

    async def _startup(self, *a, **k):
        await startup(self, *a, **k)
        import asyncio
        from iamd.api import audit_process

        def timed(method):
            def run(writer):
                t0, c0 = time.monotonic(), time.thread_time()
                method(writer)
                rec["cycles"].append((t0, time.monotonic() - t0, time.thread_time() - c0))
            return run

        # the sender thread's cycle, and (since session 16) the event loop's turn where it ships
        for name in ("_cycle", "_turn"):
            if hasattr(audit_process.AuditProcessWriter, name):
                setattr(audit_process.AuditProcessWriter, name, timed(getattr(audit_process.AuditProcessWriter, name)))
        loop, fd, ticks = asyncio.get_running_loop(), os.open("/proc/thread-self/schedstat", os.O_RDONLY), rec["ticks"]

        def tick():
            run, wait = os.pread(fd, 100, 0).split()[:2]
            ticks.append((time.monotonic(), time.thread_time(), int(run), int(wait)))
            loop.call_later(0.001, tick)

        tick()

    async def _shutdown(self, *a, **k):
        await shutdown(self, *a, **k)
        with open(OUT, "w") as f:
            json.dump(rec, f)

    uvicorn.server.Server.startup, uvicorn.server.Server.shutdown = _startup, _shutdown
"""


def overlapping(spans: list[list[float]], start: float, end: float) -> list[list[float]]:
    """The spans ``(start, length, …)`` that overlap ``[start, end)``."""
    return [s for s in spans if s[0] < end and s[0] + s[1] > start]


def split_gaps(rec: dict[str, Any], window: tuple[float, float], gap: float) -> dict[str, Any]:
    """The ticks' gaps over ``gap`` seconds inside ``window``: their time split into the loop's
    running, its wait for a CPU and the rest, and the collections and sender cycles inside them."""
    ticks = [t for t in rec["ticks"] if window[0] <= t[0] <= window[1]]
    out: dict[str, Any] = {"ticks": len(ticks), "gaps": 0, "gap_s": 0.0, "ran_s": 0.0, "waited_s": 0.0,
                           "asleep_s": 0.0, "with_gc": 0, "with_sender": 0, "longest_ms": 0.0}  # fmt: skip
    for a, b in itertools.pairwise(ticks):
        length = b[0] - a[0]
        if length <= gap:
            continue
        ran, waited = (b[2] - a[2]) / 1e9, (b[3] - a[3]) / 1e9
        out["gaps"] += 1
        out["gap_s"] += length
        out["ran_s"] += ran
        out["waited_s"] += waited
        out["asleep_s"] += max(0.0, length - ran - waited)
        out["with_gc"] += bool(overlapping(rec["gc"], a[0], b[0]))
        out["with_sender"] += bool(overlapping(rec["cycles"], a[0], b[0]))
        out["longest_ms"] = max(out["longest_ms"], length * 1e3)
    cycles = [c for c in rec["cycles"] if window[0] <= c[0] <= window[1]]
    out["sender_cycles"] = len(cycles)
    out["sender_cpu_ms_max"] = max((c[2] * 1e3 for c in cycles), default=0.0)
    collections = [g for g in rec["gc"] if window[0] <= g[0] <= window[1]]
    out["collections"] = len(collections)
    out["collection_ms_max"] = max((g[1] * 1e3 for g in collections), default=0.0)
    out["collections_seen"] = collections
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loop_lag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=None, help="serve the iamd of this source tree")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--gap-ms", type=float, default=3.0, help="gaps between ticks longer than this")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="iamd-bench-lag-"))
    (tmp / "probe").mkdir()
    (tmp / "probe" / "sitecustomize.py").write_text(PROBE)
    out = tmp / "lag.json"
    env = {"IAMD_LOOP_LAG": str(out), "PYTHONPATH": str(tmp / "probe")}
    if args.source is None:
        env["PYTHONPATH"] += f":{Path(__file__).resolve().parents[1]}"
    server = start_iamd("iamd", tmp / "data", extra_env=env, source=args.source.resolve() if args.source else None)
    try:
        service, clients = authz.setup(server.endpoint)
        singles, expect, _, _ = authz.workload(server.endpoint, service, clients, distinct=200, batch=100)
        authz.verify(server.endpoint, singles, expect)
        run_load("wrk", "127.0.0.1", server.port, singles, connections=args.connections, duration=2.0)
        start = time.monotonic()
        done = run_load("wrk", "127.0.0.1", server.port, singles, connections=args.connections,
                        duration=args.seconds)  # fmt: skip
        window = (start, time.monotonic())
        server.stop()
        gaps = split_gaps(json.loads(out.read_text()), window, args.gap_ms / 1e3)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.source or 'this tree'}: {done.requests / done.seconds:,.0f} calls/s, p99 {done.p99_ms:.2f} ms, "
          f"max {done.max_ms:.1f} ms (load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    g = gaps
    print(f"  {g['gaps']} gaps over {args.gap_ms:g} ms in {g['ticks']} ticks, {g['gap_s']:.3f} s in all: "
          f"the loop thread ran {g['ran_s']:.3f} s, waited for a CPU {g['waited_s']:.3f} s, slept (the GIL, "
          f"or idle) {g['asleep_s']:.3f} s; longest {g['longest_ms']:.1f} ms")  # fmt: skip
    print(f"  {g['with_gc']} gaps with a collection ({g['collections']} in the window, "
          f"{g['collection_ms_max']:.2f} ms at most), {g['with_sender']} with an audit sender cycle "
          f"({g['sender_cycles']} in the window, {g['sender_cpu_ms_max']:.2f} ms CPU at most)")  # fmt: skip
    for start, length, generation, collected, thread in g["collections_seen"]:
        print(f"  collection at +{start - window[0]:.2f} s: generation {generation} on {thread}, "
              f"{length * 1e3:.2f} ms, {collected} objects collected")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
