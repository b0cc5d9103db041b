"""Reads never wait for writes: the event loop does no database work, writes have their own lane.

Every test runs a real server on SQLite and on PostgreSQL. Writers are held up for real: the
test takes the writers' lock itself (SQLite's write lock with ``BEGIN IMMEDIATE``, PostgreSQL's
writer row ``FOR UPDATE``) or a hook holds a write transaction open; what must go on meanwhile
is asserted while the lock is known to be held. Behaviour, not timing: the generous waits are
only there so that a regression fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from sqlalchemy import select

from iamd.api.app import IamdApp
from iamd.api.lanes import Lane
from iamd.api.pipeline import HttpRequest
from iamd.limits import HttpLimits
from iamd.store import schema as s
from iamd.store.engine import WRITE_OPTION
from iamd.store.store import SqlTx
from tests.api.conftest import client_for
from tests.api.server import RunningServer, running_server
from tests.api.test_protocol import _connect, _Reader, _signed
from tests.store.conftest import PgDatabases, pg_cluster, pg_databases  # noqa: F401 - fixtures

WAIT = 60.0  # liveness only (a loaded machine): a regression blocks until the lock is released


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    url = None
    if request.param == "postgresql":
        databases: PgDatabases = request.getfixturevalue("pg_databases")
        url = databases.create("iamd_lanes")
    # Two threads per lane: a regression that puts writes beside reads fills them at once.
    with running_server(tmp_path / "data", url, limits=HttpLimits(request_threads=2)) as running:
        yield running


@pytest.fixture
def iam(server: RunningServer) -> BaseClient:
    return client_for(server, server.root_key, server.root_secret)


@contextmanager
def writers_held(server: RunningServer) -> Iterator[None]:
    """Hold the lock every writer of the store takes first, from a connection of the server's own engine."""
    store: Any = server.backend.store
    with store.engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE, the write lock
        transaction = conn.begin()
        if store.dialect == "postgresql":
            conn.execute(select(s.meta.c.generation).where(s.meta.c.id == 1).with_for_update())
        try:
            yield
        finally:
            transaction.rollback()


def _wait(future: Future[Any]) -> Any:
    return future.result(timeout=WAIT)


def test_reads_go_on_while_writes_wait_for_the_database(server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="present")
    iam.get_user(UserName="present")  # cached: answered on the event loop from now on
    with ThreadPoolExecutor(8) as pool, _connect(server) as refused:
        with writers_held(server):
            # More writes than a lane has threads, all waiting for the writers' lock.
            creates = [pool.submit(iam.create_user, UserName=f"queued{i}") for i in range(4)]
            # Refused before authentication: its failure is stored durably, which on SQLite waits
            # for the write lock too; it must not wait on the event loop.
            refused.sendall(_signed(server, b"Action=NoSuchAction&Version=2010-05-08"))
            # Meanwhile: a warm read (event loop), a list and a read of an entity not cached
            # (read lane), all answered while the writers' lock is still held.
            assert _wait(pool.submit(iam.get_user, UserName="present"))["User"]["UserName"] == "present"
            listed = _wait(pool.submit(iam.list_users))["Users"]
            assert [u["UserName"] for u in listed] == ["present"]  # the committed snapshot: no queued user
            started = time.monotonic()
            with pytest.raises(ClientError) as missing:
                _wait(pool.submit(iam.get_user, UserName="queued0"))
            assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
            # A failure's audit event waits a quarter second for the writers' lock, then is queued:
            # not the store's 30-second lock timeout (docs/iam-api.md, "Audit writes").
            assert time.monotonic() - started < 10
            assert not any(f.done() for f in creates)  # the writers were waiting all along
        # The lock is released: the writes go through, the refused request is answered.
        for future in creates:
            assert _wait(future)["User"]["UserName"].startswith("queued")
        assert _Reader(refused).response()[0] == 400
    names = sorted(u["UserName"] for u in iam.list_users()["Users"])
    assert names == ["present", "queued0", "queued1", "queued2", "queued3"]
    assert server.backend.audit is not None
    server.backend.audit.flush()  # the queued failure is in the trail once the lock is free
    with server.backend.store.read() as tx:
        (event,) = tx.find_audit_events(missing.value.response["ResponseMetadata"]["RequestId"])
    assert (event.event_name, event.error_code) == ("GetUser", "NoSuchEntity")
    assert iam.get_user(UserName="queued0")["User"]["UserName"] == "queued0"  # the cached "no such" is gone


