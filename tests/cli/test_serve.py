"""``iamd serve`` as a command: how it starts and how it refuses to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest


def test_a_busy_port_is_one_plain_error_before_anything_is_announced(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"iamd: port {port} on 127.0.0.1 is already in use (another iamd serve?); "
        "stop it or choose another port with --port"
    ]
    assert not (tmp_path / "d").exists()  # nothing opened, nothing created


def _slice_ns(pid: int, tid: int) -> int | None:
    """The thread's EEVDF slice, as /proc shows it (None on a kernel that does not)."""
    for line in Path(f"/proc/{pid}/task/{tid}/sched").read_text().splitlines():
        if line.startswith("se.slice"):
            return int(line.split(":")[1])
    return None


def _custom_slices() -> bool:
    """Linux 6.12 or later: a thread may ask for its own slice (sched_setattr's sched_runtime)."""
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "aarch64"):
        return False
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 12) and _slice_ns(os.getpid(), threading.get_native_id()) is not None


needs_custom_slices = pytest.mark.skipif(not _custom_slices(), reason="needs Linux 6.12+ (EEVDF custom slices)")


_THREADS = """
import json, os, sys, threading
from iamd.cli.server import short_slices
started, done = threading.Event(), threading.Event()

def other():
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)  # raising one's nice value needs no privilege
    started.set()
    done.wait(30)

os.setpriority(os.PRIO_PROCESS, 0, 3)
if sys.argv[1] == "batch":
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
background = threading.Thread(target=other)
background.start()
started.wait(30)
count = short_slices()
threads = sorted(map(int, os.listdir("/proc/self/task")))
print(json.dumps([count, [[open(f"/proc/self/task/{t}/sched").read().split("se.slice")[1].split()[1],
                          os.getpriority(os.PRIO_PROCESS, t)] for t in threads]]))
done.set()
"""


def _run_threads(policy: str) -> list[object]:
    """:func:`short_slices` in a process of its own: the count, each thread's slice and nice value."""
    out = subprocess.run(
        [sys.executable, "-c", _THREADS, policy], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@needs_custom_slices
def test_short_slices_sets_every_threads_slice_and_keeps_their_nice_values() -> None:
    from iamd.cli.server import SLICE_NS

    assert _run_threads("other") == [2, [[str(SLICE_NS), 3], [str(SLICE_NS), 5]]]


@needs_custom_slices
def test_short_slices_leaves_threads_under_another_policy_alone() -> None:
    from iamd.cli.server import SLICE_NS

    count, threads = _run_threads("batch")  # the main thread under SCHED_BATCH, and the thread it started
    assert count == 0
    assert [nice for _, nice in threads] == [3, 5]  # type: ignore[attr-defined]
    assert str(SLICE_NS) not in [ns for ns, _ in threads]  # type: ignore[attr-defined]


@needs_custom_slices
def test_the_servers_threads_run_with_the_short_slice_and_its_audit_writer_does_not(tmp_path: Path) -> None:
    from iamd.cli.server import SLICE_NS

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_iamd/health", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        threads = [int(t.name) for t in Path(f"/proc/{server.pid}/task").iterdir()]
        assert len(threads) > 1  # the event loop's (the main thread), the audit sender, the cache's watcher…
        assert {_slice_ns(server.pid, tid) for tid in threads} == {SLICE_NS}
        children = [int(c) for c in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
        assert children  # the audit writer process (a file database): started before, it keeps the default
        assert all(_slice_ns(child, child) != SLICE_NS for child in children)
    finally:
        server.terminate()
        server.wait(timeout=90)
