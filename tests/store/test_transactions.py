"""Transactions: all-or-nothing, the generation counter, read-only views, concurrent writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from iamd.store import (
    AlreadyExists,
    EntityKind,
    KeyStatus,
    NotFound,
    ReadOnly,
    Store,
    Tag,
    TagTarget,
    Tx,
    audit_event_from_record,
    open_store,
)
from iamd.store.changes import ChangeSet
from iamd.store.migrate import upgrade
from tests.store.conftest import PgDatabases
from tests.store.helpers import DOC, TRUST


class Boom(Exception):
    pass


def _snapshot(store: Store, account: str) -> tuple[object, ...]:
    with store.read() as r:
        return (
            r.list_users(account, max_items=1000),
            r.list_groups(account, max_items=1000),
            r.list_roles(account, max_items=1000),
            r.list_policies(account, max_items=1000),
            r.list_instance_profiles(account, max_items=1000),
            r.list_access_keys(account, None),
            r.list_audit_events(account),
            r.get_account(account),
        )


def test_an_exception_rolls_back_everything(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "existing")
    before, generation = _snapshot(store, account), store.generation()
    with pytest.raises(Boom), store.transaction() as tx:
        tx.create_user(account, "u", tags=[Tag("a", "b")])
        tx.create_group(account, "g")
        tx.add_user_to_group(account, "g", "u")
        policy = tx.create_policy(account, "p", DOC)
        tx.attach_policy(EntityKind.USER, account, "u", policy.arn)
        tx.create_role(account, "r", assume_role_policy=TRUST)
        tx.put_inline_policy(EntityKind.ROLE, account, "r", "i", DOC)
        tx.create_instance_profile(account, "ip")
        tx.add_role_to_instance_profile(account, "ip", "r")
        tx.create_access_key(account, None, "AKIAROOT000000000001", b"s")
        tx.update_user(account, "existing", new_name="renamed")
        tx.set_account_alias(account, "alias")
        tx.tag_resource(TagTarget.USER, account, "renamed", [Tag("x", "y")])
        record = {"eventTime": "2024-01-15T12:00:00Z", "eventName": "CreateUser", "eventID": "e1"}
        tx.add_audit_event(audit_event_from_record(record | {"recipientAccountId": account}))
        raise Boom()
    assert _snapshot(store, account) == before
    assert store.generation() == generation
    with store.read() as r:
        assert r.list_tags(TagTarget.USER, account, "existing") == ()


def test_a_store_error_mid_transaction_rolls_back_earlier_writes(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "taken")
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_user(account, "fresh")
        tx.create_user(account, "TAKEN")
    with store.read() as r, pytest.raises(NotFound):
        r.get_user(account, "fresh")


WRITES: list[tuple[str, Callable[[Tx, str], object]]] = [
    ("create_user", lambda tx, a: tx.create_user(a, "u2")),
    ("update_user", lambda tx, a: tx.update_user(a, "u", new_path="/p/")),
    ("create_group", lambda tx, a: tx.create_group(a, "g2")),
    ("update_group", lambda tx, a: tx.update_group(a, "g", new_path="/p/")),
    ("add_user_to_group", lambda tx, a: tx.add_user_to_group(a, "g", "u")),
    ("remove_user_from_group", lambda tx, a: tx.remove_user_from_group(a, "g", "u")),
    ("create_role", lambda tx, a: tx.create_role(a, "r2", assume_role_policy=TRUST)),
    ("update_role", lambda tx, a: tx.update_role(a, "r", description="d")),
    ("update_assume_role_policy", lambda tx, a: tx.update_assume_role_policy(a, "r", TRUST)),
    ("create_policy", lambda tx, a: tx.create_policy(a, "p2", DOC)),
    ("create_policy_version", lambda tx, a: tx.create_policy_version(f"arn:aws:iam::{a}:policy/p", DOC)),
    ("set_default_policy_version", lambda tx, a: tx.set_default_policy_version(f"arn:aws:iam::{a}:policy/p", "v2")),
    ("delete_policy_version", lambda tx, a: tx.delete_policy_version(f"arn:aws:iam::{a}:policy/p", "v1")),
    ("attach_policy", lambda tx, a: tx.attach_policy(EntityKind.ROLE, a, "r", f"arn:aws:iam::{a}:policy/p")),
    ("detach_policy", lambda tx, a: tx.detach_policy(EntityKind.ROLE, a, "r", f"arn:aws:iam::{a}:policy/p")),
    ("put_boundary", lambda tx, a: tx.put_permissions_boundary(EntityKind.USER, a, "u", f"arn:aws:iam::{a}:policy/p")),
    ("delete_boundary", lambda tx, a: tx.delete_permissions_boundary(EntityKind.USER, a, "u")),
    ("put_inline_policy", lambda tx, a: tx.put_inline_policy(EntityKind.GROUP, a, "g", "i", DOC)),
    ("delete_inline_policy", lambda tx, a: tx.delete_inline_policy(EntityKind.GROUP, a, "g", "i")),
    ("tag_resource", lambda tx, a: tx.tag_resource(TagTarget.ROLE, a, "r", [Tag("k", "v")])),
    ("untag_resource", lambda tx, a: tx.untag_resource(TagTarget.ROLE, a, "r", ["k"])),
    ("create_access_key", lambda tx, a: tx.create_access_key(a, "u", "AKIAU000000000000001", b"s")),
    ("update_access_key", lambda tx, a: tx.update_access_key(a, "u", "AKIAU000000000000001", KeyStatus.INACTIVE)),
    ("delete_access_key", lambda tx, a: tx.delete_access_key(a, "u", "AKIAU000000000000001")),
    ("create_instance_profile", lambda tx, a: tx.create_instance_profile(a, "ip")),
    ("add_role_to_instance_profile", lambda tx, a: tx.add_role_to_instance_profile(a, "ip", "r")),
    ("remove_role_from_instance_profile", lambda tx, a: tx.remove_role_from_instance_profile(a, "ip", "r")),
    ("delete_instance_profile", lambda tx, a: tx.delete_instance_profile(a, "ip")),
    ("put_aws_managed_policy", lambda tx, a: tx.put_aws_managed_policy("ReadOnlyAccess", DOC)),
    ("set_account_alias", lambda tx, a: tx.set_account_alias(a, "alias")),
    ("set_password_policy", lambda tx, a: tx.set_password_policy(a, "{}")),
    ("bulk_create_users", lambda tx, a: tx.bulk_create_users(a, ["b1", "b2"])),
    ("delete_user", lambda tx, a: tx.delete_user(a, "u2")),
    ("delete_group", lambda tx, a: tx.delete_group(a, "g2")),
    ("delete_role", lambda tx, a: tx.delete_role(a, "r2")),
    ("delete_policy", lambda tx, a: tx.delete_policy(f"arn:aws:iam::{a}:policy/p2")),
    ("create_account", lambda tx, a: tx.create_account("555555555555")),
]


def test_every_write_bumps_the_generation_and_reads_do_not(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "u")
        tx.create_group(account, "g")
        tx.create_role(account, "r", assume_role_policy=TRUST)
        tx.create_policy(account, "p", DOC)
    for name, write in WRITES:
        before = store.generation()
        with store.transaction() as tx:
            write(tx, account)
        assert store.generation() == before + 1, name
        with store.read() as r:
            r.get_user(account, "u")
            r.list_policies(account)
        with store.transaction() as tx:  # a write transaction that only reads
            tx.get_role(account, "r")
            assert tx.generation() == before + 1
        assert store.generation() == before + 1, name


def test_failed_writes_and_several_writes_in_one_transaction(store: Store, account: str) -> None:
    before = store.generation()
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.delete_user(account, "nobody")
    assert store.generation() == before
    with store.transaction() as tx:
        tx.create_user(account, "a")
        tx.create_user(account, "b")
    assert store.generation() == before + 1  # one bump per committed write transaction


def test_read_views_refuse_writes(store: Store, account: str) -> None:
    with store.read() as r, pytest.raises(ReadOnly):
        cast(Tx, r).create_user(account, "sneaky")
    with store.read() as r, pytest.raises(ReadOnly):
        cast(Tx, r).add_audit_event(
            audit_event_from_record({"eventTime": "2024-01-15T12:00:00Z", "eventName": "X", "eventID": "1"})
        )
    with store.read() as r, pytest.raises(NotFound):
        r.get_user(account, "sneaky")


def _run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_writers_do_not_corrupt(store: Store, account: str) -> None:
    before = store.generation()

    def create(n: int) -> None:
        for i in range(40):
            with store.transaction() as tx:
                tx.create_user(account, f"t{n}-u{i}")

    assert _run_threads(2, create) == []
    with store.read() as r:
        assert r.count_users(account) == 80
        assert len(r.list_users(account, max_items=1000).items) == 80
    assert store.generation() == before + 80


def test_concurrent_creates_of_one_name_leave_exactly_one(store: Store, account: str) -> None:
    outcomes: list[str] = []

    def create(n: int) -> None:
        for i in range(20):
            try:
                with store.transaction() as tx:
                    tx.create_user(account, f"User{i}" if n % 2 else f"user{i}")
                outcomes.append("created")
            except AlreadyExists:
                outcomes.append("exists")

    assert _run_threads(4, create) == []
    assert outcomes.count("created") == 20 and outcomes.count("exists") == 60
    with store.read() as r:
        assert r.count_users(account) == 20


def test_checks_inside_a_write_transaction_hold_until_commit(store: Store, account: str) -> None:
    """Writers are serialized: a service-side quota check (2 keys) cannot be raced past."""
    with store.transaction() as tx:
        tx.create_user(account, "bob")

    def create_key(n: int) -> None:
        with store.transaction() as tx:
            if len(tx.list_access_keys(account, "bob")) < 2:
                tx.create_access_key(account, "bob", f"AKIARACE{n:012d}", b"s")

    assert _run_threads(6, create_key) == []
    with store.read() as r:
        assert len(r.list_access_keys(account, "bob")) == 2


def test_checks_after_lock_writers_hold_until_commit(store: Store, account: str) -> None:
    """``transaction(lock_later=True)``: what is read after ``lock_writers`` holds, as above; and
    a write in the body takes the lock at the latest (the second check here never raced past)."""
    with store.transaction() as tx:
        tx.create_user(account, "bob")

    def create_key(n: int) -> None:
        with store.transaction(lock_later=True) as tx:
            tx.get_user(account, "bob")  # a read before the lock: not a check
            tx.lock_writers()
            if len(tx.list_access_keys(account, "bob")) < 2:
                tx.create_access_key(account, "bob", f"AKIALATE{n:012d}", b"s")

    assert _run_threads(6, create_key) == []
    with store.read() as r:
        assert len(r.list_access_keys(account, "bob")) == 2


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer: BEGIN IMMEDIATE takes the lock
def test_reads_before_lock_writers_do_not_wait_for_another_writer(store: Store, account: str) -> None:
    """PostgreSQL: a ``lock_later`` transaction reads beside a writer holding the lock, and waits
    for it only from ``lock_writers`` on: at its next statement, which takes the lock before it
    runs (SQLite's write transaction begins with its lock)."""
    assert store.dialect == "postgresql"
    with store.transaction() as tx:
        tx.create_user(account, "early")
    read, locked, release = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def late() -> None:
        try:
            with store.transaction(lock_later=True) as tx:
                assert tx.get_user(account, "early").name == "early"
                read.set()
                tx.lock_writers()
                tx.get_user(account, "early")  # the lock's first statement: waits for the holder
                locked.set()
                tx.create_user(account, "late")
        except BaseException as exc:  # asserted on below
            errors.append(exc)

    def holder() -> None:
        with store.transaction() as tx:
            tx.create_user(account, "holder")
            started.start()
            release.wait(60)

    started = threading.Thread(target=late)
    held = threading.Thread(target=holder)
    held.start()
    assert read.wait(60), errors  # read while the other writer held the lock
    assert not locked.wait(0.3)  # ... and waits for it after lock_writers
    release.set()
    held.join(60)
    started.join(60)
    assert errors == [] and locked.is_set()
    with store.read() as r:
        assert {u.name for u in r.list_users(account, max_items=10).items} == {"early", "holder", "late"}


def test_nested_write_transactions_are_refused(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "outer")
        with pytest.raises(RuntimeError, match="nested"), store.transaction():
            pass
        # reading beside a writer is fine (and sees committed data only)
        with store.read() as r, pytest.raises(NotFound):
            r.get_user(account, "outer")
    with store.read() as r:
        assert r.get_user(account, "outer").name == "outer"


def test_reset_wipes_everything_and_bumps_the_generation(store: Store) -> None:
    with store.transaction() as tx:
        tx.create_account("111122223333")
        tx.create_user("111122223333", "alice", tags=[Tag("k", "v")])
        policy = tx.create_policy("111122223333", "P", DOC)
        tx.create_policy_version(policy.arn, DOC)
        tx.attach_policy(EntityKind.USER, "111122223333", "alice", policy.arn)
    before = store.generation()
    store.reset()
    assert store.generation() == before + 1
    with store.read() as r:
        assert r.list_accounts() == ()
    with store.transaction() as tx:  # usable again afterwards
        tx.create_account("111122223333")
        tx.create_user("111122223333", "alice")


def test_a_write_is_on_disk_when_its_transaction_returns(pg_databases: PgDatabases) -> None:
    """PostgreSQL: the write commits asynchronously (releasing the writers' lock before the log
    flush), and the store flushes the log before it returns (docs/architecture.md, "Writes on
    PostgreSQL"). The test cluster runs without durability, so this database asks for
    synchronous commits and the log writer is slowed down: only the store's flush moves the
    flushed position past the write's records."""
    import psycopg

    url = pg_databases.create("iamd_durable")
    name = make_url(url).database
    upgrade(url)
    admin = psycopg.connect(pg_databases.cluster.url(), autocommit=True)
    try:
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = on")
        admin.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
        admin.execute("SELECT pg_reload_conf()")
        store = open_store(url)
        try:
            for n in range(3):
                with store.transaction() as tx:
                    tx.create_account(f"11112222333{n}")
                    # where the log ends while the write is in progress: its commit record comes after
                    written = admin.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
                flushed = admin.execute("SELECT pg_current_wal_flush_lsn() - %s::pg_lsn", written).fetchone()
                assert flushed is not None and flushed[0] >= 0, n
        finally:
            store.close()
    finally:
        admin.execute("ALTER SYSTEM RESET wal_writer_delay")
        admin.execute("SELECT pg_reload_conf()")
        admin.close()


def test_a_write_is_committing_until_its_change_set_is_published(store: Store, account: str) -> None:
    """``Store.committing``: the generation a write commits as, from before its commit (other
    connections may see it from then on) until its change set is published, so the process's
    watcher (iamd/api/watcher.py) does not take it for another process's write meanwhile."""
    published: list[tuple[int | None, frozenset[int]]] = []
    unsubscribe = store.subscribe(lambda changes: published.append((changes.generation, store.committing())))
    try:
        with store.transaction() as tx:
            tx.create_user(account, "committing")
            assert store.committing() == frozenset()
        generation = store.generation()
        assert published == [(generation, frozenset({generation}))]
        assert store.committing() == frozenset()
        with pytest.raises(Boom), store.transaction() as tx:
            tx.create_user(account, "rolled-back")
            raise Boom()
        assert store.committing() == frozenset()
    finally:
        unsubscribe()


def test_reading_the_generation_keeps_what_pooled_connections_prepared(pg_databases: PgDatabases) -> None:
    """PostgreSQL: psycopg forgets every statement it prepared on a connection that rolls back
    (``DEALLOCATE ALL``), and the pool rolls back a connection checked in inside a transaction.
    The generation watcher reads the generation ten times a second in every process (and the
    audit budget the trail's size): those reads end with a ``COMMIT``, so the write path's
    statements stay prepared and planned on the pooled connections."""
    store = _store_with_prepared_writes(pg_databases, "iamd_prepared")
    try:
        backend, before = _prepared(store)
        assert before > 0
        for _ in range(3):
            store.generation()
            store.audit_size()
        assert _prepared(store) == (backend, before)  # the same pooled connection, its statements kept
    finally:
        store.close()


def test_a_read_snapshot_that_raises_keeps_what_its_connection_prepared(pg_databases: PgDatabases) -> None:
    """PostgreSQL: a snapshot that raises (GetUser of an unknown user: NotFound) ends with a
    ``COMMIT`` (read only, the same as a rollback) rather than a ``ROLLBACK``, which would make
    psycopg forget the connection's prepared statements; the connection is clean after it."""
    store = _store_with_prepared_writes(pg_databases, "iamd_prepared_reads")
    try:
        backend, before = _prepared(store)
        for _ in range(3):
            with pytest.raises(NotFound), store.read() as tx:
                tx.get_user("111122223333", "nobody")
        after = _prepared(store)
        assert after[0] == backend and after[1] >= before
        with store.read() as tx:
            assert tx.get_user("111122223333", "user0").name == "user0"
    finally:
        store.close()


def test_a_failed_write_keeps_what_its_connection_prepared(pg_databases: PgDatabases) -> None:
    """PostgreSQL: a write that fails after the writers' lock (CreateUser of a name taken,
    DeleteUser of a user not there) ends with a ``ROLLBACK`` of iamd's on libpq, so psycopg's
    rollback sends none and does not deallocate every statement prepared on the connection
    (``DEALLOCATE ALL``); iamd's own prepared statements are used at once, not checked first."""
    store = _store_with_prepared_writes(pg_databases, "iamd_prepared_failed")
    try:
        before = _prepared_names(store)
        assert any(name.startswith("_pg3_") for name in before)  # psycopg's own: its rollback would drop all
        for lock_later in (False, True):  # as tests do; as the server's calls do
            with pytest.raises(AlreadyExists), store.transaction(lock_later=lock_later) as tx:
                tx.create_user("111122223333", "user0")
            with pytest.raises(NotFound), store.transaction(lock_later=lock_later) as tx:
                tx.delete_user("111122223333", "nobody")
        with pytest.raises(Boom), store.transaction() as tx:
            tx.create_user("111122223333", "rolled-back")
            raise Boom()
        assert _prepared_names(store) >= before  # the same pooled connection, nothing deallocated
        statements: list[str] = []
        engine = cast(Any, store).engine

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            with store.transaction() as tx:
                tx.create_user("111122223333", "after")
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert not any("pg_prepared_statements" in sql for sql in statements)
        _assert_stored_not(store, "after", "rolled-back")
    finally:
        store.close()


def _assert_stored_not(store: Store, kept: str, lost: str) -> None:
    """User ``kept`` is stored and user ``lost`` (of a write that failed) is not."""
    with store.read() as r:
        assert r.get_user("111122223333", kept).name == kept
        with pytest.raises(NotFound):
            r.get_user("111122223333", lost)


def _store_with_prepared_writes(pg_databases: PgDatabases, name: str) -> Store:
    """A PostgreSQL store whose one pooled connection has prepared a CreateUser's statements."""
    url = pg_databases.create(name)
    upgrade(url)
    store = open_store(url)
    with store.transaction() as tx:
        tx.create_account("111122223333")
    for n in range(8):  # psycopg prepares a statement at its sixth run on a connection
        with store.transaction() as tx:
            tx.create_user("111122223333", f"user{n}")
    return store


def _pooled(store: Store) -> Any:
    """The store's next pooled connection, once this thread's kept write connection (PostgreSQL:
    ``SqlStore._writing``) is back in the pool: the one its writes ran on."""
    kept = getattr(cast(Any, store)._local, "writer", None)
    if kept is not None:
        kept.conn.close()
    return cast(Any, store).engine.connect()


def _prepared_names(store: Store) -> set[str]:
    """The statements prepared on the store's next pooled connection."""
    with _pooled(store) as conn:
        driver = cast(Any, conn.connection.driver_connection)
        names = {row[0] for row in driver.execute("SELECT name FROM pg_prepared_statements").fetchall()}
        driver.commit()
        return names


def _prepared(store: Store) -> tuple[int, int]:
    """(backend pid, statements prepared on it) of the store's next pooled connection."""
    with _pooled(store) as conn:
        driver = cast(Any, conn.connection.driver_connection)
        row = driver.execute("SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements").fetchone()
        driver.commit()
        return int(row[0]), int(row[1])


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite's writes take a pooled connection each
def test_a_thread_keeps_its_write_connection_until_it_ends(store: Store, account: str) -> None:
    """PostgreSQL: a thread's write transactions run on one connection it keeps (no pool
    checkout and check-in around each write), idle between writes; it is back in the pool when
    the thread ends."""
    engine = cast(Any, store).engine
    checkouts: list[int] = []

    def checked_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        checkouts.append(dbapi_connection.pgconn.backend_pid)

    def writes(prefix: str) -> set[int]:
        backends = set()
        for n in range(3):
            with store.transaction(lock_later=n % 2 == 1) as tx:
                tx.create_user(account, f"{prefix}{n}")
                backends.add(cast(Any, tx)._conn.connection.driver_connection.pgconn.backend_pid)
        return backends

    event.listen(engine, "checkout", checked_out)
    try:
        writes("warm")  # the first write keeps a connection
        checkouts.clear()
        first = writes("kept")
        assert checkouts == [] and len(first) == 1  # one connection, no checkout
        assert engine.pool.checkedout() == 1  # kept, idle: nothing else holds one
        other: list[set[int]] = []
        thread = threading.Thread(target=lambda: other.append(writes("other")))
        thread.start()
        thread.join()
        assert len(other[0]) == 1 and other[0] != first  # a thread of its own, its own connection
        assert len(checkouts) == 1
    finally:
        event.remove(engine, "checkout", checked_out)
    deadline = time.monotonic() + 10
    while engine.pool.checkedout() != 1 and time.monotonic() < deadline:  # the ended thread's is back
        time.sleep(0.01)
    assert engine.pool.checkedout() == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_kept_write_connection_stays_in_autocommit_between_writes_begun_by_their_lock(
    store: Store, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a thread's ``lock_later`` writes (a server's) leave its kept connection in
    autocommit for the next one: psycopg's switch runs once, not twice per write (bench/README.md,
    "Session 17: iamd's CPU per write, fewer calls"); a write not begun by its lock switches it
    back, and the connection goes back to the pool out of autocommit when the thread ends."""
    import psycopg

    engine = cast(Any, store).engine
    switches: list[bool] = []
    set_autocommit = psycopg.Connection.set_autocommit

    def counted(self: Any, value: bool) -> None:
        switches.append(value)
        set_autocommit(self, value)

    monkeypatch.setattr(psycopg.Connection, "set_autocommit", counted)
    drivers: list[Any] = []

    def writes() -> None:
        for n, lock_later in enumerate([True, True, True, False, True, True]):
            with store.transaction(lock_later=lock_later) as tx:
                if lock_later:
                    tx.lock_writers()
                tx.create_user(account, f"kept{n}")
                drivers.append(cast(Any, tx)._conn.connection.driver_connection)
            assert drivers[-1].autocommit is lock_later and drivers[-1].info.transaction_status == 0

    before = engine.pool.checkedout()  # (this thread's kept one, if it wrote)
    thread = threading.Thread(target=writes)
    thread.start()
    thread.join()
    assert len(drivers) == 6 and all(d is drivers[0] for d in drivers)  # the thread's kept connection
    deadline = time.monotonic() + 10
    while engine.pool.checkedout() != before and time.monotonic() < deadline:  # the ended thread's is back
        time.sleep(0.01)
    assert engine.pool.checkedout() == before
    assert switches == [True, False, True, False]  # in, out for the write not begun by its lock, in, out to the pool
    assert drivers[0].autocommit is False
    with store.read() as r:
        assert r.count_users(account) == 6


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_write_transaction_is_the_drivers_without_sqlalchemys(
    store: Store, account: str, pg_databases: PgDatabases
) -> None:
    """PostgreSQL: a write transaction begins, commits and rolls back on the driver, without
    SQLAlchemy's transaction and its events; a statement run through SQLAlchemy in it, or a
    statement's error, begins SQLAlchemy's, ended with it. A write that fails, or whose
    connection is lost, leaves the thread's next write a clean connection."""
    import psycopg
    from sqlalchemy import text

    engine = cast(Any, store).engine
    seen: list[str] = []
    listeners = {name: (lambda *_, name=name: seen.append(name)) for name in ("begin", "commit", "rollback")}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    admin = psycopg.connect(pg_databases.cluster.url(), autocommit=True)
    try:
        for lock_later in (False, True):
            with store.transaction(lock_later=lock_later) as tx:
                tx.create_user(account, f"user{int(lock_later)}")
        assert seen == []
        for lock_later in (False, True):
            with pytest.raises(AlreadyExists), store.transaction(lock_later=lock_later) as tx:
                tx.create_user(account, "user0")
            with pytest.raises(NotFound), store.transaction(lock_later=lock_later) as tx:
                tx.delete_user(account, "nobody")
        # a driver's error (PostgreSQL's refusal) begins SQLAlchemy's, ended by the rollback
        assert "commit" not in seen and seen.count("begin") == seen.count("rollback")
        seen.clear()
        with store.transaction() as tx:
            tx.create_user(account, "through")
            cast(Any, tx)._conn.execute(text("SELECT 1"))
        assert seen == ["begin", "commit"]  # SQLAlchemy's, begun by its statement
        conn = cast(Any, store)._local.writer.conn
        assert not conn.in_transaction() and conn.connection.driver_connection.pgconn.transaction_status == 0
        seen.clear()
        with pytest.raises(psycopg.OperationalError), store.transaction() as tx:
            tx.create_user(account, "lost")
            pid = cast(Any, tx)._conn.connection.driver_connection.pgconn.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            cast(Any, tx)._conn.connection.driver_connection.execute("SELECT 1")
        assert seen == [] and conn.invalidated
        with store.transaction() as tx:
            tx.create_user(account, "after")
    finally:
        admin.close()
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    with store.read() as r:
        assert {u.name for u in r.list_users(account).items} == {"user0", "user1", "through", "after"}


