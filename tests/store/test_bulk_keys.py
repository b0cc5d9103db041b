"""The bulk path's access keys, name lookup and coarse change (``iamd db load``, docs/bulk-load.md), on
both backends."""

from __future__ import annotations

import pytest

from iamd.store import AlreadyExists, BulkEntity, BulkKey, IamBundle, LimitExceeded, NotFound, Store
from iamd.store.changes import ChangeSet

from .helpers import ACCOUNT


def test_keys_load_with_their_users_and_count_against_the_stored_ones(store: Store, account: str) -> None:
    seen: list[ChangeSet] = []
    store.subscribe(seen.append)
    with store.transaction() as tx:
        tx.bulk_load_iam(account, IamBundle(users=[BulkEntity("Ana"), BulkEntity("bo")],
                                            keys=[BulkKey("ana", "AKIAAAAAAAAAAAAAAAA1", b"sealed-1")]))  # fmt: skip
    assert [c.verb.value for c in seen[-1].changes].count("created") == 3  # two users and a key, one change each
    with store.transaction() as tx:
        n = tx.bulk_load_iam(account, IamBundle(keys=[BulkKey("ANA", "AKIAAAAAAAAAAAAAAAA2", b"sealed-2",
                                                              "Inactive")]), coarse=True)  # fmt: skip
    assert n == 0 and seen[-1].everything  # coarse: one change that drops every cache
    with store.read() as tx:
        found = tx.lookup_access_key("AKIAAAAAAAAAAAAAAAA2")
        assert found.user is not None and found.user.name == "Ana"
        assert found.key.status.value == "Inactive" and found.key.secret_sealed == b"sealed-2"
        assert tx.existing_names(account, "user", ["ANA", "bo", "nobody"]) == {"ana": "Ana", "bo": "bo"}
        assert tx.existing_names(account, "group", ["ana"]) == {}
    with pytest.raises(LimitExceeded) as over, store.transaction() as tx:  # a third key for Ana: AWS's quota is 2
        tx.bulk_load_iam(account, IamBundle(keys=[BulkKey("Ana", "AKIAAAAAAAAAAAAAAAA3", b"s")]))
    assert over.value.limit == "AccessKeysPerUser of user Ana" and over.value.value == 2
    with pytest.raises(LimitExceeded), store.transaction() as tx:  # three in one bundle for a new user
        tx.bulk_load_iam(account, IamBundle(users=[BulkEntity("cy")], keys=[
            BulkKey("cy", f"AKIAAAAAAAAAAAAAAAB{i}", b"s") for i in range(3)]))  # fmt: skip
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.bulk_load_iam(account, IamBundle(keys=[BulkKey("nobody", "AKIAAAAAAAAAAAAAAAC1", b"s")]))
    with pytest.raises(AlreadyExists), store.transaction() as tx:  # a key id is the primary key
        tx.bulk_load_iam(account, IamBundle(keys=[BulkKey("bo", "AKIAAAAAAAAAAAAAAAA1", b"s")]))
    with store.read() as tx:  # none of the refused loads wrote anything
        assert tx.existing_names(account, "user", ["cy"]) == {}
        assert tx.list_access_keys(ACCOUNT, "bo") == ()
