"""What another process's writes cost a process's requests: ``python -m bench.server.feed [--writes N]``.

Starts a throwaway PostgreSQL cluster (fsync on), and three backends on one database, each what
one ``iamd serve`` process holds: a writer, and two readers whose watchers are polled by the
bench, one applying the writer's change sets from the change feed (``iamd/store/feed.py``,
what ``Backend.watch`` runs), one dropping everything at each foreign write (the watcher
without the feed: every process before session 15, SQLite now). After one write of the
writer (the feed's reader listens from its first poll, which sees it), the readers serve one
signed GetUser for each of ``--callers`` callers (a user with a key and two managed policies),
then, ``--writes`` times: the writer creates or deletes a user of its own (unrelated to the
callers), and each reader polls once and serves the next caller's GetUser. Prints per reader
the CPU of the process per poll and request (``time.process_time``: the request's worker
thread included), the requests answered from the cache (their caller's key known before it)
and the polls that dropped everything; the two readers are measured in the same run, in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamd.api import Backend, create_app
from iamd.api.watcher import GenerationWatcher
from iamd.store.changes import Change, Entity, Verb

from .baseline import ROOT
from .callers import ACCOUNT, Key, prepare, signed
from .cpu import ROOT_KEY, ROOT_SECRET, _feed, query_protocol

__all__ = ["main", "measure"]


class _Reader:
    def __init__(self, backend: Backend, feed: bool) -> None:
        self.backend = backend
        self.watcher = backend.watch(60) if feed else GenerationWatcher(backend.store, backend.changed, interval=60)
        self.loop = asyncio.new_event_loop()
        self.protocol, self.transport = query_protocol(create_app(backend), self.loop)
        self.cpu = 0.0
        self.warm = 0

    def turn(self, key: Key, raw: bytes) -> None:
        start = time.process_time()
        self.watcher.check()
        self.warm += self.backend.knows_key(key.access_key_id)
        if _feed(self.protocol, self.transport, [raw], self.loop) != 1:
            raise RuntimeError("a caller's GetUser failed")
        self.cpu += time.process_time() - start


def measure(writes: int, callers: int) -> dict[str, dict[str, float]]:
    sys.path.insert(0, str(ROOT))
    import psycopg

    from tests.store.postgres import start_cluster

    cluster = start_cluster(durable=True)
    opened: list[Backend] = []
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench_feed")
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(3):
                opened.append(Backend.open(cluster.url("bench_feed"), Path(tmp), dev=True, env=env)[0])
            writer = opened[0]
            keys = prepare(writer, callers)
            raws = signed(keys, 8000)
            readers = {"feed": _Reader(opened[1], True), "drop all": _Reader(opened[2], False)}
            with (
                writer.store.transaction() as tx
            ):  # seen by the readers' first poll: the feed's is listening from then on
                tx.create_user(ACCOUNT, "bench-first")
            for reader in readers.values():
                reader.watcher.check()
                reader.watcher.foreign_writes = 0
                if _feed(reader.protocol, reader.transport, raws, reader.loop) != callers:
                    raise RuntimeError("the warm-up requests failed")
                reader.cpu = 0.0
            for i in range(writes):
                with writer.store.transaction() as tx:
                    if i % 2:
                        tx.delete_user(ACCOUNT, f"bench-w{i - 1}")
                    else:
                        tx.create_user(ACCOUNT, f"bench-w{i}")
                for reader in readers.values():
                    reader.turn(keys[i % callers], raws[i % callers])
            result = {
                name: {"cpu_us": r.cpu / writes * 1e6, "warm": r.warm / writes, "drops": r.watcher.foreign_writes}
                for name, r in readers.items()
            }
            for r in readers.values():
                r.loop.close()
    finally:
        for backend in opened:
            backend.close()
        cluster.stop()
    return result


def notify_cost(calls: int, rounds: int) -> dict[str, float]:
    """``--notify``: a write's lock and commit with its flush on one connection, its last statement
    a ``SELECT`` of the payload's length or the feed's notification (``driver.commit_after``, as
    the write path sends it beside the audit event), in turns, one
    other connection listening (drained every 100 writes, as a poll would find them); µs of CPU
    per write of this thread, of the writer's backend and of the listener's backend (``/proc``)."""
    import psycopg

    from iamd.store import driver
    from iamd.store.base import _BEGIN_AND_LOCK
    from iamd.store.engine import make_engine
    from iamd.store.feed import CHANNEL, NOTIFY, notified
    from iamd.store.store import _COMMIT_AND_FLUSH, _FLUSH

    from .pg_statement import _backend_cpu, migrated_database

    with migrated_database("bench_notify") as url:
        engine = make_engine(url, pool_size=1)
        text = notified((Change(Entity.USER, ACCOUNT, "bench-w000001", Verb.CREATED),), "bench")
        with engine.connect() as conn, psycopg.connect(url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            pg: Any = conn.connection.driver_connection
            pid = int(pg.info.backend_pid)
            pg.autocommit = True

            def commit(sql: str) -> None:  # after the lock: ``sql`` with the COMMIT, as the write's last statements
                driver.execute_sql(conn, _BEGIN_AND_LOCK, None).fetchone()
                if driver.commit_after(conn, [(sql, {"feed": text})], _FLUSH) is None:  # not prepared yet
                    driver.execute_sql(conn, sql, {"feed": text})
                    driver.simple_query(pg, _COMMIT_AND_FLUSH)

            def plain() -> None:  # a statement of the same shape that notifies no one
                commit("SELECT length(%(feed)s)")

            def notifying() -> None:
                commit(NOTIFY)

            totals = dict.fromkeys([f"{way}{what}" for way in ("plain", "notify")
                                    for what in ("", "_pg", "_listener", "_drain")], 0.0)  # fmt: skip
            for fn in (plain, notifying):
                for _ in range(20):
                    fn()
            list(listener.notifies(timeout=0))
            for _ in range(rounds):
                for label, fn in (("plain", plain), ("notify", notifying)):
                    cpu, backend, heard = time.thread_time(), _backend_cpu(pid), _backend_cpu(listener.info.backend_pid)
                    drained = 0.0
                    for i in range(calls):
                        fn()
                        if i % 100 == 99 or i == calls - 1:
                            drain = time.thread_time()
                            list(listener.notifies(timeout=0))
                            drained += time.thread_time() - drain
                    totals[label] += time.thread_time() - cpu - drained
                    totals[label + "_drain"] += drained
                    totals[label + "_pg"] += _backend_cpu(pid) - backend
                    totals[label + "_listener"] += _backend_cpu(listener.info.backend_pid) - heard
        engine.dispose()
    return {k: v / (calls * rounds) * 1e6 for k, v in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.feed", description=__doc__)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--notify", action="store_true", help="what the notification costs a write's commit")
    parser.add_argument("--rounds", type=int, default=3, help="--notify: rounds of --writes writes each way")
    args = parser.parse_args(argv)
    if args.notify:
        r = notify_cost(args.writes, args.rounds)
        print(f"a write's lock and commit, without -> with the notification, µs CPU per write: iamd {r['plain']:.1f}"
              f" -> {r['notify']:.1f}, the writer's backend {r['plain_pg']:.1f} -> {r['notify_pg']:.1f}, the"
              f" listener's backend {r['plain_listener']:.1f} -> {r['notify_listener']:.1f}, the listener's"
              f" reading {r['plain_drain']:.1f} -> {r['notify_drain']:.1f}")  # fmt: skip
        return 0
    result = measure(args.writes, args.callers)
    print(f"{args.writes} writes of another process, each followed by one poll and one caller's GetUser "
          f"({args.callers} callers, round robin), per reader:")  # fmt: skip
    for name, r in result.items():
        print(f"  {name:9} {r['cpu_us']:7.0f} µs CPU per poll and request, {r['warm'] * 100:5.1f}% answered from"
              f" the cache, dropped everything {r['drops']:.0f} times")  # fmt: skip
    feed, drop = result["feed"]["cpu_us"], result["drop all"]["cpu_us"]
    print(f"  feed / drop all: {feed / drop:.2f}x CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
