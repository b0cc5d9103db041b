"""The one cache: bounded LRU sections, a shared memory budget, one staleness rule."""

from __future__ import annotations

from iamd.cache import _DEAD, _MANY, Cache, CacheLimits, Section, _Shared
from iamd.refs import policy_ref, ref
from iamd.service.policy_loader import PolicyCache
from iamd.store import Change, ChangeSet, Entity, Verb


def _user(name: str) -> Change:
    return Change(Entity.USER, "1", name, Verb.UPDATED)


def test_a_full_section_drops_the_least_recently_used_not_everything() -> None:
    cache = Cache(CacheLimits(sets=3))
    for name in ("a", "b", "c"):
        assert cache.put(Section.SETS, name, name.upper(), [ref("user", "1", name)], cache.version)
    assert cache.get(Section.SETS, "a") == "A"  # a is now the most recently used
    cache.put(Section.SETS, "d", "D", [ref("user", "1", "d")], cache.version)
    assert [cache.get(Section.SETS, k) for k in "abcd"] == ["A", None, "C", "D"]
    assert cache.evictions == 1


def test_policy_sets_beyond_the_limit_keep_the_hot_callers() -> None:
    """With more callers than fit, the recent ones stay compiled (it used to empty itself)."""

    class Built:
        identity = session = ()

    policies = PolicyCache(max_sets=3)
    for key in ("u1", "u2", "u3", "u4"):
        policies._cached(key, lambda deps: Built())  # type: ignore[arg-type,return-value]
    builds = policies.builds
    for key in ("u2", "u3", "u4"):
        policies._cached(key, lambda deps: Built())  # type: ignore[arg-type,return-value]
    assert policies.builds == builds


def test_the_memory_budget_is_shared_by_all_sections() -> None:
    cache = Cache(CacheLimits(memory_mib=1))
    for i in range(100):
        cache.put(Section.ENTITIES, i, i, [], cache.version, size=100_000)
    assert cache.approximate_bytes <= 1 << 20
    assert cache.size(Section.ENTITIES) == 10
    assert cache.get(Section.ENTITIES, 99) == 99 and cache.get(Section.ENTITIES, 0) is None


def test_a_change_drops_what_was_built_from_it_in_every_section() -> None:
    cache = Cache()
    alice = ref("user", "1", "alice")
    cache.put(Section.CREDENTIALS, "AKIA1", "cred", [alice], cache.version)
    cache.put(Section.SETS, "id-alice", "set", [alice], cache.version)
    cache.put(Section.ENTITIES, ("get_user", "1", "Alice"), "user", [alice], cache.version)
    cache.put(Section.ENTITIES, ("get_user", "1", "bob"), "bob", [ref("user", "1", "bob")], cache.version)
    cache.apply(ChangeSet((_user("ALICE"),)))
    assert len(cache) == 1 and cache.get(Section.ENTITIES, ("get_user", "1", "bob")) == "bob"


def test_a_last_use_drops_only_the_record() -> None:
    cache = Cache()
    role = ref("role", "1", "r")
    cache.put(Section.SETS, "id-r", "set", [role], cache.version)
    cache.put(Section.ENTITIES, ("get_role", "1", "r"), "role", [role], cache.version)
    cache.apply(ChangeSet((Change(Entity.ROLE, "1", "R", Verb.USED),)))
    assert cache.get(Section.SETS, "id-r") == "set"
    assert cache.get(Section.ENTITIES, ("get_role", "1", "r")) is None
    version = cache.version
    cache.apply(ChangeSet((Change(Entity.ACCESS_KEY, "1", "AKIA1", Verb.USED),)))  # every request's
    assert cache.version == version


def test_what_was_read_before_a_change_to_it_committed_is_not_kept() -> None:
    cache = Cache()
    started = cache.version
    cache.apply(ChangeSet((_user("alice"),)))  # committed while the reads below were under way
    assert not cache.put(Section.SETS, "id-alice", "stale", [ref("user", "1", "alice")], started)
    assert cache.put(Section.SETS, "id-bob", "fine", [ref("user", "1", "bob")], started)
    cache.clear()
    assert not cache.put(Section.SETS, "id-bob", "fine", [ref("user", "1", "bob")], started)


