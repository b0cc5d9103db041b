"""The load generator when ``wrk`` is installed: a generated Lua script cycles pre-signed requests.

wrk (C, epoll, one thread here) keeps N keep-alive HTTP/1.1 connections busy in a closed
loop: each connection sends its next request as soon as the previous response is complete.
The script's ``request()`` returns the next raw request (each wrk thread cycles the list from
its own offset); ``done()`` prints the count, duration, error counts and latency percentiles
(wrk's histogram, microsecond resolution) as one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .load import LoadResult

__all__ = ["available", "run_wrk"]

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n@@RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(raw: bytes) -> str:
    out = ['"']
    for b in raw:
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:03d}")  # Lua decimal escape, 3 digits so that a following digit stays literal
    out.append('"')
    return "".join(out)


def script(requests: Sequence[bytes]) -> str:
    body = ",\n".join(_lua_string(r) for r in requests)
    return (
        f"local reqs = {{\n{body}\n}}\n"
        "local n = #reqs\n"
        "local i = 0\n"
        "init = function(args) i = math.random(n) - 1 end\n"
        "request = function()\n  i = i + 1\n  if i > n then i = 1 end\n  return reqs[i]\nend\n" + _DONE
    )


def run_wrk(host: str, port: int, requests: Sequence[bytes], *, connections: int, duration: float) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="iamd-wrk-") as tmp:
        path = Path(tmp) / "requests.lua"
        path.write_text(script(requests))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
            "-s", str(path), f"http://{host}:{port}/",
        ]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    r = json.loads(line[len("@@RESULT ") :])
    seconds = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return LoadResult(
        client="wrk",
        connections=connections,
        requests=r["requests"],
        seconds=seconds,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        mean_ms=r["mean_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        bad_status=r["status"],
        errors=errors,
        client_cpu_s=cpu,
    )
