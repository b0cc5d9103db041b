"""Inline policies and tags."""

from __future__ import annotations

import pytest

from iamd.store import EntityKind, NotFound, Store, Tag, TagTarget, Tx
from tests.store.helpers import DOC, TRUST, all_pages


def _make(tx: Tx, account: str, kind: EntityKind, name: str) -> None:
    if kind is EntityKind.USER:
        tx.create_user(account, name)
    elif kind is EntityKind.GROUP:
        tx.create_group(account, name)
    else:
        tx.create_role(account, name, assume_role_policy=TRUST)


@pytest.mark.parametrize("kind", list(EntityKind))
def test_inline_policies(store: Store, account: str, kind: EntityKind) -> None:
    with store.transaction() as tx:
        _make(tx, account, kind, "Owner")
        assert tx.put_inline_policy(kind, account, "owner", "b-policy", DOC) is True
        assert tx.put_inline_policy(kind, account, "owner", "a-policy", "first") is True
        assert tx.put_inline_policy(kind, account, "OWNER", "a-policy", "replaced") is False
        tx.put_inline_policy(kind, account, "owner", "A-policy", "distinct name")  # names compare exactly
    with store.read() as r:
        got = r.get_inline_policy(kind, account, "owner", "a-policy")
        assert (got.kind, got.entity_name, got.name, got.document) == (kind, "Owner", "a-policy", "replaced")
        names, pages = all_pages(lambda m: r.list_inline_policy_names(kind, account, "owner", marker=m, max_items=2))
        assert names == ["A-policy", "a-policy", "b-policy"] and pages == 2
        assert [p.document for p in r.list_inline_policies(kind, account, "owner")] == [
            "distinct name",
            "replaced",
            DOC,
        ]
        with pytest.raises(NotFound):
            r.get_inline_policy(kind, account, "owner", "missing")
        with pytest.raises(NotFound):
            r.get_inline_policy(kind, account, "nobody", "a-policy")
    with store.transaction() as tx:
        tx.delete_inline_policy(kind, account, "owner", "a-policy")
        with pytest.raises(NotFound):
            tx.delete_inline_policy(kind, account, "owner", "a-policy")
        assert [p.name for p in tx.list_inline_policies(kind, account, "owner")] == ["A-policy", "b-policy"]


@pytest.mark.parametrize("target", [TagTarget.USER, TagTarget.ROLE])
def test_user_and_role_tag_keys_are_case_insensitive(store: Store, account: str, target: TagTarget) -> None:
    with store.transaction() as tx:
        if target is TagTarget.USER:
            tx.create_user(account, "x", tags=[Tag("Department", "eng"), Tag("b", "")])
        else:
            tx.create_role(account, "x", assume_role_policy=TRUST, tags=[Tag("Department", "eng"), Tag("b", "")])
        tx.tag_resource(target, account, "X", [Tag("department", "ops"), Tag("c", "3")])
        assert tx.list_tags(target, account, "x") == (Tag("b", ""), Tag("c", "3"), Tag("department", "ops"))
        tx.untag_resource(target, account, "x", ["DEPARTMENT", "unknown"])
        assert tx.list_tags(target, account, "x") == (Tag("b", ""), Tag("c", "3"))
        with pytest.raises(ValueError):
            tx.tag_resource(target, account, "x", [Tag("k", "1"), Tag("K", "2")])
        with pytest.raises(NotFound):
            tx.tag_resource(target, account, "missing", [Tag("k", "1")])


@pytest.mark.parametrize("target", [TagTarget.POLICY, TagTarget.INSTANCE_PROFILE])
def test_policy_and_instance_profile_tag_keys_are_case_sensitive(store: Store, account: str, target: TagTarget) -> None:
    with store.transaction() as tx:
        if target is TagTarget.POLICY:
            ref = tx.create_policy(account, "p", DOC, tags=[Tag("Costcenter", "1")]).arn
        else:
            ref = tx.create_instance_profile(account, "p", tags=[Tag("Costcenter", "1")]).name
        tx.tag_resource(target, account, ref, [Tag("costcenter", "2"), Tag("Costcenter", "3")])
        assert tx.list_tags(target, account, ref) == (Tag("Costcenter", "3"), Tag("costcenter", "2"))
        tx.untag_resource(target, account, ref, ["COSTCENTER", "costcenter"])
        assert tx.list_tags(target, account, ref) == (Tag("Costcenter", "3"),)
        tx.untag_resource(target, account, ref, [])


def test_policy_tags_need_the_owning_account(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "p", DOC).arn
        with pytest.raises(NotFound):
            tx.list_tags(TagTarget.POLICY, "210987654321", arn)
