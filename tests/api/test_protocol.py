"""The HTTP protocol ``iamd serve`` runs (iamd.api.protocol.QueryProtocol), over raw sockets.

Query API requests (``GET``/``POST /``) are answered straight from the HTTP parser, in one
write; everything else goes through uvicorn's ASGI path. Both must look the same on the
wire, keep-alive and pipelining must keep their order, and the cases the direct path hands
to ASGI (Expect: 100-continue, proxy headers, HEAD, other paths) must still be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamd.api.app import IamdApp
from iamd.api.pipeline import MAX_BODY
from tests.api.server import RunningServer

BODY = b"Action=GetUser&Version=2010-05-08"


def _signed(server: RunningServer, body: bytes = BODY, extra: dict[str, str] | None = None) -> bytes:
    """A raw HTTP/1.1 request signed by botocore with the root key."""
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})  # fmt: skip
    SigV4Auth(Credentials(server.root_key, server.root_secret), "iam", "us-east-1").add_auth(request)
    headers = dict(request.prepare().headers)
    headers.update(extra or {})
    host = urlsplit(server.endpoint).netloc
    lines = [b"POST / HTTP/1.1", f"Host: {host}".encode()]
    lines += [f"{k}: {v}".encode() for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _connect(server: RunningServer) -> socket.socket:
    parts = urlsplit(server.endpoint)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


class _Reader:
    """Reads whole HTTP/1.1 responses (Content-Length framed) off one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed mid-response: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"header {name} sent twice"
            headers[name.lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split(" ")[1]), headers, body

    def closed(self) -> bool:
        """True once the server has closed the connection (nothing more to read)."""
        return not self.buffer and not self._fill()


def _answered(loop: asyncio.AbstractEventLoop, transport: Any, count: int = 1) -> None:
    """Run ``loop`` until the fake ``transport`` (bench.server.cpu) holds ``count`` writes: an answer
    given on a worker thread comes back through the loop."""
    while len(transport.written) < count:
        transport.waiter = loop.create_future()
        loop.run_until_complete(asyncio.wait_for(transport.waiter, 10))


def _drained(loop: asyncio.AbstractEventLoop, protocol: Any) -> None:
    """Run ``loop`` until ``protocol``'s ASGI tasks (uvicorn's path) are done."""
    while protocol.tasks:
        loop.run_until_complete(asyncio.wait(list(protocol.tasks)))


@contextlib.contextmanager
def _app_on_a_loop(server: RunningServer) -> Iterator[tuple[asyncio.AbstractEventLoop, IamdApp]]:
    """A new event loop and an app on ``server``'s backend, for the protocol on a fake transport
    (``bench.server.cpu.query_protocol``); afterwards the app's lanes shut down and the loop closed."""
    loop = asyncio.new_event_loop()
    app = IamdApp(server.backend)
    try:
        yield loop, app
    finally:
        app.lanes.shutdown()
        loop.close()


def test_query_requests_on_one_keep_alive_connection(api_server: RunningServer) -> None:
    with _connect(api_server) as sock:
        reader = _Reader(sock)
        for _ in range(3):
            sock.sendall(_signed(api_server))
            status, headers, body = reader.response()
            assert status == 200
            assert b"<GetUserResponse" in body and b"<RequestId>" in body
            assert headers["content-type"] == "text/xml"
            assert headers["x-amzn-requestid"] in body.decode()
            assert headers["content-length"] == str(len(body))
            assert "date" in headers and "connection" not in headers


def test_the_direct_and_the_asgi_paths_send_the_same_headers(api_server: RunningServer) -> None:
    # A proxy header sends the request through uvicorn's ASGI path (its proxy-headers
    # middleware may rewrite the client address); the answer must look the same.
    with _connect(api_server) as sock:
        reader = _Reader(sock)
        sock.sendall(_signed(api_server))
        direct_status, direct, direct_body = reader.response()
        sock.sendall(_signed(api_server, extra={"X-Forwarded-For": "127.0.0.1"}))
        asgi_status, through_asgi, asgi_body = reader.response()
    assert direct_status == asgi_status == 200
    assert sorted(direct) == sorted(through_asgi)
    assert direct_body.replace(direct["x-amzn-requestid"].encode(), b"ID") == asgi_body.replace(
        through_asgi["x-amzn-requestid"].encode(), b"ID"
    )


