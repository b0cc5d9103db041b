"""Access keys."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event

from iamd.store import AlreadyExists, ChangeSet, Entity, KeyStatus, NotFound, Store, Tag, TagTarget, Verb
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


def test_the_uses_of_many_keys_are_recorded_in_one_transaction(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        keys = [tx.create_access_key(account, "bob", f"AKIAEXAMPLEBOB00000{i}", SECRET).id for i in range(3)]
        tx.create_access_key(OTHER_ACCOUNT, None, "AKIAEXAMPLEROOT00001", b"root")
    before = store.generation()
    later = START + timedelta(days=1, microseconds=5)
    uses = {keys[0]: (START, "iam", "us-east-1"), keys[2]: (later.astimezone(timezone(timedelta(hours=2))), "sts",
            "eu-west-1"), "AKIAEXAMPLEROOT00001": (START, "s3", "ap-south-1"), "AKIANOSUCHKEY0000000": (START, "iam",
            "us-east-1")}  # fmt: skip
    published: list[ChangeSet] = []
    store.subscribe(published.append)
    store.record_access_key_uses(uses)
    store.record_access_key_uses({})
    assert store.generation() == before
    with store.read() as r:
        got = {k: r.get_access_key(k) for k in (*keys, "AKIAEXAMPLEROOT00001")}
    assert [(g.last_used_date, g.last_used_service, g.last_used_region) for g in got.values()] == [
        (START, "iam", "us-east-1"),
        (None, None, None),
        (later, "sts", "eu-west-1"),
        (START, "s3", "ap-south-1"),
    ]
    assert got[keys[2]].last_used_date is not None and got[keys[2]].last_used_date.tzinfo == UTC
    assert len(published) == 1
    assert sorted((c.entity, c.account, c.name, c.verb) for c in published[0].changes) == sorted([
        (Entity.ACCESS_KEY, account, keys[0], Verb.USED), (Entity.ACCESS_KEY, account, keys[2], Verb.USED),
        (Entity.ACCESS_KEY, OTHER_ACCOUNT, "AKIAEXAMPLEROOT00001", Verb.USED)])  # fmt: skip


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


def test_a_writer_writes_a_key_s_use_at_most_once_a_minute(store: Store, account: str) -> None:
    """The audit writer's ``KeyUses``: a key's first use is written, a use within a minute of the
    one written with the same service and region is not (each would be one more database update
    per request), one a minute later or of another service or region is; a write that failed
    is not taken as written."""
    from iamd.api.audit_writer import KeyUses, store_batch

    with store.transaction() as tx:
        tx.create_user(account, "bob")
        key = tx.create_access_key(account, "bob", "AKIAEXAMPLEBOB000001", SECRET).id
    written = KeyUses()
    stored: list[tuple[Any, ...]] = []

    def use(when: Any, service: str = "iam", region: str = "us-east-1") -> tuple[Any, ...]:
        store_batch(store, [], {key: (when, service, region)}, written=written)
        with store.read() as r:
            k = r.get_access_key(key)
        stored.append((k.last_used_date, k.last_used_service, k.last_used_region))
        return stored[-1]

    assert use(START) == (START, "iam", "us-east-1")
    assert use(START + timedelta(seconds=59)) == (START, "iam", "us-east-1")  # within the minute: not written
    assert use(START + timedelta(seconds=59), "sts") == (START + timedelta(seconds=59), "sts", "us-east-1")
    assert use(START + timedelta(seconds=70), "sts", "eu-west-1")[2] == "eu-west-1"
    assert use(START + timedelta(seconds=200), "sts", "eu-west-1")[0] == START + timedelta(seconds=200)
    assert use(START, "sts", "eu-west-1")[0] == START  # earlier than the one written (a clock set back)
    store_batch(store, [], {key: (START + timedelta(seconds=1), "iam", "us-east-1")})  # no record: always written
    with store.read() as r:
        assert r.get_access_key(key).last_used_date == START + timedelta(seconds=1)
    bounded = KeyUses(limit=2)
    bounded.wrote({"A": (START, "iam", "r"), "B": (START, "iam", "r")})
    bounded.wrote({"C": (START, "iam", "r")})  # past the limit: emptied first, so "A" is due again
    assert set(bounded.due({"A": (START, "iam", "r"), "C": (START, "iam", "r")})) == {"A"}
