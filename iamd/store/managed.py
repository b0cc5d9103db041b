"""A generator's context manager for the write path, without ``contextlib``'s costs per use.

``contextlib.contextmanager`` makes each use a Python ``helper`` call taking ``*args`` and
``**kwds``, an object whose ``__init__`` keeps the function, its arguments and its docstring,
and ends a generator that returned by catching the ``StopIteration`` its ``next`` raises. A write
enters three (``SqlStore.transaction``, ``_writing``, ``_transaction_on``): about 3k
instructions each (bench/README.md, "Session 18: iamd's CPU per write, the request's small
costs"). :class:`Managed` takes the generator itself, ends it with ``next(gen, default)`` (a
generator that returns makes no exception then), and on an exception does exactly what
``contextlib``'s ``__exit__`` does (CPython 3.12's ``_GeneratorContextManager.__exit__``, which
3.11's differs from only by the deprecated three-argument ``throw`` and by not closing a
generator that would not stop: the exception thrown into the generator, raised again unless the
generator handled it).
"""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["Managed"]

T = TypeVar("T")

_DONE: Any = object()  # what ``next`` gives for a generator that returned


class Managed(Generic[T]):
    """``with Managed(gen()) as value:`` as ``with contextmanager(gen)() as value:``."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Generator[T, None, None]) -> None:
        self._gen = gen

    def __enter__(self) -> T:
        value = next(self._gen, _DONE)
        if value is _DONE:
            raise RuntimeError("generator didn't yield") from None
        return value

    def __exit__(
        self, typ: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if typ is None:
            if next(self._gen, _DONE) is _DONE:
                return False
            try:
                raise RuntimeError("generator didn't stop")
            finally:
                self._gen.close()
        if value is None:
            # Need to force instantiation so we can reliably tell if we get the same exception back.
            value = typ()
        try:
            # The one-argument form: the (type, value, traceback) one is deprecated from Python
            # 3.12 on (a DeprecationWarning, an error under the suite's warning filter).
            self._gen.throw(value)
        except StopIteration as exc:
            # Suppress StopIteration *unless* it's the same exception that was passed to throw().
            return exc is not value
        except RuntimeError as exc:
            # Don't re-raise the passed in exception (issue27122).
            if exc is value:
                exc.__traceback__ = traceback
                return False
            # A StopIteration raised inside the with block, turned into a RuntimeError by the
            # generator (PEP 479): not ours to suppress.
            if isinstance(value, StopIteration) and exc.__cause__ is value:
                value.__traceback__ = traceback
                return False
            raise
        except BaseException as exc:
            # Only re-raise if it's *not* the exception that was passed to throw(), because
            # __exit__() must not raise an exception when everything went fine.
            if exc is not value:
                raise
            exc.__traceback__ = traceback
            return False
        try:
            raise RuntimeError("generator didn't stop after throw()")
        finally:
            self._gen.close()
