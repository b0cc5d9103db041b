"""Many distinct callers: ``python -m bench.server.callers [--callers N ...] [--socket]``.

The cache cliff: every request comes from another IAM user, so what one caller's request
leaves in the caches (its credential, its compiled policy set, its user) is only useful if it
is still there when that caller comes back. Each caller is an IAM user with its own access
key and the same two attached managed policies (a customer managed policy and AWS's
``IAMReadOnlyAccess``), the common shape of a real account; each request is a signed
``GetUser`` of the caller itself.

Per caller count: a *cold* pass (every caller's first request, in random order: its key,
user and policy set are not cached yet) and two *warm* passes (every caller again, each in
another random order). In process (the default), requests go through ``iamd serve``'s HTTP
protocol on a fake transport (as ``bench.server.cpu``) and the figure is CPU per request
(``time.process_time``: every thread of the process); ``--socket`` also starts ``iamd serve``
on the same database and replays the pre-signed requests over loopback connections (the
cold pass once each, then the warm windows cycling them): requests per second and latency.
``--memory`` traces Python's memory from before the cold pass (``tracemalloc``, which also slows
the CPU figures of that run): the bytes per caller the cache held after the last pass (what
clearing it freed), beside the cache's own estimate of them and what the process grew by.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from iamd.api import Backend, create_app
from iamd.cli.server import tune_runtime
from iamd.crypto import access_key_context, new_access_key_id, new_secret_access_key
from iamd.store import EntityKind

from .cpu import _feed, query_protocol
from .servers import ROOT_KEY, ROOT_SECRET
from .signing import Key, query_body, sign_query

__all__ = ["measure", "prepare"]

ACCOUNT = "123456789012"
AWS_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
SHARED_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "OwnKeys", "Effect": "Allow", "Action": ["iam:*AccessKey*"],
         "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Sid": "NoAdmins", "Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:user/admin/*"},
        {"Sid": "Tagged", "Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    ],
})  # fmt: skip


def prepare(backend: Backend, callers: int, seed: int = 11) -> list[Key]:
    """Create ``callers`` users, each with a key and the two managed policies; their keys, in random order."""
    names = [f"caller{i:06d}" for i in range(callers)]
    keys: list[Key] = []
    store = backend.store
    with store.transaction() as tx:
        shared = tx.create_policy(ACCOUNT, "bench-callers", SHARED_POLICY)
    for start in range(0, callers, 2000):
        with store.transaction() as tx:
            tx.bulk_create_users(ACCOUNT, names[start : start + 2000])
            for name in names[start : start + 2000]:
                key_id = new_access_key_id(account_id=ACCOUNT)
                secret = new_secret_access_key()
                sealed = backend.secret_box.seal(secret, context=access_key_context(key_id)).encode()
                tx.create_access_key(ACCOUNT, name, key_id, sealed)
                tx.attach_policy(EntityKind.USER, ACCOUNT, name, shared.arn)
                tx.attach_policy(EntityKind.USER, ACCOUNT, name, AWS_READ_ONLY)
                keys.append(Key(key_id, secret))
    random.Random(seed).shuffle(keys)
    return keys


def signed(keys: list[Key], port: int) -> list[bytes]:
    """One signed GetUser (of itself) per caller."""
    body = query_body("GetUser")
    return [sign_query("127.0.0.1", port, key, [body])[0] for key in keys]


def _passes(backend: Backend, keys: list[Key], rounds: int, seed: int, memory: dict[str, Any] | None = None,
            preload: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    app = create_app(backend)
    tune_runtime()
    loop = asyncio.new_event_loop()
    protocol, transport = query_protocol(app, loop)
    rng = random.Random(seed)
    out = []
    if preload:  # the credential index's bulk load, as iamd serve --cache-preload runs it, timed on its own
        cpu, wall = time.process_time(), time.perf_counter()
        loaded = backend.credentials.preload(len(keys) + 1)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        out.append({"pass": "preload", "cpu_us_per_request": cpu / max(loaded, 1) * 1e6, "credentials": loaded,
                    "one_core_rps": loaded / cpu if cpu else 0.0, "wall_s": round(wall, 2)})  # fmt: skip
    try:
        if memory is not None:  # what the callers' entries hold: traced from before the cold pass
            gc.collect()
            tracemalloc.start()
            start = tracemalloc.get_traced_memory()[0]
        for i in range(rounds):
            order = list(keys)
            if i:
                rng.shuffle(order)
            raws = signed(order, 8000)  # signed per pass: a signature expires 15 minutes after its date
            assert backend.audit is not None
            backend.audit.flush()
            cpu, wall = time.process_time(), time.perf_counter()
            ok = _feed(protocol, transport, raws, loop)
            backend.audit.flush()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if ok != len(order):
                raise RuntimeError(f"{len(order) - ok} of {len(order)} requests failed")
            out.append({"pass": "cold" if i == 0 else f"warm{i}", "cpu_us_per_request": cpu / len(order) * 1e6,
                        "one_core_rps": len(order) / cpu if cpu else 0.0})  # fmt: skip
        if memory is not None:
            transport.written.clear()  # the responses, not the server's
            gc.collect()
            warm = tracemalloc.get_traced_memory()[0]
            estimate = backend.cache.approximate_bytes
            backend.cache.clear()
            gc.collect()
            left = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            memory["grown_bytes_per_caller"] = round((warm - start) / len(keys))
            memory["cache_bytes_per_caller"] = round((warm - left) / len(keys))
            memory["cache_estimate_bytes_per_caller"] = round(estimate / len(keys))  # the cache's _SIZE estimates
    finally:
        loop.close()
    return out


def _socket(data_dir: Path, url: str, keys: list[Key], connections: int, duration: float) -> dict[str, Any]:
    from .load import run_python
    from .servers import start_iamd

    server = start_iamd("iamd-callers", data_dir, database=url)
    try:
        port = server.port
        fixed = signed(keys, port)
        cold = run_python("127.0.0.1", port, fixed, connections=connections, duration=None)
        fixed = signed(keys, port)
        warm = run_python("127.0.0.1", port, fixed, connections=connections, duration=duration)
    finally:
        server.stop()
    return {
        name: {"rps": round(r.rps, 1), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "bad": r.bad_status + r.errors}
        for name, r in (("cold", cold), ("warm", warm))
    }


def measure(callers: int, *, rounds: int = 3, sockets: bool = False, connections: int = 8,
            duration: float = 10.0, memory: bool = False, preload: bool = False) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="iamd-callers-") as tmp:
        data_dir = Path(tmp) / "data"
        url = f"sqlite:///{Path(tmp) / 'iamd.db'}"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(url, data_dir, dev=True, env=env)
        try:
            t0 = time.perf_counter()
            keys = prepare(backend, callers)
            setup_s = time.perf_counter() - t0
            backend.audit_in_process(url)  # as ``iamd serve`` runs: the audit writer's CPU is not this process's
            result: dict[str, Any] = {"callers": callers, "setup_s": round(setup_s, 1)}
            traced: dict[str, Any] | None = {} if memory else None
            result["in_process"] = _passes(backend, keys, rounds, seed=callers, memory=traced, preload=preload)
            if traced is not None:
                result["memory"] = traced
        finally:
            backend.close()
        if sockets:
            result["socket"] = _socket(data_dir, url, keys, connections, duration)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.callers", description=__doc__)
    parser.add_argument("--callers", type=int, nargs="+", default=[10_100, 20_000])
    parser.add_argument("--rounds", type=int, default=3, help="passes over all callers (the first is cold)")
    parser.add_argument("--socket", action="store_true", help="also measure over loopback against iamd serve")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the warm socket window")
    parser.add_argument("--json", action="store_true", help="one JSON line per caller count")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also trace Python memory (tracemalloc, which slows the CPU figures): bytes per warm caller",
    )
    parser.add_argument("--preload", action="store_true", help="load the credential index before the cold pass "
                        "(iamd serve --cache-preload; its CPU per credential is the pass 'preload')")  # fmt: skip
    args = parser.parse_args(argv)
    for n in args.callers:
        r = measure(n, rounds=args.rounds, sockets=args.socket, connections=args.connections, duration=args.duration,
                    memory=args.memory, preload=args.preload)  # fmt: skip
        if args.json:
            print(json.dumps(r), flush=True)
            continue
        print(f"{r['callers']:,} distinct callers (set-up {r['setup_s']} s)")
        for p in r["in_process"]:
            per = "credential" if p["pass"] == "preload" else "request"
            print(f"  in process, {p['pass']:>5}: {p['cpu_us_per_request']:8.1f} µs CPU/{per} "
                  f"({p['one_core_rps']:,.0f} req/s on one core)")  # fmt: skip
        if "memory" in r:
            m = r["memory"]
            print(f"  memory (tracemalloc): {m['cache_bytes_per_caller']:,} bytes per warm caller held by the cache "
                  f"(its estimate {m['cache_estimate_bytes_per_caller']:,}); the process grew "
                  f"{m['grown_bytes_per_caller']:,} per caller")  # fmt: skip
        for name, s in r.get("socket", {}).items():
            print(f"  socket, {args.connections} conns, {name:>4}: {s['rps']:,.0f} req/s, p50 {s['p50_ms']:.2f} ms, "
                  f"p99 {s['p99_ms']:.2f} ms, {s['bad']} bad")  # fmt: skip
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
