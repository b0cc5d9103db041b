"""Store latency with many users: ``python -m tests.store.bench_store [--users N] [--backend B]``.

Loads N users in batches (``bulk_create_users``), then times get_user, the first
list_users page (plain and with a path prefix), a page deep inside via its marker,
lookup_access_key and single CreateUser transactions. PostgreSQL runs in a throwaway
cluster with durable settings (fsync on); SQLite in a temp file (WAL, synchronous=NORMAL).
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from iamd.store import Store, migrate, open_store
from iamd.store.store import SqlStore
from tests.store.postgres import start_cluster

ACCOUNT = "123456789012"


def _time(fn: Callable[[int], object], n: int) -> str:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return f"median {statistics.median(samples):.3f} ms, p95 {samples[int(n * 0.95) - 1]:.3f} ms"


def run(url: str, users: int) -> None:
    migrate.upgrade(url)
    store: Store = open_store(url)
    with store.transaction() as tx:
        tx.create_account(ACCOUNT)
    names = [f"user{n:07d}" for n in range(users)]
    start = time.perf_counter()
    for batch in range(0, users, 5000):
        with store.transaction() as tx:
            tx.bulk_create_users(ACCOUNT, names[batch : batch + 5000], path="/bulk/" if batch % 10000 else "/")
    print(f"  bulk insert {users} users: {time.perf_counter() - start:.1f} s")
    assert isinstance(store, SqlStore)
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    with store.transaction() as tx:
        tx.create_user(ACCOUNT, "keyholder")
        tx.create_access_key(ACCOUNT, "keyholder", "AKIABENCH00000000001", b"sealed")
    rng = random.Random(7)

    def get_user(_: int) -> None:
        with store.read() as r:
            r.get_user(ACCOUNT, rng.choice(names).upper())

    def first_page(_: int) -> None:
        with store.read() as r:
            assert len(r.list_users(ACCOUNT).items) == 100

    def first_page_prefix(_: int) -> None:
        with store.read() as r:
            assert len(r.list_users(ACCOUNT, path_prefix="/bulk/").items) == 100

    with store.read() as r:
        marker = r.list_users(ACCOUNT, max_items=1000).marker
        for _ in range(users // 2000):
            marker = r.list_users(ACCOUNT, marker=marker, max_items=1000).marker

    def deep_page(_: int) -> None:
        with store.read() as r:
            r.list_users(ACCOUNT, marker=marker)

    def lookup_key(_: int) -> None:
        with store.read() as r:
            r.lookup_access_key("AKIABENCH00000000001")

    def create_user(i: int) -> None:
        with store.transaction() as tx:
            tx.create_user(ACCOUNT, f"new{i}")

    print(f"  get_user:                         {_time(get_user, 2000)}")
    print(f"  list_users first page (100):      {_time(first_page, 300)}")
    print(f"  list_users first page, prefix:    {_time(first_page_prefix, 300)}")
    print(f"  list_users page at the middle:    {_time(deep_page, 300)}")
    print(f"  lookup_access_key:                {_time(lookup_key, 2000)}")
    print(f"  create_user (one transaction):    {_time(create_user, 1000)}")
    with store.read() as r:
        print(f"  count_users:                      {_time(lambda _: r.count_users(ACCOUNT), 20)}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            run(f"sqlite:///{Path(tmp) / 'iamd.db'}", args.users)
    if args.backend in ("postgresql", "both"):
        cluster = start_cluster(durable=True)
        try:
            print("PostgreSQL")
            run(cluster.url(), args.users)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
