"""CPU per authorization call, in process: ``python -m bench.authz_cpu [--singles N] [--batches N]``.

The workload of ``python -m bench.authz`` (the same service, clients, policies and signed
requests, built by its functions) fed as raw HTTP bytes to the protocol ``iamd serve`` runs
(``QueryProtocol.data_received`` on a transport that keeps what is written, as
``bench.server.cpu`` does for GetUser): no socket, no kernel, no load generator. The audit
writer is a child process, as under ``iamd serve``: its sender thread's pickling is in this
process's figure, the child's storing is not. Every answer is checked (status 200 and the
expected decisions) during the warm-up.

The trail's figure ("trail"): a further ``--singles`` calls' audit items captured as the server
submits them, shipped as its sender thread does (``wire``, pickled, 60 calls a batch), then
unpickled, built and stored as the writer process does, in this process: the writer's CPU per
call with none of the scheduling of a second process.

``--callgrind N``: after the same warm-up, only N single-check calls and the audit sender's flush,
inside ``functools.reduce`` (nothing else of the run calls it), for instruction counts:
``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce python -m
bench.authz_cpu --callgrind N``, run with two values of N; the difference of the totals over the
difference of N is the instructions per call, without the fixed costs (bench/README.md, "Session 13").

The figure is ``time.process_time`` per call over blocks of calls, each block ending with
the audit sender's flush: the fastest block (least disturbed by other processes on a shared
machine) and the median block. Run it in the old tree and the new one, one after the other,
to compare (bench/README.md, "The authorization API").
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3

import bench.authz as workload_module
from bench.server.cpu import ROOT_KEY, ROOT_SECRET, query_protocol
from iamd.api import Backend, create_app
from iamd.cli.server import tune_runtime

ENDPOINT = "http://127.0.0.1:8000"


def _set_up(app: Any) -> tuple[workload_module.Key, list[tuple[workload_module.Key, bool]]]:
    """bench.authz's set-up, its boto3 calls routed through a TestClient (no socket)."""
    from botocore.awsrequest import AWSResponse
    from starlette.testclient import TestClient

    with TestClient(app, base_url=ENDPOINT) as client:
        make = boto3.client

        def routed(*args: Any, **kwargs: Any) -> Any:
            made = make(*args, **kwargs)

            def send(request: Any, **_: Any) -> Any:
                answer = client.request(request.method, request.url, content=request.body,
                                        headers=dict(request.headers))  # fmt: skip

                class Raw:
                    def stream(self, **_: Any) -> Any:
                        yield answer.content

                return AWSResponse(request.url, answer.status_code, dict(answer.headers), Raw())

            made.meta.events.register_first("before-send.iam.*", send)
            return made

        workload_module.boto3.client = routed  # type: ignore[assignment]
        try:
            return workload_module.setup(ENDPOINT)
        finally:
            workload_module.boto3.client = make  # type: ignore[assignment]


