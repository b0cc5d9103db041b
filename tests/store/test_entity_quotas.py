"""An account's own entity quotas and the bounded counts that check them (docs/iam-api.md, "Quotas")."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

import pytest

from iamd.store import AlreadyExists, LimitExceeded, NotFound, Store, Tag, TagTarget

from .helpers import DOC, OTHER_ACCOUNT


def test_quotas_are_per_account_and_counts_stop_at_the_bound(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.bulk_create_users(account, [f"u{i}" for i in range(30)])
        tx.set_entity_quota(account, "Users", 2_000_000)
        tx.set_entity_quota(account, "Roles", 5)
        tx.set_entity_quota(account, "Roles", 7)  # set again: the last value
    with store.read() as tx:
        assert tx.get_entity_quotas(account) == {"Users": 2_000_000, "Roles": 7}
        assert tx.get_entity_quotas(OTHER_ACCOUNT) == {}
        assert tx.count_users(account) == 30
        assert [tx.count_users(account, at_most=n) for n in (1, 29, 30, 31, 5000)] == [1, 29, 30, 30, 30]
        assert tx.count_users(OTHER_ACCOUNT, at_most=10) == 0
        assert tx.count_roles(account, at_most=3) == tx.count_groups(account, at_most=3) == 0
        assert tx.count_policies(account, at_most=3) == 0
    with store.transaction() as tx:
        tx.set_entity_quota(account, "Users", None)
    with store.read() as tx:
        assert tx.get_entity_quotas(account) == {"Roles": 7}
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.set_entity_quota("999999999999", "Users", 1)


def test_create_user_checks_the_name_then_the_account_s_users_quota(store: Store, account: str) -> None:
    """create_user(quota=...): AlreadyExists for a taken name even at the quota, then LimitExceeded
    at the account's Users quota (the one set for it, else the default given), in the write's
    transaction; a refused create writes nothing (no user, no history row, no generation)."""
    with store.transaction() as tx:
        tx.bulk_create_users(account, ["u0", "u1"])
    with store.transaction() as tx:
        created = tx.create_user(account, "u2", quota=3)
    with store.read() as tx:
        assert tx.get_user(account, "U2").id == created.id
        history = tx.policy_history("user", created.id, created.create_date + timedelta(days=1))
        assert [(h.event, h.subject, h.document) for h in history] == [("create", None, None)]
    generation = store.generation()
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_user(account, "U1", quota=3)
    with pytest.raises(LimitExceeded) as raised, store.transaction() as tx:
        tx.create_user(account, "u3", quota=3)
    assert (raised.value.limit, raised.value.value) == ("UsersPerAccount", 3)
    with store.transaction() as tx:
        tx.set_entity_quota(account, "Users", 4)  # the account's own quota replaces the default
    generation = store.generation()
    with store.transaction() as tx:
        tx.create_user(account, "u3", quota=3, tags=[Tag("team", "a")])
    with pytest.raises(LimitExceeded) as raised, store.transaction() as tx:
        tx.create_user(account, "u4", quota=3)
    assert (raised.value.limit, raised.value.value) == ("UsersPerAccount", 4)
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.create_user("999999999999", "u9", quota=3)
    assert store.generation() == generation + 1
    with store.read() as tx:
        assert tx.count_users(account) == 4
        assert tx.count_users(OTHER_ACCOUNT) == 0
        assert tx.list_tags(TagTarget.USER, account, "u3") == (Tag("team", "a"),)


def test_concurrent_creates_at_the_quota_create_exactly_one(store: Store, account: str) -> None:
    """The quota holds under concurrency: eight writers at one below the quota, one user created."""
    with store.transaction() as tx:
        tx.bulk_create_users(account, [f"u{i}" for i in range(9)])
    start = threading.Barrier(8)

    def create(n: int) -> str:
        start.wait(timeout=30)
        try:
            with store.transaction() as tx:
                tx.create_user(account, f"racer{n}", quota=10)
            return "created"
        except LimitExceeded:
            return "LimitExceeded"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(create, range(8)))
    assert outcomes == ["LimitExceeded"] * 7 + ["created"]
    with store.read() as tx:
        assert tx.count_users(account) == 10


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_user_s_create_and_delete_are_one_statement_each_under_the_lock(store: Store, account: str) -> None:
    """PostgreSQL: CreateUser's checks, insert and history are one statement after the writers'
    lock, and so are DeleteUser's lookup, blockers and delete (were 6 and 4 with the lock)."""
    from sqlalchemy import event

    from iamd.store.feed import NOTIFY
    from iamd.store.store import SqlStore

    engine = cast(SqlStore, store).engine
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement != NOTIFY:  # the change feed's, sent with the COMMIT (iamd/store/feed.py)
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with store.transaction(lock_later=True) as tx:
            tx.lock_writers()
            tx.create_user(account, "counted", quota=5000)
        created = list(seen)
        seen.clear()
        with store.transaction(lock_later=True) as tx:
            tx.lock_writers()
            tx.delete_user(account, "COUNTED")
        deleted = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The lock begins the transaction (lock_later: BEGIN in the lock's query string).
    assert len(created) == 2 and created[0].startswith("BEGIN; UPDATE iamd_meta"), created
    assert len(deleted) == 2 and deleted[0].startswith("BEGIN; UPDATE iamd_meta"), deleted
    with store.read() as tx:
        assert tx.count_users(account) == 0


def test_create_user_with_a_boundary_checks_the_quota_too(store: Store, account: str) -> None:
    """A boundary takes create_user's other way on PostgreSQL (the checks' SELECT, the boundary's
    lookup, then the insert): the same checks, in the same order, and the boundary recorded."""
    with store.transaction() as tx:
        boundary = tx.create_policy(account, "edge", DOC)
        tx.bulk_create_users(account, ["u0"])
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_user(account, "U0", permissions_boundary=boundary.arn, quota=1)
    with pytest.raises(LimitExceeded), store.transaction() as tx:
        tx.create_user(account, "u1", permissions_boundary=boundary.arn, quota=1)
    with store.transaction() as tx:
        user = tx.create_user(account, "u1", permissions_boundary=boundary.arn, quota=2)
    assert user.permissions_boundary == boundary.arn
    with store.read() as tx:
        assert tx.get_user(account, "u1").permissions_boundary == boundary.arn
        assert tx.count_users(account) == 2


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_write_begun_by_its_lock_is_one_transaction_from_the_lock_and_leaves_its_connection_as_found(
    store: Store, account: str
) -> None:
    """PostgreSQL, ``lock_later``: the reads before the writers' lock run outside a transaction
    (psycopg's autocommit, no BEGIN of their own); the lock's statement begins it, so that what
    follows commits or rolls back as one. The thread's kept connection stays in autocommit for
    its next such write (psycopg's switch costs CPU: bench/README.md, "Session 17: iamd's CPU per
    write, fewer calls"); a write not begun by its lock switches it back, and it goes back to the
    pool out of autocommit (tests/store/test_transactions.py)."""
    with store.transaction(lock_later=True) as tx:
        driver: Any = tx._conn.connection.driver_connection  # type: ignore[attr-defined]
        tx.count_users(account)  # a read before the lock
        assert driver.info.transaction_status == 0  # idle: the read was its own transaction
        tx.lock_writers()
        tx.create_user(account, "kept", quota=5000)  # held back, to go with the commit (Ops._defer_first)
        assert driver.info.transaction_status == 0
        assert tx.count_users(account) == 1  # run after the lock and the create it held back
        assert driver.info.transaction_status == 2  # in the transaction the lock began
    assert driver.autocommit is True and driver.info.transaction_status == 0  # committed, kept so
    with pytest.raises(RuntimeError), store.transaction(lock_later=True) as tx:
        driver = tx._conn.connection.driver_connection  # type: ignore[attr-defined]
        tx.count_users(account)
        tx.lock_writers()
        tx.create_user(account, "undone", quota=5000)
        tx.create_user(account, "undone-too", quota=5000)
        raise RuntimeError("the request failed after its writes")
    assert driver.autocommit is True and driver.info.transaction_status == 0  # rolled back, kept so
    with store.transaction() as tx:  # not begun by its lock: out of autocommit, one transaction
        assert tx._conn.connection.driver_connection is driver  # type: ignore[attr-defined]
        assert driver.autocommit is False
    with store.read() as tx:
        assert [u.name for u in tx.list_users(account).items] == ["kept"]
