"""The machine's pace: ``python -m bench.pace [--reference REF] [--rounds N] [--duration S]``.

The throughput targets of the scale and authorization-API work (PostgreSQL CreateUser+DeleteUser
≥ 1,500/s at 8 connections; the authorization API ≥ 5,000 single checks/s with p99 ≤ 5 ms and
≥ 50,000 batched decisions/s) are absolute figures, set against what the tree of the time
measured on this shared 2-vCPU VM: GetUser about 9,800/s at 8 connections, PostgreSQL writes
303/s at 8, iamd 19-20x moto_server's GetUser. The VM's speed is not fixed: the same code runs
at a fraction of those figures on a slow day. So this benchmark measures, in one run and in
turns, the *yardsticks* (the reference tree the targets were set on, ``7909b65`` by default:
its GetUser and its PostgreSQL writes; and moto_server's GetUser, an outside peer, when
``moto.server`` can be imported) beside the working tree's figures, and prints each target
twice: as filed, and scaled by the machine's pace today.

The pace is a yardstick's rate now over its rate as filed. A target is scaled by the largest
pace among the yardsticks of its kind of work (GetUser's for the authorization API, the
reference's own writes for the writes): the one that says the machine is least slowed, so the
scaled target is the strictest those yardsticks allow. A p99 target is a time: it is scaled by
the inverse of the same pace (a machine at half the speed takes twice as long per request). At 8
connections in a closed loop the mean latency is 8 over the rate (Little's law), so a p99 left
unscaled would ask for the filed rate through the back door. Both p99 verdicts are printed.
bench/README.md, "The machine's pace", says how the reference and the filed figures were chosen.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server.baseline import checkout
from bench.server.contention import _Postgres, write_scaling
from bench.server.load import run_load
from bench.server.servers import Server, start_iamd, start_moto
from bench.server.setup import TARGETS, get_user_bodies, setup_iamd, setup_moto, target_users, verify
from bench.server.signing import sign_query
from bench.server.wrk import available as wrk_available

__all__ = ["FILED", "REFERENCE", "Target", "TARGETS_FILED", "main", "paces", "verdicts"]

# The tree the targets were set on: the last commit before the work on them began (its
# PolicyCache still emptied itself when full, max_sets=10_000, as the targets' text says).
REFERENCE = "7909b65"
CONNECTIONS = 8

# The yardsticks' rates as filed beside the targets, at 8 connections, one iamd process.
FILED = {
    "reference_get_user": 9_800.0,  # "about 9,800 authenticated, authorized GetUser/s"
    "reference_writes": 303.0,  # "CreateUser+DeleteUser 330/s at 1 connection, 303/s at 8"
    "moto_get_user": 9_800.0 / 19.5,  # iamd "19-20x moto_server": about 503/s
}


@dataclass(frozen=True)
class Target:
    name: str
    rate: float  # per second, as filed
    p99_ms: float | None  # scaled by the inverse of the pace
    measured_by: str  # the key of the working tree's figures
    yardsticks: tuple[str, ...]  # the yardsticks of the same kind of work: the largest pace applies


_GET_USER = ("reference_get_user", "moto_get_user")
TARGETS_FILED = [
    Target("authorization API, single check", 5_000.0, 5.0, "authz_single", _GET_USER),
    Target("authorization API, batched decisions", 50_000.0, None, "authz_batch", _GET_USER),
    # the same workload on the same database: the reference's own writes are the one yardstick
    Target("PostgreSQL CreateUser+DeleteUser", 1_500.0, None, "writes", ("reference_writes",)),
]


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def paces(yardsticks: dict[str, float]) -> dict[str, float]:
    """Each yardstick's rate now over its rate as filed (only those measured)."""
    return {name: rate / FILED[name] for name, rate in yardsticks.items() if name in FILED and rate > 0}


