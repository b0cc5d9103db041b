"""An account's own entity quotas and the bounded counts that check them (docs/iam-api.md, "Quotas")."""

from __future__ import annotations

import pytest

from iamd.store import NotFound, Store

from .helpers import OTHER_ACCOUNT


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
