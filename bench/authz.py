"""``python -m bench.authz``: the authorization API (``POST /iamd/authorize``) over a real socket.

Starts ``iamd serve --dev`` as its own process on a loopback port (bench/server/servers.py),
creates a service principal allowed ``iamd:Authorize`` and ten client users (half of them
allowed ``widgets:GetWidget`` on half of the widgets), and signs ahead of time, with botocore's
``SigV4Auth``: the clients' ``GET /widget/<name>`` requests to the widgets service (service
``widgets``), each wrapped in a ``POST /iamd/authorize`` body signed by the service (service
``iamd``). A single request carries one check; a batch request carries ``--batch`` checks
(different widgets) of one client request. Before timing, every distinct request is sent once
and its decisions compared with what the policies say (the run fails on a disagreement).

The load is closed-loop over keep-alive connections from another process (wrk when installed,
else bench/server/client.py), windows in turns like bench.server: decisions/s, p50/p99 of a
call. The peer, when installed, is Cedar (``cedarpy``, a test dependency) deciding the same
questions in process: no HTTP, no signature, no audit; it shows what the engine alone costs,
not an equivalent service (Verified Permissions and OPA are services or binaries that are not
installable here). Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from bench.server.load import LoadResult, run_load
from bench.server.servers import ROOT_KEY, ROOT_SECRET, start_iamd
from bench.server.signing import Key as QueryKey
from bench.server.signing import query_body, sign_query

ACCOUNT = "123456789012"  # --dev
SERVICE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iamd:Authorize", "Resource": "*"}]})  # fmt: skip
READER_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "widgets:GetWidget", "Resource": f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/w0*"},
    {"Effect": "Deny", "Action": "widgets:GetWidget",
     "Resource": f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/w09"}]})  # fmt: skip
WIDGETS = [f"w{i:02d}" for i in range(20)]


@dataclass(frozen=True)
class Key:
    key: str
    secret: str


def widget(name: str) -> str:
    return f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/{name}"


def expected(reader: bool, name: str) -> str:
    return "Allow" if reader and name.startswith("w0") and name != "w09" else "Deny"


def setup(endpoint: str) -> tuple[Key, list[tuple[Key, bool]]]:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ROOT_KEY,
                       aws_secret_access_key=ROOT_SECRET, config=config)  # fmt: skip

    def user(name: str, document: str | None) -> Key:
        iam.create_user(UserName=name)
        if document:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
        created = iam.create_access_key(UserName=name)["AccessKey"]
        return Key(created["AccessKeyId"], created["SecretAccessKey"])

    service = user("widgets-service", SERVICE_POLICY)
    clients = [(user(f"client-{i}", READER_POLICY if i % 2 == 0 else None), i % 2 == 0) for i in range(10)]
    return service, clients


def forwarded(client: Key, name: str) -> dict[str, Any]:
    request = AWSRequest(method="GET", url=f"http://widgets.example/widget/{name}")
    SigV4Auth(Credentials(client.key, client.secret), "widgets", "us-east-1").add_auth(request)
    prepared = request.prepare()
    headers = [["Host", "widgets.example"], *([k, v] for k, v in prepared.headers.items())]
    return {"Method": "GET", "Path": urlsplit(prepared.url).path, "Query": "", "Headers": headers}


def raw_post(endpoint: str, service: Key, body: dict[str, Any]) -> bytes:
    authority = urlsplit(endpoint).netloc
    data = json.dumps(body, separators=(",", ":")).encode()
    request = AWSRequest(method="POST", url=f"{endpoint}/iamd/authorize", data=data,
                         headers={"Content-Type": "application/json", "User-Agent": "iamd-bench"})  # fmt: skip
    SigV4Auth(Credentials(service.key, service.secret), "iamd", "us-east-1").add_auth(request)
    prepared = request.prepare()
    lines = ["POST /iamd/authorize HTTP/1.1", f"Host: {authority}"]
    for name, value in prepared.headers.items():
        if name.lower() not in ("host", "content-length"):
            lines.append(f"{name}: {value if isinstance(value, str) else value.decode()}")
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def workload(endpoint: str, service: Key, clients: list[tuple[Key, bool]], *, distinct: int, batch: int,
             seed: int = 7) -> tuple[list[bytes], list[list[str]], list[bytes], list[list[str]]]:  # fmt: skip
    """Signed single-check and batch requests, and the decisions each must get."""
    rng = random.Random(seed)
    singles, single_expect, batches, batch_expect = [], [], [], []
    for _ in range(distinct):
        client, reader = rng.choice(clients)
        name = rng.choice(WIDGETS)
        body = {"Request": forwarded(client, name), "Checks": [{"Action": "widgets:GetWidget",
                "Resource": widget(name)}], "Service": "widgets"}  # fmt: skip
        singles.append(raw_post(endpoint, service, body))
        single_expect.append([expected(reader, name)])
    for _ in range(max(1, distinct // 10)):
        client, reader = rng.choice(clients)
        names = [rng.choice(WIDGETS) for _ in range(batch)]
        body = {"Request": forwarded(client, names[0]), "Service": "widgets",
                "Checks": [{"Action": "widgets:GetWidget", "Resource": widget(n)} for n in names]}  # fmt: skip
        batches.append(raw_post(endpoint, service, body))
        batch_expect.append([expected(reader, n) for n in names])
    return singles, single_expect, batches, batch_expect


def verify(endpoint: str, requests: list[bytes], expect: list[list[str]]) -> None:
    """Send each distinct request once; its decisions must be the expected ones."""
    import socket

    host, port = urlsplit(endpoint).hostname or "", urlsplit(endpoint).port or 80
    for raw, want in zip(requests, expect, strict=True):
        with socket.create_connection((host, port), timeout=60) as sock:
            sock.sendall(raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"iamd answered {head.splitlines()[0]!r}: {body[:500]!r}")
        got = [r["Decision"] for r in json.loads(body)["Results"]]
        if got != want:
            raise SystemExit(f"decisions differ: iamd {got}, expected {want}")


def cedar_peer(distinct: int, batch: int, seconds: float) -> dict[str, Any] | None:
    """The same questions to Cedar in process (cedarpy), or None when it is not installed."""
    try:
        import cedarpy  # type: ignore[import-untyped]
    except ImportError:
        return None
    policies = (
        'permit(principal in Group::"readers", action == Action::"GetWidget", resource) '
        'when { resource.name like "w0*" };\n'
        'forbid(principal, action == Action::"GetWidget", resource) when { resource.name == "w09" };'
    )
    entities = [{"uid": {"type": "Group", "id": "readers"}, "attrs": {}, "parents": []}]
    for i in range(10):
        parents = [{"type": "Group", "id": "readers"}] if i % 2 == 0 else []
        entities.append({"uid": {"type": "User", "id": f"client-{i}"}, "attrs": {}, "parents": parents})
    for name in WIDGETS:
        entities.append({"uid": {"type": "Widget", "id": name}, "attrs": {"name": name}, "parents": []})
    rng = random.Random(7)
    requests, want = [], []
    for _ in range(distinct):
        i, name = rng.randrange(10), rng.choice(WIDGETS)
        requests.append({"principal": f'User::"client-{i}"', "action": 'Action::"GetWidget"',
                         "resource": f'Widget::"{name}"', "context": {}})  # fmt: skip
        want.append(expected(i % 2 == 0, name))
    policy_set = cedarpy.PolicySet.from_str(policies) if hasattr(cedarpy, "PolicySet") else policies
    entity_set = cedarpy.Entities.from_json_str(json.dumps(entities)) if hasattr(cedarpy, "Entities") else entities
    for request, w in zip(requests, want, strict=True):
        got = "Allow" if cedarpy.is_authorized(request, policy_set, entity_set).allowed else "Deny"
        if got != w:
            raise SystemExit(f"Cedar disagrees: {request} {got} != {w}")
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for request in requests:
            cedarpy.is_authorized(request, policy_set, entity_set)
        count += len(requests)
    single = count / (time.perf_counter() - started)
    count, started = 0, time.perf_counter()
    chunks = [requests[i : i + batch] for i in range(0, len(requests), batch)]
    while time.perf_counter() - started < seconds:
        for chunk in chunks:
            cedarpy.is_authorized_batch(chunk, policy_set, entity_set)
            count += len(chunk)
    return {"single_per_s": round(single), "batch_per_s": round(count / (time.perf_counter() - started))}


def pin_tree(pid: int, cpus: set[int]) -> list[int]:
    """Pin process ``pid``, every thread of it and every process below it to ``cpus`` (threads and
    processes made later inherit it); the pinned process ids."""
    pinned = []
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").iterdir():
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except OSError:  # a thread that has just ended
                continue
        pinned.append(current)
        todo += children.get(current, [])
    return pinned


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process ``pid`` and of the processes below it, by /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, cpu)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    below, todo = 0.0, [p for p, (parent, _) in stats.items() if parent == pid]
    while todo:
        current = todo.pop()
        below += stats[current][1]
        todo += [p for p, (parent, _) in stats.items() if parent == current]
    return stats.get(pid, (0, 0.0))[1], below


def stored_events(trail: Path) -> int:
    """The number of the last event stored in the server's trail (the SQLite file), read aside."""
    with contextlib.closing(sqlite3.connect(f"file:{trail}?mode=ro", uri=True, timeout=10)) as db:
        return int(db.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()[0])


