"""Limits on every HTTP input (docs/security.md), over raw sockets, with small limits.

Each test asserts what the server does (answers 408/431/503, closes), never how fast:
the limits are small so that the tests are short, and every read has a generous timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamd.limits import HttpLimits
from tests.api.server import RunningServer, running_server
from tests.api.test_protocol import _connect, _Reader, _signed

LIMITS = HttpLimits(max_header_bytes=16 * 1024, max_headers=20, header_timeout=0.5, body_timeout=0.5,
                    keep_alive_timeout=0.5)  # fmt: skip
HEALTH = b"GET /_iamd/health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("limits"), limits=LIMITS) as server:
        yield server


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_a_head_sent_a_byte_at_a_time_is_cut_off(limited: RunningServer) -> None:
    stop = threading.Event()
    with _connect(limited) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")

        def trickle() -> None:  # slowloris: a header byte now and then, never the end of the head
            try:
                sock.sendall(b"X-Slow: ")
                while not stop.wait(0.05):
                    sock.sendall(b"a")
            except OSError:
                pass

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            reader = _Reader(sock)
            status, headers, _ = reader.response()
            assert status == 408 and headers["connection"] == "close"
            assert sender.is_alive()  # the client was still sending when it was cut off
            assert reader.closed()
        finally:
            stop.set()
            sender.join()


def test_a_silent_connection_is_closed(limited: RunningServer) -> None:
    with _connect(limited) as sock:
        assert sock.recv(1024) == b""  # closed without an answer: nothing was asked


def test_a_body_that_does_not_arrive_is_answered_408(limited: RunningServer) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=GetUser")
        reader = _Reader(sock)
        status, _, body = reader.response()
        assert status == 408 and b"not received in time" in body
        assert reader.closed()


def test_an_idle_keep_alive_connection_is_closed(limited: RunningServer) -> None:
    with _connect(limited) as sock:
        reader = _Reader(sock)
        sock.sendall(_signed(limited))
        status, headers, _ = reader.response()
        assert status == 200 and "connection" not in headers  # kept alive ...
        assert reader.closed()  # ... and then closed, idle


def test_a_large_head_is_refused_without_being_read(limited: RunningServer) -> None:
    offered = 64 << 20
    sent = 0
    before = _rss()
    with _connect(limited) as sock:

        def flood() -> None:
            nonlocal sent
            chunk = b"a" * 65536
            try:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: ")
                while sent < offered:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:  # the server stopped reading, then closed
                pass

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        status, headers, body = _Reader(sock).response()
        assert status == 431 and headers["connection"] == "close"
        assert b"Request Header Fields Too Large" in body
        sender.join(timeout=30)
    assert not sender.is_alive()
    assert sent < offered // 4  # the server read a little past its limit and stopped (socket buffers aside)
    assert _rss() - before < 32 << 20


def test_a_head_over_the_limits_in_one_piece_is_refused(limited: RunningServer) -> None:
    too_large = b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n"
    too_many = b"GET /_iamd/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(25)) + b"\r\n"
    for raw in (too_large, too_many):
        with _connect(limited) as sock:
            sock.sendall(raw)
            reader = _Reader(sock)
            assert reader.response()[0] == 431
            assert reader.closed()
    with _connect(limited) as sock:  # just under both limits: answered
        sock.sendall(_signed(limited, extra={f"X-{i}": "a" * 500 for i in range(12)}))
        assert _Reader(sock).response()[0] == 200


def test_upgrade_requests_are_answered_not_switched(limited: RunningServer) -> None:
    # Upgrade without "Connection: upgrade" is a plain request.
    with _connect(limited) as sock:
        sock.sendall(_signed(limited, extra={"Upgrade": "websocket"}))
        status, _, body = _Reader(sock).response()
        assert status == 200 and b"<GetUserResponse" in body
    # A real upgrade request with a body: refused in words (its body would not be read).
    with _connect(limited) as sock:
        sock.sendall(_signed(limited, extra={"Upgrade": "websocket", "Connection": "Upgrade"}))
        reader = _Reader(sock)
        status, _, body = reader.response()
        assert status == 400 and b"upgrades are not supported" in body
        assert reader.closed()
    # Without a body (curl's h2c upgrade): answered in HTTP/1.1, then the connection closes.
    for path in (b"/", b"/_iamd/health"):
        with _connect(limited) as sock:
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                         b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")  # fmt: skip
            reader = _Reader(sock)
            status, headers, _ = reader.response()
            assert status in (200, 400) and headers["connection"] == "close"  # GET / without Action: 400
            assert reader.closed()


def test_requests_over_the_connection_limit_are_answered_503(tmp_path: Path) -> None:
    limits = HttpLimits(max_connections=3, header_timeout=60, keep_alive_timeout=60)
    with running_server(tmp_path, limits=limits) as server:
        first, second = _connect(server), _connect(server)
        try:
            for sock in (first, second):  # both open and known to the server
                sock.sendall(HEALTH)
                assert _Reader(sock).response()[0] == 200
            for raw in (_signed(server), HEALTH):  # the direct path and uvicorn's
                with _connect(server) as third:
                    third.sendall(raw)
                    reader = _Reader(third)
                    status, headers, _ = reader.response()
                    assert status == 503 and headers["connection"] == "close"
        finally:
            first.close()
            second.close()
