"""CPU of one write-path statement on PostgreSQL, psycopg's cursor against iamd's driver:
``python -m bench.server.pg_statement [--calls N] [--rounds R]``.

Starts a throwaway cluster with fsync on (``tests/store/postgres.py``), migrates a database and
runs, on ONE connection, in turns (so that the machine's load weighs on both alike):

* ``select``: the authorization's read of a user (``iamd.store.users._GET_USER``, one indexed
  row) — through a new psycopg cursor per call, as ``iamd/store/driver.py`` ran it before session
  13, and through ``driver.first`` (iamd's prepared statement on libpq);
* ``lock+commit``: the writers' lock with ``BEGIN`` and the commit with its durable flush (the
  query strings of ``iamd.store.base`` and ``iamd.store.store``) — through psycopg's
  ``Connection.execute``, and through the driver (libpq; the statement after ``BEGIN``/``COMMIT``
  as ``EXECUTE`` of a statement prepared once);
* ``lock+read``: ``BEGIN``, the lock and the authorization's read above (a one-row statement
  under the lock), then the commit with its flush — the first three in two round trips, as
  before session 14, and in one (``driver.first_begun``: libpq's pipeline mode);
* ``event+commit``: the lock as above, then a write's audit event (``iamd.store.audit``'s insert)
  and the commit with its flush — in two round trips, as before session 14 (both ways through
  the driver), and in one (``driver.commit_after``: libpq's pipeline mode).

Prints µs of CPU per call of this thread (``time.thread_time``) and of the connection's backend
(``/proc``), each way, and new/old.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .baseline import ROOT

__all__ = ["main", "measure"]


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def migrated_database(name: str) -> Iterator[str]:
    """A throwaway cluster with fsync on (tests/store/postgres.py) holding database ``name`` at the
    schema's head: its URL; the cluster stopped after (``bench.server.pg_own``, ``bench.server.feed``)."""
    import psycopg

    from iamd.store import migrate

    sys.path.insert(0, str(ROOT))
    from tests.store.postgres import start_cluster

    cluster = start_cluster(durable=True)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        url = cluster.url(name)
        migrate.upgrade(url)
        yield url
    finally:
        cluster.stop()


def measure(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    from sqlalchemy import text

    from iamd.store import driver
    from iamd.store.audit import _INSERT_ONE_PG
    from iamd.store.base import _BEGIN_AND_LOCK, _LOCK_WRITERS_SQL
    from iamd.store.engine import make_engine
    from iamd.store.store import _COMMIT_AND_FLUSH, _FLUSH
    from iamd.store.users import _GET_USER

    with migrated_database("bench_statement") as url:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as conn:
                conn.execute(text("INSERT INTO users (id, account_id, name, name_key, path, create_date)"
                                  " VALUES ('AIDABENCH', 'aws', 'Bench', 'bench', '/', now())"))  # fmt: skip
                conn.commit()
                pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                conn.commit()
                pg: Any = conn.connection.driver_connection
                sql = str(_GET_USER.compile(dialect=conn.dialect))
                params = {"account": "aws", "key": "bench"}

                def select_old() -> None:
                    cursor = pg.cursor()
                    cursor.execute(sql, params)
                    cursor.fetchone()

                def select_new() -> None:
                    driver.first(conn, _GET_USER, params)

                def lock_old() -> None:
                    cursor = pg.execute(_BEGIN_AND_LOCK)
                    cursor.nextset()
                    cursor.fetchone()
                    pg.execute(_COMMIT_AND_FLUSH)

                def lock_new() -> None:
                    driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone()
                    driver.simple_query(pg, _COMMIT_AND_FLUSH)

                event = [b"e" * 16, b"r" * 16, 1_800_000_000, 1, 2, 3, 4, 5, 6, 7, 8, None, None, 9, 10,
                         '{"userName":"w00001"}', '{"user":{}}', None, None, None, 0]  # fmt: skip

                def event_old() -> None:
                    driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone()
                    event[0] = os.urandom(16)
                    driver.execute_sql(conn, _INSERT_ONE_PG, event).fetchone()
                    driver.simple_query(pg, _COMMIT_AND_FLUSH)

                def event_new() -> None:
                    driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone()
                    event[0] = os.urandom(16)
                    if driver.commit_after(conn, [(_INSERT_ONE_PG, event)], _FLUSH) is None:  # not prepared yet
                        driver.execute_sql(conn, _INSERT_ONE_PG, event)
                        driver.simple_query(pg, _COMMIT_AND_FLUSH)

                def locked_old() -> None:
                    driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone()
                    driver.first(conn, _GET_USER, params)
                    driver.simple_query(pg, _COMMIT_AND_FLUSH)

                def locked_new() -> None:
                    if driver.first_begun(conn, _LOCK_WRITERS_SQL, _GET_USER, params) is None:  # not prepared yet
                        locked_old()
                    else:
                        driver.simple_query(pg, _COMMIT_AND_FLUSH)

                pg.autocommit = True  # as a write's reads before the lock (Store.transaction(lock_later=True))
                ways: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
                    "select": (select_old, select_new),
                    "lock+commit": (lock_old, lock_new),
                    "lock+read": (locked_old, locked_new),
                    "event+commit": (event_old, event_new),
                }
                totals = {name: {"old": 0.0, "new": 0.0, "old_pg": 0.0, "new_pg": 0.0} for name in ways}
                for name, pair in ways.items():
                    for fn in pair:  # warm: psycopg prepares after five runs, iamd at the first
                        for _ in range(20):
                            fn()
                    for _ in range(rounds):
                        for label, fn in zip(("old", "new"), pair, strict=True):
                            cpu, backend = time.thread_time(), _backend_cpu(pid)
                            for _ in range(calls):
                                fn()
                            totals[name][label] += time.thread_time() - cpu
                            totals[name][label + "_pg"] += _backend_cpu(pid) - backend
                pg.autocommit = False
                n = calls * rounds
                return {name: {k: v / n * 1e6 for k, v in t.items()} for name, t in totals.items()}
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.pg_statement", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results = measure(args.calls, args.rounds)
    for name, r in results.items():
        piped = name in ("lock+read", "event+commit")
        ways = ("two round trips", "pipelined") if piped else ("psycopg's cursor", "driver")
        print(f"{name:12s} µs CPU per call: iamd {r['old']:.1f} ({ways[0]}) -> {r['new']:.1f} ({ways[1]}), "
              f"new/old {r['new'] / r['old']:.2f}; PostgreSQL's backend {r['old_pg']:.1f} -> "
              f"{r['new_pg']:.1f}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