def verdicts(figures: dict[str, dict[str, float]], pace: dict[str, float]) -> list[dict[str, Any]]:
    """Each target as filed and scaled by the largest ``pace`` of its yardsticks, against the
    working tree's ``figures`` (``{key: {"rate": …, "p99_ms": …}}``): met as filed, met at the pace.
    A target none of whose yardsticks was measured is left out."""
    out = []
    for target in TARGETS_FILED:
        got = figures.get(target.measured_by)
        applicable = [pace[name] for name in target.yardsticks if name in pace]
        if got is None or not applicable:
            continue
        pace_of = max(applicable)
        scaled = target.rate * pace_of
        tail_at_pace = None if target.p99_ms is None else round(target.p99_ms / pace_of, 2)
        tail_ok = target.p99_ms is None or got["p99_ms"] <= target.p99_ms
        tail_ok_at_pace = tail_at_pace is None or got["p99_ms"] <= tail_at_pace
        out.append({
            "target": target.name, "filed": target.rate, "pace": round(pace_of, 3), "at_pace": round(scaled),
            "rate": got["rate"], "p99_ms": got.get("p99_ms"), "p99_target_ms": target.p99_ms,
            "p99_target_at_pace_ms": tail_at_pace,
            "met_as_filed": got["rate"] >= target.rate and tail_ok,
            "met_at_pace": got["rate"] >= scaled and tail_ok_at_pace,
        })  # fmt: skip
    return out


def _get_user_rates(versions: dict[str, Path | None], rounds: int, duration: float, tmp: Path,
                    client: str) -> dict[str, dict[str, float]]:  # fmt: skip
    """GetUser at 8 connections on SQLite, each version's server kept up, windows in turns."""
    servers: dict[str, Server] = {}
    signed: dict[str, list[bytes]] = {}
    rates: dict[str, list[float]] = {v: [] for v in versions}
    p99s: dict[str, list[float]] = {v: [] for v in versions}
    bodies = get_user_bodies(target_users(TARGETS, 200))
    try:
        for version, source in versions.items():
            _say(f"GetUser: starting {version}")
            server = servers[version] = start_iamd(f"iamd-{version}", tmp / version, source=source)
            key = setup_iamd(server)
            verify(server, key, bodies[0])
            signed[version] = sign_query(server.host, server.port, key, bodies)
            run_load(client, server.host, server.port, signed[version], connections=CONNECTIONS, duration=1)
        for r in range(rounds):
            for version in list(versions) if r % 2 == 0 else list(versions)[::-1]:
                server = servers[version]
                _say(f"  round {r + 1}/{rounds} {version}: GetUser at {CONNECTIONS} connections")
                result = run_load(client, server.host, server.port, signed[version], connections=CONNECTIONS,
                                  duration=duration)  # fmt: skip
                if result.bad_status or result.errors:
                    raise RuntimeError(f"{version}: {result.bad_status} answers not 200, {result.errors} errors")
                rates[version].append(result.rps)
                p99s[version].append(result.p99_ms)
    finally:
        for server in servers.values():
            server.stop()
    return {v: {"rate": statistics.median(rates[v]), "p99_ms": statistics.median(p99s[v])} for v in versions}


def _moto_rate(rounds: int, duration: float, tmp: Path, client: str) -> float | None:
    """moto_server's GetUser at 8 connections (it closes the connection after every answer), or
    None when ``moto.server`` cannot be imported (``pip install -e '.[bench]'``)."""
    if importlib.util.find_spec("flask") is None:
        _say("moto_server: Flask is not installed (pip install -c constraints.txt -e '.[test,bench]'); skipped")
        return None
    server = start_moto("moto", tmp / "moto.log")
    try:
        key = setup_moto(server)
        bodies = get_user_bodies(target_users(TARGETS, 200))
        verify(server, key, bodies[0])
        signed = sign_query(server.host, server.port, key, bodies)
        rates = []
        for r in range(rounds):
            _say(f"  round {r + 1}/{rounds} moto_server: GetUser at {CONNECTIONS} connections")
            result = run_load(client, server.host, server.port, signed, connections=CONNECTIONS, duration=duration)
            rates.append(result.rps)
        return statistics.median(rates)
    finally:
        server.stop()


def _authz(rounds: int) -> dict[str, Any]:
    """``python -m bench.authz --quick --json --rounds N`` on the working tree, in this process."""
    import bench.authz

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bench.authz.main(["--quick", "--json", "--rounds", str(rounds)])
    results: dict[str, Any] = json.loads(out.getvalue())
    return results


