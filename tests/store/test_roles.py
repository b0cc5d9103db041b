"""Roles."""

from __future__ import annotations

import pytest

from iamd.store import AlreadyExists, Conflict, ConflictReason, EntityKind, NotFound, Store, Tag, TagTarget
from tests.store.helpers import DOC, START, TRUST


def test_role_crud(store: Store, account: str) -> None:
    with store.transaction() as tx:
        boundary = tx.create_policy(account, "boundary", DOC)
        role = tx.create_role(
            account,
            "WebServer",
            assume_role_policy=TRUST,
            path="/service-role/",
            description="web tier",
            max_session_duration=7200,
            permissions_boundary=boundary.arn,
            tags=[Tag("env", "prod")],
        )
    assert role.id.startswith("AROA")
    assert role.arn == f"arn:aws:iam::{account}:role/service-role/WebServer"
    assert role.assume_role_policy == TRUST
    assert (role.description, role.max_session_duration) == ("web tier", 7200)
    assert role.permissions_boundary == boundary.arn
    assert role.last_used_date is None and role.last_used_region is None
    with store.read() as r:
        assert r.get_role(account, "webserver") == role
        assert r.get_role_by_id(role.id) == role
        assert r.list_tags(TagTarget.ROLE, account, "WEBSERVER") == (Tag("env", "prod"),)
        assert r.count_roles(account) == 1
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_role(account, "webSERVER", assume_role_policy=TRUST)


def test_role_defaults_and_updates(store: Store, account: str) -> None:
    with store.transaction() as tx:
        role = tx.create_role(account, "r", assume_role_policy=TRUST)
    assert (role.path, role.description, role.max_session_duration) == ("/", None, 3600)
    with store.transaction() as tx:
        updated = tx.update_role(account, "R", description="new", max_session_duration=43200)
        assert (updated.description, updated.max_session_duration) == ("new", 43200)
        unchanged = tx.update_role(account, "r")
        assert unchanged == updated
        assert tx.update_role(account, "r", description="").description == ""
        trust = '{"Version": "2012-10-17", "Statement": []}'
        assert tx.update_assume_role_policy(account, "r", trust).assume_role_policy == trust
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.update_role(account, "missing", description="x")


def test_role_last_used_is_recorded_without_bumping_the_generation(store: Store, account: str) -> None:
    with store.transaction() as tx:
        role = tx.create_role(account, "r", assume_role_policy=TRUST)
    before = store.generation()
    store.record_role_use(role.id, START, "eu-west-1")
    assert store.generation() == before
    with store.read() as r:
        used = r.get_role(account, "r")
    assert (used.last_used_date, used.last_used_region) == (START, "eu-west-1")


@pytest.mark.parametrize(
    "reason",
    [ConflictReason.HAS_INLINE_POLICIES, ConflictReason.HAS_ATTACHED_POLICIES, ConflictReason.IN_INSTANCE_PROFILE],
)
def test_delete_role_is_refused_while_it_has_dependents(store: Store, account: str, reason: ConflictReason) -> None:
    with store.transaction() as tx:
        tx.create_role(account, "r", assume_role_policy=TRUST)
        if reason is ConflictReason.HAS_INLINE_POLICIES:
            tx.put_inline_policy(EntityKind.ROLE, account, "r", "p", DOC)
        elif reason is ConflictReason.HAS_ATTACHED_POLICIES:
            tx.attach_policy(EntityKind.ROLE, account, "r", tx.create_policy(account, "p", DOC).arn)
        else:
            tx.create_instance_profile(account, "ip")
            tx.add_role_to_instance_profile(account, "ip", "r")
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_role(account, "r")
    assert info.value.reason is reason


def test_delete_role(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_role(account, "r", assume_role_policy=TRUST, tags=[Tag("a", "b")])
    with store.transaction() as tx:
        tx.delete_role(account, "R")
    with store.read() as r, pytest.raises(NotFound):
        r.get_role(account, "r")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.delete_role(account, "r")


def test_role_boundary_put_and_delete(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_role(account, "r", assume_role_policy=TRUST)
        policy = tx.create_policy(account, "b", DOC)
        tx.put_permissions_boundary(EntityKind.ROLE, account, "r", policy.arn)
        assert tx.get_role(account, "r").permissions_boundary == policy.arn
        tx.delete_permissions_boundary(EntityKind.ROLE, account, "r")
        assert tx.get_role(account, "r").permissions_boundary is None
        tx.delete_permissions_boundary(EntityKind.ROLE, account, "r")  # not set: no error
