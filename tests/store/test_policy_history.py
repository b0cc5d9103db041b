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


# -- retention (docs/troubleshooting.md, "History retention") -----------------------------------------
def _states(store: Store, owners: list[tuple[str, str]], times: list[datetime]) -> list[object]:
    from iamd.explain.replay import _fold

    out: list[object] = []
    with store.read() as r:
        for kind, owner in owners:
            for when in times:
                state = _fold(r.policy_history(kind, owner, when), when)
                state.recent = []
                out.append((kind, owner, when, state))
    return out


def test_pruning_keeps_every_replay_from_the_cut_on_and_records_the_horizon(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "P", DOC).arn
        other = tx.create_policy(account, "Q", DOC).arn
        user = tx.create_user(account, "u")
        group = tx.create_group(account, "g")
        role = tx.create_role(account, "r", assume_role_policy=DOC)
    for i in range(6):  # several generations of each part of the state, one transaction each
        with store.transaction() as tx:
            tx.put_inline_policy(EntityKind.USER, account, "u", "keep", DOC if i % 2 else OTHER)
            tx.put_inline_policy(EntityKind.USER, account, "u", f"gone{i}", DOC)
            tx.delete_inline_policy(EntityKind.USER, account, "u", f"gone{i}")
            tx.attach_policy(EntityKind.USER, account, "u", arn)
            if i < 5:
                tx.detach_policy(EntityKind.USER, account, "u", arn)
            tx.add_user_to_group(account, "g", "u")
            tx.remove_user_from_group(account, "g", "u")
            tx.put_permissions_boundary(EntityKind.USER, account, "u", other)
            if i % 2:
                tx.delete_permissions_boundary(EntityKind.USER, account, "u")
            tx.update_assume_role_policy(account, "r", OTHER if i % 2 else DOC)
            tx.create_policy_version(other, OTHER if i % 2 else DOC, set_as_default=True)
            tx.delete_policy_version(other, tx.list_policy_versions(other)[-1].version_id) if i > 2 else None
    owners = [("user", user.id), ("group", group.id), ("role", role.id), ("policy", arn), ("policy", other)]
    with store.read() as r:
        rows = r.policy_history("user", user.id, LATER)
    cut = rows[len(rows) // 2].changed_at
    later = [cut, *(c.changed_at for c in rows if c.changed_at > cut), LATER]
    before = _states(store, owners, later)
    with store.read() as r:
        assert r.policy_history_horizon() is None
        total = sum(len(r.policy_history(k, o, LATER)) for k, o in owners)
    with store.transaction() as tx:
        deleted = tx.prune_policy_history(cut)
    assert deleted > 0
    with store.read() as r:
        assert r.policy_history_horizon() == cut
        assert sum(len(r.policy_history(k, o, LATER)) for k, o in owners) == total - deleted
        assert r.policy_history("user", user.id, LATER)[0].event == "create"  # the principal still replays
    assert _states(store, owners, later) == before
    with store.transaction() as tx:  # pruning again at the same cut forgets nothing more
        assert tx.prune_policy_history(cut) == 0


def test_retention_ages_are_parsed_strictly() -> None:
    from iamd.retention import parse_retention

    assert parse_retention("keep") is None and parse_retention("KEEP") is None
    assert parse_retention("365d") == timedelta(days=365) and parse_retention("52w") == timedelta(weeks=52)
    assert parse_retention("1y") == timedelta(days=365) and parse_retention("48h") == timedelta(hours=48)
    for bad in ("0d", "-1d", "10", "1m", "d", "9999999d", "101y", "1.5d"):
        with pytest.raises(ValueError):
            parse_retention(bad)


def test_prune_cuts_at_now_minus_the_age(store: Store, account: str) -> None:
    from iamd.retention import prune

    with store.transaction() as tx:
        tx.create_user(account, "old")
    assert prune(store, timedelta(days=1), now=LATER) == 0  # the creation row is the newest of its slot: kept
    with store.read() as r:
        assert r.policy_history_horizon() == LATER - timedelta(days=1)