def test_pipelined_requests_are_answered_in_order(api_server: RunningServer) -> None:
    unsigned = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\nAction=Nope&X"
    health = b"GET /_iamd/health HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(api_server) as sock:
        reader = _Reader(sock)
        # signed (direct), health (ASGI), signed again (queued behind the ASGI one), unsigned
        sock.sendall(_signed(api_server) + health + _signed(api_server) + unsigned)
        answers = [reader.response() for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 400]
    assert b"<GetUserResponse" in answers[0][2]
    assert b'"status"' in answers[1][2]
    assert b"<GetUserResponse" in answers[2][2]
    assert b"<Code>InvalidAction</Code>" in answers[3][2]


def test_http_1_0_and_connection_close_end_the_connection(api_server: RunningServer) -> None:
    for raw in (
        _signed(api_server).replace(b"POST / HTTP/1.1", b"POST / HTTP/1.0", 1),
        _signed(api_server, extra={"Connection": "close"}),
    ):
        with _connect(api_server) as sock:
            reader = _Reader(sock)
            sock.sendall(raw)
            status, headers, _ = reader.response()
            assert status == 200 and headers["connection"] == "close"
            assert reader.closed()


def test_a_chunked_body_is_read_whole(api_server: RunningServer) -> None:
    raw = _signed(api_server)
    head, _, body = raw.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length"))
    chunked = head + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    for piece in (body[:10], body[10:]):
        chunked += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    chunked += b"0\r\n\r\n"
    with _connect(api_server) as sock:
        sock.sendall(chunked)
        status, _, answer = _Reader(sock).response()
    assert status == 200 and b"<GetUserResponse" in answer


def test_a_body_sent_a_byte_at_a_time_is_read_whole(api_server: RunningServer) -> None:
    import time

    head, _, body = _signed(api_server).partition(b"\r\n\r\n")
    with _connect(api_server) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head + b"\r\n\r\n")
        for i in range(len(body)):
            sock.sendall(body[i : i + 1])
            time.sleep(0.001)
        status, _, answer = _Reader(sock).response()
    assert status == 200 and b"<GetUserResponse" in answer


def test_a_body_over_the_limit_is_refused_and_the_connection_still_serves(api_server: RunningServer) -> None:
    big = b"Action=GetUser&Version=2010-05-08&Pad=" + b"x" * MAX_BODY
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(big)}\r\n\r\n".encode()
    with _connect(api_server) as sock:
        reader = _Reader(sock)
        sock.sendall(head + big)
        status, _, body = reader.response()
        assert status == 400 and b"Request body too large" in body
        sock.sendall(_signed(api_server))  # the rest of the large body was read and dropped
        assert reader.response()[0] == 200


def test_expect_100_continue_goes_through_asgi(api_server: RunningServer) -> None:
    raw = _signed(api_server, extra={"Expect": "100-continue"})
    head, _, body = raw.partition(b"\r\n\r\n")
    with _connect(api_server) as sock:
        reader = _Reader(sock)
        sock.sendall(head + b"\r\n\r\n")
        status, _, _ = reader.response()
        assert status == 100
        sock.sendall(body)
        status, _, answer = reader.response()
    assert status == 200 and b"<GetUserResponse" in answer


def test_head_and_malformed_requests(api_server: RunningServer) -> None:
    with _connect(api_server) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 400 ") and b"\r\n\r\n" in data  # MissingAction, no body
    with _connect(api_server) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        status, _, body = _Reader(sock).response()
        assert status == 400 and b"Invalid HTTP request" in body


