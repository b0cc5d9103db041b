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
   cold pass (every caller's first request, once each) and a warm window cycling them in
   another random order; beside it, the same window from one caller (the single-caller
   figure of the same server and client). The ratio warm / single is the figure of merit
   (target ≥ 0.8, p99 ≤ 10 ms).
4. **Memory.** ``VmRSS`` of the server (and of its audit writer) after the windows.

Targets (issue "Performance at scale"): load ≤ 10 minutes, start-up ≤ 2 s, RSS ≤ 400 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamd.crypto import new_access_key_id, new_secret_access_key

from .callers import SHARED_POLICY
from .load import LoadResult, run_python
from .servers import Server, start_iamd
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


def _serve(data_dir: Path, keys: list[Key], connections: int, duration: float, args: tuple[str, ...]) -> dict[str, Any]:
    first = start_iamd("iamd-scale", data_dir, args=args)  # the first start after the load, then a restart
    first_s = first.started_s
    first.stop()
    server: Server = start_iamd("iamd-scale", data_dir, args=args)
    try:
        out: dict[str, Any] = {"first_start_s": round(first_s, 2), "start_s": round(server.started_s, 2),
                               "rss_idle_mib": _rss_mib(server.pid)}  # fmt: skip
        port = server.port
        body = query_body("GetUser")
        one = sign_query("127.0.0.1", port, keys[0], [body] * 1)[0]
        run_python("127.0.0.1", port, [one], connections=1, duration=None)  # the single caller is warm
        out["single"] = _window(run_python("127.0.0.1", port, [one] * 64, connections=connections, duration=duration))
        signed = [sign_query("127.0.0.1", port, key, [body])[0] for key in keys]
        out["cold"] = _window(run_python("127.0.0.1", port, signed, connections=connections, duration=None))
        random.Random(3).shuffle(signed)
        out["warm"] = _window(run_python("127.0.0.1", port, signed, connections=connections, duration=duration))
        out["single_after"] = _window(
            run_python("127.0.0.1", port, [one] * 64, connections=connections, duration=duration)
        )
        out["rss_mib"] = _rss_mib(server.pid)
        out["rss_children_mib"] = [_rss_mib(child) for child in _children(server.pid)]
        single = (out["single"]["rps"] + out["single_after"]["rps"]) / 2
        out["warm_over_single"] = round(out["warm"]["rps"] / single, 2) if single else 0.0
    finally:
        server.stop()
    return out


def measure(users: int, callers: int, *, connections: int = 8, duration: float = 10.0,
            keep: Path | None = None, cache_memory: int | None = None) -> dict[str, Any]:  # fmt: skip
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
        result["serve"] = _serve(data_dir, keys, connections, duration, args)
    return result


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def report(r: dict[str, Any]) -> str:
    s = r["serve"]
    lines = [
        f"{r['users']:,} users, each with a key and two managed policies; {r['callers']:,} distinct callers",
        f"  load file: {r['file_mib']} MiB (written in {r['generate_s']} s); database: {r['database_mib']} MiB",
        f"  iamd db load: {r['load']['wall_s']} s wall, {r['load']['cpu_s']} s CPU, peak RSS "
        f"{r['load']['peak_rss_mib']} MiB   (target ≤ 600 s)",
        f"  iamd serve start-up: {s['first_start_s']} s the first time, {s['start_s']} s the second"
        f"   (target ≤ 2 s); RSS idle {s['rss_idle_mib']} MiB",
    ]
    for name in ("single", "cold", "warm", "single_after"):
        w = s[name]
        lines.append(f"  {name:>12}: {w['rps']:>8,.0f} req/s  p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms"
                     + (f"  ({w['bad']} failed)" if w["bad"] else ""))  # fmt: skip
    lines.append(f"  warm / single: {s['warm_over_single']}   (target ≥ 0.8, p99 ≤ 10 ms)")
    lines.append(f"  RSS after the windows (--cache-memory {r['cache_memory_mib']}): server {s['rss_mib']} MiB, "
                 f"its children {s['rss_children_mib']} MiB"
                 "   (target ≤ 400 MiB)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each warm window")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the file, data directory and callers' keys here; a later run with the same "
                        "--keep serves them again without loading")  # fmt: skip
    parser.add_argument("--cache-memory", type=int, default=None, help="iamd serve --cache-memory MIB (default 256)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.callers <= args.users:
        parser.error("--callers must be between 1 and --users")
    result = measure(args.users, args.callers, connections=args.connections, duration=args.duration, keep=args.keep,
                     cache_memory=args.cache_memory)  # fmt: skip
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
