"""Start-up of ``iamd serve``: ``python -m bench.server.startup [--rounds N] [--base REF] [--json]``.

Issue "Performance at scale"'s start-up target (≤ 2 s, bench/README.md, "A large account"),
measured without the large account: start-up does not grow with the number of entities, it
is Python's imports and the start's own work. Each round, for each side (the working tree,
and ``--base``'s tree exported by ``bench/server/baseline.py``, in turns so the machine's load
weighs on both alike):

* **first**: ``iamd serve --dev`` on a new, empty data directory (it creates the database,
  the account, the root key and the managed policies);
* **second**: the same command again on that data directory, once the first has stopped.

Each start is timed from spawn to the first answered HTTP request (``/_iamd/health``, as
``bench.server.scale``), then to the answer of a signed ``GetUser`` of the root user (the
first request that goes through authentication, authorization and the store). ``cpu`` is
the server process's own CPU time at that answer (``/proc/<pid>/stat``, all its threads):
less moved by the machine's other load than the wall time; ``child CPU``, its child
processes' once they are idle (the audit writer's start, spawned just before the server
listens: it competes for the same CPUs during the first requests).
Medians of ``--rounds``.

**Bytecode.** An installed iamd has its modules compiled (pip writes ``__pycache__``); a
source tree run with ``PYTHONDONTWRITEBYTECODE=1`` (as this project's shared VM sets it)
compiles every iamd module again at every start (0.2 to 0.7 s of CPU in this VM's runs). By default each side's
servers write and read their bytecode in a cache directory of their own
(``PYTHONPYCACHEPREFIX``), filled by one start that is not counted; ``--no-bytecode-cache``
measures the environment as it is instead.

**Instructions** (``--callgrind``): each side's start run once under callgrind (valgrind), first
and second, up to ``uvicorn.run`` (replaced by a function that returns at once: no socket, no
request), after one start that fills the bytecode cache. Instruction counts do not move with
the machine's load, which the wall figures do (minutes per start under valgrind).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .baseline import checkout
from .servers import ROOT_KEY, ROOT_SECRET, Server, start_iamd
from .signing import Key, query_body, sign_query

__all__ = ["main", "measure"]

_FIGURES = ("health_s", "get_user_s", "cpu_s", "child_cpu_s")


def _get_user(server: Server) -> float:
    """Seconds until a signed ``GetUser`` of the root user is answered 200."""
    request = sign_query(server.host, server.port, Key(ROOT_KEY, ROOT_SECRET), [query_body("GetUser")])[0]
    t0 = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = data.split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        raise RuntimeError(f"GetUser answered {status!r}; log:\n{server.log_tail()}")
    return time.monotonic() - t0


def _children_cpu(pid: int) -> float:
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _start(data_dir: Path, source: Path | None, env: dict[str, str]) -> dict[str, float]:
    server = start_iamd("iamd-startup", data_dir, source=source, extra_env=env)
    try:
        health = server.started_s
        get_user = _get_user(server)
        cpu = server.cpu_s()
        child_cpu, deadline = _children_cpu(server.pid), time.monotonic() + 10
        while time.monotonic() < deadline:  # until the audit writer has started (its CPU stops growing)
            time.sleep(0.25)
            now = _children_cpu(server.pid)
            if now == child_cpu:
                break
            child_cpu = now
    finally:
        server.stop()
    return {"health_s": health, "get_user_s": health + get_user, "cpu_s": cpu, "child_cpu_s": child_cpu}


def measure(
    rounds: int, sides: dict[str, Path | None], *, bytecode_cache: bool = True, quiet: bool = False
) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, float]]]] = {name: {"first": [], "second": []} for name in sides}
    with tempfile.TemporaryDirectory(prefix="iamd-startup-") as tmp:
        envs: dict[str, dict[str, str]] = {name: {} for name in sides}
        if bytecode_cache:
            for name, source in sides.items():
                envs[name] = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(Path(tmp) / f"pycache-{name}")}
                warm = Path(tmp) / f"{name}-warm" / "data"
                warm.parent.mkdir(parents=True)
                _start(warm, source, envs[name])  # fills the cache: not counted
                shutil.rmtree(warm.parent)
        for r in range(rounds):
            for name, source in sides.items():
                data_dir = Path(tmp) / f"{name}-{r}" / "data"
                data_dir.parent.mkdir(parents=True)
                runs[name]["first"].append(_start(data_dir, source, envs[name]))
                runs[name]["second"].append(_start(data_dir, source, envs[name]))
                shutil.rmtree(data_dir.parent)
            if not quiet:
                print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    out: dict[str, Any] = {"rounds": rounds, "bytecode_cache": bytecode_cache,
                           "load": [round(x, 2) for x in os.getloadavg()], "sides": {}}  # fmt: skip
    for name, starts in runs.items():
        out["sides"][name] = {
            which: {k: round(statistics.median(s[k] for s in values), 3) for k in _FIGURES}
            for which, values in starts.items()
        }
    return out


# ``iamd serve`` up to uvicorn.run, which returns at once: a start's own work, nothing served.
_SERVE_ONCE = """
import sys
import uvicorn