def test_the_index_names_exactly_the_live_entries_built_from_each_ref() -> None:
    """Random puts, overwrites, evictions and changes against the rule: a ref's index entry lists
    every live entry built from it and nothing else (the entry alone, a _Shared from the second on)."""
    import random

    rng = random.Random(5)
    refs = [ref("user", "1", f"u{i}") for i in range(6)]
    cache = Cache(CacheLimits(credentials=4, entities=5, sets=3))
    sections = (Section.CREDENTIALS, Section.ENTITIES, Section.SETS)
    for step in range(3000):
        roll = rng.random()
        if roll < 0.8:
            deps = [tuple(list(r)) for r in rng.sample(refs, rng.randint(0, 3))]  # equal refs, other objects
            cache.put(rng.choice(sections), rng.randint(0, 7), step, deps, cache.version)
        elif roll < 0.95:
            cache.apply(ChangeSet((_user(rng.choice(refs)[2].upper()),)))
        else:
            cache.apply(ChangeSet((Change(Entity.USER, "1", "u0", Verb.USED),)))  # records only
        expected: dict[object, set[tuple[Section, object]]] = {}
        for section in sections:
            for key, entry in cache._sections[section].items():
                for r in entry.deps:
                    expected.setdefault(r, set()).add((section, key))
        actual = {
            r: {(e.section, e.key) for e in (v.entries if isinstance(v, _Shared) else [v])}
            for r, v in cache._index.items()
        }
        assert actual == expected, step
        assert all(len(v.entries) > 1 for v in cache._index.values() if isinstance(v, _Shared)), step
        # every live entry's deps are the index's own ref objects (one tuple per ref, not a copy per entry)
        own = {r: r for r in cache._index}
        for section in sections:
            for entry in cache._sections[section].values():
                assert all(own[r] is r for r in entry.deps), step


def test_a_ref_of_many_entries_drops_every_live_one_and_holds_few_dead() -> None:
    """A ref thousands of entries were built from (a managed policy attached to every caller) is
    a list in the index whose dropped entries leave lazily: random puts, overwrites, evictions and
    changes, and after each the list holds every live entry built from the ref, once; its dead
    count is exact and at most 1/_DEAD of it; and a change to the ref leaves no live entry built
    from it (a list that lost a live entry, or a drop that skipped one, fails here)."""
    import random

    rng = random.Random(7)
    arns = [f"arn:aws:iam::1:policy/p{i}" for i in range(3)]
    shared = [policy_ref(arn) for arn in arns]
    users = [ref("user", "1", f"u{i}") for i in range(400)]
    cache = Cache(CacheLimits(credentials=150, entities=150, sets=300))
    sections = (Section.CREDENTIALS, Section.ENTITIES, Section.SETS)
    big = 0
    for step in range(2500):
        roll = rng.random()
        if roll < 0.9:
            i = rng.randrange(400)
            deps = [users[i], *rng.sample(shared, rng.randint(0, 3))]
            deps += [tuple(list(deps[-1]))]  # the same ref twice, as another object: indexed once
            cache.put(rng.choice(sections), (i, rng.randrange(2)), step, deps, cache.version)
        elif roll < 0.99:
            cache.apply(ChangeSet((_user(f"U{rng.randrange(400)}"),)))
        else:
            arn = rng.choice(arns)
            gone = policy_ref(arn)
            cache.apply(ChangeSet((Change(Entity.POLICY, "", arn, Verb.UPDATED),)))
            for section in sections:
                assert not any(gone in e.deps for e in cache._sections[section].values()), step
        live: dict[object, list[object]] = {}
        for section in sections:
            for entry in cache._sections[section].values():
                for r in entry.deps:
                    live.setdefault(r, []).append(entry)
        assert set(cache._index) == set(live), step
        for r, value in cache._index.items():
            if not isinstance(value, _Shared):
                assert live[r] == [value], step
                continue
            entries = value.entries
            assert isinstance(entries, list), step
            alive = [e for e in entries if cache._live(e)]
            assert sorted(map(id, alive)) == sorted(map(id, live[r])), step  # each live entry once
            assert len(entries) - len(alive) == value.dead, step
            assert value.dead * _DEAD <= len(entries) and len(alive) > 1, step
            assert value.dead == 0 or len(entries) > _MANY, step
            big = max(big, len(entries))
    assert big > 10 * _MANY  # the lists did grow past the exact ones


