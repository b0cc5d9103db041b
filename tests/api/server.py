"""A real iamd server on a loopback port, for tests that use real clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import uvicorn

from iamd.api import Backend, create_app
from iamd.api.protocol import uvicorn_options
from iamd.limits import HttpLimits

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class RunningServer:
    endpoint: str
    backend: Backend
    account_id: str
    root_key: str
    root_secret: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    data_dir: Path,
    database_url: str | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    limits: HttpLimits | None = None,
    partition: str | None = None,
    regions: list[str] | None = None,
) -> Iterator[RunningServer]:
    url = database_url or f"sqlite:///{data_dir / 'iamd.db'}"
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    backend, root = Backend.open(
        url, data_dir, dev=True, env=env, partition=partition, regions=regions, **({"clock": clock} if clock else {})
    )
    port = free_port()
    backend.environ = {**backend.environ, "IAMD_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # outbound issuer URLs
    config = uvicorn.Config(create_app(backend, limits), host="127.0.0.1", port=port, **uvicorn_options(limits))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # liveness only: a loaded machine may take long to start a thread
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("iamd did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(
            f"http://127.0.0.1:{port}", backend, backend.account_id, root.access_key_id, root.secret_access_key
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        backend.close()