def run(app, **options):
    raise SystemExit(0)

uvicorn.run = run
if __name__ == "__main__":
    from iamd.cli import main
    sys.argv = ["iamd", "serve", "--dev", "--port", "0", "--data-dir", sys.argv[1]]
    main()
"""


def callgrind(sides: dict[str, Path | None]) -> dict[str, Any]:
    """Instructions of a first and a second start of each side (``--callgrind``)."""
    from .servers import ROOT_KEY, ROOT_SECRET

    out: dict[str, Any] = {"load": [round(x, 2) for x in os.getloadavg()], "instructions": {}}
    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="iamd-startup-cg-") as tmp:
        script = Path(tmp) / "serve_once.py"
        script.write_text(_SERVE_ONCE)
        for name, source in sides.items():
            tree = source or here
            env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "",
                   "PYTHONPYCACHEPREFIX": str(Path(tmp) / f"pycache-{name}"),
                   "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}  # fmt: skip
            python = [sys.executable, str(script)]
            subprocess.run(
                [*python, str(Path(tmp) / f"{name}-warm")], env=env, cwd=tree, capture_output=True, check=True
            )
            data = Path(tmp) / f"{name}-data"
            counts = {}
            for which in ("first", "second"):
                done = subprocess.run(
                    ["valgrind", "--tool=callgrind", f"--callgrind-out-file={Path(tmp) / f'{name}-{which}.out'}",
                     *python, str(data)], env=env, cwd=tree, capture_output=True, text=True, check=True,
                )  # fmt: skip
                found = re.search(r"Collected : (\d+)", done.stderr)
                if found is None:
                    raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-2000:]}")
                counts[which] = int(found.group(1))
            out["instructions"][name] = counts
    return out


def render(results: dict[str, Any]) -> str:
    cache = "bytecode cached" if results["bytecode_cache"] else "bytecode as the environment has it"
    lines = [f"iamd serve start-up, median of {results['rounds']} rounds, {cache} (load average {results['load']})", ""]
    lines.append(
        f"{'side':<6} {'start':<7} {'health (s)':>11} {'GetUser (s)':>12} {'CPU (s)':>8} {'child CPU (s)':>14}"
    )
    for name, side in results["sides"].items():
        for which, m in side.items():
            lines.append(f"{name:<6} {which:<7} {m['health_s']:>11.3f} {m['get_user_s']:>12.3f} {m['cpu_s']:>8.3f}"
                         f" {m['child_cpu_s']:>14.3f}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.startup", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="starts of each kind per side (default 5)")
    parser.add_argument("--base", metavar="REF", help="also measure this git ref's tree (git archive), in turns")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="no bytecode cache of the servers' own (PYTHONDONTWRITEBYTECODE as set)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on standard error")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions of one first and one second start per side, under callgrind")  # fmt: skip
    args = parser.parse_args(argv)
    base = checkout(args.base) if args.base else None
    try:
        sides: dict[str, Path | None] = {"new": None}
        if base is not None:
            sides = {"base": base, "new": None}
        if args.callgrind:
            counted = callgrind(sides)
            print(json.dumps(counted, indent=2) if args.json else "\n".join(
                [f"iamd serve start-up, instructions under callgrind (load average {counted['load']})"]
                + [f"{name:<6} first {c['first']:>15,}  second {c['second']:>15,}"
                   for name, c in counted["instructions"].items()]))  # fmt: skip
            return 0
        results = measure(args.rounds, sides, bytecode_cache=not args.no_bytecode_cache, quiet=args.quiet)
        if base is not None:
            results["base"] = args.base
    finally:
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