def test_cache_entries_is_room_for_that_many_callers_in_every_section() -> None:
    """``iamd serve --cache-entries N``: an IAM user caller holds a credential, a policy set and two
    entities (its record and its tags), so N callers must fit without the entities section dropping
    the least recently used records (100,000 callers at the default 200,000 used to fill it exactly;
    a few more and every request read its user again)."""
    n = 150
    cache = Cache(CacheLimits.per_caller(n, memory_mib=256))
    for i in range(n):
        user = ref("user", "1", f"u{i}")
        cache.put(Section.CREDENTIALS, f"AKIA{i}", i, [user], cache.version)
        cache.put(Section.SETS, f"id-u{i}", i, [user], cache.version)
        cache.put(Section.ENTITIES, ("get_user", "1", f"u{i}"), i, [user], cache.version)
        cache.put(Section.ENTITIES, ("list_tags", "user", "1", f"u{i}"), i, [user], cache.version)
    assert cache.evictions == 0
    assert cache.get(Section.ENTITIES, ("get_user", "1", "u0")) == 0
    assert (cache.size(Section.CREDENTIALS), cache.size(Section.SETS), cache.size(Section.ENTITIES)) == (n, n, 2 * n)
    cache.put(Section.CREDENTIALS, "one-more", -1, [], cache.version)  # and no more than N of a kind
    assert cache.size(Section.CREDENTIALS) == n and cache.evictions == 1


def test_a_marked_entry_is_marked_until_it_is_dropped_or_put_again_unmarked() -> None:
    """``Cache.put(marked=True)``: what an untagged user's record says of its tags (iamd.core.reads)."""
    cache = Cache()
    key = ("get_user", "1", "alice")
    assert not cache.marked(Section.ENTITIES, key)
    assert cache.put(Section.ENTITIES, key, "record", [ref("user", "1", "alice")], cache.version, marked=True)
    assert cache.marked(Section.ENTITIES, key) and cache.get(Section.ENTITIES, key) == "record"
    assert not cache.marked(Section.CREDENTIALS, key)
    cache.apply(ChangeSet((_user("bob"),)))
    assert cache.marked(Section.ENTITIES, key)
    cache.apply(ChangeSet((_user("alice"),)))  # a change to the user (a TagUser is one) drops it
    assert not cache.marked(Section.ENTITIES, key) and cache.get(Section.ENTITIES, key) is None
    cache.put(Section.ENTITIES, key, "again", [ref("user", "1", "alice")], cache.version, marked=True)
    cache.put(Section.ENTITIES, key, "unmarked", [ref("user", "1", "alice")], cache.version)
    assert not cache.marked(Section.ENTITIES, key)
    stale = cache.version
    cache.apply(ChangeSet((_user("alice"),)))
    assert not cache.put(Section.ENTITIES, key, "stale", [ref("user", "1", "alice")], stale, marked=True)
    assert not cache.marked(Section.ENTITIES, key)


def test_a_warm_users_set_and_resource_levels_are_read_without_a_build_closure() -> None:
    """PolicyCache.for_user and resource_levels look the cache up first (twice and once per
    authorization): a hit makes no build function and calls no _cached (bench/README.md,
    "Session 17: the single check's steps")."""
    from types import SimpleNamespace
    from typing import Any

    class Built:
        identity = session = ()
        rcp = ("levels",)

    policies = PolicyCache()
    user: Any = SimpleNamespace(id="AIDAWARM")
    policies.cache.put(Section.SETS, user.id, Built(), [], policies.cache.version)
    policies.cache.put(Section.SETS, ("rcp", "123456789012"), Built(), [], policies.cache.version)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm read built or looked up again")

    policies._cached = refused  # type: ignore[method-assign]
    assert isinstance(policies.for_user(None, user), Built)  # type: ignore[arg-type]
    assert policies.resource_levels(None, "123456789012") == ("levels",)  # type: ignore[arg-type]
