"""One caller against many, in process: ``python -m bench.server.scale_cpu --keep DIR [--callers N]``.

The CPU side of ``bench.server.scale``'s warm / single ratio without the loopback, the load
generator or the audit writer's CPU (the writer runs as ``iamd serve`` runs it, in its own
process): a copy of the data directory a ``bench.server.scale --keep DIR`` run loaded, opened
in this process; ``--callers`` of its callers warmed by one request each, then ``--rounds``
windows of ``--requests`` warm ``GetUser`` requests each, one caller's and a random sample of
all callers' in turn (S W, W S, ...), through ``iamd serve``'s HTTP protocol on a fake
transport (``bench.server.cpu``). The figure is CPU per request (``time.process_time``: every
thread of the process) and the ratio of the medians, single / warm. ``--profile PREFIX``
writes cProfile files of the last round (``PREFIX-single.prof``, ``PREFIX-warm.prof``).
``--old TREE`` first runs the same in a process whose ``iamd`` is that source tree's (this
tree's ``bench``), then this tree's: both trees' figures from one command.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamd.api import Backend, create_app
from iamd.cli.server import tune_runtime

from .cpu import _feed, query_protocol
from .servers import ROOT_KEY, ROOT_SECRET
from .signing import Key, query_body, sign_query

__all__ = ["measure"]


def _copy(keep: Path, tmp: Path) -> Path:
    data = tmp / "data"
    data.mkdir(mode=0o700)
    for name in ("master.key", "root-credentials"):
        shutil.copy(keep / "data" / name, data / name)
    source, target = sqlite3.connect(keep / "data" / "iamd.db"), sqlite3.connect(data / "iamd.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    (data / "iamd.db").chmod(0o600)
    return data


def measure(keep: Path, callers: int, requests: int, rounds: int, profile: str | None = None) -> dict[str, Any]:
    keys = [Key(k, s) for k, s in json.loads((keep / "keys.json").read_text())["keys"]][:callers]
    with tempfile.TemporaryDirectory(prefix="iamd-scale-cpu-") as tmp:
        data = _copy(keep, Path(tmp))
        url = f"sqlite:///{data / 'iamd.db'}"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(url, data, dev=True, env=env)
        try:
            backend.audit_in_process(url)
            assert backend.audit is not None
            app = create_app(backend)
            tune_runtime()
            loop = asyncio.new_event_loop()
            protocol, transport = query_protocol(app, loop)
            body = query_body("GetUser")
            raws = [sign_query("127.0.0.1", 8000, key, [body])[0] for key in keys]
            cpu = time.process_time()
            ok = _feed(protocol, transport, raws, loop)
            backend.audit.flush()
            out: dict[str, Any] = {"callers": len(keys), "cold_cpu_us": (time.process_time() - cpu) / len(raws) * 1e6}
            if ok != len(raws):
                raise RuntimeError(f"{len(raws) - ok} of {len(raws)} cold requests failed")
            rng = random.Random(5)
            runs: dict[str, list[float]] = {"single": [], "warm": []}
            for i in range(rounds):
                for name in ("single", "warm") if i % 2 == 0 else ("warm", "single"):
                    batch = [raws[0]] * requests if name == "single" else rng.choices(raws, k=requests)
                    gc.collect()
                    profiler = cProfile.Profile() if profile and i == rounds - 1 else None
                    cpu = time.process_time()
                    if profiler is not None:
                        profiler.enable()
                    ok = _feed(protocol, transport, batch, loop)
                    backend.audit.flush()
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(f"{profile}-{name}.prof")
                    runs[name].append((time.process_time() - cpu) / requests * 1e6)
                    if ok != requests:
                        raise RuntimeError(f"{requests - ok} of {requests} {name} requests failed")
            loop.close()
        finally:
            backend.close()
    out["windows"] = runs
    out["single_cpu_us"] = statistics.median(runs["single"])
    out["warm_cpu_us"] = statistics.median(runs["warm"])
    out["single_over_warm"] = out["single_cpu_us"] / out["warm_cpu_us"]
    return out


def _in_child(tree: Path | None, argv: list[str], tmp: Path) -> dict[str, Any]:
    """This module's figures in a new process whose ``iamd`` is ``tree``'s (None: this tree's)."""
    here = Path(__file__).resolve().parents[2]
    path, cwd = [str(here)], here  # ``-m`` puts the working directory first on the path
    if tree is not None:  # only iamd from the other tree: run in a directory holding a link to it
        (tmp / "iamd").symlink_to(tree.resolve() / "iamd")
        cwd = tmp
    env = {k: v for k, v in os.environ.items() if k not in ("IAMD_DATABASE_URL", "IAMD_MASTER_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(path)
    proc = subprocess.run([sys.executable, "-m", "bench.server.scale_cpu", *argv, "--json", "--check-iamd",
                           str((tree or here).resolve() / "iamd")], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"bench.server.scale_cpu ({tree or 'this tree'}) failed: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["iamd"] = str(tree or here)
    return result


def _print(r: dict[str, Any]) -> None:
    print(f"{r['callers']:,} callers warmed ({r['cold_cpu_us']:,.0f} µs CPU per first request)")
    for name in ("single", "warm"):
        each = " ".join(f"{x:.1f}" for x in r["windows"][name])
        print(f"  {name:>6}: median {r[f'{name}_cpu_us']:6.1f} µs CPU/request  (each window: {each})")
    print(f"  single / warm: {r['single_over_warm']:.3f}   (target ≥ 0.8)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.scale_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--keep", type=Path, required=True, help="a bench.server.scale --keep DIR")
    parser.add_argument("--callers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000, help="requests per window")
    parser.add_argument("--rounds", type=int, default=6, help="windows of each kind")
    parser.add_argument("--profile", default=None, help="cProfile the last round to PREFIX-{single,warm}.prof")
    parser.add_argument("--old", type=Path, default=None, help="first the same with this source tree's iamd")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check-iamd", type=Path, default=None, help=argparse.SUPPRESS)  # --old's children
    args = parser.parse_args(argv)
    if args.check_iamd is not None:
        import iamd

        if Path(iamd.__file__).resolve().parent != args.check_iamd.resolve():
            parser.error(f"iamd is {iamd.__file__}, not from {args.check_iamd}")
    if args.old is not None:
        own = ["--keep", str(args.keep.resolve()), "--callers", str(args.callers), "--requests", str(args.requests),
               "--rounds", str(args.rounds)]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="iamd-scale-cpu-") as tmp:
            old = _in_child(args.old, own, Path(tmp))
        new = _in_child(None, own, Path(tmp))
        if args.json:
            print(json.dumps({"old": old, "new": new}))
            return 0
        print(f"--old {args.old}:")
        _print(old)
        print("this tree:")
        _print(new)
        print(f"  new / old: single {new['single_cpu_us'] / old['single_cpu_us']:.2f}, "
              f"warm {new['warm_cpu_us'] / old['warm_cpu_us']:.2f}")  # fmt: skip
        return 0
    r = measure(args.keep, args.callers, args.requests, args.rounds, args.profile)
    if args.json:
        print(json.dumps(r))
        return 0
    _print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
