"""What another process's writes cost a process's requests: ``python -m bench.server.feed [--writes N]``.

Starts a throwaway PostgreSQL cluster (fsync on), and three backends on one database, each what
one ``iamd serve`` process holds: a writer, and two readers whose watchers are polled by the
bench, one applying the writer's change sets from the change feed (``iamd/store/feed.py``,
what ``Backend.watch`` runs), one dropping everything at each foreign write (the watcher
without the feed: every process before session 15, SQLite now). The readers first serve one
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

from iamd.api import Backend, create_app
from iamd.api.watcher import GenerationWatcher

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
            for reader in readers.values():
                reader.watcher.check()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.feed", description=__doc__)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--callers", type=int, default=200)
    args = parser.parse_args(argv)
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
