"""Access keys."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from iamd.store import AlreadyExists, KeyStatus, NotFound, Store, Tag, TagTarget
from iamd.store.store import SqlStore
from tests.store.helpers import OTHER_ACCOUNT, START

SECRET = bytes(range(256))  # sealed bytes, opaque to the store


def test_user_and_root_keys(store: Store, account: str) -> None:
    with store.transaction() as tx:
        bob = tx.create_user(account, "bob", path="/p/")
        key = tx.create_access_key(account, "BOB", "AKIAEXAMPLEBOB000001", SECRET)
        root = tx.create_access_key(account, None, "AKIAEXAMPLEROOT00001", b"root", status=KeyStatus.INACTIVE)
    assert (key.user_id, key.user_name, key.status, key.account_id) == (bob.id, "bob", KeyStatus.ACTIVE, account)
    assert key.secret_sealed == SECRET and "secret" not in repr(key).split("status")[1]
    assert (root.user_id, root.user_name, root.status) == (None, None, KeyStatus.INACTIVE)
    with store.read() as r:
        found = r.lookup_access_key("AKIAEXAMPLEBOB000001")
        assert found.key == key and found.user == bob
        root_found = r.lookup_access_key(root.id)
        assert root_found.user is None and root_found.key.secret_sealed == b"root"
        assert r.get_access_key(key.id) == key
        assert r.list_access_keys(account, "bob") == (key,)
        assert r.list_access_keys(account, None) == (root,)
        with pytest.raises(NotFound):
            r.lookup_access_key("AKIANOSUCHKEY0000000")


def test_key_ownership_is_enforced(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        tx.create_user(account, "eve")
        tx.create_user(OTHER_ACCOUNT, "bob")
        key = tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000001", SECRET)
    for acct, user in ((account, "eve"), (account, None), (OTHER_ACCOUNT, "bob")):
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.update_access_key(acct, user, key.id, KeyStatus.INACTIVE)
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.delete_access_key(acct, user, key.id)
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_access_key(account, "eve", key.id, SECRET)
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.create_access_key(account, "nobody", "AKIAEXAMPLEXXX000001", SECRET)
    with store.transaction() as tx:
        assert tx.update_access_key(account, "bob", key.id, KeyStatus.INACTIVE).status is KeyStatus.INACTIVE
        tx.delete_access_key(account, "bob", key.id)
        assert tx.list_access_keys(account, "bob") == ()
        tx.delete_user(account, "bob")


def test_last_use_is_recorded_without_bumping_the_generation(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        key = tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000001", SECRET)
    assert (key.last_used_date, key.last_used_service, key.last_used_region) == (None, None, None)
    before = store.generation()
    store.record_access_key_use(key.id, START, "iam", "us-east-1")
    assert store.generation() == before
    with store.read() as r:
        used = r.get_access_key(key.id)
    assert (used.last_used_date, used.last_used_service, used.last_used_region) == (START, "iam", "us-east-1")


def test_lookup_is_one_indexed_query(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000001", SECRET)
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with store.read() as r:
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            r.lookup_access_key("AKIAEXAMPLEBOB000001")
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
    assert len(statements) == 1, statements
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0], ("AKIAEXAMPLEBOB000001",)).fetchall()
        details = " ".join(str(row[-1]) for row in plan)
        assert "SCAN access_keys" not in details and "SEARCH access_keys" in details, details
        assert "SCAN user_tags" not in details, details


def test_lookup_carries_the_users_tags(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob", tags=[Tag("team", "a"), Tag("Cost", "1"), Tag("b", "")])
        tx.create_user(account, "eve")
        tx.create_user(OTHER_ACCOUNT, "bob", tags=[Tag("elsewhere", "x")])
        bob = tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000001", SECRET)
        tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000002", SECRET)
        tx.create_access_key(account, "eve", "AKIAEXAMPLEEVE000001", SECRET)
        tx.create_access_key(account, None, "AKIAEXAMPLEROOT00001", b"root")
    with store.read() as r:
        found = r.lookup_access_key(bob.id)
        assert found.user_tags == r.list_tags(TagTarget.USER, account, "bob")
        assert found.user_tags == (Tag("b", ""), Tag("Cost", "1"), Tag("team", "a"))  # by key, case-insensitively
        assert found.key == bob and found.user == r.get_user(account, "bob")
        assert r.lookup_access_key("AKIAEXAMPLEBOB000002").user_tags == found.user_tags
        assert r.lookup_access_key("AKIAEXAMPLEEVE000001").user_tags == ()
        root = r.lookup_access_key("AKIAEXAMPLEROOT00001")
        assert root.user is None and root.user_tags == ()
