"""Virtual MFA devices in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from iamd.store import (
    AlreadyExists,
    AssignmentStatus,
    Conflict,
    ConflictReason,
    NotFound,
    Store,
    Tag,
    TagTarget,
)
from tests.store.helpers import OTHER_ACCOUNT, START, all_pages

SEALED = b"v1:key:opaque-sealed-seed"  # the store never sees a seed, only sealed bytes


def serial(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:mfa{path}{name}"


def test_create_get_and_unique_names(store: Store, account: str) -> None:
    with store.transaction() as tx:
        dev = tx.create_virtual_mfa_device(
            account, "Diego", serial=serial(account, "Diego", "/team/"), seed_sealed=SEALED, path="/team/",
            tags=[Tag("env", "prod")],
        )  # fmt: skip
    assert (dev.serial, dev.name, dev.path, dev.user, dev.enable_date, dev.last_step, dev.drift) == (
        serial(account, "Diego", "/team/"), "Diego", "/team/", None, None, None, 0,
    )  # fmt: skip
    assert dev.seed_sealed == SEALED and "opaque" not in repr(dev)
    with store.transaction() as tx, pytest.raises(AlreadyExists):  # names are unique case-insensitively
        tx.create_virtual_mfa_device(account, "diego", serial=serial(account, "diego"), seed_sealed=SEALED)
    with store.transaction() as tx, pytest.raises(ValueError):  # the serial must be the device's ARN
        tx.create_virtual_mfa_device(account, "Other", serial=serial(account, "Else"), seed_sealed=SEALED)
    with store.read() as r:
        assert r.get_virtual_mfa_device(account, dev.serial) == dev
        assert r.list_tags(TagTarget.MFA_DEVICE, account, dev.serial) == (Tag("env", "prod"),)
        with pytest.raises(NotFound):  # serials are exact
            r.get_virtual_mfa_device(account, serial(account, "diego", "/team/"))
        with pytest.raises(NotFound):  # and per account
            r.get_virtual_mfa_device(OTHER_ACCOUNT, dev.serial)
        assert r.count_virtual_mfa_devices(account) == 1


def test_enable_replay_deactivate_delete(store: Store, account: str) -> None:
    s = serial(account, "dev1")
    with store.transaction() as tx:
        tx.create_user(account, "bob")
        tx.create_virtual_mfa_device(account, "dev1", serial=s, seed_sealed=SEALED)
        dev = tx.enable_mfa_device(account, s, "BOB", step=100, drift=0, when=START)
    assert dev.user is not None and dev.user.name == "bob" and dev.enable_date == START and dev.last_step == 100
    with store.transaction() as tx:
        with pytest.raises(AlreadyExists):  # already assigned
            tx.enable_mfa_device(account, s, "bob", step=200, drift=0, when=START)
        assert tx.record_mfa_step(account, s, 100) is False  # the same step again: a replay
        assert tx.record_mfa_step(account, s, 99) is False  # an older one too
        assert tx.record_mfa_step(account, s, 101, drift=3) is True
        assert tx.get_virtual_mfa_device(account, s).drift == 3
        with pytest.raises(Conflict) as e:
            tx.delete_virtual_mfa_device(account, s)
        assert e.value.reason is ConflictReason.MFA_DEVICE_ASSIGNED
        with pytest.raises(Conflict) as e:
            tx.delete_user(account, "bob")
        assert e.value.reason is ConflictReason.HAS_MFA_DEVICES
    with store.read() as r:
        assert [d.serial for d in r.list_mfa_devices(account, "bob").items] == [s]
        assert r.count_virtual_mfa_devices(account, assigned_only=True) == 1
    with store.transaction() as tx:
        tx.create_user(account, "eve")
        with pytest.raises(NotFound):  # not eve's device
            tx.deactivate_mfa_device(account, s, "eve")
        tx.deactivate_mfa_device(account, s, "bob")
        with pytest.raises(NotFound):  # no longer assigned
            tx.deactivate_mfa_device(account, s, "bob")
        again = tx.get_virtual_mfa_device(account, s)
        assert (again.user, again.enable_date, again.last_step) == (None, None, 101)  # used steps are kept
        with pytest.raises(AlreadyExists):  # re-enabling with an already used step is refused
            tx.enable_mfa_device(account, s, "bob", step=101, drift=0, when=START)
        tx.delete_user(account, "bob")
        tx.delete_virtual_mfa_device(account, s)
        with pytest.raises(NotFound):
            tx.delete_virtual_mfa_device(account, s)
        with pytest.raises(NotFound):
            tx.list_tags(TagTarget.MFA_DEVICE, account, s)


def test_listing_by_assignment_with_paging(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "alice")
        for i in range(5):
            tx.create_virtual_mfa_device(account, f"d{i}", serial=serial(account, f"d{i}"), seed_sealed=SEALED)
        for i in (1, 3):
            tx.enable_mfa_device(account, serial(account, f"d{i}"), "alice", step=10, drift=0, when=START)
    with store.read() as r:

        def names(status: AssignmentStatus) -> tuple[list[str], int]:
            items, pages = all_pages(
                lambda m: r.list_virtual_mfa_devices(account, assignment=status, marker=m, max_items=2)
            )
            return [d.name for d in items], pages

        assert names(AssignmentStatus.ANY) == (["d0", "d1", "d2", "d3", "d4"], 3)
        assert names(AssignmentStatus.ASSIGNED) == (["d1", "d3"], 1)
        assert names(AssignmentStatus.UNASSIGNED) == (["d0", "d2", "d4"], 2)
        assigned = r.list_virtual_mfa_devices(account, assignment=AssignmentStatus.ASSIGNED).items
        assert all(d.user is not None and d.user.name == "alice" for d in assigned)
        assert [d.name for d in r.list_mfa_devices(account, "alice").items] == ["d1", "d3"]


def test_tags_are_case_sensitive_and_cascade(store: Store, account: str) -> None:
    s = serial(account, "tagged")
    with store.transaction() as tx:
        tx.create_virtual_mfa_device(account, "tagged", serial=s, seed_sealed=SEALED)
        tx.tag_resource(TagTarget.MFA_DEVICE, account, s, [Tag("Env", "a"), Tag("env", "b")])
        tx.untag_resource(TagTarget.MFA_DEVICE, account, s, ["Env"])
        assert tx.list_tags(TagTarget.MFA_DEVICE, account, s) == (Tag("env", "b"),)
        tx.delete_virtual_mfa_device(account, s)
        tx.create_virtual_mfa_device(account, "tagged", serial=s, seed_sealed=SEALED)
        assert tx.list_tags(TagTarget.MFA_DEVICE, account, s) == ()
