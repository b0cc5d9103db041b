"""Hypothesis strategies built from botocore shapes: valid inputs and arbitrary outputs.

Inputs satisfy every model constraint (so a correct parser returns them unchanged);
outputs ignore constraints but stay within what XML 1.0 can carry.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from iamd.protocol.patterns import translate

# A pattern that is one character class repeated: length bounds can go into the regex.
_ONE_CLASS = re.compile(r"\^?(\[(?:\\.|[^\]\\])*\])([+*])\$?")
_SPAN = 12  # longest extra length generated beyond a minimum

TIMESTAMPS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)).map(
    lambda value: value.replace(microsecond=value.microsecond // 1000 * 1000, tzinfo=UTC)
)
XML_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")),
        st.sampled_from("\t\n\r&<>'\"]]>"),
    ),
    max_size=12,
)


def _bounds(shape: Any) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", low + _SPAN))
    return low, min(high, low + _SPAN)


def _string(shape: Any) -> st.SearchStrategy[str]:
    metadata = shape.metadata
    if metadata.get("enum"):
        return st.sampled_from(metadata["enum"])
    low, high = _bounds(shape)
    pattern = metadata.get("pattern")
    if pattern is None:
        return st.text(st.characters(exclude_categories=("Cs",)), min_size=low, max_size=high)
    one_class = _ONE_CLASS.fullmatch(pattern)
    if one_class is not None:
        low = max(low, 1 if one_class.group(2) == "+" else 0)
        return st.from_regex(translate(f"{one_class.group(1)}{{{low},{max(low, high)}}}"), fullmatch=True)
    return st.from_regex(translate(pattern), fullmatch=True).filter(lambda text: low <= len(text) <= high)


def input_values(shape: Any, nested: bool = False) -> st.SearchStrategy[Any]:
    """Values of ``shape`` that satisfy all its constraints, as a boto3 caller passes them.

    Nested structures and maps are never empty: botocore serializes an empty one as
    nothing at all, so it could not come back.
    """
    kind, metadata = shape.type_name, shape.metadata
    if kind == "structure":
        members = {name: input_values(member, nested=True) for name, member in shape.members.items()}
        if metadata.get("union"):
            return st.one_of([st.fixed_dictionaries({name: value}) for name, value in members.items()])
        required = set(shape.required_members)
        strategy = st.fixed_dictionaries(
            {name: value for name, value in members.items() if name in required},
            optional={name: value for name, value in members.items() if name not in required},
        )
        return strategy.filter(bool) if nested and not required else strategy
    if kind == "list":
        low, high = _bounds(shape)
        return st.lists(input_values(shape.member, nested=True), min_size=low, max_size=min(high, low + 3))
    if kind == "map":
        low, high = _bounds(shape)
        return st.dictionaries(
            input_values(shape.key), input_values(shape.value, nested=True), min_size=max(1, low), max_size=low + 3
        )
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        low = int(metadata.get("min", -(1 << bits)))
        return st.integers(min_value=low, max_value=int(metadata.get("max", (1 << bits) - 1)))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    if kind == "blob":
        return st.binary(max_size=16)
    raise AssertionError(f"no input strategy for {kind}")


def output_values(shape: Any) -> st.SearchStrategy[Any]:
    """Any value of ``shape``'s type (constraints ignored): what a service might return."""
    kind = shape.type_name
    if kind == "structure":
        return st.fixed_dictionaries({}, optional={name: output_values(m) for name, m in shape.members.items()})
    if kind == "list":
        return st.lists(output_values(shape.member), max_size=3)
    if kind == "map":
        return st.dictionaries(XML_TEXT, output_values(shape.value), max_size=3)
    if kind == "string":
        return XML_TEXT
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return st.integers(min_value=-(1 << bits), max_value=(1 << bits) - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    if kind == "blob":
        return st.binary(max_size=16)
    raise AssertionError(f"no output strategy for {kind}")
