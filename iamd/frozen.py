"""A cheaper ``__init__`` for the frozen, slotted dataclasses made on every request.

A frozen dataclass's generated ``__init__`` assigns each field with ``object.__setattr__(self,
name, value)`` (its own ``__setattr__`` refuses), which looks ``object.__setattr__`` up and
goes through the generic attribute machinery for every field: on the request path of one
authorization (a dozen such objects, up to 16 fields each) that is several percent of the call.
:func:`fast_init` gives the class an ``__init__`` of the same signature (positional and keyword
arguments, defaults, default factories, ``__post_init__``) that makes the object, for the time of
its ``__init__``, one of a draft class with the same slots and no ``__setattr__`` of its own
(CPython allows assigning ``__class__`` between classes whose slots, hence memory layout, are the
same), assigns every field as a plain slot store, and makes it the frozen class again: two
``__class__`` assignments per object instead of a descriptor call per field, as
:class:`iamd.policy.Request` and :class:`iamd.policy.Decision` are made
(``iamd.policy.request.draft_class``). The instances are the same: frozen, equal, hashed,
pickled and repr'd as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from iamd.policy.request import draft_class

__all__ = ["fast_init", "maker"]

T = TypeVar("T")

_FACTORY = object()  # the default of a field with a default factory: call the factory
_MAKERS: dict[type, Callable[..., Any]] = {}  # each decorated class's maker (see maker)


def maker(cls: type[T]) -> Callable[..., T]:
    """A plain function of ``cls.__init__``'s signature that returns ``cls(...)``'s object: made a
    draft by ``object.__new__``, the fields stored, then made ``cls`` by one ``__class__``
    assignment, and its ``__post_init__`` run, as ``iamd.policy.make_decision`` makes a Decision.
    Called from Python, it costs about 60% of ``cls(...)`` (0.30 against 0.50 µs for the 14 fields of
    ``Located``): no C-to-Python call of an ``__init__`` through ``type.__call__``, one class
    assignment instead of two (bench/README.md, "Session 16: the authorization API's CPU"). For the
    objects made on every request; it makes a ``cls``, never a subclass."""
    made: Callable[..., T] = _MAKERS[cls]
    return made


def fast_init(cls: type[T]) -> type[T]:
    """Decorate a ``@dataclass(frozen=True, slots=True)`` class (above the ``@dataclass``)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    every = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if any(f._field_type is not dataclasses._FIELD for f in every.values()):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} has an InitVar or ClassVar field: keep the generated __init__")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    made: list[str] = []  # the default factories' calls, before the object is a draft
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{f.name}: a field outside __init__ with a default")
            continue
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            param = f"{f.name}=_default_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            made.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{f.name}()\n")
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    self.{f.name} = {f.name}\n")
    # The draft: the same bases and slots, no __setattr__ (the frozen class's refuses every assignment).
    draft = draft_class(cls)
    set_class = object.__dict__["__class__"].__set__
    set_class(object.__new__(cls), draft)  # a class whose layout differs from its slots' fails here, not per call
    namespace.update(_set_class=set_class, _draft=draft, _new=object.__new__, _cls=cls)
    post_init = ["    self.__post_init__()\n"] if hasattr(cls, "__post_init__") else []
    parameters = [*positional, *(["*", *keyword] if keyword else [])]
    # maker(cls): made a draft, filled in, made cls by a plain assignment (the draft has no __setattr__)
    make = [*made, "    self = _new(_draft)\n", *body, "    self.__class__ = _cls\n", *post_init, "    return self\n"]
    # (made the class it was, not cls: a subclass's object stays one, or fails at the first
    # assignment if its slots differ; never turned into another class)
    body = [*made, "    frozen = type(self)\n    _set_class(self, _draft)\n", *body, "    _set_class(self, frozen)\n"]
    body += post_init
    source = f"def __init__({', '.join(['self', *parameters])}):\n" + "".join(body)
    source += f"def _make({', '.join(parameters)}):\n" + "".join(make)
    exec(source, namespace)
    namespace["_make"].__qualname__ = f"maker({cls.__qualname__})"
    _MAKERS[cls] = namespace["_make"]
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.fast_init = True  # what tests/test_frozen.py looks for
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