def test_a_query_answer_is_one_write(api_server: RunningServer) -> None:

    from bench.server.cpu import query_protocol  # the protocol on a transport that records writes
    from iamd.api.app import IamdApp

    loop = asyncio.new_event_loop()
    try:
        protocol, transport = query_protocol(IamdApp(api_server.backend), loop)
        protocol.data_received(_signed(api_server) + _signed(api_server))  # two, pipelined
        writes = transport.written
        assert len(writes) == 2  # answered from the parser, one write each, no task
        assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and b"<GetUserResponse" in w for w in writes)
        protocol.data_received(b"GET /_iamd/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert len(writes) == 2  # other paths go through ASGI: a task, not answered inline
        loop.run_until_complete(asyncio.sleep(0.05))
        assert len(writes) == 4 and b'"status"' in writes[3]  # uvicorn: head, then body
        protocol.connection_lost(None)
    finally:
        loop.close()


def test_an_answer_arms_no_keep_alive_timer_and_the_idle_deadline_closes(api_server: RunningServer) -> None:
    """After an answer the connection waits for the next request under the deadline sweep's idle
    deadline (a float stored), not a keep-alive timer armed per answer and cancelled by the next
    request (``call_later``); the deadline closes it once passed, and a new request replaces it."""

    from bench.server.cpu import query_protocol
    from iamd.api import protocol as module
    from iamd.api.app import IamdApp

    loop = asyncio.new_event_loop()
    try:
        protocol, transport = query_protocol(IamdApp(api_server.backend), loop)

        protocol.data_received(_signed(api_server))
        _answered(loop, transport, 1)
        assert transport.written[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert protocol.timeout_keep_alive_task is None  # no timer per answer
        assert protocol._waiting == module._IDLE
        assert protocol._deadline == pytest.approx(loop.time() + protocol.timeout_keep_alive, abs=1.0)
        protocol.data_received(_signed(api_server)[:20])  # the next request's first bytes: its head's deadline
        assert protocol._waiting == module._HEAD and not transport.closed
        protocol.data_received(_signed(api_server)[20:])
        _answered(loop, transport, 2)
        assert protocol._waiting == module._IDLE
        protocol._deadline = loop.time() - 1  # as if idle for the keep-alive timeout
        module.QueryProtocol._sweep_all(protocol.connections, protocol.server_state, 60.0)
        assert transport.closed and len(transport.written) == 2  # closed, nothing written: nobody asked
        protocol.connection_lost(None)
    finally:
        loop.close()


def test_an_answer_from_a_worker_thread_comes_back_without_a_task(api_server: RunningServer) -> None:
    """A request answered on a worker thread (ListUsers: never inline) is handed back to the
    loop by the thread itself (``IamdApp.answer_off_loop``): no asyncio task, no ASGI
    coroutines. The request pipelined behind it still waits for it; a client gone meanwhile
    gets nothing written; a shutdown meanwhile closes the connection after the answer."""

    from bench.server.cpu import query_protocol

    list_users = b"Action=ListUsers&Version=2010-05-08"
    with _app_on_a_loop(api_server) as (loop, app):
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server, list_users) + _signed(api_server))  # GetUser pipelined behind
        assert not protocol.tasks  # on the worker thread, with no task on the loop
        assert transport.written == []  # the GetUser behind it waits for it
        _answered(loop, transport)
        _drained(loop, protocol)  # the GetUser queued behind it takes uvicorn's path (head, then body)
        first, *second = transport.written
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"<ListUsersResponse" in first
        assert second[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"<GetUserResponse" in b"".join(second)
        assert b"connection: close" not in first and not transport.closed

        # shut down while it runs: answered, then closed
        transport.written.clear()
        protocol.data_received(_signed(api_server, list_users))
        protocol.shutdown()
        _answered(loop, transport)
        assert b"<ListUsersResponse" in transport.written[0] and b"connection: close\r\n" in transport.written[0]
        assert transport.closed
        protocol.connection_lost(None)

        # the client goes away while it runs: nothing is written, nothing fails
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server, list_users))
        protocol.connection_lost(None)
        done = app.lanes.read.submit(lambda: None)  # queued behind the job on the read lane's one thread
        done.result(10)
        loop.run_until_complete(asyncio.sleep(0.05))
        assert transport.written == []


