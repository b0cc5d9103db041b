"""``ReadTx.policy_sources``: one statement, the same policies as the per-piece reads.

The policy loader builds every principal's identity policies from it (docs/architecture.md,
the policy loader); what it returns must be exactly what ``list_inline_policies``,
``list_attached_policies`` and ``list_groups_for_user`` return, in the same order, on both
backends.
"""

from __future__ import annotations

import pytest

from iamd.store import (
    AttachedPolicy,
    EntityKind,
    InlinePolicy,
    NotFound,
    PolicySources,
    ReadTx,
    Store,
)
from tests.store.helpers import DOC, OTHER_ACCOUNT, TRUST


def _piecewise(r: ReadTx, kind: EntityKind, account: str, name: str) -> PolicySources:
    """What the loader read before ``policy_sources``: one listing per piece."""

    def one(kind: EntityKind, name: str, stored: str) -> PolicySources:
        inline = r.list_inline_policies(kind, account, name)
        attached = r.list_attached_policies(kind, account, name, max_items=1000).items
        return PolicySources(kind, stored, inline, attached)

    stored = {
        EntityKind.USER: lambda: r.get_user(account, name).name,
        EntityKind.GROUP: lambda: r.get_group(account, name).name,
        EntityKind.ROLE: lambda: r.get_role(account, name).name,
    }[kind]()
    entity = one(kind, name, stored)
    groups: tuple[PolicySources, ...] = ()
    if kind is EntityKind.USER:
        listed = r.list_groups_for_user(account, name, max_items=1000).items
        groups = tuple(one(EntityKind.GROUP, g.name, g.name) for g in listed)
    return PolicySources(kind, entity.name, entity.inline, entity.attached, groups)


@pytest.fixture
def populated(store: Store, account: str) -> Store:
    """Users, groups and roles with inline, attached (customer and AWS managed, same names in
    two owners, names whose case orders differently), boundaries and empty groups."""
    with store.transaction() as tx:
        aws_admin = tx.put_aws_managed_policy("AdministratorAccess", DOC).arn
        aws_ro = tx.put_aws_managed_policy("ReadOnly", DOC, path="/job-function/").arn
        local_admin = tx.create_policy(account, "AdministratorAccess", DOC).arn
        zeta = tx.create_policy(account, "zeta", DOC, path="/team/").arn
        beta = tx.create_policy(account, "Beta", DOC).arn
        alpha = tx.create_policy(account, "alpha", DOC).arn
        tx.create_user(account, "Alice", permissions_boundary=beta)
        tx.create_user(account, "bob")
        tx.create_user(account, "carol")  # no policies, no groups
        tx.create_user(OTHER_ACCOUNT, "Alice")
        for group in ("Zed", "admins", "Empty", "ops"):
            tx.create_group(account, group)
        tx.create_role(account, "Runner", assume_role_policy=TRUST, permissions_boundary=alpha)
        for kind, name in ((EntityKind.USER, "alice"), (EntityKind.ROLE, "runner"), (EntityKind.GROUP, "admins")):
            tx.put_inline_policy(kind, account, name, "b-inline", DOC)
            tx.put_inline_policy(kind, account, name, "A-inline", '{"Version":"2012-10-17","Statement":[]}')
            tx.put_inline_policy(kind, account, name, "a-inline", "not even JSON")
            for arn in (zeta, aws_admin, local_admin, beta, alpha):
                tx.attach_policy(kind, account, name, arn)
        tx.put_inline_policy(EntityKind.GROUP, account, "zed", "only", DOC)
        tx.attach_policy(EntityKind.GROUP, account, "ops", aws_ro)
        tx.attach_policy(EntityKind.USER, account, "bob", aws_ro)
        for group in ("zed", "admins", "empty", "ops"):
            tx.add_user_to_group(account, group, "ALICE")
        tx.add_user_to_group(account, "ops", "bob")
        tx.put_inline_policy(EntityKind.USER, OTHER_ACCOUNT, "alice", "elsewhere", DOC)
        # names whose order differs between bytewise ("C") and ICU collations: '-' < '_' bytewise
        tx.create_user(account, "dave")
        for group in ("g_b", "g-b", "gb", "G.b"):
            tx.create_group(account, group)
            tx.add_user_to_group(account, group, "dave")
            for inline in ("x_y", "x-y", "xy", "X.y"):
                tx.put_inline_policy(EntityKind.GROUP, account, group, inline, DOC)
    return store


