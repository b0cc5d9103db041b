"""iamd.frozen.fast_init: the same objects as the dataclass's own __init__, built more cheaply."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from iamd.api.pipeline import HttpRequest
from iamd.audit import CallEvent, CheckEvents
from iamd.auth.locate import Located
from iamd.auth.request import SignedRequest
from iamd.auth.sigv4 import SigningDetails, VerifiedRequest
from iamd.core import CallContext
from iamd.frozen import fast_init, maker
from iamd.service.call import Call
from iamd.store.changes import Change, ChangeSet
from iamd.store.records import User


def _twins() -> tuple[type[Any], type[Any]]:
    def made() -> type[Any]:
        @dataclasses.dataclass(frozen=True, slots=True)
        class Thing:
            a: str
            b: int = 3
            c: list[int] = dataclasses.field(default_factory=list)
            d: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
            e: str = dataclasses.field(default="e", kw_only=True)

            def __post_init__(self) -> None:
                object.__setattr__(self, "d", (self.a, str(self.b)))

        return Thing

    return made(), fast_init(made())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("x",), {}), (("x", 5), {}), (("x", 5, [1]), {"e": "f"}), ((), {"a": "y", "c": [2], "b": 1})],
)
def test_builds_what_the_generated_init_builds(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    plain, fast = _twins()
    assert getattr(fast.__init__, "fast_init", False) and not getattr(plain.__init__, "fast_init", False)
    want, got = plain(*args, **kwargs), fast(*args, **kwargs)
    assert dataclasses.asdict(got) == dataclasses.asdict(want)
    assert got.d == want.d  # __post_init__ ran
    assert repr(got).replace(fast.__qualname__, "") == repr(want).replace(plain.__qualname__, "")
    assert fast(*args, **kwargs) == got
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.a = "z"
    assert inspect.signature(fast.__init__).parameters.keys() == inspect.signature(plain.__init__).parameters.keys()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("x",), {}), (("x", 5), {}), (("x", 5, [1]), {"e": "f"}), ((), {"a": "y", "c": [2], "b": 1})],
)
def test_the_maker_builds_what_the_class_builds(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _, fast = _twins()
    make = maker(fast)
    want, got = fast(*args, **kwargs), make(*args, **kwargs)
    assert type(got) is fast and got == want and got.d == want.d  # __post_init__ ran
    assert repr(got) == repr(want) and hash(got.d) == hash(want.d)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.a = "z"
    assert copy.copy(got) == want and dataclasses.replace(got, e="g") == dataclasses.replace(want, e="g")
    assert make("x").c is not make("x").c  # each default factory called per object
    assert inspect.signature(make).parameters.keys() == inspect.signature(fast).parameters.keys()


@pytest.mark.parametrize(("args", "kwargs"), [((), {}), (("x", 1, [], "e"), {}), (("x",), {"zz": 1}), ((), {"b": 1})])
def test_the_maker_refuses_what_the_class_refuses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _, fast = _twins()
    with pytest.raises(TypeError):
        maker(fast)(*args, **kwargs)


def test_each_default_factory_called_per_object() -> None:
    _, fast = _twins()
    one, two = fast("x"), fast("x")
    assert one.c == [] and one.c is not two.c


@pytest.mark.parametrize(("args", "kwargs"), [((), {}), (("x", 1, [], "e"), {}), (("x",), {"zz": 1}), ((), {"b": 1})])
def test_refuses_what_the_generated_init_refuses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    plain, fast = _twins()
    with pytest.raises(TypeError):
        plain(*args, **kwargs)
    with pytest.raises(TypeError):
        fast(*args, **kwargs)


def test_only_frozen_slotted_dataclasses() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        a: int

    for cls in (Mutable, Unslotted, int):
        with pytest.raises(TypeError):
            fast_init(cls)


@pytest.mark.parametrize(
    "cls",
    [
        Located,
        VerifiedRequest,
        SigningDetails,
        SignedRequest,
        HttpRequest,
        CallContext,
        Call,
        CallEvent,
        CheckEvents,
        Change,
        ChangeSet,
        User,
    ],
)
def test_the_request_paths_classes_keep_their_signature(cls: type[Any]) -> None:
    """Each decorated class takes the arguments its dataclass declares, in order, with its defaults."""
    assert getattr(cls.__init__, "fast_init", False) and cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = [f for f in dataclasses.fields(cls) if f.init]
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default is f.default
        elif f.default_factory is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty


def test_an_event_travels_and_is_replaced_as_before() -> None:
    from datetime import UTC, datetime

    event = CallEvent("r", datetime(2026, 12, 7, tzinfo=UTC), "iam.amazonaws.com", "GetUser", "us-east-1", "127.0.0.1",
                      "ua", {"type": "Root"}, "123456789012")  # fmt: skip
    assert event.event_id and event.event_id != CallEvent(*dataclasses.astuple(event)[:9]).event_id
    assert pickle.loads(pickle.dumps(event)).record() == event.record()
    assert dataclasses.replace(event, event_name="ListUsers").event_id == event.event_id
