"""The audit writer process under request load, a base revision against this tree: ``python -m bench.audit_load``.

    python -m bench.audit_load                          # main against the working tree
    python -m bench.audit_load --base HEAD~3 --rate 3000 --seconds 4 --busy 0.8 --rounds 3 --json

``bench.audit`` stores 500 events a transaction, in process: the trail's bulk cost. Under
``iamd serve`` the writer is a child process that the server's sender thread ships a batch to
every 20 ms, whatever has been queued: at the authorization API's single-check rate that is a
batch of about 60 calls, and with the server pinned to one CPU (``python -m bench.authz --pin``)
the child, idle-only (``SCHED_IDLE``), runs in the gaps the server leaves. This measures that:
each side (its own process, its own ``iamd``; the base revision is ``git archive``\\ d) starts its
own ``AuditProcessWriter`` on a fresh SQLite database, pins itself and the child to one CPU, and
submits ``--rate`` single-check authorization calls a second for ``--seconds`` (each call's two
items as the server queues them: the ``Authorize`` call's ``CallEvent`` and its check's
``CheckEvents``, three in four checks denied, as ``bench.authz``'s workload), its main thread
busy for ``--busy`` of each millisecond in between (the server's request work). Then it flushes.

Per call, best of ``--rounds``, by ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds on a CPU,
user and kernel; ``--stored N``: with N events in the trail before, as a server that has been
running has): **writer**, the child process's whole CPU (pipe, unpickling, building, storing,
committing, acknowledging, its priority switches); **sender**, the server's sender thread
(``wire``, pickling, the pipe, its wake-ups); and the batches the child committed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audit import _extract

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"


def _ns(pid: int, tid: int | None = None) -> int:
    """Nanoseconds on a CPU of a process (every thread) or of one thread."""
    if tid is not None:
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except OSError:  # a thread that has just ended
            continue
    return total


def _calls(count: int) -> list[tuple[Any, Any]]:
    """``count`` single-check calls' items, as the Authorize operation queues them (identities and
    the deciding statements one object each, as in the server)."""
    from iamd.audit import CallEvent, CheckEvents
    from iamd.ids import new_uuid4

    def identity(name: str, n: int) -> dict[str, str]:
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accessKeyId": f"AKIA{n:016d}",
                "type": "IAMUser", "principalId": f"AIDA{n:017d}", "userName": name}  # fmt: skip

    service = identity("widgets-service", 99)
    clients = [identity(f"client-{i}", i) for i in range(10)]
    statements = ({"policyName": "p", "policyArn": None, "policyType": "identity", "policyKind": "inline",
                   "policyOwner": "user", "sid": None, "statementIndex": 0, "effect": "Allow",
                   "start": {"line": 1, "column": 41}},)  # fmt: skip
    allowed = ("allowed", "widgets:GetWidget", None, (), statements, (), ())
    denied = (
        "implicitDeny",
        "widgets:GetWidget",
        "identity",
        ({"type": "identity", "effect": "implicit"},),
        (),
        (),
        (),
    )
    authorize = ("allowed", "iamd:Authorize", f"arn:aws:iamd::{ACCOUNT}:service/widgets", None, (), statements, (), ())
    by = service["arn"]
    out = []
    for n in range(count):
        client = clients[n % 10]
        name = f"w{(n * 7) % 20:02d}"
        resource = f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/{name}"
        deny = n % 4 != 0
        request_id, when = new_uuid4(), datetime.now(UTC)
        message = (f"User: {client['arn']} is not authorized to perform: widgets:GetWidget on resource: {resource} "
                   "because no identity-based policy allows the widgets:GetWidget action")  # fmt: skip
        call = CallEvent(
            request_id, when, "iamd.amazonaws.com", "Authorize", "us-east-1", "127.0.0.1", "iamd-bench", service,
            ACCOUNT, {"request": {"method": "GET", "path": f"/widget/{name}"},
                      "checks": [{"action": "widgets:GetWidget", "resource": resource}], "service": "widgets"},
            None, None, None, authorize,
        )  # fmt: skip
        check = ("GetWidget", resource, ACCOUNT, "AccessDenied" if deny else None, message if deny else None,
                 denied if deny else allowed, None)  # fmt: skip
        checks = CheckEvents(request_id, when, "widgets.amazonaws.com", "us-east-1", "127.0.0.1", "", client, by,
                             (check,), new_uuid4())  # fmt: skip
        out.append((call, checks))
    return out


def _fill(path: Path, stored: int) -> None:
    """``stored`` more events in the trail, copies of the last two (an ``Authorize`` call's and its
    check's) with ids from the side's own ``new_uuid4``: a trail that a server has been writing."""
    import sqlite3

    from iamd.ids import new_uuid4
    from iamd.store.audit_codec import id_blob

    db = sqlite3.connect(path, isolation_level=None)
    try:
        columns = [r[1] for r in db.execute("PRAGMA table_info(audit_events)") if r[1] not in ("seq",)]
        rest = ", ".join(c for c in columns if c not in ("event_id", "request_id"))
        insert = (f"INSERT INTO audit_events (event_id, request_id, {rest}) "
                  f"SELECT ?, ?, {rest} FROM audit_events WHERE seq = ?")  # fmt: skip
        last = db.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
        for start in range(0, stored, 10_000):
            rows = []
            for _ in range(start, min(stored, start + 10_000), 2):
                request = id_blob(new_uuid4())
                rows += [(id_blob(new_uuid4()), request, last - 1), (id_blob(new_uuid4()), request, last)]
            db.execute("BEGIN")
            db.executemany(insert, rows)
            db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def worker(rate: int, seconds: float, busy: float, cpu: int, stored: int = 0) -> dict[str, float]:
    """One side's run (that side's iamd first on sys.path)."""
    import iamd
    from iamd.api.audit_process import AuditProcessWriter
    from iamd.store import migrate, open_store

    assert str(Path(iamd.__file__).resolve()).startswith(sys.path[0]), iamd.__file__
    os.sched_setaffinity(0, {cpu})  # the child and the sender thread inherit it
    count = int(rate * seconds)
    calls = _calls(count)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'iamd.db'}"
        migrate.upgrade(url)
        store = open_store(url)
        writer = AuditProcessWriter(store, url)
        try:
            for call, checks in calls[:100]:  # the child started, its strings interned
                writer.submit(call)
                writer.submit(checks)
            writer.flush()
            if stored:
                _fill(Path(tmp) / "iamd.db", stored)
            child = writer._process.pid
            sender = writer._thread.native_id
            assert child is not None and sender is not None
            longest = _longest_cycle(writer)
            submitted = [0]  # calls submitted so far
            behind = _behind(Path(tmp) / "iamd.db", submitted, rate)
            child_ns, sender_ns = _ns(child), _ns(os.getpid(), sender)
            started = time.monotonic()
            for i, (call, checks) in enumerate(calls[100:]):
                due = started + i / rate
                while (now := time.monotonic()) < due:  # the server's own work: busy, with gaps
                    tick = now % 0.001
                    if tick < busy * 0.001:
                        continue
                    time.sleep(max(0.0, min(0.001 - tick, due - now)))
                writer.submit(call)
                writer.submit(checks)
                submitted[0] = i + 1
            submitted[0] = -1  # the sampler stops
            flush = time.thread_time()
            writer.flush()  # what is still queued is shipped from this thread
            flush = time.thread_time() - flush
            child_ns, sender_ns = _ns(child) - child_ns, _ns(os.getpid(), sender) - sender_ns
            elapsed = time.monotonic() - started
        finally:
            writer.close()
            store.close()
    done = count - 100
    return {"calls": done, "calls_per_s": done / elapsed, "writer_us": child_ns / done / 1e3,
            "sender_us": sender_ns / done / 1e3, "flush_us": flush / done * 1e6, "cycle_ms": longest[0] * 1e3,
            "behind_s": max(behind)}  # fmt: skip


def _longest_cycle(writer: Any) -> list[float]:
    """The sender thread's longest cycle in CPU seconds (the GIL held in one go at most), kept in the
    list returned: the writer's ``_cycle`` timed by its thread's CPU clock."""
    longest = [0.0]
    cycle = writer._cycle

    def timed() -> None:
        start = time.thread_time()
        cycle()
        longest[0] = max(longest[0], time.thread_time() - start)

    writer._cycle = timed
    return longest


def _behind(path: Path, submitted: list[int], rate: int) -> list[float]:
    """How far the trail lags the calls submitted, in seconds of calls (two events each, from the
    100th call's on), sampled every 50 ms by a thread until ``submitted[0]`` is -1: the list it fills."""
    import sqlite3
    import threading

    seen = [0.0]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10)
    first = db.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()[0]

    def sample() -> None:
        try:
            while (calls := submitted[0]) >= 0:
                stored = db.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()[0] - first
                seen.append(max(0, 2 * calls - stored) / 2 / rate)
                time.sleep(0.05)
        finally:
            db.close()

    threading.Thread(target=sample, daemon=True).start()
    return seen


