"""The in-process harness (``bench.server.cpu._feed``): what it adds to the server's figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.server.callers import prepare, signed
from bench.server.cpu import _feed, query_protocol
from bench.server.servers import ROOT_KEY, ROOT_SECRET
from iamd.api import Backend, create_app


class _CountingLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.runs = 0

    def run_forever(self) -> None:
        self.runs += 1
        super().run_forever()


def test_the_loop_runs_once_for_all_requests(tmp_path: Path) -> None:
    # Each start and stop of the loop is the harness's work, not the server's (uvloop makes and
    # closes its signal wake-up socket pair at each: ~27 µs of the loop's CPU per request).
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    backend = Backend.open(f"sqlite:///{tmp_path}/iamd.db", tmp_path / "data", dev=True, env=env)[0]
    loop = _CountingLoop()
    try:
        keys = prepare(backend, 3)  # first requests: answered on a worker thread, handed back to the loop
        protocol, transport = query_protocol(create_app(backend), loop)
        assert _feed(protocol, transport, signed(keys, 8000), loop) == 3
        assert loop.runs == 1
    finally:
        loop.close()
        backend.close()
