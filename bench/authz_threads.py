"""Per-thread CPU of ``iamd serve`` under single checks: ``python -m bench.authz_threads [--source TREE]``.

``bench.authz``'s server, set-up and single-check workload (verified first) with the server's
processes pinned to the last CPU and wrk on the others (as ``bench.authz --pin``), then
``--rounds`` windows of ``--seconds`` of wrk's load; around each window, for every thread of
the server and of its audit writer child, ``/proc/<pid>/task/<tid>/``: ``stat`` (user and
system ticks), ``schedstat`` (nanoseconds run and waited for the CPU, exact) and ``status``
(voluntary and involuntary context switches), per call. ``--split`` pins the server's main
thread alone on the last CPU and its other threads and the child on the others: whether
sharing a CPU with them costs the main thread anything (bench/README.md, "Session 13: the
audit pipe"). Needs wrk. The machine's other processes are not pinned away: "wait" is the
time runnable without the CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import bench.authz as authz
from bench.server.load import run_load
from bench.server.servers import start_iamd

Sample = dict[str, list[int]]


def sample(pid: int) -> Sample:
    """Per thread of ``pid`` and of its children: user, system ticks, ns run, ns waited, switches."""
    out: Sample = {}
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for proc in [pid, *map(int, children)]:
        for task in Path(f"/proc/{proc}/task").iterdir():
            try:
                stat = task.joinpath("stat").read_text().rsplit(")", 1)[1].split()
                sched = task.joinpath("schedstat").read_text().split()
                lines = task.joinpath("status").read_text().splitlines()
                comm = task.joinpath("comm").read_text().strip()
            except OSError:  # a thread that has just ended
                continue
            status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
            role = "main" if int(task.name) == pid else ("child" if proc != pid else "thread")
            out[f"{role} {comm} {task.name}"] = [
                int(stat[11]), int(stat[12]), int(sched[0]), int(sched[1]),
                int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"]),
            ]  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.authz_threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=None, help="serve the iamd of this source tree")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--split", action="store_true", help="the main thread alone on the last CPU")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (Debian: apt-get install wrk)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs at least two CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="iamd-bench-threads-"))
    server = start_iamd("iamd", tmp / "data", source=args.source.resolve() if args.source else None)
    try:
        authz.pin_tree(server.pid, {cpus[-1]})
        os.sched_setaffinity(0, set(cpus[:-1]))
        service, clients = authz.setup(server.endpoint)
        singles, expect, _, _ = authz.workload(server.endpoint, service, clients, distinct=200, batch=100)
        authz.verify(server.endpoint, singles, expect)
        run_load("wrk", "127.0.0.1", server.port, singles, connections=args.connections, duration=2.0)
        authz.pin_tree(server.pid, {cpus[-1]})  # threads started since
        if args.split:
            authz.pin_tree(server.pid, set(cpus[:-1]))
            os.sched_setaffinity(server.pid, {cpus[-1]})  # the main thread's id is the process's
        tick = 1e6 / os.sysconf("SC_CLK_TCK")
        for round_ in range(args.rounds):
            before = sample(server.pid)
            done = run_load("wrk", "127.0.0.1", server.port, singles, connections=args.connections,
                            duration=args.seconds)  # fmt: skip
            after = sample(server.pid)
            n = done.requests
            split = ", split" if args.split else ""
            print(f"{args.source or 'this tree'}, round {round_ + 1}: {n / done.seconds:,.0f} calls/s, p99 "
                  f"{done.p99_ms:.1f} ms, load average {os.getloadavg()[0]:.1f}{split}")  # fmt: skip
            total = 0
            for name in sorted(after):
                if name not in before:
                    continue
                d = [a - b for a, b in zip(after[name], before[name], strict=True)]
                total += d[2]
                if d[2] / 1e3 / n < 0.5:
                    continue
                print(f"  {name:28} user {d[0] * tick / n:6.1f}  system {d[1] * tick / n:5.1f}"
                      f"  run {d[2] / 1e3 / n:6.1f}  wait {d[3] / 1e3 / n:6.1f} µs/call;"
                      f" switches {d[4] / n:.3f} voluntary, {d[5] / n:.3f} involuntary per call")  # fmt: skip
            print(f"  every thread: run {total / 1e3 / n:.1f} µs/call")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
