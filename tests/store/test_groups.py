"""Groups and membership."""

from __future__ import annotations

import pytest

from iamd.store import AlreadyExists, Conflict, ConflictReason, EntityKind, NotFound, Store
from tests.store.helpers import DOC, all_pages


def test_group_crud(store: Store, account: str) -> None:
    with store.transaction() as tx:
        group = tx.create_group(account, "Admins", path="/ops/")
    assert group.id.startswith("AGPA")
    assert group.arn == f"arn:aws:iam::{account}:group/ops/Admins"
    with store.read() as r:
        assert r.get_group(account, "admins") == group
        assert r.count_groups(account) == 1
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_group(account, "ADMINS")
    with store.transaction() as tx:
        moved = tx.update_group(account, "admins", new_name="Operators", new_path="/")
    assert moved.id == group.id and moved.arn == f"arn:aws:iam::{account}:group/Operators"
    with store.transaction() as tx:
        tx.create_group(account, "other")
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.update_group(account, "other", new_name="operators")
    with store.transaction() as tx:
        tx.delete_group(account, "operators")
    with store.read() as r:
        with pytest.raises(NotFound):
            r.get_group(account, "operators")
        assert r.count_groups(account) == 1


def test_membership(store: Store, account: str) -> None:
    with store.transaction() as tx:
        for name in ("carol", "Alice", "bob"):
            tx.create_user(account, name)
        for name in ("g1", "G2"):
            tx.create_group(account, name)
        assert tx.add_user_to_group(account, "g1", "alice") is True
        assert tx.add_user_to_group(account, "G1", "ALICE") is False  # idempotent
        tx.add_user_to_group(account, "g1", "bob")
        tx.add_user_to_group(account, "g1", "carol")
        tx.add_user_to_group(account, "g2", "alice")
    with store.read() as r:
        members, pages = all_pages(lambda m: r.list_group_members(account, "g1", marker=m, max_items=2))
        assert [u.name for u in members] == ["Alice", "bob", "carol"] and pages == 2
        groups, _ = all_pages(lambda m: r.list_groups_for_user(account, "alice", marker=m, max_items=1))
        assert [g.name for g in groups] == ["g1", "G2"]
        assert r.list_groups_for_user(account, "bob").items[0].name == "g1"
    with store.transaction() as tx:
        tx.remove_user_from_group(account, "g1", "Bob")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.remove_user_from_group(account, "g1", "bob")
    for group, user in (("nope", "alice"), ("g1", "nope")):
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.add_user_to_group(account, group, user)
    with store.read() as r:
        assert [u.name for u in r.list_group_members(account, "g1").items] == ["Alice", "carol"]


@pytest.mark.parametrize(
    "reason",
    [ConflictReason.HAS_MEMBERS, ConflictReason.HAS_INLINE_POLICIES, ConflictReason.HAS_ATTACHED_POLICIES],
)
def test_delete_group_is_refused_while_it_has_dependents(store: Store, account: str, reason: ConflictReason) -> None:
    with store.transaction() as tx:
        tx.create_group(account, "g")
        if reason is ConflictReason.HAS_MEMBERS:
            tx.create_user(account, "bob")
            tx.add_user_to_group(account, "g", "bob")
        elif reason is ConflictReason.HAS_INLINE_POLICIES:
            tx.put_inline_policy(EntityKind.GROUP, account, "g", "p", DOC)
        else:
            tx.attach_policy(EntityKind.GROUP, account, "g", tx.create_policy(account, "p", DOC).arn)
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_group(account, "g")
    assert info.value.reason is reason


def test_groups_cannot_have_boundaries(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_group(account, "g")
        policy = tx.create_policy(account, "p", DOC)
        with pytest.raises(ValueError):
            tx.put_permissions_boundary(EntityKind.GROUP, account, "g", policy.arn)
