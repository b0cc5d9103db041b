"""iamd.store.managed: a generator's context manager that behaves as contextlib's, cheaper."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import Any

import pytest

from iamd.store.managed import Managed


def _plain() -> Generator[str, None, None]:
    yield "value"


def _handles_key_error() -> Generator[None, None, None]:
    try:
        yield
    except KeyError:  # handled by the generator itself
        return


def _converts() -> Generator[None, None, None]:
    try:
        yield
    except KeyError as error:
        raise ValueError("converted") from error


def _no_yield() -> Generator[None, None, None]:
    return
    yield  # pragma: no cover


def _two_yields() -> Generator[None, None, None]:
    yield
    yield


def _yields_after_throw() -> Generator[None, None, None]:
    try:
        yield
    except KeyError:
        yield


def _yields_none() -> Generator[None, None, None]:
    yield None


def _outcome(make: Callable[[], Any], body: Callable[[], None]) -> tuple[str, Any]:
    try:
        with make() as value:
            body()
    except BaseException as error:  # what each way raises is the point
        return "raised", (type(error), str(error), type(error.__cause__))
    return "done", value


def _raise(error: BaseException) -> Callable[[], None]:
    def body() -> None:
        raise error

    return body


@pytest.mark.parametrize(
    "gen", [_plain, _handles_key_error, _converts, _no_yield, _two_yields, _yields_after_throw, _yields_none]
)
@pytest.mark.parametrize(
    "body",
    [lambda: None, _raise(KeyError("k")), _raise(RuntimeError("r")), _raise(StopIteration()), _raise(SystemExit(3))],
)
def test_it_answers_and_raises_as_contextlib_s(gen: Callable[[], Generator[Any, None, None]], body: Any) -> None:
    assert _outcome(lambda: Managed(gen()), body) == _outcome(contextlib.contextmanager(gen), body)


def test_an_exception_s_traceback_is_kept() -> None:
    with pytest.raises(KeyError) as raised, Managed(_plain()):
        raise KeyError("k")
    assert raised.traceback[-1].name == "test_an_exception_s_traceback_is_kept"


def test_a_write_transaction_is_managed_so(store: Any) -> None:
    """The write path's three context managers (bench/README.md, "Session 18: iamd's CPU per write,
    the request's small costs"): ``Store.transaction``'s is a Managed, and a write through it commits."""
    from tests.store.conftest import ACCOUNT

    manager = store.transaction()
    assert isinstance(manager, Managed)
    with manager as tx:
        tx.create_account(ACCOUNT)
    with store.read() as rtx:
        assert rtx.get_account(ACCOUNT) is not None
