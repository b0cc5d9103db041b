"""Property: random create/delete/rename/membership transactions leave the store equal to a
plain in-memory model — same contents, same listing order, same errors, and a failed
transaction leaves no trace."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.store import AlreadyExists, Conflict, ConflictReason, NotFound, Store, StoreError, Tx
from tests.store.helpers import TRUST, all_pages

NAMES = st.sampled_from(["a", "A", "b", "B", "ab", "aB", "Ab", "c", "a-b", "a_b"])
PATHS = st.sampled_from(["/", "/x/", "/x/y/"])

OPS = st.one_of(
    st.tuples(st.just("create_user"), NAMES, PATHS),
    st.tuples(st.just("delete_user"), NAMES),
    st.tuples(st.just("rename_user"), NAMES, NAMES),
    st.tuples(st.just("create_group"), NAMES, PATHS),
    st.tuples(st.just("delete_group"), NAMES),
    st.tuples(st.just("rename_group"), NAMES, NAMES),
    st.tuples(st.just("add_member"), NAMES, NAMES),
    st.tuples(st.just("remove_member"), NAMES, NAMES),
    st.tuples(st.just("create_role"), NAMES, PATHS),
    st.tuples(st.just("delete_role"), NAMES),
)
TRANSACTIONS = st.lists(st.tuples(st.lists(OPS, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=12)


@dataclass
class Model:
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, path)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)
    members: set[tuple[str, str]] = field(default_factory=set)  # (group key, user key)

    def apply(self, op: tuple[str, ...]) -> tuple[type[StoreError], ConflictReason | None] | None:
        """Apply ``op``; return the error the store must raise instead (model then unusable)."""
        kind, *args = op
        family = {"user": self.users, "group": self.groups, "role": self.roles}
        if kind.startswith(("create_", "delete_", "rename_")):
            verb, noun = kind.split("_")
            table = family[noun]
            key = args[0].lower()
            if verb == "create":
                if key in table:
                    return AlreadyExists, None
                table[key] = (args[0], args[1])
                return None
            if key not in table:
                return NotFound, None
            if verb == "delete":
                if noun == "user" and any(u == key for _, u in self.members):
                    return Conflict, ConflictReason.HAS_GROUP_MEMBERSHIPS
                if noun == "group" and any(g == key for g, _ in self.members):
                    return Conflict, ConflictReason.HAS_MEMBERS
                del table[key]
                return None
            new_key = args[1].lower()
            if new_key != key and new_key in table:
                return AlreadyExists, None
            table[new_key] = (args[1], table.pop(key)[1])
            slot = 1 if noun == "user" else 0
            self.members = {
                tuple(new_key if i == slot and v == key else v for i, v in enumerate(m))  # type: ignore[misc]
                for m in self.members
            }
            return None
        group, user = args[0].lower(), args[1].lower()
        if group not in self.groups or user not in self.users:
            return NotFound, None
        if kind == "add_member":
            self.members.add((group, user))
        elif (group, user) in self.members:
            self.members.remove((group, user))
        else:
            return NotFound, None
        return None


def _run(tx: Tx, account: str, op: tuple[str, ...]) -> None:
    kind, *args = op
    if kind == "create_user":
        tx.create_user(account, args[0], path=args[1])
    elif kind == "delete_user":
        tx.delete_user(account, args[0])
    elif kind == "rename_user":
        tx.update_user(account, args[0], new_name=args[1])
    elif kind == "create_group":
        tx.create_group(account, args[0], path=args[1])
    elif kind == "delete_group":
        tx.delete_group(account, args[0])
    elif kind == "rename_group":
        tx.update_group(account, args[0], new_name=args[1])
    elif kind == "add_member":
        tx.add_user_to_group(account, args[0], args[1])
    elif kind == "remove_member":
        tx.remove_user_from_group(account, args[0], args[1])
    elif kind == "create_role":
        tx.create_role(account, args[0], path=args[1], assume_role_policy=TRUST)
    else:
        tx.delete_role(account, args[0])


class Abort(Exception):
    pass


def _check(store: Store, account: str, model: Model) -> None:
    def ordered(table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
        return [table[k] for k in sorted(table, key=str.encode)]

    with store.read() as r:
        users, _ = all_pages(lambda m: r.list_users(account, marker=m, max_items=3))
        groups, _ = all_pages(lambda m: r.list_groups(account, marker=m, max_items=2))
        roles, _ = all_pages(lambda m: r.list_roles(account, marker=m, max_items=4))
        assert [(u.name, u.path) for u in users] == ordered(model.users)
        assert [(g.name, g.path) for g in groups] == ordered(model.groups)
        assert [(x.name, x.path) for x in roles] == ordered(model.roles)
        members = {
            (g.name.lower(), u.name.lower()) for g in groups for u in r.list_group_members(account, g.name).items
        }
        assert members == model.members
        assert r.count_users(account) == len(model.users)


@pytest.fixture
def fresh_accounts(store: Store) -> itertools.count[int]:
    return itertools.count(100000000000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transactions=TRANSACTIONS)
def test_store_matches_model(
    store: Store, fresh_accounts: itertools.count[int], transactions: list[tuple[list[tuple[str, ...]], bool]]
) -> None:
    account = str(next(fresh_accounts))
    with store.transaction() as tx:
        tx.create_account(account)
    model = Model()
    for ops, abort in transactions:
        trial = copy.deepcopy(model)
        generation = store.generation()
        expected = None
        try:
            with store.transaction() as tx:
                for op in ops:
                    expected = trial.apply(op)
                    if expected is not None:
                        with pytest.raises(expected[0]) as info:
                            _run(tx, account, op)
                        if expected[1] is not None:
                            assert isinstance(info.value, Conflict) and info.value.reason is expected[1]
                        raise Abort()
                    _run(tx, account, op)
                if abort:
                    raise Abort()
        except Abort:
            assert store.generation() == generation
        else:
            model = trial
            assert store.generation() == generation + 1
        _check(store, account, model)