def test_a_query_request_off_the_loop_keeps_no_asgi_cycle(
    api_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Query request answered on a worker thread keeps a small cycle of iamd's on the
    connection (``_OffLoopCycle``), not uvicorn's ``RequestResponseCycle`` with its scope and
    ``asyncio.Event`` (bench/README.md, "Session 17: the event loop's share of a write"); the
    request pipelined behind it still waits for it, and keep-alive holds."""

    import iamd.api.protocol as protocol_module
    from bench.server.cpu import query_protocol

    made: list[object] = []

    class Counted(protocol_module.RequestResponseCycle):
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(protocol_module, "RequestResponseCycle", Counted)
    with _app_on_a_loop(api_server) as (loop, app):
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server, b"Action=ListUsers&Version=2010-05-08"))
        assert made == [] and not protocol.tasks
        assert not protocol.cycle.response_complete and protocol.cycle.keep_alive
        protocol.data_received(_signed(api_server))  # GetUser pipelined behind it: queued (uvicorn's own cycle)
        assert transport.written == [] and len(protocol.pipeline) == 1
        _answered(loop, transport)
        _drained(loop, protocol)
        assert b"<ListUsersResponse" in transport.written[0] and b"connection: close" not in transport.written[0]
        assert b"<GetUserResponse" in b"".join(transport.written[1:]) and not transport.closed
        protocol.connection_lost(None)


def test_a_write_off_the_loop_is_scanned_for_its_action_once(
    api_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write (CreateUser: never inline) is looked at by the inline try and sent to the write
    lane: both, and its metrics label, use the one scan of its body (``IamdApp.action_of``)."""

    import iamd.api.app as app_module
    from bench.server.cpu import query_protocol

    scans: list[bytes] = []
    scan = app_module._plain_action

    def counted(body: bytes, query: str) -> str | None:
        scans.append(body)
        return scan(body, query)

    monkeypatch.setattr(app_module, "_plain_action", counted)
    with _app_on_a_loop(api_server) as (loop, app):
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server, b"Action=CreateUser&UserName=scanned-once&Version=2010-05-08"))
        _answered(loop, transport)
        assert (
            transport.written[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"<CreateUserResponse" in transport.written[0]
        )
        assert scans == [b"Action=CreateUser&UserName=scanned-once&Version=2010-05-08"]
        assert app.lanes._write is not None and app.lanes._read is None  # the write lane, by the scanned Action
        protocol.connection_lost(None)


def _in_process(api_server: RunningServer, raw: bytes) -> tuple[list[bytes], int, list[str]]:
    """``raw`` fed to the protocol ``iamd serve`` runs, on a fake transport: what was written at
    once (the direct path, inline), how many ASGI tasks it started, and the paths whose Action
    the app was asked for (``IamdApp.action_of``)."""

    import iamd.api.app as app_module
    from bench.server.cpu import query_protocol

    with _app_on_a_loop(api_server) as (loop, app):
        scanned: list[str] = []
        action_of = app.action_of

        def counted(http: app_module.HttpRequest) -> str | None:
            scanned.append(http.path)
            return action_of(http)

        app.action_of = counted  # type: ignore[method-assign]
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(raw)
        tasks = len(protocol.tasks)
        if not tasks and not transport.written:  # on a worker thread of a lane: its answer comes back
            _answered(loop, transport)
        written = list(transport.written)
        for task in list(protocol.tasks):
            task.cancel()
        protocol.connection_lost(None)
        loop.run_until_complete(asyncio.sleep(0))
    return written, tasks, scanned


@pytest.mark.parametrize(
    ("extra", "direct"),
    [
        ({}, True),
        ({"X-Not-Forwarded": "1", "Forwarded-Note": "x"}, True),  # "forwarded" in a name, not a proxy header
        ({"Forwarded": "for=192.0.2.1"}, False),
        ({"X-Forwarded-For": "192.0.2.1"}, False),
        ({"x-forwarded-proto": "https"}, False),
    ],
)
def test_only_proxy_headers_send_a_request_through_asgi(
    api_server: RunningServer, extra: dict[str, str], direct: bool
) -> None:
    """The head's check finds the proxy headers by a search of the names joined (bench/README.md,
    "Session 17"): exactly ``Forwarded`` and ``X-Forwarded-*``, whatever their case."""
    written, tasks, scanned = _in_process(api_server, _signed(api_server, extra=extra))
    if direct:
        assert tasks == 0 and scanned == ["/"]
        assert written[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"<GetUserResponse" in written[0]
    else:
        assert tasks == 1 and scanned == [] and written == []  # uvicorn's ASGI cycle answers it


def test_the_authorization_api_s_request_is_not_scanned_for_an_action(api_server: RunningServer) -> None:
    """The direct path does not ask the app for the Action of ``POST /iamd/authorize`` (it has
    none: ``IamdApp.action_of`` answered None); the request is answered all the same."""
    body = b'{"Request": {}, "Checks": []}'
    raw = (b"POST /iamd/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
    written, tasks, scanned = _in_process(api_server, raw)
    assert scanned == []
    assert tasks == 1 or written[0].startswith(b"HTTP/1.1 4")  # refused (unsigned): inline, or on a worker


def test_the_asgi_scope_is_made_only_for_a_request_through_asgi(api_server: RunningServer) -> None:
    """The direct path makes no ASGI scope (``QueryProtocol._asgi_scope``: uvicorn's
    ``on_message_begin``, called only when a request takes uvicorn's path); the scope a
    request through ASGI gets is uvicorn's, with the head's headers, and uvicorn's
    ``on_message_begin`` sets nothing else that the deferred call would lose."""

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from bench.server.cpu import query_protocol

    with _app_on_a_loop(api_server) as (loop, app):
        protocol, transport = query_protocol(app, loop)
        before = dict(vars(protocol))
        HttpToolsProtocol.on_message_begin(protocol)
        changed = {name for name, value in vars(protocol).items() if before.get(name, before) is not value}
        assert {"scope", "headers"} <= changed <= {"url", "expect_100_continue", "headers", "scope"}

        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server))  # GetUser on the direct path (off the loop, if not cached)
        _answered(loop, transport)
        assert protocol.scope is None and b"<GetUserResponse" in transport.written[0]
        transport.written.clear()
        protocol.data_received(_signed(api_server, extra={"X-Forwarded-For": "192.0.2.1"}))  # through ASGI
        scope = protocol.scope
        assert scope is not None and scope["method"] == "POST" and scope["path"] == "/"
        assert (b"x-forwarded-for", b"192.0.2.1") in scope["headers"] and scope["headers"] is protocol.headers
        _drained(loop, protocol)
        assert b"<GetUserResponse" in b"".join(transport.written)
        protocol.connection_lost(None)


def test_a_write_s_target_header_is_looked_for_once_on_the_loop(
    api_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write (CreateUser: a known Action, never cheap) is told not inline before its headers
    are searched for ``X-Amz-Target``: the one search on the loop is the lane's choice
    (``Lanes.for_request``), not the inline try's too (bench/README.md, "Session 17: the event
    loop's share of a write")."""
    import threading

    from bench.server.cpu import query_protocol
    from iamd.api.pipeline import HttpRequest

    looks: list[str] = []
    header = HttpRequest.header
    loop_thread = threading.get_ident()

    def counted(self: HttpRequest, name: str) -> str:
        if threading.get_ident() == loop_thread:
            looks.append(name)
        return header(self, name)

    monkeypatch.setattr(HttpRequest, "header", counted)
    with _app_on_a_loop(api_server) as (loop, app):
        protocol, transport = query_protocol(app, loop)
        protocol.data_received(_signed(api_server, b"Action=CreateUser&UserName=looked-once&Version=2010-05-08"))
        _answered(loop, transport)
        assert b"<CreateUserResponse" in transport.written[0]
        assert looks == ["x-amz-target"]
        protocol.connection_lost(None)
