"""The portable load generator: ``python -m bench.server.client`` (run as its own process).

One thread, non-blocking sockets and ``selectors``: N keep-alive HTTP/1.1 connections in a
closed loop, each sending its next pre-signed request as soon as the previous response has
arrived in full (``Content-Length`` or chunked). Each request is timed from just before its
``send`` to the moment its last byte is read (``perf_counter_ns``). Reads the requests from a
file (4-byte big-endian length + bytes, repeated); prints one JSON object.

Modes: ``--duration S`` cycles the requests for S seconds (each connection starts at its own
offset; with ``--own-slice`` each connection cycles through its own slice only, so that
connections never share a request: CreateUser/DeleteUser pairs of distinct names);
``--once`` sends every request exactly once, spread over the connections (for writes such
as CreateUser, whose requests cannot be repeated).
"""

from __future__ import annotations

import argparse
import json
import math
import selectors
import socket
import struct
import sys
import time
from collections import Counter
from pathlib import Path

__all__ = ["read_requests", "write_requests"]


def write_requests(path: Path, requests: list[bytes]) -> None:
    with path.open("wb") as f:
        for r in requests:
            f.write(struct.pack(">I", len(r)))
            f.write(r)


def read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


class _Conn:
    __slots__ = ("buf", "first", "last", "next_index", "sock", "t0")

    def __init__(self, sock: socket.socket, next_index: int, first: int, last: int) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.t0 = 0
        self.next_index = next_index
        self.first = first  # the slice the connection cycles through: [first, last)
        self.last = last


def _complete(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, total length, close) when ``buf`` holds a whole response, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").lower()
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            close = True
    if chunked:
        tail = buf.find(b"\r\n0\r\n\r\n", end)
        return None if tail < 0 else (status, tail + 7, close)
    total = end + 4 + (length or 0)
    return (status, total, close) if len(buf) >= total else None


def run(
    host: str, port: int, requests: list[bytes], connections: int, duration: float | None, own_slice: bool = False
) -> dict[str, object]:
    once = duration is None
    connections = min(connections, len(requests)) if once else connections
    sel = selectors.DefaultSelector()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    errors = reconnects = 0
    n = len(requests)
    queue = iter(range(n)) if once else None

    def connect(index: int, first: int = 0, last: int = n) -> _Conn:
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = _Conn(sock, index, first, last)
        sel.register(sock, selectors.EVENT_READ, conn)
        return conn

    def send(conn: _Conn) -> bool:
        if once:
            assert queue is not None
            index = next(queue, None)
            if index is None:
                return False
        else:
            index = conn.next_index
            conn.next_index = index + 1 if index + 1 < conn.last else conn.first
        data = requests[index]
        conn.t0 = clock()
        sent = conn.sock.send(data)
        if sent < len(data):  # small requests: the socket buffer takes them whole; be correct anyway
            conn.sock.setblocking(True)
            conn.sock.sendall(data[sent:])
            conn.sock.setblocking(False)
        return True

    start = clock()
    deadline = start + int((duration or 0) * 1e9)
    active = 0
    for c in range(connections):
        offset = c * n // max(1, connections)
        end = (c + 1) * n // max(1, connections) if own_slice else n
        if send(connect(offset, offset if own_slice else 0, end)):
            active += 1
    while active:
        for key, _ in sel.select(timeout=30):
            conn: _Conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except ConnectionError:
                chunk = b""
            if not chunk:  # the server closed the connection: count it, reconnect, resend nothing
                errors += 1
                sel.unregister(conn.sock)
                conn.sock.close()
                active -= 1
                continue
            conn.buf += chunk
            done = _complete(conn.buf)
            if done is None:
                continue
            now = clock()
            status, total, close = done
            latencies.append(now - conn.t0)
            statuses[status] += 1
            del conn.buf[:total]
            if close:
                reconnects += 1
                sel.unregister(conn.sock)
                conn.sock.close()
                conn = connect(conn.next_index, conn.first, conn.last)
            if (not once and now >= deadline) or not send(conn):
                sel.unregister(conn.sock)
                conn.sock.close()
                active -= 1
    elapsed = (clock() - start) / 1e9
    latencies.sort()
    count = len(latencies)

    def pct(q: float) -> float:  # nearest rank
        return latencies[min(count - 1, max(0, math.ceil(q * count) - 1))] / 1e6 if count else 0.0

    return {
        "requests": count,
        "seconds": elapsed,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "mean_ms": (sum(latencies) / count / 1e6) if count else 0.0,
        "max_ms": latencies[-1] / 1e6 if count else 0.0,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "reconnects": reconnects,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.client", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True, help="file written by write_requests")
    parser.add_argument("--connections", type=int, default=1)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--duration", type=float, help="cycle the requests for this many seconds")
    mode.add_argument("--once", action="store_true", help="send every request exactly once")
    parser.add_argument("--own-slice", action="store_true", help="with --duration: each connection its own slice")
    args = parser.parse_args()
    result = run(args.host, args.port, read_requests(args.requests), args.connections, args.duration, args.own_slice)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
