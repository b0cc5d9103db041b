"""Users: CRUD, case-insensitive names, renames, refusals."""

from __future__ import annotations

import pytest

from iamd.store import (
    AlreadyExists,
    Conflict,
    ConflictReason,
    EntityKind,
    NotFound,
    Store,
    Tag,
    TagTarget,
)
from tests.store.helpers import DOC, OTHER_ACCOUNT, START


def test_create_and_get_user(store: Store, account: str) -> None:
    with store.transaction() as tx:
        created = tx.create_user(account, "Bob", path="/division/")
    assert created.name == "Bob"
    assert created.path == "/division/"
    assert created.arn == f"arn:aws:iam::{account}:user/division/Bob"
    assert created.id.startswith("AIDA") and len(created.id) == 21
    assert created.create_date >= START and created.create_date.tzinfo is not None
    assert created.permissions_boundary is None
    with store.read() as r:
        assert r.get_user(account, "Bob") == created
        assert r.get_user(account, "bOB") == created
        assert r.get_user_by_id(created.id) == created
        assert r.count_users(account) == 1


def test_names_are_unique_case_insensitively_per_account(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "Admin")
    with pytest.raises(AlreadyExists) as info, store.transaction() as tx:
        tx.create_user(account, "ADMIN")
    assert info.value.entity == "user" and info.value.name == "ADMIN"
    with store.transaction() as tx:
        other = tx.create_user(OTHER_ACCOUNT, "admin")
    with store.read() as r:
        assert r.get_user(account, "admin").name == "Admin"
        assert r.get_user(OTHER_ACCOUNT, "ADMIN") == other