class _Held:
    """Holds every CreateUser of ``name`` inside its write transaction until released."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inside = threading.Event()
        self.release = threading.Event()
        self.fail = False

    def hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def create_user(tx: Any, account: str, name: str, **kwargs: Any) -> Any:
            user = original(tx, account, name, **kwargs)
            if name == self.name:
                self.inside.set()
                assert self.release.wait(WAIT)
                if self.fail:
                    raise RuntimeError("the write fails after its insert")
            return user

        return create_user


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Held]:
    hold = _Held("pending")
    monkeypatch.setattr(SqlTx, "create_user", hold.hook(SqlTx.create_user))
    try:
        yield hold
    finally:
        hold.release.set()


def test_reads_during_a_long_write_see_the_committed_snapshot(
    server: RunningServer, iam: BaseClient, held: _Held
) -> None:
    iam.create_user(UserName="before")
    with ThreadPoolExecutor(4) as pool:
        create = pool.submit(iam.create_user, UserName="pending")
        assert held.inside.wait(WAIT)  # the user is written, not committed
        with pytest.raises(ClientError) as missing:
            _wait(pool.submit(iam.get_user, UserName="pending"))
        assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
        assert [u["UserName"] for u in _wait(pool.submit(iam.list_users))["Users"]] == ["before"]
        assert _wait(pool.submit(iam.get_user, UserName="before"))["User"]["UserName"] == "before"
        assert not create.done()
        held.release.set()
        assert _wait(create)["User"]["UserName"] == "pending"
    # Committed: the very next read sees it (the cached "no such user" was dropped).
    assert iam.get_user(UserName="pending")["User"]["UserName"] == "pending"
    assert sorted(u["UserName"] for u in iam.list_users()["Users"]) == ["before", "pending"]


def test_a_write_that_fails_rolls_back_and_the_lane_goes_on(
    server: RunningServer, iam: BaseClient, held: _Held
) -> None:
    held.fail = True
    held.release.set()
    with pytest.raises(ClientError) as failed:
        iam.create_user(UserName="pending")
    assert failed.value.response["Error"]["Code"] == "InternalFailure"
    with pytest.raises(ClientError) as missing:
        iam.get_user(UserName="pending")
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    assert iam.list_users()["Users"] == []
    iam.create_user(UserName="after")  # the write lane is free again
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["after"]
    request_id = failed.value.response["ResponseMetadata"]["RequestId"]
    with server.backend.store.read() as tx:
        (event,) = tx.find_audit_events(request_id)  # the failure is in the trail, once
    assert (event.event_name, event.error_code) == ("CreateUser", "InternalFailure")


def test_a_burst_of_mixed_requests_all_complete(server: RunningServer, iam: BaseClient) -> None:
    """Writes, reads, lists, failures and denials at once, more than both lanes have threads."""
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])  # no policy: denied

    def churn(i: int) -> str:
        iam.create_user(UserName=f"burst{i}")
        iam.tag_user(UserName=f"burst{i}", Tags=[{"Key": "n", "Value": str(i)}])
        assert iam.get_user(UserName=f"burst{i}")["User"]["Tags"] == [{"Key": "n", "Value": str(i)}]
        iam.delete_user(UserName=f"burst{i}") if i % 2 else None
        return "ok"

    def denied() -> str:
        try:
            reader.list_users()
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "allowed"

    def invalid() -> str:
        try:
            iam.delete_user(UserName="nobody")
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "deleted"

    jobs: list[Callable[[], str]] = []
    for i in range(12):
        jobs += [lambda i=i: churn(i), denied, invalid, lambda: str(len(iam.list_users()["Users"]) > 0)]
    with ThreadPoolExecutor(16) as pool:
        results = [_wait(f) for f in [pool.submit(job) for job in jobs]]
    assert results.count("ok") == 12
    assert results.count("AccessDenied") == 12
    assert results.count("NoSuchEntity") == 12
    assert results.count("True") == 12
    left = sorted(u["UserName"] for u in iam.list_users()["Users"])
    assert left == sorted(["reader", *(f"burst{i}" for i in range(0, 12, 2))])


def test_which_lane(server: RunningServer) -> None:
    app = IamdApp(server.backend, HttpLimits(request_threads=3))
    lanes = app.lanes
    assert lanes.write_threads == (1 if server.backend.store.dialect == "sqlite" else 3)
    sized = IamdApp(server.backend, HttpLimits(request_threads=3, write_threads=2)).lanes  # --write-threads
    assert sized.write_threads == (1 if server.backend.store.dialect == "sqlite" else 2)
    assert cast(Any, sized.write)._max == sized.write_threads and cast(Any, sized.read)._max == 3

    def request(body: bytes, target: str = "") -> HttpRequest:
        headers = (("X-Amz-Target", target),) if target else ()
        return HttpRequest("POST", "/", "", headers, body, "127.0.0.1", False)

    assert lanes.for_request(request(b""), "CreateUser") is lanes.write
    assert lanes.for_request(request(b""), "ListUsers") is lanes.read
    assert lanes.for_request(request(b""), "AssumeRole") is lanes.read
    assert lanes.for_request(request(b""), None) is lanes.write  # not told cheaply: it might write
    organizations = "AWSOrganizationsV20161128"
    assert lanes.for_request(request(b"", f"{organizations}.CreateOrganization"), None) is lanes.write
    assert lanes.for_request(request(b"", f"{organizations}.DescribeOrganization"), None) is lanes.read
    lanes.shutdown()


def test_a_read_on_the_event_loop_that_needs_the_database_runs_again_off_it(server: RunningServer) -> None:
    """Tried inline (a cached key, a cheap action), it needs a user not cached: nothing is
    answered or recorded on the loop; the request is answered once, from a worker thread."""
    iam = client_for(server, server.root_key, server.root_secret)
    iam.create_user(UserName="cold")
    server.backend.cache.clear()
    iam.get_user()  # the root key's credential is cached again; the user "cold" is not
    app = IamdApp(server.backend)
    raw = _signed(server, b"Action=GetUser&UserName=cold&Version=2010-05-08")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")[1:]
    headers = tuple((k, v.strip()) for k, _, v in (line.partition(":") for line in lines))
    http = HttpRequest("POST", "/", "", headers, body, "127.0.0.1", False)
    decisions = server.backend.decisions.counts
    before = dict(decisions)
    assert app.inline(http)
    assert app.answer_inline(http, app.action_of(http)) is None
    assert app.inline_retries == 1
    assert decisions == before  # the abandoned try counted no decision
    wire = app.query(http)  # what the worker thread runs
    assert wire.status == 200 and b"<UserName>cold</UserName>" in wire.body
    assert decisions["allowed"] == before["allowed"] + 1  # the call's one decision, once
    assert app.answer_inline(http, app.action_of(http)) is not None  # now cached: answered on the loop
    assert app.inline_retries == 1
    assert decisions["allowed"] == before["allowed"] + 2


def test_a_read_given_up_on_the_event_loop_counts_no_decision(server: RunningServer) -> None:
    """Authorized, then given up because its handler needs the database (an inline policy is not
    cached): the decision is counted once, by the try that answers."""
    iam = client_for(server, server.root_key, server.root_secret)
    iam.create_user(UserName="owner")
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
    iam.put_user_policy(UserName="owner", PolicyName="p", PolicyDocument=document)
    iam.get_user(UserName="owner")  # the user (the call's target) is cached; its inline policy is not
    app = IamdApp(server.backend)
    http = _http(server, b"Action=GetUserPolicy&UserName=owner&PolicyName=p&Version=2010-05-08")
    decisions = server.backend.decisions.counts
    before = dict(decisions)
    assert app._try_inline(http, "GetUserPolicy") is None  # authorized, then the handler needed the database
    assert decisions == before
    assert app.query(http).status == 200
    assert sum(decisions.values()) - sum(before.values()) == 1


def _http(server: RunningServer, body: bytes) -> HttpRequest:
    head, _, payload = _signed(server, body).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")[1:]
    headers = tuple((k, v.strip()) for k, _, v in (line.partition(":") for line in lines))
    return HttpRequest("POST", "/", "", headers, payload, "127.0.0.1", False)


def test_jobs_in_sequence_run_on_the_thread_idle_last(server: RunningServer) -> None:
    """The read lane hands a job to the thread that became idle last: after a burst started all
    of its threads, requests one at a time run on one thread (its caches and its SQLite read
    connection's page cache warm), not on each in turn; all of them still run at once."""
    app = IamdApp(server.backend, HttpLimits(request_threads=4))
    read = app.lanes.read
    gate = threading.Barrier(4, timeout=WAIT)
    burst = [read.submit(lambda: (gate.wait(), threading.current_thread().name)[1]) for _ in range(4)]
    assert len({f.result(WAIT) for f in burst}) == 4  # four threads, all busy at once
    time.sleep(0.2)  # every thread back to idle
    names = [read.submit(lambda: threading.current_thread().name).result(WAIT) for _ in range(12)]
    assert len(set(names)) == 1, names
    app.lanes.shutdown()


def test_a_job_posted_by_its_predecessors_hand_back_runs_on_the_same_thread() -> None:
    """A lane hands a job's answer back only once its thread is idle again: a caller that posts
    its next job as soon as the answer arrives (a client's next request, the harness's next feed)
    finds that thread, warm, not another. Each job here is submitted by the done callback of the
    one before, which runs where the answer is handed back; handed back before the thread was
    idle (until session 13), every job found its thread busy and went to another one. A failure
    is handed back the same way, and the thread goes on."""
    lane = Lane(4, "lane-test")
    names: list[str] = []
    finished = threading.Event()

    def name() -> str:
        return threading.current_thread().name

    def next_one(future: Future[str]) -> None:
        names.append(future.result())
        if len(names) == 10:
            finished.set()
            return
        lane.submit(name).add_done_callback(next_one)

    lane.submit(name).add_done_callback(next_one)
    assert finished.wait(WAIT)
    assert len(set(names)) == 1, names

    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):  # a failure is handed back the same way
        lane.submit(fail).result(WAIT)
    assert lane.submit(name).result(WAIT) == names[0]
    lane.shutdown()
