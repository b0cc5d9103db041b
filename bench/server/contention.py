"""Reads beside writes, and writes side by side: ``python -m bench.server.contention``.

Each scenario runs the working tree's ``iamd serve --dev`` and another commit's (``--baseline``,
default ``main``, exported by ``bench/server/baseline.py``) in the same run, in turns, and
prints new/old ratios; the machine's load weighs on both alike.

* ``reads`` (SQLite and PostgreSQL): signed GetUser at 8 connections for a window, alone and
  then with one more connection doing CreateUser/DeleteUser pairs back to back (a writer in a
  closed loop). The figure is GetUser's requests per second with the writer over without it
  (the target: at least 0.8), and the writer's rate.
* ``writes`` (PostgreSQL, fsync on): CreateUser/DeleteUser pairs of distinct names at 1 and at
  8 connections (each connection cycles through its own names), requests per second; per
  window the CPU per request of iamd, PostgreSQL and the load generator, the cores iamd and
  the rest of the machine used, the machine's idle time, and what the server's PostgreSQL
  backends were doing (``pg_waits``); ``--postgres-set`` measures settings beside the defaults.

Requests are signed by the benchmark's caller (``bench-caller``: an inline policy allowing
``iam:*``), pre-signed, and sent by the Python client (``bench.server.client``); the writes by
wrk by default (``bench.server.wrk``; ``--client python`` or both).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .baseline import ROOT, checkout
from .client import write_requests
from .load import run_load, run_python
from .pg_waits import KINDS, WaitSampler
from .servers import Server, start_iamd
from .setup import TARGETS, get_user_bodies, setup_iamd, target_users, verify
from .signing import Key, query_body, sign_query
from .thread_states import STATES, ThreadSampler
from .wrk import available as wrk_available

__all__ = ["main"]

READERS = 8
TARGET_READ_RATIO = 0.8
TARGET_WRITES_8 = 1500.0


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def write_bodies(prefix: str, pairs: int) -> list[str]:
    """CreateUser then DeleteUser of the same name, ``pairs`` names: cycling them never conflicts."""
    out: list[str] = []
    for i in range(pairs):
        name = f"{prefix}{i:05d}"
        out += [query_body("CreateUser", {"UserName": name}), query_body("DeleteUser", {"UserName": name})]
    return out


@contextlib.contextmanager
def _writer(server: Server, requests: Sequence[bytes], seconds: float, tmp: Path) -> Iterator[None]:
    """One connection of CreateUser/DeleteUser pairs, in a closed loop, while the block runs."""
    path = tmp / f"writer-{server.port}.bin"
    write_requests(path, list(requests))
    command = [sys.executable, "-m", "bench.server.client", "--port", str(server.port), "--requests", str(path),
               "--connections", "1", "--duration", str(seconds)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(0.5)  # the writer's first requests are in flight before the readers start
    _writer.last = {}  # type: ignore[attr-defined]
    try:
        yield
    finally:
        out, err = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"writer failed: {err[-2000:]}")
        _writer.last = json.loads(out)  # type: ignore[attr-defined]


class _Postgres:
    """One throwaway cluster (fsync on); a new database per server."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.store.postgres import start_cluster

        self.cluster = start_cluster(durable=True)
        self._n = 0

    def database(self) -> str:
        import psycopg

        self._n += 1
        name = f"bench{self._n}"
        with psycopg.connect(self.cluster.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.cluster.url(name)

    def postmaster(self) -> int | None:
        """The cluster's server process (the parent of its backends), or None."""
        try:
            return int((self.cluster.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def configure(self, settings: dict[str, str]) -> None:
        """``ALTER SYSTEM SET`` each of ``settings`` (``RESET ALL`` first) and reload: the
        settings a reload applies (``commit_delay``, ``commit_siblings``, …) take effect for
        the servers' existing connections."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.cluster.url(), autocommit=True) as c:
            c.execute("ALTER SYSTEM RESET ALL")
            for name, value in settings.items():
                c.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            c.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # the backends apply a reload at their next command

    def wal_syncs(self) -> tuple[int, float]:
        """The log's syncs so far and their ms (``pg_stat_wal``), once the backends' pending
        statistics are in: a backend reports them at most once a second while busy and 10 s
        after it went idle, so this waits 11 s first."""
        import psycopg

        time.sleep(11)
        with psycopg.connect(self.cluster.url(), autocommit=True) as c:
            row = c.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
        assert row is not None
        return int(row[0]), float(row[1])

    def stop(self) -> None:
        self.cluster.stop()


WORKERS: dict[str, int] = {}  # version -> iamd serve --workers (default 1)


def _start(version: str, source: Path | None, tmp: Path, backend: str, pg: _Postgres | None) -> Server:
    database = pg.database() if backend == "postgresql" and pg is not None else None
    workers = WORKERS.get(version, 1)
    args = ("--workers", str(workers)) if workers > 1 else ()
    server = start_iamd(f"iamd-{version}-{backend}", tmp / f"{version}-{backend}", database=database, source=source,
                        args=args)  # fmt: skip
    if database is not None:
        server.extra["database"] = database.rpartition("/")[2]
    return server


def reads_with_writer(
    versions: dict[str, Path | None],
    backend: str,
    rounds: int,
    duration: float,
    tmp: Path,
    pg: _Postgres | None,
    client: str = "python",
) -> dict[str, Any]:
    """GetUser at 8 connections from ``client`` (wrk or the Python client), alone and beside one
    writer (the Python client, one connection, in a closed loop)."""
    servers: dict[str, Server] = {}
    keys: dict[str, Key] = {}
    try:
        for version, source in versions.items():
            _say(f"reads: starting {version} on {backend}")
            server = servers[version] = _start(version, source, tmp, backend, pg)
            keys[version] = setup_iamd(server)
            verify(server, keys[version], get_user_bodies(TARGETS[:1])[0])
        reads = get_user_bodies(target_users(TARGETS, 200))
        rows: dict[str, dict[str, list[float]]] = {
            v: {"alone": [], "with": [], "writer": [], "writer_alone": []} for v in versions
        }
        for r in range(rounds):
            order = list(versions) if r % 2 == 0 else list(versions)[::-1]
            for version in order:
                server, key = servers[version], keys[version]
                signed_reads = sign_query(server.host, server.port, key, reads)
                signed_writes = sign_query(server.host, server.port, key, write_bodies(f"r{r}w", 200))
                run_load(client, server.host, server.port, signed_reads, connections=READERS, duration=1)  # warm-up
                _say(f"  round {r + 1}/{rounds} {version}: the writer alone")
                lone_writes = sign_query(server.host, server.port, key, write_bodies(f"r{r}a", 200))
                lone = run_python(server.host, server.port, lone_writes, connections=1, duration=duration)
                rows[version]["writer_alone"].append(lone.rps)
                _say(f"  round {r + 1}/{rounds} {version}: GetUser alone")
                alone = run_load(client, server.host, server.port, signed_reads, connections=READERS, duration=duration)
                _say(f"  round {r + 1}/{rounds} {version}: GetUser with a writer")
                with _writer(server, signed_writes, duration + 1.0, tmp):
                    beside = run_load(client, server.host, server.port, signed_reads, connections=READERS,
                                      duration=duration)  # fmt: skip
                writer = _writer.last  # type: ignore[attr-defined]
                bad = alone.bad_status + beside.bad_status + alone.errors + beside.errors
                bad_writes = sum(v for k, v in writer["statuses"].items() if not 200 <= int(k) < 300)
                if bad or bad_writes:
                    raise RuntimeError(f"{version}: {bad} failed reads, {bad_writes} failed writes")
                rows[version]["alone"].append(alone.rps)
                rows[version]["with"].append(beside.rps)
                rows[version]["writer"].append(writer["requests"] / writer["seconds"])
                rows[version].setdefault("p99_with", []).append(beside.p99_ms)
    finally:
        for server in servers.values():
            server.stop()
    out: dict[str, Any] = {}
    for version, row in rows.items():
        ratios = [w / a for w, a in zip(row["with"], row["alone"], strict=True) if a]
        out[version] = {
            "alone_rps": round(statistics.median(row["alone"]), 1),
            "with_writer_rps": round(statistics.median(row["with"]), 1),
            "ratio": round(statistics.median(ratios), 3),
            "writer_rps": round(statistics.median(row["writer"]), 1),
            "writer_alone_rps": round(statistics.median(row["writer_alone"]), 1),
            "p99_with_writer_ms": round(statistics.median(row["p99_with"]), 2),
        }
    return out


def write_scaling(
    versions: dict[str, Path | None],
    rounds: int,
    duration: float,
    tmp: Path,
    pg: _Postgres,
    clients: Sequence[str],
    tuned: dict[str, str],
    wal_syncs: bool = False,
    thread_states: bool = False,
) -> dict[str, Any]:
    """A row per version, load generator and PostgreSQL configuration (the cluster's defaults,
    and ``tuned`` if given), labelled by what varies: rates at 1 and 8 connections and, per
    window, where the time went: CPU ms per request (iamd, PostgreSQL, the load generator),
    the cores iamd and everything else on the machine used, the machine's idle share
    (/proc/stat), and what the server's PostgreSQL backends were doing (``pg_waits``).
    ``wal_syncs``: also the log's syncs per write and their mean time (``pg_stat_wal``, read
    after the backends' statistics have settled: 11 s of quiet before and after each window)."""
    servers: dict[str, Server] = {}
    keys: dict[str, Key] = {}
    timing = {"track_wal_io_timing": "on"} if wal_syncs else {}
    configs = {"default": timing, "tuned": {**timing, **tuned}} if tuned else {"default": timing}
    rows: dict[str, dict[int, list[dict[str, float]]]] = {}

    def label(version: str, client: str, config: str) -> str:
        return " ".join([version, *([client] if len(clients) > 1 else []), *([config] if tuned else [])])

    try:
        for version, source in versions.items():
            _say(f"writes: starting {version} on postgresql")
            server = servers[version] = _start(version, source, tmp, "postgresql", pg)
            keys[version] = setup_iamd(server)
        postmaster = pg.postmaster()
        for r in range(rounds):
            order = list(versions) if r % 2 == 0 else list(versions)[::-1]
            for config, version, client, conns in itertools.product(configs, order, clients, (1, 8)):
                pg.configure(configs[config])
                server, key = servers[version], keys[version]
                # New names per window: a window ends between a CreateUser and its DeleteUser.
                names = f"r{r}{config[0]}{client[0]}{conns}n"
                signed = sign_query(server.host, server.port, key, write_bodies(names, 400))
                _say(f"  round {r + 1}/{rounds} {label(version, client, config)}: {conns} connection(s)")
                waits = WaitSampler(pg.cluster.url(), server.extra["database"])
                # one process: its threads (with --workers N, the parent's); sampling every 2 ms
                # costs about a quarter of a core, so only when asked (--thread-states)
                threads = ThreadSampler(server.pid) if thread_states else None
                wal = pg.wal_syncs() if wal_syncs else (0, 0.0)
                iamd_before, cluster_before = _process_seconds(server.pid), _cpu_seconds(postmaster)
                machine_before, start = _machine_seconds(), time.monotonic()
                with waits, threads or contextlib.nullcontext():
                    result = run_load(client, server.host, server.port, signed, connections=conns,
                                      duration=duration, unit=2)  # fmt: skip
                iamd_after, cluster_after = _process_seconds(server.pid), _process_seconds(postmaster)
                machine_after, wall = _machine_seconds(), time.monotonic() - start
                cluster_after.pop(waits.backend, None)  # the sampler's backend, if it has not exited yet
                syncs, sync_ms = (a - b for a, b in zip(pg.wal_syncs(), wal, strict=True)) if wal_syncs else (0, 0.0)
                if result.bad_status or result.errors:
                    raise RuntimeError(f"{version}, {client}: {result.bad_status} answers not 200 {result.statuses} "
                                       f"{result.first_bad[:300]}, {result.errors} errors")  # fmt: skip
                by_process = [cpu - iamd_before.get(p, 0.0) for p, cpu in iamd_after.items()]
                iamd, busiest = sum(by_process), max(by_process, default=0.0)
                postgres = sum(cluster_after.values()) - cluster_before
                idle, busy = (a - b for a, b in zip(machine_after, machine_before, strict=True))
                per = max(result.requests, 1) / 1e3  # CPU seconds per thousand requests: ms per request
                rows.setdefault(label(version, client, config), {1: [], 8: []})[conns].append({
                    "rps": result.rps,
                    "server_ms": iamd / per,
                    "postgres_ms": postgres / per,
                    "client_ms": result.client_cpu_s / per,
                    "server_cores": iamd / result.seconds,
                    "busiest_process_cores": busiest / result.seconds,
                    "others_cores": (busy - iamd - postgres - result.client_cpu_s) / wall,
                    "idle": idle / wall,
                    **{f"pg_{k}": v for k, v in waits.shares().items()},
                    **({f"t_{g}_{k}": v for g, by in threads.report(result.requests).items() for k, v in by.items()}
                       if threads is not None else {}),
                    **({"writes_per_sync": result.requests / max(syncs, 1), "sync_ms": sync_ms / max(syncs, 1)}
                       if wal_syncs else {}),
                })  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        pg.configure({})
    return {
        name: {
            f"{k}_{c}": round(statistics.median(w[k] for w in windows), 3)
            for c, windows in row.items()
            for k in windows[0]
        }
        for name, row in rows.items()
    }


def _machine_seconds() -> tuple[float, float]:
    """All CPUs' idle (with iowait) and busy seconds so far (/proc/stat's first line)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    tick = os.sysconf("SC_CLK_TCK")
    return idle / tick, (sum(ticks) - idle) / tick


def _process_seconds(pid: int | None) -> dict[int, float]:
    """CPU seconds (user + system) so far of ``pid`` and of each of its live children (a
    server's workers and audit writer, the cluster's backends), by process; {} where /proc
    cannot tell."""
    if pid is None:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


def _cpu_seconds(pid: int | None) -> float:
    """CPU seconds of ``pid`` and its live children together."""
    return sum(_process_seconds(pid).values())


def first_request(versions: dict[str, Path | None], callers: int) -> dict[str, Any]:
    """CPU of a caller's first request, in process: ``bench.server.callers``' cold pass, per version."""
    out: dict[str, Any] = {}
    for version, source in versions.items():
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = str(source)
        command = [sys.executable, "-m", "bench.server.callers", "--callers", str(callers), "--rounds", "2", "--json"]
        # a tree with the credential index is measured without it and with it (its bulk load first)
        indexed = "--preload" in ((source or ROOT) / "bench" / "server" / "callers.py").read_text()
        for name, extra in ((version, []), (f"{version}+index", ["--preload"]))[: 2 if indexed else 1]:
            _say(f"first request: {name}, {callers} callers")
            proc = subprocess.run(command + extra, cwd=source or ROOT, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{name}: {proc.stderr[-2000:]}")
            passes = json.loads(proc.stdout.strip().splitlines()[-1])["in_process"]
            out[name] = {p["pass"]: round(p["cpu_us_per_request"], 1) for p in passes}
    return out


def render(results: dict[str, Any]) -> str:
    lines = [f"baseline: {results['baseline']}; load average {results['load']}"]
    for backend in ("sqlite", "postgresql"):
        r = results.get(f"reads_{backend}")
        if not r:
            continue
        lines.append(f"\nGetUser at {READERS} connections, alone and beside one writer ({backend}):")
        lines.append("  version   alone req/s   with writer   ratio (target >= 0.8)   p99 with writer"
                     "   writer req/s: alone, beside reads")  # fmt: skip
        for version, v in r.items():
            lines.append(f"  {version:8} {v['alone_rps']:12,.0f} {v['with_writer_rps']:13,.0f} {v['ratio']:8.2f}"
                         f"{'':15}{v['p99_with_writer_ms']:8.2f} ms {v['writer_alone_rps']:14,.0f} "
                         f"{v['writer_rps']:8,.0f}")  # fmt: skip
        if "new" in r and "old" in r:
            lines.append(f"  new/old: with a writer {r['new']['with_writer_rps'] / r['old']['with_writer_rps']:.2f}x")
    w = results.get("writes")
    if w:
        cores = os.cpu_count() or 1
        lines.append("\nPostgreSQL (fsync on) CreateUser/DeleteUser, requests per second, and per window at 1 / 8 "
                     "connections: CPU ms per request, the cores iamd and everything else used, the machine's idle "
                     "cores; at 8, the rates that CPU alone allows and the shares of the PostgreSQL backends' samples "
                     "(bench/server/pg_waits.py)")  # fmt: skip
        for name, v in w.items():
            cpu_8 = v["server_ms_8"] + v["postgres_ms_8"] + v["client_ms_8"]
            lines.append(f"  {name:20} 1 connection {v['rps_1']:7,.0f}   8 connections {v['rps_8']:7,.0f}"
                         f"   (8/1 {v['rps_8'] / v['rps_1']:.2f}x; target at 8: {TARGET_WRITES_8:,.0f})")  # fmt: skip
            lines.append(f"  {'':20} iamd {v['server_ms_1']:.2f} / {v['server_ms_8']:.2f}, PostgreSQL "
                         f"{v['postgres_ms_1']:.2f} / {v['postgres_ms_8']:.2f}, client {v['client_ms_1']:.2f} / "
                         f"{v['client_ms_8']:.2f} ms; cores: iamd {v['server_cores_1']:.2f} / "
                         f"{v['server_cores_8']:.2f}, others {v['others_cores_1']:.2f} / {v['others_cores_8']:.2f}, "
                         f"idle {v['idle_1']:.2f} / {v['idle_8']:.2f}")  # fmt: skip
            shares = ", ".join(f"{k} {v[f'pg_{k}_8']:.0%}" for k in KINDS)
            gil = v["rps_8"] / v["busiest_process_cores_8"] if v["busiest_process_cores_8"] else 0.0
            lines.append(f"  {'':20} at 8: ceilings {gil:,.0f}/s (iamd's busiest process, "
                         f"{v['busiest_process_cores_8']:.2f} cores, on one core: one GIL), "
                         f"{cores * 1e3 / cpu_8:,.0f}/s ({cores} cores for all three)")  # fmt: skip
            lines.append(f"  {'':20} PostgreSQL backends ({v['pg_backends_8']:.1f}): {shares}")
            for group in ("loop", "workers") if "t_loop_threads_8" in v else ():
                t = {
                    k[len(f"t_{group}_") : -2]: x
                    for k, x in v.items()
                    if k.startswith(f"t_{group}_") and k.endswith("_8")
                }
                states = ", ".join(f"{k} {t[k]:.0%}" for k in STATES if t[k] >= 0.005)
                lines.append(f"  {'':20} iamd's {group} ({t['threads']:.1f} threads): {states}; per request "
                             f"{t['cpu_us']:.0f} µs CPU, {t['runqueue_us']:.0f} µs waiting for a CPU, "
                             f"{t['sleeps']:.1f} sleeps (bench/server/thread_states.py)")  # fmt: skip
            if "writes_per_sync_8" in v:
                lines.append(f"  {'':20} the log's syncs: {v['writes_per_sync_1']:.2f} / {v['writes_per_sync_8']:.2f} "
                             f"writes per sync, {v['sync_ms_1']:.2f} / {v['sync_ms_8']:.2f} ms each")  # fmt: skip
        for name, new in w.items():
            old = w.get("old" + name[3:]) if name.startswith("new") else None
            if old:
                lines.append(f"  {name}/old at 8 connections: {new['rps_8'] / old['rps_8']:.2f}x")
        for name, tuned in w.items():
            default = w.get(name[: -len("tuned")] + "default") if name.endswith(" tuned") else None
            if default:
                lines.append(f"  {name}/default at 8 connections: {tuned['rps_8'] / default['rps_8']:.2f}x")
    f = results.get("first")
    if f:
        lines.append("\nCPU per request, in process (bench.server.callers), µs: cold (each caller's first) / warm")
        for version, v in f.items():
            index = f"   (bulk load first: {v['preload']:,.0f} per credential)" if "preload" in v else ""
            lines.append(f"  {version:10} cold {v['cold']:8,.0f}   warm {v.get('warm1', 0):8,.0f}{index}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.contention", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="reads, writes, first (default: all three)")
    parser.add_argument("--baseline", default="main", help="the git ref measured beside the working tree")
    parser.add_argument("--no-baseline", action="store_true", help="measure the working tree only")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per load window")
    parser.add_argument("--callers", type=int, default=2000, help="first request: distinct callers")
    parser.add_argument("--workers", type=int, nargs="+", metavar="N",
                        help="each tree (the baseline's too, unless --no-baseline) under iamd serve --workers N, "
                        "for each N")  # fmt: skip
    parser.add_argument("--client", nargs="+", choices=["wrk", "python"],
                        default=["wrk"] if wrk_available() else ["python"],
                        help="the load generator(s): writes measures each in the same run, reads loads its GetUser "
                             "with the first (default: wrk)")  # fmt: skip
    parser.add_argument("--postgres-set", nargs="+", default=[], metavar="NAME=VALUE",
                        help="writes: also measure with these PostgreSQL settings (ALTER SYSTEM, reloaded), "
                        "e.g. commit_delay=200 commit_siblings=2")  # fmt: skip
    parser.add_argument("--wal-syncs", action="store_true",
                        help="writes: also the log's syncs per write (pg_stat_wal; 22 s more per window)")  # fmt: skip
    parser.add_argument("--thread-states", action="store_true",
                        help="writes: also sample iamd's threads every 2 ms (bench/server/thread_states.py; "
                             "costs about a quarter of a core)")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tuned = dict(setting.split("=", 1) for setting in args.postgres_set)
    args.scenarios = args.scenarios or ["reads", "writes", "first"]
    if not set(args.scenarios) <= {"reads", "writes", "first"}:
        parser.error(f"unknown scenario in {args.scenarios}: reads, writes, first")
    tmp = Path(tempfile.mkdtemp(prefix="iamd-contention-"))
    old = None if args.no_baseline else checkout(args.baseline)
    versions: dict[str, Path | None] = {"new": None} if old is None else {"old": old, "new": None}
    if args.workers:  # each version under each --workers N, in turns
        versions = {f"{v} w={n}": source for v, source in versions.items() for n in args.workers}
        WORKERS.update({f"{v} w={n}": n for v in ("old", "new") for n in args.workers})
    results: dict[str, Any] = {"baseline": "none" if old is None else args.baseline}
    load0 = os.getloadavg()[0]
    pg: _Postgres | None = None
    try:
        if "postgresql" in args.backends and ("writes" in args.scenarios or "reads" in args.scenarios):
            _say("starting a throwaway PostgreSQL cluster (fsync on)")
            pg = _Postgres()
        if "reads" in args.scenarios:
            for backend in args.backends:
                results[f"reads_{backend}"] = reads_with_writer(
                    versions, backend, args.rounds, args.duration, tmp, pg, args.client[0]
                )
        if "writes" in args.scenarios and pg is not None:
            results["writes"] = write_scaling(
                versions, args.rounds, args.duration, tmp, pg, args.client, tuned, args.wal_syncs, args.thread_states
            )
        if "first" in args.scenarios:
            results["first"] = first_request(versions, args.callers)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    results["load"] = f"{load0:.1f} → {os.getloadavg()[0]:.1f}"
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
