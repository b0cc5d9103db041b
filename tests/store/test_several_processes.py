"""Two ``iamd serve`` processes sharing one database: a write on A is seen on B within the bound.

The bound (docs/architecture.md, "Several processes"): B polls the store's generation every
``--cache-poll`` seconds and drops its caches when another process wrote, so a write
committed on A applies to B's requests at most one poll interval (plus one query) later.
The test polls B until the change shows, and prints how long it took; it asserts the
behaviour (every write reaches B, which had cached the old state) and not the delay, which
depends on how busy the machine is (timing belongs to ``bench/``; the test prints it).
It checks grants, revokes (policy and access key) and new entities.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from iamd.store import open_store
from tests.api.server import ROOT_KEY, ROOT_SECRET
from tests.store.conftest import PgDatabases

POLL = 0.1  # --cache-poll of both servers
# Liveness only: a change not seen after this long never will be (a bug, not a slow machine).
DEADLINE = 60.0
# Liveness only: starting (imports, migrations check, the audit writer process, a worker per
# --workers) takes a few seconds of CPU, which a machine busy with other work may spread over
# minutes; a server that has not answered by then is stuck.
STARTUP = 300.0
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
POLICY = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}'
DENY = '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:GetUser","Resource":"*"}}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(data_dir: Path, url: str, workers: int = 1) -> Iterator[str]:
    """One ``iamd serve --dev`` process; its endpoint once it answers."""
    env = {**os.environ, "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    for attempt in range(3):  # another test may take the free port before the server binds it
        port = _free_port()
        cmd = [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(data_dir),
               "--database", url, "--cache-poll", str(POLL), "--workers", str(workers)]  # fmt: skip
        log = data_dir / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=out)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP  # a loaded machine may take long to start two workers
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{endpoint}/_iamd/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            if proc.poll() is None:  # still starting: never carry on with a server that does not answer yet
                proc.kill()
                proc.wait()  # reaped here, not reported by Popen.__del__ in whichever test runs next
                raise RuntimeError(f"iamd serve did not answer within {STARTUP} s")
        if proc.poll() is None:
            break
        stderr = log.read_text(errors="replace")
        if attempt == 2 or "address already in use" not in stderr.lower():
            raise RuntimeError(f"iamd serve exited: {stderr[-2000:]}")
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:  # liveness only: a clean stop waits up to 60 s for the audit writer process to drain
            proc.wait(timeout=DEADLINE + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _client(endpoint: str, key: str = ROOT_KEY, secret: str = ROOT_SECRET) -> BaseClient:
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=NO_RETRY)  # fmt: skip


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "ok"


def _until(call: Callable[[], object], wanted: str) -> float:
    """Seconds until ``call`` answers ``wanted`` ("ok" or an error code); fails after :data:`DEADLINE`."""
    start = time.monotonic()
    while True:
        got = _outcome(call)
        elapsed = time.monotonic() - start
        if got == wanted:
            print(f"seen after {elapsed * 1000:.0f} ms")
            return elapsed
        assert elapsed <= DEADLINE, f"still {got!r}, not {wanted!r}, {elapsed:.2f} s after the write"
        time.sleep(0.005)


def _scenario(data_dir: Path, url: str) -> None:
    with _serve(data_dir, url) as a, _serve(data_dir, url) as b:
        root_a, root_b = _client(a), _client(b)
        root_a.create_user(UserName="shared")
        key = root_a.create_access_key(UserName="shared")["AccessKey"]
        user_b = _client(b, key["AccessKeyId"], key["SecretAccessKey"])
        get = lambda: user_b.get_user(UserName="shared")
        assert _outcome(get) == "AccessDenied"  # B has now cached the user's (empty) policies
        root_a.put_user_policy(UserName="shared", PolicyName="read", PolicyDocument=POLICY)
        _until(get, "ok")  # a grant on A
        root_a.put_user_policy(UserName="shared", PolicyName="deny", PolicyDocument=DENY)
        _until(get, "AccessDenied")  # an explicit Deny on A, enforced on B through its watcher
        root_a.delete_user_policy(UserName="shared", PolicyName="deny")
        _until(get, "ok")
        root_a.delete_user_policy(UserName="shared", PolicyName="read")
        _until(get, "AccessDenied")  # a revoke on A
        root_a.put_user_policy(UserName="shared", PolicyName="read", PolicyDocument=POLICY)
        _until(get, "ok")
        root_a.update_access_key(UserName="shared", AccessKeyId=key["AccessKeyId"], Status="Inactive")
        _until(get, "InvalidClientTokenId")  # a key deactivated on A
        assert _outcome(lambda: root_b.get_user(UserName="later")) == "NoSuchEntity"  # cached on B
        root_a.create_user(UserName="later")
        _until(lambda: root_b.get_user(UserName="later"), "ok")
        # and the other way round
        root_b.update_access_key(UserName="shared", AccessKeyId=key["AccessKeyId"], Status="Active")
        user_a = _client(a, key["AccessKeyId"], key["SecretAccessKey"])
        _until(lambda: user_a.get_user(UserName="shared"), "ok")
        calls = 1 + sum(1 for _ in range(20) if _outcome(get) == "ok")
    # Both servers stopped cleanly (SIGTERM): nothing on stderr but their banners (uvicorn
    # re-raises SIGTERM after shutting down, so the audit writer is closed in the lifespan),
    # and their audit writer processes stored every read.
    for log in data_dir.glob("serve-*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-2000:]
    store = open_store(url)
    try:
        with store.read() as tx:
            events = tx.list_audit_events("123456789012", user_name="shared", event_name="GetUser", max_items=1000)
        assert sum(1 for e in events.items if e.error_code is None) >= calls
        assert any(e.error_code == "AccessDenied" for e in events.items)
    finally:
        store.close()


def test_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    _scenario(tmp_path, f"sqlite:///{tmp_path / 'iamd.db'}")


def test_two_processes_on_one_postgresql(pg_databases: PgDatabases, tmp_path: Path) -> None:
    _scenario(tmp_path, pg_databases.create("iamd_two"))


def test_one_server_with_two_workers(tmp_path: Path) -> None:
    """``iamd serve --workers 2``: each new connection may land on either process."""
    with _serve(tmp_path, f"sqlite:///{tmp_path / 'iamd.db'}", workers=2) as endpoint:
        root = _client(endpoint)
        root.create_user(UserName="shared")
        key = root.create_access_key(UserName="shared")["AccessKey"]

        def fresh_get() -> object:  # a new client, so a new connection
            return _client(endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_user(UserName="shared")

        assert {_outcome(fresh_get) for _ in range(8)} == {"AccessDenied"}  # cached wherever it landed
        for write, wanted in (
            (lambda: root.put_user_policy(UserName="shared", PolicyName="read", PolicyDocument=POLICY), "ok"),
            (lambda: root.delete_user_policy(UserName="shared", PolicyName="read"), "AccessDenied"),
        ):
            write()
            _until(fresh_get, wanted)
            deadline = time.monotonic() + DEADLINE
            while {_outcome(fresh_get) for _ in range(8)} != {wanted}:  # until every process agrees
                assert time.monotonic() < deadline, f"the processes still disagree {DEADLINE} s after the write"
                time.sleep(POLL)
