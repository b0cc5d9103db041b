"""A large account: ``python -m bench.server.scale [--users N] [--callers M] [--json]``.

Issue "Performance at scale"'s figures, in one run (bench/README.md, "A large account"):

1. **Bulk load.** A JSON Lines file of ``--users`` users (default 1,000,000), each with an
   access key and the same two managed policies (a customer managed policy and AWS's
   ``IAMReadOnlyAccess``, as ``bench.server.callers``), loaded by ``iamd db load`` as a new
   process into a new SQLite data directory: wall time, CPU and peak memory of that process.
2. **Start-up.** ``iamd serve`` on that data directory: seconds from spawn to its first
   answered request.
3. **Many callers.** ``--callers`` of the users (default 100,000, a random sample) each send a
   signed ``GetUser`` of themselves over loopback at 8 connections from another process: a
   cold pass (every caller's first request, once each), then ``--windows`` single-caller and
   as many warm windows of ``--duration`` seconds, interleaved (S W, W S, S W, ...: a drift
   of the machine's load falls on both alike); the warm windows go on through the callers in
   another random order where the one before stopped. Each window's requests per second,
   latency and the CPU the server (and apart, its children: the audit writer) spent per
   request; the medians of each kind. The ratios warm / single in requests per second and
   single / warm in server CPU per request are the figures of merit (target ≥ 0.8, p99 ≤ 10
   ms); the CPU one is what the shared VM's other load moves least. ``--old TREE`` serves the
   same load with the iamd of another source tree first (one server at a time: the old
   tree's figures in the same run).
4. **Memory.** ``VmRSS`` of the server (and of its audit writer) after the windows.

Targets (issue "Performance at scale"): load ≤ 10 minutes, start-up ≤ 2 s, RSS ≤ 400 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamd.crypto import new_access_key_id, new_secret_access_key

from .callers import SHARED_POLICY
from .load import LoadResult, run_python
from .servers import _CLK_TCK, Server, start_iamd
from .signing import Key, query_body, sign_query

__all__ = ["generate", "main", "measure"]

ACCOUNT = "123456789012"
ATTACHED = [{"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/bench-callers"},
            {"PolicyArn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}]  # fmt: skip


def generate(path: Path, users: int, callers: int, seed: int = 7) -> list[Key]:
    """Write the load file; return the keys of ``callers`` users picked at random (in random order)."""
    rng = random.Random(seed)
    picked = set(rng.sample(range(users), callers))
    keys: list[Key] = []
    ids: set[str] = set()  # a key id has 39 random bits: a million of them repeat one about once
    attached = json.dumps(ATTACHED)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"Policy": {"PolicyName": "bench-callers", "PolicyDocument": SHARED_POLICY}}) + "\n")
        for i in range(users):
            name = f"caller{i:07d}"
            key_id, secret = new_access_key_id(account_id=ACCOUNT), new_secret_access_key()
            while key_id in ids:
                key_id = new_access_key_id(account_id=ACCOUNT)
            ids.add(key_id)
            out.write(
                f'{{"User": {{"UserName": "{name}", "Path": "/bench/", "AttachedManagedPolicies": {attached}}}}}\n'
            )
            out.write(f'{{"AccessKey": {{"UserName": "{name}", "AccessKeyId": "{key_id}", '
                      f'"SecretAccessKey": "{secret}"}}}}\n')  # fmt: skip
            if i in picked:
                keys.append(Key(key_id, secret))
    rng.shuffle(keys)
    return keys


def _load(path: Path, data_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "iamd", "db", "load", str(path), "--account", ACCOUNT, "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if k not in ("IAMD_DATABASE_URL", "IAMD_MASTER_KEY")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"iamd db load failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(after.ru_maxrss / 1024),
            "output": proc.stdout.strip()}  # fmt: skip


def _window(result: LoadResult) -> dict[str, Any]:
    return {"rps": round(result.rps, 1), "p50_ms": round(result.p50_ms, 2), "p99_ms": round(result.p99_ms, 2),
            "bad": result.bad_status + result.errors}  # fmt: skip


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _timed(server: Server, requests: list[bytes], connections: int, duration: float | None) -> dict[str, Any]:
    """One window, with the CPU the server (and, apart, its children: the audit writer) spent on it
    per answered request: what the machine's other load changes least."""
    children = _children(server.pid)
    before = _cpu_s(server.pid), [_cpu_s(c) for c in children]
    result = run_python("127.0.0.1", server.port, requests, connections=connections, duration=duration)
    after = _cpu_s(server.pid), [_cpu_s(c) for c in children]
    out = _window(result)
    n = max(result.requests, 1)
    out["requests"] = result.requests
    out["cpu_us"] = round((after[0] - before[0]) / n * 1e6, 1)
    out["children_cpu_us"] = round(sum(a - b for a, b in zip(after[1], before[1], strict=True)) / n * 1e6, 1)
    return out


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0


