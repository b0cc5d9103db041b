"""Writes from many connections at once: what the writers' lock must still guarantee, and what it
no longer holds up (docs/architecture.md, "Writes on PostgreSQL").

A write's authorization reads run before the writers' lock is taken; its checks, its writes, the
generation bump and its audit event run under it. So, on both backends:

* two CreateUser of one name spelt in different letter case, on two connections at once: exactly
  one is created, the other answered EntityAlreadyExists;
* writes on many connections at once commit as consecutive generations, each published once by
  the process that wrote it (what its cache and its watcher go by);

and on PostgreSQL a write that its authorization denies is answered while another writer holds
the lock (it never needed it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import event

from iamd.limits import HttpLimits
from iamd.store.changes import ChangeSet, Entity, Verb
from iamd.store.feed import NOTIFY
from tests.api.conftest import client_for
from tests.api.server import RunningServer, running_server
from tests.api.test_lanes import writers_held
from tests.store.conftest import PgDatabases, pg_cluster, pg_databases  # noqa: F401 - fixtures

WAIT = 60.0  # liveness only
ALLOW_IAM = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}'


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    url = None
    if request.param == "postgresql":
        databases: PgDatabases = request.getfixturevalue("pg_databases")
        url = databases.create("iamd_writes")
    with running_server(tmp_path / "data", url, limits=HttpLimits(request_threads=4)) as running:
        yield running


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_one_name_in_two_letter_cases_at_once_creates_one_user(server: RunningServer) -> None:
    clients = [client_for(server, server.root_key, server.root_secret) for _ in range(2)]
    rounds = 15
    outcomes: list[tuple[int, str]] = []
    start = threading.Barrier(2)

    def create(n: int) -> None:
        iam = clients[n]
        for i in range(rounds):
            start.wait(timeout=WAIT)  # both requests of a round leave together
            name = f"Racer{i}" if n else f"rACER{i}"
            try:
                iam.create_user(UserName=name)
                outcomes.append((i, "created"))
            except ClientError as error:
                outcomes.append((i, _code(error)))

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(create, n) for n in range(2)]:
            future.result(timeout=WAIT * 4)
    for i in range(rounds):
        assert sorted(o for r, o in outcomes if r == i) == ["EntityAlreadyExists", "created"], i
    users = clients[0].list_users()["Users"]
    assert sorted(u["UserName"].lower() for u in users) == sorted(f"racer{i}" for i in range(rounds))


def test_concurrent_writes_commit_as_consecutive_generations(server: RunningServer) -> None:
    store = server.backend.store
    published: list[ChangeSet] = []
    lock = threading.Lock()

    def listen(changes: ChangeSet) -> None:
        with lock:
            published.append(changes)

    unsubscribe = store.subscribe(listen)
    iam = [client_for(server, server.root_key, server.root_secret) for _ in range(4)]
    before = store.generation()

    def churn(n: int) -> None:
        for i in range(10):
            iam[n].create_user(UserName=f"w{n}-{i}")
            iam[n].delete_user(UserName=f"w{n}-{i}")

    try:
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(churn, n) for n in range(4)]:
                future.result(timeout=WAIT * 4)
    finally:
        unsubscribe()
    after = store.generation()
    writes = [c for c in published if any(ch.entity is Entity.USER for ch in c.changes)]
    assert len(writes) == 80
    # Every user write bumped the generation once, no two the same, none skipped.
    assert sorted(c.generation for c in writes if c.generation is not None) == list(range(before + 1, after + 1))
    # ... and each generation's changes are in the order they were made: its create before its delete.
    by_generation = {c.generation: c for c in writes}
    for n in range(4):
        for i in range(10):
            name = f"w{n}-{i}"
            created = [g for g, c in by_generation.items() if any(ch.name == name and ch.verb is Verb.CREATED
                                                                     for ch in c.changes)]  # fmt: skip
            deleted = [g for g, c in by_generation.items() if any(ch.name == name and ch.verb is Verb.DELETED
                                                                     for ch in c.changes)]  # fmt: skip
            assert len(created) == len(deleted) == 1 and created[0] is not None and deleted[0] is not None
            assert created[0] < deleted[0]
    assert iam[0].list_users()["Users"] == []


@pytest.mark.parametrize("server", ["postgresql"], indirect=True)  # SQLite's write transaction begins with its lock
def test_a_denied_write_does_not_wait_for_the_writers_lock(server: RunningServer) -> None:
    assert server.backend.store.dialect == "postgresql"
    root = client_for(server, server.root_key, server.root_secret)
    root.create_user(UserName="nobody")
    key = root.create_access_key(UserName="nobody")["AccessKey"]
    nobody = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
    with ThreadPoolExecutor(2) as pool, writers_held(server):
        allowed = pool.submit(root.create_user, UserName="waits")
        with pytest.raises(ClientError) as denied:
            pool.submit(nobody.create_user, UserName="never").result(timeout=WAIT)
        assert _code(denied.value) == "AccessDenied"
        assert not allowed.done()  # the allowed write is still waiting for the lock
    assert allowed.result(timeout=WAIT)["User"]["UserName"] == "waits"
    names = sorted(u["UserName"] for u in root.list_users()["Users"])
    assert names == ["nobody", "waits"]


@pytest.mark.parametrize("server", ["postgresql"], indirect=True)  # SQLite: one writer, locked at BEGIN
def test_what_a_write_does_under_the_writers_lock(server: RunningServer) -> None:
    """PostgreSQL: the authorization's reads come before the lock, and CreateUser and DeleteUser
    hold it for few statements (bench/README.md, "Writes side by side on PostgreSQL": 14 and 20
    before session 10, 11 and 7 in session 10; the lock is the generation's bump since session
    11). A bound, not a timing: another statement under the lock is a choice to make knowingly."""
    store: Any = server.backend.store
    assert store.dialect == "postgresql"
    root = client_for(server, server.root_key, server.root_secret)
    root.create_user(UserName="caller")
    root.put_user_policy(UserName="caller", PolicyName="all", PolicyDocument=ALLOW_IAM)
    key = root.create_access_key(UserName="caller")["AccessKey"]
    iam = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_user(UserName="warm")  # the caller's key and policies are cached from here on
    iam.delete_user(UserName="warm")
    seen: list[tuple[int, str]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((id(conn.connection.dbapi_connection), statement))

    def under_lock(call: Callable[[], object]) -> tuple[list[str], list[str]]:
        seen.clear()
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            call()
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
        locks = [
            i for i, (_, sql) in enumerate(seen) if sql.startswith("BEGIN; UPDATE iamd_meta") and "set_config" in sql
        ]
        assert len(locks) == 1, seen
        conn = seen[locks[0]][0]
        before = [sql for c, sql in seen[: locks[0]] if c == conn]
        # (not the change feed's notification, which reads the generation the lock bumped: iamd/store/feed.py)
        return before, [sql for c, sql in seen[locks[0] + 1 :] if c == conn and sql != NOTIFY]

    before, after = under_lock(lambda: iam.create_user(UserName="target"))
    # Nothing read before the lock: the name's entity, if any, is authorized only when the
    # create fails (iamd.service.authorize.authorize_iam_taken; was one read of the user).
    assert before == [], before
    # + the lock: 9 (was 14, then 11); the new ARN interned in one statement, the call's other
    # audit strings remembered from the warm-up's committed writes
    assert len(after) <= 8, after
    assert sum(sql.startswith("WITH v(digest, value)") for sql in after) == 1, after  # the interning
    assert not any("iamd_meta" in sql for sql in after), after  # the lock bumped the generation
    before, after = under_lock(lambda: iam.delete_user(UserName="target"))
    # Nothing read before the lock: the target is taken as stored at "/" as spelled, which its
    # delete checks (Tx.assume_user; was one read of the user, and 3 statements before session
    # 12); not its tags: the caller's policy reads no condition key (iamd.service.authorize
    # reads them only for a statement that does).
    assert before == [], before
    assert len(after) <= 4, after  # + the lock: 5 (was 20, then 7)
    assert any("AS moved" in sql for sql in after), after
    assert not any(sql.startswith("WITH v(digest, value)") for sql in after), (
        after
    )  # the ARN remembered from the create
    assert not any("iamd_meta" in sql for sql in after), after
    assert not any("user_tags" in sql for sql in after), after


def test_a_delete_of_a_user_stored_otherwise_is_authorized_as_stored(server: RunningServer) -> None:
    """DeleteUser's target is authorized as stored, whatever the request's spelling: on PostgreSQL
    it is first taken unread as stored at "/" as spelled (Tx.assume_user), and when its delete
    finds it otherwise, or that guess is denied, it is read and authorized again; the answer, the
    decision and the audit trail are those of the stored user, one event per call."""
    account = server.account_id
    root = client_for(server, server.root_key, server.root_secret)
    root.create_user(UserName="Moved", Path="/ops/")
    root.create_user(UserName="Plain")
    policies = {
        "all-but-ops": '{"Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Action": "iam:*", "Resource": "*"},'
        ' {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "arn:aws:iam::*:user/ops/*"}]}',
        "only-ops": '{"Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Action": "iam:DeleteUser", "Resource": "arn:aws:iam::*:user/ops/*"}]}',
    }
    callers = {}
    for name, document in policies.items():
        root.create_user(UserName=name)
        root.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
        key = root.create_access_key(UserName=name)["AccessKey"]
        callers[name] = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
    stored = f"arn:aws:iam::{account}:user/ops/Moved"
    with pytest.raises(ClientError) as denied:  # the guess (user/moved) allowed, the stored user denied
        callers["all-but-ops"].delete_user(UserName="moved")
    assert (
        _code(denied.value) == "AccessDenied" and "resource: user Moved " in denied.value.response["Error"]["Message"]
    )
    with pytest.raises(ClientError) as denied:  # the guess denied, and the user stored as guessed
        callers["only-ops"].delete_user(UserName="Plain")
    assert _code(denied.value) == "AccessDenied"
    assert "resource: user Plain " in denied.value.response["Error"]["Message"]
    callers["only-ops"].delete_user(UserName="MOVED")  # the guess (user/MOVED) denied, the stored one allowed
    assert sorted(u["UserName"] for u in root.list_users()["Users"]) == ["Plain", "all-but-ops", "only-ops"]
    with server.backend.store.read() as r:
        events = [e for e in r.list_audit_events(account, event_name="DeleteUser").items]
    assert len(events) == 3
    assert [e.error_code for e in events].count(None) == 1
    assert sorted(json.loads(e.record)["iamdDecision"]["resource"] for e in events) == sorted(
        [stored, stored, f"arn:aws:iam::{account}:user/Plain"]
    )


def test_a_write_refused_in_its_commit_answers_as_before(server: RunningServer) -> None:
    """On PostgreSQL CreateUser and DeleteUser are sent whole with their commit, and a check that
    fails there aborts them (Ops._defer_first): the answers are AWS's as before (and as
    SQLite's), nothing is written, the generation stays, each failure's audit event is stored,
    and a taken name's stored user is still authorized: a Deny on it wins over the taken name."""
    store = server.backend.store
    account = server.account_id
    root = client_for(server, server.root_key, server.root_secret)
    root.create_user(UserName="Admin", Path="/ops/")
    root.create_user(UserName="keyed")
    root.create_access_key(UserName="keyed")
    root.create_user(UserName="caller")
    deny = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"},'
        ' {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "arn:aws:iam::*:user/ops/*"}]}'
    )
    root.put_user_policy(UserName="caller", PolicyName="all", PolicyDocument=deny)
    key = root.create_access_key(UserName="caller")["AccessKey"]
    caller = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
    generation = store.generation()
    refused = {
        "EntityAlreadyExists": (lambda: root.create_user(UserName="ADMIN"), "User with name ADMIN already exists."),
        "NoSuchEntity": (lambda: root.delete_user(UserName="nobody"), "The user with name nobody cannot be found."),
        "DeleteConflict": (
            lambda: root.delete_user(UserName="keyed"),
            "Cannot delete entity, must delete access keys first.",
        ),
        "AccessDenied": (lambda: caller.create_user(UserName="admin"), None),  # the stored /ops/Admin's Deny
    }
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(store.engine, "before_cursor_execute", record)
    for code, (call, message) in refused.items():
        with pytest.raises(ClientError) as error:
            call()
        assert _code(error.value) == code
        if message is not None:
            assert error.value.response["Error"]["Message"] == message
    with store.transaction() as tx:
        tx.set_entity_quota(account, "Users", 3)
    generation = store.generation()
    with pytest.raises(ClientError) as error:
        root.create_user(UserName="over")
    assert error.value.response["Error"] == {**error.value.response["Error"], "Code": "LimitExceeded"}
    assert error.value.response["Error"]["Message"] == "Cannot exceed quota for UsersPerAccount: 3"
    assert store.generation() == generation
    if store.dialect == "postgresql":  # refused by the statements sent whole with the commit
        assert sum("iamd_refuse" in sql for sql in seen) >= len(refused) + 1, seen
    event.remove(store.engine, "before_cursor_execute", record)
    assert sorted(u["UserName"] for u in root.list_users()["Users"]) == ["Admin", "caller", "keyed"]
    with store.read() as r:
        failed = [e.error_code for e in r.list_audit_events(account, errors_only=True).items]
    assert set(failed) >= {*refused, "LimitExceeded"}


