"""The load generator when ``wrk`` is installed: a generated Lua script cycles pre-signed requests.

wrk (C, epoll) keeps N keep-alive HTTP/1.1 connections busy in a closed loop: each
connection sends its next request as soon as the previous response is complete. The
script's ``request()`` returns the next raw request: with one wrk thread, cycling the list
from a random offset (reads); with ``unit`` (writes), one wrk thread per connection, each
cycling its own slice in order (a CreateUser, then its DeleteUser), every answer checked
for a 200 by ``response()``. ``done()`` prints the count, duration, error counts and latency percentiles
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

__all__ = ["available", "own_slices", "run_wrk"]

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n@@RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, STATUS_ERRORS, e.timeout))
end
"""
# wrk's own count of statuses above 399, or (slices) the script's count of answers not 200.
_DONE_ANY, _DONE_200 = _DONE.replace("STATUS_ERRORS", "e.status"), _DONE.replace("STATUS_ERRORS", "count_bad()")


# One wrk thread per slice: ``setup()`` (wrk's main thread, once per thread) numbers the
# threads and keeps them for ``done()``; each thread's ``init()`` starts at its slice's first
# request. ``request()`` returns the current request and ``response()`` moves on, so that a
# call of ``request()`` that sends nothing (wrk checks the first thread's first request
# before it starts) skips none; with one connection per thread, a request is answered before
# the next is asked for. ``response()`` also counts the answers that were not 200 (wrk's
# ``errors.status`` counts only statuses above 399) and writes the first one to stderr.
_SLICES = r"""
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("slice", #threads)
end
local first, last
bad = 0
init = function(args)
  first, last = slices[slice][1] + 1, slices[slice][2]
  i = first
end
request = function()
  return reqs[i]
end
response = function(status, headers, body)
  i = i + 1
  if i > last then i = first end
  if status ~= 200 then
    if bad == 0 then io.stderr:write(string.format("@@BAD %d %s\n", status, body)) end
    bad = bad + 1
  end
end
local function count_bad()
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  return total
end
"""


def own_slices(n: int, connections: int, unit: int) -> list[tuple[int, int]]:
    """``[first, last)`` of each connection's slice of ``n`` requests, in whole groups of ``unit``."""
    groups = n // unit
    if groups < connections:
        raise ValueError(f"{groups} groups of {unit} requests for {connections} connections")
    return [(c * groups // connections * unit, (c + 1) * groups // connections * unit) for c in range(connections)]


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


def script(requests: Sequence[bytes], slices: Sequence[tuple[int, int]] = ()) -> str:
    """Cycle ``requests`` from a random offset; with ``slices`` (one per wrk thread, 0-based
    ``[first, last)``), thread k cycles slice k from its start in order, and every status is
    checked by ``response()`` (a count of the answers that were not 200, summed in ``done()``)."""
    body = ",\n".join(_lua_string(r) for r in requests)
    head = f"local reqs = {{\n{body}\n}}\nlocal n = #reqs\nlocal i = 0\n"
    if not slices:
        return head + (
            "init = function(args) i = math.random(n) - 1 end\n"
            "request = function()\n  i = i + 1\n  if i > n then i = 1 end\n  return reqs[i]\nend\n" + _DONE_ANY
        )
    bounds = ", ".join(f"{{{first}, {last}}}" for first, last in slices)
    return head + f"local slices = {{{bounds}}}\n" + _SLICES + _DONE_200


def run_wrk(
    host: str, port: int, requests: Sequence[bytes], *, connections: int, duration: float, unit: int = 0
) -> LoadResult:
    """``unit`` > 0: one wrk thread per connection, each cycling its own slice of ``requests``
    (whole groups of ``unit`` requests: a CreateUser and its DeleteUser), statuses checked."""
    slices = own_slices(len(requests), connections, unit) if unit else ()
    threads = connections if unit else 1
    with tempfile.TemporaryDirectory(prefix="iamd-wrk-") as tmp:
        path = Path(tmp) / "requests.lua"
        path.write_text(script(requests, slices))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
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
        first_bad=next((ln[len("@@BAD ") :] for ln in proc.stderr.splitlines() if ln.startswith("@@BAD ")), ""),
    )