def _serve(data_dir: Path, keys: list[Key], connections: int, duration: float, args: tuple[str, ...],
           windows: int, source: Path | None = None) -> dict[str, Any]:  # fmt: skip
    first = start_iamd(
        "iamd-scale", data_dir, args=args, source=source
    )  # the first start after the load, then a restart
    first_s = first.started_s
    first.stop()
    server: Server = start_iamd("iamd-scale", data_dir, args=args, source=source)
    try:
        out: dict[str, Any] = {"first_start_s": round(first_s, 2), "start_s": round(server.started_s, 2),
                               "rss_idle_mib": _rss_mib(server.pid)}  # fmt: skip
        port = server.port
        body = query_body("GetUser")
        one = sign_query("127.0.0.1", port, keys[0], [body] * 1)[0]
        run_python("127.0.0.1", port, [one], connections=1, duration=None)  # the single caller is warm
        signed = [sign_query("127.0.0.1", port, key, [body])[0] for key in keys]
        out["cold"] = _timed(server, signed, connections, None)
        random.Random(3).shuffle(signed)
        # Interleaved windows, single and warm in turn (S W, then W S, ...: drift of the machine's
        # load falls on both alike); each warm window goes on where the one before stopped, so
        # together they walk the callers in one random order and no caller comes back early.
        runs: dict[str, list[dict[str, Any]]] = {"single": [], "warm": []}
        at = 0
        for i in range(windows):
            for name in ("single", "warm") if i % 2 == 0 else ("warm", "single"):
                if name == "single":
                    runs[name].append(_timed(server, [one] * 64, connections, duration))
                else:
                    w = _timed(server, signed[at:] + signed[:at], connections, duration)
                    at = (at + w["requests"]) % len(signed)
                    runs[name].append(w)
        out["windows"] = runs
        for name, ws in runs.items():
            out[name] = {k: _median([w[k] for w in ws]) for k in ("rps", "p50_ms", "p99_ms", "cpu_us",
                                                                     "children_cpu_us")}  # fmt: skip
            out[name]["p99_max_ms"] = max(w["p99_ms"] for w in ws)
            out[name]["bad"] = sum(w["bad"] for w in ws)
        out["rss_mib"] = _rss_mib(server.pid)
        out["rss_children_mib"] = [_rss_mib(child) for child in _children(server.pid)]
        single, warm = out["single"], out["warm"]
        out["warm_over_single"] = round(warm["rps"] / single["rps"], 2) if single["rps"] else 0.0
        # per pair (each warm window against the single window beside it), then its median
        pairs = [w["rps"] / s["rps"] for s, w in zip(runs["single"], runs["warm"], strict=True) if s["rps"]]
        out["warm_over_single_pairs"] = [round(r, 2) for r in pairs]
        # the same ratio in CPU: a warm request's server CPU against one caller's (≥ 0.8 wanted)
        out["cpu_single_over_warm"] = round(single["cpu_us"] / warm["cpu_us"], 2) if warm["cpu_us"] else 0.0
    finally:
        server.stop()
    return out


