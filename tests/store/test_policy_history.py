"""The policy history (schema: policy_history): every policy write method records what changed,
in the write's transaction, and ``policy_history`` reads one owner's changes up to a time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from iamd.store import EntityKind, NotFound, Store
from tests.store.helpers import DOC

OTHER = DOC.replace("s3:*", "iam:*")
LATER = datetime(2100, 1, 1).astimezone()


def _events(store: Store, kind: str, owner: str, until: datetime = LATER) -> list[tuple[str, str | None, str | None]]:
    with store.read() as r:
        return [(c.event, c.subject, c.document) for c in r.policy_history(kind, owner, until)]


def test_a_users_policies_groups_and_boundary_are_recorded(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "P", DOC).arn
        user = tx.create_user(account, "u")
        group = tx.create_group(account, "g")
        tx.put_inline_policy(EntityKind.USER, account, "u", "inline", DOC)
        tx.put_inline_policy(EntityKind.USER, account, "u", "inline", OTHER)
        tx.attach_policy(EntityKind.USER, account, "u", arn)
        tx.attach_policy(EntityKind.USER, account, "u", arn)  # idempotent: no second row
        tx.put_permissions_boundary(EntityKind.USER, account, "u", arn)
        tx.add_user_to_group(account, "g", "u")
        tx.put_inline_policy(EntityKind.GROUP, account, "g", "gi", DOC)
    with store.transaction() as tx:
        tx.delete_inline_policy(EntityKind.USER, account, "u", "inline")
        tx.detach_policy(EntityKind.USER, account, "u", arn)
        tx.delete_permissions_boundary(EntityKind.USER, account, "u")
        tx.remove_user_from_group(account, "g", "u")
    assert _events(store, "user", user.id) == [
        ("create", None, None), ("inline", "inline", DOC), ("inline", "inline", OTHER), ("attach", arn, None),
        ("boundary", arn, None), ("join", group.id, None), ("inline", "inline", None), ("detach", arn, None),
        ("boundary", None, None), ("leave", group.id, None),
    ]  # fmt: skip
    assert _events(store, "group", group.id) == [("create", None, None), ("inline", "gi", DOC)]


def test_managed_policy_defaults_and_trust_policies_are_recorded(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "Versioned", DOC).arn
        tx.create_policy_version(arn, OTHER)  # not the default: not a change of what applies
        tx.create_policy_version(arn, OTHER.replace("iam:*", "sts:*"), set_as_default=True)
        tx.set_default_policy_version(arn, "v1")
        role = tx.create_role(account, "r", assume_role_policy=DOC)
        tx.update_assume_role_policy(account, "r", OTHER)
        tx.put_aws_managed_policy("AwsThing", DOC)
        tx.put_aws_managed_policy("AwsThing", DOC)  # refreshed unchanged (every start): no new row
    with store.transaction() as tx:
        for version in ("v2", "v3"):
            tx.delete_policy_version(arn, version)
        tx.delete_policy(arn)
    assert [(e, d) for e, _, d in _events(store, "policy", arn)] == [
        ("default", DOC), ("default", OTHER.replace("iam:*", "sts:*")), ("default", DOC), ("default", None),
    ]  # fmt: skip
    assert _events(store, "role", role.id) == [("create", None, None), ("trust", None, DOC), ("trust", None, OTHER)]
    assert [e for e, _, _ in _events(store, "policy", "arn:aws:iam::aws:policy/AwsThing")] == ["default"]


def test_read_up_to_a_time_and_rolled_back_with_the_write(store: Store, account: str) -> None:
    with store.transaction() as tx:
        user = tx.create_user(account, "t")
        tx.put_inline_policy(EntityKind.USER, account, "t", "one", DOC)
    with store.read() as r:
        [created, first] = r.policy_history("user", user.id, LATER)
        assert r.policy_history("user", user.id, first.changed_at - timedelta(microseconds=1)) == (created,)
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.put_inline_policy(EntityKind.USER, account, "t", "two", DOC)
        tx.get_user(account, "nobody")
    assert [s for _, s, _ in _events(store, "user", user.id)] == [None, "one"]