@pytest.mark.parametrize("backend", ["postgresql"])
def test_write_threads_keep_fewer_connections_than_the_pool_keeps_open(store: Store, account: str) -> None:
    """PostgreSQL: however many threads write, at most one fewer connections than the pool's size
    are kept by them between writes (a thread beyond checks one out per write): the reads, the
    watcher and the threads beyond never wait for a connection only idle writers hold."""
    engine = cast(Any, store).engine
    size = engine.pool.size()
    wrote, release = threading.Semaphore(0), threading.Event()

    def writer(n: int) -> None:
        with store.transaction() as tx:
            tx.create_user(account, f"writer{n}")
        wrote.release()
        release.wait(60)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(size + 2)]
    for thread in threads:
        thread.start()
    try:
        for _ in threads:
            assert wrote.acquire(timeout=60)
        assert engine.pool.checkedout() == size - 1  # kept by the first writers, idle
        with store.read() as r:
            assert r.get_user(account, "writer0").name == "writer0"
    finally:
        release.set()
        for thread in threads:
            thread.join()


def test_pooled_connections_the_server_closed_are_replaced_without_a_failure(pg_databases: PgDatabases) -> None:
    """PostgreSQL: the pool does not ping the server at every checkout (a round trip per read
    snapshot and per write); a pooled connection the server has closed (a restart, an
    administrator's pg_terminate_backend, an idle timeout) is replaced at checkout all the same,
    so the next reads and writes succeed instead of failing on a dead connection."""
    import psycopg

    url = pg_databases.create("iamd_stale")
    name = make_url(url).database
    upgrade(url)
    store = open_store(url)
    admin = psycopg.connect(pg_databases.cluster.url(), autocommit=True)
    try:
        with store.transaction() as tx:
            tx.create_account("111122223333")
        with store.read() as rtx:  # a second pooled connection, idle from here on
            assert rtx.get_account("111122223333").id == "111122223333"
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
        assert killed is not None and killed[0] >= 1
        time.sleep(0.2)  # the terminated backends' notices reach the pooled sockets
        for n in range(3):  # every pooled connection is dead: each checkout must get a live one
            with store.transaction() as tx:
                tx.create_user("111122223333", f"after{n}")
            with store.read() as rtx:
                assert rtx.get_user("111122223333", f"after{n}").name == f"after{n}"
    finally:
        admin.close()
        store.close()


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite's write transaction begins with its lock
def test_a_transaction_that_runs_nothing_after_lock_writers_never_waits_for_the_lock(
    store: Store, account: str
) -> None:
    """PostgreSQL: ``lock_writers`` takes the lock with the transaction's next statement (in the
    same round trip as a write's first); one that runs none (a call refused by its own checks
    before reading anything) never waits for another writer and moves no generation."""
    release, held = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction() as tx:
            tx.create_user(account, "holder")
            held.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(60)
        generation = store.generation()
        done = threading.Event()

        def idle() -> None:
            with store.transaction(lock_later=True) as tx:
                tx.lock_writers()
            done.set()

        threading.Thread(target=idle).start()
        assert done.wait(10)  # without waiting for the holder
        assert store.generation() == generation
    finally:
        release.set()
        thread.join(60)
    with store.read() as r:
        assert r.get_user(account, "holder").name == "holder"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_flush_that_fails_after_the_commit_is_raised_and_the_write_published(
    store: Store, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: COMMIT and the durable flush are one query string; an error the server reports
    for the flush comes after the COMMIT, so the write is committed: its changes are published
    (the process's caches drop what it touched) and the error is raised."""
    import iamd.store.store as store_module

    published: list[ChangeSet] = []
    store.subscribe(published.append)
    monkeypatch.setattr(store_module, "_COMMIT_AND_FLUSH", "COMMIT; SELECT 1 / 0")
    monkeypatch.setattr(store_module, "_FLUSH", "SELECT 1 / 0")  # after the feed's notification (commit_after)
    with pytest.raises(Exception, match="division by zero"), store.transaction() as tx:
        tx.create_user(account, "flushed")
    monkeypatch.undo()
    assert [c.name for cs in published for c in cs.changes] == ["flushed"]
    with store.read() as r:
        assert r.get_user(account, "flushed").name == "flushed"
    with store.transaction() as tx:  # the connection went back to the pool usable
        tx.create_user(account, "after")


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL reads take a pooled connection each
def test_a_thread_reads_sqlite_on_the_connection_it_keeps(store: Store, account: str) -> None:
    """SQLite: a thread's read snapshots run on one connection it keeps (no pool checkout per
    snapshot), each a new snapshot that sees what was committed before it began; a read inside
    a read takes a pooled connection; closing the store closes the kept connections."""
    assert store.dialect == "sqlite"
    from sqlalchemy import event

    engine = store.engine  # type: ignore[attr-defined]
    checkouts: list[object] = []
    event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    with store.read() as r:
        r.list_users(account, max_items=10)
    with store.transaction() as tx:
        tx.create_user(account, "between")
    checkouts.clear()
    with store.read() as r:
        assert r.get_user(account, "between").name == "between"  # a new snapshot
        with store.read() as inner:  # the kept connection is in its snapshot: a pooled one
            assert inner.get_user(account, "between").name == "between"
        assert len(checkouts) == 1
    with store.read() as r:
        r.list_users(account, max_items=10)
    assert len(checkouts) == 1  # the outer reads checked nothing out
    seen: list[object] = []

    def other() -> None:
        with store.read() as r:
            seen.append(r.get_user(account, "between").name)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(60)
    assert seen == ["between"] and len(checkouts) == 2  # its own, kept while it ran
    kept = [holder.conn for holder in store._kept]  # type: ignore[attr-defined]
    assert len(kept) == 1 and not kept[0].closed  # the other thread's went back to the pool when it ended
    store.close()
    assert kept[0].closed


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL reads take a pooled connection each
def test_a_kept_sqlite_snapshot_begins_on_the_driver_and_ends_clean(store: Store, account: str) -> None:
    """SQLite: a snapshot on the kept connection is a BEGIN and a COMMIT on the driver (no
    SQLAlchemy transaction or begin event); statements through SQLAlchemy and through the driver
    inside it read one snapshot, and it leaves the connection in no transaction of either."""
    assert store.dialect == "sqlite"
    from sqlalchemy import event

    engine = store.engine  # type: ignore[attr-defined]
    with store.read() as r:  # the thread's kept connection, opened
        r.list_users(account, max_items=10)
    begins: list[object] = []
    event.listen(engine, "begin", begins.append)
    with store.read() as r:
        assert [u.name for u in r.list_users(account, max_items=10).items] == []  # through SQLAlchemy
        with store.transaction() as tx:  # committed while the snapshot is open
            tx.create_user(account, "meanwhile")
        assert [u.name for u in r.list_users(account, max_items=10).items] == []  # the same snapshot
        with pytest.raises(NotFound):
            r.get_user(account, "meanwhile")
    kept = store._local.reader.conn  # type: ignore[attr-defined]
    assert not kept.in_transaction() and not kept.connection.driver_connection.in_transaction
    with store.read() as r:  # a new snapshot sees the write
        assert r.get_user(account, "meanwhile").name == "meanwhile"
    with pytest.raises(NotFound), store.read() as r:  # an error inside ends the snapshot too
        r.get_user(account, "nobody")
    assert not kept.in_transaction() and not kept.connection.driver_connection.in_transaction
    before = len(begins)
    with store.read() as r:  # nothing through SQLAlchemy: no SQLAlchemy transaction at all
        assert kept.connection.driver_connection.in_transaction
    assert len(begins) == before and not kept.connection.driver_connection.in_transaction


def _audited_write(
    store: Store, name: str, *, last: bool, when: int = 0, user: str | None = None, record: str = "{}"
) -> int:
    """A CreateUser with its audit event (the event last, sent with the commit, or not): the
    round trips it took on libpq."""
    from datetime import UTC, datetime

    from iamd.store import AuditEvent
    from iamd.store.driver import round_trips

    event = AuditEvent(
        event_id=f"ev-{name}", account_id="111122223333", event_time=datetime.fromtimestamp(when or 1e9, UTC),
        event_source="iam.amazonaws.com", event_name="CreateUser", read_only=False, record=record, user_name=user,
    )  # fmt: skip
    before = round_trips()
    with store.transaction() as tx:
        tx.create_user("111122223333", name)
        if last:
            tx.add_audit_event_last(event)
        else:
            tx.add_audit_event(event)
    return round_trips() - before


def test_a_writes_last_audit_event_goes_with_its_commit(pg_databases: PgDatabases) -> None:
    """PostgreSQL: the write's own audit event (``add_audit_event_last``) is sent with the
    ``COMMIT`` and the durable flush, in their round trip (libpq's pipeline mode), once its
    statement is prepared on the connection; committed and stored like the other way."""
    store = _store_with_prepared_writes(pg_databases, "iamd_audit_last")
    try:
        _audited_write(store, "warm-1", last=False)
        _audited_write(store, "warm-2", last=True)  # the flush's statement prepared
        _audited_write(store, "warm-3", last=True)
        plain = _audited_write(store, "plain", last=False)
        last = _audited_write(store, "last", last=True)
        assert last == plain - 1, (plain, last)
        with store.read() as r:
            assert r.get_user("111122223333", "last").name == "last"
            assert {"ev-plain", "ev-last"} <= {e.event_id for e in r.list_audit_events("111122223333").items}
    finally:
        store.close()


def test_a_last_audit_events_new_strings_go_with_its_commit(pg_databases: PgDatabases) -> None:
    """PostgreSQL: the strings of a write's last audit event that are not interned yet are
    interned in the same round trip as the event, the ``COMMIT`` and the flush (the insert
    takes their ids by digest); they are remembered once committed, and stored right."""
    store = _store_with_prepared_writes(pg_databases, "iamd_audit_last_strings")
    try:
        for n, last in enumerate((True, False, True)):  # every statement prepared, for each way
            _audited_write(store, f"warm-{n}", last=last, user=f"warm-{n}")
        plain = _audited_write(store, "plain", last=False, user="plain")  # the lock, create, strings, event, COMMIT
        last = _audited_write(store, "last", last=True, user="last")
        assert last == plain - 2, (plain, last)
        assert "last" in cast(Any, store)._ctx.strings.known
        with store.read() as r:
            stored = {e.event_id: e.user_name for e in r.list_audit_events("111122223333").items}
        assert stored["ev-last"] == "last" and stored["ev-warm-0"] == "warm-0" and stored["ev-plain"] == "plain"
    finally:
        store.close()


def test_a_last_audit_events_insert_by_digest_is_not_planned_at_every_write(pg_databases: PgDatabases) -> None:
    """PostgreSQL: the insert that takes new strings' ids by digest gets PostgreSQL's generic plan
    after its five first custom ones (with its parameters in VALUES it was planned at every write)."""
    store = _store_with_prepared_writes(pg_databases, "iamd_audit_generic")
    try:
        for n in range(20):
            _audited_write(store, f"user-{n}", last=True, user=f"user-{n}")
        with _pooled(store) as conn:
            driver = cast(Any, conn.connection.driver_connection)
            plans = driver.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE 'INSERT INTO audit_events%%audit_strings%%'"
            ).fetchall()
            driver.commit()
        assert plans and all(custom <= 5 for _, custom in plans) and sum(g for g, _ in plans) >= 14, plans
        with store.read() as r:
            stored = {e.event_id: e.user_name for e in r.list_audit_events("111122223333").items}
        assert stored["ev-user-19"] == "user-19" and stored["ev-user-0"] == "user-0"
    finally:
        store.close()


def test_a_last_audit_event_that_fails_leaves_nothing_committed(pg_databases: PgDatabases) -> None:
    """PostgreSQL: an audit event that fails on the server, sent with the ``COMMIT``: the
    ``COMMIT`` and the flush are skipped, the write is not committed (its user is not there)
    and the error is raised; the connection keeps what it prepared and writes again."""
    store = _store_with_prepared_writes(pg_databases, "iamd_audit_last_fails")
    try:
        _audited_write(store, "warm-1", last=True)  # its strings interned (by digest)
        _audited_write(store, "warm-2", last=False)  # every statement prepared
        sent = _audited_write(store, "warm-3", last=True)
        assert sent == _audited_write(store, "warm-4", last=False) - 1  # sent with the commit
        with cast(Any, store).engine.connect() as conn:  # a trigger refusing one event time
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.event_time = 12345 THEN RAISE EXCEPTION 'refused event'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
            conn.commit()
        before = _prepared_names(store)
        published: list[ChangeSet] = []
        store.subscribe(published.append)
        with pytest.raises(Exception, match="refused event"):
            _audited_write(store, "lost", last=True, when=12345)
        assert published == []
        assert _prepared_names(store) >= before
        assert _audited_write(store, "after", last=True) == sent  # pipelined again
        _assert_stored_not(store, "after", "lost")
    finally:
        store.close()


def test_a_writes_lock_goes_with_its_first_statement(pg_databases: PgDatabases) -> None:
    """PostgreSQL: a write begun without the writers' lock (``lock_later``, as the server's calls)
    sends ``BEGIN``, the lock and its first statement in one round trip (libpq's pipeline mode),
    once they are prepared on the connection; the lock's bump is the write's generation, and a
    write that fails there (a name taken) is rolled back, as before."""
    from iamd.store.driver import round_trips

    store = _store_with_prepared_writes(pg_databases, "iamd_lock_with")
    try:

        def create(name: str) -> int:
            before = round_trips()
            with store.transaction(lock_later=True) as tx:
                tx.lock_writers()
                tx.create_user("111122223333", name, quota=5000)  # checks and insert in one statement
            return round_trips() - before

        create("warm")  # the lock's statement prepared on the connection
        generation = store.generation()
        # BEGIN + the lock + the create + COMMIT + the flush (was 3, then 2): Ops._defer_first
        assert create("piped") == 1
        assert store.generation() == generation + 1
        with pytest.raises(AlreadyExists):
            create("piped")
        assert create("again") == 1
        assert store.generation() == generation + 2
        with store.read() as r:
            assert {u.name for u in r.list_users("111122223333").items} >= {"piped", "again"}
    finally:
        store.close()


def test_delete_users_statement_leaves_its_blockers_to_the_foreign_keys(pg_databases: PgDatabases) -> None:
    """PostgreSQL: DeleteUser's statement looks the user up and deletes it, and reads none of its
    blockers' tables: the restricting foreign keys to users check them at the delete anyway (was
    twice: the statement's nine probes, then the keys'); a blocker is the key's violation."""
    from sqlalchemy import text

    from iamd.store.users import _DELETE_USER_PG_REFUSING

    url = pg_databases.create("iamd_delete_plan")
    upgrade(url)
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            plan = conn.execute(
                text(f"EXPLAIN (FORMAT JSON) {_DELETE_USER_PG_REFUSING}"), {"account": "a", "key": "k", "named": ""}
            ).scalar()
    finally:
        store.close()

    def relations(node: Any) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(relations, node))
        if not isinstance(node, dict):
            return set()
        found = {node["Relation Name"]} if "Relation Name" in node else set()
        return found.union(*map(relations, node.values()))

    assert relations(plan) == {"users"}