CASES = [
    (EntityKind.USER, "alice"),
    (EntityKind.USER, "ALICE"),
    (EntityKind.USER, "bob"),
    (EntityKind.USER, "carol"),
    (EntityKind.USER, "dave"),
    (EntityKind.GROUP, "g_b"),
    (EntityKind.GROUP, "admins"),
    (EntityKind.GROUP, "Empty"),
    (EntityKind.GROUP, "zed"),
    (EntityKind.ROLE, "runner"),
]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_same_as_the_reads_piece_by_piece(populated: Store, account: str, kind: EntityKind, name: str) -> None:
    with populated.read() as r:
        assert r.policy_sources(kind, account, name) == _piecewise(r, kind, account, name)


def test_what_it_returns(populated: Store, account: str) -> None:
    with populated.read() as r:
        alice = r.policy_sources(EntityKind.USER, account, "ALICE")
    assert (alice.kind, alice.name) == (EntityKind.USER, "Alice")
    assert [p.name for p in alice.inline] == ["A-inline", "a-inline", "b-inline"]  # names compare exactly
    assert alice.inline[1] == InlinePolicy(EntityKind.USER, "Alice", "a-inline", "not even JSON")
    assert [p.arn for p in alice.attached] == [
        f"arn:aws:iam::{account}:policy/AdministratorAccess",  # the same name key: by account
        "arn:aws:iam::aws:policy/AdministratorAccess",
        f"arn:aws:iam::{account}:policy/alpha",
        f"arn:aws:iam::{account}:policy/Beta",
        f"arn:aws:iam::{account}:policy/team/zeta",
    ]
    assert [(g.kind, g.name) for g in alice.groups] == [
        (EntityKind.GROUP, "admins"), (EntityKind.GROUP, "Empty"), (EntityKind.GROUP, "ops"),
        (EntityKind.GROUP, "Zed"),
    ]  # fmt: skip
    empty, ops, zed = alice.groups[1:]
    assert empty.inline == empty.attached == empty.groups == ()
    assert ops.attached == (AttachedPolicy("ReadOnly", "arn:aws:iam::aws:policy/job-function/ReadOnly"),)
    assert zed.inline == (InlinePolicy(EntityKind.GROUP, "Zed", "only", DOC),)


def test_bytewise_order_whatever_the_databases_collation(populated: Store, account: str) -> None:
    with populated.read() as r:
        dave = r.policy_sources(EntityKind.USER, account, "dave")
    assert [g.name for g in dave.groups] == ["g-b", "G.b", "g_b", "gb"]  # by name key, bytewise
    assert [p.name for p in dave.groups[0].inline] == ["X.y", "x-y", "x_y", "xy"]


@pytest.mark.parametrize("kind", list(EntityKind))
def test_no_such_entity(populated: Store, account: str, kind: EntityKind) -> None:
    with populated.read() as r, pytest.raises(NotFound):
        r.policy_sources(kind, account, "nobody")
    with populated.read() as r, pytest.raises(NotFound):  # another account's role of that name: none
        r.policy_sources(EntityKind.ROLE, OTHER_ACCOUNT, "runner")


def test_in_a_write_transaction_sees_its_own_writes(populated: Store, account: str) -> None:
    with populated.transaction() as tx:
        tx.put_inline_policy(EntityKind.USER, account, "carol", "new", DOC)
        tx.add_user_to_group(account, "zed", "carol")
        carol = tx.policy_sources(EntityKind.USER, account, "carol")
        assert [p.name for p in carol.inline] == ["new"] and [g.name for g in carol.groups] == ["Zed"]
