"""The event loop's promise: no database work there (docs/architecture.md, "Threads").

A request answered on the event loop (``iamd.api.app.IamdApp``: a warm read of one entity)
runs inside :func:`no_database`. Should it need the database after all — an entity not
cached, a failure whose audit event is stored durably — the store raises
:class:`NeedsDatabase` *before* it opens a connection, and the request is run again from the
start on a worker thread. Nothing is lost by the first try: a read's side effects (its
audit event) come after its last database access, and a write never runs on the loop.

``NeedsDatabase`` is a ``BaseException``, like ``KeyboardInterrupt``: the ``except Exception``
handlers on the way (the core's failure handling, the door's) let it through untouched, so
the abandoned try records nothing.
"""

from __future__ import annotations

import threading

__all__ = ["NeedsDatabase", "check_database_allowed", "no_database"]


class NeedsDatabase(BaseException):
    """Raised instead of opening a connection inside :func:`no_database`."""


class _State(threading.local):
    """Each thread's flag. Its class default answers a thread that never entered
    :class:`no_database` (the lanes' threads, every write): ``getattr(local, name, default)`` of
    a name a thread never set raises and catches an AttributeError inside, about 3k instructions
    per write (bench/README.md, "Session 18: iamd's CPU per write, the request's small costs")."""

    forbidden = False


_state = _State()


class no_database:  # (lower case: used as the function it was, ``with no_database():``)
    """Refuse database work on this thread for the block (not reentrant-safe across threads).

    A class, not a ``contextlib.contextmanager`` generator: entered on every request answered on
    the event loop, where the generator's context-manager object, its frame and its
    ``StopIteration`` cost about three times the two method calls."""

    __slots__ = ("_previous",)

    def __enter__(self) -> None:
        self._previous = _state.forbidden
        _state.forbidden = True

    def __exit__(self, *_: object) -> None:
        _state.forbidden = self._previous


def check_database_allowed() -> None:
    """Raise :class:`NeedsDatabase` inside :func:`no_database`; else nothing."""
    if _state.forbidden:
        raise NeedsDatabase()
