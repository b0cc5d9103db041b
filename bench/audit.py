"""The audit trail's cost: bytes per event on disk and CPU per event, a base revision against this tree.

    python -m bench.audit                      # main against the working tree, 20,000 events each
    python -m bench.audit --base HEAD~3 --events 50000 --json

Each side runs in its own process with its own ``iamd`` on ``sys.path`` (the base revision is
``git archive``\\ d into a temporary directory), on a fresh SQLite database, with the same events:
read events of 50 IAM users (``GetUser``, the engine's deciding statement, parameters), one in
ten denied (``AccessDenied`` with the decision). Measured per event, best of ``--rounds``:

* **server**: the request path's share, as under ``iamd serve``: queueing the event and the
  sender thread shipping its batch to the writer process (``wire``, where the side has it, then
  pickled as the pipe does; before ``wire``, the events pickled as they were);
* **writer**: the writer process's share: a batch (500) unpickled, its events built and stored in
  one transaction (``store_batch``, the writer's own function, on each side);
* **bytes**: the trail's tables and indexes on disk (SQLite ``dbstat``: every page in use)
  divided by the events stored.

The events are made first and frozen (``gc.freeze``): under ``iamd serve`` they are not in the
writer process, and no garbage collection there walks them. CPU is ``time.process_time`` of the
measuring process, so another process's load only adds noise, not its own CPU; compare both
sides of one run (docs/audit.md, "Cost").
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500


def _events(count: int) -> list[Any]:
    """The events of ``count`` calls. As in the server, a caller's ``userIdentity`` is one dictionary
    (``Caller.user_identity``) and a compiled set of deciding statements one tuple (``audit._statements``)."""
    from iamd.audit import CallEvent

    account = "123456789012"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    identities = [
        {"type": "IAMUser", "principalId": f"AIDA{u:016d}", "arn": f"arn:aws:iam::{account}:user/user-{u:02d}",
         "accountId": account, "accessKeyId": f"AKIA{u:016d}", "userName": f"user-{u:02d}"}
        for u in range(50)
    ]  # fmt: skip
    statement = {"policyName": "readers", "policyArn": f"arn:aws:iam::{account}:policy/readers",
                 "policyType": "identity", "policyKind": "managed", "policyOwner": None, "sid": "Read",
                 "statementIndex": 0, "effect": "Allow", "start": {"line": 1, "column": 40}}  # fmt: skip
    allowed, denying = (statement,), (statement | {"effect": "Deny", "sid": "NoReads"},)
    agent = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 command/iam.get-user"
    out = []
    for n in range(count):
        identity = identities[n % 50]
        target = f"arn:aws:iam::{account}:user/user-{(n * 7) % 50:02d}"
        denied = n % 10 == 9
        decision = (
            ("ExplicitDeny", "iam:GetUser", target, "identity", ({"type": "identity"},), denying, (), ())
            if denied else ("Allow", "iam:GetUser", target, None, (), allowed, (), ())
        )  # fmt: skip
        out.append(CallEvent(
            f"{n:08x}-0000-4000-8000-{n:012x}", start + timedelta(seconds=n // 20), "iam.amazonaws.com", "GetUser",
            "us-east-1", "10.0.0.7", agent, identity, account, {"UserName": target.rsplit("/", 1)[1]}, None,
            "AccessDenied" if denied else None, f"User: {identity['arn']} is not authorized" if denied else None,
            decision,
        ))  # fmt: skip
    return out


def _trail_bytes(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        (used,) = db.execute(
            "SELECT SUM(pgsize - unused) FROM dbstat WHERE name LIKE '%audit%'"
        ).fetchone()  # tables audit_events, audit_strings and every index on them
    return int(used or 0)


def _sender() -> Callable[[list[Any]], bytes]:
    """What the side's sender thread does with a batch: its items as shipped (``wire``, where the
    side has it; before, the events as they were), pickled as the pipe to the writer process does."""
    try:
        from iamd.api.audit_writer import wire  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return lambda items: bytes(ForkingPickler.dumps(items))
    return lambda items: bytes(ForkingPickler.dumps(wire(items)))


def worker(events: int, rounds: int) -> dict[str, float]:
    """One side's measures (run with that side's iamd first on sys.path)."""
    import iamd
    from iamd.api.audit_writer import store_batch
    from iamd.store import migrate, open_store

    ship = _sender()

    assert str(Path(iamd.__file__).resolve()).startswith(sys.path[0]), iamd.__file__
    corpus = _events(events)
    gc.freeze()  # the corpus is no part of either process under iamd serve: no collection walks it
    best_writer = best_server = float("inf")
    size = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "iamd.db"
            url = f"sqlite:///{path}"
            migrate.upgrade(url)
            store = open_store(url)
            try:
                server = writer = 0.0
                queue: list[Any] = []
                for i in range(0, events, BATCH):
                    batch = corpus[i : i + BATCH]
                    t0 = time.process_time()
                    for event in batch:
                        queue.append(event)
                    data = ship(queue)
                    queue = []
                    t1 = time.process_time()
                    store_batch(store, ForkingPickler.loads(data), {})
                    t2 = time.process_time()
                    server += t1 - t0
                    writer += t2 - t1
            finally:
                store.close()
            size = _trail_bytes(path)
        best_server = min(best_server, server / events)
        best_writer = min(best_writer, writer / events)
    return {"server_us": best_server * 1e6, "writer_us": best_writer * 1e6, "bytes": size / events}


def instructions(events: int) -> None:
    """What ``--callgrind`` runs under valgrind: a warm store, then ``events`` events queued,
    pickled and stored as under ``iamd serve`` (0: only the warm-up, to subtract)."""
    from iamd.api.audit_writer import store_batch
    from iamd.store import migrate, open_store

    ship = _sender()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'iamd.db'}"
        migrate.upgrade(url)
        store = open_store(url)
        warm = _events(BATCH)
        store_batch(store, ForkingPickler.loads(ship(warm)), {})  # strings interned, code warm
        corpus = _events(events)
        gc.freeze()
        for i in range(0, events, BATCH):
            data = ship(corpus[i : i + BATCH])
            store_batch(store, ForkingPickler.loads(data), {})
        store.close()


def _callgrind(root: Path, events: int) -> float:
    """Instructions per event (queue, pickle, unpickle, build, store): two runs under callgrind, subtracted."""
    counts = []
    for n in (0, events):
        code = f"import sys; sys.path.insert(0, {str(root)!r}); from bench.audit import instructions; instructions({n})"
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", sys.executable, "-c", code],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0"}, check=True,
                capture_output=True, text=True,
            )  # fmt: skip
        counts.append(int(next(ln for ln in out.stderr.splitlines() if "Collected" in ln).split()[-1]))
    return (counts[1] - counts[0]) / events


def _side(root: Path, events: int, rounds: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = f"import sys; sys.path.insert(0, {str(root)!r}); import json; from bench.audit import worker; " \
           f"print(json.dumps(worker({events}, {rounds})))"  # fmt: skip
    bench_dir = ROOT  # this bench's own code, the side's iamd
    out = subprocess.run([sys.executable, "-c", code], cwd=bench_dir, env=env, check=True, capture_output=True,
                         text=True)  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, "iamd"], cwd=ROOT, check=True, capture_output=True).stdout
    tar = into / "base.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the git revision to compare with (default: main)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--callgrind", type=int, default=0, metavar="N",
                        help="also count instructions per event under valgrind, N events (slow: minutes)")  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base_root = _extract(args.base, Path(tmp))
        base = _side(base_root, args.events, args.rounds)
        if args.callgrind:
            base["instructions"] = _callgrind(base_root, args.callgrind)
    this = _side(ROOT, args.events, args.rounds)
    if args.callgrind:
        this["instructions"] = _callgrind(ROOT, args.callgrind)
    results = {args.base: base, "this tree": this}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"audit trail, {args.events} events (9 in 10 allowed reads, 1 in 10 denied), best of {args.rounds}")
    print(f"{'':12} {'server µs/event':>16} {'writer µs/event':>16} {'total µs':>9} {'bytes/event':>12}")
    for name, r in results.items():
        total = r["server_us"] + r["writer_us"]
        extra = f" {r['instructions']:14,.0f} instructions/event" if "instructions" in r else ""
        print(f"{name:12} {r['server_us']:16.1f} {r['writer_us']:16.1f} {total:9.1f} {r['bytes']:12.0f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