def test_missing_users(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
    with store.read() as r:
        with pytest.raises(NotFound):
            r.get_user(account, "alice")
        with pytest.raises(NotFound):
            r.get_user(OTHER_ACCOUNT, "bob")
        with pytest.raises(NotFound):
            r.get_user_by_id("AIDANOSUCHUSER0000000")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.delete_user(account, "alice")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.update_user(account, "alice", new_name="carol")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.create_user("999999999999", "bob")


def test_rename_and_move_keep_identity_and_relations(store: Store, account: str) -> None:
    with store.transaction() as tx:
        bob = tx.create_user(account, "bob", tags=[Tag("team", "red")])
        tx.create_group(account, "devs")
        tx.add_user_to_group(account, "devs", "bob")
        tx.create_access_key(account, "bob", "AKIAEXAMPLE000000001", b"sealed")
        tx.put_inline_policy(EntityKind.USER, account, "bob", "inline", DOC)
    with store.transaction() as tx:
        renamed = tx.update_user(account, "BOB", new_name="Robert", new_path="/eng/")
    assert renamed.id == bob.id
    assert renamed.arn == f"arn:aws:iam::{account}:user/eng/Robert"
    with store.read() as r:
        with pytest.raises(NotFound):
            r.get_user(account, "bob")
        assert [u.name for u in r.list_group_members(account, "devs").items] == ["Robert"]
        assert r.list_access_keys(account, "robert")[0].user_name == "Robert"
        assert r.get_inline_policy(EntityKind.USER, account, "robert", "inline").entity_name == "Robert"
        assert r.list_tags(TagTarget.USER, account, "robert") == (Tag("team", "red"),)
    with store.transaction() as tx:
        assert tx.update_user(account, "robert", new_name="ROBERT").name == "ROBERT"
        assert tx.update_user(account, "robert").name == "ROBERT"


def test_rename_to_a_taken_name_is_refused(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "alice")
        tx.create_user(account, "bob")
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.update_user(account, "bob", new_name="Alice")
    with store.read() as r:
        assert r.get_user(account, "bob").name == "bob"


def test_delete_user_and_recreate_gets_a_new_id_and_no_old_tags(store: Store, account: str) -> None:
    with store.transaction() as tx:
        first = tx.create_user(account, "bob", tags=[Tag("k", "v")])
    with store.transaction() as tx:
        tx.delete_user(account, "BOB")
    with store.read() as r, pytest.raises(NotFound):
        r.get_user(account, "bob")
    with store.transaction() as tx:
        second = tx.create_user(account, "bob")
        assert second.id != first.id
        assert tx.list_tags(TagTarget.USER, account, "bob") == ()


@pytest.mark.parametrize(
    "reason",
    [
        ConflictReason.HAS_ACCESS_KEYS,
        ConflictReason.HAS_INLINE_POLICIES,
        ConflictReason.HAS_ATTACHED_POLICIES,
        ConflictReason.HAS_GROUP_MEMBERSHIPS,
    ],
)
def test_delete_user_is_refused_while_it_has_dependents(store: Store, account: str, reason: ConflictReason) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        if reason is ConflictReason.HAS_ACCESS_KEYS:
            tx.create_access_key(account, "bob", "AKIAEXAMPLE000000001", b"sealed")
        elif reason is ConflictReason.HAS_INLINE_POLICIES:
            tx.put_inline_policy(EntityKind.USER, account, "bob", "p", DOC)
        elif reason is ConflictReason.HAS_ATTACHED_POLICIES:
            policy = tx.create_policy(account, "p", DOC)
            tx.attach_policy(EntityKind.USER, account, "bob", policy.arn)
        else:
            tx.create_group(account, "g")
            tx.add_user_to_group(account, "g", "bob")
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_user(account, "bob")
    assert info.value.reason is reason
    with store.read() as r:
        assert r.get_user(account, "bob").name == "bob"


def test_delete_user_names_the_first_of_several_blockers_in_its_order(store: Store, account: str) -> None:
    """On PostgreSQL DeleteUser's blockers are the restricting foreign keys to users, which
    PostgreSQL checks in an order of its own (group memberships before inline policies, from
    migration 0017): the conflict named is still the first in DeleteUser's order, read after the
    rollback, in the server's writes (the lock taken later, sent whole) and the others alike."""
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        tx.create_group(account, "g")
        tx.add_user_to_group(account, "g", "bob")
        tx.put_inline_policy(EntityKind.USER, account, "bob", "p", DOC)

    def refused() -> list[ConflictReason]:
        reasons = []
        for later in (False, True, True):  # the server's way twice: its statements prepared by then
            with pytest.raises(Conflict) as info, store.transaction(lock_later=later) as tx:
                tx.lock_writers()
                tx.delete_user(account, "bob")
            reasons.append(info.value.reason)
        return reasons

    assert refused() == [ConflictReason.HAS_INLINE_POLICIES] * 3
    with store.transaction() as tx:
        tx.delete_inline_policy(EntityKind.USER, account, "bob", "p")
    assert refused() == [ConflictReason.HAS_GROUP_MEMBERSHIPS] * 3
    with store.read() as r:
        assert r.get_user(account, "bob").name == "bob"


def test_permissions_boundary_does_not_block_delete(store: Store, account: str) -> None:
    with store.transaction() as tx:
        policy = tx.create_policy(account, "boundary", DOC)
        user = tx.create_user(account, "bob", permissions_boundary=policy.arn)
        assert user.permissions_boundary == policy.arn
        assert tx.get_policy(policy.arn).permissions_boundary_usage_count == 1
    with store.transaction() as tx:
        tx.delete_user(account, "bob")
        assert tx.get_policy(policy.arn).permissions_boundary_usage_count == 0


def test_boundary_must_exist_and_be_attachable(store: Store, account: str) -> None:
    with store.transaction() as tx:
        foreign = tx.create_policy(OTHER_ACCOUNT, "theirs", DOC)
    for arn in (f"arn:aws:iam::{account}:policy/missing", foreign.arn, "not-an-arn"):
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.create_user(account, "bob", permissions_boundary=arn)
    with store.read() as r:
        assert r.count_users(account) == 0


def test_password_use_is_recorded(store: Store, account: str) -> None:
    with store.transaction() as tx:
        bob = tx.create_user(account, "bob")
    store.record_password_use(bob.id, START)
    with store.read() as r:
        assert r.get_user(account, "bob").password_last_used == START
