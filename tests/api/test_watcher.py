"""GenerationWatcher: another process's write drops the caches, this process's own does not.

Unit tests over a stand-in store whose generation the test sets (the edge of the unit);
the real thing, two ``iamd serve`` processes on one database, is tests/store/
test_several_processes.py.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from iamd.api.watcher import GenerationWatcher
from iamd.store import Store
from iamd.store.changes import Change, ChangeSet, Entity, Verb


class _Generation:
    def __init__(self) -> None:
        self.value = 10
        self.broken = False
        self.now_committing: set[int] = set()

    def generation(self) -> int:
        if self.broken:
            raise OSError("database unreachable")
        return self.value

    def committing(self) -> frozenset[int]:
        return frozenset(self.now_committing)


def _watcher() -> tuple[GenerationWatcher, _Generation, list[int]]:
    store = _Generation()
    drops: list[int] = []
    watcher = GenerationWatcher(cast(Store, cast(Any, store)), lambda: drops.append(store.value), interval=60)
    return watcher, store, drops


def test_no_write_no_drop() -> None:
    watcher, _, drops = _watcher()
    assert watcher.check() is False
    assert drops == []


def test_own_writes_are_not_foreign() -> None:
    watcher, store, drops = _watcher()
    store.value = 12
    watcher.own(11)
    watcher.own(12)
    assert watcher.check() is False
    assert drops == []


def test_a_write_between_own_writes_is_foreign() -> None:
    watcher, store, drops = _watcher()
    watcher.own(11)
    watcher.own(13)
    store.value = 13  # 12 was another process's
    assert watcher.check() is True
    assert drops == [13]
    assert watcher.foreign_writes == 1
    assert watcher.check() is False  # seen once, dropped once


def test_an_own_generation_reported_late_costs_one_extra_drop_only() -> None:
    """A poll between the commit and ``own()``: the write looks foreign (safe), once."""
    watcher, store, drops = _watcher()
    store.value = 11
    assert watcher.check() is True
    watcher.own(11)  # too late: ignored, nothing left to mistake
    store.value = 12
    assert watcher.check() is True
    assert drops == [11, 12]


def test_an_own_write_committed_but_not_yet_published_is_not_foreign() -> None:
    """A poll between the commit (visible to other connections) and ``own()``: the store says
    it is committing that generation, and the watcher decides at the next poll. Under a steady
    stream of writes nearly every poll fell there and dropped every cache."""
    watcher, store, drops = _watcher()
    store.value = 11
    store.now_committing = {11}
    assert watcher.check() is False
    watcher.own(11)  # published
    store.now_committing = set()
    assert watcher.check() is False
    store.value = 12
    store.now_committing = {12}
    assert watcher.check() is False
    watcher.own(12)
    store.now_committing = set()
    assert watcher.check() is False
    assert drops == []
    assert watcher.foreign_writes == 0
    # Another process's write beside this process's commit is foreign at once.
    store.value = 14
    store.now_committing = {13}
    assert watcher.check() is True
    assert drops == [14]


def test_a_steady_stream_of_own_writes_is_never_foreign_and_keeps_little() -> None:
    """Every poll finds a write of this process committing: none is foreign, and what the
    watcher keeps (its own generations, the range it checks) does not grow with the stream."""
    watcher, store, drops = _watcher()
    for generation in range(11, 5011):
        store.value = generation
        store.now_committing = {generation}
        assert watcher.check() is False
        watcher.own(generation)
        store.now_committing = set()
    assert drops == []
    assert len(watcher._own) <= 1  # decided up to the last poll's write
    assert watcher.check() is False


def test_a_write_committing_whose_generation_is_not_known_yet_is_not_foreign() -> None:
    """A write sent whole with its commit learns its generation with the commit's answer (after
    the flush): until then the store names it -1 in ``committing``, a generation that could be
    any. One such write covers one undecided generation, decided at the next poll; a second
    generation beside it is another process's."""
    watcher, store, drops = _watcher()
    store.value = 11
    store.now_committing = {-1}
    assert watcher.check() is False
    watcher.own(11)  # answered and published
    store.now_committing = set()
    assert watcher.check() is False
    assert drops == []
    store.value = 13
    store.now_committing = {-1}
    assert watcher.check() is True  # 12 and 13: one of them is another's
    assert drops == [13]


def test_a_generation_still_committing_at_the_next_poll_is_taken_for_another() -> None:
    """A commit not published by the next poll (a lost connection: the generation may since be
    another process's): the caches are dropped then, one poll late at most."""
    watcher, store, drops = _watcher()
    store.value = 11
    store.now_committing = {11}
    assert watcher.check() is False
    assert watcher.check() is True
    assert drops == [11]


def test_an_unreadable_generation_drops_the_caches() -> None:
    watcher, store, drops = _watcher()
    store.broken = True
    assert watcher.check() is True
    assert len(drops) == 1


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError):
        GenerationWatcher(cast(Store, cast(Any, _Generation())), lambda: None, interval=interval)


class _Feed:
    """A stand-in change feed: the generation the database shows, and what was received since."""

    def __init__(self) -> None:
        self.generation = self.current = 11
        self.received: list[tuple[int | None, ChangeSet | None]] = []

    def poll(self) -> tuple[int, list[tuple[int | None, ChangeSet | None]]]:
        received, self.received = self.received, []
        return self.current, received

    def close(self) -> None:
        pass


def test_a_change_set_received_a_poll_after_its_generation_showed_is_applied() -> None:
    """The generation is visible from the commit on, its notification a moment later: a poll
    between the two leaves it for the next one, which applies it; one never received by then
    drops everything."""
    store, feed = _Generation(), _Feed()
    store.change_feed = lambda: feed  # type: ignore[attr-defined]
    drops: list[int] = []
    applied: list[ChangeSet] = []
    drop = lambda: drops.append(max(store.value, feed.current))
    watcher = GenerationWatcher(cast(Store, cast(Any, store)), drop, interval=60, on_changes=applied.append)
    assert watcher.check() is False and not watcher.listening  # no one else writes: no one listens
    store.value = 11
    assert watcher.check() is True and watcher.listening  # another process wrote: listened to from here on
    feed.current = 12
    assert watcher.check() is False
    tagged = ChangeSet((Change(Entity.USER, "123456789012", "u", Verb.TAGGED),), 12)
    feed.received = [(12, tagged)]
    feed.current = 13
    assert watcher.check() is False
    assert applied == [tagged] and drops == [11]
    assert watcher.check() is True  # 13 never came: everything dropped
    assert drops == [11, 13]
    assert watcher.check() is False