def measure(
    singles: int = 3600, batches: int = 360, blocks: int = 12, callgrind: int = 0
) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'iamd.db'}"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(url, Path(tmp), dev=True, env=env)
        app = create_app(backend)
        service, clients = _set_up(app)
        backend.audit_in_process(url)  # after the set-up: its TestClient's lifespan closes the audit writer
        single, single_expect, batch, batch_expect = workload_module.workload(
            ENDPOINT, service, clients, distinct=200, batch=100
        )
        tune_runtime()
        loop = asyncio.new_event_loop()
        protocol, transport = query_protocol(app, loop)

        def feed(raws: Sequence[bytes], expect: Sequence[list[str]] | None) -> None:
            for i, raw in enumerate(raws):
                protocol.data_received(raw)
                while protocol.tasks:  # a batch (over 4 KiB) is answered on a worker thread
                    loop.run_until_complete(asyncio.wait(list(protocol.tasks)))
                out = b"".join(transport.written)
                transport.written.clear()
                if not out.startswith(b"HTTP/1.1 200 "):
                    raise SystemExit(f"iamd answered {out[:300]!r}")
                if expect is not None:
                    got = [r["Decision"] for r in json.loads(out.partition(b"\r\n\r\n")[2])["Results"]]
                    if got != expect[i]:
                        raise SystemExit(f"decisions differ: iamd {got}, expected {expect[i]}")

        results: dict[str, dict[str, float]] = {}
        try:
            for _ in range(2):  # warm every cache; each answer checked
                feed(single, single_expect)
                feed(batch, batch_expect)
            assert backend.audit is not None
            backend.audit.flush()
            if callgrind:
                calls = [single[i % len(single)] for i in range(callgrind)]
                audit = backend.audit

                def counted(_: None, __: int) -> None:  # the only functools.reduce of the run: callgrind's toggle
                    feed(calls, None)
                    audit.flush()

                functools.reduce(counted, [0], None)
                return {"callgrind": {"calls": callgrind}}
            runs: list[tuple[str, list[bytes], int, int]] = [("single", single, singles, 1),
                                                             ("batch", batch, batches, 100)]  # fmt: skip
            for name, raws, count, checks in runs:
                calls = [raws[i % len(raws)] for i in range(count)]
                step = max(1, count // blocks)
                per_call: list[float] = []
                for start in range(0, count, step):
                    part = calls[start : start + step]
                    cpu = time.process_time()
                    feed(part, None)
                    backend.audit.flush()
                    per_call.append((time.process_time() - cpu) / len(part) * 1e6)
                per_call.sort()
                results[name] = {
                    "calls": count, "checks_per_call": checks, "fastest_block_us_per_call": round(per_call[0], 1),
                    "median_block_us_per_call": round(per_call[len(per_call) // 2], 1),
                    "fastest_block_us_per_decision": round(per_call[0] / checks, 1),
                }  # fmt: skip
            results["writer"] = _writer(backend, url, lambda raws: feed(raws, None), single, singles)
        finally:
            loop.close()
            backend.close()
    return results


def _writer(backend: Any, url: str, feed: Callable[[Sequence[bytes]], None], single: Sequence[bytes],
            count: int, per_batch: int = 60) -> dict[str, float]:  # fmt: skip
    """The audit trail's cost of a single-check call, in this process: its items captured as the
    server submits them, shipped as the sender thread ships them (``wire``, encoded; batches of
    ``per_batch`` calls: a 20 ms window at 3,000 calls a second), then decoded, built and stored
    (``build_events``, ``store_batch``) as the writer process does, through a store of its own on
    the same database. CPU per call of the fastest batch and the median one."""
    from iamd.api.audit_process import decode, encode
    from iamd.api.audit_writer import KeyUses, build_events, store_batch, wire
    from iamd.store import open_store

    writer = backend.audit
    items: list[Any] = []
    uses: dict[str, Any] = {}

    class Capture:  # what the call submits, kept here instead of shipped
        def submit(self, event: Any) -> None:
            items.append(event)

        def key_used(self, key_id: str, when: Any, service: str, region: str) -> None:
            uses[key_id] = (when, service, region)

    backend.audit = Capture()
    try:
        feed([single[i % len(single)] for i in range(count)])
    finally:
        backend.audit = writer
    step = len(items) // count * per_batch
    sent: list[float] = []
    messages: list[bytes] = []
    for start in range(0, len(items), step):
        cpu = time.process_time()
        messages.append(encode((0, wire(items[start : start + step]), dict(uses), 0.0)))
        sent.append((time.process_time() - cpu) / per_batch * 1e6)
    store = open_store(url)
    written = KeyUses()
    stored: list[float] = []
    try:
        for message in messages:
            cpu = time.process_time()
            _, shipped, used, _ = decode(message)
            store_batch(store, build_events(shipped), used, written=written)
            stored.append((time.process_time() - cpu) / per_batch * 1e6)
    finally:
        store.close()
    sent.sort()
    stored.sort()
    return {
        "calls": count, "checks_per_call": 1, "events_per_call": len(items) / count,
        "sender_fastest_us_per_call": round(sent[0], 1), "sender_median_us_per_call": round(sent[len(sent) // 2], 1),
        "writer_fastest_us_per_call": round(stored[0], 1),
        "writer_median_us_per_call": round(stored[len(stored) // 2], 1),
    }  # fmt: skip


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.authz_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=3600, help="single-check calls timed")
    parser.add_argument("--batches", type=int, default=360, help="batch calls (100 checks each) timed")
    parser.add_argument("--callgrind", type=int, default=0, metavar="N",
                        help="only N single calls and the flush, inside functools.reduce (module doc)")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.singles, args.batches, callgrind=args.callgrind)
    if args.callgrind:
        out(f"callgrind: {args.callgrind} single calls and the audit flush inside functools.reduce")
        return 0
    if args.json:
        out(json.dumps(results, indent=2))
        return 0
    trail = results.pop("writer")
    for name, r in results.items():
        out(f"{name:6}: {r['fastest_block_us_per_call']:8.0f} µs CPU per call in the fastest block "
            f"({r['fastest_block_us_per_decision']:.1f} µs per decision), median block "
            f"{r['median_block_us_per_call']:.0f} µs, over {r['calls']:.0f} calls")  # fmt: skip
    out(f"trail : {trail['writer_fastest_us_per_call']:8.1f} µs CPU per single call in the audit writer's work "
        f"(decode, build, store; fastest batch of 60 calls, median {trail['writer_median_us_per_call']:.1f} µs), "
        f"{trail['sender_fastest_us_per_call']:.1f} µs in the server's sender (wire, encode; median "
        f"{trail['sender_median_us_per_call']:.1f} µs), {trail['events_per_call']:.0f} events a call")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
