"""A server stopped cleanly stores every audit event, however slow its audit writer process.

``iamd serve`` stores read and failure events through a child process
(iamd/api/audit_process.py); its shutdown waits for the child to store everything it was
sent, up to a generous deadline, and stores what is left itself after that
(docs/architecture.md, "Audit trail"). A busy machine may give an idle-priority child no CPU
for a long time; these tests stop the child outright (SIGSTOP), which is the same from the
server's side and does not depend on the machine's load. They assert what is stored, never
how fast: the waits below are how long the child is held, not bounds on the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from iamd.api.audit_process import AuditProcessWriter
from iamd.store import migrate, open_store
from tests.api.server import ROOT_KEY, ROOT_SECRET, free_port
from tests.api.test_audit_process import ACCOUNT, _record

STARTUP = 300.0  # liveness only: a server that has not answered by then is stuck, not slow
HELD = 25.0  # longer than the old shutdown waited for the child (10 s flush, then 10 s join)
CALLS = 12

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the child's pid")


def _writer_pid(server_pid: int) -> int:
    """The audit writer process: the server's child started by multiprocessing's spawn."""
    found = []
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    assert len(found) == 1, found
    return found[0]


@contextmanager
def _serve(data_dir: Path, *, new_session: bool = False) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``iamd serve --dev`` on a SQLite file, with its audit writer process (the default)."""
    env = {**os.environ, "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    env.pop("IAMD_AUDIT_WRITER", None)
    port = free_port()
    cmd = [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(data_dir),
           "--database", f"sqlite:///{data_dir / 'iamd.db'}"]  # fmt: skip
    with (data_dir / "serve.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=out, start_new_session=new_session)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP
        while proc.poll() is None:
            try:
                if httpx.get(f"{endpoint}/_iamd/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert proc.poll() is None, (data_dir / "serve.log").read_text(errors="replace")
        yield proc, endpoint
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _client(endpoint: str) -> BaseClient:
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ROOT_KEY,
                        aws_secret_access_key=ROOT_SECRET, config=Config(retries={"max_attempts": 1}))  # fmt: skip


def _reads_stored(data_dir: Path) -> int:
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}")
    try:
        with store.read() as tx:
            events = tx.list_audit_events("123456789012", event_name="GetUser", max_items=1000).items
        return sum(1 for e in events if e.error_code is None)
    finally:
        store.close()


def _exited(proc: subprocess.Popen[bytes], data_dir: Path) -> str:
    proc.wait(timeout=STARTUP + 60)  # liveness only: the drain deadline is 60 s
    log = (data_dir / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    return log


def test_a_clean_stop_waits_for_a_writer_that_gets_no_cpu(tmp_path: Path) -> None:
    """SIGTERM while the writer process has been given no CPU for a while: nothing is lost.

    The child stays stopped for longer than the old shutdown waited before killing it (and
    with it every event still in its pipe); a clean stop now waits for it to drain.
    """
    with _serve(tmp_path) as (proc, endpoint):
        client = _client(endpoint)
        client.create_user(UserName="alice")  # a write: its event is stored with it
        writer = _writer_pid(proc.pid)
        os.kill(writer, signal.SIGSTOP)
        try:
            for _ in range(CALLS):
                client.get_user(UserName="alice")  # reads: queued to the stopped writer
            proc.send_signal(signal.SIGTERM)
            time.sleep(HELD)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the old shutdown killed it by now
                os.kill(writer, signal.SIGCONT)
        _exited(proc, tmp_path)
    assert _reads_stored(tmp_path) == CALLS


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "service-stop"])
def test_a_signal_to_the_whole_process_group_loses_no_events(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C in a terminal (SIGINT) and a service manager's stop (SIGTERM) reach every
    process of the group, the writer too: it must not die with events it has not stored."""
    with _serve(tmp_path, new_session=True) as (proc, endpoint):
        client = _client(endpoint)
        client.create_user(UserName="alice")
        writer = _writer_pid(proc.pid)
        os.kill(writer, signal.SIGSTOP)  # so that its events are still unstored when the signal comes
        try:
            for _ in range(CALLS):
                client.get_user(UserName="alice")
            os.killpg(proc.pid, sig)
        finally:
            os.kill(writer, signal.SIGCONT)
        _exited(proc, tmp_path)
    assert _reads_stored(tmp_path) == CALLS


def test_past_the_drain_deadline_the_server_stores_what_the_writer_did_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer that never finishes (here: stopped for good) is killed at the deadline, and
    the server stores every event it had not acknowledged itself, saying how many."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate.upgrade(url)
    store = open_store(url)
    writer = AuditProcessWriter(store, url, window=60, lag_limit=0.0, drain_timeout=1.0)
    try:
        writer.submit(_record(0))
        writer.flush()  # the child is up and storing
        os.kill(writer._process.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        for i in range(1, 31):
            writer.submit(_record(i))
        with caplog.at_level(logging.WARNING, logger="iamd.audit"):
            writer.close()
    finally:
        writer.close()
    with store.read() as tx:
        events = tx.list_audit_events(ACCOUNT, max_items=1000).items
    store.close()
    assert sorted(e.request_id or "" for e in events) == sorted(f"req-{i}" for i in range(31))
    assert "storing its 30 unstored audit events in the server process" in caplog.text
