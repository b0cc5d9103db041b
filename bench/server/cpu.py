"""CPU per warm request, in process: ``python -m bench.server.cpu [--requests N] [--profile]``.

Builds a Backend on a temporary SQLite database (the same caller and users as the server
benchmark), pre-signs GetUser requests, and feeds their raw HTTP bytes to the protocol
``iamd serve`` runs (``QueryProtocol.data_received``, on a transport that keeps what is
written; ``--path asgi`` drives the ASGI app instead): no socket, no kernel. The figure is
``time.process_time`` over N requests (all threads of this process: with ``--audit
thread`` the audit writer's share is included, with ``--audit process`` it is in the
child). Independent of machine load, unlike the wrk figures; use it to judge a change.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from iamd.api import Backend, create_app
from iamd.cli.server import tune_runtime

from .setup import TARGETS, get_user_bodies, make_caller, target_users
from .signing import Key, sign_query

__all__ = ["RecordingTransport", "measure", "query_protocol"]

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _split(raw: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")[1:]
    headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    return headers, body


def _setup(backend: Backend, app: Any) -> Key:
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        iam = boto3.client("iam", endpoint_url="http://127.0.0.1:8000", region_name="us-east-1",
                           aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET)  # fmt: skip

        # route botocore through the TestClient (no socket)
        def send(request: Any, **_: Any) -> Any:
            response = client.request(request.method, request.url, content=request.body, headers=dict(request.headers))
            from botocore.awsrequest import AWSResponse

            class Raw:
                def __init__(self, data: bytes) -> None:
                    self._data = data

                def stream(self, **_: Any) -> Any:
                    yield self._data

            return AWSResponse(request.url, response.status_code, dict(response.headers), Raw(response.content))

        iam.meta.events.register_first("before-send.iam.*", send)
        return make_caller(iam, TARGETS)  # what the server benchmark sets up over its socket


async def _drive(app: Any, requests: Sequence[tuple[list[tuple[bytes, bytes]], bytes]]) -> int:
    ok = 0
    for headers, body in requests:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        sent = False

        async def receive(body: bytes = body) -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        ok += status == 200
    return ok


class RecordingTransport:
    """Enough of an asyncio transport for uvicorn's protocol: keeps what is written (also
    tests/api/test_protocol.py's edge)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None  # set by the next write (``_feed``)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written.append(data)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _feed(protocol: Any, transport: RecordingTransport, raws: Sequence[bytes], loop: asyncio.AbstractEventLoop) -> int:
    """Each raw request through the protocol's ``data_received``, as one read each.

    A request not answered inline (the first with a key not yet cached runs on a worker
    thread) is waited for on ``loop``; warm GetUser requests are all answered inline. The loop
    waits for the request's tasks, or (a request handed back by its thread without a task,
    ``IamdApp.answer_off_loop``) for the transport's next write, as ``iamd serve``'s does for
    its worker threads (woken by the thread when it is done): polling every millisecond instead
    cost the harness 150 to 350 µs of CPU per request answered on a worker thread (more on a
    loaded machine), counted as the server's (bench/README.md, "First requests in two statements").

    The loop runs once for all of ``raws``, as ``iamd serve``'s runs for its life: one
    ``run_until_complete`` per request cost the harness about 27 µs of the loop thread's CPU
    per request on uvloop (its signal wake-up socket pair made and closed at each start and
    stop), counted as the server's (bench/README.md, "Session 15: iamd's CPU per write").
    """
    return loop.run_until_complete(_fed(protocol, transport, raws, loop))


async def _fed(
    protocol: Any, transport: RecordingTransport, raws: Sequence[bytes], loop: asyncio.AbstractEventLoop
) -> int:
    ok = 0
    for raw in raws:
        protocol.data_received(raw)
        while protocol.tasks:  # answered through a task: run it to its end
            await asyncio.wait(list(protocol.tasks))
        if not transport.written:  # answered on a worker thread, handed back to the loop without a task
            transport.waiter = loop.create_future()
            await transport.waiter
        ok += transport.written[0].startswith(b"HTTP/1.1 200 ")
        transport.written.clear()
    return ok


def query_protocol(app: Any, loop: asyncio.AbstractEventLoop) -> tuple[Any, RecordingTransport]:
    """iamd's HTTP protocol (what ``iamd serve`` runs) on a fake transport, no socket."""
    import uvicorn
    from uvicorn.server import ServerState

    from iamd.api.protocol import UVICORN_OPTIONS, QueryProtocol

    config = uvicorn.Config(app, **UVICORN_OPTIONS)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Sat, 28 Nov 2026 00:00:00 GMT"), (b"server", b"uvicorn")]
    protocol = QueryProtocol(config, state, {}, loop)
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


def measure(
    requests: int = 5000,
    *,
    profile: bool = False,
    sort: str = "cumulative",
    audit: str = "thread",
    path: str = "protocol",
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(f"sqlite:///{Path(tmp) / 'iamd.db'}", Path(tmp), dev=True, env=env)
        app = create_app(backend)
        key = _setup(backend, app)
        if audit == "process":  # after the set-up: its TestClient's lifespan closes the audit writer
            backend.audit_in_process(f"sqlite:///{Path(tmp) / 'iamd.db'}")
        # At most 1,000 distinct signed requests, repeated (SigV4 has no nonce): signing is
        # botocore's work, and the same in every run, so instruction counts can be compared.
        raws = sign_query("127.0.0.1", 8000, key, get_user_bodies(target_users(TARGETS, min(requests, 1000))))
        prepared = [_split(raws[i % len(raws)]) for i in range(requests)]
        ordered = [raws[i % len(raws)] for i in range(requests)]
        tune_runtime()  # the garbage collector and switch interval as under ``iamd serve``
        loop = asyncio.new_event_loop()
        protocol, transport = query_protocol(app, loop)

        def run(count: int) -> int:
            if path == "protocol":
                return _feed(protocol, transport, ordered[:count], loop)
            return loop.run_until_complete(_drive(app, prepared[:count]))

        try:
            if run(500) != 500:  # warm the caches
                raise RuntimeError("the warm-up requests failed")
            assert backend.audit is not None
            backend.audit.flush()
            profiler = cProfile.Profile() if profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            ok = run(requests)
            backend.audit.flush()
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            loop.close()
            backend.close()
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats(sort).print_stats(45)
            if os.environ.get("IAMD_BENCH_CALLERS"):
                stats.print_callers(os.environ["IAMD_BENCH_CALLERS"])
    if ok != requests:
        raise RuntimeError(f"{requests - ok} of {requests} GetUser requests failed")
    return {"requests": requests, "cpu_us_per_request": cpu / requests * 1e6,
            "wall_us_per_request": wall / requests * 1e6}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed requests")
    parser.add_argument("--audit", choices=["thread", "process"], default="thread",
                        help="the audit writer: a thread (counted) or a child process (not counted)")  # fmt: skip
    parser.add_argument("--path", choices=["protocol", "asgi"], default="protocol",
                        help="raw HTTP bytes through iamd serve's protocol (default), or the ASGI app")  # fmt: skip
    args = parser.parse_args(argv)
    result = measure(args.requests, profile=args.profile, audit=args.audit, path=args.path)
    print(f"warm GetUser, in process ({args.path}): {result['cpu_us_per_request']:.1f} µs CPU/request "
          f"({result['wall_us_per_request']:.1f} µs wall) over {result['requests']} requests")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
