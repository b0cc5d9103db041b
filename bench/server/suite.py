"""The server benchmark's phases; :func:`run` returns plain data for the report (and --json)."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .load import LoadResult, run_load, run_python
from .preload import preload, user_names
from .servers import Server, start_iamd, start_moto
from .setup import TARGETS, get_user_bodies, setup_iamd, setup_moto, target_users, verify
from .signing import Key, query_body, sign_query

__all__ = ["Settings", "run"]

TARGET_RPS = 4000.0
TARGET_P99_MS = 5.0
TARGET_BIG_RATIO = 1.2
TARGET_LIST_MS = 10.0
DISTINCT_REQUESTS = 200  # pre-signed requests per load, cycled


@dataclass(frozen=True)
class Settings:
    duration: int = 4  # seconds per timed load window (wrk counts whole seconds)
    latency_duration: int = 3  # seconds per one-connection latency window
    warmup: int = 1
    rounds: int = 3  # the windows of one table are run in turns, this many times
    levels: tuple[int, ...] = (1, 8, 16, 64)  # concurrent connections
    # The level at which the throughput/p99 target is judged: the first that saturates the one
    # server process (bench/README.md, "Targets", for why not 16).
    target_connections: int = 8
    creates: int = 2000  # sequential CreateUser requests per database
    big_users: int = 100_000
    big_roles: int = 10_000
    postgres: bool = True
    client: str = "auto"  # wrk | python | auto
    big_under_load: bool = True  # also GetUser at target_connections on the large account
    storage_get: bool = True  # also GetUser at target_connections on each CreateUser server
    profile: int = 0  # seconds of py-spy on iamd under GetUser load (0: none)
    keep: bool = False

    @classmethod
    def quick(cls) -> Settings:
        return cls(duration=2, latency_duration=2, rounds=1, levels=(1, 8), creates=300, big_under_load=False,
                   storage_get=False)  # fmt: skip


class _Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.t0:6.1f} s] {message}", file=sys.stderr, flush=True)


def _environment(client: str) -> dict[str, Any]:
    import moto

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parents[2],
                                  timeout=10).stdout.strip()  # fmt: skip
        except OSError:
            return ""

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = ""
    if client == "wrk":
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        text = (out.stdout or out.stderr or "wrk").splitlines()[0]
        wrk = text.split(" Copyright")[0].replace("debian/", "")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "moto": moto.__version__,
        "iamd_commit": git("rev-parse", "--short", "HEAD")
        + (" (working tree modified)" if git("status", "--porcelain", "--", "iamd") else ""),
        "client": client,
        "client_version": wrk or f"bench.server.client (Python {platform.python_version()})",
        "load_average_1m_start": os.getloadavg()[0],
    }


def _window(server: Server, client: str, requests: Sequence[bytes], connections: int, duration: int) -> dict[str, Any]:
    """One timed load window; the server's CPU use over it from /proc."""
    server.check_alive()
    cpu0 = server.cpu_s()
    result = run_load(client, server.host, server.port, requests, connections=connections, duration=duration)
    cpu = server.cpu_s() - cpu0
    out = result.to_json()
    out["server_cpu"] = round(cpu / result.seconds, 3) if result.seconds else 0.0
    return out