def _side(root: Path, rate: int, seconds: float, busy: float, cpu: int, stored: int) -> dict[str, float]:
    code = (f"import sys; sys.path.insert(0, {str(root)!r}); import json; from bench.audit_load import worker; "
            f"print(json.dumps(worker({rate}, {seconds}, {busy}, {cpu}, {stored})))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(root)},
                         check=True, capture_output=True, text=True)  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_load", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the git revision to compare with (default: main)")
    parser.add_argument("--rate", type=int, default=3000, help="single-check calls a second")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--busy", type=float, default=0.8, help="the submitting thread's busy share of its CPU")
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the CPU both processes run on")
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="events in the trail before (copies of the workload's, ids from the side's own iamd)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="base and this tree in turns, best of each")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = _extract(args.base, Path(tmp))
        for r in range(args.rounds):
            for name, root in (("base", base), ("this", ROOT)):
                got = _side(root, args.rate, args.seconds, args.busy, args.cpu, args.stored)
                results[name].append(got)
                if not args.json:
                    print(f"round {r + 1} {name:4}: writer {got['writer_us']:6.1f} µs/call, sender "
                          f"{got['sender_us']:5.1f} µs/call + {got['flush_us']:.1f} in the final flush "
                          f"({got['calls_per_s']:,.0f} calls/s); longest sender "
                          f"cycle {got['cycle_ms']:.2f} ms CPU; trail behind by {got['behind_s']:.2f} s at most",
                          file=sys.stderr)  # fmt: skip
    best = {name: {k: min(r[k] for r in runs) for k in ("writer_us", "sender_us")} for name, runs in results.items()}
    if args.json:
        print(json.dumps({"rounds": results, "best": best}, indent=2))
        return 0
    print(f"single-check calls at {args.rate}/s for {args.seconds:g} s, the submitting thread {args.busy:.0%} busy, "
          f"both processes on CPU {args.cpu}, {args.stored:,} events stored before; best of {args.rounds} "
          "(CPU per call, µs)")  # fmt: skip
    for name in ("base", "this"):
        label = f"base ({args.base})" if name == "base" else name
        print(f"  {label:14} writer {best[name]['writer_us']:6.1f}   sender {best[name]['sender_us']:5.1f}")
    print(f"  ratio this/base: writer {best['this']['writer_us'] / best['base']['writer_us']:.2f}, "
          f"sender {best['this']['sender_us'] / best['base']['sender_us']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
