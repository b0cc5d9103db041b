"""The trail's readers on a large trail: each query's time before and after a schema change.

    python -m bench.audit_queries                          # 1,000,000 events, SQLite, main against this tree
    python -m bench.audit_queries --events 200000 --postgres   # on a throwaway PostgreSQL cluster

A trail of ``--events`` events is stored by the base revision's own store (its schema, its
indexes): 50 IAM users' ``GetUser`` calls, one in ten denied, random request ids (``uuid4``, as
the server draws them), three seconds apart in all; one event in 10,000 a ``CreateUser`` (a write)
and one in 100,000 a read by a rare user (one in 200,000 denied). A copy is then upgraded by this tree's migrations
(timed), and every reader's query runs on each side with that side's store (``list_audit_events``
with each filter, ``find_audit_events``, ``scan_audit_events``): the median of ``--repeat`` runs
after one to warm the caches, in ms, wall time and (in brackets) the measuring process's CPU
time (on PostgreSQL the server's CPU is not in it). The queries are the console's and ``iamd trail``'s (a page
of 100), the troubleshooter's (writes since a time, a request id's events) and retention's (the
oldest 1,000). Wall time: compare the two sides of one run (docs/audit.md, "Indexes").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 2000
ACCOUNT = "123456789012"


def build(url: str, events: int) -> dict[str, Any]:
    """Store ``events`` events with the side's store (run with the base revision's iamd first on sys.path)."""
    import dataclasses
    import uuid

    from bench.audit import _events
    from iamd.store import compact_audit_event, migrate, open_store

    migrate.upgrade(url)
    store = open_store(url)
    template = _events(BATCH)
    start = template[0].event_time
    picks: dict[str, str] = {}
    try:
        for first in range(0, events, BATCH):
            batch = []
            for i, event in enumerate(template[: min(BATCH, events - first)]):
                n = first + i
                changes: dict[str, Any] = {"request_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()),
                                           "event_time": start + _seconds(3 * n // 100)}  # fmt: skip
                if n % 10_000 == 5_000:
                    changes |= {"event_name": "CreateUser", "error_code": None, "error_message": None,
                                "request_parameters": {"UserName": f"new-{n}"}}  # fmt: skip
                if n % 100_000 == 50_001:
                    changes |= {"user_identity": {**event.user_identity, "userName": "carol",
                                                  "arn": f"arn:aws:iam::{ACCOUNT}:user/carol"}}  # fmt: skip
                    if n % 200_000 == 50_001:  # half of them denied
                        changes |= {"error_code": "AccessDenied", "error_message": "denied"}
                event = dataclasses.replace(event, **changes)
                if n == events // 2:
                    picks["read"] = event.request_id
                if n == events // 2 + 9 - (events // 2) % 10:
                    picks["denied"] = event.request_id
                batch.append(compact_audit_event(event))
            store.append_audit_events(batch)
    finally:
        store.close()
    picks["since"] = (start + _seconds(3 * events // 100 - 3600)).isoformat()  # the last hour
    return picks


def _seconds(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)


def queries(url: str, picks: dict[str, str], repeat: int) -> dict[str, float]:
    """Each reader's query on the trail at ``url``, median ms of ``repeat`` runs after a warm-up."""
    from datetime import datetime

    from iamd.store import open_store

    store = open_store(url)
    since = datetime.fromisoformat(picks["since"])
    asks = {
        "newest 100": lambda tx: tx.list_audit_events(ACCOUNT, max_items=100),
        "user (2% of events), 100": lambda tx: tx.list_audit_events(ACCOUNT, user_name="user-07", max_items=100),
        "user (10 events), 100": lambda tx: tx.list_audit_events(ACCOUNT, user_name="carol", max_items=100),
        "event GetUser, 100": lambda tx: tx.list_audit_events(ACCOUNT, event_name="GetUser", max_items=100),
        "event CreateUser (1 in 10,000), 100": lambda tx: tx.list_audit_events(
            ACCOUNT, event_name="CreateUser", max_items=100
        ),
        "errors, 100": lambda tx: tx.list_audit_events(ACCOUNT, errors_only=True, max_items=100),
        "errors of a user (2%), 100": lambda tx: tx.list_audit_events(
            ACCOUNT, user_name="user-09", errors_only=True, max_items=100
        ),
        "errors of a user with 10 events": lambda tx: tx.list_audit_events(
            ACCOUNT, user_name="carol", errors_only=True, max_items=100
        ),
        "writes in the last hour, 1,000": lambda tx: tx.list_audit_events(
            ACCOUNT, start=since, writes_only=True, max_items=1000
        ),
        "last hour, page of 1,000": lambda tx: tx.list_audit_events(ACCOUNT, start=since, max_items=1000),
        "request id of a denied read": lambda tx: tx.find_audit_events(picks["denied"]),
        "request id of a denied read, failures only": lambda tx: _find(tx, picks["denied"], notable_only=True),
        "request id of a successful read": lambda tx: tx.find_audit_events(picks["read"]),
        "unknown request id, failures only": lambda tx: _find(tx, UNKNOWN, notable_only=True) or [None],
        "unknown request id": lambda tx: tx.find_audit_events(UNKNOWN) or [None],
        "oldest 1,000 (retention)": lambda tx: tx.scan_audit_events(limit=1000),
    }
    out: dict[str, float] = {}
    try:
        for name, ask in asks.items():
            times, cpu = [], []
            found = 0
            for _ in range(repeat + 1):
                t0, c0 = time.perf_counter(), time.process_time()
                with store.read() as tx:
                    got = ask(tx)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                found = len(got.items if hasattr(got, "items") else got)
            assert found, name
            out[name] = statistics.median(times[1:]) * 1000
            out[f"{name} cpu"] = statistics.median(cpu[1:]) * 1000
    finally:
        store.close()
    return out


