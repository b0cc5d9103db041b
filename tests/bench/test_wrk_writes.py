"""bench/server/wrk.py's write load (``unit``): one wrk thread per connection, each sending its
own slice of the requests in order from its first (a CreateUser before its DeleteUser), and
every answer that is not a 200 counted, 2xx included; and how bench/server/pg_waits.py tells
what a PostgreSQL backend is doing."""

from __future__ import annotations

import shutil
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench.server.load import LoadResult
from bench.server.pg_waits import kind
from bench.server.wrk import own_slices, run_wrk

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")


class _Recorder(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1; records each connection's request bodies in order; answers the
    status a body names (``status=N``), else 200."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[dict[int, list[str]]] = defaultdict(list)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.seen[self.client_address[1]].append(body)
        status = int(body.partition("status=")[2] or 200)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    _Recorder.seen = defaultdict(list)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _requests(bodies: list[str]) -> list[bytes]:
    return [f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(b)}\r\n\r\n{b}".encode() for b in bodies]


def _run(server: ThreadingHTTPServer, bodies: list[str], connections: int) -> LoadResult:
    return run_wrk("127.0.0.1", server.server_address[1], _requests(bodies), connections=connections, duration=1,
                   unit=2)  # fmt: skip


@needs_wrk
def test_each_connection_cycles_its_own_slice_in_order_from_its_first(recorder: ThreadingHTTPServer) -> None:
    bodies = [f"{verb}{i}" for i in range(12) for verb in ("create", "delete")]
    result = _run(recorder, bodies, 3)
    assert (result.bad_status, result.errors) == (0, 0)
    slices = [bodies[first:last] for first, last in own_slices(len(bodies), 3, 2)]
    sent = list(_Recorder.seen.values())
    assert len(sent) == 3
    for got in sent:
        mine = next(s for s in slices if s[0] == got[0])  # each starts at a slice's first request
        assert got == (mine * (len(got) // len(mine) + 1))[: len(got)]
    assert sorted(got[0] for got in sent) == sorted(s[0] for s in slices)
    assert result.requests >= sum(len(got) for got in sent) - 3  # wrk counts all but those cut at the end


@needs_wrk
def test_every_answer_that_is_not_200_is_counted(recorder: ThreadingHTTPServer) -> None:
    result = _run(recorder, ["create0", "delete0", "create1", "status=201"], 2)
    assert result.bad_status > 0
    assert result.first_bad.startswith("201 ")
    result = _run(recorder, ["create0", "delete0", "create1", "status=404"], 2)
    assert result.bad_status > 0 and result.first_bad.startswith("404 ")


def test_slices_are_whole_groups() -> None:
    assert own_slices(20, 3, 2) == [(0, 6), (6, 12), (12, 20)]
    with pytest.raises(ValueError):
        own_slices(4, 3, 2)


@pytest.mark.parametrize(
    ("state", "wait_type", "wait_event", "expected"),
    [
        ("active", None, None, "cpu"),
        ("active", "IO", "WALSync", "flush"),
        ("active", "LWLock", "WALWrite", "flush"),
        ("active", "Lock", "transactionid", "lock"),
        ("idle in transaction", "Client", "ClientRead", "iamd_in_tx"),
        ("idle", "Client", "ClientRead", "iamd_idle"),
        ("active", "IO", "DataFileRead", "other"),
    ],
)
def test_a_backend_sample_is_told_by_state_and_wait(
    state: str, wait_type: str | None, wait_event: str | None, expected: str
) -> None:
    assert kind(state, wait_type, wait_event) == expected
