"""iamd.store.guard: database work refused on a thread inside ``no_database``, allowed elsewhere."""

from __future__ import annotations

import threading

import pytest

from iamd.store import guard
from iamd.store.guard import NeedsDatabase, check_database_allowed, no_database


def test_database_work_is_refused_only_inside_the_block_and_only_on_its_thread() -> None:
    seen: list[str] = []

    def elsewhere() -> None:
        check_database_allowed()  # a thread that never entered the block: allowed
        seen.append("allowed")

    with no_database():
        with pytest.raises(NeedsDatabase):
            check_database_allowed()
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        with no_database():  # nested: still refused after the inner block
            pass
        with pytest.raises(NeedsDatabase):
            check_database_allowed()
    check_database_allowed()
    assert seen == ["allowed"]


def test_a_thread_that_never_entered_the_block_reads_the_class_default() -> None:
    """A lane's thread (every write) never sets the flag: its check reads the class's default, not
    ``getattr(local, name, default)``'s AttributeError raised and caught inside (bench/README.md,
    "Session 18: iamd's CPU per write, the request's small costs")."""
    own: list[dict[str, object]] = []

    def lane() -> None:
        check_database_allowed()
        own.append(dict(guard._state.__dict__))

    thread = threading.Thread(target=lane)
    thread.start()
    thread.join()
    assert own == [{}]
    assert type(guard._state).forbidden is False
