"""``iamd serve`` as a command: how it starts and how it refuses to."""

from __future__ import annotations

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


@needs_custom_slices
def test_short_slice_sets_the_calling_threads_slice_and_keeps_its_nice_value() -> None:
    from iamd.cli.server import LOOP_SLICE_NS, short_slice

    seen: list[object] = []

    def run() -> None:  # a thread of its own: the test process's slice stays as it was
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, 3)  # raising one's nice value needs no privilege
        seen.extend([short_slice(), _slice_ns(os.getpid(), tid), os.getpriority(os.PRIO_PROCESS, tid)])

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [True, LOOP_SLICE_NS, 3]


@needs_custom_slices
def test_short_slice_leaves_a_thread_under_another_policy_alone() -> None:
    from iamd.cli.server import short_slice

    seen: list[object] = []

    def run() -> None:
        tid = threading.get_native_id()
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        before = _slice_ns(os.getpid(), tid)
        seen.extend([short_slice(), _slice_ns(os.getpid(), tid) == before, os.sched_getscheduler(0)])

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [False, True, os.SCHED_BATCH]


@needs_custom_slices
def test_the_event_loops_thread_runs_with_the_short_slice(tmp_path: Path) -> None:
    from iamd.cli.server import LOOP_SLICE_NS

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
        threads = {
            int(t.name): t.joinpath("comm").read_text().strip() for t in Path(f"/proc/{server.pid}/task").iterdir()
        }
        slices = {tid: _slice_ns(server.pid, tid) for tid in threads}
        assert slices[server.pid] == LOOP_SLICE_NS  # the main thread runs uvicorn's event loop
        # the threads started before it (the audit sender, the cache's watcher) keep the default
        assert any(n != LOOP_SLICE_NS for n in slices.values())
    finally:
        server.terminate()
        server.wait(timeout=90)