def test_a_delete_of_a_tagged_user_taken_unread_is_denied_by_its_tags(server: RunningServer) -> None:
    """A Deny on DeleteUser conditioned on the user's tags (aws:ResourceTag, iam:ResourceTag) wins
    when the user is stored exactly as the request spells it: on PostgreSQL its authorization
    takes the user unread (Tx.assume_user), and the tags are still the stored user's (read for the
    condition), so the guess cannot sidestep the Deny. AWS: "Controlling access to IAM users and
    roles using tags" (IAM User Guide)."""
    root = client_for(server, server.root_key, server.root_secret)
    for name in ("Kept", "Keep2"):
        root.create_user(UserName=name, Tags=[{"Key": "keep", "Value": "yes"}])
    root.create_user(UserName="Free")
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"},'
        ' {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*",'
        ' "Condition": {"StringEquals": {"aws:ResourceTag/keep": "yes"}}},'
        ' {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*",'
        ' "Condition": {"StringEquals": {"iam:ResourceTag/keep": "yes"}}}]}'
    )
    root.create_user(UserName="caller")
    root.put_user_policy(UserName="caller", PolicyName="p", PolicyDocument=document)
    key = root.create_access_key(UserName="caller")["AccessKey"]
    caller = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
    for name in ("Kept", "Keep2", "kept"):
        with pytest.raises(ClientError) as denied:
            caller.delete_user(UserName=name)
        assert _code(denied.value) == "AccessDenied", name
        assert "explicit deny" in denied.value.response["Error"]["Message"], name
    caller.delete_user(UserName="Free")
    assert sorted(u["UserName"] for u in root.list_users()["Users"]) == ["Keep2", "Kept", "caller"]