def measure(users: int, callers: int, *, connections: int = 8, duration: float = 3.0, windows: int = 5,
            keep: Path | None = None, cache_memory: int | None = None, old: Path | None = None
            ) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="iamd-scale-") as tmp:
        root = keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        path, data_dir, saved = root / "load.jsonl", root / "data", root / "keys.json"
        result: dict[str, Any] = {"users": users, "callers": callers}
        if keep is not None and saved.exists():  # --keep DIR of an earlier run: its load, its callers
            reused = json.loads(saved.read_text())
            result.update(reused["result"], reused=True)
            keys = [Key(k, s) for k, s in reused["keys"]]
            _say(f"reusing {keep}: {result['users']:,} users, {len(keys):,} callers")
        else:
            t0 = time.perf_counter()
            keys = generate(path, users, callers)
            result.update(generate_s=round(time.perf_counter() - t0, 1), file_mib=round(path.stat().st_size / 2**20))
            _say(f"{users:,} users written ({result['file_mib']} MiB); loading")
            result["load"] = _load(path, data_dir)
            result["database_mib"] = round((data_dir / "iamd.db").stat().st_size / 2**20)
            if keep is not None:  # benchmark keys of generated users, for --keep's next run
                saved.write_text(json.dumps({"result": result, "keys": [[k.access_key_id, k.secret_access_key]
                                                                          for k in keys]}))  # fmt: skip
        _say(f"loaded in {result['load']['wall_s']} s; serving {callers:,} callers")
        args = ("--cache-memory", str(cache_memory)) if cache_memory else ()
        result["cache_memory_mib"] = cache_memory or 256
        result["windows"] = windows
        result["window_s"] = duration
        if old is not None:  # the other tree first, on the same data directory (one server at a time)
            _say(f"serving with {old}")
            result["old"] = _serve(data_dir, keys, connections, duration, args, windows, source=old)
            _say("serving with this tree")
        result["serve"] = _serve(data_dir, keys, connections, duration, args, windows)
    return result


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _serve_lines(s: dict[str, Any], windows: int, window_s: float, cache_mib: int) -> list[str]:
    lines = [f"  iamd serve start-up: {s['first_start_s']} s the first time, {s['start_s']} s the second"
             f"   (target ≤ 2 s); RSS idle {s['rss_idle_mib']} MiB"]  # fmt: skip
    c = s["cold"]
    lines.append(f"  {'cold':>7}: {c['rps']:>8,.0f} req/s  p50 {c['p50_ms']:.2f} ms  p99 {c['p99_ms']:.2f} ms  "
                 f"server CPU {c['cpu_us']:,.0f} µs/req (children {c['children_cpu_us']:,.0f})")  # fmt: skip
    lines.append(f"  {windows} single and {windows} warm windows of {window_s:g} s, interleaved; medians:")
    for name in ("single", "warm"):
        w = s[name]
        lines.append(f"  {name:>7}: {w['rps']:>8,.0f} req/s  p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms "
                     f"(max {w['p99_max_ms']:.2f})  server CPU {w['cpu_us']:,.1f} µs/req "
                     f"(children {w['children_cpu_us']:,.1f})"
                     + (f"  ({w['bad']} failed)" if w["bad"] else ""))  # fmt: skip
        each = ", ".join(f"{x['rps']:,.0f}" for x in s["windows"][name])
        lines.append(f"           req/s of each window: {each}")
    lines.append(f"  warm / single: {s['warm_over_single']} req/s (each pair: {s['warm_over_single_pairs']}); "
                 f"server CPU per request single / warm: {s['cpu_single_over_warm']}"
                 "   (target ≥ 0.8, p99 ≤ 10 ms)")  # fmt: skip
    lines.append(f"  RSS after the windows (--cache-memory {cache_mib}): server {s['rss_mib']} MiB, "
                 f"its children {s['rss_children_mib']} MiB   (target ≤ 400 MiB)")  # fmt: skip
    return lines


def report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['users']:,} users, each with a key and two managed policies; {r['callers']:,} distinct callers",
        f"  load file: {r['file_mib']} MiB (written in {r['generate_s']} s); database: {r['database_mib']} MiB",
        f"  iamd db load: {r['load']['wall_s']} s wall, {r['load']['cpu_s']} s CPU, peak RSS "
        f"{r['load']['peak_rss_mib']} MiB   (target ≤ 600 s)",
    ]
    if "old" in r:
        lines.append("--old tree:")
        lines += _serve_lines(r["old"], r["windows"], r["window_s"], r["cache_memory_mib"])
        lines.append("this tree:")
    lines += _serve_lines(r["serve"], r["windows"], r["window_s"], r["cache_memory_mib"])
    if "old" in r:
        o, n = r["old"], r["serve"]
        lines.append(f"  new / old: warm req/s {n['warm']['rps'] / o['warm']['rps']:.2f}, "
                     f"warm server CPU µs/req {n['warm']['cpu_us'] / o['warm']['cpu_us']:.2f}, "
                     f"single server CPU µs/req {n['single']['cpu_us'] / o['single']['cpu_us']:.2f}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of each window")
    parser.add_argument("--windows", type=int, default=5, help="single-caller and warm windows, interleaved")
    parser.add_argument("--old", type=Path, default=None,
                        help="also serve the same load with the iamd of this source tree first (a worktree of "
                        "the commit before): both trees' figures in one run")  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the file, data directory and callers' keys here; a later run with the same "
                        "--keep serves them again without loading")  # fmt: skip
    parser.add_argument("--cache-memory", type=int, default=None, help="iamd serve --cache-memory MIB (default 256)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.callers <= args.users:
        parser.error("--callers must be between 1 and --users")
    result = measure(args.users, args.callers, connections=args.connections, duration=args.duration,
                     windows=args.windows, keep=args.keep, cache_memory=args.cache_memory, old=args.old)  # fmt: skip
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
