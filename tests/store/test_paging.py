"""Listings: order, markers, MaxItems, path prefixes — the same for every entity type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iamd.store import InvalidMarker, Page, PolicyScope, ReadTx, Store, Tx
from tests.store.helpers import DOC, OTHER_ACCOUNT, TRUST, all_pages

NAMES = ["a-b", "a_b", "aB", "Ab.c", "A", "b", "B2", "a+b", "a@b", "a=b", "z", "Zz", "m,n", "0", "9a"]
PATHS = ["/", "/x/", "/x/y/", "/x%/", "/x_/", "/xy/"]


def _create(kind: str) -> Callable[[Tx, str, str, str], object]:
    creators: dict[str, Callable[[Tx, str, str, str], object]] = {
        "users": lambda tx, a, n, p: tx.create_user(a, n, path=p),
        "groups": lambda tx, a, n, p: tx.create_group(a, n, path=p),
        "roles": lambda tx, a, n, p: tx.create_role(a, n, path=p, assume_role_policy=TRUST),
        "policies": lambda tx, a, n, p: tx.create_policy(a, n, DOC, path=p),
        "instance_profiles": lambda tx, a, n, p: tx.create_instance_profile(a, n, path=p),
    }
    return creators[kind]


def _list(kind: str) -> Callable[..., Page[Any]]:
    def listing(r: ReadTx, account: str, **kw: Any) -> Page[Any]:
        if kind == "policies":
            return r.list_policies(account, scope=PolicyScope.LOCAL, **kw)
        method: Callable[..., Page[Any]] = getattr(r, f"list_{kind}")
        return method(account, **kw)

    return listing


KINDS = ["users", "groups", "roles", "policies", "instance_profiles"]


@pytest.fixture(params=KINDS)
def populated(request: pytest.FixtureRequest, store: Store, account: str) -> str:
    kind = str(request.param)
    create = _create(kind)
    with store.transaction() as tx:
        for i, name in enumerate(NAMES):
            create(tx, account, name, "/" if kind == "policies" and "%" in PATHS[i % 6] else PATHS[i % len(PATHS)])
        create(tx, OTHER_ACCOUNT, "other-account", "/")
    return kind


def test_order_is_by_lowercased_name_bytewise(store: Store, account: str, populated: str) -> None:
    listing = _list(populated)
    with store.read() as r:
        page = listing(r, account, max_items=1000)
    assert [x.name for x in page.items] == sorted(NAMES, key=lambda n: n.lower().encode())
    assert page.marker is None and not page.is_truncated


@pytest.mark.parametrize("max_items", [1, 4, 14, 15, 16])
def test_markers_walk_every_item_once(store: Store, account: str, populated: str, max_items: int) -> None:
    listing = _list(populated)
    with store.read() as r:
        items, pages = all_pages(lambda m: listing(r, account, marker=m, max_items=max_items))
    assert [x.name for x in items] == sorted(NAMES, key=lambda n: n.lower().encode())
    assert pages == -(-len(NAMES) // max_items)  # never an empty trailing page


def test_marker_survives_changes_between_pages(store: Store, account: str, populated: str) -> None:
    listing = _list(populated)
    with store.read() as r:
        first = listing(r, account, max_items=3)
    with store.transaction() as tx:
        _create(populated)(tx, account, "0000", "/")  # sorts before the marker: not seen
        _create(populated)(tx, account, "zzzz", "/")  # sorts after: seen
    with store.read() as r:
        rest, _ = all_pages(lambda m: listing(r, account, marker=m or first.marker, max_items=5))
    names = [x.name for x in first.items] + [x.name for x in rest]
    assert "0000" not in names and names[-1] == "zzzz" and len(names) == len(set(names)) == len(NAMES) + 1


def test_path_prefix(store: Store, account: str, populated: str) -> None:
    listing = _list(populated)
    with store.read() as r:
        under_x = {x.name for x in listing(r, account, path_prefix="/x", max_items=1000).items}
        literal_percent = {x.path for x in listing(r, account, path_prefix="/x%", max_items=1000).items}
        literal_underscore = {x.path for x in listing(r, account, path_prefix="/x_", max_items=1000).items}
        nested, _ = all_pages(lambda m: listing(r, account, path_prefix="/x/", marker=m, max_items=1))
    expected = {n for i, n in enumerate(NAMES) if PATHS[i % len(PATHS)] != "/"}
    if populated == "policies":
        expected = {n for i, n in enumerate(NAMES) if PATHS[i % len(PATHS)] not in ("/", "/x%/")}
        assert literal_percent == set()
    else:
        assert literal_percent == {"/x%/"}
    assert under_x == expected
    assert literal_underscore == {"/x_/"}
    assert {x.path for x in nested} == {"/x/", "/x/y/"}


def test_bad_markers_and_sizes(store: Store, account: str) -> None:
    with store.transaction() as tx:
        for n in range(3):
            tx.create_user(account, f"u{n}")
            tx.create_group(account, f"g{n}")
    with store.read() as r:
        user_marker = r.list_users(account, max_items=1).marker
        assert user_marker is not None
        for bad in ("garbage", "", "=====", user_marker[:-2], "W10"):
            with pytest.raises(InvalidMarker):
                r.list_users(account, marker=bad)
        with pytest.raises(InvalidMarker):
            r.list_groups(account, marker=user_marker)  # a marker of another listing
        for size in (0, 1001, -1):
            with pytest.raises(ValueError):
                r.list_users(account, max_items=size)
        assert len(r.list_users(account, max_items=1000).items) == 3
