"""Closed-loop load against a server, from a separate process: wrk if installed, else our client."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .client import write_requests

__all__ = ["LoadResult", "run_load", "run_python"]


@dataclass
class LoadResult:
    client: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    bad_status: int  # responses that were not 2xx/3xx
    errors: int  # connection errors, timeouts
    client_cpu_s: float
    statuses: dict[str, int] = field(default_factory=dict)
    first_bad: str = ""  # wrk with slices: the first answer that was not 200 (status and body)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["rps"] = round(self.rps, 1)
        return d


def run_python(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int,
    duration: float | None,
    own_slice: bool = False,
) -> LoadResult:
    """``duration=None``: every request exactly once (``--once``); ``own_slice``: see the client."""
    with tempfile.TemporaryDirectory(prefix="iamd-load-") as tmp:
        path = Path(tmp) / "requests.bin"
        write_requests(path, list(requests))
        mode = ["--once"] if duration is None else ["--duration", str(duration)]
        mode += ["--own-slice"] if own_slice else []
        command = [sys.executable, "-m", "bench.server.client", "--host", host, "--port", str(port),
                   "--requests", str(path), "--connections", str(connections), *mode]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(command, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed ({proc.returncode}): {proc.stderr[-3000:]}")
    r = json.loads(proc.stdout)
    bad = sum(v for k, v in r["statuses"].items() if not 200 <= int(k) < 400)
    return LoadResult(
        client="python",
        connections=connections,
        requests=r["requests"],
        seconds=r["seconds"],
        p50_ms=r["p50_ms"],
        p90_ms=r["p90_ms"],
        p99_ms=r["p99_ms"],
        mean_ms=r["mean_ms"],
        max_ms=r["max_ms"],
        bad_status=bad,
        errors=r["errors"],
        client_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        statuses=r["statuses"],
    )


def run_load(
    client: str, host: str, port: int, requests: Sequence[bytes], *, connections: int, duration: float, unit: int = 0
) -> LoadResult:
    """``unit`` > 0: each connection cycles its own slice, in whole groups of ``unit`` requests."""
    if client == "wrk":
        from .wrk import run_wrk

        return run_wrk(host, port, requests, connections=connections, duration=duration, unit=unit)
    return run_python(host, port, requests, connections=connections, duration=duration, own_slice=unit > 0)
