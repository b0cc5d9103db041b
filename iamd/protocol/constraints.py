"""Model constraints (length, range, pattern, enum, required) and AWS's ValidationError text.

AWS reports every violated constraint of a request at once (IAM API "Common Errors" (ValidationError))::

    1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [\\w+=,.@-]+
    2 validation errors detected: <item>; <item>

Decisions where AWS's behavior is not documented (each seen in AWS output of other
services, unconfirmed for IAM/STS):

* Member paths are the model's member names with the first letter lowered (``userName``,
  ``clientIDList``, ``sAMLAssertion``); list elements are ``<list>.<N>.member`` with ``N``
  the index the client sent; map entries are ``<map>.<key>.member``.
* Items are ordered like the input shape's members; for one value: pattern, then length
  (minimum, maximum), then enum.
* Values print like Java's ``toString``: strings raw, lists ``[a, b]``, structures
  ``{Key=a, Value=b}``, absent ``null``. Members the model marks ``sensitive`` (passwords,
  private keys) never echo their value: ``Value at 'password' failed to …``.
* Constraints on the elements of a list of scalars are reported once, on the list, as
  ``Member must satisfy constraint: [<phrase>, …]``; map keys and values likewise as
  ``Map keys must satisfy constraint: […]`` / ``Map value must satisfy constraint: […]``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from iamd.errors import ValidationError
from iamd.protocol.patterns import compile_pattern

__all__ = ["Rules", "Violations", "describe", "lower_camel", "rules_for"]


def lower_camel(name: str) -> str:
    """The member-path spelling of model member ``name`` (``UserName`` -> ``userName``)."""
    return name[:1].lower() + name[1:]


def describe(value: object) -> str:
    """``value`` as Java's ``toString`` would print it in a validation message."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}={describe(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(describe(item) for item in value) + "]"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class Violations:
    """The constraint violations found in one request, in the order they were found."""

    __slots__ = ("_items", "_seen")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, path: str, value: object, constraint: str, *, sensitive: bool = False) -> None:
        """Record that ``value`` at ``path`` fails ``constraint`` (once per path and constraint)."""
        key = (path, constraint)
        if key in self._seen:
            return
        self._seen.add(key)
        shown = "" if sensitive else f" '{describe(value)}'"
        self._items.append(f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}")

    def add_null(self, path: str, *, sensitive: bool = False) -> None:
        """Record a required member that is absent."""
        shown = "" if sensitive else " null"
        self._items.append(f"Value{shown} at '{path}' failed to satisfy constraint: Member must not be null")

    @property
    def message(self) -> str:
        """AWS's ValidationError message for the violations recorded so far."""
        count = len(self._items)
        noun = "error" if count == 1 else "errors"
        return f"{count} validation {noun} detected: " + "; ".join(self._items)

    def raise_if_any(self) -> None:
        """Raise :class:`iamd.errors.ValidationError` if anything was recorded."""
        if self._items:
            raise ValidationError(self.message)


_NONE: tuple[str, ...] = ()


class Rules:
    """The constraints of one shape, compiled: ``check_*`` return the violated phrases."""

    __slots__ = ("enum", "enum_phrase", "max", "min", "pattern", "pattern_phrase")

    def __init__(
        self,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        pattern: str | None = None,
        enum: tuple[str, ...] = (),
    ) -> None:
        self.min = minimum
        self.max = maximum
        self.pattern = compile_pattern(pattern) if pattern is not None else None
        self.pattern_phrase = f"Member must satisfy regular expression pattern: {pattern}"
        self.enum = frozenset(enum)
        self.enum_phrase = f"Member must satisfy enum value set: [{', '.join(enum)}]"

    def _length(self, length: int) -> list[str]:
        found: list[str] = []
        if self.min is not None and length < self.min:
            found.append(f"Member must have length greater than or equal to {_number(self.min)}")
        if self.max is not None and length > self.max:
            found.append(f"Member must have length less than or equal to {_number(self.max)}")
        return found

    def check_string(self, value: str) -> tuple[str, ...] | list[str]:
        """Phrases for the pattern, length and enum constraints ``value`` violates."""
        found: list[str] = []
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            found.append(self.pattern_phrase)
        if self.min is not None or self.max is not None:
            found += self._length(len(value))
        if self.enum and value not in self.enum:
            found.append(self.enum_phrase)
        return found or _NONE

    def check_number(self, value: float) -> tuple[str, ...] | list[str]:
        """Phrases for the range constraints ``value`` violates."""
        found: list[str] = []
        if self.min is not None and value < self.min:
            found.append(f"Member must have value greater than or equal to {_number(self.min)}")
        if self.max is not None and value > self.max:
            found.append(f"Member must have value less than or equal to {_number(self.max)}")
        return found or _NONE

    def check_length(self, length: int) -> tuple[str, ...] | list[str]:
        """Phrases for the length constraints a list or map of ``length`` items violates."""
        return self._length(length) or _NONE

    def check(self, value: object) -> tuple[str, ...] | list[str]:
        """Dispatch on the Python type of a converted scalar ``value``."""
        if isinstance(value, str):
            return self.check_string(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.check_number(value)
        if isinstance(value, bytes) and (self.min is not None or self.max is not None):
            return self.check_length(len(value))
        return _NONE


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


@functools.lru_cache(maxsize=4096)
def _cached_rules(minimum: float | None, maximum: float | None, pattern: str | None, enum: tuple[str, ...]) -> Rules:
    return Rules(minimum=minimum, maximum=maximum, pattern=pattern, enum=enum)


def rules_for(shape: Any) -> Rules | None:
    """The compiled constraints of botocore ``shape``, or ``None`` if it has none."""
    metadata: Mapping[str, Any] = shape.metadata
    minimum, maximum = metadata.get("min"), metadata.get("max")
    pattern: str | None = metadata.get("pattern")
    enum = tuple(metadata.get("enum", ()))
    if minimum is None and maximum is None and pattern is None and not enum:
        return None
    return _cached_rules(minimum, maximum, pattern, enum)