UNKNOWN = "00000000-dead-4000-8000-000000000000"  # a request id that is not in the trail


def _find(tx: Any, request_id: str, **kwargs: Any) -> Any:
    """``find_audit_events`` with this tree's keywords; the base revision's without the ones it lacks
    (before ``notable_only``, the whole lookup: what the console's why page asked)."""
    try:
        return tx.find_audit_events(request_id, **kwargs)
    except TypeError:
        return tx.find_audit_events(request_id)


def upgrade(url: str) -> float:
    """This tree's migrations on the base revision's trail: seconds."""
    from iamd.store import migrate

    t0 = time.perf_counter()
    migrate.upgrade(url)
    return time.perf_counter() - t0


def _run(root: Path, call: str) -> Any:
    code = f"import sys; sys.path.insert(0, {str(root)!r}); sys.path.insert(1, {str(ROOT)!r}); import json; " \
           f"from bench.audit_queries import *; print(json.dumps({call}))"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{root}:{ROOT}"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{call[:40]}… failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from bench.audit import _extract

    parser = argparse.ArgumentParser(prog="python -m bench.audit_queries", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the git revision whose store fills the trail (default: main)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL cluster instead of SQLite")
    args = parser.parse_args(argv)
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        base_root = _extract(args.base, Path(tmp))
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from sqlalchemy import text

            from iamd.store.engine import make_engine
            from tests.store.postgres import start_cluster

            cluster = start_cluster()
            old_url, new_url = cluster.url("trail_base"), cluster.url("trail_new")
            admin = make_engine(cluster.url())
        try:
            if args.postgres:
                with admin.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("CREATE DATABASE trail_base"))
            else:
                old_url, new_url = f"sqlite:///{tmp}/base.db", f"sqlite:///{tmp}/new.db"
            t0 = time.perf_counter()
            picks = _run(base_root, f"build({old_url!r}, {args.events})")
            filled = time.perf_counter() - t0
            if args.postgres:
                with admin.connect() as conn:
                    auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                    auto.execute(text("CREATE DATABASE trail_new TEMPLATE trail_base"))
                for url in (old_url, new_url):
                    engine = make_engine(url)
                    with engine.connect() as conn:
                        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                            text("VACUUM ANALYZE audit_events")
                        )
                    engine.dispose()
            else:
                shutil.copy(f"{tmp}/base.db", f"{tmp}/new.db")
            migration = _run(ROOT, f"upgrade({new_url!r})")
            if args.postgres:
                engine = make_engine(new_url)
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE audit_events"))
                engine.dispose()
            before = _run(base_root, f"queries({old_url!r}, {picks!r}, {args.repeat})")
            after = _run(ROOT, f"queries({new_url!r}, {picks!r}, {args.repeat})")
        finally:
            if cluster is not None:
                admin.dispose()
                cluster.stop()
    dialect = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{args.events:,} events on {dialect} (filled in {filled:.0f} s by {args.base}); "
          f"this tree's migrations on it: {migration:.1f} s; median of {args.repeat}, ms")  # fmt: skip
    print(f"{'query':40} {args.base + ' wall (cpu)':>22} {'this tree wall (cpu)':>22}")
    for name in (n for n in before if not n.endswith(" cpu")):
        old, new = (
            f"{before[name]:.1f} ({before[name + ' cpu']:.1f})",
            f"{after[name]:.1f} ({after[name + ' cpu']:.1f})",
        )
        print(f"{name:40} {old:>22} {new:>22}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