def test_a_write_sent_whole_with_its_commit_and_its_refusals(pg_databases: PgDatabases) -> None:
    """PostgreSQL: a CreateUser or DeleteUser begun without the writers' lock (the server's) is
    sent whole: ``BEGIN``, the lock, its statement, its audit event, ``COMMIT`` and the flush in
    one round trip (Ops._defer_first). A check that fails there (``iamd_refuse``) raises the
    store's error the old way raised, and leaves nothing: no user written or deleted, no audit
    event, the generation as it was, no change set published, the connection's statements kept."""
    from datetime import UTC, datetime

    from iamd.store import AuditEvent, Conflict, ConflictReason, LimitExceeded
    from iamd.store.driver import round_trips

    account = "111122223333"
    store = _store_with_prepared_writes(pg_databases, "iamd_whole")
    published: list[ChangeSet] = []
    store.subscribe(published.append)

    def write(body: Callable[[Tx], object], event_id: str) -> int:
        event = AuditEvent(
            event_id=event_id, account_id=account, event_time=datetime.fromtimestamp(1e9, UTC),
            event_source="iam.amazonaws.com", event_name="CreateUser", read_only=False, record="{}",
        )  # fmt: skip
        before = round_trips()
        with store.transaction(lock_later=True) as tx:
            tx.lock_writers()
            body(tx)
            tx.add_audit_event_last(event)
        return round_trips() - before

    try:
        for n in range(2):  # every statement prepared on the connection
            write(lambda tx, n=n: tx.create_user(account, f"warm{n}", quota=5000), f"warm-create-{n}")
            write(lambda tx, n=n: tx.delete_user(account, f"warm{n}"), f"warm-delete-{n}")
        generation = store.generation()
        assert write(lambda tx: tx.create_user(account, "whole", quota=5000), "created") == 1
        assert store.generation() == generation + 1 and published[-1].generation == generation + 1
        with store.transaction() as tx:
            tx.create_access_key(account, "user0", "AKIAWHOLE0000000000", b"sealed")
        generation, count, kept = store.generation(), len(published), _prepared_names(store)
        refusals: list[tuple[Callable[[Tx], object], type[Exception], str]] = [
            (lambda tx: tx.create_user(account, "WHOLE", quota=5000), AlreadyExists, "user 'WHOLE' already exists"),
            (lambda tx: tx.create_user(account, "over", quota=3), LimitExceeded, "UsersPerAccount"),
            (lambda tx: tx.create_user("999999999999", "nowhere", quota=5000), NotFound, "account '999999999999'"),
            (lambda tx: tx.delete_user(account, "nobody"), NotFound, "user 'nobody' not found"),
            (lambda tx: tx.delete_user(account, "user0"), Conflict, "user 'user0'"),
        ]
        for n, (body, error, message) in enumerate(refusals):
            before = round_trips()
            with pytest.raises(error, match=message) as raised:
                write(body, f"refused-{n}")
            assert round_trips() - before == 1, n  # refused in the round trip that would have committed
            if isinstance(raised.value, LimitExceeded):
                assert raised.value.limit == "UsersPerAccount" and raised.value.value == 3
            if isinstance(raised.value, Conflict):
                assert raised.value.reason is ConflictReason.HAS_ACCESS_KEYS
        assert store.generation() == generation and len(published) == count
        assert _prepared_names(store) >= kept
        with store.read() as r:
            names = {u.name for u in r.list_users(account).items}
            events = {e.event_id for e in r.list_audit_events(account).items}
        assert "whole" in names and "user0" in names and "over" not in names
        assert "created" in events and not any(e.startswith("refused-") for e in events)
        write(lambda tx: tx.delete_user(account, "whole"), "deleted")  # the generation's next write
        assert store.generation() == generation + 1 and published[-1].generation == generation + 1
        # Two writes in one transaction: the first held back, run before the second (with the
        # lock), also once the second's own statement is prepared (its lock in its pipeline).
        for n in range(3):
            write(
                lambda tx, n=n: (
                    tx.create_user(account, f"a{n}", quota=5000),
                    tx.create_user(account, f"b{n}", quota=5000),
                ),
                "two",
            )
        with store.read() as r:
            assert {f"{x}{n}" for x in "ab" for n in range(3)} <= {u.name for u in r.list_users(account).items}
    finally:
        store.close()