def writer_behind(
    final: int, timeline: list[tuple[str, LoadResult, int]], per_call: dict[str, int]
) -> list[tuple[int, float]]:
    """How far behind the audit writer was at the end of each window: the events not yet stored
    then (the complete trail's length ``final`` less the windows' after it, ``per_call`` events a
    call, less the length then) and the age of the oldest of them (the windows back to back)."""
    out: list[tuple[int, float]] = []
    later = 0  # events of the windows after this one
    for i in range(len(timeline) - 1, -1, -1):
        kind, result, at_end = timeline[i]
        unstored = max(0, final - later - at_end)
        later += result.requests * per_call[kind]
        age, left = 0.0, unstored
        for earlier, window, _ in reversed(timeline[: i + 1]):  # from this window back
            events = window.requests * per_call[earlier]
            if left <= events:
                age += window.seconds * left / max(1, events)
                break
            age, left = age + window.seconds, left - events
        out.append((unstored, age))
    return out[::-1]


def thread_shares(before: dict[str, list[int]], after: dict[str, list[int]], calls: int) -> dict[str, float]:
    """Per call, between two :func:`bench.authz_threads.sample` of the server: how long its main thread
    (the event loop) ran and waited runnable for a CPU (the scheduler's ``schedstat``) and how often
    it was preempted (involuntary switches), and how long its other threads and its children ran. A
    window's tail with much waiting is the machine's (other processes, wrk, the audit writer's
    store), one without is the server's own (bench/README.md, "Session 15: where the single check's
    tail comes from")."""
    out = {
        "loop_run_us": 0.0,
        "loop_wait_us": 0.0,
        "loop_preempted": 0.0,
        "threads_run_us": 0.0,
        "children_run_us": 0.0,
    }
    for name, now in after.items():
        if name not in before:
            continue
        run, wait, preempted = (now[i] - before[name][i] for i in (2, 3, 5))
        if name.startswith("main "):
            out["loop_run_us"] += run / 1e3 / calls
            out["loop_wait_us"] += wait / 1e3 / calls
            out["loop_preempted"] += preempted / calls
        else:
            out["threads_run_us" if name.startswith("thread ") else "children_run_us"] += run / 1e3 / calls
    return {k: round(v, 3 if k == "loop_preempted" else 1) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.authz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, one round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="checks per batch request (at most 100)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--pin", action="store_true",
                        help="the server (its threads and audit writer) on the last CPU, this process and the load "
                             "generator on the others: they do not compete for a CPU")  # fmt: skip
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="serve the iamd of this source tree (e.g. the old tree, for a same-run pair)",
    )
    parser.add_argument("--window", type=float, default=None, help="seconds per window (3 with --quick, else 6)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of windows (1 with --quick, else 3)")
    parser.add_argument(
        "--only",
        choices=["single", "batch", "get_user"],
        default=None,
        help="time only this phase (with --rounds: the single check's tail over many windows)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    window, rounds = (3.0, 1) if args.quick else (6.0, 3)
    window, rounds = args.window or window, args.rounds or rounds
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    if args.client == "auto" and client == "python":
        say("wrk is not installed (Debian: apt-get install wrk): the load comes from bench/server/client.py, "
            "a Python process that needs more CPU per call than wrk (its figure is printed per phase)")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="iamd-bench-authz-"))
    server = start_iamd("iamd", tmp / "data", source=args.source.resolve() if args.source else None)
    results: dict[str, Any] = {"client": client, "connections": args.connections, "batch": args.batch,
                               "source": str(args.source or "this tree"), "load_start": os.getloadavg()[0]}  # fmt: skip
    try:
        if args.pin:
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) < 2:
                raise SystemExit("--pin needs at least two CPUs")
            pids = pin_tree(server.pid, {cpus[-1]})
            os.sched_setaffinity(0, set(cpus[:-1]))  # and the load generator, started from here
            results["pinned"] = {"server": [cpus[-1]], "load_generator": cpus[:-1], "server_processes": len(pids)}
        service, clients = setup(server.endpoint)
        singles, single_expect, batches, batch_expect = workload(server.endpoint, service, clients, distinct=200,
                                                                 batch=args.batch)  # fmt: skip
        say(f"verifying {len(singles)} single and {len(batches)} batch requests")
        verify(server.endpoint, singles, single_expect)
        verify(server.endpoint, batches, batch_expect)
        host, port = "127.0.0.1", server.port
        run_load(client, host, port, singles, connections=args.connections, duration=2.0)  # warm-up
        # The same process's IAM GetUser (SigV4 + the engine + an audit event, on iamd's direct
        # Query path): what one authenticated, authorized, audited call costs here, in the same run.
        bodies = [query_body("GetUser", {"UserName": f"client-{i % 10}"}) for i in range(200)]
        get_user = sign_query(host, port, QueryKey(ROOT_KEY, ROOT_SECRET), bodies)
        runs: dict[str, list[LoadResult]] = {"single": [], "batch": [], "get_user": []}
        cpu: dict[str, list[float]] = {kind: [0.0, 0.0] for kind in runs}  # the server's, its children's
        loads = {"single": singles, "batch": batches, "get_user": get_user}
        if args.only:
            runs, loads = {args.only: []}, {args.only: loads[args.only]}
        trail = tmp / "data" / "iamd.db"
        timeline: list[tuple[str, LoadResult, int]] = []  # each window, with the trail's length at its end
        from bench.authz_threads import sample

        shares: dict[str, list[dict[str, float]]] = {kind: [] for kind in runs}
        for r in range(rounds):
            say(f"round {r + 1}/{rounds}: single checks, batches of {args.batch}, IAM GetUser")
            for kind, requests in loads.items():
                before, threads_before = tree_cpu(server.pid), sample(server.pid)
                runs[kind].append(run_load(client, host, port, requests, connections=args.connections,
                                           duration=window))  # fmt: skip
                after, threads_after = tree_cpu(server.pid), sample(server.pid)
                cpu[kind][0] += after[0] - before[0]
                cpu[kind][1] += after[1] - before[1]
                last = runs[kind][-1]
                timeline.append((kind, last, stored_events(trail)))
                load = os.getloadavg()[0]
                share = thread_shares(threads_before, threads_after, max(1, last.requests))
                shares[kind].append(share)
                say(f"  {kind}: {last.requests / last.seconds:,.0f} calls/s, p50 {last.p50_ms:.2f} ms, p99 "
                    f"{last.p99_ms:.2f} ms, max {last.max_ms:.1f} ms (load average {load:.1f}); per call: the loop "
                    f"thread ran {share['loop_run_us']:.1f} µs, waited {share['loop_wait_us']:.1f} µs for a CPU, "
                    f"was preempted {share['loop_preempted']:.2f} times; the server's other threads ran "
                    f"{share['threads_run_us']:.1f} µs, the audit writer "
                    f"{share['children_run_us']:.1f} µs")  # fmt: skip
        for kind, done in runs.items():
            per_call = args.batch if kind == "batch" else 1
            requests = sum(x.requests for x in done)
            seconds = sum(x.seconds for x in done)
            results[kind] = {
                "calls_per_s": round(requests / seconds, 1), "decisions_per_s": round(requests * per_call / seconds),
                "p50_ms": sorted(x.p50_ms for x in done)[len(done) // 2],
                "p99_ms": sorted(x.p99_ms for x in done)[len(done) // 2],
                "bad_status": sum(x.bad_status for x in done), "errors": sum(x.errors for x in done),
                # CPU of the server process (every thread) and of its children (the audit writer,
                # which may still be storing the window before's events) per decision, by /proc.
                "server_cpu_us_per_decision": round(cpu[kind][0] / (requests * per_call) * 1e6, 1),
                "children_cpu_us_per_decision": round(cpu[kind][1] / (requests * per_call) * 1e6, 1),
                # The load generator's own CPU (wrk's or bench/server/client.py's, by getrusage)
                # per call: what it takes from the machine beside the server.
                "load_generator_cpu_us_per_call": round(sum(x.client_cpu_s for x in done) / requests * 1e6, 1),
                "threads_per_call": shares[kind],  # each window's (thread_shares)
            }  # fmt: skip
        results["server_cpu_s"] = round(server.cpu_s(), 1)
        server.process.send_signal(signal.SIGTERM)  # a clean stop stores the whole trail (within 60 s)
        server.process.wait(timeout=90)
        behind = writer_behind(stored_events(trail), timeline, {"single": 2, "batch": args.batch + 1, "get_user": 1})
        for kind in runs:
            lags = [
                (events, seconds) for (k, _, _), (events, seconds) in zip(timeline, behind, strict=True) if k == kind
            ]
            say(
                f"  {kind}: the trail behind at each window's end by "
                + ", ".join(f"{n:,} events ({x:.2f} s)" for n, x in lags)
            )
            results.setdefault("writer_behind", {})[kind] = lags
        if not args.only:
            say("peer: cedarpy in process")
            results["cedar_in_process"] = cedar_peer(200, args.batch, 2.0 if args.quick else 5.0)
        results["load_end"] = os.getloadavg()[0]
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if args.only:
        only = results[args.only]
        p99s = ", ".join(f"{x.p99_ms:.2f}" for x in runs[args.only])
        print(f"iamd {args.only}, {args.connections} connections, {client} client, {rounds} windows of {window:g} s "
              f"(load average {results['load_start']:.1f} → {results['load_end']:.1f}): {only['decisions_per_s']:,} "
              f"decisions/s, p50 {only['p50_ms']:.2f} ms, p99 {only['p99_ms']:.2f} ms (median of windows: {p99s}); "
              f"server {only['server_cpu_us_per_decision']} + audit writer {only['children_cpu_us_per_decision']} "
              f"µs CPU per decision")  # fmt: skip
        return 0
    single, batch = results["single"], results["batch"]
    pinned = results.get("pinned")
    where = (f", server ({pinned['server_processes']} processes) pinned to CPU {pinned['server'][0]}, load generator "
             "to the others" if pinned else "")  # fmt: skip
    where += f", iamd of {args.source}" if args.source else ""
    print(f"iamd POST /iamd/authorize, {args.connections} connections, {client} client{where} "
          f"(load average {results['load_start']:.1f} → {results['load_end']:.1f})")  # fmt: skip
    met = single["decisions_per_s"] >= 5000 and single["p99_ms"] <= 5
    print(f"  single check : {single['decisions_per_s']:>8,} decisions/s   p50 {single['p50_ms']:.2f} ms   "
          f"p99 {single['p99_ms']:.2f} ms   {_met(met)}")  # fmt: skip
    print(f"                 server CPU {single['server_cpu_us_per_decision']} µs/decision, audit writer "
          f"{single['children_cpu_us_per_decision']} µs/decision, load generator "
          f"{single['load_generator_cpu_us_per_call']} µs/call")  # fmt: skip
    print(f"  batch of {args.batch:<4}: {batch['decisions_per_s']:>8,} decisions/s   p50 {batch['p50_ms']:.2f} ms   "
          f"p99 {batch['p99_ms']:.2f} ms   {_met(batch['decisions_per_s'] >= 50000)}")  # fmt: skip
    print(f"                 server CPU {batch['server_cpu_us_per_decision']} µs/decision, audit writer "
          f"{batch['children_cpu_us_per_decision']} µs/decision, load generator "
          f"{batch['load_generator_cpu_us_per_call']} µs/call")  # fmt: skip
    get = results["get_user"]
    print(f"  IAM GetUser  : {get['decisions_per_s']:>8,} calls/s       p50 {get['p50_ms']:.2f} ms   "
          f"p99 {get['p99_ms']:.2f} ms   (the same server, same run)")  # fmt: skip
    print(f"  ratios       : single / GetUser {single['decisions_per_s'] / max(1, get['decisions_per_s']):.2f}, "
          f"batch / GetUser {batch['decisions_per_s'] / max(1, get['decisions_per_s']):.2f} "
          "(what this machine allows: both targets assume GetUser near 10,000/s)")  # fmt: skip
    peer = results.get("cedar_in_process")
    if peer:
        print(f"  Cedar (cedarpy, in process, no HTTP/SigV4/audit): {peer['single_per_s']:,}/s single, "
              f"{peer['batch_per_s']:,}/s batched")  # fmt: skip
    return 0


def _met(ok: bool) -> str:
    return "target MET" if ok else "target MISSED"


if __name__ == "__main__":
    sys.exit(main())
