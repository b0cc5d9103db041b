"""Render the results of :func:`bench.server.suite.run` as a table for people."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["render"]

X = "\u00d7"


def _mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MiB"


def _mark(met: bool) -> str:
    return "MET" if met else "MISSED"


def _row(name: str, s: dict[str, Any], note: str = "") -> str:
    flags = ""
    if s.get("bad_status") or s.get("errors"):
        flags = f"  !! {s.get('bad_status', 0)} non-2xx, {s.get('errors', 0)} connection errors"
    cells = (f"  {name:<30} {s['connections']:>5} {s['rps']:>9,.0f} {s['p50_ms']:>8.2f} {s['p90_ms']:>8.2f} "
             f"{s['p99_ms']:>8.2f} {s['server_cpu']:>6.0%} {s.get('client_cpu', 0):>6.0%}")  # fmt: skip
    return f"{cells}  {note}{flags}".rstrip()


_HEAD = (f"  {'server':<30} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
         f"{'srvCPU':>6} {'cliCPU':>6}")  # fmt: skip


def render(r: dict[str, Any]) -> str:
    env, st, tg = r["environment"], r["settings"], r["targets"]
    lines: list[str] = []
    add = lines.append
    add("iamd server benchmark")
    add(f"  Python {env['python']} on {env['platform']}, {env['cpu_count']} CPUs: {env['cpu']}")
    add(f"  iamd {env['iamd_commit']}; moto {env['moto']} (moto_server, INITIAL_NO_AUTH_ACTION_COUNT=0)")
    add(f"  load generator: {env['client_version']}, a separate process; closed loop, keep-alive HTTP/1.1, "
        f"requests pre-signed (SigV4) before timing")  # fmt: skip
    add(f"  load average {env['load_average_1m_start']:.2f} at start, {env['load_average_1m_end']:.2f} at end; "
        f"windows of {st['duration']} s, {st['rounds']} round(s) in turns")  # fmt: skip
    add("")

    g = r["get_user"]
    add(f"1. GetUser, authenticated and authorized (caller: an IAM user with an inline iam:* policy), "
        f"{g['distinct_requests']} pre-signed requests cycled")  # fmt: skip
    add(_HEAD)
    for row in g["levels"].values():
        add(_row("iamd (SQLite)", row["iamd"], f"iamd / moto = {row['rps_iamd/moto']:.1f}{X} req/s"))
        add(_row("moto_server", row["moto"], f"moto / iamd = {row['p50_moto/iamd']:.1f}{X} p50"))
    add("    req/s: all windows' requests / their time; p50/p90/p99: median of the windows'; ratios: median of")
    add("    per-round ratios. srvCPU: the server process's CPU time / wall time (100% = one core busy);")
    add("    cliCPU: the load generator's. moto's server closes the connection after every response.")
    at = g["levels"].get(str(tg["connections"]))
    if at is not None:
        i = at["iamd"]
        add(f"    target GetUser at {tg['connections']} connections: {_mark(g['target_met'])}: "
            f"{i['rps']:,.0f} req/s (≥ {tg['rps']:,.0f}), "
            f"p99 {i['p99_ms']:.2f} ms (≤ {tg['p99_ms']:g} ms)")  # fmt: skip
        cpu = r.get("cpu")
        if cpu:
            ceiling = 1e6 / cpu["cpu_us_per_request"]
            add(f"    one process: {cpu['cpu_us_per_request']:.0f} µs CPU per warm GetUser in process (raw HTTP "
                "through iamd's protocol, audit writer in its child process, no socket), a ceiling of "
                f"{ceiling:,.0f} req/s on one core before the kernel's share")  # fmt: skip
        if not g["target_met"]:
            add(f"    NOT MET by one server process on this machine: measured {i['rps']:,.0f} req/s, "
                f"p99 {i['p99_ms']:.2f} ms. One Python process is bound to one core (GIL), and wrk shares the "
                f"machine's {os.cpu_count()} CPUs; `iamd serve --workers N` runs N processes on the port.")  # fmt: skip
    add("")

    s = r["storage"]
    add(f"2. CreateUser, one connection, sequential ({st['creates']:,} requests, each a committed write "
        "transaction with its audit event)" + (f"; then GetUser at {tg['connections']} connections on the same "
        "server" if st.get("storage_get") else ""))  # fmt: skip
    add(f"  {'database':<32} {'CreateUser/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'srvCPU':>6}   "
        f"{'GetUser/s':>9} {'p50 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for name, label in (("sqlite", "SQLite (WAL, synchronous=NORMAL)"), ("postgresql", "PostgreSQL (fsync on)")):
        c = s.get(name, {})
        if "skipped" in c:
            add(f"  {label:<32} skipped: {c['skipped']}")
            continue
        cr, gu = c["create"], c.get("get_user")
        flags = ""
        if cr["bad_status"] or cr["errors"]:
            flags = f"  !! {cr['bad_status']} non-2xx {cr['statuses']}"
        get = f"{gu['rps']:>9,.0f} {gu['p50_ms']:>8.2f} {gu['p99_ms']:>8.2f}" if gu else f"{'-':>9} {'-':>8} {'-':>8}"
        add(f"  {label:<32} {cr['rps']:>12,.0f} {cr['p50_ms']:>8.2f} {cr['p99_ms']:>8.2f} {cr['server_cpu']:>6.0%}   "
            f"{get}{flags}")  # fmt: skip
    if "sqlite" in s and "postgresql" in s and "create" in s.get("postgresql", {}):
        ratio = s["postgresql"]["create"]["rps"] / s["sqlite"]["create"]["rps"]
        add(
            f"    PostgreSQL / SQLite CreateUser throughput = {ratio:.2f}{X}"
            + (f"; {s['postgresql'].get('server_version', '')}" if s["postgresql"].get("server_version") else "")
        )
    add("")

    b = r["big"]
    add(f"3. A large account: {b['users']:,} users and {b['roles']:,} roles (loaded in "
        f"{b['preload']['users_s']} + {b['preload']['roles_s']} s), against the empty account's server")  # fmt: skip
    add(_HEAD)
    add(_row("GetUser, empty account", b["get_empty"]))
    add(_row(f"GetUser, {b['users']:,} users", b["get_big"], f"p50 {b['get_p50_big/empty']:.2f}{X}, "
             f"p99 {b['get_p99_big/empty']:.2f}{X} of empty"))  # fmt: skip
    add(_row("ListUsers page 1, empty", b["list_empty"]))
    add(_row(f"ListUsers page 1, {b['users']:,}", b["list_big"], "100 users per page"))
    if "get_big_load" in b:
        add(_row("GetUser, empty account", b["get_empty_load"]))
        add(_row(f"GetUser, {b['users']:,} users", b["get_big_load"], f"req/s {b['rps_big/empty']:.2f}{X} of empty"))
    add(f"    target GetUser p50 with {b['users']:,} users ≤ {tg['big_ratio']}{X} empty: "
        f"{_mark(b['target_ratio_met'])} ({b['get_p50_big/empty']:.2f}{X})")  # fmt: skip
    add(f"    target first ListUsers page < {tg['list_ms']:g} ms: {_mark(b['target_list_met'])} "
        f"(p50 {b['list_big']['p50_ms']:.2f} ms, p99 {b['list_big']['p99_ms']:.2f} ms)")  # fmt: skip
    add("")

    m = r["memory"]
    add("4. Server memory (VmRSS of the server process)")
    add(f"  iamd idle, empty account (after start and setup)  {_mb(m['iamd_idle_kb']):>10}    "
        f"after the GetUser load {_mb(m['iamd_after_load_kb']):>10}")  # fmt: skip
    add(f"  iamd idle, {b['users']:,} users + {b['roles']:,} roles        {_mb(m['iamd_big_idle_kb']):>10}    "
        f"after its GetUser/ListUsers load {_mb(m['iamd_big_after_kb']):>10}")  # fmt: skip
    add(f"  moto_server idle (after setup)                    {_mb(m['moto_idle_kb']):>10}    "
        f"after the GetUser load {_mb(m['moto_after_load_kb']):>10}")  # fmt: skip

    if r.get("profile"):
        add("")
        p = r["profile"]
        add(f"Profile: py-spy on iamd serving GetUser at {tg['connections']} connections (all threads)")
        add(p.get("summary") or f"  {p.get('error')}")
    add("")
    add(f"elapsed {r['elapsed_s']} s")
    return "\n".join(lines)