def measure(reference: str, rounds: int, duration: float, moto: bool) -> dict[str, Any]:
    client = "wrk" if wrk_available() else "python"
    tmp = Path(tempfile.mkdtemp(prefix="iamd-pace-"))
    ref = checkout(reference)
    versions: dict[str, Path | None] = {"reference": ref, "new": None}
    results: dict[str, Any] = {"reference": reference, "client": client, "load_start": os.getloadavg()[0]}
    pg: _Postgres | None = None
    try:
        results["get_user"] = _get_user_rates(versions, rounds, duration, tmp, client)
        results["moto_get_user"] = _moto_rate(rounds, duration, tmp, client) if moto else None
        _say("authorization API: python -m bench.authz --quick")
        authz = _authz(rounds)
        results["authz"] = {k: authz[k] for k in ("single", "batch", "get_user")}
        _say("writes: a throwaway PostgreSQL cluster (fsync on)")
        pg = _Postgres()
        results["writes"] = write_scaling(versions, rounds, duration, tmp, pg, [client], {})
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(ref, ignore_errors=True)
    results["load_end"] = os.getloadavg()[0]
    yardsticks = {
        "reference_get_user": results["get_user"]["reference"]["rate"],
        "reference_writes": results["writes"]["reference"]["rps_8"],
    }
    if results["moto_get_user"]:
        yardsticks["moto_get_user"] = results["moto_get_user"]
    results["yardsticks"] = yardsticks
    results["paces"] = paces(yardsticks)
    authz = results["authz"]
    figures = {
        "authz_single": {"rate": authz["single"]["decisions_per_s"], "p99_ms": authz["single"]["p99_ms"]},
        "authz_batch": {"rate": authz["batch"]["decisions_per_s"], "p99_ms": authz["batch"]["p99_ms"]},
        "writes": {"rate": results["writes"]["new"]["rps_8"], "p99_ms": 0.0},
    }
    results["verdicts"] = verdicts(figures, results["paces"])
    return results


def render(results: dict[str, Any]) -> str:
    ref, y, p = results["reference"], results["yardsticks"], results["paces"]
    lines = [
        f"The machine's pace ({results['client']} client, {CONNECTIONS} connections, load average "
        f"{results['load_start']:.1f} → {results['load_end']:.1f}): each yardstick now against its figure as filed",
        f"  reference tree {ref}, GetUser              {y['reference_get_user']:8,.0f}/s   filed "
        f"{FILED['reference_get_user']:6,.0f}/s   pace {p['reference_get_user']:.2f}",
        f"  reference tree {ref}, PostgreSQL writes    {y['reference_writes']:8,.0f}/s   filed "
        f"{FILED['reference_writes']:6,.0f}/s   pace {p['reference_writes']:.2f}",
    ]
    if "moto_get_user" in y:
        lines.append(f"  moto_server, GetUser                         {y['moto_get_user']:8,.0f}/s   filed "
                     f"{FILED['moto_get_user']:6,.0f}/s   pace {p['moto_get_user']:.2f}")  # fmt: skip
    lines.append("")
    lines.append(f"  {'target':40} {'filed':>9} {'pace':>5} {'at pace':>9} {'this tree':>10}   as filed / at this pace")
    for v in results["verdicts"]:
        tail = (f", p99 {v['p99_ms']:.2f} ms (filed ≤ {v['p99_target_ms']:g}, at pace ≤ "
                f"{v['p99_target_at_pace_ms']:g})" if v["p99_target_ms"] else "")  # fmt: skip
        lines.append(f"  {v['target']:40} {v['filed']:9,.0f} {v['pace']:5.2f} {v['at_pace']:9,.0f} "
                     f"{v['rate']:10,.0f}   {_met(v['met_as_filed'])} / {_met(v['met_at_pace'])}{tail}")  # fmt: skip
    g, w = results["get_user"], results["writes"]
    lines += [
        "",
        f"  same run, this tree / the reference: GetUser {g['new']['rate'] / g['reference']['rate']:.2f}x "
        f"({g['new']['rate']:,.0f} against {g['reference']['rate']:,.0f}/s); PostgreSQL writes at 8 "
        f"{w['new']['rps_8'] / w['reference']['rps_8']:.2f}x ({w['new']['rps_8']:,.0f} against "
        f"{w['reference']['rps_8']:,.0f}/s; the target as filed asks {1_500 / FILED['reference_writes']:.2f}x); "
        f"the single check over the reference's GetUser "
        f"{results['authz']['single']['decisions_per_s'] / g['reference']['rate']:.2f} (as filed "
        f"{5_000 / FILED['reference_get_user']:.2f})",
        f"  this tree's GetUser in the authorization run's server: "
        f"{results['authz']['get_user']['decisions_per_s']:,}/s",
    ]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=REFERENCE, help="the git ref the targets were set on")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per load window")
    parser.add_argument("--no-moto", action="store_true", help="skip moto_server's yardstick")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.reference, args.rounds, args.duration, not args.no_moto)
    out(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
