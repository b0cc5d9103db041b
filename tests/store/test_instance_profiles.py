"""Instance profiles."""

from __future__ import annotations

import pytest

from iamd.store import AlreadyExists, Conflict, ConflictReason, LimitExceeded, NotFound, Store
from tests.store.helpers import TRUST, all_pages


def test_instance_profile_lifecycle(store: Store, account: str) -> None:
    with store.transaction() as tx:
        profile = tx.create_instance_profile(account, "Web", path="/ec2/")
        role = tx.create_role(account, "web-role", assume_role_policy=TRUST)
        tx.create_role(account, "other", assume_role_policy=TRUST)
    assert profile.id.startswith("AIPA") and profile.role is None
    assert profile.arn == f"arn:aws:iam::{account}:instance-profile/ec2/Web"
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_instance_profile(account, "WEB")
    with store.transaction() as tx:
        with_role = tx.add_role_to_instance_profile(account, "web", "WEB-ROLE")
        assert with_role.role == role
        with pytest.raises(AlreadyExists):
            tx.add_role_to_instance_profile(account, "web", "web-role")
        with pytest.raises(LimitExceeded):
            tx.add_role_to_instance_profile(account, "web", "other")
        with pytest.raises(NotFound):
            tx.remove_role_from_instance_profile(account, "web", "other")
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_instance_profile(account, "web")
    assert info.value.reason is ConflictReason.HAS_ROLE
    with store.read() as r:
        assert r.get_instance_profile(account, "WEB").role == role
        assert [p.name for p in r.list_instance_profiles_for_role(account, "web-role").items] == ["Web"]
        assert r.list_instance_profiles_for_role(account, "other").items == ()
    with store.transaction() as tx:
        assert tx.remove_role_from_instance_profile(account, "web", "web-role").role is None
        tx.delete_instance_profile(account, "web")
        with pytest.raises(NotFound):
            tx.get_instance_profile(account, "web")


def test_listing_instance_profiles_embeds_roles(store: Store, account: str) -> None:
    with store.transaction() as tx:
        for n in range(5):
            tx.create_role(account, f"role{n}", assume_role_policy=TRUST)
            tx.create_instance_profile(account, f"ip{n}", path="/a/" if n % 2 else "/")
            tx.add_role_to_instance_profile(account, f"ip{n}", f"role{n}")
    with store.read() as r:
        profiles, pages = all_pages(lambda m: r.list_instance_profiles(account, marker=m, max_items=2))
        assert pages == 3
        assert [(p.name, p.role.name if p.role else None) for p in profiles] == [
            (f"ip{n}", f"role{n}") for n in range(5)
        ]
        assert [p.name for p in r.list_instance_profiles(account, path_prefix="/a/").items] == ["ip1", "ip3"]