def _combine(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Windows of one series: rps over all of them, latency percentiles the median of the windows'."""
    seconds = sum(w["seconds"] for w in windows)
    requests = sum(w["requests"] for w in windows)
    med = lambda k: round(statistics.median(w[k] for w in windows), 3)
    return {
        "connections": windows[0]["connections"],
        "requests": requests,
        "seconds": round(seconds, 2),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "rps_windows": [w["rps"] for w in windows],
        "p50_ms": med("p50_ms"),
        "p90_ms": med("p90_ms"),
        "p99_ms": med("p99_ms"),
        "max_ms": round(max(w["max_ms"] for w in windows), 3),
        "server_cpu": round(sum(w["server_cpu"] * w["seconds"] for w in windows) / seconds, 3) if seconds else 0.0,
        "client_cpu": round(sum(w["client_cpu_s"] for w in windows) / seconds, 3) if seconds else 0.0,
        "bad_status": sum(w["bad_status"] for w in windows),
        "errors": sum(w["errors"] for w in windows),
        "windows": windows,
    }


def _median_ratio(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float:
    """Median over rounds of a[key] / b[key] measured in the same round."""
    ratios = [x[key] / y[key] for x, y in zip(a, b, strict=True) if y[key]]
    return round(statistics.median(ratios), 3) if ratios else 0.0


@contextlib.contextmanager
def _servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for s in reversed(started):
            s.stop()


def run(settings: Settings, *, quiet: bool = False) -> dict[str, Any]:
    say = _Progress(quiet)
    client = settings.client
    if client == "auto":
        from .wrk import available

        client = "wrk" if available() else "python"
    settings = replace(settings, client=client)
    tmp = Path(tempfile.mkdtemp(prefix="iamd-bench-server-"))
    t_start = time.monotonic()
    results: dict[str, Any] = {"environment": _environment(client), "settings": settings.__dict__.copy()}
    results["settings"]["levels"] = list(settings.levels)
    results["targets"] = {"rps": TARGET_RPS, "p99_ms": TARGET_P99_MS, "connections": settings.target_connections,
                          "big_ratio": TARGET_BIG_RATIO, "list_ms": TARGET_LIST_MS}  # fmt: skip
    try:
        with _servers() as started:
            _phase_get_user(settings, tmp, started, results, say)
        results["storage"] = _phase_storage(settings, tmp, say)
        say("CPU per warm GetUser in process (bench.server.cpu)")
        from .cpu import measure

        results["cpu"] = measure(3000, audit="process")  # as iamd serve runs it
    finally:
        if settings.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["environment"]["load_average_1m_end"] = os.getloadavg()[0]
    results["elapsed_s"] = round(time.monotonic() - t_start, 1)
    return results


def _phase_get_user(
    settings: Settings, tmp: Path, started: list[Server], results: dict[str, Any], say: Callable[[str], None]
) -> None:
    client = settings.client
    say("starting iamd (SQLite, empty account) and moto_server")
    iamd = start_iamd("iamd", tmp / "iamd-empty")
    started.append(iamd)
    moto = start_moto("moto", tmp / "moto.log")
    started.append(moto)
    iamd_key = setup_iamd(iamd)
    moto_key = setup_moto(moto)
    bodies = get_user_bodies(target_users(TARGETS, DISTINCT_REQUESTS))
    verify(iamd, iamd_key, bodies[0])
    verify(moto, moto_key, bodies[0])
    say(f"  signed GetUser answers 200 and a forged one 403 on both; iamd up in {iamd.started_s:.1f} s, "
        f"moto in {moto.started_s:.1f} s")  # fmt: skip
    memory: dict[str, Any] = {"iamd_idle_kb": iamd.rss_kb(), "moto_idle_kb": moto.rss_kb()}

    pairs = [(iamd, iamd_key), (moto, moto_key)]
    signed = {s.name: sign_query(s.host, s.port, k, bodies) for s, k in pairs}
    for s, _ in pairs:  # warm-up (discarded): caches, connections, moto's lazily loaded managed policies
        _window(s, client, signed[s.name], settings.target_connections, settings.warmup)
    windows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in range(settings.rounds):
        for level in settings.levels:
            order = pairs if (r + level) % 2 == 0 else pairs[::-1]
            for s, _ in order:
                say(f"  GetUser round {r + 1}/{settings.rounds}, {level} connections, {s.name}")
                w = _window(s, client, signed[s.name], level, settings.duration)
                windows.setdefault((s.name, level), []).append(w)
    get_user: dict[str, Any] = {"levels": {}}
    for level in settings.levels:
        a, b = windows[("iamd", level)], windows[("moto", level)]
        get_user["levels"][str(level)] = {
            "iamd": _combine(a),
            "moto": _combine(b),
            "rps_iamd/moto": _median_ratio(a, b, "rps"),
            "p50_moto/iamd": _median_ratio(b, a, "p50_ms"),
        }
    at = get_user["levels"].get(str(settings.target_connections))
    if at is not None:
        get_user["target_met"] = at["iamd"]["rps"] >= TARGET_RPS and at["iamd"]["p99_ms"] <= TARGET_P99_MS
    get_user["distinct_requests"] = DISTINCT_REQUESTS
    results["get_user"] = get_user
    memory["iamd_after_load_kb"] = iamd.rss_kb()
    memory["moto_after_load_kb"] = moto.rss_kb()

    if settings.profile:
        results["profile"] = _profile(iamd, client, signed["iamd"], settings, tmp, say)

    moto.stop()
    started.remove(moto)

    # -- a large account ---------------------------------------------------------------------
    # The API stops at 5,000 users (AWS's quota): the caller is created first, through the API.
    big_dir = tmp / "iamd-big"
    big = start_iamd("iamd-big", big_dir)
    try:
        big_key = setup_iamd(big, targets=())
    finally:
        big.stop()
    say(f"loading {settings.big_users:,} users and {settings.big_roles:,} roles into its SQLite database")
    load_times = preload(f"sqlite:///{big_dir / 'iamd.db'}", settings.big_users, settings.big_roles)
    say(f"  users {load_times['users_s']} s, roles {load_times['roles_s']} s; starting iamd on it")
    big = start_iamd("iamd-big", big_dir)
    started.append(big)
    big_bodies = get_user_bodies(target_users(user_names(settings.big_users), DISTINCT_REQUESTS))
    verify(big, big_key, big_bodies[0])
    memory["iamd_big_idle_kb"] = big.rss_kb()
    list_body = [query_body("ListUsers")]
    get_empty = signed["iamd"]
    get_big = sign_query(big.host, big.port, big_key, big_bodies)
    list_empty = sign_query(iamd.host, iamd.port, iamd_key, list_body)
    list_big = sign_query(big.host, big.port, big_key, list_body)
    for s, reqs in ((big, get_big), (big, list_big), (iamd, list_empty)):
        _window(s, client, reqs, 1, settings.warmup)
    series: dict[str, list[dict[str, Any]]] = {}
    plan = [
        ("get_empty", iamd, get_empty, 1), ("get_big", big, get_big, 1),
        ("list_empty", iamd, list_empty, 1), ("list_big", big, list_big, 1),
    ]  # fmt: skip
    if settings.big_under_load:
        plan += [("get_empty_load", iamd, get_empty, settings.target_connections),
                 ("get_big_load", big, get_big, settings.target_connections)]  # fmt: skip
    for r in range(settings.rounds):
        for i in range(0, len(plan), 2):
            pair = plan[i : i + 2] if r % 2 == 0 else plan[i : i + 2][::-1]
            for name, s, reqs, conns in pair:
                say(f"  large account round {r + 1}/{settings.rounds}: {name} ({conns} connection{'s' * (conns > 1)})")
                dur = settings.latency_duration if conns == 1 else settings.duration
                series.setdefault(name, []).append(_window(s, client, reqs, conns, dur))
    big_result: dict[str, Any] = {name: _combine(ws) for name, ws in series.items()}
    big_result["users"] = settings.big_users
    big_result["roles"] = settings.big_roles
    big_result["preload"] = load_times
    big_result["get_p50_big/empty"] = _median_ratio(series["get_big"], series["get_empty"], "p50_ms")
    big_result["get_p99_big/empty"] = _median_ratio(series["get_big"], series["get_empty"], "p99_ms")
    if settings.big_under_load:
        big_result["rps_big/empty"] = _median_ratio(series["get_big_load"], series["get_empty_load"], "rps")
    big_result["target_ratio_met"] = big_result["get_p50_big/empty"] <= TARGET_BIG_RATIO
    big_result["target_list_met"] = big_result["list_big"]["p50_ms"] < TARGET_LIST_MS
    results["big"] = big_result
    memory["iamd_big_after_kb"] = big.rss_kb()
    results["memory"] = memory


def _profile(
    server: Server, client: str, requests: Sequence[bytes], settings: Settings, tmp: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """py-spy on the server while it serves GetUser at the target concurrency."""
    from .hotspots import summarise

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out = tmp / "profile.txt"
    say(f"  profiling iamd with py-spy for {settings.profile} s under GetUser load")
    spy = subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--duration", str(settings.profile),
                            "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    time.sleep(0.5)
    _window(server, client, requests, settings.target_connections, settings.profile + 1)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not out.exists():
        return {"error": f"py-spy failed: {err.decode(errors='replace')[-500:]}"}
    text = out.read_text()
    return {"summary": summarise(text, top=15), "raw": str(out) if settings.keep else None}


def _create_users(server: Server, key: Key, count: int, client: str, prefix: str) -> dict[str, Any]:
    bodies = [query_body("CreateUser", {"UserName": f"{prefix}{i:06d}"}) for i in range(count)]
    signed = sign_query(server.host, server.port, key, bodies)
    cpu0 = server.cpu_s()
    result: LoadResult = run_python(server.host, server.port, signed, connections=1, duration=None)
    cpu = server.cpu_s() - cpu0
    out = result.to_json()
    out["server_cpu"] = round(cpu / result.seconds, 3) if result.seconds else 0.0
    return out


def _storage_case(
    name: str, settings: Settings, data_dir: Path, database: str | None, say: Callable[[str], None]
) -> dict[str, Any]:
    server = start_iamd(f"iamd-{name}", data_dir, database=database)
    try:
        key = setup_iamd(server, targets=TARGETS)
        verify(server, key, get_user_bodies(TARGETS[:1])[0])
        warm = [query_body("CreateUser", {"UserName": f"warm{i:04d}"}) for i in range(20)]
        run_python(server.host, server.port, sign_query(server.host, server.port, key, warm), connections=1,
                   duration=None)  # fmt: skip
        say(f"  {name}: {settings.creates:,} sequential CreateUser requests")
        create = _create_users(server, key, settings.creates, settings.client, "created")
        out = {"create": create, "rss_kb": server.rss_kb(), "started_s": round(server.started_s, 2)}
        if settings.storage_get:
            say(f"  {name}: GetUser, {settings.target_connections} connections")
            bodies = get_user_bodies(target_users(TARGETS, DISTINCT_REQUESTS))
            get_reqs = sign_query(server.host, server.port, key, bodies)
            _window(server, settings.client, get_reqs, settings.target_connections, settings.warmup)
            out["get_user"] = _window(server, settings.client, get_reqs, settings.target_connections, settings.duration)
        return out
    finally:
        server.stop()


def _phase_storage(settings: Settings, tmp: Path, say: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    say("CreateUser on SQLite (a new server and database)")
    out["sqlite"] = _storage_case("sqlite", settings, tmp / "iamd-sqlite", None, say)
    if not settings.postgres:
        out["postgresql"] = {"skipped": "--no-postgres"}
        return out
    try:
        sys.path.insert(0, str(Path(__file__).parents[2]))
        from tests.store.postgres import PostgresUnavailable, start_cluster
    except ImportError as error:
        out["postgresql"] = {"skipped": f"tests.store.postgres not importable: {error}"}
        return out
    say("starting a throwaway PostgreSQL cluster (fsync on)")
    try:
        cluster = start_cluster(durable=True)
    except PostgresUnavailable as error:
        out["postgresql"] = {"skipped": str(error).splitlines()[0]}
        return out
    try:
        out["postgresql"] = _storage_case("postgresql", settings, tmp / "iamd-pg", cluster.url(), say)
        out["postgresql"]["server_version"] = _pg_version(cluster)
    finally:
        cluster.stop()
    return out


def _pg_version(cluster: Any) -> str:
    try:
        out = subprocess.run([str(cluster.bindir / "postgres"), "--version"], capture_output=True, text=True)
        return out.stdout.strip()
    except OSError:
        return ""
