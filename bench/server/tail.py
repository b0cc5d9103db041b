"""Where a warm request's latency tail comes from, in process: ``python -m bench.server.tail``.

``bench.server.scale``'s warm window at 100,000 callers (8 connections over loopback, on the
shared VM) has a p99 above its 10 ms target. Over loopback a request's latency is the server's
time for it, the time it waits behind the other connections' requests, and whatever the machine
takes from the server's process. This harness measures the first alone: ``--callers`` IAM users
as ``bench.server.callers`` makes them, ``tune_runtime()`` as ``iamd serve`` calls it, a cold
pass (every caller's first request), then ``--rounds`` warm passes in which each request goes
through ``iamd serve``'s HTTP protocol on a fake transport (``bench.server.cpu``) alone and is
timed alone (wall and thread CPU). Beside it, every garbage collection of the warm passes
(``gc.callbacks``: its generation and its pause). Variants (``--variant``, several in one run
each in its own process, in turns): ``serve`` (as ``iamd serve`` runs now), ``freeze`` (plus
``gc.freeze()`` after the cold pass: the cached callers leave the collector's generations).

A wall time well above the thread CPU of the same request is time the process did not run
(the machine's other load), not the server's work: the table gives both tails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["measure"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(callers: int, rounds: int, variant: str) -> dict[str, Any]:
    from iamd.api import Backend, create_app
    from iamd.cli.server import tune_runtime

    from .callers import prepare, signed
    from .cpu import _feed, query_protocol
    from .servers import ROOT_KEY, ROOT_SECRET

    with tempfile.TemporaryDirectory(prefix="iamd-tail-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'iamd.db'}"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(url, Path(tmp) / "data", dev=True, env=env)
        try:
            keys = prepare(backend, callers)
            backend.audit_in_process(url)
            app = create_app(backend)
            tune_runtime()
            loop = asyncio.new_event_loop()
            protocol, transport = query_protocol(app, loop)
            _feed(protocol, transport, signed(keys, 8000), loop)  # the cold pass
            if variant == "freeze":  # what tune_runtime does at start, once more with the callers cached
                gc.collect()
                gc.freeze()
            pauses: list[tuple[int, float]] = []
            started: list[float] = [0.0]

            def on_gc(phase: str, info: dict[str, Any]) -> None:
                if phase == "start":
                    started[0] = time.perf_counter()
                else:
                    pauses.append((int(info["generation"]), time.perf_counter() - started[0]))

            walls: list[float] = []
            cpus: list[float] = []
            gc.callbacks.append(on_gc)
            try:
                for r in range(rounds):
                    order = list(keys)
                    order = order[r % 7 :] + order[: r % 7]
                    raws = signed(order, 8000)
                    for raw in raws:
                        c0, w0 = time.thread_time(), time.perf_counter()
                        ok = _feed(protocol, transport, [raw], loop)
                        walls.append(time.perf_counter() - w0)
                        cpus.append(time.thread_time() - c0)
                        assert ok == 1
            finally:
                gc.callbacks.remove(on_gc)
                loop.close()
        finally:
            backend.close()
    ms = 1e3
    by_gen = {g: [p for gen, p in pauses if gen == g] for g in (0, 1, 2)}
    return {
        "variant": variant, "callers": callers, "requests": len(walls), "load": [round(x, 2) for x in os.getloadavg()],
        "wall_ms": {q: round(_pct(walls, p) * ms, 3) for q, p in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))}
        | {"max": round(max(walls) * ms, 2)},
        "cpu_ms": {q: round(_pct(cpus, p) * ms, 3) for q, p in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))}
        | {"max": round(max(cpus) * ms, 2)},
        "gc": {str(g): {"count": len(v), "total_ms": round(sum(v) * ms, 1), "max_ms": round(max(v, default=0) * ms, 2)}
               for g, v in by_gen.items()},
        "gc_objects_tracked": len(gc.get_objects()),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.tail", description=__doc__)
    parser.add_argument("--callers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2, help="warm passes over all callers")
    parser.add_argument("--variant", nargs="+", default=["serve", "freeze"], choices=["serve", "freeze"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one variant, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.callers, args.rounds, args.variant[0])))
        return 0
    for variant in args.variant:  # each in a process of its own: nothing frozen or collected carries over
        out = subprocess.run(
            [sys.executable, "-m", "bench.server.tail", "--one", "--callers", str(args.callers),
             "--rounds", str(args.rounds), "--variant", variant],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(out.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