def test_a_write_sent_whole_parses_no_statement(pg_databases: PgDatabases, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: once its connection is warm, a write sent whole (``BEGIN`` to the flush in one
    pipeline) sends every statement as a prepared one, ``BEGIN`` and ``COMMIT`` too: the server
    parses none of them again (sent unnamed, each was parsed at every write)."""
    from iamd.store import driver

    account = "111122223333"
    store = _store_with_prepared_writes(pg_databases, "iamd_no_parse")
    sent: list[list[Any]] = []
    pipeline = driver._Prepared.pipeline

    def recorded(self: Any, steps: list[Any]) -> list[Any]:
        sent.append(list(steps))
        return pipeline(self, steps)

    monkeypatch.setattr(driver._Prepared, "pipeline", recorded)
    try:
        for n in range(3):
            with store.transaction(lock_later=True) as tx:
                tx.lock_writers()
                tx.create_user(account, f"parsed{n}", quota=5000)
            with store.transaction(lock_later=True) as tx:
                tx.lock_writers()
                tx.delete_user(account, f"parsed{n}")
        assert len(sent) >= 4 and len(sent[-1]) >= 5, sent  # BEGIN, the lock, the statement, COMMIT, the flush
        unnamed = [step for steps in sent[-4:] for step in steps if isinstance(step, bytes)]
        assert unnamed == [], unnamed
        with _pooled(store) as conn:
            found = cast(Any, conn.connection.driver_connection).execute(
                "SELECT statement FROM pg_prepared_statements WHERE statement IN ('BEGIN', 'COMMIT')"
            )
            assert sorted(row[0] for row in found.fetchall()) == ["BEGIN", "COMMIT"]
            conn.connection.driver_connection.commit()
    finally:
        store.close()


def test_a_delete_user_assumed_as_named_is_checked_by_its_statement(pg_databases: PgDatabases) -> None:
    """PostgreSQL: a write begun with ``assume`` may take its user as stored at ``/`` and spelled as
    asked, unread (``Tx.assume_user``, DeleteUser's authorization); its delete checks that in its
    statement, under the lock, sent whole with its commit (one round trip), and a user stored
    otherwise (another path, another spelling) is refused with NotAsAssumed: nothing deleted, the
    generation as it was. Without ``assume``, after the lock, or on a read, nothing is assumed."""
    from iamd.store import NotAsAssumed
    from iamd.store.driver import round_trips

    account = "111122223333"
    store = _store_with_prepared_writes(pg_databases, "iamd_assumed")

    def delete(name: str, *, assume: bool = True) -> tuple[bool, int]:
        before = round_trips()
        with store.transaction(lock_later=True, assume=assume) as tx:
            assumed = tx.assume_user(account, name)
            assert tx.assumed is assumed
            tx.lock_writers()
            assert not tx.assume_user(account, "other")  # not after the lock
            tx.delete_user(account, name)
        return assumed, round_trips() - before

    try:
        with store.transaction() as tx:
            tx.create_user(account, "Moved", path="/ops/")
            tx.create_user(account, "Spelled")
            for n in range(3):
                tx.create_user(account, f"warm{n}")
        for n in range(2):  # the delete's statements prepared on the kept connection
            delete(f"warm{n}")
        assert delete("warm2") == (True, 1)
        generation = store.generation()
        for name in ("Moved", "moved", "spelled"):
            with pytest.raises(NotAsAssumed):
                delete(name)
        assert store.generation() == generation
        with store.read() as r:
            assert {"Moved", "Spelled"} <= {u.name for u in r.list_users(account).items}
            assert not r.assume_user(account, "Spelled")  # a snapshot assumes nothing
        assert delete("Moved", assume=False) == (False, 1)
        assert delete("Spelled") == (True, 1)
        with pytest.raises(NotFound):
            delete("nobody")
    finally:
        store.close()


def test_a_pipeline_larger_than_the_sockets_buffer_is_sent_whole(pg_databases: PgDatabases) -> None:
    """PostgreSQL: psycopg's connections are nonblocking, so libpq's flush of a pipeline may
    leave part of it unsent when the socket's buffer is full; the rest must be sent before the
    results are waited for (else the server waits for the rest of the message and the writer
    for its answer, holding the writers' lock: every write would stall). Here a write's last
    audit event of ~1 MiB goes with the ``COMMIT`` through a send buffer of a few KiB."""
    import os
    import socket

    store = _store_with_prepared_writes(pg_databases, "iamd_audit_last_large")
    try:
        for n in range(3):  # the event's and the flush's statements prepared on the kept connection
            _audited_write(store, f"warm-{n}", last=True)
        small = _audited_write(store, "small", last=True)
        kept = cast(Any, store)._local.writer.conn.connection.driver_connection.pgconn
        sock = socket.socket(fileno=os.dup(kept.socket))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        watchdog = threading.Timer(30, lambda: sock.shutdown(socket.SHUT_RDWR))  # a hang fails, not stalls
        watchdog.start()
        try:
            trips = _audited_write(store, "large", last=True, record='{"big": "' + "x" * (1 << 20) + '"}')
        finally:
            watchdog.cancel()
            sock.close()
        assert trips == small  # the event still with the COMMIT and the flush
        with store.read() as r:
            assert r.get_user("111122223333", "large").name == "large"
            assert "ev-large" in {e.event_id for e in r.list_audit_events("111122223333").items}
    finally:
        store.close()
